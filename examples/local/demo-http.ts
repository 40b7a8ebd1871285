// DEMO stand-ins for Mimir's HTTP components (query-frontend, admin-api): real HTTP servers that
// answer in Prometheus API shape, clearly marked as a demo.

import http from 'node:http';
import { once } from 'node:events';

export type StatsFn = () => unknown;

export async function startDemoHttp(name: string, host: string, port: number, stats?: StatsFn): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0];
      res.setHeader('content-type', 'application/json');
      res.setHeader('x-demo-backend', name);
      if (path === '/demo/stats' && stats) {
        res.end(JSON.stringify(stats(), null, 2) + '\n');
        return;
      }
      if (path?.endsWith('/api/v1/query')) {
        const now = Date.now() / 1000;
        res.end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [{ metric: { __name__: 'up', demo: name }, value: [now, '1'] }] } }) + '\n');
        return;
      }
      res.end(JSON.stringify({ demo: name, method: req.method, url: req.url }) + '\n');
    });
  });
  server.listen(port, host);
  await once(server, 'listening');
  return server;
}
