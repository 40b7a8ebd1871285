import { promises as dns } from 'node:dns';
import { afterEach, describe, expect, it } from 'vitest';
import type { DnsWatcherOptions } from '../control-plane/dns/dns-watcher.js';
import { normalizeEndpoints, sameEndpoints } from '../control-plane/dns/endpoint-set.js';
import { resolveDnsTarget } from '../control-plane/dns/resolver.js';
import type { DnsResolution } from '../control-plane/dns/resolver.js';
import { dnsTargetKey } from '../core/model.js';
import type { Endpoint } from '../core/model.js';
import type { DnsServer } from '../examples/local/dns-server.js';
import { dnsTarget, ep, lookups, metricSum, startDnsServer, startWatcher as startHarness } from './support/dns-watcher-harness.js';
import type { WatcherHarness } from './support/dns-watcher-harness.js';
import { MIN_DEADLINE_MS } from './support/poll.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const startServer = (): Promise<DnsServer> => startDnsServer(cleanups);
const startWatcher = (options: Partial<DnsWatcherOptions> = {}): WatcherHarness => startHarness(cleanups, options);
const target = dnsTarget;
const metric = metricSum;

/** Polls `check` until it returns something other than undefined/false, or fails after `timeoutMs`. */
async function waitFor<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = MIN_DEADLINE_MS): Promise<T> {
  timeoutMs = Math.max(timeoutMs, MIN_DEADLINE_MS);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('endpoint sets', () => {
  it('sort IPv4 before IPv6, numerically, and drop duplicates', () => {
    const sorted = normalizeEndpoints([
      ep('fd00::10'), ep('10.0.0.10'), ep('::ffff:10.0.0.1'), ep('fd00::2'), ep('10.0.0.2'), ep('::1'), ep('10.0.0.2'), ep('10.0.0.2', 80),
    ]);
    expect(sorted).toEqual([
      ep('10.0.0.2', 80), ep('10.0.0.2'), ep('10.0.0.10'), ep('::1'), ep('::ffff:10.0.0.1'), ep('fd00::2'), ep('fd00::10'),
    ]);
    expect(sameEndpoints(sorted, normalizeEndpoints([...sorted].reverse()))).toBe(true);
    expect(sameEndpoints(sorted, sorted.slice(1))).toBe(false);
  });
});

describe('resolveDnsTarget', () => {
  it('queries A and AAAA at the named server, merges them sorted, and reports the smallest TTL', async () => {
    const server = await startServer();
    server.setRecords('distributor.test', [
      { type: 'A', address: '10.0.0.10', ttl: 30 },
      { type: 'AAAA', address: 'fd00::1', ttl: 9 },
      { type: 'A', address: '10.0.0.2', ttl: 20 },
    ]);
    const result = await resolveDnsTarget(target(server, 'distributor.test'));
    expect(result).toEqual({
      outcome: 'ok',
      endpoints: [ep('10.0.0.2'), ep('10.0.0.10'), ep('fd00::1')],
      ttlSeconds: 9,
      source: 'dns',
    });
  });

  it('tells NODATA, NXDOMAIN, SERVFAIL, REFUSED and timeout apart', async () => {
    const server = await startServer();
    const t = target(server, 'x.test');
    const opts = { timeoutMs: 200, tries: 1 };
    server.setRecords('x.test', []);
    expect(await resolveDnsTarget(t, opts)).toMatchObject({ outcome: 'empty' });
    server.removeRecords('x.test');
    expect(await resolveDnsTarget(t, opts)).toMatchObject({ outcome: 'nxdomain', reason: expect.stringContaining('x.test') });
    server.setFailure('SERVFAIL');
    expect(await resolveDnsTarget(t, opts)).toMatchObject({ outcome: 'error', code: 'ESERVFAIL' });
    server.setFailure('REFUSED');
    expect(await resolveDnsTarget(t, opts)).toMatchObject({ outcome: 'error', code: 'EREFUSED' });
    server.setFailure('drop');
    expect(await resolveDnsTarget(t, opts)).toMatchObject({ outcome: 'error', code: 'ETIMEOUT' });
  });

  it('treats an IPv4 or IPv6 literal as its own endpoint without any query', async () => {
    const server = await startServer();
    expect(await resolveDnsTarget(target(server, '10.9.8.7', 9000))).toEqual({
      outcome: 'ok', endpoints: [ep('10.9.8.7', 9000)], ttlSeconds: undefined, source: 'literal',
    });
    expect(await resolveDnsTarget(target(server, '[fd00::7]'))).toMatchObject({ endpoints: [ep('fd00::7')] });
    expect(server.queryCount()).toBe(0);
  });

  it('without a server, falls back to dns.lookup for names DNS does not know (localhost from /etc/hosts)', async () => {
    const dnsKnowsLocalhost = await new dns.Resolver({ timeout: 1000, tries: 2 }).resolve4('localhost').then(() => true, () => false);
    const result = await resolveDnsTarget(target(undefined, 'localhost', 9095));
    expect(result.outcome).toBe('ok');
    if (result.outcome !== 'ok') return;
    expect(result.source).toBe(dnsKnowsLocalhost ? 'dns' : 'hosts');
    expect(result.endpoints.map((e) => e.address)).toEqual(expect.arrayContaining(['127.0.0.1']));
    expect(result.endpoints.every((e) => e.port === 9095)).toBe(true);
  });
});

describe('DnsWatcher against a real DNS server', () => {
  it('reports the first answer once, then additions and removals within a lookup period', async () => {
    const server = await startServer();
    server.setRecords('distributor.test', [{ type: 'A', address: '10.0.0.1', ttl: 300 }]);
    const h = startWatcher();
    const t = target(server, 'distributor.test');
    const seen: Array<readonly Endpoint[]> = [];
    h.watcher.watch(t, (e) => seen.push(e));

    await waitFor('first set', () => seen.length === 1);
    expect(seen[0]).toEqual([ep('10.0.0.1')]);
    expect(await metric(h.registry, 'control_plane_dns_endpoints', { target: dnsTargetKey(t) })).toBe(1);

    // Period 200 ms, TTL 300 s: only the poll can pick the change up.
    server.setRecords('distributor.test', [
      { type: 'AAAA', address: 'fd00::2', ttl: 300 },
      { type: 'A', address: '10.0.0.1', ttl: 300 },
    ]);
    await waitFor('added record', () => seen.length === 2);
    expect(seen[1]).toEqual([ep('10.0.0.1'), ep('fd00::2')]);

    server.setRecords('distributor.test', [{ type: 'AAAA', address: 'fd00::2', ttl: 300 }]);
    await waitFor('removed record', () => seen.length === 3);
    expect(seen[2]).toEqual([ep('fd00::2')]);
    expect(h.watcher.snapshot()).toMatchObject([{ target: dnsTargetKey(t), watchers: 1, endpoints: [ep('fd00::2')] }]);
  });

  it('does not report an unchanged set, whatever order the server lists records in', async () => {
    const server = await startServer();
    const a = { type: 'A', address: '10.0.0.1', ttl: 300 } as const;
    const b = { type: 'A', address: '10.0.0.2', ttl: 300 } as const;
    server.setRecords('x.test', [a, b]);
    const h = startWatcher();
    const t = target(server, 'x.test');
    const seen: Array<readonly Endpoint[]> = [];
    h.watcher.watch(t, (e) => seen.push(e));
    await waitFor('first set', () => seen.length === 1);
    server.setRecords('x.test', [b, a]);
    const before = await lookups(h, t, 'ok');
    await waitFor('three more lookups', async () => (await lookups(h, t, 'ok')) >= before + 3);
    expect(seen).toEqual([[ep('10.0.0.1'), ep('10.0.0.2')]]);
  });

  it('keeps the last good set on SERVFAIL, NXDOMAIN and empty answers, and logs and counts each', async () => {
    const server = await startServer();
    server.setRecords('x.test', [{ type: 'A', address: '10.0.0.1', ttl: 300 }]);
    const h = startWatcher();
    const t = target(server, 'x.test');
    const seen: Array<readonly Endpoint[]> = [];
    h.watcher.watch(t, (e) => seen.push(e));
    await waitFor('first set', () => seen.length === 1);

    server.setFailure('SERVFAIL');
    await waitFor('servfail counted', async () => (await lookups(h, t, 'servfail')) >= 1);
    server.setFailure(undefined);
    server.removeRecords('x.test');
    await waitFor('nxdomain counted', async () => (await lookups(h, t, 'nxdomain')) >= 1);
    server.setRecords('x.test', []);
    await waitFor('empty counted', async () => (await lookups(h, t, 'empty')) >= 1);

    expect(seen).toEqual([[ep('10.0.0.1')]]);
    const [status] = h.watcher.snapshot();
    expect(status?.endpoints).toEqual([ep('10.0.0.1')]);
    expect(status?.lastError?.outcome).toBe('empty');
    expect(await metric(h.registry, 'control_plane_dns_endpoints', { target: dnsTargetKey(t) })).toBe(1);
    const warnings = h.logs.filter((l) => l.level === 40);
    expect(new Set(warnings.map((w) => w.outcome))).toEqual(new Set(['servfail', 'nxdomain', 'empty']));
    expect(warnings.every((w) => w.target === dnsTargetKey(t) && typeof w.reason === 'string')).toBe(true);

    server.setRecords('x.test', [{ type: 'A', address: '10.0.0.3', ttl: 300 }]);
    await waitFor('recovery', () => seen.length === 2);
    expect(seen[1]).toEqual([ep('10.0.0.3')]);
  });

  it('reports nothing before the first good answer', async () => {
    const server = await startServer();
    const h = startWatcher();
    const t = target(server, 'missing.test');
    const seen: Array<readonly Endpoint[]> = [];
    h.watcher.watch(t, (e) => seen.push(e));
    await waitFor('two failed lookups', async () => (await lookups(h, t, 'nxdomain')) >= 2);
    expect(seen).toEqual([]);
    expect(h.watcher.snapshot()).toMatchObject([{ endpoints: [], lastSuccessAtMs: undefined, lastError: { outcome: 'nxdomain' } }]);
  });

  it('looks again when a TTL shorter than the period expires, not before', async () => {
    const server = await startServer();
    server.setRecords('x.test', [{ type: 'A', address: '10.0.0.1', ttl: 1 }]);
    const h = startWatcher({ lookupPeriodMs: 60_000, minIntervalMs: 100 });
    const t = target(server, 'x.test');
    const started = Date.now();
    h.watcher.watch(t, () => undefined);
    await waitFor('second lookup', async () => (await lookups(h, t, 'ok')) >= 2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    const [status] = h.watcher.snapshot();
    expect(status?.ttlSeconds).toBe(1);
  });

  it('never looks up more often than minIntervalMs, even with TTL 0', async () => {
    const server = await startServer();
    server.setRecords('x.test', [{ type: 'A', address: '10.0.0.1', ttl: 0 }]);
    const h = startWatcher({ lookupPeriodMs: 60_000, minIntervalMs: 250 });
    const t = target(server, 'x.test');
    const started = Date.now();
    h.watcher.watch(t, () => undefined);
    await waitFor('five lookups', async () => (await lookups(h, t, 'ok')) >= 5);
    // Lookup n starts no earlier than (n - 1) * minInterval after the first.
    expect(Date.now() - started).toBeGreaterThanOrEqual(4 * 250);
    expect(server.queryCount('x.test')).toBeLessThanOrEqual(2 * 6);
  });

  it('serves an IP literal without DNS and never polls it', async () => {
    const server = await startServer();
    const h = startWatcher();
    const t = target(server, 'fd00::9', 9095);
    const seen: Array<readonly Endpoint[]> = [];
    h.watcher.watch(t, (e) => seen.push(e));
    await waitFor('literal set', () => seen.length === 1);
    expect(seen[0]).toEqual([ep('fd00::9')]);
    expect(server.queryCount()).toBe(0);
    expect(h.watcher.snapshot()).toMatchObject([{ endpoints: [ep('fd00::9')], nextLookupAtMs: undefined }]);
  });

  it('shares one loop between watchers of a target, and stops querying when the last cancels', async () => {
    const server = await startServer();
    server.setRecords('shared.test', [{ type: 'A', address: '10.0.0.1', ttl: 300 }]);
    server.setRecords('control.test', [{ type: 'A', address: '10.0.0.2', ttl: 300 }]);
    const h = startWatcher();
    const t = target(server, 'shared.test');
    const first: Array<readonly Endpoint[]> = [];
    const second: Array<readonly Endpoint[]> = [];
    const cancelFirst = h.watcher.watch(t, (e) => first.push(e));
    await waitFor('first watcher', () => first.length === 1);

    // A late watcher gets the known set right away (on a microtask), with no new lookup.
    const cancelSecond = h.watcher.watch({ ...t }, (e) => second.push(e));
    expect(second).toEqual([]);
    await Promise.resolve();
    expect(second).toEqual([[ep('10.0.0.1')]]);
    expect(h.watcher.snapshot()).toMatchObject([{ watchers: 2 }]);

    const base = await lookups(h, t);
    await waitFor('three shared lookups', async () => (await lookups(h, t)) >= base + 3);
    const done = await lookups(h, t);
    // One loop: two queries (A, AAAA) per lookup, plus at most one lookup in flight.
    expect(server.queryCount('shared.test')).toBeGreaterThanOrEqual(2 * done);
    expect(server.queryCount('shared.test')).toBeLessThanOrEqual(2 * done + 2);

    cancelFirst();
    cancelFirst(); // idempotent: must not drop the second watcher
    expect(h.watcher.snapshot()).toMatchObject([{ watchers: 1 }]);
    cancelSecond();
    expect(h.watcher.snapshot()).toEqual([]);
    const queriesAtCancel = server.queryCount('shared.test');

    // A control target polls on the same server; once it has looked up three times, the cancelled
    // target would have too (no fixed sleep).
    const control = target(server, 'control.test');
    const cancelControl = h.watcher.watch(control, () => undefined);
    cleanups.push(cancelControl);
    await waitFor('control lookups', async () => (await lookups(h, control)) >= 3);
    // At most the lookup in flight at cancel time (its two queries) may still have arrived.
    expect(server.queryCount('shared.test')).toBeLessThanOrEqual(queriesAtCancel + 2);
    expect(await metric(h.registry, 'control_plane_dns_endpoints', { target: dnsTargetKey(t) })).toBe(0);
  });
});

describe('DnsWatcher with an injected resolver', () => {
  function deferred(): { promise: Promise<DnsResolution>; resolve: (r: DnsResolution) => void } {
    let resolve!: (r: DnsResolution) => void;
    const promise = new Promise<DnsResolution>((r) => (resolve = r));
    return { promise, resolve };
  }
  const ok = (address: string): DnsResolution => ({ outcome: 'ok', endpoints: [ep(address)], ttlSeconds: 30, source: 'dns' });

  it('drops an answer that arrives after the last watcher cancelled', async () => {
    const pending = deferred();
    const h = startWatcher({ resolve: () => pending.promise });
    const t = target(undefined, 'x.test');
    const seen: Array<readonly Endpoint[]> = [];
    const cancel = h.watcher.watch(t, (e) => seen.push(e));
    cancel();
    pending.resolve(ok('10.0.0.1'));
    await pending.promise;
    await Promise.resolve();
    expect(seen).toEqual([]);
    expect(await lookups(h, t)).toBe(0);
  });

  it('keeps notifying other watchers when one throws, and counts a throwing resolver as an error', async () => {
    let calls = 0;
    const h = startWatcher({
      resolve: async () => {
        calls += 1;
        if (calls === 2) throw new Error('boom');
        return ok(calls === 1 ? '10.0.0.1' : '10.0.0.2');
      },
    });
    const t = target(undefined, 'x.test');
    const seen: Array<readonly Endpoint[]> = [];
    h.watcher.watch(t, () => {
      throw new Error('bad subscriber');
    });
    h.watcher.watch(t, (e) => seen.push(e));
    await waitFor('two sets', () => seen.length === 2);
    expect(seen).toEqual([[ep('10.0.0.1')], [ep('10.0.0.2')]]);
    expect(await lookups(h, t, 'error')).toBe(1);
    expect(h.logs.some((l) => l.level === 50 && l.msg === 'dns watcher subscriber threw')).toBe(true);
  });

  it('close() stops every loop and refuses new watches', async () => {
    let calls = 0;
    const h = startWatcher({
      resolve: async () => {
        calls += 1;
        return ok('10.0.0.1');
      },
    });
    h.watcher.watch(target(undefined, 'a.test'), () => undefined);
    h.watcher.watch(target(undefined, 'b.test'), () => undefined);
    await waitFor('both resolved', () => calls >= 2);
    h.watcher.close();
    expect(h.watcher.snapshot()).toEqual([]);
    expect(() => h.watcher.watch(target(undefined, 'c.test'), () => undefined)).toThrow(/after close/);
  });
});
