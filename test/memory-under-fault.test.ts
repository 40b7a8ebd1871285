import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import { Pool } from 'undici';
import { MiB, mib, procMemory, startGatewayProcess, type GatewayProcess } from './support/gateway-process.js';

// 100,000 requests through the built binary to a backend that refuses connections. Every answer must
// be the gateway's 502, and the process must not keep anything per failed request.
//
// What "memory returns to its baseline" can honestly mean for a V8 process: memory is given back only
// when the collector runs, and under this load the resident set climbs ~60 MB between two major
// collections (one every ~20,000 requests here) and drops back after each. A single RSS reading taken
// when the load stops lands anywhere on that sawtooth, so it says nothing about a leak. What does is the
// floor: RSS just after a major collection. The test compares the floor at the end of the run with the
// floor after a warm-up, each taken over a window that the gateway's own
// nodejs_gc_duration_seconds_count{kind="major"} (already in /metrics) shows held a major collection.
// Nothing is forced. "Near" is within max(15 MiB, 20%) of the baseline floor: measured floors vary by
// about ±8 MB run to run with no trend over 400,000 requests, and a leak of 300 bytes per request
// (30 MB over the run) would fail it.

const CONCURRENCY = 50;
const BATCH = 5000;
const RUN = 100_000;
/** 127.0.0.254 is used by no other test, so no other server takes the port while this runs. */
const DEAD_HOST = '127.0.0.254';

interface Batch {
  /** Lowest RSS sampled while the batch ran. */
  readonly floor: number;
  /** Major collections so far, read after the batch. */
  readonly majorGcs: number;
}

describe('memory under a backend fault', () => {
  let child: GatewayProcess;
  let pool: Pool;
  let deadPort = 0;
  let expectedBody = '';
  let sampler: NodeJS.Timeout | undefined;
  let floor = Infinity;
  let answered = 0;
  const wrong: string[] = [];

  beforeAll(async () => {
    // A port nothing listens on: bound once, then closed.
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, DEAD_HOST, r));
    deadPort = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    // query_frontend has no url of its own, so it takes default's (and says which backend it was).
    expectedBody = `backend query_frontend (http://${DEAD_HOST}:${deadPort}): connection refused\n`;
    child = await startGatewayProcess([`-gateway.proxy.default.url=http://${DEAD_HOST}:${deadPort}`]);
    pool = new Pool(child.url, { connections: CONCURRENCY, pipelining: 1 });
    sampler = setInterval(() => (floor = Math.min(floor, procMemory(child.pid).rss)), 20);
  });
  afterAll(async () => {
    clearInterval(sampler);
    await pool?.close();
    await child?.stop();
  });

  async function majorGcs(): Promise<number> {
    const res = await pool.request({ path: '/metrics', method: 'GET' });
    const m = /^nodejs_gc_duration_seconds_count\{kind="major"\} (\d+)$/m.exec(await res.body.text());
    return m ? Number(m[1]) : 0;
  }

  /** `n` requests, CONCURRENCY at a time, each checked; stops early (and fails) at the deadline. */
  async function batch(n: number, deadline: number): Promise<Batch> {
    floor = procMemory(child.pid).rss;
    let left = n;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (left > 0 && Date.now() < deadline) {
          left--;
          const res = await pool.request({ path: '/prometheus/api/v1/query?query=up', method: 'GET' });
          const body = await res.body.text();
          answered++;
          if (res.statusCode !== 502 || res.headers['x-gateway-error'] !== 'GW_ERR_UPSTREAM_REFUSED' || body !== expectedBody) {
            if (wrong.length < 5) wrong.push(`${res.statusCode} ${String(res.headers['x-gateway-error'])} ${JSON.stringify(body)}`);
          }
        }
      }),
    );
    expect(left, 'the run did not finish in time').toBe(0);
    return { floor: Math.min(floor, procMemory(child.pid).rss), majorGcs: await majorGcs() };
  }

  /** Floor over the batches from the last one in which a major collection ran to the end. */
  function floorSinceLastMajor(batches: readonly Batch[], before: number): { floor: number; from: number } {
    let from = batches.length - 1;
    while (from > 0 && batches[from - 1]!.majorGcs === batches[batches.length - 1]!.majorGcs) from--;
    const prior = from === 0 ? before : batches[from - 1]!.majorGcs;
    expect(batches[batches.length - 1]!.majorGcs, 'no major collection in the measured window').toBeGreaterThan(prior);
    return { floor: Math.min(...batches.slice(from).map((b) => b.floor)), from };
  }

  it(`answers ${RUN.toLocaleString('en')} requests to a refusing backend with 502, and its memory floor returns to the warmed-up one`, async () => {
    // A bound on the loop, not a performance limit: generous enough for a machine whose cores are all busy.
    const deadline = Date.now() + 780_000;
    // Warm-up: until two major collections have sized the heap for this load (at least 20,000 requests;
    // a busy machine collects less often, so the bound is generous).
    const m0 = await majorGcs();
    const warm: Batch[] = [];
    while (warm.length < 4 || warm[warm.length - 1]!.majorGcs < m0 + 2) {
      expect(warm.length, 'warm-up: two major collections within 150,000 requests').toBeLessThan(30);
      warm.push(await batch(BATCH, deadline));
    }
    const baseline = floorSinceLastMajor(warm, m0);

    const started = Date.now();
    const run: Batch[] = [];
    for (let done = 0; done < RUN; done += BATCH) run.push(await batch(BATCH, deadline));
    // The floor must come from a major collection in the second half of the run. The collector's cadence
    // depends on the machine (a busy one collected every ~50,000 requests here), so run on, bounded, until
    // one has fallen there.
    const half = RUN / BATCH / 2;
    while (run[run.length - 1]!.majorGcs === run[half - 1]!.majorGcs && run.length < (2 * RUN) / BATCH) {
      run.push(await batch(BATCH, deadline));
    }
    const seconds = (Date.now() - started) / 1000;
    const after = floorSinceLastMajor(run, warm[warm.length - 1]!.majorGcs);
    const now = procMemory(child.pid);

    console.info(
      `${run.length * BATCH} requests in ${seconds.toFixed(1)}s (${Math.round(RUN / seconds)}/s, ${CONCURRENCY} at a time); ` +
        `RSS floor after warm-up ${mib(baseline.floor)}, after the run ${mib(after.floor)} ` +
        `(from request ${(after.from * BATCH).toLocaleString('en')}); RSS when the run stopped ${mib(now.rss)}, peak ${mib(now.hwm)}; ` +
        `major GCs ${m0} -> ${run[run.length - 1]!.majorGcs}`,
    );
    expect(wrong).toEqual([]);
    expect(answered).toBe((warm.length + run.length) * BATCH);
    // The after-run window is near the end of the run, not its start.
    expect(after.from * BATCH).toBeGreaterThanOrEqual(RUN / 2);
    expect(after.floor).toBeLessThanOrEqual(baseline.floor + Math.max(15 * MiB, 0.2 * baseline.floor));
    // Between collections it stays bounded too: nothing piles up while requests fail.
    expect(now.hwm).toBeLessThan(baseline.floor + 160 * MiB);
    // The gateway still serves its own endpoints afterwards.
    const ready = await pool.request({ path: '/ready', method: 'GET' });
    expect(ready.statusCode).toBe(200);
    await ready.body.dump();
  }, 840_000);
});
