// The socket client's parsers against hostile bytes: the HPACK decoder on RFC 7541 Appendix C vectors,
// then random and mutated header blocks; the whole connection (frame reader, frame rules, HPACK, the
// call) against a server that answers with random or mutated frame sequences. Bounded in count; the
// seed is fixed so a failure replays. Every case must end as a result or a ConnectionError (HPACK), or
// as a finished call (the connection), never an exception escaping, a hang or unbounded memory.
import net, { type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallStatus } from '../data-plane/httpgrpc/unary-call.js';
import { dialSocket } from '../data-plane/httpgrpc/h2/dial.js';
import { ConnectionError, FRAME_HEADER_BYTES, Flag, FrameType, frameHeader, settingsFrame } from '../data-plane/httpgrpc/h2/frames.js';
import { HpackDecoder } from '../data-plane/httpgrpc/h2/hpack-decoder.js';
import { HpackEncoder } from '../data-plane/httpgrpc/h2/hpack-encoder.js';

/** xorshift32: reproducible randomness. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 2 ** 32;
  };
}
const hex = (s: string): Buffer => Buffer.from(s.replace(/\s/g, ''), 'hex');

function mutate(src: Buffer, r: () => number): Buffer {
  const b = Buffer.from(src);
  const kind = Math.floor(r() * 5);
  if (kind === 0) return b.subarray(0, Math.floor(r() * b.length)); // truncate
  if (kind === 1) return Buffer.concat([b, Buffer.from(Array.from({ length: 1 + Math.floor(r() * 16) }, () => Math.floor(r() * 256)))]);
  if (kind === 2) return Buffer.concat([b.subarray(0, Math.floor(r() * b.length)), b]); // repeat a prefix
  const flips = 1 + Math.floor(r() * 4);
  for (let i = 0; i < flips && b.length > 0; i++) {
    const at = Math.floor(r() * b.length);
    b[at] = kind === 3 ? b[at]! ^ (1 << Math.floor(r() * 8)) : Math.floor(r() * 256);
  }
  return b;
}

describe('HPACK decoder', () => {
  it('decodes RFC 7541 C.4 (Huffman, dynamic table across blocks)', () => {
    const d = new HpackDecoder(4096, 65536);
    const pairs = (l: { names: string[]; values: string[] }): string[][] => l.names.map((n, i) => [n, l.values[i]!]);
    expect(pairs(d.decode(hex('8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff')))).toEqual([
      [':method', 'GET'],
      [':scheme', 'http'],
      [':path', '/'],
      [':authority', 'www.example.com'],
    ]);
    expect(pairs(d.decode(hex('8286 84be 5886 a8eb 1064 9cbf')))).toEqual([
      [':method', 'GET'],
      [':scheme', 'http'],
      [':path', '/'],
      [':authority', 'www.example.com'],
      ['cache-control', 'no-cache'],
    ]);
    expect(pairs(d.decode(hex('8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf')))).toEqual([
      [':method', 'GET'],
      [':scheme', 'https'],
      [':path', '/index.html'],
      [':authority', 'www.example.com'],
      ['custom-key', 'custom-value'],
    ]);
  });

  it('reads back what the encoder wrote, call after call, with the table in step', () => {
    const e = new HpackEncoder();
    const d = new HpackDecoder(4096, 65536);
    for (let i = 0; i < 200; i++) {
      const fields: Array<[string, string]> = [
        [':method', 'POST'],
        [':path', '/httpgrpc.HTTP/Handle'],
        ['x-scope-orgid', `tenant-${i % 37}`],
        ['grpc-timeout', `${i}m`],
      ];
      const block = e.encode(fields, 0);
      const got = d.decode(block);
      expect(got.names.map((n, j) => [n, got.values[j]])).toEqual(fields);
      if (i > 40) expect(block.length).toBeLessThan(20); // indexed: only grpc-timeout's value is literal
    }
  });

  it('4,000 random and mutated blocks: a header list or a COMPRESSION_ERROR, bounded', () => {
    const r = rng(21);
    const seeds = [hex('8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff'), hex('8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf'), hex('3fe11f 82')];
    let errors = 0;
    for (let i = 0; i < 4_000; i++) {
      const d = new HpackDecoder(4096, 16_384);
      const block = i % 2 === 0 ? Buffer.from(Array.from({ length: Math.floor(r() * 64) }, () => Math.floor(r() * 256))) : mutate(seeds[i % seeds.length]!, r);
      try {
        const list = d.decode(block);
        const size = list.names.reduce((n, name, j) => n + name.length + list.values[j]!.length + 32, 0);
        expect(size).toBeLessThanOrEqual(16_384);
      } catch (err) {
        expect(err).toBeInstanceOf(ConnectionError);
        errors++;
      }
    }
    expect(errors).toBeGreaterThan(0);
  });

  it('a block that references one big entry 1,000 times stops at the header list limit', () => {
    const d = new HpackDecoder(4096, 65_536);
    const big = 'v'.repeat(4000);
    const insert = Buffer.concat([Buffer.from([0x40, 0x01, 0x61, 0x7f, 4000 - 127 - 128 * Math.floor((4000 - 127) / 128) + 128, Math.floor((4000 - 127) / 128)]), Buffer.from(big)]);
    const list = d.decode(Buffer.concat([insert, Buffer.alloc(1000, 0xbe)]));
    expect(list.malformed).toMatch(/header list larger than 65536 bytes/);
    expect(list.names.length).toBeLessThan(20);
  });
});

describe('H2Connection against hostile servers', () => {
  let server: net.Server;
  let port = 0;
  const cases: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  beforeAll(async () => {
    server = net.createServer((s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
      s.resume();
      const bytes = cases.shift() ?? Buffer.alloc(0);
      s.write(bytes);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.2', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  /** A good answer to stream 1: SETTINGS, response HEADERS, one message, trailers. */
  function goodAnswer(): Buffer {
    const e = new HpackEncoder();
    const block = (fields: Array<[string, string]>): Buffer => e.encode(fields, 0);
    const frame = (type: number, flags: number, payload: Buffer): Buffer => Buffer.concat([frameHeader(payload.length, type, flags, 1), payload]);
    const msg = Buffer.from([0, 0, 0, 0, 3, 8, 200, 1]);
    const h = block([[':status', '200'], ['content-type', 'application/grpc']]);
    return Buffer.concat([
      settingsFrame([[3, 100]]),
      frame(FrameType.HEADERS, Flag.END_HEADERS, h),
      frame(FrameType.DATA, 0, msg),
      frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, block([['grpc-status', '0']])),
    ]);
  }

  async function oneCase(bytes: Buffer): Promise<CallStatus> {
    cases.push(bytes);
    const statuses: CallStatus[] = [];
    let closed!: () => void;
    const gone = new Promise<void>((resolve) => (closed = resolve));
    const conn = dialSocket({ host: '127.0.0.2', port, address: `127.0.0.2:${port}`, maxGrpcMessageBytes: 1 << 20 }, { ready: () => undefined, goaway: () => undefined, close: () => closed() });
    const status = await new Promise<CallStatus>((resolve) => {
      conn.call({ headers: { ':method': 'POST', ':path': '/httpgrpc.HTTP/Handle' }, frame: Buffer.from([0, 0, 0, 0, 0]), deadline: Date.now() + 1_000, maxReceiveBytes: 1 << 20 }, (s) => {
        statuses.push(s);
        resolve(s);
      });
    });
    conn.destroy();
    await gone;
    expect(statuses).toHaveLength(1);
    return status;
  }

  it('the good answer is read as status OK (the fuzz starts from a valid exchange)', async () => {
    const s = await oneCase(goodAnswer());
    expect(s.code).toBe(0);
    expect(s.message?.length).toBe(3);
  });

  it('400 random and mutated answers each end the call, with a status, never an exception', async () => {
    const r = rng(9113);
    const good = goodAnswer();
    const codes = new Map<number, number>();
    const heapBefore = process.memoryUsage().heapUsed;
    for (let batch = 0; batch < 20; batch++) {
      const inputs = Array.from({ length: 20 }, (_, i) => {
        if (i % 4 === 0) return Buffer.concat([settingsFrame([]), Buffer.from(Array.from({ length: Math.floor(r() * 200) }, () => Math.floor(r() * 256)))]);
        // Mutate the frames after the preface SETTINGS (or the preface too, now and then).
        const keep = i % 4 === 1 ? 0 : FRAME_HEADER_BYTES + 6;
        return Buffer.concat([good.subarray(0, keep), mutate(good.subarray(keep), r)]);
      });
      // One connection per input, 20 at a time (the server hands inputs out in accept order). A case
      // the client cannot decide (a valid but incomplete answer) ends at its deadline.
      for (const s of await Promise.all(inputs.map((input) => oneCase(input)))) {
        expect(typeof s.code).toBe('number');
        codes.set(s.code, (codes.get(s.code) ?? 0) + 1);
      }
    }
    expect([...codes.values()].reduce((a, b) => a + b, 0)).toBe(400);
    expect(codes.size).toBeGreaterThan(2); // the mutations reached different outcomes
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(256 * 1024 * 1024);
  }, 120_000);
});
