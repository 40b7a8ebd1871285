// Envoy's outlier detection rules, on the pure detector with a hand-moved clock (the timing rules are
// the point here; test/httpgrpc-outlier.test.ts runs the same detector against real servers).
import { describe, expect, it } from 'vitest';
import { OUTLIER_DEFAULTS, type OutlierDetectionSettings } from '../core/balancing.js';
import { OutlierDetector, type CallResult, type Ejection } from '../data-plane/httpgrpc/outlier-detector.js';
import { LeastRequestPicker, callResult } from '../data-plane/httpgrpc/balancer.js';

function detector(over: Partial<OutlierDetectionSettings>, hosts: string[], random = 0.5) {
  const clock = { t: 1_000_000, now: () => clock.t, random: () => random };
  const events: string[] = [];
  const ejections: Ejection[] = [];
  const d = new OutlierDetector({ ...OUTLIER_DEFAULTS, ...over }, {
    onEject: (a, e) => {
      events.push(`eject ${a} ${e.reason}`);
      ejections.push(e);
    },
    onReturn: (a) => events.push(`return ${a}`),
  }, clock);
  d.setHosts(hosts);
  const calls = (a: string, result: CallResult, n: number): void => {
    for (let i = 0; i < n; i++) d.record(a, result);
  };
  return { d, clock, events, ejections, calls };
}

const HOSTS = ['a', 'b', 'c', 'd', 'e'];

describe('outlier detection (Envoy semantics)', () => {
  it('ejects after consecutive_5xx failures in a row; a success in between starts the count over', () => {
    const { d, events, calls } = detector({ consecutive_5xx: 3, max_ejection_percent: 100 }, HOSTS);
    calls('a', 'error', 2);
    calls('a', 'success', 1);
    calls('a', 'error', 2);
    expect(d.isEjected('a')).toBe(false);
    calls('a', 'error', 1);
    expect(d.isEjected('a')).toBe(true);
    expect(events).toEqual(['eject a consecutive_5xx']);
  });

  it('counts gateway failures (502/503/504, local origin) separately, off by default (enforcing 0)', () => {
    const off = detector({ consecutive_5xx: 100, consecutive_gateway_failure: 2, max_ejection_percent: 100 }, HOSTS);
    off.calls('a', 'gateway_failure', 5);
    expect(off.d.isEjected('a')).toBe(false);
    const on = detector({ consecutive_5xx: 100, consecutive_gateway_failure: 2, enforcing_consecutive_gateway_failure: 100, max_ejection_percent: 100 }, HOSTS);
    on.calls('a', 'error', 1);
    on.calls('a', 'gateway_failure', 1);
    expect(on.d.isEjected('a')).toBe(false);
    on.calls('a', 'gateway_failure', 1);
    expect(on.events).toEqual(['eject a consecutive_gateway_failure']);
  });

  it('returns at the first sweep after base × times, times grows per ejection, capped at max_ejection_time', () => {
    const { d, clock, events, ejections, calls } = detector({ consecutive_5xx: 1, base_ejection_time_ms: 10_000, max_ejection_time_ms: 25_000, max_ejection_percent: 100 }, HOSTS);
    const durations: number[] = [];
    for (let round = 0; round < 4; round++) {
      calls('a', 'error', 1);
      const e = ejections.at(-1)!;
      durations.push(e.until - e.since);
      clock.t += e.until - e.since - 1;
      d.sweep();
      expect(d.isEjected('a')).toBe(true);
      clock.t += 1;
      d.sweep();
      expect(d.isEjected('a')).toBe(false);
    }
    expect(durations).toEqual([10_000, 20_000, 25_000, 25_000]);
    expect(ejections.map((e) => e.times)).toEqual([1, 2, 3, 4]);
    expect(events.filter((e) => e.startsWith('return'))).toHaveLength(4);
  });

  it('lets the multiplier decay by one per interval spent not ejected', () => {
    const { d, clock, ejections, calls } = detector({ consecutive_5xx: 1, base_ejection_time_ms: 10_000, max_ejection_percent: 100 }, HOSTS);
    calls('a', 'error', 1);
    calls('a', 'error', 0);
    clock.t += 10_000;
    d.sweep(); // returns (multiplier 1)
    d.sweep(); // one clean interval: multiplier 0
    calls('a', 'error', 1);
    expect(ejections.at(-1)!.until - ejections.at(-1)!.since).toBe(10_000);
  });

  it('never ejects more than max_ejection_percent, this ejection included, unless always_eject_one_host', () => {
    const four = ['a', 'b', 'c', 'd'];
    const capped = detector({ consecutive_5xx: 1, max_ejection_percent: 50 }, four);
    for (const h of four) capped.calls(h, 'error', 1);
    expect(capped.d.ejected).toBe(2);
    // Envoy's default 10 % with 3 endpoints ejects none: (0 + 1) / 3 > 10 %.
    const three = detector({ consecutive_5xx: 1 }, ['a', 'b', 'c']);
    three.calls('a', 'error', 1);
    expect(three.d.ejected).toBe(0);
    const one = detector({ consecutive_5xx: 1, always_eject_one_host: true }, ['a', 'b', 'c']);
    for (const h of ['a', 'b', 'c']) one.calls(h, 'error', 1);
    expect(one.d.ejected).toBe(1);
  });

  it('ejects by success rate below mean − stdev × factor, only with enough hosts and requests', () => {
    const s = { success_rate_minimum_hosts: 5, success_rate_request_volume: 100, max_ejection_percent: 100, consecutive_5xx: 0 };
    const run = (volume: number, hosts: string[]): string[] => {
      const { d, events, calls } = detector(s, hosts);
      for (const h of hosts) calls(h, 'success', volume);
      calls(hosts[0]!, 'error', volume); // hosts[0]: 50 % success, the others 100 %
      d.sweep();
      return events;
    };
    expect(run(100, HOSTS)).toEqual(['eject a success_rate']);
    expect(run(99, HOSTS).length).toBe(0); // below request volume: 99 + 99 = 198 for a, but 99 for the rest
    expect(run(100, HOSTS.slice(0, 4))).toEqual([]); // 4 hosts < success_rate_minimum_hosts
  });

  it('ejects by failure percentage above the threshold when enforced (Envoy default 0: off)', () => {
    const s = { failure_percentage_threshold: 50, failure_percentage_minimum_hosts: 3, failure_percentage_request_volume: 10, max_ejection_percent: 100, consecutive_5xx: 0, enforcing_success_rate: 0 };
    for (const enforcing of [0, 100]) {
      const { d, events, calls } = detector({ ...s, enforcing_failure_percentage: enforcing }, ['a', 'b', 'c']);
      calls('a', 'error', 6);
      calls('a', 'success', 4);
      calls('b', 'success', 10);
      calls('c', 'error', 5);
      calls('c', 'success', 5); // exactly 50 %: not above
      d.sweep();
      expect(events).toEqual(enforcing ? ['eject a failure_percentage'] : []);
    }
  });

  it('rolls the enforcing percentage', () => {
    const never = detector({ consecutive_5xx: 1, enforcing_consecutive_5xx: 30, max_ejection_percent: 100 }, HOSTS, 0.5);
    never.calls('a', 'error', 1);
    expect(never.d.ejected).toBe(0);
    const hit = detector({ consecutive_5xx: 1, enforcing_consecutive_5xx: 30, max_ejection_percent: 100 }, HOSTS, 0.1);
    hit.calls('a', 'error', 1);
    expect(hit.d.ejected).toBe(1);
  });

  it('forgets removed endpoints and their ejections', () => {
    const { d, calls } = detector({ consecutive_5xx: 1, max_ejection_percent: 100 }, HOSTS);
    calls('a', 'error', 1);
    d.setHosts(['b', 'c']);
    expect(d.ejected).toBe(0);
    expect(d.isEjected('a')).toBe(false);
  });
});

describe('outcome classification and least request', () => {
  it('maps call outcomes to Envoy result kinds', () => {
    expect(callResult({ kind: 'response', response: { code: 200 } })).toBe('success');
    expect(callResult({ kind: 'response', response: { code: 429 } })).toBe('success');
    expect(callResult({ kind: 'response', response: { code: 500 } })).toBe('error');
    expect(callResult({ kind: 'response', response: { code: 503 } })).toBe('gateway_failure');
    expect(callResult({ kind: 'retry' })).toBe('gateway_failure');
    expect(callResult({ kind: 'error', key: 'UPSTREAM_TIMEOUT', reason: 'timeout' })).toBe('gateway_failure');
    expect(callResult({ kind: 'error', key: 'UPSTREAM_UNAVAILABLE', reason: 'failed' })).toBe('gateway_failure');
    expect(callResult({ kind: 'error', key: 'UPSTREAM_FAILED', reason: 'failed' })).toBe('error');
    expect(callResult({ kind: 'error', key: 'UPSTREAM_FAILED', reason: 'cancelled' })).toBeUndefined();
  });

  it('takes the less busy of two distinct random endpoints, skipping tried ones', () => {
    const eps = [{ inFlight: 5 }, { inFlight: 1 }, { inFlight: 3 }];
    const seq = [0.0, 0.0]; // first = eps[0], second = eps[1] (j skips i)
    const p = new LeastRequestPicker(eps, () => seq.shift() ?? 0);
    expect(p.pick()).toBe(eps[1]);
    const never = new LeastRequestPicker(eps, () => 0);
    expect(never.pick(new Set([eps[1]!]))).toBe(eps[2]); // from [eps0, eps2]: eps0 (5) vs eps2 (3)
    // Over many picks the busiest endpoint is never chosen: it loses every pairing.
    const counts = new Map<object, number>();
    const rnd = new LeastRequestPicker(eps);
    for (let i = 0; i < 3000; i++) {
      const e = rnd.pick()!;
      counts.set(e, (counts.get(e) ?? 0) + 1);
    }
    expect(counts.get(eps[0]!) ?? 0).toBe(0);
    expect(counts.get(eps[1]!)!).toBeGreaterThan(counts.get(eps[2]!)!);
  });

  it('breaks ties (sequential clients: nothing in flight) towards the endpoint picked less often', () => {
    const idle = [{ inFlight: 0 }, { inFlight: 0 }, { inFlight: 0 }];
    const p = new LeastRequestPicker(idle);
    const counts = new Map<object, number>();
    for (let i = 0; i < 3000; i++) {
      const e = p.pick()!;
      counts.set(e, (counts.get(e) ?? 0) + 1);
    }
    const n = [...counts.values()];
    expect(Math.max(...n) - Math.min(...n)).toBeLessThanOrEqual(10);
  });
});
