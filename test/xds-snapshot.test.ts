import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { NodeRegistry } from '../control-plane/xds/node-registry.js';
import { TYPE_URL } from '../xds/resource.js';
import { SnapshotCache, SnapshotInconsistentError } from '../control-plane/xds/snapshot-cache.js';
import { Snapshot, versionOf } from '../control-plane/xds/snapshot.js';
import { deltaAnswer, sotwAnswer, TOLD_ABSENT } from '../control-plane/xds/watch-answers.js';
import { metricValue } from './support/ads-client.js';
import { cluster, endpoints, listener, routeConfig, snapshotOf } from './support/xds-fixtures.js';

const CDS = TYPE_URL.cluster;
const EDS = TYPE_URL.endpoint;
const logger = pino({ level: 'silent' });

describe('Snapshot', () => {
  it('versions equal content equally, whatever the order, and different content differently', () => {
    expect(versionOf([endpoints('a'), endpoints('b')])).toBe(versionOf([endpoints('b'), endpoints('a')]));
    expect(versionOf([endpoints('a')])).not.toBe(versionOf([endpoints('a', 'v2')]));
    expect(versionOf([endpoints('a')])).toMatch(/^[0-9a-f]{16}$/);
    expect(snapshotOf(cluster('c')).version(CDS)).toBe(versionOf([cluster('c')]));
  });

  it('lists every dangling reference and duplicate name as a problem', () => {
    const s = snapshotOf(
      cluster('c1', 'v1', 'e1'),
      cluster('c2', 'v1', 'e-missing'),
      endpoints('e1'),
      listener('l', 'v1', 'r-missing'),
      routeConfig('r', 'v1', ['c1', 'c-missing']),
      endpoints('e1', 'again'),
    );
    expect(s.consistent()).toEqual([
      expect.stringContaining('duplicate resource name "e1"'),
      'Cluster "c2" refers to missing ClusterLoadAssignment "e-missing"',
      'Listener "l" refers to missing RouteConfiguration "r-missing"',
      'RouteConfiguration "r" refers to missing Cluster "c-missing"',
    ]);
    expect(snapshotOf(cluster('c', 'v1', 'e'), endpoints('e')).consistent()).toEqual([]);
  });

  it('keeps the versions the builder gives', () => {
    const s = new Snapshot({ [CDS]: { version: 'cfg-7', resources: [cluster('c')] } });
    expect(s.version(CDS)).toBe('cfg-7');
    expect(s.resources(EDS).size).toBe(0);
  });
});

describe('SnapshotCache', () => {
  it('refuses an inconsistent snapshot, keeps serving the old one, and records the failure', async () => {
    const registry = new Registry();
    const cache = new SnapshotCache({ logger, metricsRegistry: registry });
    const good = snapshotOf(cluster('c', 'v1', 'e'), endpoints('e'));
    cache.setSnapshot(good);

    const answers: string[][] = [];
    cache.createSotwWatch(
      { typeUrl: CDS, wildcard: true, resourceNames: new Set(), sent: new Map([['c', good.hashOf(cluster('c', 'v1', 'e'))]]), answerEvenIfUnchanged: false },
      (a) => answers.push(a.resources.map((r) => r.name)),
    );
    const bad = snapshotOf(cluster('c', 'v2', 'e-gone'));
    expect(() => cache.setSnapshot(bad)).toThrow(SnapshotInconsistentError);
    expect(() => cache.setSnapshot(bad)).toThrow(/refers to missing ClusterLoadAssignment "e-gone"/);

    expect(cache.getSnapshot()).toBe(good);
    expect(answers).toEqual([]); // nobody was woken by the refused snapshot
    expect(await metricValue(registry, 'control_plane_snapshot_publish_failures_total')).toBe(2);
    const status = cache.status();
    expect(status.versions[CDS]).toBe(good.version(CDS));
    expect(status.publishFailures).toBe(2);
    expect(status.lastError?.problems).toEqual(['Cluster "c" refers to missing ClusterLoadAssignment "e-gone"']);

    // The node registry's JSON carries the snapshot status for the operations API.
    const nodes = new NodeRegistry({ snapshotStatus: () => cache.status() });
    expect(nodes.toJSON().snapshot?.lastError?.message).toMatch(/snapshot refused/);

    cache.setSnapshot(snapshotOf(cluster('c', 'v2', 'e'), endpoints('e')));
    expect(answers).toEqual([['c']]);
    expect(cache.watchCount()).toBe(0); // one-shot
  });

  it('answers a watch only when what it asks for changed', () => {
    const cache = new SnapshotCache({ logger });
    cache.setSnapshot(snapshotOf(endpoints('a'), endpoints('b')));
    const s1 = cache.getSnapshot()!;
    const got: string[][] = [];
    const cancel = cache.createSotwWatch(
      { typeUrl: EDS, wildcard: false, resourceNames: new Set(['a']), sent: new Map([['a', s1.hashOf(s1.resources(EDS).get('a')!)]]), answerEvenIfUnchanged: false },
      (a) => got.push(a.resources.map((r) => `${r.name}@${a.version}`)),
    );
    cache.setSnapshot(snapshotOf(endpoints('a'), endpoints('b', 'v2'))); // only b changed
    expect(got).toEqual([]);
    cancel();
    expect(cache.watchCount()).toBe(0);
  });
});

describe('watch answers', () => {
  const snap = snapshotOf(endpoints('a'), endpoints('b', 'v2'));
  const hashA = snap.hashOf(snap.resources(EDS).get('a')!);

  it('sotw: exactly the named subset; nothing when already sent', () => {
    const a = sotwAnswer(snap, { typeUrl: EDS, wildcard: false, resourceNames: new Set(['b', 'x']), sent: new Map(), answerEvenIfUnchanged: false });
    expect(a?.resources.map((r) => r.name)).toEqual(['b']);
    expect(sotwAnswer(snap, { typeUrl: EDS, wildcard: false, resourceNames: new Set(['a']), sent: new Map([['a', hashA]]), answerEvenIfUnchanged: false })).toBeUndefined();
  });

  it('delta: changed resources, removals once, nothing when up to date', () => {
    const a = deltaAnswer(snap, {
      typeUrl: EDS,
      wildcard: false,
      resourceNames: new Set(['a', 'b', 'gone']),
      known: new Map([['a', hashA], ['b', 'old']]),
      answerEvenIfUnchanged: false,
    });
    expect(a?.resources.map((r) => r.resource.name)).toEqual(['b']);
    expect(a?.removed).toEqual(['gone']);
    const again = deltaAnswer(snap, {
      typeUrl: EDS,
      wildcard: false,
      resourceNames: new Set(['a', 'gone']),
      known: new Map<string, string | typeof TOLD_ABSENT>([['a', hashA], ['gone', TOLD_ABSENT]]),
      answerEvenIfUnchanged: false,
    });
    expect(again).toBeUndefined();
  });
});

describe('NodeRegistry', () => {
  it('keeps disconnected streams only up to the count and age limits', () => {
    let now = 1_000_000;
    const reg = new NodeRegistry({ retainDisconnected: 2, retainMs: 60_000, now: () => now });
    const recs = [1, 2, 3].map(() => reg.connect('sotw', 'ipv4:127.0.0.1:1'));
    for (const r of recs) reg.disconnect(r);
    expect(reg.nodes().map((n) => n.streamId)).toEqual([3, 2]);
    now += 60_001;
    expect(reg.nodes()).toEqual([]);
    expect(reg.disconnectedCount()).toBe(0);
  });
});
