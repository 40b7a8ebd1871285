// What every scenario gets: where to write, the request body, the CPU layout, run lengths, the shared
// peers process, and one measurement primitive (a wrk run with the CPU the measured processes spent).

import { Peers } from './peers-client.js';
import { cpuMicros, rssBytes, type Child } from './proc.js';
import { runWrk, type WrkResult } from './wrk.js';

export interface CpuLayout {
  /** The proxy under test (gateway, nginx, HAProxy, baseline, grpc-js client). */
  readonly proxy: string | undefined;
  /** wrk and the backends/peers. */
  readonly load: string | undefined;
}

export interface BenchContext {
  readonly dir: string;
  readonly bodyFile: string;
  readonly cpu: CpuLayout;
  /** Measured seconds per round. */
  readonly seconds: number;
  readonly rounds: number;
  readonly warmupSeconds: number;
  readonly long: boolean;
  readonly peers: Peers;
  log(msg: string): void;
}

export interface Measurement extends WrkResult {
  /** CPU (user+system) the measured process spent per completed request, µs. */
  readonly cpuUsPerReq: number | undefined;
  /** The same for each extra process (backend, peers), by name. */
  readonly otherCpuUsPerReq: Record<string, number>;
  readonly rssBytes: number | undefined;
}

export interface MeasureOptions {
  readonly url: string;
  readonly child: Child | undefined;
  readonly others?: readonly Child[];
  readonly seconds: number;
  readonly connections?: number;
  readonly stop?: AbortSignal;
  readonly authorization?: string;
}

/** One wrk run; CPU read from /proc right before and right after it. */
export async function measure(ctx: BenchContext, o: MeasureOptions): Promise<Measurement> {
  const pids = [o.child, ...(o.others ?? [])].filter((c): c is Child => c !== undefined);
  const before = pids.map((c) => cpuMicros(c.pid));
  const w = await runWrk({
    url: o.url,
    connections: o.connections ?? 50,
    seconds: o.seconds,
    bodyFile: ctx.bodyFile,
    cpu: ctx.cpu.load,
    ...(o.stop ? { stop: o.stop } : {}),
    ...(o.authorization ? { authorization: o.authorization } : {}),
  });
  const after = pids.map((c) => cpuMicros(c.pid));
  const perReq = (i: number): number => (w.requests > 0 ? (after[i]! - before[i]!) / w.requests : NaN);
  const otherCpuUsPerReq: Record<string, number> = {};
  (o.others ?? []).forEach((c, i) => (otherCpuUsPerReq[c.name] = perReq(o.child ? i + 1 : i)));
  return {
    ...w,
    cpuUsPerReq: o.child ? perReq(0) : undefined,
    otherCpuUsPerReq,
    rssBytes: o.child ? rssBytes(o.child.pid) : undefined,
  };
}
