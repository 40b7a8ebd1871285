import { promises as dns } from 'node:dns';
import dgram from 'node:dgram';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decode, encode } from 'dns-packet';
import type { DecodedPacket } from 'dns-packet';
import { DnsServer } from '../examples/local/dns-server.js';

let server: DnsServer;
let resolver: dns.Resolver;

beforeEach(async () => {
  server = await DnsServer.start({ host: '127.0.0.1', port: 0 });
  resolver = new dns.Resolver({ timeout: 300, tries: 1 });
  resolver.setServers([server.authority]);
});

afterEach(async () => {
  resolver.cancel();
  await server.close();
});

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code;
  }
}

/** Sends one raw query and returns the decoded reply (to check header bits the Resolver hides). */
async function rawQuery(name: string, type: 'A' | 'AAAA'): Promise<DecodedPacket> {
  const socket = dgram.createSocket('udp4');
  try {
    const reply = new Promise<Buffer>((resolve) => socket.once('message', resolve));
    const packet = encode({ type: 'query', id: 4242, flags: 1 << 8, questions: [{ type, name }] });
    socket.send(packet, server.port, '127.0.0.1');
    return decode(await reply);
  } finally {
    socket.close();
  }
}

/** RCODE: the low 4 bits of the header flags (RFC 1035 §4.1.1). */
const rcodeOf = (p: DecodedPacket): number => (p.flags ?? 0) & 0xf;

describe('DnsServer', () => {
  it('binds an ephemeral port on the given host', () => {
    expect(server.port).toBeGreaterThan(0);
    expect(server.authority).toBe(`127.0.0.1:${server.port}`);
  });

  it('answers A and AAAA with the configured TTLs', async () => {
    server.setRecords('distributor.test', [
      { type: 'A', address: '10.0.0.2', ttl: 30 },
      { type: 'A', address: '10.0.0.1', ttl: 7 },
      { type: 'AAAA', address: 'fd00::1', ttl: 5 },
    ]);
    const a = await resolver.resolve4('distributor.test', { ttl: true });
    expect(a.sort((x, y) => x.address.localeCompare(y.address))).toEqual([
      { address: '10.0.0.1', ttl: 7 },
      { address: '10.0.0.2', ttl: 30 },
    ]);
    expect(await resolver.resolve6('distributor.test', { ttl: true })).toEqual([{ address: 'fd00::1', ttl: 5 }]);
  });

  it('is authoritative, echoes id and question, and matches names case-insensitively', async () => {
    server.setRecords('Ingester.Test.', [{ type: 'A', address: '10.1.1.1', ttl: 60 }]);
    const reply = await rawQuery('INGESTER.test', 'A');
    expect(reply.id).toBe(4242);
    expect(reply.flag_aa).toBe(true);
    expect(reply.flag_rd).toBe(true);
    expect(rcodeOf(reply)).toBe(0); // NOERROR
    expect(reply.questions).toEqual([{ type: 'A', name: 'INGESTER.test', class: 'IN' }]);
    expect(reply.answers?.map((a) => a.type === 'A' && a.data)).toEqual(['10.1.1.1']);
  });

  it('answers NODATA for an existing name without records of the type, NXDOMAIN for unknown names', async () => {
    server.setRecords('v4only.test', [{ type: 'A', address: '10.0.0.1', ttl: 60 }]);
    server.setRecords('norecords.test', []);
    expect(await codeOf(resolver.resolve6('v4only.test'))).toBe('ENODATA');
    expect(await codeOf(resolver.resolve4('norecords.test'))).toBe('ENODATA');
    expect(await codeOf(resolver.resolve4('unknown.test'))).toBe('ENOTFOUND');
    expect(rcodeOf(await rawQuery('unknown.test', 'A'))).toBe(3); // NXDOMAIN
  });

  it('replaces and removes records; the next query sees the change', async () => {
    server.setRecords('x.test', [{ type: 'A', address: '10.0.0.1', ttl: 300 }]);
    expect(await resolver.resolve4('x.test')).toEqual(['10.0.0.1']);
    server.setRecords('x.test', [{ type: 'A', address: '10.0.0.9', ttl: 300 }]);
    expect(await resolver.resolve4('x.test')).toEqual(['10.0.0.9']);
    server.removeRecords('x.test');
    expect(await codeOf(resolver.resolve4('x.test'))).toBe('ENOTFOUND');
  });

  it('fails on demand with SERVFAIL, REFUSED or silence, and recovers', async () => {
    server.setRecords('x.test', [{ type: 'A', address: '10.0.0.1', ttl: 60 }]);
    server.setFailure('SERVFAIL');
    expect(await codeOf(resolver.resolve4('x.test'))).toBe('ESERVFAIL');
    server.setFailure('REFUSED');
    expect(await codeOf(resolver.resolve4('x.test'))).toBe('EREFUSED');
    server.setFailure('drop');
    expect(await codeOf(resolver.resolve4('x.test'))).toBe('ETIMEOUT');
    server.setFailure(undefined);
    expect(await resolver.resolve4('x.test')).toEqual(['10.0.0.1']);
  });

  it('counts queries per name, failed ones included', async () => {
    server.setRecords('x.test', [{ type: 'A', address: '10.0.0.1', ttl: 60 }]);
    await resolver.resolve4('x.test');
    await codeOf(resolver.resolve6('X.test'));
    await codeOf(resolver.resolve4('other.test'));
    expect(server.queryCount('x.test')).toBe(2);
    expect(server.queryCount('other.test')).toBe(1);
    expect(server.queryCount()).toBe(3);
    server.resetCounts();
    expect(server.queryCount()).toBe(0);
  });

  it('rejects records whose address does not match the type', () => {
    expect(() => server.setRecords('bad.test', [{ type: 'A', address: 'fd00::1', ttl: 1 }])).toThrow(/not an A address/);
  });

  it('close() stops answering and is idempotent', async () => {
    server.setRecords('x.test', [{ type: 'A', address: '10.0.0.1', ttl: 60 }]);
    await server.close();
    await server.close();
    // Closed UDP port: ICMP port unreachable (ECONNREFUSED) or, where ICMP is filtered, a timeout.
    expect(['ECONNREFUSED', 'ETIMEOUT']).toContain(await codeOf(resolver.resolve4('x.test')));
  });
});
