// Token auth with -server.workers: the control plane puts the tokens on the Listener, the primary's
// xDS client relays it as bytes, and every worker enforces it. Real processes: a control plane, a
// gateway with 2 workers, an HTTP backend and an httpgrpc distributor.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, request } from 'undici';
import { HttpGrpcServer } from '../examples/local/httpgrpc-server.js';
import { startCli, type Child } from './support/cli.js';
import { startControlPlaneProcess, WatchedConfig, type ControlPlaneProcess } from './support/fleet.js';
import { HttpBackend } from './support/http-backend.js';
import { basicAuth, mintTestToken, tokensYaml } from './support/tokens.js';

const writer = mintTestToken('writer-a', ['a'], ['metrics:write', 'metrics:read']);

/** A request on a connection of its own: the primary hands each new connection to the next worker. */
async function fresh(url: string, opts: { method?: 'GET' | 'POST'; headers?: Record<string, string> } = {}): Promise<number> {
  const agent = new Agent({ pipelining: 0 });
  try {
    const res = await request(url, { method: opts.method ?? 'GET', headers: opts.headers, body: opts.method === 'POST' ? 'x' : undefined, dispatcher: agent });
    await res.body.dump();
    return res.statusCode;
  } finally {
    await agent.close();
  }
}

/** From the gateway's debug log: which worker served a request, which one refused a token. */
function answeredBy(output: string): Set<string> {
  const seen = new Set<string>();
  for (const l of output.split('\n')) {
    const worker = /\bworker=(\d+)/.exec(l)?.[1];
    if (l.includes('msg=request')) seen.add(`${worker} served ${/\bstatus=(\d+)/.exec(l)?.[1]}`);
    if (l.includes('msg="authentication failed"')) seen.add(`${worker} refused`);
  }
  return seen;
}

describe('token auth with -server.workers=2', () => {
  let backend: HttpBackend;
  let distributor: HttpGrpcServer;
  let tokens: WatchedConfig;
  let config: WatchedConfig;
  let cp: ControlPlaneProcess;
  let gw: Child;

  beforeAll(async () => {
    backend = await HttpBackend.start('query-frontend');
    distributor = await HttpGrpcServer.start({ host: '127.0.0.2' });
    tokens = new WatchedConfig(tokensYaml([writer]), 'tokens.yaml');
    config = new WatchedConfig(`gateway:\n  proxy:\n    default: { url: ${backend.url} }\n    distributor: { url: "dns:///127.0.0.2:${distributor.port}" }\n`);
    cp = await startControlPlaneProcess(config, 0, ['-auth.type=token', `-auth.tokens-file=${tokens.file}`]);
    gw = await startCli(
      ['-target=gateway', `-gateway.xds.server-address=${cp.xdsAddress}`, '-auth.type=token', '-server.workers=2', '-log.level=debug'],
      {},
      { readyTimeoutMs: 60_000 },
    );
  }, 120_000);

  afterAll(async () => {
    await gw?.stop();
    await cp?.child.stop();
    await backend?.close();
    distributor?.kill();
    tokens?.remove();
    config?.remove();
  });

  it('good credentials get 200 from both workers, on the HTTP and the httpgrpc path; wrong or none get 401', async () => {
    const good = { authorization: basicAuth('a', writer.secret) };
    const wrong = { authorization: basicAuth('a', `${writer.secret}x`) };
    // Three requests a round, connections round-robin over two workers: each kind meets both workers.
    for (let i = 0; i < 4; i++) {
      expect(await fresh(`${gw.url}/prometheus/api/v1/query?query=up`, { headers: good })).toBe(200);
      expect(await fresh(`${gw.url}/api/v1/push`, { method: 'POST', headers: good })).toBe(200);
      // Below -auth.failure-limit (10 per window per address and token id, counted in each worker).
      expect(await fresh(`${gw.url}/prometheus/api/v1/query?query=up`, { headers: wrong })).toBe(401);
    }
    for (let i = 0; i < 2; i++) expect(await fresh(`${gw.url}/api/v1/push`, { method: 'POST' })).toBe(401);
    expect(backend.received.length).toBe(4);
    expect(distributor.requestCount).toBe(4);
    // Each worker answered both ways (connections go round-robin to the workers).
    const seen = answeredBy(gw.output());
    for (const w of ['1', '2']) for (const what of ['served 200', 'refused']) expect(seen).toContain(`${w} ${what}`);
  });
});
