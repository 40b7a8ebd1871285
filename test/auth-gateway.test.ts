// Token mode end to end in one process: the control plane reads the tokens file and puts the tokens
// on the Listener; the gateway enforces them on the HTTP path (a real HTTP backend) and the httpgrpc
// path (a real httpgrpc server), rewrites the tenant headers, and follows edits of the file.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, request } from 'undici';
import { HttpGrpcServer, headerValues } from '../examples/local/httpgrpc-server.js';
import { eventually, startGateway, type RunningGateway } from './support/gateway.js';
import { HttpBackend } from './support/http-backend.js';
import { basicAuth, mintTestToken, tokensYaml, type TestToken } from './support/tokens.js';
import { WatchedConfig } from './support/fleet.js';

const writerA = mintTestToken('writer-a', ['a'], ['metrics:write', 'metrics:read']);
const readerA = mintTestToken('reader-a', ['a'], ['metrics:read']);
const writerB = mintTestToken('writer-b', ['b'], ['metrics:write']);
const expired = mintTestToken('old', ['a'], ['metrics:read'], { expiresAtMs: Date.parse('2020-01-01T00:00:00Z') });
const rules = mintTestToken('rules-a', ['a'], ['rules:read']);

let backend: HttpBackend;
let distributor: HttpGrpcServer;
let tokens: WatchedConfig;
let config: WatchedConfig;
let gw: RunningGateway;

const GUESSER = '127.0.0.11';
const EDITOR = '127.0.0.13';
const all: TestToken[] = [writerA, readerA, writerB, expired, rules];

beforeAll(async () => {
  backend = await HttpBackend.start('query-frontend');
  distributor = await HttpGrpcServer.start({ host: '127.0.0.2' });
  tokens = new WatchedConfig(tokensYaml(all), 'tokens.yaml');
  config = new WatchedConfig(
    [
      'gateway:',
      '  proxy:',
      `    default: { url: ${backend.url} }`,
      `    distributor: { url: "dns:///127.0.0.2:${distributor.port}" }`,
      'auth:',
      '  type: token',
      `  tokens_file: ${tokens.file}`,
      '  realm: test-realm',
      '  failure_limit: 20',
      '  failure_window: 1m',
      '',
    ].join('\n'),
  );
  gw = await startGateway([`-config.file=${config.file}`]);
});

afterAll(async () => {
  await gw?.stop();
  for (const a of agents.values()) await a.close();
  await backend?.close();
  distributor?.kill();
  tokens?.remove();
  config?.remove();
});

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
}

/** Clients on other loopback addresses, for the per-address failure limit. */
const agents = new Map<string, Agent>();
function from(address: string): Agent {
  let a = agents.get(address);
  if (!a) agents.set(address, (a = new Agent({ localAddress: address })));
  return a;
}

async function call(path: string, opts: { method?: string; headers?: Record<string, string>; body?: string; from?: string } = {}): Promise<Answer> {
  const res = await request(`${gw.url}${path}`, {
    method: (opts.method ?? 'GET') as 'GET',
    headers: opts.headers,
    body: opts.body,
    ...(opts.from ? { dispatcher: from(opts.from) } : {}),
  });
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}

async function metric(name: string, labels = ''): Promise<number> {
  const text = await (await request(`${gw.url}/metrics`)).body.text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return Number(line?.split(' ')[1] ?? NaN);
}

describe('token mode', () => {
  it('answers 401 with a Basic challenge for missing, malformed and wrong credentials', async () => {
    for (const headers of <Array<Record<string, string>>>[{}, { authorization: 'Bearer x' }, { authorization: basicAuth('a', `${writerA.secret}x`) }, { authorization: basicAuth('a', 'nosuch.secret') }]) {
      const r = await call('/prometheus/api/v1/query?query=up', { headers });
      expect(r.status, JSON.stringify(headers)).toBe(401);
      expect(r.headers['www-authenticate']).toBe('Basic realm="test-realm", charset="UTF-8"');
    }
    const wrong = await call('/prometheus/api/v1/query?query=up', { headers: { authorization: basicAuth('a', `${writerA.secret}x`) } });
    expect(wrong.headers['x-gateway-error']).toBe('GW_ERR_AUTH_INVALID');
    // The token is valid but not for tenant b.
    const tenant = await call('/prometheus/api/v1/query?query=up', { headers: { authorization: basicAuth('b', readerA.secret) } });
    expect(tenant.status).toBe(401);
    expect(tenant.text).toContain('not for this tenant');
    expect(backend.received.filter((r) => r.url.startsWith('/prometheus'))).toHaveLength(0);
  });

  it('says when a token has expired, also once its header is cached as verified', async () => {
    // The second request takes the cached-header path: expiry is still checked per request.
    for (let i = 0; i < 2; i++) {
      const r = await call('/prometheus/api/v1/query?query=up', { headers: { authorization: basicAuth('a', expired.secret) } });
      expect(r.status).toBe(401);
      expect(r.headers['x-gateway-error']).toBe('GW_ERR_AUTH_EXPIRED');
      expect(r.text).toContain('expired at 2020-01-01T00:00:00.000Z');
    }
  });

  it('names the missing scope with 403: a read token may query but not push', async () => {
    const push = await call('/api/v1/push', { method: 'POST', headers: { authorization: basicAuth('a', readerA.secret) }, body: 'x' });
    expect(push.status).toBe(403);
    expect(push.headers['x-gateway-error']).toBe('GW_ERR_AUTH_SCOPE');
    expect(push.text).toContain('metrics:write');
    const query = await call('/prometheus/api/v1/query?query=up', { headers: { authorization: basicAuth('a', readerA.secret) } });
    expect(query.status).toBe(200);
    // Rules: GET needs rules:read, POST rules:write.
    const auth = { authorization: basicAuth('a', rules.secret) };
    expect((await call('/prometheus/config/v1/rules', { headers: auth })).status).toBe(200);
    const post = await call('/prometheus/config/v1/rules/ns', { method: 'POST', headers: auth, body: 'groups: []' });
    expect(post.status).toBe(403);
    expect(post.text).toContain('rules:write');
    // Routes outside the families (admin API, status pages, the catch-all) need admin.
    const admin = await call('/admin/api/v3/tenants', { headers: { authorization: basicAuth('a', writerA.secret) } });
    expect(admin.status).toBe(403);
    expect(admin.text).toContain('admin');
  });

  it('HTTP path: the tenant comes from the credentials; client X-Scope-OrgID and Authorization never reach the backend', async () => {
    const before = backend.received.length;
    const r = await call('/prometheus/api/v1/query?query=up', {
      headers: { authorization: basicAuth('a', readerA.secret), 'x-scope-orgid': 'b' },
    });
    expect(r.status).toBe(200);
    const got = backend.received.slice(before);
    expect(got).toHaveLength(1);
    const names = got[0]!.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
    expect(names.filter((n) => n === 'x-scope-orgid')).toHaveLength(1);
    expect(got[0]!.headers['x-scope-orgid']).toBe('a');
    expect(names).not.toContain('authorization');
  });

  it('httpgrpc path: the distributor sees the authenticated tenant only, in headers and metadata', async () => {
    const before = distributor.received.length;
    const r = await call('/api/v1/push', {
      method: 'POST',
      headers: { authorization: basicAuth('a', writerA.secret), 'x-scope-orgid': 'b', 'X-Scope-OrgID': 'c' },
      body: 'samples',
    });
    expect(r.status, r.text).toBe(200);
    const got = distributor.received.slice(before);
    expect(got).toHaveLength(1);
    expect(headerValues(got[0]!, 'X-Scope-OrgID')).toEqual(['a']);
    expect(got[0]!.metadata['x-scope-orgid']).toEqual(['a']);
    expect(headerValues(got[0]!, 'Authorization')).toEqual([]);
  });

  it('runs the KDF once per token per TTL, not per request', async () => {
    const runs = await metric('metrics_gateway_auth_kdf_runs_total');
    const auth = { authorization: basicAuth('b', writerB.secret) };
    // Concurrent first requests share one verification.
    const first = await Promise.all(Array.from({ length: 5 }, () => call('/api/v1/push', { method: 'POST', headers: auth, body: 'x' })));
    for (const r of first) expect(r.status).toBe(200);
    for (let i = 0; i < 20; i++) expect((await call('/api/v1/push', { method: 'POST', headers: auth, body: 'x' })).status).toBe(200);
    expect(await metric('metrics_gateway_auth_kdf_runs_total')).toBe(runs + 1);
    expect(await metric('metrics_gateway_auth_requests_total', '{reason="ok"}')).toBeGreaterThanOrEqual(25);
  });

  it("keeps the gateway's own endpoints open and shows token ids, never hashes", async () => {
    for (const p of ['/ready', '/metrics', '/gateway/api/v1/config', '/control-plane/api/v1/status', '/control-plane/api/v1/snapshot']) {
      const r = await call(p);
      expect(r.status, p).toBe(200);
      expect(r.text, p).not.toContain('$scrypt$');
    }
    const status = JSON.parse((await call('/control-plane/api/v1/status')).text) as { tokens: { ids: string[]; lastError: unknown } };
    expect(status.tokens.ids.sort()).toEqual(all.map((t) => t.entry.id).sort());
    const applied = JSON.parse((await call('/gateway/api/v1/config')).text) as { applied: { auth: { type: string; tokens: string[] } } };
    expect(applied.applied.auth.type).toBe('token');
    expect(applied.applied.auth.tokens.sort()).toEqual(all.map((t) => t.entry.id).sort());
  });

  it('refuses an address after repeated failures with 429, yet lets already verified credentials through', async () => {
    const good = { authorization: basicAuth('a', readerA.secret) };
    expect((await call('/prometheus/api/v1/query?query=up', { headers: good, from: GUESSER })).status).toBe(200);
    const statuses: number[] = [];
    for (let i = 0; i < 25; i++) {
      statuses.push((await call('/prometheus/api/v1/query?query=up', { headers: { authorization: basicAuth('a', `reader-a.guess${i}`) }, from: GUESSER })).status);
    }
    expect(statuses).toContain(429);
    const throttled = await call('/prometheus/api/v1/query?query=up', { headers: { authorization: basicAuth('a', 'reader-a.again') }, from: GUESSER });
    expect(throttled.status).toBe(429);
    expect(Number(throttled.headers['retry-after'])).toBeGreaterThan(0);
    // The good client behind the same address keeps working.
    expect((await call('/prometheus/api/v1/query?query=up', { headers: good, from: GUESSER })).status).toBe(200);
    expect(await metric('metrics_gateway_auth_requests_total', '{reason="throttled"}')).toBeGreaterThanOrEqual(1);
    // Other addresses are not affected.
    const other = await call('/prometheus/api/v1/query?query=up', { headers: { authorization: basicAuth('a', 'reader-a.wrong') }, from: '127.0.0.12' });
    expect(other.status).toBe(401);
  });

  it('follows the tokens file: a bad edit keeps the last good set, a revocation applies within one push', async () => {
    const auth = { authorization: basicAuth('b', writerB.secret) };
    expect((await call('/api/v1/push', { method: 'POST', headers: auth, body: 'x', from: EDITOR })).status).toBe(200);
    // A broken file: reported with file:line, the old set stays in force.
    tokens.replaceAtomically(`${tokensYaml(all)}  - id: broken\n    tenants: [a]\n    scopes: [metrics:wrte]\n    hash: nope\n`);
    const status = await eventually(
      async () => {
        const s = JSON.parse((await call('/control-plane/api/v1/status')).text) as { tokens: { lastError: { message: string } | null } };
        return s.tokens.lastError;
      },
      'the tokens file error in the status API',
      10_000,
    );
    expect(status.message).toContain(`${tokens.file}:`);
    expect(status.message).toMatch(/tokens\[5\]\.scopes\[0\]: "metrics:wrte" is not a scope/);
    expect(status.message).toMatch(/tokens\[5\]\.hash: is not an scrypt hash/);
    expect((await call('/api/v1/push', { method: 'POST', headers: auth, body: 'x', from: EDITOR })).status).toBe(200);
    // Revoke writer-b: its next requests fail; the others keep working.
    tokens.replaceAtomically(tokensYaml(all.filter((t) => t !== writerB)));
    // Polled every 100 ms: the revoked token's failures count towards this address's limit (20 a minute).
    await eventually(async () => (await call('/api/v1/push', { method: 'POST', headers: auth, body: 'x', from: EDITOR })).status === 401, 'writer-b revoked', 10_000, 100);
    expect((await call('/api/v1/push', { method: 'POST', headers: { authorization: basicAuth('a', writerA.secret) }, body: 'x' })).status).toBe(200);
    // Re-issued with a new secret: the old secret stays refused, the new one works.
    const reissued = mintTestToken('writer-b', ['b'], ['metrics:write']);
    tokens.replaceAtomically(tokensYaml([...all.filter((t) => t !== writerB), reissued]));
    await eventually(
      async () => (await call('/api/v1/push', { method: 'POST', headers: { authorization: basicAuth('b', reissued.secret) }, body: 'x', from: EDITOR })).status === 200,
      'the re-issued writer-b',
      10_000,
    );
    expect((await call('/api/v1/push', { method: 'POST', headers: auth, body: 'x', from: EDITOR })).status).toBe(401);
  });
});
