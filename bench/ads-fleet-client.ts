// A fleet of raw ADS clients in one process, for the control-plane fleet bench: `count` streams, each with
// its own node id, SotW or delta, spread over `channels` gRPC channels (each its own TCP connection: a
// local subchannel pool per channel). Every stream subscribes to the four types (CDS and LDS by wildcard,
// EDS and RDS by the names given) and ACKs every response at once, as a gateway that applies instantly.
// Driven over IPC by bench/scenarios/fleet.ts: it reports when every stream has ACKed all four types, then
// stays connected until told to disconnect, closes everything and exits.
//
// argv: <xds host:port> <count> <sotw|delta> <channels> <node id prefix> <eds names,> <rds names,>

import * as grpc from '@grpc/grpc-js';
import {
  loadAdsService,
  type DeltaDiscoveryRequestMessage,
  type DeltaDiscoveryResponseMessage,
  type DiscoveryRequestMessage,
  type DiscoveryResponseMessage,
  type NodeMessage,
} from '../xds/ads-service.js';
import { TYPE_URL } from '../xds/resource.js';

const [address = '', countArg = '0', protocol = 'sotw', channelsArg = '1', prefix = 'bench-gw', edsArg = '', rdsArg = ''] = process.argv.slice(2);
const count = Number(countArg);
const channelCount = Math.max(1, Math.min(count, Number(channelsArg)));
const split = (s: string): string[] => s.split(',').filter((x) => x !== '');
const SUBSCRIPTIONS: ReadonlyArray<readonly [string, readonly string[]]> = [
  [TYPE_URL.cluster, []],
  [TYPE_URL.endpoint, split(edsArg)],
  [TYPE_URL.listener, []],
  [TYPE_URL.route, split(rdsArg)],
];

const { Client } = loadAdsService();
const clients = Array.from(
  { length: channelCount },
  () => new Client(address, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1, 'grpc.max_receive_message_length': 64 * 1024 * 1024 }),
);
const calls: grpc.ClientDuplexStream<unknown, unknown>[] = [];
let synced = 0;
let acks = 0;
let failed = 0;

function node(i: number): NodeMessage {
  return { id: `${prefix}-${i}`, cluster: 'bench-fleet', user_agent_name: 'bench-ads-fleet-client', metadata: null };
}

function openSotw(client: grpc.Client, i: number): void {
  const call = (client as unknown as { StreamAggregatedResources(): grpc.ClientDuplexStream<Partial<DiscoveryRequestMessage>, DiscoveryResponseMessage> }).StreamAggregatedResources();
  calls.push(call as grpc.ClientDuplexStream<unknown, unknown>);
  const ackedTypes = new Set<string>();
  const names = new Map(SUBSCRIPTIONS);
  call.on('data', (res: DiscoveryResponseMessage) => {
    call.write({ type_url: res.type_url, version_info: res.version_info, response_nonce: res.nonce, resource_names: [...(names.get(res.type_url) ?? [])] });
    acks++;
    if (ackedTypes.size < SUBSCRIPTIONS.length && !ackedTypes.has(res.type_url) && ackedTypes.add(res.type_url).size === SUBSCRIPTIONS.length) synced++;
  });
  call.on('error', () => void failed++);
  SUBSCRIPTIONS.forEach(([typeUrl, resourceNames], k) => call.write({ ...(k === 0 ? { node: node(i) } : {}), type_url: typeUrl, resource_names: [...resourceNames] }));
}

function openDelta(client: grpc.Client, i: number): void {
  const call = (client as unknown as { DeltaAggregatedResources(): grpc.ClientDuplexStream<Partial<DeltaDiscoveryRequestMessage>, DeltaDiscoveryResponseMessage> }).DeltaAggregatedResources();
  calls.push(call as grpc.ClientDuplexStream<unknown, unknown>);
  const ackedTypes = new Set<string>();
  call.on('data', (res: DeltaDiscoveryResponseMessage) => {
    call.write({ type_url: res.type_url, response_nonce: res.nonce });
    acks++;
    if (ackedTypes.size < SUBSCRIPTIONS.length && !ackedTypes.has(res.type_url) && ackedTypes.add(res.type_url).size === SUBSCRIPTIONS.length) synced++;
  });
  call.on('error', () => void failed++);
  SUBSCRIPTIONS.forEach(([typeUrl, resourceNames], k) =>
    call.write({ ...(k === 0 ? { node: node(i) } : {}), type_url: typeUrl, resource_names_subscribe: [...resourceNames] }),
  );
}

for (let i = 0; i < count; i++) (protocol === 'delta' ? openDelta : openSotw)(clients[i % channelCount]!, i);

// Progress to the orchestrator every 100 ms; bounded by the orchestrator, which kills us at its end.
const report = setInterval(() => process.send?.({ synced, acks, failed, count }), 100);
process.on('message', (msg: unknown) => {
  if (msg !== 'disconnect') return;
  clearInterval(report);
  for (const c of calls) c.cancel();
  for (const c of clients) c.close();
  process.send?.({ synced, acks, failed, count, closed: true }, () => process.exit(0));
});
process.on('disconnect', () => process.exit(0));
