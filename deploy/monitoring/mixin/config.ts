// The few things a user of the mixin may want to change; everything generated reads them from here.
// Edit, then `npm run monitoring` to write the dashboards and rules again.

export const mixinConfig = {
  /** Where each alert's runbook_url points, followed by "#<alert name in lower case>". */
  runbookUrl: 'deploy/monitoring/runbooks.md',
  /** Labels that tell one gateway or control-plane process from another. */
  instance: 'job, instance',
  /** Window of the recording rules' rate()s: four scrapes at the usual 15 s interval. */
  rateWindow: '1m',
  /** MetricsGatewayRequestErrors: percent of a backend's requests answered 5xx. */
  requestErrorsPercent: 1,
  /** MetricsGatewayEndpointNoTraffic: requests/s a backend must get for an idle endpoint to mean something. */
  endpointNoTrafficMinBackendRps: 1,
  /** MetricsGatewayAuthFailures: percent of authenticated requests refused for their credentials. */
  authFailuresPercent: 10,
  /** MetricsGatewayAuthFailures: requests/s a job must authenticate for the ratio to mean something. */
  authFailuresMinRps: 0.1,
} as const;
