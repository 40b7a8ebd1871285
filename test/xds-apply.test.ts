import { describe, expect, it } from 'vitest';
import type { Backend, Endpoint } from '../core/model.js';
import { translate, type TranslateInput } from '../control-plane/translate.js';
import { decodeResource } from '../xds/protos.js';
import { TYPE_URL, type TypeUrl } from '../xds/resource.js';
import { buildGatewayState, type UpstreamFactory } from '../data-plane/xds-apply.js';
import type { Upstream } from '../data-plane/upstream.js';
import type { AcceptedResources } from '../data-plane/xds/accepted-state.js';
import { backendsFrom, endpointMap, endpoints, realisticInput } from './support/fixtures.js';
import pino from 'pino';
import { Registry } from 'prom-client';
import { AuthRuntime } from '../data-plane/auth/authenticator.js';
import { AuthMetrics } from '../data-plane/auth/auth-metrics.js';

// Accepted xDS resources → gateway state: complete or nothing, reuse what did not change.

function accepted(input: TranslateInput, drop: Partial<Record<TypeUrl, string[]>> = {}): AcceptedResources {
  const out = translate(input);
  const map = <T>(t: TypeUrl): Map<string, T> =>
    new Map((out.get(t) ?? []).filter((r) => !drop[t]?.includes(r.name)).map((r) => [r.name, decodeResource(t, r.value) as T]));
  return {
    listeners: map(TYPE_URL.listener),
    routes: map(TYPE_URL.route),
    clusters: map(TYPE_URL.cluster),
    endpoints: map(TYPE_URL.endpoint),
    versions: { [TYPE_URL.cluster]: 'c1', [TYPE_URL.endpoint]: 'e1', [TYPE_URL.listener]: 'l1', [TYPE_URL.route]: 'r1' } as AcceptedResources['versions'],
  };
}

class FakeUpstream implements Upstream {
  eps: readonly Endpoint[] = [];
  constructor(readonly backend: Backend) {}
  get kind(): 'http' | 'httpgrpc' {
    return this.backend.target.kind === 'dns' ? 'httpgrpc' : 'http';
  }
  handle(): void {}
  endpoints(): readonly Endpoint[] {
    return this.eps;
  }
  async close(): Promise<void> {}
}

function factory(): UpstreamFactory & { created: FakeUpstream[] } {
  const created: FakeUpstream[] = [];
  return {
    created,
    create: (b) => {
      const u = new FakeUpstream(b);
      created.push(u);
      return u;
    },
    setEndpoints: (u, eps) => void ((u as FakeUpstream).eps = eps),
  };
}

const input = (distributorEndpoints: string[]): TranslateInput =>
  realisticInput({
    backends: backendsFrom({ default: 'http://127.0.0.9:8080', distributor: 'dns:///distributor.test:9095' }),
    endpoints: endpointMap([['dns:///distributor.test:9095', endpoints(...distributorEndpoints)]]),
  });

describe('buildGatewayState', () => {
  it('builds routes and upstreams with the endpoints of EDS clusters', () => {
    const f = factory();
    const r = buildGatewayState(accepted(input(['127.0.0.2:9095', '127.0.0.3:9095'])), 'metrics-gateway', undefined, f);
    if (!('state' in r)) throw new Error(JSON.stringify(r));
    expect(r.state.router.match('/api/v1/push')?.cluster).toBe('distributor');
    expect(r.state.router.match('/prometheus/api/v1/query')?.cluster).toBe('query_frontend');
    const dist = r.state.upstreams.get('distributor') as FakeUpstream;
    expect(dist.kind).toBe('httpgrpc');
    expect(dist.eps.map((e) => e.address)).toEqual(['127.0.0.2', '127.0.0.3']);
  });

  it('reports what is missing and creates nothing for an incomplete config', () => {
    const f = factory();
    const r = buildGatewayState(accepted(input(['127.0.0.2:9095']), { [TYPE_URL.endpoint]: ['distributor'] }), 'metrics-gateway', undefined, f);
    expect(r).toEqual({ waiting: 'endpoints "distributor"' });
    expect(f.created).toEqual([]);
  });

  it('reuses unchanged upstreams and gives httpgrpc upstreams their new endpoints in place', () => {
    const f = factory();
    const first = buildGatewayState(accepted(input(['127.0.0.2:9095'])), 'metrics-gateway', undefined, f);
    if (!('state' in first)) throw new Error(JSON.stringify(first));
    const second = buildGatewayState(accepted(input(['127.0.0.2:9095', '127.0.0.4:9095'])), 'metrics-gateway', first.state, f);
    if (!('state' in second)) throw new Error(JSON.stringify(second));
    expect(second.state.upstreams.get('distributor')).toBe(first.state.upstreams.get('distributor'));
    expect((second.state.upstreams.get('distributor') as FakeUpstream).eps).toHaveLength(2);
    expect(f.created.length).toBe(first.state.upstreams.size);
  });

  it('keeps the current endpoints when an empty set arrives for the same backend', () => {
    const f = factory();
    const first = buildGatewayState(accepted(input(['127.0.0.2:9095'])), 'metrics-gateway', undefined, f);
    if (!('state' in first)) throw new Error(JSON.stringify(first));
    const second = buildGatewayState(accepted(input([])), 'metrics-gateway', first.state, f);
    if (!('state' in second)) throw new Error(JSON.stringify(second));
    expect(second.keptEndpoints).toEqual(['distributor']);
    expect((second.state.upstreams.get('distributor') as FakeUpstream).eps).toHaveLength(1);
  });

  it('fails closed where the state is built: a gateway that requires authentication refuses a trust-mode listener and creates nothing', () => {
    const f = factory();
    const runtime = new AuthRuntime(new AuthMetrics(new Registry()), pino({ level: 'silent' }));
    const r = buildGatewayState(accepted(input(['127.0.0.2:9095'])), 'metrics-gateway', undefined, f, { runtime, required: true });
    expect(r).toMatchObject({ refused: expect.stringContaining('-auth.type=token is set on this gateway'), version: 'c1/e1/l1/r1' });
    expect(f.created).toEqual([]);
    const ok = buildGatewayState(accepted(input(['127.0.0.2:9095'])), 'metrics-gateway', undefined, f, { runtime, required: false });
    expect('state' in ok && ok.state.auth).toBeUndefined();
    runtime.close();
  });

  it('turns a route to a backend without url into its 503 answer', () => {
    const f = factory();
    const only = realisticInput({ backends: backendsFrom({ distributor: 'dns:///distributor.test:9095' }), endpoints: endpointMap([['dns:///distributor.test:9095', endpoints('127.0.0.2:9095')]]) });
    const r = buildGatewayState(accepted(only), 'metrics-gateway', undefined, f);
    if (!('state' in r)) throw new Error(JSON.stringify(r));
    expect(r.state.router.match('/prometheus/api/v1/query')?.direct).toEqual({
      status: 503,
      body: 'no backend configured for "query_frontend": set gateway.proxy.query_frontend.url (-gateway.proxy.query-frontend.url) or gateway.proxy.default.url (-gateway.proxy.default.url)',
    });
  });
});
