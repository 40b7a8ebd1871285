// Deterministic order and equality for endpoint sets, so "did the set change?" never depends on the
// order a DNS server happened to list its records in (servers rotate them, RFC 1794).

import { isIPv4, isIPv6 } from 'node:net';
import type { Endpoint } from '../../core/model.js';

/** Fixed-width hex key: IPv4 sorts before IPv6, and both numerically (10.0.0.2 before 10.0.0.10). */
function addressKey(address: string): string {
  if (isIPv4(address)) return `4${ipv4Hex(address)}`;
  if (isIPv6(address)) return `6${ipv6Hex(address)}`;
  return `9${address}`; // Not an IP literal; never produced by the resolver, kept stable anyway.
}

function ipv4Hex(address: string): string {
  return address
    .split('.')
    .map((octet) => Number(octet).toString(16).padStart(2, '0'))
    .join('');
}

function ipv6Hex(address: string): string {
  let text = address.toLowerCase().split('%')[0] ?? '';
  // An embedded IPv4 tail (::ffff:10.0.0.1) is two 16-bit groups.
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (isIPv4(tail)) {
    const hex = ipv4Hex(tail);
    text = `${text.slice(0, lastColon + 1)}${hex.slice(0, 4)}:${hex.slice(4)}`;
  }
  const [head = '', rest] = text.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const restGroups = rest === undefined || rest === '' ? [] : rest.split(':');
  const zeros = rest === undefined ? [] : new Array<string>(8 - headGroups.length - restGroups.length).fill('0');
  return [...headGroups, ...zeros, ...restGroups].map((g) => g.padStart(4, '0')).join('');
}

export function compareEndpoints(a: Endpoint, b: Endpoint): number {
  const ka = addressKey(a.address);
  const kb = addressKey(b.address);
  if (ka !== kb) return ka < kb ? -1 : 1;
  return a.port - b.port;
}

/** Sorted copy without duplicates. */
export function normalizeEndpoints(endpoints: readonly Endpoint[]): readonly Endpoint[] {
  const sorted = [...endpoints].sort(compareEndpoints);
  return sorted.filter((e, i) => i === 0 || compareEndpoints(e, sorted[i - 1] as Endpoint) !== 0);
}

/** Equality of two sets already passed through `normalizeEndpoints`. */
export function sameEndpoints(a: readonly Endpoint[], b: readonly Endpoint[]): boolean {
  return a.length === b.length && a.every((e, i) => compareEndpoints(e, b[i] as Endpoint) === 0);
}
