import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { Registry } from 'prom-client';
import { Rollouts, type RolloutFleet } from '../control-plane/rollout/rollouts.js';
import type { FleetLoadNode } from '../control-plane/fleet/fleet-view.js';
import type { FleetNode, TypeStatus } from '../control-plane/xds/node-view.js';
import { canaryCohort } from '../control-plane/rollout/decide.js';

// The rollout state machine on a fleet held in memory (the decision itself: rollout-decide.test.ts;
// replicas and real gateways: rollout-replicas and rollout-fleet tests).

const IDS = ['a', 'b', 'c', 'd', 'e'];
const CDS = 'type.googleapis.com/envoy.config.cluster.v3.Cluster';

function fleet(): RolloutFleet & { totals: Map<string, { issued: number; failed: number }>; nacks: Map<string, TypeStatus> } {
  const totals = new Map(IDS.map((id) => [id, { issued: 0, failed: 0 }]));
  const nacks = new Map<string, TypeStatus>();
  return {
    totals,
    nacks,
    nodes: () =>
      IDS.map((nodeId, i) => ({ streamId: i, nodeId, cluster: 'edge', connectedAt: 0, liveness: 'connected', replica: 'r', types: new Map(nacks.has(nodeId) ? [[CDS, nacks.get(nodeId)!]] : []), view: () => { throw new Error('unused'); } }) as FleetNode),
    loadNodes: () =>
      IDS.map((nodeId, i) => ({ streamId: i, nodeId, cluster: 'edge', userAgent: '', connectedAt: '', reports: 1, lastReportAt: null, rps: 0, errorRps: 0, replica: 'r', totals: { qf: totals.get(nodeId)! } }) as FleetLoadNode),
    peerAddresses: () => [],
  };
}

function setup(settleMs = 0): { r: Rollouts; f: ReturnType<typeof fleet>; clock: { now: number }; calls: string[] } {
  const f = fleet();
  const clock = { now: 1_000_000 };
  const calls: string[] = [];
  const r = new Rollouts({
    canaryFraction: 0.2,
    thresholds: { bakeMs: 10_000, maxBakeMs: 30_000, maxFailureRateIncrease: 0.05, minRequests: 10 },
    fleet: f,
    logger: pino({ level: 'silent' }),
    registry: new Registry(),
    now: () => clock.now,
    settleMs,
  });
  r.start({ promote: (id) => calls.push(`promote ${id}`), rollback: (id) => calls.push(`rollback ${id}`), canariesChanged: () => calls.push('canaries') });
  return { r, f, clock, calls };
}

const add = (f: ReturnType<typeof fleet>, id: string, issued: number, failed: number): void => {
  const t = f.totals.get(id)!;
  t.issued += issued;
  t.failed += failed;
};

describe('rollouts', () => {
  const [canary] = canaryCohort(IDS.map((nodeId) => ({ nodeId, cluster: 'edge' })), 0.2);

  it('counts from the rollout start: failures before it do not count against the candidate', () => {
    const { r, f, clock, calls } = setup();
    add(f, canary!, 100, 100); // a bad minute before the change
    r.begin('v2');
    expect([...r.canaries()]).toEqual([canary]);
    for (const id of IDS) add(f, id, 20, 0);
    clock.now += 10_000;
    r.evaluate();
    expect(calls).toEqual(['promote v2']);
    expect(r.status().recent[0]).toMatchObject({ id: 'v2', outcome: 'promoted' });
    r.stop();
  });

  it('rolls back on canary failures above the baseline, holds the content rejected until the next change', () => {
    const { r, f, calls } = setup();
    r.begin('bad');
    add(f, canary!, 20, 20);
    for (const id of IDS.filter((x) => x !== canary)) add(f, id, 20, 0);
    r.evaluate();
    expect(calls).toEqual(['rollback bad']);
    expect(r.rejection('bad')).toContain('backend qf');
    expect(r.status().rejected.map((x) => x.id)).toEqual(['bad']);
    r.begin('fixed');
    expect(r.status().rejected).toEqual([]);
    r.stop();
  });

  it('rolls back at once when a canary NACKs the candidate version', () => {
    const { r, f, calls } = setup();
    r.begin('v3');
    r.candidateVersions({ [CDS]: 'cds-v3' });
    f.nacks.set(canary!, { lastSent: null, ackedVersion: null, ackedAt: null, lastNack: { message: 'unknown proxy', version: 'cds-v3', nonce: '1', at: '' } });
    r.evaluate();
    expect(calls).toEqual(['rollback v3']);
    expect(r.status().recent[0]!.reason).toContain('unknown proxy');
    r.stop();
  });

  it('a newer change replaces the rollout; going back to the served content withdraws it', () => {
    const { r, calls } = setup();
    r.begin('x');
    r.begin('y');
    expect(r.status().recent[0]).toMatchObject({ id: 'x', outcome: 'replaced' });
    expect(r.activeId()).toBe('y');
    r.withdraw('the file holds the served content again');
    expect(r.activeId()).toBeUndefined();
    expect(r.status().recent[0]).toMatchObject({ id: 'y', outcome: 'withdrawn' });
    expect(calls).toEqual([]);
    expect(r.promoteNow()).toBe(false);
    r.stop();
  });

  it('too little traffic extends the bake, then promotes at the longest bake', () => {
    const { r, clock, calls } = setup();
    r.begin('quiet');
    clock.now += 10_000;
    r.evaluate();
    const d = r.status().active!.decision!;
    expect(d.action).toBe('wait');
    expect(d.reason).toContain('too little traffic');
    clock.now += 20_000;
    r.evaluate();
    expect(calls).toEqual(['promote quiet']);
    r.stop();
  });
});

describe('settling', () => {
  it('does not hold a late report of pre-change failures against the candidate', () => {
    const { r, f, clock, calls } = setup(1000);
    const [canary] = canaryCohort(IDS.map((nodeId) => ({ nodeId, cluster: 'edge' })), 0.2);
    r.begin('v2');
    add(f, canary!, 50, 50); // the report of the last second before the change arrives after it
    clock.now += 500;
    r.evaluate();
    expect(calls).toEqual([]);
    clock.now += 600;
    r.evaluate(); // counting starts here
    for (const id of IDS) add(f, id, 20, 0);
    clock.now += 10_000;
    r.evaluate();
    expect(calls).toEqual(['promote v2']);
    r.stop();
  });
});
