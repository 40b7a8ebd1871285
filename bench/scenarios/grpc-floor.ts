// `floor`: client-side CPU per httpgrpc call, the gateway's node:http2 client vs grpc-js vs gRPC framed
// by hand on node:http2, against one of the cluster's distributors.

import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cluster } from '../lib/cluster.js';
import type { BenchContext } from '../lib/context.js';
import { BENCH_DIST } from '../lib/paths.js';
import { start } from '../lib/proc.js';
import { fmt, ratio, table } from '../lib/report.js';

export async function grpcFloor(ctx: BenchContext): Promise<{ md: string; json: Record<string, unknown> }> {
  const c = await cluster(ctx);
  const log = join(ctx.dir, 'grpc-client-floor.log');
  // BENCH_FLOOR_CALLS: fewer calls per run on a busy machine (four clients × 4 runs must fit in 5 minutes).
  const calls = process.env['BENCH_FLOOR_CALLS'] ?? '10000';
  const child = start('grpc-client-floor', process.execPath, [join(BENCH_DIST, 'grpc-client-floor.js'), c.keys[0]!, ctx.bodyFile, calls], { cpu: ctx.cpu.proxy, logFile: log });
  const timer = setTimeout(() => void child.stop(), 300_000);
  await once(child.proc, 'exit');
  clearTimeout(timer);
  await child.stop();
  const line = readFileSync(log, 'utf8').split('\n').find((l) => l.startsWith('{'));
  if (!line) throw new Error(`grpc-client-floor printed no result; see ${log}`);
  const r = JSON.parse(line) as { socketUs: number; gatewayUs: number; grpcJsUs: number; rawHttp2Us: number };
  const md = [
    `### httpgrpc client floor (one process making ${calls} unary Handle calls per run, 50 concurrent, 8 KiB body)`,
    '',
    table(
      ['client', 'client CPU µs/call', '× raw http2'],
      [
        ['metrics-gateway EndpointConnection, socket client (h2/, the default)', fmt(r.socketUs), ratio(r.socketUs, r.rawHttp2Us)],
        ['metrics-gateway EndpointConnection, node:http2 client (-gateway.httpgrpc-client=node-http2)', fmt(r.gatewayUs), ratio(r.gatewayUs, r.rawHttp2Us)],
        ['@grpc/grpc-js Client.makeUnaryRequest (what the gateway used before)', fmt(r.grpcJsUs), ratio(r.grpcJsUs, r.rawHttp2Us)],
        ['node:http2, gRPC framing by hand', fmt(r.rawHttp2Us), '1.00×'],
      ],
    ),
    '',
  ].join('\n');
  return { md, json: r };
}
