import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { translate, type TranslateInput } from '../../control-plane/translate.js';
import { AdsServer } from '../../control-plane/xds/ads-server.js';
import type { DiscoveryRequestMessage } from '../../xds/ads-service.js';
import { encodeResource, decodeResource, type PlainMessage } from '../../xds/protos.js';
import { TYPE_ORDER, type TypeUrl, type XdsResource } from '../../xds/resource.js';
import { Snapshot } from '../../control-plane/xds/snapshot.js';
import { SnapshotCache } from '../../control-plane/xds/snapshot-cache.js';
import { XdsClient, type AcceptedResources, type XdsClientOptions } from '../../data-plane/xds/ads-client.js';
import { realisticInput } from './fixtures.js';

// A real control plane (SnapshotCache + AdsServer) on loopback that also records every request
// it receives, and an XdsClient pointed at it, for the data-plane ADS client tests.

export interface ControlPlane {
  readonly cache: SnapshotCache;
  readonly ads: AdsServer;
  readonly port: number;
  readonly address: string;
  /** Every DiscoveryRequest received, across streams and restarts, in order. */
  readonly requests: DiscoveryRequestMessage[];
  /** Stops listening and ends every stream (clients see UNAVAILABLE). */
  stop(): Promise<void>;
  /** Listens again on the same host and port, with the same cache and node registry. */
  restart(): Promise<void>;
}

/** Starts a control plane on `host:port` (port 0: any free port). */
export async function startControlPlane(host = '127.0.0.1', port = 0): Promise<ControlPlane> {
  const logger = pino({ level: 'silent' });
  const registry = new Registry();
  const cache = new SnapshotCache({ logger, metricsRegistry: registry });
  const ads = new AdsServer({ cache, logger, metricsRegistry: registry });
  const requests: DiscoveryRequestMessage[] = [];
  let server: grpc.Server | undefined;

  const listen = async (p: number): Promise<number> => {
    const real = new grpc.Server();
    // AdsServer only calls addService; wrap its handler to record requests before it sees them.
    const recording = {
      addService(service: grpc.ServiceDefinition, impl: grpc.UntypedServiceImplementation): void {
        const sotw = impl['StreamAggregatedResources'] as grpc.handleBidiStreamingCall<DiscoveryRequestMessage, unknown>;
        real.addService(service, {
          ...impl,
          StreamAggregatedResources: (call: grpc.ServerDuplexStream<DiscoveryRequestMessage, unknown>) => {
            call.on('data', (req: DiscoveryRequestMessage) => requests.push(req));
            sotw(call);
          },
        });
      },
    };
    ads.addTo(recording as unknown as grpc.Server);
    const bound = await new Promise<number>((resolve, reject) => {
      real.bindAsync(`${host}:${p}`, grpc.ServerCredentials.createInsecure(), (err, n) => (err ? reject(err) : resolve(n)));
    });
    server = real;
    return bound;
  };

  const bound = await listen(port);
  const cp: ControlPlane = {
    cache,
    ads,
    port: bound,
    address: `${host}:${bound}`,
    requests,
    stop: async () => {
      server?.forceShutdown();
      server = undefined;
      ads.closeStreams();
    },
    restart: async () => {
      await listen(bound);
    },
  };
  return cp;
}

/** The control plane's resources for `input` (default: the realistic cluster of fixtures.ts). */
export function translated(input: TranslateInput = realisticInput()): XdsResource[] {
  const out = translate(input);
  return TYPE_ORDER.flatMap((t) => out.get(t) ?? []);
}

/** `resources` with the one of that type and name re-encoded after `edit` changed its view. */
export function withEdited(
  resources: readonly XdsResource[],
  typeUrl: TypeUrl,
  name: string,
  edit: (view: PlainMessage) => PlainMessage,
): XdsResource[] {
  let found = false;
  const out = resources.map((r) => {
    if (r.typeUrl !== typeUrl || r.name !== name) return r;
    found = true;
    const view = edit(decodeResource(typeUrl, r.value));
    return { ...r, value: encodeResource(typeUrl, view), view };
  });
  if (!found) throw new Error(`withEdited: no ${typeUrl} "${name}"`);
  return out;
}

export function snapshot(resources: readonly XdsResource[]): Snapshot {
  return Snapshot.fromResources(resources);
}

export interface ClientUnderTest {
  readonly client: XdsClient;
  readonly registry: Registry;
  /** Every onUpdate call: the accepted value and the type that changed. */
  readonly updates: { readonly accepted: AcceptedResources; readonly type: TypeUrl }[];
}

/** An XdsClient with fast backoff, a silent logger and its own registry; not started. */
export function newClient(servers: string[], extra: Partial<XdsClientOptions> = {}): ClientUnderTest {
  const registry = new Registry();
  const updates: ClientUnderTest['updates'] = [];
  const client = new XdsClient({
    servers,
    node: { id: 'gateway-test-1', cluster: 'gateways', metadata: { zone: 'zone-a', replicas: 3, canary: false } },
    listenerName: 'metrics-gateway',
    logger: pino({ level: 'silent' }),
    registry,
    backoff: { initialMs: 20, maxMs: 100 },
    userAgentVersion: '0.1.0-test',
    onUpdate: (accepted, type) => updates.push({ accepted, type }),
    ...extra,
  });
  return { client, registry, updates };
}

/** Requests of one type received by the control plane, oldest first. */
export function requestsOf(cp: ControlPlane, typeUrl: TypeUrl): DiscoveryRequestMessage[] {
  return cp.requests.filter((r) => r.type_url === typeUrl);
}
