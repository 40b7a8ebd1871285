// The token pieces around the gateway: the tokens file's errors, `tokens mint` round-trip, the
// filter's validation on the gateway (NACK with the last good set kept), -config.check.

import { readFileSync, rmSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { scryptHash, verifySecret } from '../core/auth.js';
import { parseTokens } from '../control-plane/tokens-file.js';
import { translate } from '../control-plane/translate.js';
import { checkResources } from '../data-plane/xds-apply.js';
import { AUTH_FILTER_NAME, type AuthFilterConfig } from '../xds/auth-filter.js';
import { decodeResource, encodeResource } from '../xds/protos.js';
import { TYPE_URL, type TypeUrl, type XdsResource } from '../xds/resource.js';
import type { AcceptedResources } from '../data-plane/xds/accepted-state.js';
import { runCli } from './support/cli.js';
import { WatchedConfig } from './support/fleet.js';
import { eventually, startGateway } from './support/gateway.js';
import { HttpBackend } from './support/http-backend.js';
import { realisticInput, referenceRoute } from './support/fixtures.js';
import { needsScope, routeTable } from '../core/routes.js';
import { basicAuth, mintTestToken, tokensYaml } from './support/tokens.js';

const dir = mkdtempSync(join(tmpdir(), 'mgw-auth-tokens-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const GOOD_HASH = scryptHash('t.secret', { ln: 10, r: 8, p: 1 });

describe('tokens file', () => {
  it('reads entries, with optional expiry', () => {
    const tokens = parseTokens(`tokens:\n  - id: ci\n    tenants: [a, b]\n    scopes: [metrics:write]\n    expires_at: 2027-01-01T00:00:00Z\n    hash: '${GOOD_HASH}'\n`, 't.yaml');
    expect(tokens).toEqual([{ id: 'ci', tenants: ['a', 'b'], scopes: ['metrics:write'], expiresAtMs: Date.parse('2027-01-01T00:00:00Z'), hash: GOOD_HASH }]);
    expect(parseTokens('', 't.yaml')).toEqual([]);
    expect(parseTokens('tokens: []\n', 't.yaml')).toEqual([]);
  });

  it('reports every problem as file:line:col with the entry and field', () => {
    const yaml = [
      'tokens:',
      '  - id: Bad Id',
      '    tenants: []',
      '    scopes: [metrics:wrte]',
      '    hash: secret-in-clear',
      '  - id: ok',
      '    tenants: [a]',
      '    scopes: [admin]',
      '    expires_at: tomorrow',
      `    hash: '${GOOD_HASH}'`,
      '    secret: x',
      '  - id: ok',
      '    tenants: [a]',
      '    scopes: [admin]',
      `    hash: '${GOOD_HASH}'`,
      'users: []',
      '',
    ].join('\n');
    let message = '';
    try {
      parseTokens(yaml, 'tokens.yaml');
    } catch (err) {
      message = (err as Error).message;
      expect((err as { code: string }).code).toBe('GW_ERR_TOKENS_FILE');
    }
    expect(message.split('\n')).toEqual([
      'tokens.yaml:16:1: unknown key "users"; the file holds one key, "tokens"',
      'tokens.yaml:2:9: tokens[0].id: "Bad Id" must be a lower-case word (a-z, 0-9, "-", "_"; at most 63)',
      'tokens.yaml:3:14: tokens[0].tenants: expected a non-empty list',
      'tokens.yaml:4:14: tokens[0].scopes[0]: "metrics:wrte" is not a scope; scopes: metrics:write, metrics:read, rules:read, rules:write, alerts:read, alerts:write, admin',
      'tokens.yaml:5:11: tokens[0].hash: is not an scrypt hash "$scrypt$ln=<n>,r=<r>,p=<p>$<salt>$<hash>"; make one with `metrics-gateway tokens mint`',
      'tokens.yaml:11:5: tokens[1]: unknown key "secret"; valid keys: id, tenants, scopes, expires_at, hash, access_policy, label_policies',
      'tokens.yaml:9:17: tokens[1].expires_at: "tomorrow" is not an RFC 3339 time such as 2027-01-01T00:00:00Z',
      'tokens.yaml:12:9: tokens[2].id: "ok" is already the id of tokens[1]',
    ]);
    expect(() => parseTokens('tokens:\n  - id: [\n', 'tokens.yaml')).toThrow(/^tokens\.yaml:\d+:\d+: invalid YAML/);
  });
});

describe('scopes per route family', () => {
  it('are what the README says: push writes, queries read, rules and alerts by method, the rest admin', () => {
    const table = routeTable();
    const scope = (method: string, path: string): string => needsScope(referenceRoute(table, path)?.scopes, method);
    const cases: Array<[string, string, string]> = [
      ['POST', '/api/v1/push', 'metrics:write'],
      ['POST', '/otlp/v1/metrics', 'metrics:write'],
      ['POST', '/api/v1/push/influx/write', 'metrics:write'],
      ['GET', '/prometheus/api/v1/query', 'metrics:read'],
      ['POST', '/prometheus/api/v1/query', 'metrics:read'],
      ['GET', '/api/v1/status/buildinfo', 'metrics:read'],
      ['GET', '/prometheus/config/v1/rules', 'rules:read'],
      ['POST', '/prometheus/config/v1/rules/ns', 'rules:write'],
      ['DELETE', '/prometheus/config/v1/rules/ns', 'rules:write'],
      ['GET', '/prometheus/api/v1/rules', 'rules:read'],
      ['GET', '/alertmanager/api/v2/alerts', 'alerts:read'],
      ['POST', '/api/v1/alerts', 'alerts:write'],
      ['GET', '/graphite/render', 'metrics:read'],
      ['GET', '/admin/api/v3/tenants', 'admin'],
      ['GET', '/distributor/all_user_stats', 'admin'],
      ['POST', '/api/v1/upload/block/x', 'admin'],
      ['GET', '/anything/else', 'admin'],
    ];
    expect(cases.map(([m, p]) => `${m} ${p} ${scope(m, p)}`)).toEqual(cases.map((c) => c.join(' ')));
  });
});

describe('tokens mint', () => {
  it('prints a secret that verifies against the entry it prints, and the entry reads back', async () => {
    const r = runCli(['tokens', 'mint', '-id=ci-push', '-tenant=team-a,team-b', '-scope=metrics:write,metrics:read', '-expires-at=2027-01-01T00:00:00Z']);
    expect(r.code, r.stderr).toBe(0);
    const secret = /^\s+(ci-push\.\S+)$/m.exec(r.stdout)?.[1];
    expect(secret).toMatch(/^ci-push\.[A-Za-z0-9_-]{43}$/);
    const entry = r.stdout.slice(r.stdout.indexOf('  - id:'));
    const [token] = parseTokens(`tokens:\n${entry}`, 'minted.yaml');
    expect(token).toMatchObject({ id: 'ci-push', tenants: ['team-a', 'team-b'], scopes: ['metrics:write', 'metrics:read'], expiresAtMs: Date.parse('2027-01-01T00:00:00Z') });
    expect(r.stdout).not.toContain(`hash: '${secret}`);
    expect(await verifySecret(secret!, token!.hash)).toBe(true);
    expect(await verifySecret(`${secret}x`, token!.hash)).toBe(false);
    // Two mints never share a secret or a salt.
    const again = runCli(['tokens', 'mint', '-id=ci-push', '-tenant=team-a', '-scope=metrics:write']);
    expect(again.stdout).not.toContain(secret!);
  });

  it('refuses bad arguments with the usage', () => {
    const r = runCli(['tokens', 'mint', '-id=ci', '-tenant=a', '-scope=metrics:writ']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error: -scope "metrics:writ" is not a scope');
    expect(r.stderr).toContain('Usage: metrics-gateway tokens mint');
  });
});

function acceptedWithAuth(auth: AuthFilterConfig): { listeners: Map<string, unknown>; accepted: AcceptedResources } {
  const out = translate({ ...realisticInput(), auth });
  const map = (t: TypeUrl): Map<string, unknown> => new Map((out.get(t) ?? []).map((r) => [r.name, decodeResource(t, r.value)]));
  const accepted = {
    listeners: map(TYPE_URL.listener),
    routes: map(TYPE_URL.route),
    clusters: map(TYPE_URL.cluster),
    endpoints: map(TYPE_URL.endpoint),
    versions: {},
  } as unknown as AcceptedResources;
  return { listeners: accepted.listeners as Map<string, unknown>, accepted };
}

describe('the auth filter on the Listener', () => {
  const settings = { realm: 'r', cacheTtlMs: 60_000, failureLimit: 10, failureWindowMs: 10_000 };
  const good = mintTestToken('good', ['a'], ['metrics:read'], { ln: 10 });

  it('is accepted when valid, and NACKed naming the entry when a gateway could not enforce it', () => {
    const ok = acceptedWithAuth({ ...settings, tokens: [good.entry] });
    expect(checkResources(TYPE_URL.listener, ok.listeners, ok.accepted)).toEqual([]);
    // Tokens travel sorted by id: "bad" is tokens[0].
    const bad = acceptedWithAuth({ ...settings, tokens: [good.entry, { ...good.entry, id: 'bad', scopes: ['metrics:read', 'root' as never], hash: 'plain' }] });
    const problems = checkResources(TYPE_URL.listener, bad.listeners, bad.accepted);
    expect(problems.join('\n')).toContain(`Listener "metrics-gateway": filter "${AUTH_FILTER_NAME}": tokens[0]: scopes ["metrics:read","root"] must be a list of`);
    expect(problems.join('\n')).toContain('tokens[0]: hash is not an scrypt hash');
    // Label policies are checked again on the gateway: a selector no file check saw is NACKed.
    const policy = acceptedWithAuth({ ...settings, tokens: [{ ...good.entry, accessPolicy: 'p', labelPolicies: { a: ['{ok="1"}', '{a=~"("}'], b: ['{x="y"}'] } }] });
    const why = checkResources(TYPE_URL.listener, policy.listeners, policy.accepted).join('\n');
    expect(why).toContain('tokens[0]: label_policies.a: "{a=~\\"(\\"}" is not a series selector: the regular expression of a is not a valid regular expression');
    expect(why).toContain('tokens[0]: label_policies: tenant "b" is not one of the token\'s tenants');
    const fine = acceptedWithAuth({ ...settings, tokens: [{ ...good.entry, accessPolicy: 'p', labelPolicies: { a: ['{ok="1"}'] } }] });
    expect(checkResources(TYPE_URL.listener, fine.listeners, fine.accepted)).toEqual([]);
  });

  it('a gateway NACKs an unusable token set and keeps enforcing the last good one', async () => {
    const backend = await HttpBackend.start('qf');
    const tokens = new WatchedConfig(tokensYaml([good]), 'tokens.yaml');
    const config = new WatchedConfig(`gateway:\n  proxy:\n    default: { url: ${backend.url} }\nauth:\n  type: token\n  tokens_file: ${tokens.file}\n`);
    // Switched on below: the control plane then sends a filter whose token has no hash.
    let poison = false;
    const transform = (resources: Map<TypeUrl, XdsResource[]>): void => {
      if (!poison) return;
      const listeners = resources.get(TYPE_URL.listener)!;
      const i = listeners.findIndex((r) => r.name === 'metrics-gateway');
      const text = JSON.stringify(decodeResource(TYPE_URL.listener, listeners[i]!.value)).replaceAll('"hash":{"stringValue":"$scrypt', '"hash":{"stringValue":"broken$scrypt');
      const view = JSON.parse(text) as Record<string, unknown>;
      listeners[i] = { ...listeners[i]!, value: encodeResource(TYPE_URL.listener, view), view };
    };
    const gw = await startGateway([`-config.file=${config.file}`], { transform });
    try {
      const query = async (t = good): Promise<number> => {
        const r = await request(`${gw.url}/prometheus/api/v1/query?query=up`, { headers: { authorization: basicAuth('a', t.secret) } });
        await r.body.dump();
        return r.statusCode;
      };
      expect(await query()).toBe(200);
      poison = true;
      const added = mintTestToken('added', ['a'], ['metrics:read'], { ln: 10 });
      tokens.replaceAtomically(tokensYaml([good, added]));
      const xds = await eventually(
        async () => {
          const text = await (await request(`${gw.url}/gateway/api/v1/config`)).body.text();
          return text.includes('is not an scrypt hash') ? text : undefined;
        },
        'the gateway to NACK the listener',
        10_000,
      );
      expect(xds).toContain(`filter \\"${AUTH_FILTER_NAME}\\": tokens[0]: hash is not an scrypt hash`);
      // The last good set: the old token works, the one only the NACKed set has does not.
      expect(await query()).toBe(200);
      expect(await query(added)).toBe(401);
    } finally {
      await gw.stop();
      await backend.close();
      tokens.remove();
      config.remove();
    }
  });
});

describe('-config.check', () => {
  it('validates the tokens file as start-up does', () => {
    const cfg = join(dir, 'check.yaml');
    const tokensFile = join(dir, 'check-tokens.yaml');
    writeFileSync(cfg, `gateway:\n  proxy:\n    default: { url: http://127.0.0.1:9 }\nauth:\n  type: token\n  tokens_file: ${tokensFile}\n`);
    writeFileSync(tokensFile, `tokens:\n  - id: ci\n    tenants: [a]\n    scopes: [metrics:write]\n    hash: '${GOOD_HASH}'\n`);
    const ok = runCli(['-config.check', `-config.file=${cfg}`]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain(`auth: token (basic auth, realm "metrics-gateway"), 1 tokens from ${tokensFile} (watched): ci`);
    expect(ok.stdout).not.toContain('$scrypt$');
    writeFileSync(tokensFile, `tokens:\n  - id: ci\n    tenants: [a]\n    scopes: [metrics:write]\n    hash: nope\n`);
    const bad = runCli(['-config.check', `-config.file=${cfg}`]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe(`error: ${tokensFile}:5:11: tokens[0].hash: is not an scrypt hash "$scrypt$ln=<n>,r=<r>,p=<p>$<salt>$<hash>"; make one with \`metrics-gateway tokens mint\`\n`);
    const none = runCli(['-config.check', `-config.file=${cfg}`, '-auth.tokens-file=']);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('set -auth.tokens-file');
    expect(readFileSync(tokensFile, 'utf8')).toContain('hash: nope');
  });

  it('a tokens file that does not exist (optional Secret): fatal with -auth.type=token, no tokens in trust mode, loaded once it appears', async () => {
    const absent = join(dir, 'not-yet', 'tokens.yaml');
    const cfg = join(dir, 'optional.yaml');
    writeFileSync(cfg, `gateway:\n  proxy:\n    default: { url: http://127.0.0.1:9 }\nauth:\n  tokens_file: ${absent}\n`);
    const token = runCli(['-config.check', `-config.file=${cfg}`, '-auth.type=token']);
    expect(token.code).toBe(1);
    expect(token.stderr).toBe(`error: ${absent}: cannot read tokens file (-auth.tokens-file): no such file\n`);
    const trust = runCli(['-config.check', `-config.file=${cfg}`]);
    expect(trust.code, trust.stderr).toBe(0);
    expect(trust.stdout).toContain(`tokens file ${absent} absent (optional in trust mode; watched, loaded when it appears)`);
    // Running in trust mode, the file appears (the Secret is created): it is loaded and watched.
    const gw = await startGateway([`-config.file=${cfg}`]);
    try {
      const status = async (): Promise<{ tokens?: { ids: string[] } }> => (await (await request(`${gw.url}/control-plane/api/v1/status`)).body.json()) as { tokens?: { ids: string[] } };
      expect((await status()).tokens?.ids).toEqual([]);
      const { mkdirSync } = await import('node:fs');
      mkdirSync(join(dir, 'not-yet'), { recursive: true });
      writeFileSync(absent, `tokens:\n  - id: late\n    tenants: [a]\n    scopes: [metrics:write]\n    hash: '${GOOD_HASH}'\n`);
      await eventually(async () => (await status()).tokens?.ids.includes('late'), 'the tokens file loaded once it exists', 15_000, 100);
    } finally {
      await gw.stop();
    }
  }, 30_000);
});

describe('fail closed', () => {
  it('authenticates before a fixed answer, and a gateway told -auth.type=token serves nothing from a trust control plane', async () => {
    const tokens = new WatchedConfig(tokensYaml([]), 'tokens.yaml');
    // Only a distributor: every other route answers a fixed 503 naming the config fields to set.
    const config = new WatchedConfig(`gateway:\n  proxy:\n    distributor: { url: "dns:///127.0.0.2:9" }\nauth:\n  type: token\n  tokens_file: ${tokens.file}\n`);
    const trustConfig = new WatchedConfig(`gateway:\n  proxy:\n    default: { url: "http://127.0.0.1:9" }\n`);
    const gw = await startGateway([`-config.file=${config.file}`]);
    const cp = await startGateway(['-target=control-plane', `-config.file=${trustConfig.file}`]);
    const remote = await startGateway([`-gateway.xds.server-address=${cp.grpc}`, '-auth.type=token']);
    try {
      const unset = await request(`${gw.url}/admin/api/v3/tenants`);
      expect(unset.statusCode).toBe(401);
      expect(await unset.body.text()).not.toContain('gateway.proxy');
      const reason = await eventually(
        async () => {
          const r = await request(`${remote.url}/prometheus/api/v1/query?query=up`);
          const text = await r.body.text();
          return r.statusCode === 503 && text.includes('sends no auth filter') ? text : undefined;
        },
        'the remote gateway to refuse the trust config',
        10_000,
      );
      expect(reason).toContain('-auth.type=token is set on this gateway');
      const ready = await request(`${remote.url}/ready`);
      await ready.body.dump();
      expect(ready.statusCode).toBe(503);
    } finally {
      await remote.stop();
      await cp.stop();
      await gw.stop();
      for (const f of [tokens, config, trustConfig]) f.remove();
    }
  });
});
