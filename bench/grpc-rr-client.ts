// The alternative to the gateway's DNS watching in scenario d: a plain grpc-js client balancing itself
// with its `dns:` resolver and round_robin (what a GEM-style Go/JS gateway with a dns:/// target does).
// `concurrency` loops send httpgrpc Handle calls (8 KiB remote-write body) until `seconds` pass or SIGTERM.
//   node dist/bench/grpc-rr-client.js <dns://server/name:port> <concurrency> <seconds> <body-file>

import * as grpc from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { encodeRequest } from '../data-plane/httpgrpc/codec.js';
import { HANDLE_METHOD } from '../data-plane/httpgrpc/connection-pool.js';

const [target, concurrency, seconds, bodyFile] = process.argv.slice(2);
if (!target || !concurrency || !seconds || !bodyFile) {
  process.stderr.write('usage: grpc-rr-client.js <target> <concurrency> <seconds> <body-file>\n');
  process.exit(2);
}

const identity = (b: Buffer): Buffer => b;
const client = new grpc.Client(target, grpc.credentials.createInsecure(), {
  // gRFC A24 service config: round_robin over every address the resolver returns.
  'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
  'grpc.max_send_message_length': 16 * 1024 * 1024,
});
const message = encodeRequest({
  method: 'POST',
  url: '/api/v1/push',
  headers: [
    { key: 'Content-Type', values: ['application/x-protobuf'] },
    { key: 'Content-Encoding', values: ['snappy'] },
    { key: 'X-Scope-Orgid', values: ['bench'] },
  ],
  body: readFileSync(bodyFile),
});

let ok = 0;
let failed = 0;
let stopping = false;
const end = Date.now() + Number(seconds) * 1000;
process.once('SIGTERM', () => (stopping = true));

async function loop(): Promise<void> {
  while (!stopping && Date.now() < end) {
    await new Promise<void>((resolve) => {
      const metadata = new grpc.Metadata();
      metadata.set('x-scope-orgid', 'bench');
      client.makeUnaryRequest(HANDLE_METHOD, identity, identity, message, metadata, { deadline: Date.now() + 10_000 }, (err) => {
        if (err) failed++;
        else ok++;
        resolve();
      });
    });
  }
}

await Promise.all(Array.from({ length: Number(concurrency) }, () => loop()));
client.close();
process.stdout.write(`${JSON.stringify({ ok, failed })}\n`);
