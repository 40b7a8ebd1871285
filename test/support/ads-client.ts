import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { AdsServer } from '../../control-plane/xds/ads-server.js';
import { SnapshotCache } from '../../control-plane/xds/snapshot-cache.js';
import {
  loadAdsService,
  type DeltaDiscoveryRequestMessage,
  type DeltaDiscoveryResponseMessage,
  type DiscoveryRequestMessage,
  type DiscoveryResponseMessage,
  type NodeMessage,
} from '../../xds/ads-service.js';
import { decodeFixture } from './xds-fixtures.js';
import { MIN_DEADLINE_MS, eventually as poll } from './poll.js';

// A raw ADS client for tests: sends exactly the requests a test writes and hands back
// responses one at a time, with a deadline, so protocol rules can be checked message by message.

type DeepPartial<T> = { -readonly [K in keyof T]?: T[K] extends object ? Partial<T[K]> : T[K] };

export const TEST_NODE: Partial<NodeMessage> = { id: 'gateway-1', cluster: 'gateways', user_agent_name: 'ads-test-client' };

/** Messages of one stream, in order; `next` waits for the following one or fails at a deadline. */
class Inbox<T> {
  private readonly queue: T[] = [];
  private waiter: { resolve: (v: T) => void; reject: (e: Error) => void } | undefined;
  private endedWith: Error | undefined;

  push(v: T): void {
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w.resolve(v);
    } else this.queue.push(v);
  }

  end(err: Error): void {
    this.endedWith = err;
    this.waiter?.reject(err);
    this.waiter = undefined;
  }

  next(timeoutMs: number): Promise<T> {
    const v = this.queue.shift();
    if (v !== undefined) return Promise.resolve(v);
    if (this.endedWith) return Promise.reject(this.endedWith);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error(`no ADS response within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
      this.waiter = {
        resolve: (x) => {
          clearTimeout(timer);
          resolve(x);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
    });
  }

  pending(): number {
    return this.queue.length;
  }
}

class TestStream<Req, Res> {
  private readonly inbox = new Inbox<Res>();
  /** Resolves with the call's final status. */
  readonly status: Promise<grpc.StatusObject>;
  private first = true;

  constructor(private readonly call: grpc.ClientDuplexStream<Req, Res>) {
    call.on('data', (m: Res) => this.inbox.push(m));
    call.on('error', () => {}); // the status promise reports it
    this.status = new Promise((resolve) => {
      call.on('status', (s: grpc.StatusObject) => {
        this.inbox.end(new Error(`stream ended: ${grpc.status[s.code]} ${s.details}`));
        resolve(s);
      });
    });
  }

  /** Sends a request; the first one of the stream carries the test node. */
  send(req: DeepPartial<Req>): void {
    const withNode = this.first && !('node' in req) ? { node: TEST_NODE, ...req } : req;
    this.first = false;
    this.call.write(withNode as Req);
  }

  next(timeoutMs = MIN_DEADLINE_MS): Promise<Res> {
    return this.inbox.next(Math.max(timeoutMs, MIN_DEADLINE_MS));
  }

  /** Responses received but not yet taken with next(). */
  queued(): number {
    return this.inbox.pending();
  }

  /** Client half-close. */
  end(): void {
    this.call.end();
  }

  cancel(): void {
    this.call.cancel();
  }
}

export class SotwTestStream extends TestStream<DiscoveryRequestMessage, DiscoveryResponseMessage> {
  /** ACKs `res`, keeping (or changing to) `names`. */
  ack(res: DiscoveryResponseMessage, names: string[] = []): void {
    this.send({ type_url: res.type_url, version_info: res.version_info, response_nonce: res.nonce, resource_names: names });
  }

  /** NACKs `res`, reporting `previousVersion` as the one still applied. */
  nack(res: DiscoveryResponseMessage, message: string, names: string[] = [], previousVersion = ''): void {
    this.send({
      type_url: res.type_url,
      version_info: previousVersion,
      response_nonce: res.nonce,
      resource_names: names,
      error_detail: { code: 3, message },
    });
  }
}

export class DeltaTestStream extends TestStream<DeltaDiscoveryRequestMessage, DeltaDiscoveryResponseMessage> {
  ack(res: DeltaDiscoveryResponseMessage): void {
    this.send({ type_url: res.type_url, response_nonce: res.nonce });
  }

  nack(res: DeltaDiscoveryResponseMessage, message: string): void {
    this.send({ type_url: res.type_url, response_nonce: res.nonce, error_detail: { code: 3, message } });
  }
}

export class AdsTestClient {
  private readonly client: grpc.Client;

  constructor(port: number) {
    const { Client } = loadAdsService();
    this.client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  }

  sotw(): SotwTestStream {
    return new SotwTestStream(this.method<DiscoveryRequestMessage, DiscoveryResponseMessage>('StreamAggregatedResources'));
  }

  delta(): DeltaTestStream {
    return new DeltaTestStream(this.method<DeltaDiscoveryRequestMessage, DeltaDiscoveryResponseMessage>('DeltaAggregatedResources'));
  }

  close(): void {
    this.client.close();
  }

  private method<Req, Res>(name: string): grpc.ClientDuplexStream<Req, Res> {
    const fn = (this.client as unknown as Record<string, () => grpc.ClientDuplexStream<Req, Res>>)[name];
    if (!fn) throw new Error(`no method ${name}`);
    return fn.call(this.client);
  }
}

/** Names and contents of a SotW response's resources, e.g. ['a|v1', 'b|v2']. */
export function sotwContents(res: DiscoveryResponseMessage): string[] {
  return res.resources.map((r) => decodeFixture(r.value).join('|'));
}

/** Names and contents of a delta response's resources. */
export function deltaContents(res: DeltaDiscoveryResponseMessage): string[] {
  return res.resources.map((r) => (r.resource ? decodeFixture(r.resource.value).join('|') : `${r.name}|<no body>`));
}

/** Polls `cond` until true or the deadline. */
export async function eventually(cond: () => boolean, timeoutMs = MIN_DEADLINE_MS, what = 'condition'): Promise<void> {
  await poll(cond, what, timeoutMs, 5);
}

export interface AdsHarness {
  readonly cache: SnapshotCache;
  readonly ads: AdsServer;
  readonly registry: Registry;
  readonly client: AdsTestClient;
  /** Closes the client, every stream and the server. */
  close(): Promise<void>;
}

/** A cache + ADS server on 127.0.0.1:0 + a client connected to it. */
export async function startAds(): Promise<AdsHarness> {
  const logger = pino({ level: 'silent' });
  const registry = new Registry();
  const cache = new SnapshotCache({ logger, metricsRegistry: registry });
  const ads = new AdsServer({ cache, logger, metricsRegistry: registry });
  const listening = await ads.listen('127.0.0.1:0');
  const client = new AdsTestClient(listening.port);
  return {
    cache,
    ads,
    registry,
    client,
    close: async () => {
      client.close();
      await listening.close();
    },
  };
}

/** Current value of a metric with the given labels (0 when absent). */
export async function metricValue(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return 0;
  const { values } = await metric.get();
  const hit = values.find((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want));
  return hit ? hit.value : 0;
}
