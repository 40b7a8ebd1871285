// The hand-written codec against protobufjs reading proto/httpgrpc.proto (wire compatibility),
// Go header canonicalisation, and the round-robin picker.
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import {
  decodeRequest,
  decodeResponse,
  decodeStatusResponse,
  encodeRequest,
  encodeResponse,
  encodeStatusWithResponse,
  HTTP_RESPONSE_TYPE_URL,
  protoPath,
  RoundRobinPicker,
} from '../data-plane/httpgrpc/index.js';
import { canonicalHeaderKey } from '../data-plane/httpgrpc/request.js';

const root = protobuf.loadSync(protoPath('httpgrpc.proto'));
const HTTPRequest = root.lookupType('httpgrpc.HTTPRequest');
const HTTPResponse = root.lookupType('httpgrpc.HTTPResponse');
// google.rpc.Status (googleapis google/rpc/status.proto), declared here: only its shape matters.
const rpc = protobuf.Root.fromJSON({
  nested: {
    google: {
      nested: {
        rpc: { nested: { Status: { fields: { code: { type: 'int32', id: 1 }, message: { type: 'string', id: 2 }, details: { rule: 'repeated', type: 'google.protobuf.Any', id: 3 } } } } },
        protobuf: { nested: { Any: { fields: { type_url: { type: 'string', id: 1 }, value: { type: 'bytes', id: 2 } } } } },
      },
    },
  },
});
const Status = rpc.lookupType('google.rpc.Status');

const request = {
  method: 'POST',
  url: '/api/v1/push?a=1&a=2&b=%2F',
  headers: [
    { key: 'Content-Type', values: ['application/x-protobuf'] },
    { key: 'X-Multi', values: ['one', 'two', ''] },
  ],
  body: Buffer.from(Array.from({ length: 300 }, (_, i) => i % 256)),
};

describe('httpgrpc codec', () => {
  it('encodes an HTTPRequest protobufjs decodes, and decodes what protobufjs encodes', () => {
    const viaPbjs = HTTPRequest.toObject(HTTPRequest.decode(encodeRequest(request)), { defaults: true }) as Record<string, unknown>;
    expect(viaPbjs).toEqual({ ...request, body: request.body });
    const pbjsBytes = Buffer.from(HTTPRequest.encode(HTTPRequest.fromObject(request)).finish());
    const ours = decodeRequest(pbjsBytes);
    expect({ ...ours, body: Buffer.from(ours.body) }).toEqual(request);
    expect(encodeRequest(request)).toEqual(pbjsBytes);
  });

  it('round-trips an HTTPResponse both ways, empty fields included', () => {
    for (const res of [
      { code: 429, headers: [{ key: 'Retry-After', values: ['7'] }], body: Buffer.from('slow down') },
      { code: 204, headers: [], body: Buffer.alloc(0) },
    ]) {
      const ours = encodeResponse(res);
      expect(HTTPResponse.toObject(HTTPResponse.decode(ours), { defaults: true })).toEqual({ Code: res.code, headers: res.headers, body: res.body });
      // protobufjs writes an empty `body` field, proto3 allows either; ours omits it.
      const pbjs = Buffer.from(HTTPResponse.encode(HTTPResponse.fromObject({ Code: res.code, headers: res.headers, body: res.body })).finish());
      expect(decodeResponse(pbjs)).toEqual(res);
      expect(decodeResponse(ours)).toEqual(res);
    }
  });

  it('reads the HTTPResponse dskit puts in grpc-status-details-bin, and only that', () => {
    const res = { code: 413, headers: [{ key: 'Content-Type', values: ['text/plain'] }], body: Buffer.from('too big') };
    const details = encodeStatusWithResponse(res);
    const status = Status.toObject(Status.decode(details), { defaults: true }) as { code: number; message: string; details: Array<{ type_url: string; value: Uint8Array }> };
    expect(status.code).toBe(413);
    expect(status.message).toBe('too big');
    expect(status.details.map((d) => d.type_url)).toEqual([HTTP_RESPONSE_TYPE_URL]);
    expect(decodeStatusResponse(details)).toEqual(res);

    const other = Buffer.from(Status.encode(Status.fromObject({ code: 3, details: [{ type_url: 'type.googleapis.com/google.rpc.BadRequest', value: Buffer.from([8, 1]) }] })).finish());
    expect(decodeStatusResponse(other)).toBeUndefined();
    expect(() => decodeResponse(Buffer.from([0x1a, 0x05, 0x01]))).toThrow(/runs past the message/);
  });

  it('skips unknown fields', () => {
    const withExtra = Buffer.concat([encodeResponse({ code: 200, headers: [], body: Buffer.from('ok') }), Buffer.from([0x28, 0x01, 0x3a, 0x01, 0x00])]);
    expect(decodeResponse(withExtra).body.toString()).toBe('ok');
  });
});

describe('canonicalHeaderKey (Go textproto)', () => {
  it.each([
    ['x-scope-orgid', 'X-Scope-Orgid'],
    ['content-type', 'Content-Type'],
    ['CONTENT-LENGTH', 'Content-Length'],
    ['x-prometheus-remote-write-version', 'X-Prometheus-Remote-Write-Version'],
    ['te', 'Te'],
    ['foo bar', 'foo bar'],
  ])('%s → %s', (name, canonical) => expect(canonicalHeaderKey(name)).toBe(canonical));
});

describe('RoundRobinPicker', () => {
  it('rotates, skips endpoints already tried, and carries its cursor into a replacement', () => {
    const p = new RoundRobinPicker(['a', 'b', 'c']);
    expect([p.pick(), p.pick(), p.pick(), p.pick()]).toEqual(['a', 'b', 'c', 'a']);
    expect(p.pick(new Set(['b']))).toBe('c');
    expect(p.pick(new Set(['a', 'b', 'c']))).toBe('a'); // all tried: still an answer
    const next = new RoundRobinPicker(['a', 'b', 'c', 'd'], p.cursor);
    expect(next.pick()).toBe('b');
    expect(new RoundRobinPicker([]).pick()).toBeUndefined();
  });
});
