// What does the httpgrpc client cost? CPU per unary httpgrpc call of this process (the client) with
// the gateway's own node:http2 client (EndpointConnection), with a grpc-js Client (what the gateway
// used before), and with gRPC framed by hand on node:http2 in ~15 lines (the floor any Node httpgrpc
// client sits on). The server runs elsewhere (the bench's peers process).
//   node dist/bench/grpc-client-floor.js <host:port> <body-file> [calls=20000] [concurrency=50]
// Prints one JSON line: { socketUs, gatewayUs (node:http2 client), grpcJsUs, rawHttp2Us } (median of 3
// runs each, interleaved). socketUs is the socket client (issue 21), the gateway's default.

import * as grpc from '@grpc/grpc-js';
import http2 from 'node:http2';
import { readFileSync } from 'node:fs';
import { encodeRequest } from '../data-plane/httpgrpc/codec.js';
import { HANDLE_METHOD } from '../data-plane/httpgrpc/connection-pool.js';
import { GRPC_BACKOFF } from '../data-plane/httpgrpc/backoff.js';
import { EndpointConnection } from '../data-plane/httpgrpc/endpoint-connection.js';

const [address, bodyFile, callsArg, concArg] = process.argv.slice(2);
if (!address || !bodyFile) {
  process.stderr.write('usage: grpc-client-floor.js <host:port> <body-file> [calls] [concurrency]\n');
  process.exit(2);
}
const CALLS = Number(callsArg ?? 20_000);
const CONCURRENCY = Number(concArg ?? 50);
const message = encodeRequest({
  method: 'POST',
  url: '/api/v1/push',
  headers: [{ key: 'Content-Type', values: ['application/x-protobuf'] }],
  body: readFileSync(bodyFile),
});
const identity = (b: Buffer): Buffer => b;

const client = new grpc.Client(`ipv4:${address}`, grpc.credentials.createInsecure());
function grpcJsCall(): Promise<void> {
  return new Promise((resolve) => {
    const md = new grpc.Metadata();
    md.set('x-scope-orgid', 'bench');
    client.makeUnaryRequest(HANDLE_METHOD, identity, identity, message, md, { deadline: Date.now() + 10_000 }, () => resolve());
  });
}

// gRPC over HTTP/2 by hand: one length-prefixed message (5-byte header), status in trailers.
const session = http2.connect(`http://${address}`);
const frame = Buffer.alloc(5 + message.length);
frame.writeUInt32BE(message.length, 1);
message.copy(frame, 5);
function rawCall(): Promise<void> {
  return new Promise((resolve) => {
    const s = session.request({
      ':method': 'POST',
      ':path': HANDLE_METHOD,
      'content-type': 'application/grpc',
      te: 'trailers',
      'grpc-timeout': '10S',
      'x-scope-orgid': 'bench',
    });
    s.on('data', () => undefined);
    s.on('close', resolve);
    s.end(frame);
  });
}

// The gateway's client: one EndpointConnection, headers as HttpGrpcUpstream builds them.
const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
const connFor = (client: 'socket' | 'node-http2'): EndpointConnection =>
  new EndpointConnection(
    { address: host, port },
    { maxGrpcMessageBytes: 8 * 1024 * 1024, keepaliveTimeMs: 20_000, keepaliveTimeoutMs: 10_000, backoff: GRPC_BACKOFF, client },
    () => undefined,
  );
const socketConn = connFor('socket');
const nodeConn = connFor('node-http2');
const gatewayCall = (): Promise<void> => callOn(nodeConn);
const socketCall = (): Promise<void> => callOn(socketConn);
function callOn(conn: EndpointConnection): Promise<void> {
  return new Promise((resolve) => {
    const headers = {
      ':method': 'POST',
      ':scheme': 'http',
      ':path': HANDLE_METHOD,
      'content-type': 'application/grpc',
      te: 'trailers',
      'x-scope-orgid': 'bench',
      'grpc-timeout': '10000m',
    };
    conn.call(headers, frame, Date.now() + 10_000, undefined, () => resolve());
  });
}

async function cpuPerCall(call: () => Promise<void>): Promise<number> {
  let started = 0;
  const before = process.cpuUsage();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (started < CALLS) {
        started++;
        await call();
      }
    }),
  );
  const u = process.cpuUsage(before);
  return (u.user + u.system) / CALLS;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
while (socketConn.state !== 'READY' || nodeConn.state !== 'READY') await new Promise((r) => setTimeout(r, 20));
await cpuPerCall(grpcJsCall); // warm-up all three
await cpuPerCall(rawCall);
await cpuPerCall(gatewayCall);
await cpuPerCall(socketCall);
const sk: number[] = [];
const g: number[] = [];
const r: number[] = [];
const w: number[] = [];
for (let i = 0; i < 3; i++) {
  g.push(await cpuPerCall(grpcJsCall));
  r.push(await cpuPerCall(rawCall));
  w.push(await cpuPerCall(gatewayCall));
  sk.push(await cpuPerCall(socketCall));
}
client.close();
session.close();
nodeConn.close();
socketConn.close();
process.stdout.write(`${JSON.stringify({ socketUs: median(sk), gatewayUs: median(w), grpcJsUs: median(g), rawHttp2Us: median(r) })}\n`);
