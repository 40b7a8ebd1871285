// Authentication metrics: outcomes by reason, never by tenant or token (unbounded label values would
// be a cardinality leak, and tenants are nobody else's business); tenants appear in debug logs only.

import { Counter, Gauge, type Registry } from 'prom-client';

export const AUTH_REASONS = ['ok', 'missing', 'malformed', 'unknown_token', 'wrong_secret', 'wrong_tenant', 'expired', 'missing_scope', 'throttled'] as const;
export type AuthReason = (typeof AUTH_REASONS)[number];

export class AuthMetrics {
  readonly requests: Counter<'reason'>;
  readonly kdfRuns: Counter;
  readonly tokens: Gauge;

  constructor(registry: Registry) {
    this.requests = new Counter({
      name: 'metrics_gateway_auth_requests_total',
      help: 'Requests authenticated (-auth.type=token), by outcome: ok, missing, malformed, unknown_token, wrong_secret, wrong_tenant, expired, missing_scope, throttled.',
      labelNames: ['reason'],
      registers: [registry],
    });
    for (const reason of AUTH_REASONS) this.requests.inc({ reason }, 0);
    this.kdfRuns = new Counter({
      name: 'metrics_gateway_auth_kdf_runs_total',
      help: 'Secrets checked with the key derivation function (scrypt): cache misses, not requests.',
      registers: [registry],
    });
    this.tokens = new Gauge({
      name: 'metrics_gateway_auth_tokens',
      help: 'Tokens in the applied token set (0 in trust mode).',
      registers: [registry],
    });
  }
}
