// Baseline for scenario a: the smallest reasonable Node reverse proxy, node:http in and an undici
// keep-alive Pool out, streaming both ways. No routing, metrics or header policy: the floor the
// gateway's own work sits on.   node dist/bench/baseline-proxy.js <listen-port> <upstream-origin>

import http from 'node:http';
import { Pool } from 'undici';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'te', 'upgrade', 'proxy-connection', 'trailer']);

const [port, origin] = process.argv.slice(2);
if (!port || !origin) {
  process.stderr.write('usage: baseline-proxy.js <listen-port> <upstream-origin>\n');
  process.exit(2);
}
const pool = new Pool(origin, { connections: null, pipelining: 1, keepAliveTimeout: 60_000 });

const server = http.createServer({ keepAliveTimeout: 120_000 }, (req, res) => {
  const headers: string[] = [];
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) if (!HOP_BY_HOP.has(raw[i]!.toLowerCase())) headers.push(raw[i]!, raw[i + 1]!);
  pool
    .stream({ path: req.url ?? '/', method: (req.method ?? 'GET') as 'GET', headers, body: req }, ({ statusCode, headers: h }) => {
      res.writeHead(statusCode, h as http.OutgoingHttpHeaders);
      return res;
    })
    .catch(() => {
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    });
});
server.listen(Number(port), '127.0.0.1', () => process.stdout.write(`baseline proxy on 127.0.0.1:${port} -> ${origin}\n`));
process.once('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  void pool.close().then(() => process.exit(0));
});
