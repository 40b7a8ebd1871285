// A small authoritative DNS server over UDP and TCP for the local demo and for tests: real packets on real
// sockets, so the control plane's resolver (c-ares via node:dns) is exercised exactly as against CoreDNS:
// 512-byte UDP answers with TC and a retry over TCP, the 64 KiB TCP message, rotated record order.
// Plain library code: no test framework, no system packages.

import dgram from 'node:dgram';
import net from 'node:net';
import { isIPv4, isIPv6 } from 'node:net';
import { AUTHORITATIVE_ANSWER, RECURSION_DESIRED, decode } from 'dns-packet';
import type { DecodedPacket, Packet } from 'dns-packet';
import { TCP_MAX_MESSAGE, encodeAnswer, udpPayloadLimit } from './dns-wire.js';
import type { WireRecord } from './dns-wire.js';

export interface DnsRecord {
  readonly type: 'A' | 'AAAA';
  readonly address: string;
  /** Seconds. */
  readonly ttl: number;
}

export interface DnsServerOptions {
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 0 (ephemeral; read `port` after `start`). UDP and TCP share it. */
  readonly port?: number;
  /**
   * Rotate each name's records by one on every answer, as BIND's default `rrset-order cyclic` does. With
   * more records than one message holds, every answer is then a different subset of the same size.
   */
  readonly rotate?: boolean;
  /** Answer with at most this many records of a name (after rotation), as Route 53 multivalue answers do (8). */
  readonly maxAnswers?: number;
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

/** What one transport saw; tests assert on these counts. */
export interface DnsTransportCounts {
  readonly udp: number;
  readonly tcp: number;
  /** Answers sent with the TC bit (some records left out). */
  readonly truncated: number;
}

export class DnsServer {
  private socket: dgram.Socket;
  private tcp: net.Server;
  private readonly tcpConnections = new Set<net.Socket>();
  private readonly zone = new Map<string, readonly DnsRecord[]>();
  private readonly counts = new Map<string, number>();
  private readonly rotation = new Map<string, number>();
  private transport = { udp: 0, tcp: 0, truncated: 0 };
  private failure: DnsFailureMode = undefined;
  private boundPort = 0;
  private closed = false;

  private constructor(
    readonly host: string,
    private readonly rotate: boolean,
    private readonly maxAnswers: number,
  ) {
    this.socket = this.udpSocket();
    this.tcp = this.tcpServer();
  }

  private udpSocket(): dgram.Socket {
    const socket = dgram.createSocket(isIPv6(this.host) ? 'udp6' : 'udp4');
    socket.on('message', (msg, rinfo) => this.onUdp(msg, rinfo));
    return socket;
  }

  private tcpServer(): net.Server {
    return net.createServer((conn) => this.onTcp(conn));
  }

  /** Binds UDP, then TCP on the same port (retrying on a fresh port if TCP's is taken). */
  static async start(options: DnsServerOptions = {}): Promise<DnsServer> {
    const server = new DnsServer(options.host ?? '127.0.0.1', options.rotate ?? false, options.maxAnswers ?? Infinity);
    for (let attempt = 0; ; attempt++) {
      await new Promise<void>((resolve, reject) => {
        server.socket.once('error', reject);
        server.socket.bind(options.port ?? 0, server.host, () => {
          server.socket.off('error', reject);
          resolve();
        });
      });
      const port = server.socket.address().port;
      try {
        await new Promise<void>((resolve, reject) => {
          server.tcp.once('error', reject);
          server.tcp.listen(port, server.host, () => {
            server.tcp.off('error', reject);
            resolve();
          });
        });
        server.boundPort = port;
        break;
      } catch (err) {
        await new Promise<void>((resolve) => server.socket.close(() => resolve()));
        if (options.port || attempt >= 5) throw err;
        server.socket = server.udpSocket();
        server.tcp = server.tcpServer();
      }
    }
    // A UDP socket error after bind (e.g. ICMP unreachable on send) must not crash the process.
    server.socket.on('error', () => undefined);
    return server;
  }

  /** The bound port (UDP and TCP). */
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

  /** Queries per transport and truncated answers, over all names. */
  transportCounts(): DnsTransportCounts {
    return { ...this.transport };
  }

  resetCounts(): void {
    this.counts.clear();
    this.transport = { udp: 0, tcp: 0, truncated: 0 };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const conn of this.tcpConnections) conn.destroy();
    await Promise.all([
      new Promise<void>((resolve) => this.socket.close(() => resolve())),
      new Promise<void>((resolve) => this.tcp.close(() => resolve())),
    ]);
  }

  private onUdp(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const reply = this.handle(msg, 'udp');
    if (reply && !this.closed) this.socket.send(reply, rinfo.port, rinfo.address);
  }

  /** RFC 1035 §4.2.2: each message is preceded by its length; a connection may carry several queries. */
  private onTcp(conn: net.Socket): void {
    this.tcpConnections.add(conn);
    conn.on('close', () => this.tcpConnections.delete(conn));
    conn.on('error', () => undefined);
    let pending = Buffer.alloc(0);
    conn.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
        const msg = pending.subarray(2, 2 + pending.readUInt16BE(0));
        pending = pending.subarray(2 + msg.length);
        const reply = this.handle(msg, 'tcp');
        if (!reply || this.closed) continue;
        const prefix = Buffer.alloc(2);
        prefix.writeUInt16BE(reply.length);
        conn.write(Buffer.concat([prefix, reply]));
      }
    });
  }

  /** Decodes a query, counts it, and returns the encoded reply (undefined: no answer at all). */
  private handle(msg: Buffer, via: 'udp' | 'tcp'): Buffer | undefined {
    let query: DecodedPacket;
    try {
      query = decode(msg);
    } catch {
      return undefined; // Not DNS; a real server would answer FORMERR, but there is no usable id to answer with.
    }
    if (query.type !== 'query') return undefined;
    this.transport[via]++;
    const question = query.questions?.[0];
    if (question) {
      const name = normalizeName(question.name);
      this.counts.set(name, (this.counts.get(name) ?? 0) + 1);
    }
    if (this.failure === 'drop') return undefined;
    const { reply, records } = this.answer(query);
    const limit = via === 'udp' ? udpPayloadLimit(query) : TCP_MAX_MESSAGE;
    const wire = encodeAnswer(query, reply, records, limit);
    if (wire.truncated) this.transport.truncated++;
    return wire.bytes;
  }

  /** Records in the order this answer lists them: rotated by one per answer when `rotate` is on. */
  private ordered(name: string, records: readonly DnsRecord[]): readonly WireRecord[] {
    if (!this.rotate || records.length < 2) return records.slice(0, this.maxAnswers);
    const key = `${name}/${records[0]?.type ?? ''}`;
    const start = (this.rotation.get(key) ?? 0) % records.length;
    this.rotation.set(key, start + 1);
    return [...records.slice(start), ...records.slice(0, start)].slice(0, this.maxAnswers);
  }

  private answer(query: DecodedPacket): { reply: Packet; records: readonly WireRecord[] } {
    const questions = query.questions ?? [];
    // RFC 1035 §4.1.1: echo id and RD; we are authoritative (AA) and never recurse (no RA).
    const reply = (rcode: number, records: readonly WireRecord[] = []): { reply: Packet; records: readonly WireRecord[] } => ({
      reply: {
        type: 'response',
        id: query.id ?? 0,
        flags: AUTHORITATIVE_ANSWER | ((query.flags ?? 0) & RECURSION_DESIRED) | rcode,
        questions,
      },
      records,
    });
    if (this.failure === 'SERVFAIL') return reply(RCODE.SERVFAIL);
    if (this.failure === 'REFUSED') return reply(RCODE.REFUSED);
    const opcode = ((query.flags ?? 0) >> 11) & 0xf;
    const question = questions[0];
    if (opcode !== 0 || questions.length !== 1 || !question) return reply(RCODE.NOTIMP);

    const name = normalizeName(question.name);
    const records = this.zone.get(name);
    if (!records) return reply(RCODE.NXDOMAIN);
    // The name exists: NOERROR even with no records of this type (NODATA, RFC 2308 §2.2).
    return reply(RCODE.NOERROR, this.ordered(name, records.filter((r) => r.type === question.type)));
  }
}
