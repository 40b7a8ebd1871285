import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { DnsServer } from '../examples/local/dns-server.js';
import { HttpGrpcServer } from '../examples/local/httpgrpc-server.js';
import { onSharedPort } from './support/distributors.js';
import { HttpBackend } from './support/http-backend.js';
import { appliedVersion, eventually, startGateway, type RunningGateway } from './support/gateway.js';
import { startLoad } from './support/load.js';

// Live reload, the embedded way (-target=gateway with only -config.file): the gateway gets each edit
// through its in-process control plane over xDS and swaps it in while a keep-alive client keeps
// sending. Not one request may fail.
describe('config edits under continuous load', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mgw-reload-'));
  const file = join(dir, 'gateway.yaml');
  let dns: DnsServer;
  const grpcServers: HttpGrpcServer[] = [];
  let qfA: HttpBackend;
  let qfB: HttpBackend;
  let fallback: HttpBackend;
  let ruler: HttpBackend;
  let gw: RunningGateway;
  let port = 0;

  function write(edit: { dist: string; qf: string; ruler: boolean; n: number }): void {
    const lines = [
      `# edit ${edit.n}`,
      'gateway:',
      '  proxy:',
      `    default: { url: "${fallback.url}" }`,
      `    distributor: { url: "dns://${dns.authority}/${edit.dist}:${port}" }`,
      `    query_frontend: { url: "${edit.qf}" }`,
      ...(edit.ruler ? [`    ruler: { url: "${ruler.url}" }`] : []),
    ];
    writeFileSync(file, lines.join('\n') + '\n');
  }

  beforeAll(async () => {
    dns = await DnsServer.start({ host: '127.0.0.1', port: 0 });
    // Two distributor sets under two names: .2/.3 are "a", .4/.5 are "b", all on one port.
    const shared = await onSharedPort(['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'], (host, p) => HttpGrpcServer.start({ host, port: p, record: false }), (s) => s.port, (s) => s.kill());
    port = shared.port;
    grpcServers.push(...shared.servers);
    dns.setRecords('a.test', [{ type: 'A', address: '127.0.0.2', ttl: 1 }, { type: 'A', address: '127.0.0.3', ttl: 1 }]);
    dns.setRecords('b.test', [{ type: 'A', address: '127.0.0.4', ttl: 1 }, { type: 'A', address: '127.0.0.5', ttl: 1 }]);
    qfA = await HttpBackend.start('qf-a', '127.0.0.6');
    qfB = await HttpBackend.start('qf-b', '127.0.0.7');
    fallback = await HttpBackend.start('default', '127.0.0.8');
    ruler = await HttpBackend.start('ruler', '127.0.0.9');
    write({ dist: 'a.test', qf: qfA.url, ruler: false, n: 0 });
    gw = await startGateway([`-config.file=${file}`, '-control-plane.dns.lookup-period=1s']);
  });
  afterAll(async () => {
    await gw?.stop();
    await Promise.all(grpcServers.map((s) => s.kill()));
    await Promise.all([qfA, qfB, fallback, ruler].map((b) => b?.close()));
    await dns?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  // How fast an edit applies is measured by `npm run bench -- reload` (BENCHMARKS.md), not asserted here:
  // a test with a time limit fails on a busy machine. Deadlines below are generous bounds on the waits.
  it('applies 20 edits, each one, with zero failed requests', async () => {
    const load = startLoad(gw.url, [
      { path: '/api/v1/push', method: 'POST', body: 'sample' },
      { path: '/prometheus/api/v1/query?query=up', method: 'GET' },
      { path: '/ruler/ring', method: 'GET' },
    ], { concurrency: 4, maxMs: 280_000 });
    try {
      for (let n = 1; n <= 20; n++) {
        const before = await appliedVersion(gw.url);
        // Cycle the distributor's DNS name, the query-frontend url, and a backend added then removed.
        write({ dist: n % 2 ? 'b.test' : 'a.test', qf: n % 3 ? qfB.url : qfA.url, ruler: n % 4 < 2, n });
        await eventually(async () => (await appliedVersion(gw.url)) !== before, `edit ${n} to be applied`, 30_000, 10);
        // Let a few requests run on the new state before the next edit.
        const sent = load.sent();
        await eventually(() => load.sent() > sent + 12, 'requests on the new config', 30_000, 5);
      }
    } finally {
      await load.stop();
    }
    expect(load.failures).toEqual([]);
    expect(load.sent()).toBeGreaterThan(200);
    // The last edit (n=20: distributor a.test, query_frontend B, ruler set) is what serves now.
    const qf = await request(`${gw.url}/prometheus/api/v1/labels`);
    expect(qf.headers['x-backend']).toBe('qf-b');
    await qf.body.dump();
    const r = await request(`${gw.url}/ruler/ring`);
    expect(r.headers['x-backend']).toBe('ruler');
    await r.body.dump();
    const counts = grpcServers.map((s) => s.requestCount);
    for (let i = 0; i < 4; i++) await (await request(`${gw.url}/api/v1/push`, { method: 'POST', body: 'x' })).body.dump();
    expect(grpcServers.map((s, i) => s.requestCount - counts[i]!)).toEqual([2, 2, 0, 0]);
  }, 300_000);
});
