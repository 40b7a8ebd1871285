import { describe, expect, it } from 'vitest';
import { canaryCohort, cohortSize, decide, type Counts, type RolloutThresholds } from '../control-plane/rollout/decide.js';

const T: RolloutThresholds = { bakeMs: 20_000, maxFailureRateIncrease: 0.05, minRequests: 100, maxBakeMs: 60_000 };
const m = (o: Record<string, Counts>): Map<string, Counts> => new Map(Object.entries(o));
const at = (s: number, canary: Record<string, Counts>, baseline: Record<string, Counts>, nacks: { nodeId: string; message: string }[] = []) =>
  decide({ startedAtMs: 1_000_000, nowMs: 1_000_000 + s * 1000, canary: m(canary), baseline: m(baseline), nacks }, T);

describe('rollout decision', () => {
  it('rolls back at once on a canary NACK, before any traffic', () => {
    const d = at(1, {}, {}, [{ nodeId: 'gw-3', message: 'bad route' }]);
    expect(d.action).toBe('rollback');
    expect(d.reason).toContain('gw-3');
    expect(d.reason).toContain('bad route');
  });

  it('rolls back before the bake ends once a backend fails more than the threshold above the baseline', () => {
    const d = at(5, { 'query-frontend': { issued: 200, failed: 200 } }, { 'query-frontend': { issued: 800, failed: 0 } });
    expect(d.action).toBe('rollback');
    expect(d.reason).toContain('query-frontend');
    expect(d.reason).toContain('100.0%');
    expect(d.backends[0]!.bad).toBe(true);
  });

  it('judges a backend only once the canaries carried minRequests to it', () => {
    const d = at(5, { 'query-frontend': { issued: 99, failed: 99 } }, { 'query-frontend': { issued: 800, failed: 0 } });
    expect(d.action).toBe('wait');
    expect(d.backends[0]!.judged).toBe(false);
  });

  it('compares with the baseline, not with zero: a backend failing everywhere is not the candidate\'s fault', () => {
    const d = at(21, { distributor: { issued: 200, failed: 20 } }, { distributor: { issued: 800, failed: 72 } });
    expect(d.action).toBe('promote');
  });

  it('an increase of exactly the threshold is allowed, just above it is not', () => {
    expect(at(21, { d: { issued: 1000, failed: 50 } }, { d: { issued: 1000, failed: 0 } }).action).toBe('promote');
    expect(at(21, { d: { issued: 1000, failed: 51 } }, { d: { issued: 1000, failed: 0 } }).action).toBe('rollback');
  });

  it('waits during the bake, then promotes a healthy candidate', () => {
    const good = { distributor: { issued: 500, failed: 0 } };
    const w = at(19, good, good);
    expect(w.action).toBe('wait');
    if (w.action === 'wait') {
      expect(w.leftMs).toBe(1000);
      expect(w.extended).toBe(false);
    }
    expect(at(20, good, good).action).toBe('promote');
  });

  it('extends the bake when the canaries carried too little, and promotes at the longest bake', () => {
    const few = { distributor: { issued: 10, failed: 0 } };
    const w = at(30, few, few);
    expect(w.action).toBe('wait');
    if (w.action === 'wait') {
      expect(w.extended).toBe(true);
      expect(w.reason).toContain('too little traffic');
      expect(w.leftMs).toBe(30_000);
    }
    const p = at(60, few, few);
    expect(p.action).toBe('promote');
    expect(p.reason).toContain('too little traffic');
  });

  it('a backend only the canaries use is compared with a failure rate of 0', () => {
    const d = at(21, { 'query-frontend': { issued: 150, failed: 150 } }, {});
    expect(d.action).toBe('rollback');
  });

  it('is a pure function: same inputs, same decision', () => {
    const a = at(7, { x: { issued: 300, failed: 40 } }, { x: { issued: 900, failed: 3 } });
    const b = at(7, { x: { issued: 300, failed: 40 } }, { x: { issued: 900, failed: 3 } });
    expect(a).toEqual(b);
  });
});

describe('canary cohort', () => {
  const fleet = (n: number, cluster = 'gw') => Array.from({ length: n }, (_, i) => ({ nodeId: `gateway-${i}`, cluster }));

  it('takes the fraction of each fleet cluster, at least one', () => {
    expect(cohortSize(10, 0.2)).toBe(2);
    expect(cohortSize(1, 0.2)).toBe(1);
    expect(cohortSize(3, 0.2)).toBe(1);
    expect(cohortSize(11, 0.2)).toBe(3);
    expect(cohortSize(10, 0)).toBe(0);
    expect(canaryCohort([...fleet(10, 'a'), ...fleet(5, 'b').map((n) => ({ ...n, nodeId: `b-${n.nodeId}` }))], 0.2)).toHaveLength(3);
  });

  it('is stable: the same canaries whatever order the replicas list the nodes in', () => {
    const nodes = fleet(10);
    const a = canaryCohort(nodes, 0.2);
    const b = canaryCohort([...nodes].reverse(), 0.2);
    expect(a).toEqual(b);
    expect(a).toHaveLength(2);
    // A node joining moves no canary unless it ranks below them.
    const c = canaryCohort([...nodes, { nodeId: 'gateway-10', cluster: 'gw' }], 0.1);
    expect(c.length).toBe(2);
  });

  it('counts a node id once however many streams it has', () => {
    expect(canaryCohort([...fleet(2), ...fleet(2)], 0.5)).toHaveLength(1);
  });
});
