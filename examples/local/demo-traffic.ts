// `npm start`'s steady trickle of DEMO traffic, so the fleet dashboard has something to show: two
// remote-write pushes a second (spread over the three distributors) and a query every two seconds.
// Small on purpose; unref'd timers, so it never keeps the process alive.

import { request } from 'undici';

export function startDemoTraffic(gatewayUrl: string, remoteWriteBody: Buffer): () => void {
  const quiet = (p: Promise<{ body: { dump(): Promise<void> } }>): void => {
    p.then((r) => r.body.dump()).catch(() => undefined);
  };
  const push = setInterval(
    () =>
      quiet(
        request(`${gatewayUrl}/api/v1/push`, {
          method: 'POST',
          body: remoteWriteBody,
          headers: { 'x-scope-orgid': 'demo', 'content-encoding': 'snappy', 'content-type': 'application/x-protobuf' },
        }),
      ),
    500,
  );
  const query = setInterval(() => quiet(request(`${gatewayUrl}/prometheus/api/v1/query?query=up`, { headers: { 'x-scope-orgid': 'demo' } })), 2000);
  push.unref();
  query.unref();
  return () => {
    clearInterval(push);
    clearInterval(query);
  };
}
