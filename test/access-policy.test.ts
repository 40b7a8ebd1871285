// GEM's access-policy headers: a token entry names its access policy and carries label policies per
// tenant; the gateway sends X-Token-Name, X-Access-Policy-Name and, on metric reads, one
// X-Prom-Label-Policy per selector in GEM's format (`<tenant>:<url.PathEscape("{matchers}")>`, as
// Mimir's labelaccess package and `mimirtool acl generate-header` write it) to HTTP and httpgrpc
// backends; what a client sent under these names never reaches a backend. Selectors are PromQL
// series selectors, checked when the tokens file loads (file:line:col).

import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalSelector, goPathEscape, labelPolicyHeader, parseSeriesSelector, SelectorError } from '../core/label-selector.js';
import { parseTokens } from '../control-plane/tokens-file.js';
import { headerValues, type ReceivedRequest } from '../examples/local/httpgrpc-server.js';
import { cleanupsAfterEach } from './support/cleanups.js';
import { startDistributors, type Distributors } from './support/distributors.js';
import { WatchedConfig } from './support/fleet.js';
import { startGateway, type RunningGateway } from './support/gateway.js';
import { HttpBackend } from './support/http-backend.js';
import { eventually } from './support/poll.js';
import { basicAuth, mintTestToken, tokensYaml } from './support/tokens.js';

describe('series selectors and the X-Prom-Label-Policy value', () => {
  it("writes GEM's format: mimirtool's documented example, and Prometheus' Matcher.String() for the rest", () => {
    // `mimirtool acl generate-header --id=1234 --rule='{namespace="A"}'` prints exactly this.
    expect(labelPolicyHeader('1234', '{namespace="A"}')).toBe('1234:%7Bnamespace=%22A%22%7D');
    expect(canonicalSelector(parseSeriesSelector(`up{job=~'api|web' , env!="dev",}`))).toBe('{__name__="up", job=~"api|web", env!="dev"}');
    expect(labelPolicyHeader('team-a', 'up{job=~"api|web", env!="dev"}')).toBe('team-a:%7B__name__=%22up%22%2C%20job=~%22api%7Cweb%22%2C%20env%21=%22dev%22%7D');
    // Go's %q and url.PathEscape: quotes and backslashes escaped, UTF-8 percent-encoded; "," and "/" too.
    expect(canonicalSelector(parseSeriesSelector('{path="a\\"b\\\\c", city=`Zürich`}'))).toBe('{path="a\\"b\\\\c", city="Zürich"}');
    expect(goPathEscape('a/b,c;d?e ü$&+:=@~')).toBe('a%2Fb%2Cc%3Bd%3Fe%20%C3%BC$&+:=@~');
  });

  it('refuses what PromQL refuses, saying where', () => {
    const problem = (s: string): string => {
      try {
        parseSeriesSelector(s);
        return 'parsed';
      } catch (err) {
        return `${(err as SelectorError).offset}: ${(err as Error).message}`;
      }
    };
    expect(problem('{namespace=prod}')).toBe('11: expected a quoted string ("value")');
    expect(problem('{namespace="prod"')).toBe('17: missing "}"');
    expect(problem('{namespace=="prod"}')).toBe('11: expected a quoted string ("value")');
    expect(problem('{a=""}')).toMatch(/^0: every matcher matches the empty string/);
    expect(problem('{a=~".*"}')).toMatch(/^0: every matcher matches the empty string/);
    expect(problem('{a=~"(x"}')).toMatch(/^1: the regular expression of a is not a valid regular expression/);
    expect(problem('{a=~"(?=x)"}')).toMatch(/lookaround/);
    expect(problem('')).toMatch(/^0: empty selector/);
    expect(problem('up{a="b"} or x')).toBe('10: unexpected text after the selector');
    expect(problem('{a="b" c="d"}')).toBe('7: expected "," or "}"');
  });
});

describe('tokens file: access_policy and label_policies', () => {
  const hash = mintTestToken('x', ['t'], ['metrics:read']).entry.hash;
  it('reads them', () => {
    const tokens = parseTokens(
      `tokens:\n  - id: grafana\n    tenants: [team-a, team-b]\n    scopes: [metrics:read]\n    hash: '${hash}'\n    access_policy: dashboards\n    label_policies:\n      team-a: ['{namespace="prod"}', 'up{env=~"eu|us"}']\n`,
      'tokens.yaml',
    );
    expect(tokens[0]).toMatchObject({ accessPolicy: 'dashboards', labelPolicies: { 'team-a': ['{namespace="prod"}', 'up{env=~"eu|us"}'] } });
  });

  it('reports every bad selector and tenant as file:line:col with the fix', () => {
    const text = [
      'tokens:',
      '  - id: grafana',
      '    tenants: [team-a]',
      '    scopes: [metrics:read]',
      `    hash: '${hash}'`,
      '    access_policy: Dash Boards',
      '    label_policies:',
      "      team-a: ['{namespace=prod}']",
      "      team-c: ['{a=\"b\"}']",
      '      team-a2: []',
      '',
    ].join('\n');
    let message = '';
    try {
      parseTokens(text.replace('team-a2', 'team-a'), 'tokens.yaml');
    } catch (err) {
      message = (err as Error).message;
    }
    // Duplicate keys are a YAML error first; without the duplicate, every other problem at once.
    expect(message).toMatch(/^tokens.yaml:10:7: invalid YAML/);
    try {
      parseTokens(text.replace('      team-a2: []\n', '').replace("team-a: ['{namespace=prod}']", "team-a:\n        - {namespace=\"prod\"}\n        - '{namespace=prod}'"), 'tokens.yaml');
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message.split('\n')).toEqual([
      'tokens.yaml:6:20: tokens[0].access_policy: "Dash Boards" must be a lower-case name (a-z, 0-9, "-", "_", "."; at most 63)',
      `tokens.yaml:9:11: tokens[0].label_policies.team-a[0]: expected a series selector as a string (quote it: '{namespace="prod"}')`,
      'tokens.yaml:10:11: tokens[0].label_policies.team-a[1]: "{namespace=prod}" is not a PromQL series selector: at character 12: expected a quoted string ("value")',
      'tokens.yaml:11:7: tokens[0].label_policies.team-c: "team-c" is not one of this token\'s tenants (team-a); a label policy applies to one of them',
    ]);
  });
});

describe('access-policy headers reach HTTP and httpgrpc backends as GEM writes them', () => {
  const cleanups = cleanupsAfterEach();
  const seen: ReceivedRequest[] = [];
  let queriers: Distributors;
  let graphite: HttpBackend;
  let distributor: HttpBackend;
  let ruler: HttpBackend;
  let gw: RunningGateway;
  const token = mintTestToken('grafana', ['team-a', 'team-b'], ['metrics:read', 'metrics:write', 'rules:read']);
  const dir: WatchedConfig[] = [];

  beforeAll(async () => {
    queriers = await startDistributors(['127.0.0.2'], (req) => {
      seen.push(req);
      return { code: 200, body: '{"status":"success"}' };
    });
    graphite = await HttpBackend.start('graphite');
    distributor = await HttpBackend.start('distributor');
    ruler = await HttpBackend.start('ruler');
    const yaml = tokensYaml([token]).replace(
      /\n$/,
      `\n    access_policy: dashboards\n    label_policies:\n      team-a: ['{namespace="prod"}', 'up{env=~"eu|us"}']\n`,
    );
    const tokens = new WatchedConfig(yaml, 'tokens.yaml');
    dir.push(tokens);
    const config = new WatchedConfig(
      [
        'gateway:',
        '  proxy:',
        `    query_frontend: { url: "${queriers.url}" }`,
        `    graphite: { url: "${graphite.url}" }`,
        `    distributor: { url: "${distributor.url}" }`,
        `    ruler: { url: "${ruler.url}" }`,
        'auth:',
        '  type: token',
        `  tokens_file: ${tokens.file}`,
        '',
      ].join('\n'),
    );
    dir.push(config);
    gw = await startGateway([`-config.file=${config.file}`, '-control-plane.dns.lookup-period=1s']);
  });
  afterAll(async () => {
    await gw?.stop();
    await Promise.all([queriers?.close(), graphite?.close(), distributor?.close(), ruler?.close()]);
    for (const d of dir) d.remove();
  });

  // What a client tries: its own label policy, token and policy names, in odd case, twice.
  const forged = {
    'x-prom-label-policy': ['team-a:%7B%7D', 'team-a:%7Bnamespace=~%22.%2A%22%7D'],
    'X-Token-Name': 'admin-token',
    'x-access-policy-name': 'admin',
  };
  const TEAM_A = ['team-a:%7Bnamespace=%22prod%22%7D', 'team-a:%7B__name__=%22up%22%2C%20env=~%22eu%7Cus%22%7D'];

  const send = async (path: string, tenant: string, method = 'GET'): Promise<number> => {
    const r = await request(`${gw.url}${path}`, { method, headers: { authorization: basicAuth(tenant, token.secret), ...forged }, ...(method === 'POST' ? { body: 'x' } : {}) });
    await r.body.dump();
    return r.statusCode;
  };

  it('httpgrpc (query-frontend): a metric read carries the token, its policy and one X-Prom-Label-Policy per selector of the tenant', async () => {
    await eventually(async () => (await send('/prometheus/api/v1/query?query=up', 'team-a')) === 200, 'a query through httpgrpc', 10_000, 100);
    const req = seen.at(-1)!;
    expect(headerValues(req, 'X-Prom-Label-Policy')).toEqual(TEAM_A);
    expect(headerValues(req, 'X-Token-Name')).toEqual(['grafana']);
    expect(headerValues(req, 'X-Access-Policy-Name')).toEqual(['dashboards']);
    expect(headerValues(req, 'X-Scope-OrgID')).toEqual(['team-a']);
    // A query over POST is still a read.
    expect(await send('/prometheus/api/v1/query', 'team-a', 'POST')).toBe(200);
    expect(headerValues(seen.at(-1)!, 'X-Prom-Label-Policy')).toEqual(TEAM_A);
    // A tenant without label policies: none at all, the client's gone too.
    expect(await send('/prometheus/api/v1/query?query=up', 'team-b')).toBe(200);
    expect(headerValues(seen.at(-1)!, 'X-Prom-Label-Policy')).toEqual([]);
    expect(headerValues(seen.at(-1)!, 'X-Token-Name')).toEqual(['grafana']);
  });

  it('HTTP (graphite read, push, ruler): label policies on metric reads only; the client-sent headers never arrive', async () => {
    expect(await send('/graphite/render?target=a', 'team-a')).toBe(200);
    const read = graphite.received.at(-1)!;
    const values = (r: typeof read, name: string): string[] => r.rawHeaders.flatMap((v, i) => (i % 2 === 0 && v.toLowerCase() === name ? [r.rawHeaders[i + 1]!] : []));
    expect(values(read, 'x-prom-label-policy')).toEqual(TEAM_A);
    expect(values(read, 'x-token-name')).toEqual(['grafana']);
    expect(values(read, 'x-access-policy-name')).toEqual(['dashboards']);
    expect(values(read, 'authorization')).toEqual([]);

    expect(await send('/api/v1/push', 'team-a', 'POST')).toBe(200);
    const push = distributor.received.at(-1)!;
    expect(values(push, 'x-prom-label-policy')).toEqual([]);
    expect(values(push, 'x-token-name')).toEqual(['grafana']);
    expect(values(push, 'x-access-policy-name')).toEqual(['dashboards']);

    // GEM does not apply label policies to the ruler's API.
    expect(await send('/prometheus/api/v1/rules', 'team-a')).toBe(200);
    expect(values(ruler.received.at(-1)!, 'x-prom-label-policy')).toEqual([]);
    expect(values(ruler.received.at(-1)!, 'x-token-name')).toEqual(['grafana']);
    for (const r of [read, push, ruler.received.at(-1)!]) {
      expect(r.rawHeaders).not.toContain('admin-token');
      expect(r.rawHeaders).not.toContain('admin');
      expect(r.rawHeaders.filter((v) => v.startsWith('team-a:%7B%7D'))).toEqual([]);
    }
    for (const r of seen) {
      expect(headerValues(r, 'X-Token-Name')).toEqual(['grafana']);
      expect(headerValues(r, 'X-Access-Policy-Name')).toEqual(['dashboards']);
    }
  });
});
