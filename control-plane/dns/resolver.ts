// One resolution of a `dns://[server]/host:port` target to endpoints plus the TTL that bounds how long the
// answer may be trusted. Outcomes are values, not exceptions: the watcher keeps the last good set on every
// non-ok outcome and needs to tell them apart for logs and metrics.

import { promises as dns } from 'node:dns';
import type { RecordWithTtl } from 'node:dns';
import { isIP } from 'node:net';
import type { DnsTarget, Endpoint } from '../../core/model.js';
import { formatHostPort } from '../../core/model.js';
import { normalizeEndpoints } from './endpoint-set.js';

export type DnsResolution =
  | {
      readonly outcome: 'ok';
      /** Sorted (IPv4 first, numerically), no duplicates, never empty. */
      readonly endpoints: readonly Endpoint[];
      /** Smallest TTL of the records, seconds; undefined when unknown (literal, /etc/hosts). */
      readonly ttlSeconds: number | undefined;
      /**
       * True when an answer filled a whole 64 KiB DNS message: the server most likely left records out
       * (RFC 1035 §4.2.2), and may leave out different ones on the next lookup.
       */
      readonly truncated?: boolean;
      /** `literal`: the host is an IP; `hosts`: found by dns.lookup (getaddrinfo, e.g. /etc/hosts). */
      readonly source: 'dns' | 'hosts' | 'literal';
    }
  /** The name exists but has no A or AAAA records (NODATA, RFC 2308 §2.2). */
  | { readonly outcome: 'empty'; readonly reason: string }
  /** The name does not exist (RCODE 3, RFC 1035 §4.1.1). */
  | { readonly outcome: 'nxdomain'; readonly reason: string }
  /** No usable answer: SERVFAIL, REFUSED, timeout, unreachable server... `code` is the node:dns code. */
  | { readonly outcome: 'error'; readonly code: string; readonly reason: string };

export type ResolveFn = (target: DnsTarget) => Promise<DnsResolution>;

export interface ResolveOptions {
  /** Per-try timeout, milliseconds. Default 1000: a lookup that fails should fail before the next poll. */
  readonly timeoutMs?: number;
  /** Tries per server. Default 2 (UDP loses packets; four c-ares default tries take too long). */
  readonly tries?: number;
}

type FamilyAnswer =
  | { readonly kind: 'records'; readonly records: readonly RecordWithTtl[] }
  | { readonly kind: 'nodata' }
  | { readonly kind: 'nxdomain' }
  | { readonly kind: 'error'; readonly code: string; readonly message: string };

function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'EUNKNOWN';
}

async function queryFamily(resolver: dns.Resolver, host: string, family: 4 | 6): Promise<FamilyAnswer> {
  try {
    const records = family === 4 ? await resolver.resolve4(host, { ttl: true }) : await resolver.resolve6(host, { ttl: true });
    return records.length > 0 ? { kind: 'records', records } : { kind: 'nodata' };
  } catch (err) {
    const code = errorCode(err);
    if (code === dns.NODATA) return { kind: 'nodata' };
    if (code === dns.NOTFOUND) return { kind: 'nxdomain' };
    return { kind: 'error', code, message: err instanceof Error ? err.message : String(err) };
  }
}

/** RFC 1035 §4.2.2: a TCP message is at most 65,535 bytes (two-byte length prefix). */
const MAX_MESSAGE_BYTES = 65535;
/** An EDNS OPT record a server may add to its answer (RFC 6891 §6.1.2). */
const OPT_RECORD_BYTES = 11;

/**
 * Whether `count` records of `family` fill one DNS message, so that the next one would not have fitted.
 * node:dns hides the TC bit, so the size is worked out: header 12 bytes, the question (name + type +
 * class), and per record a 2-byte compressed name, type, class, TTL, length and the address.
 */
export function fillsMessage(host: string, family: 4 | 6, count: number): boolean {
  const name = host.replace(/\.$/, '');
  const question = (name === '' ? 1 : name.length + 2) + 4;
  const record = 12 + (family === 4 ? 4 : 16);
  return 12 + question + (count + 1) * record + OPT_RECORD_BYTES > MAX_MESSAGE_BYTES;
}

/**
 * The smallest TTL. Node's resolve4/resolve6 with {ttl: true} report TTLs only for the first 256
 * records (a fixed ares_addrttl array in cares_wrap); later records have none. Those are skipped: the
 * records of one RRset share a TTL anyway (RFC 2181 §5.2).
 */
export function smallestTtl(records: readonly { readonly ttl?: unknown }[]): number | undefined {
  let min: number | undefined;
  for (const r of records) {
    if (typeof r.ttl === 'number' && Number.isFinite(r.ttl) && r.ttl >= 0 && (min === undefined || r.ttl < min)) min = r.ttl;
  }
  return min;
}

function describeServer(target: DnsTarget): string {
  return target.server ? `DNS server ${formatHostPort(target.server.host, target.server.port)}` : 'the system resolver';
}

/** Queries A and AAAA over DNS and merges the two answers. */
async function queryDns(target: DnsTarget, options: ResolveOptions): Promise<DnsResolution> {
  // A fresh channel per lookup: c-ares >= 1.31 caches answers per channel for up to an hour (NODATA
  // included, c-ares#1293); Node disabled that (nodejs/node#57636) but only in some releases. A poller
  // must see the server's current answer every time.
  const resolver = new dns.Resolver({ timeout: options.timeoutMs ?? 1000, tries: options.tries ?? 2 });
  if (target.server) resolver.setServers([formatHostPort(target.server.host, target.server.port)]);
  const [a, aaaa] = await Promise.all([queryFamily(resolver, target.host, 4), queryFamily(resolver, target.host, 6)]);
  const where = describeServer(target);

  // Any failed family fails the lookup, even if the other answered: a half answer would look like a
  // scale-down and drain every endpoint of the missing family until the next poll.
  for (const answer of [a, aaaa]) {
    if (answer.kind === 'error') {
      return { outcome: 'error', code: answer.code, reason: `${answer.code} from ${where} for ${target.host}: ${answer.message}` };
    }
  }
  const records = [a, aaaa].flatMap((x) => (x.kind === 'records' ? x.records : []));
  if (records.length > 0) {
    const endpoints = normalizeEndpoints(records.map((r) => ({ address: r.address, port: target.port })));
    const truncated =
      (a.kind === 'records' && fillsMessage(target.host, 4, a.records.length)) ||
      (aaaa.kind === 'records' && fillsMessage(target.host, 6, aaaa.records.length));
    return { outcome: 'ok', endpoints, ttlSeconds: smallestTtl(records), source: 'dns', ...(truncated ? { truncated } : {}) };
  }
  if (a.kind === 'nxdomain' || aaaa.kind === 'nxdomain') {
    return { outcome: 'nxdomain', reason: `NXDOMAIN: ${where} says ${target.host} does not exist` };
  }
  return { outcome: 'empty', reason: `NODATA: ${where} has no A or AAAA records for ${target.host}` };
}

/** getaddrinfo, which also reads /etc/hosts (nsswitch); it reports no TTL. */
async function lookupHosts(target: DnsTarget): Promise<DnsResolution | undefined> {
  try {
    const found = await dns.lookup(target.host, { all: true });
    if (found.length === 0) return undefined;
    const endpoints = normalizeEndpoints(found.map((f) => ({ address: f.address, port: target.port })));
    return { outcome: 'ok', endpoints, ttlSeconds: undefined, source: 'hosts' };
  } catch {
    return undefined; // Report the DNS outcome instead: it says more (NXDOMAIN vs SERVFAIL).
  }
}

/**
 * Resolves `target` once. An IP literal is its own endpoint (no query). With `target.server` only that
 * server is asked (RFC 4501 authority). Without, the system resolver config is used, and when it yields
 * nothing the name is tried with dns.lookup, so names only in /etc/hosts (`localhost`) work as they do
 * for every other program on the host.
 */
export async function resolveDnsTarget(target: DnsTarget, options: ResolveOptions = {}): Promise<DnsResolution> {
  const host = target.host.replace(/^\[(.*)\]$/, '$1');
  if (isIP(host) !== 0) {
    return { outcome: 'ok', endpoints: [{ address: host, port: target.port }], ttlSeconds: undefined, source: 'literal' };
  }
  const result = await queryDns({ ...target, host }, options);
  if (result.outcome === 'ok' || target.server) return result;
  return (await lookupHosts({ ...target, host })) ?? result;
}
