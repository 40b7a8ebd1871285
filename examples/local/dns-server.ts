// A small authoritative DNS server over UDP for the local demo and for tests: real packets on a real socket,
// so the control plane's resolver (c-ares via node:dns) is exercised exactly as against CoreDNS.
// Plain library code: no test framework, no system packages.

import dgram from 'node:dgram';
import { isIPv4, isIPv6 } from 'node:net';
import { AUTHORITATIVE_ANSWER, RECURSION_DESIRED, decode, encode } from 'dns-packet';
import type { Answer, DecodedPacket, Packet } from 'dns-packet';

export interface DnsRecord {
  readonly type: 'A' | 'AAAA';
  readonly address: string;
  /** Seconds. */
  readonly ttl: number;
}

export interface DnsServerOptions {
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 0 (ephemeral; read `port` after `start`). */
  readonly port?: number;
}

/**
 * How the server answers every query while set: an error rcode (RFC 1035 §4.1.1: 2 = SERVFAIL,
 * 5 = REFUSED) or `drop` (no answer at all, so the client times out). `undefined`: answer normally.
 */
export type DnsFailureMode = 'SERVFAIL' | 'REFUSED' | 'drop' | undefined;

const RCODE = { NOERROR: 0, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;

/** DNS names compare case-insensitively (RFC 4343) and a trailing dot only marks them absolute. */
function normalizeName(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

export class DnsServer {
  private readonly socket: dgram.Socket;
  private readonly zone = new Map<string, readonly DnsRecord[]>();
  private readonly counts = new Map<string, number>();
  private failure: DnsFailureMode = undefined;
  private boundPort = 0;
  private closed = false;

  private constructor(readonly host: string) {
    this.socket = dgram.createSocket(isIPv6(host) ? 'udp6' : 'udp4');
    this.socket.on('message', (msg, rinfo) => this.onMessage(msg, rinfo));
  }

  /** Binds the UDP socket and resolves once it is listening. */
  static async start(options: DnsServerOptions = {}): Promise<DnsServer> {
    const server = new DnsServer(options.host ?? '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      server.socket.once('error', reject);
      server.socket.bind(options.port ?? 0, server.host, () => {
        server.socket.off('error', reject);
        resolve();
      });
    });
    // A UDP socket error after bind (e.g. ICMP unreachable on send) must not crash the process.
    server.socket.on('error', () => undefined);
    server.boundPort = server.socket.address().port;
    return server;
  }

  /** The bound UDP port. */
  get port(): number {
    return this.boundPort;
  }

  /** `host:port` as `Resolver.setServers` and RFC 4501 authorities spell it. */
  get authority(): string {
    return isIPv6(this.host) ? `[${this.host}]:${this.boundPort}` : `${this.host}:${this.boundPort}`;
  }

  /** Replaces every record of `name`. An empty list keeps the name (NODATA answers, not NXDOMAIN). */
  setRecords(name: string, records: readonly DnsRecord[]): void {
    for (const r of records) {
      const ok = r.type === 'A' ? isIPv4(r.address) : isIPv6(r.address);
      if (!ok) throw new Error(`DnsServer.setRecords(${name}): ${r.address} is not an ${r.type} address`);
      if (!Number.isInteger(r.ttl) || r.ttl < 0) throw new Error(`DnsServer.setRecords(${name}): bad ttl ${r.ttl}`);
    }
    this.zone.set(normalizeName(name), [...records]);
  }

  /** Forgets `name`: queries for it get NXDOMAIN. */
  removeRecords(name: string): void {
    this.zone.delete(normalizeName(name));
  }

  setFailure(mode: DnsFailureMode): void {
    this.failure = mode;
  }

  /** Queries received for `name` (any type, including failed ones); all names when omitted. */
  queryCount(name?: string): number {
    if (name !== undefined) return this.counts.get(normalizeName(name)) ?? 0;
    let total = 0;
    for (const n of this.counts.values()) total += n;
    return total;
  }

  resetCounts(): void {
    this.counts.clear();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }

  private onMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    let query: DecodedPacket;
    try {
      query = decode(msg);
    } catch {
      return; // Not DNS; a real server would answer FORMERR, but there is no usable id to answer with.
    }
    if (query.type !== 'query') return;
    const question = query.questions?.[0];
    if (question) {
      const name = normalizeName(question.name);
      this.counts.set(name, (this.counts.get(name) ?? 0) + 1);
    }
    if (this.failure === 'drop') return;
    const reply = this.answer(query);
    if (this.closed) return;
    this.socket.send(encode(reply), rinfo.port, rinfo.address);
  }

  private answer(query: DecodedPacket): Packet {
    const questions = query.questions ?? [];
    // RFC 1035 §4.1.1: echo id and RD; we are authoritative (AA) and never recurse (no RA).
    const reply = (rcode: number, answers: Answer[] = []): Packet => ({
      type: 'response',
      id: query.id ?? 0,
      flags: AUTHORITATIVE_ANSWER | ((query.flags ?? 0) & RECURSION_DESIRED) | rcode,
      questions,
      answers,
    });
    if (this.failure === 'SERVFAIL') return reply(RCODE.SERVFAIL);
    if (this.failure === 'REFUSED') return reply(RCODE.REFUSED);
    const opcode = ((query.flags ?? 0) >> 11) & 0xf;
    const question = questions[0];
    if (opcode !== 0 || questions.length !== 1 || !question) return reply(RCODE.NOTIMP);

    const records = this.zone.get(normalizeName(question.name));
    if (!records) return reply(RCODE.NXDOMAIN);
    const answers: Answer[] = records
      .filter((r) => r.type === question.type)
      .map((r) => ({ type: r.type, name: question.name, class: 'IN', ttl: r.ttl, data: r.address }));
    // The name exists: NOERROR even with no records of this type (NODATA, RFC 2308 §2.2).
    return reply(RCODE.NOERROR, answers);
  }
}
