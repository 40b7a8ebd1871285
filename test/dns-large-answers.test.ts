// Names with more records than Node reports TTLs for (256) or one DNS message holds (~4,090 A records over
// TCP), against the in-process DNS server answering as BIND does: 512-byte UDP with TC, TCP fallback, the
// 64 KiB message, records rotated on every answer. Every assertion is a count over a measured window:
// a busy machine makes fewer lookups, never more.

import { afterEach, describe, expect, it } from 'vitest';
import { HOLD_WINDOW } from '../control-plane/dns/answer-hold.js';
import { fillsMessage, resolveDnsTarget, smallestTtl } from '../control-plane/dns/resolver.js';
import type { DnsResolution } from '../control-plane/dns/resolver.js';
import type { Endpoint } from '../core/model.js';
import { TYPE_URL } from '../xds/resource.js';
import { AdsTestClient } from './support/ads-client.js';
import { metricSample, metricsOf, snapshotOf, startControlPlane, statusOf } from './support/control-plane.js';
import { dnsTarget, ep, lookups, manyARecords, startDnsServer, startWatcher } from './support/dns-watcher-harness.js';
import { eventually } from './support/poll.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Most lookups a loop may start in `elapsedMs` when each waits at least `periodMs` after the last began. */
const mostLookups = (elapsedMs: number, periodMs: number): number => Math.floor(elapsedMs / periodMs) + 1;

describe('resolver with large answers', () => {
  it('reports the TTL past the 256 records Node gives TTLs for, over the TCP fallback', async () => {
    const server = await startDnsServer(cleanups);
    server.setRecords('big.test', manyARecords(1000, 30));
    const result = await resolveDnsTarget(dnsTarget(server, 'big.test'));
    expect(result).toMatchObject({ outcome: 'ok', ttlSeconds: 30, source: 'dns' });
    if (result.outcome !== 'ok') return;
    expect(result.endpoints).toHaveLength(1000);
    expect(result.truncated).toBeUndefined();
    // 1,000 A records do not fit 512 bytes: TC over UDP, then the whole answer over TCP.
    expect(server.transportCounts()).toMatchObject({ tcp: 1, truncated: 1 });
  });

  it('marks an answer that fills a 64 KiB TCP message as truncated', async () => {
    const server = await startDnsServer(cleanups);
    server.setRecords('huge.test', manyARecords(5000, 30));
    const result = await resolveDnsTarget(dnsTarget(server, 'huge.test'));
    expect(result).toMatchObject({ outcome: 'ok', truncated: true, ttlSeconds: 30 });
    if (result.outcome !== 'ok') return;
    expect(result.endpoints.length).toBeGreaterThan(4000);
    expect(result.endpoints.length).toBeLessThan(5000);
    expect(server.transportCounts().truncated).toBe(2); // UDP, then TCP
  });

  it('smallestTtl skips records without a TTL; fillsMessage counts bytes as the wire does', () => {
    expect(smallestTtl([{ ttl: 30 }, {}, { ttl: 7 }, { ttl: Number.NaN }])).toBe(7);
    expect(smallestTtl([{}, {}])).toBeUndefined();
    // 'huge.test': 12 header + 15 question + 16 per A record; 4,094 fit in 65,535 bytes with room for OPT.
    expect(fillsMessage('huge.test', 4, 4000)).toBe(false);
    expect(fillsMessage('huge.test', 4, 4094)).toBe(true);
    expect(fillsMessage('huge.test', 6, 2300)).toBe(false);
    expect(fillsMessage('huge.test', 6, 2339)).toBe(true); // 28 bytes per AAAA record
  });
});

describe('DnsWatcher with large answers', () => {
  for (const count of [257, 1000, 4000]) {
    it(`looks ${count} records up once per period and publishes them once`, async () => {
      const server = await startDnsServer(cleanups, { rotate: true });
      server.setRecords('big.test', manyARecords(count, 30));
      const periodMs = 150;
      const h = startWatcher(cleanups, { lookupPeriodMs: periodMs, minIntervalMs: 50 });
      const t = dnsTarget(server, 'big.test');
      const seen: Array<readonly Endpoint[]> = [];
      h.watcher.watch(t, (e) => seen.push(e));
      await eventually(() => seen.length === 1, 'first set', 30_000);
      const startedAt = Date.now();
      const before = await lookups(h, t);
      await eventually(async () => (await lookups(h, t)) >= before + 6, 'six more lookups', 60_000);
      const done = (await lookups(h, t)) - before;
      // The NaN TTL bug made this hundreds: the timer fired at once, past period and floor.
      expect(done).toBeLessThanOrEqual(mostLookups(Date.now() - startedAt, periodMs) + 1);
      expect(seen).toHaveLength(1);
      expect(seen[0]).toHaveLength(count);
      const [status] = h.watcher.snapshot();
      expect(status).toMatchObject({ ttlSeconds: 30, answerMode: 'complete', answerEndpoints: count, publishes: 1 });
      expect(status?.nextLookupAtMs ?? 0).toBeGreaterThan(status?.lastSuccessAtMs ?? Infinity);
    });
  }

  it('holds the set of a name too large for one message: one publish per hold window, said in status and logs', async () => {
    const server = await startDnsServer(cleanups, { rotate: true });
    server.setRecords('huge.test', manyARecords(5000, 30));
    const h = startWatcher(cleanups, { lookupPeriodMs: 100, minIntervalMs: 50 });
    const t = dnsTarget(server, 'huge.test');
    const seen: Array<readonly Endpoint[]> = [];
    h.watcher.watch(t, (e) => seen.push(e));
    const target = 2 * HOLD_WINDOW + 2;
    await eventually(async () => (await lookups(h, t, 'ok')) >= target, `${target} lookups`, 90_000);
    const done = await lookups(h, t, 'ok');
    // Every answer is a different 4,094-record subset; publishing each would be `done` pushes.
    expect(seen.length).toBeGreaterThanOrEqual(1);
    expect(seen.length).toBeLessThanOrEqual(1 + Math.floor(done / HOLD_WINDOW));
    const [status] = h.watcher.snapshot();
    expect(status).toMatchObject({ answerMode: 'truncated', ttlSeconds: 30, publishes: seen.length });
    expect(status?.endpoints.length).toBe(status?.answerEndpoints);
    const warned = h.logs.filter((l) => l.level === 40 && l.answerMode === 'truncated');
    expect(warned).toHaveLength(1);
    expect(String(warned[0]?.msg)).toMatch(/64 KiB.*holding/);
  });

  it('detects same-size answers rotating through a larger set and stops publishing them', async () => {
    // Ten records, eight per answer, rotated by one: the first answers look like a rolling update; when
    // a left-out record comes back it is rotation, and the set is held from then on.
    const server = await startDnsServer(cleanups, { rotate: true, maxAnswers: 8 });
    server.setRecords('multi.test', manyARecords(10, 30));
    const h = startWatcher(cleanups, { lookupPeriodMs: 100, minIntervalMs: 50 });
    const t = dnsTarget(server, 'multi.test');
    const seen: Array<readonly Endpoint[]> = [];
    h.watcher.watch(t, (e) => seen.push(e));
    const target = 2 * HOLD_WINDOW + 4;
    await eventually(async () => (await lookups(h, t, 'ok')) >= target, `${target} lookups`, 90_000);
    // Answers 1-3 published (indistinguishable from replacements), then held: every member recurs within
    // the window, so refreshes change nothing.
    expect(seen).toHaveLength(3);
    expect(h.watcher.snapshot()).toMatchObject([{ answerMode: 'rotating', answerEndpoints: 8, publishes: 3 }]);
    expect(h.logs.filter((l) => l.level === 40 && l.answerMode === 'rotating')).toHaveLength(1);
  });

  it('publishes a real change of a large name once', async () => {
    const server = await startDnsServer(cleanups, { rotate: true });
    server.setRecords('big.test', manyARecords(1000, 30));
    const h = startWatcher(cleanups, { lookupPeriodMs: 100, minIntervalMs: 50 });
    const t = dnsTarget(server, 'big.test');
    const seen: Array<readonly Endpoint[]> = [];
    h.watcher.watch(t, (e) => seen.push(e));
    await eventually(() => seen.length === 1, 'first set', 30_000);
    server.setRecords('big.test', manyARecords(1001, 30));
    await eventually(() => seen.length === 2, 'changed set', 30_000);
    const before = await lookups(h, t, 'ok');
    await eventually(async () => (await lookups(h, t, 'ok')) >= before + 5, 'five more lookups', 60_000);
    expect(seen).toHaveLength(2);
    expect(seen[1]?.at(-1)).toEqual(ep('10.0.3.232'));
  });
});

describe('DnsWatcher scheduling', () => {
  it('never schedules on a TTL that is not a number: the period and the floor still hold', async () => {
    const resolution: DnsResolution = { outcome: 'ok', endpoints: [ep('10.0.0.1')], ttlSeconds: Number.NaN, source: 'dns' };
    let calls = 0;
    const h = startWatcher(cleanups, {
      lookupPeriodMs: 200,
      minIntervalMs: 50,
      resolve: async () => {
        calls++;
        return resolution;
      },
    });
    const startedAt = Date.now();
    h.watcher.watch(dnsTarget(undefined, 'nan.test'), () => undefined);
    await eventually(() => calls >= 4, 'four lookups', 30_000);
    expect(calls).toBeLessThanOrEqual(mostLookups(Date.now() - startedAt, 200) + 1);
    const [status] = h.watcher.snapshot();
    expect(status?.nextLookupAtMs).toEqual(expect.any(Number));
  });
});

describe('control plane with a name too large for one DNS message', () => {
  it('pushes its ClusterLoadAssignment to a gateway once while every answer is a different subset', async () => {
    const server = await startDnsServer(cleanups, { rotate: true });
    server.setRecords('huge.test', manyARecords(5000, 30));
    const cp = await startControlPlane({ yaml: `gateway:\n  proxy:\n    distributor: { url: "dns://${server.authority}/huge.test:9095" }\n` });
    cleanups.push(() => cp.stop());
    const ads = new AdsTestClient(cp.xdsPort);
    cleanups.push(() => ads.close());
    const stream = ads.sotw();
    cleanups.push(() => stream.cancel());

    const names = await eventually(async () => (await snapshotOf(cp.url)).resources['ClusterLoadAssignment']?.map((r) => r.name), 'EDS resource', 60_000);
    stream.send({ type_url: TYPE_URL.endpoint, resource_names: names });
    const first = await stream.next(60_000);
    stream.ack(first, names);
    const lookupsNow = async (): Promise<number> => metricSample(await metricsOf(cp.url), 'control_plane_dns_lookups_total', { outcome: 'ok' });
    const before = await lookupsNow();
    // The lookup period is 1 s (the floor): five lookups, each a different 4,094-record subset.
    await eventually(async () => (await lookupsNow()) >= before + 5, 'five more lookups', 60_000);
    expect(stream.queued()).toBe(0);
    type DnsStatus = { answerMode?: string; publishes?: number; ttlSeconds?: number; nextLookupAtMs?: number };
    // /status shows the TTL (known past record 256) and when the next lookup is due (none while one is in flight).
    const status = await eventually(async () => {
      const [s] = (await statusOf(cp.url)).dns as DnsStatus[];
      return typeof s?.nextLookupAtMs === 'number' && s;
    }, 'a scheduled next lookup in /status');
    expect(status).toMatchObject({ answerMode: 'truncated', publishes: 1, ttlSeconds: 30 });
    expect(cp.logs()).toMatch(/holding the published endpoint set/);
  });
});
