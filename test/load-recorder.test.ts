// LoadRecorder.absorb: how the primary of -server.workers sums its workers' reports for LRS.
import { describe, expect, it } from 'vitest';
import { LoadRecorder } from '../data-plane/load/load-recorder.js';

type Row = [cluster: string, address: string, issued: number, succeeded: number, failed: number, inProgress: number];

const rows = (r: LoadRecorder): Row[] =>
  r.takeReport().flatMap((c) =>
    c.upstream_locality_stats.flatMap((l) =>
      l.upstream_endpoint_stats.map((e): Row => [
        c.cluster_name,
        `${e.address!.socket_address!.address}:${e.address!.socket_address!.port_value}`,
        Number(e.total_issued_requests),
        Number(e.total_successful_requests),
        Number(e.total_error_requests),
        Number(e.total_requests_in_progress),
      ]),
    ),
  );

describe('LoadRecorder.absorb', () => {
  it('adds other processes\' counts; their in-progress replaces what each said before; forget drops it', () => {
    const worker1 = new LoadRecorder();
    const worker2 = new LoadRecorder();
    const primary = new LoadRecorder();
    const w1 = worker1.forCluster('distributor');
    const w2 = worker2.forCluster('distributor');
    w1.start('127.0.0.2:9095')(false);
    w1.start('127.0.0.2:9095')(true);
    const open1 = w1.start('127.0.0.3:9095');
    w2.start('127.0.0.2:9095')(false);
    const open2 = w2.start('127.0.0.2:9095');
    primary.absorb('worker 1', worker1.takeReport());
    primary.absorb('worker 2', worker2.takeReport());
    expect(rows(primary)).toEqual([
      ['distributor', '127.0.0.2:9095', 4, 2, 1, 1],
      ['distributor', '127.0.0.3:9095', 1, 0, 0, 1],
    ]);

    // Worker 1's request finishes: its next report leaves nothing in progress; worker 2 says nothing.
    open1(false);
    primary.absorb('worker 1', worker1.takeReport());
    expect(rows(primary)).toEqual([
      ['distributor', '127.0.0.2:9095', 0, 0, 0, 1],
      ['distributor', '127.0.0.3:9095', 0, 1, 0, 0],
    ]);
    primary.absorb('worker 1', worker1.takeReport()); // empty: nothing in progress
    // Worker 2 dies with its request open: it will never be answered by it.
    primary.forget('worker 2');
    expect(rows(primary)).toEqual([]);
    open2(false);
  });
});

describe('requests no endpoint took', () => {
  it('are reported as the cluster\'s total_dropped_requests, also with no endpoint stats, and merged from workers', () => {
    const r = new LoadRecorder();
    const d = r.forCluster('distributor');
    d.dropped();
    d.dropped();
    const [cs] = r.takeReport();
    expect(cs!.cluster_name).toBe('distributor');
    expect(Number(cs!.total_dropped_requests)).toBe(2);
    expect(cs!.upstream_locality_stats.flatMap((l) => l.upstream_endpoint_stats)).toEqual([]);
    const lead = new LoadRecorder();
    lead.absorb('worker-1', [cs!]);
    expect(Number(lead.takeReport()[0]!.total_dropped_requests)).toBe(2);
    expect(r.takeReport()).toEqual([]);
  });
});
