// A stand-in Mimir distributor: an httpgrpc server taking Prometheus remote-write 1.0 on
// /api/v1/push (snappy block format + protobuf WriteRequest). It counts series and samples per
// tenant and records every (series, timestamp) pair, so an end-to-end test can prove nothing was
// lost or duplicated on the way through the gateway.
//   node dist/examples/local/demo-distributor.js [host:port]     (default 127.0.0.1:9095)
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import protobuf from 'protobufjs';
import { protoPath } from '../../data-plane/httpgrpc/proto-files.js';
import { headerValues, HttpGrpcServer, type HandlerResult, type ReceivedRequest } from './httpgrpc-server.js';

interface Snappy {
  compress(input: Uint8Array): Uint8Array;
  uncompress(input: Uint8Array, maxLength?: number): Uint8Array;
}
// snappyjs is CommonJS without types.
const snappy = createRequire(import.meta.url)('snappyjs') as Snappy;

export interface Sample {
  readonly value: number;
  /** Milliseconds since the Unix epoch. */
  readonly timestamp: number;
}

export interface Series {
  readonly labels: Readonly<Record<string, string>>;
  readonly samples: readonly Sample[];
}

let writeRequest: protobuf.Type | undefined;
function writeRequestType(): protobuf.Type {
  writeRequest ??= protobuf.loadSync(protoPath('remote.proto')).lookupType('prometheus.WriteRequest');
  return writeRequest;
}

/** Canonical series identity: labels sorted by name, `name="value"` joined by ",". */
export function seriesKey(labels: Readonly<Record<string, string>>): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`)
    .join(',');
}

/** A remote-write request body as Prometheus sends it: snappy(WriteRequest). */
export function encodeRemoteWrite(series: readonly Series[]): Buffer {
  const type = writeRequestType();
  const message = type.fromObject({
    timeseries: series.map((s) => ({
      labels: Object.keys(s.labels)
        .sort()
        .map((name) => ({ name, value: s.labels[name] })),
      samples: s.samples.map((x) => ({ value: x.value, timestamp: x.timestamp })),
    })),
  });
  return Buffer.from(snappy.compress(type.encode(message).finish()));
}

interface DecodedWriteRequest {
  timeseries?: Array<{ labels?: Array<{ name?: string; value?: string }>; samples?: Array<{ value?: number; timestamp?: number }> }>;
}

export function decodeRemoteWrite(body: Uint8Array, maxDecodedBytes = 256 * 1024 * 1024): Series[] {
  const raw = snappy.uncompress(body, maxDecodedBytes);
  const type = writeRequestType();
  const obj = type.toObject(type.decode(raw), { longs: Number, defaults: true }) as DecodedWriteRequest;
  return (obj.timeseries ?? []).map((ts) => ({
    labels: Object.fromEntries((ts.labels ?? []).map((l) => [l.name ?? '', l.value ?? ''])),
    samples: (ts.samples ?? []).map((s) => ({ value: s.value ?? 0, timestamp: s.timestamp ?? 0 })),
  }));
}

export interface TenantStats {
  requests: number;
  series: number;
  samples: number;
}

export class DemoDistributor {
  readonly tenants = new Map<string, TenantStats>();
  /** seriesKey → every timestamp received for it, in arrival order (duplicates kept). */
  readonly received = new Map<string, number[]>();

  private constructor(readonly server: HttpGrpcServer) {}

  static async start(opts: { host?: string; port?: number } = {}): Promise<DemoDistributor> {
    const server = await HttpGrpcServer.start({ ...opts, record: false });
    const d = new DemoDistributor(server);
    server.handler = (req) => d.handle(req);
    return d;
  }

  get address(): string {
    return this.server.address;
  }

  /** Total (series, timestamp) pairs received, duplicates included. */
  get pairCount(): number {
    let n = 0;
    for (const ts of this.received.values()) n += ts.length;
    return n;
  }

  has(labels: Readonly<Record<string, string>>, timestamp: number): boolean {
    return this.received.get(seriesKey(labels))?.includes(timestamp) ?? false;
  }

  private handle(req: ReceivedRequest): HandlerResult {
    const path = req.url.split('?')[0];
    if (path !== '/api/v1/push') return { dskitError: { code: 404, body: `404 page not found: ${path}\n` } };
    if (req.method !== 'POST') return { dskitError: { code: 405, body: 'remote write needs POST\n' } };
    const encoding = headerValues(req, 'content-encoding')[0];
    if (encoding !== undefined && encoding !== 'snappy') {
      return { dskitError: { code: 415, body: `unsupported Content-Encoding ${encoding}; remote write 1.0 is snappy\n` } };
    }
    let series: Series[];
    try {
      series = decodeRemoteWrite(req.body);
    } catch (err) {
      return { dskitError: { code: 400, body: `cannot decode remote-write body: ${(err as Error).message}\n` } };
    }
    // Mimir takes the tenant from gRPC metadata (set by the gateway from X-Scope-OrgID);
    // "anonymous" is its tenant when multitenancy is off.
    const tenant = req.metadata['x-scope-orgid']?.[0] ?? 'anonymous';
    let stats = this.tenants.get(tenant);
    if (stats === undefined) {
      stats = { requests: 0, series: 0, samples: 0 };
      this.tenants.set(tenant, stats);
    }
    stats.requests++;
    for (const s of series) {
      stats.series++;
      stats.samples += s.samples.length;
      const key = seriesKey(s.labels);
      let list = this.received.get(key);
      if (list === undefined) {
        list = [];
        this.received.set(key, list);
      }
      for (const x of s.samples) list.push(x.timestamp);
    }
    return { code: 200 };
  }

  shutdown(): Promise<void> {
    return this.server.shutdown();
  }

  kill(): void {
    this.server.kill();
  }
}

async function main(): Promise<void> {
  const arg = process.argv[2] ?? '127.0.0.1:9095';
  const i = arg.lastIndexOf(':');
  const d = await DemoDistributor.start({ host: arg.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(arg.slice(i + 1)) });
  process.stdout.write(`demo distributor (httpgrpc) listening on ${d.address}\n`);
  const report = setInterval(() => {
    for (const [tenant, s] of d.tenants) process.stdout.write(`tenant=${tenant} requests=${s.requests} series=${s.series} samples=${s.samples}\n`);
  }, 10_000);
  report.unref();
  process.once('SIGINT', () => void d.shutdown().then(() => process.exit(0)));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`demo distributor: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
