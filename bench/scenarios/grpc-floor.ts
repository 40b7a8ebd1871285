// `floor`: client-side CPU per httpgrpc call, grpc-js vs gRPC framed by hand on node:http2, against one
// of the cluster's distributors. Shows how much of scenario b's cost is grpc-js rather than the gateway.

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
  const child = start('grpc-client-floor', process.execPath, [join(BENCH_DIST, 'grpc-client-floor.js'), c.keys[0]!, ctx.bodyFile], { cpu: ctx.cpu.proxy, logFile: log });
  const timer = setTimeout(() => void child.stop(), 120_000);
  await once(child.proc, 'exit');
  clearTimeout(timer);
  await child.stop();
  const line = readFileSync(log, 'utf8').split('\n').find((l) => l.startsWith('{'));
  if (!line) throw new Error(`grpc-client-floor printed no result; see ${log}`);
  const r = JSON.parse(line) as { grpcJsUs: number; rawHttp2Us: number };
  const md = [
    '### httpgrpc client floor (one process making 20 000 unary Handle calls, 50 concurrent, 8 KiB body)',
    '',
    table(
      ['client', 'client CPU µs/call', '× raw http2'],
      [
        ['@grpc/grpc-js Client.makeUnaryRequest (what the gateway uses)', fmt(r.grpcJsUs), ratio(r.grpcJsUs, r.rawHttp2Us)],
        ['node:http2, gRPC framing by hand', fmt(r.rawHttp2Us), '1.00×'],
      ],
    ),
    '',
  ].join('\n');
  return { md, json: r };
}
