// Prometheus remote-write through the httpgrpc proxy to demo distributors: nothing lost, nothing twice.
import { createRequire } from 'node:module';
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from 'undici';
import { DemoDistributor, decodeRemoteWrite, encodeRemoteWrite, seriesKey, type Series } from '../examples/local/demo-distributor.js';
import { readyCount, startProxy, waitFor, type Proxy } from './support/httpgrpc-harness.js';

const snappy = createRequire(import.meta.url)('snappyjs') as { compress(b: Uint8Array): Uint8Array };

let distributors: DemoDistributor[] = [];
let proxy: Proxy | undefined;
let http: Client | undefined;

afterEach(async () => {
  await http?.close();
  await proxy?.close();
  for (const d of distributors) d.kill();
  distributors = [];
  proxy = undefined;
  http = undefined;
});

// protobuf wire format written out by hand (prompb field numbers), independent of protobufjs.
function field(no: number, wire: number, payload: Buffer): Buffer {
  const len: number[] = [];
  for (let n = payload.length; ; n >>>= 7) {
    if (n < 0x80) {
      len.push(n);
      break;
    }
    len.push((n & 0x7f) | 0x80);
  }
  return Buffer.concat([Buffer.from([(no << 3) | wire]), wire === 2 ? Buffer.from(len) : Buffer.alloc(0), payload]);
}
const str = (no: number, s: string): Buffer => field(no, 2, Buffer.from(s));
function sample(value: number, ts: number): Buffer {
  const v = Buffer.alloc(8);
  v.writeDoubleLE(value);
  const t: number[] = [];
  for (let n = BigInt(ts); ; n >>= 7n) {
    if (n < 0x80n) {
      t.push(Number(n));
      break;
    }
    t.push(Number(n & 0x7fn) | 0x80);
  }
  return Buffer.concat([field(1, 1, v), field(2, 0, Buffer.from(t))]);
}

async function push(c: Client, body: Uint8Array, tenant: string): Promise<number> {
  const res = await c.request({
    path: '/api/v1/push',
    method: 'POST',
    body,
    headers: { 'content-encoding': 'snappy', 'content-type': 'application/x-protobuf', 'x-prometheus-remote-write-version': '0.1.0', 'x-scope-orgid': tenant },
  });
  await res.body.text();
  return res.statusCode;
}

describe('remote-write through httpgrpc', () => {
  it('decodes a real snappy remote-write body and counts its samples', async () => {
    const d = await DemoDistributor.start({ host: '127.0.0.2' });
    distributors.push(d);
    proxy = await startProxy([d.server.endpoint]);
    await waitFor(() => readyCount(proxy!.upstream) === 1, 'READY endpoint');
    const series = (name: string, job: string, samples: Buffer[]): Buffer =>
      field(1, 2, Buffer.concat([field(1, 2, Buffer.concat([str(1, '__name__'), str(2, name)])), field(1, 2, Buffer.concat([str(1, 'job'), str(2, job)])), ...samples.map((s) => field(2, 2, s))]));
    const writeRequest = Buffer.concat([
      series('up', 'node', [sample(1, 1_700_000_000_000), sample(1, 1_700_000_015_000)]),
      series('http_requests_total', 'api', [sample(42.5, 1_700_000_000_000)]),
    ]);
    http = new Client(proxy.url);
    expect(await push(http, snappy.compress(writeRequest), 'team-a')).toBe(200);
    expect(d.tenants.get('team-a')).toEqual({ requests: 1, series: 2, samples: 3 });
    expect(d.has({ __name__: 'up', job: 'node' }, 1_700_000_015_000)).toBe(true);
    expect(d.has({ __name__: 'http_requests_total', job: 'api' }, 1_700_000_000_000)).toBe(true);
    expect(decodeRemoteWrite(snappy.compress(writeRequest))[1]!.samples).toEqual([{ value: 42.5, timestamp: 1_700_000_000_000 }]);
  });

  it('delivers every (series, timestamp) pair exactly once across 3 distributors', async () => {
    distributors = await Promise.all(['127.0.0.2', '127.0.0.3', '127.0.0.4'].map((host) => DemoDistributor.start({ host })));
    proxy = await startProxy(distributors.map((d) => d.server.endpoint));
    await waitFor(() => readyCount(proxy!.upstream) === 3, '3 READY endpoints');
    http = new Client(proxy.url, { pipelining: 1 });

    const sent = new Set<string>();
    for (let req = 0; req < 60; req++) {
      const batch: Series[] = Array.from({ length: 50 }, (_, s) => ({
        labels: { __name__: 'demo_metric', instance: `host-${s}`, job: 'load' },
        samples: [{ value: req, timestamp: 1_700_000_000_000 + req * 15_000 }],
      }));
      for (const s of batch) sent.add(`${seriesKey(s.labels)}@${s.samples[0]!.timestamp}`);
      expect(await push(http, encodeRemoteWrite(batch), 'load-test')).toBe(200);
    }

    const received: string[] = [];
    for (const d of distributors) for (const [key, stamps] of d.received) for (const ts of stamps) received.push(`${key}@${ts}`);
    expect(received.length).toBe(3000);
    expect(new Set(received)).toEqual(sent);
    expect(distributors.map((d) => d.tenants.get('load-test')?.requests)).toEqual([20, 20, 20]);
  });

  it('answers a body that is not snappy with the distributor 400, passed through', async () => {
    const d = await DemoDistributor.start({ host: '127.0.0.2' });
    distributors.push(d);
    proxy = await startProxy([d.server.endpoint]);
    await waitFor(() => readyCount(proxy!.upstream) === 1, 'READY endpoint');
    http = new Client(proxy.url);
    const res = await http.request({ path: '/api/v1/push', method: 'POST', body: 'not snappy', headers: { 'content-encoding': 'snappy' } });
    expect(res.statusCode).toBe(400);
    expect(await res.body.text()).toMatch(/^cannot decode remote-write body/);
  });
});
