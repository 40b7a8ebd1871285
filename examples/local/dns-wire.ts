// Builds A/AAAA answers the way real authoritative servers do, so the resolver meets the limits it meets in
// production: owner names compressed to a pointer at the question (RFC 1035 §4.1.4), 512-byte UDP replies
// unless the query carries an EDNS OPT record with a bigger payload size (RFC 6891 §6.2.5), the TC bit
// when a record had to be left out (RFC 2181 §9; set on TCP too, as miekg/dns and so CoreDNS do), and
// the 65,535-byte ceiling of a TCP message (RFC 1035 §4.2.2: two-byte length prefix).
// dns-packet encodes names uncompressed (24 bytes per A record here instead of 16), so the records are
// written by hand after a dns-packet header and question.

import { encode } from 'dns-packet';
import type { DecodedPacket, Packet } from 'dns-packet';

export interface WireRecord {
  readonly type: 'A' | 'AAAA';
  readonly address: string;
  readonly ttl: number;
}

/** RFC 1035 §2.3.4. */
export const UDP_DEFAULT_PAYLOAD = 512;
/** RFC 1035 §4.2.2: the length prefix is 16 bits. */
export const TCP_MAX_MESSAGE = 65535;
const TRUNCATED = 1 << 9;
const OPT_RECORD_BYTES = 11;
const HEADER_BYTES = 12;
/** The question name starts right after the header: a compression pointer to it is 0xC00C. */
const QUESTION_NAME_POINTER = 0xc000 | HEADER_BYTES;

/** The UDP payload size the client says it accepts (RFC 6891 §6.2.5: below 512 counts as 512). */
export function udpPayloadLimit(query: DecodedPacket): number {
  const opt = query.additionals?.find((a) => a.type === 'OPT') as { udpPayloadSize?: number } | undefined;
  if (opt?.udpPayloadSize === undefined) return UDP_DEFAULT_PAYLOAD;
  return Math.max(UDP_DEFAULT_PAYLOAD, Math.min(opt.udpPayloadSize, TCP_MAX_MESSAGE));
}

function hasOpt(query: DecodedPacket): boolean {
  return query.additionals?.some((a) => a.type === 'OPT') ?? false;
}

function addressBytes(record: WireRecord): Buffer {
  if (record.type === 'A') return Buffer.from(record.address.split('.').map(Number));
  const [head = '', tail] = record.address.split('::');
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = [...h, ...new Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

/** Bytes of one compressed A/AAAA record: pointer, type, class, TTL, length, address. */
export function recordBytes(type: 'A' | 'AAAA'): number {
  return 2 + 2 + 2 + 4 + 2 + (type === 'A' ? 4 : 16);
}

export interface WireAnswer {
  readonly bytes: Buffer;
  /** Records that fitted (a prefix of those given). */
  readonly answered: number;
  readonly truncated: boolean;
}

/**
 * Encodes `reply` (header and question from dns-packet) with as many of `records` as fit in `limit` bytes,
 * setting TC when some did not. An OPT record is echoed when the query had one (RFC 6891 §7).
 */
export function encodeAnswer(query: DecodedPacket, reply: Packet, records: readonly WireRecord[], limit: number): WireAnswer {
  const withOpt = hasOpt(query);
  const head = encode({ ...reply, answers: [], additionals: [] });
  const room = limit - head.length - (withOpt ? OPT_RECORD_BYTES : 0);
  let fit = 0;
  let used = 0;
  for (const r of records) {
    if (used + recordBytes(r.type) > room) break;
    used += recordBytes(r.type);
    fit++;
  }
  const truncated = fit < records.length;
  const out = Buffer.alloc(head.length + used + (withOpt ? OPT_RECORD_BYTES : 0));
  head.copy(out);
  let at = head.length;
  for (const r of records.slice(0, fit)) {
    const address = addressBytes(r);
    at = out.writeUInt16BE(QUESTION_NAME_POINTER, at);
    at = out.writeUInt16BE(r.type === 'A' ? 1 : 28, at);
    at = out.writeUInt16BE(1, at); // class IN
    at = out.writeUInt32BE(r.ttl, at);
    at = out.writeUInt16BE(address.length, at);
    at += address.copy(out, at);
  }
  if (withOpt) {
    // Root name, type OPT (41), our payload size in the class field, no extended rcode/flags, no options.
    out.writeUInt8(0, at);
    out.writeUInt16BE(41, at + 1);
    out.writeUInt16BE(TCP_MAX_MESSAGE, at + 3);
    out.writeUInt32BE(0, at + 5);
    out.writeUInt16BE(0, at + 9);
  }
  // Header: flags at 2, ANCOUNT at 6, ARCOUNT at 10 (RFC 1035 §4.1.1).
  if (truncated) out.writeUInt16BE(out.readUInt16BE(2) | TRUNCATED, 2);
  out.writeUInt16BE(fit, 6);
  out.writeUInt16BE(withOpt ? 1 : 0, 10);
  return { bytes: out, answered: fit, truncated };
}
