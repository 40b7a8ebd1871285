// A fleet of raw xDS clients in one process, for the dashboard benchmark: `node dist/bench/fleet-streams.js
// <xds host:port> <http url> <nodes> [channels] [node id prefix]`. Each node opens an ADS stream (SotW) asking for every
// type, ACKs every response, and an LRS stream that reports a little load per interval on three
// endpoints. Nodes share `channels` gRPC channels (HTTP/2 connections), as gateways behind a few
// NATed hosts would. Prints "ready <n>" once every node has ACKed all four types; runs until killed.

import * as grpc from '@grpc/grpc-js';
import { loadAdsService, type DiscoveryRequestMessage, type DiscoveryResponseMessage } from '../xds/ads-service.js';
import { durationMs, loadLrsService, msDuration, type LoadStatsRequestMessage, type LoadStatsResponseMessage } from '../xds/lrs-service.js';
import { TYPE_ORDER, TYPE_URL } from '../xds/resource.js';

const [xds = '', http = '', nodesArg = '1000', channelsArg = '20', prefix = 'bench-gw'] = process.argv.slice(2);
const NODES = Number(nodesArg);
const CHANNELS = Number(channelsArg);

type Bidi<Req, Res> = grpc.ClientDuplexStream<Req, Res>;
const method = <Req, Res>(client: grpc.Client, name: string): Bidi<Req, Res> =>
  (client as unknown as Record<string, (this: grpc.Client) => Bidi<Req, Res>>)[name]!.call(client);

async function names(): Promise<Record<string, string[]>> {
  const res = await fetch(`${http}/control-plane/api/v1/snapshot`);
  const snap = (await res.json()) as { resources: Record<string, { name: string }[]> };
  return { [TYPE_URL.endpoint]: snap.resources['ClusterLoadAssignment']!.map((r) => r.name), [TYPE_URL.route]: snap.resources['RouteConfiguration']!.map((r) => r.name) };
}

async function main(): Promise<void> {
  const wanted = await names();
  const Ads = loadAdsService().Client;
  const Lrs = loadLrsService().Client;
  const channels = Array.from({ length: CHANNELS }, () => new Ads(xds, grpc.credentials.createInsecure()));
  let synced = 0;
  for (let i = 0; i < NODES; i++) {
    const ads = channels[i % CHANNELS]!;
    const node = { id: `${prefix}-${String(i).padStart(4, '0')}`, cluster: `fleet-${i % 4}`, user_agent_name: 'bench-fleet', user_agent_version: '1', locality: { region: 'eu', zone: `z${i % 3}`, sub_zone: '' } };
    const stream = method<DiscoveryRequestMessage, DiscoveryResponseMessage>(ads, 'StreamAggregatedResources');
    stream.on('error', () => {});
    const acked = new Set<string>();
    let first = true;
    const send = (req: Omit<DiscoveryRequestMessage, 'node'>): void => {
      stream.write({ ...req, node: first ? node : null } as DiscoveryRequestMessage);
      first = false;
    };
    stream.on('data', (res: DiscoveryResponseMessage) => {
      send({ type_url: res.type_url, version_info: res.version_info, response_nonce: res.nonce, resource_names: wanted[res.type_url] ?? [], error_detail: null });
      if (!acked.has(res.type_url)) {
        acked.add(res.type_url);
        if (acked.size === TYPE_ORDER.length && ++synced === NODES) process.stdout.write(`ready ${NODES}\n`);
      }
    });
    for (const t of TYPE_ORDER) send({ type_url: t, version_info: '', response_nonce: '', resource_names: wanted[t] ?? [], error_detail: null });

    // LRS on the same channel as this node's ADS stream.
    const lrs = method<LoadStatsRequestMessage, LoadStatsResponseMessage>(new Lrs(xds, grpc.credentials.createInsecure(), { channelOverride: ads.getChannel() }), 'StreamLoadStats');
    lrs.on('error', () => {});
    lrs.on('data', (res: LoadStatsResponseMessage) => {
      const every = Math.max(1000, durationMs(res.load_reporting_interval));
      setInterval(() => {
        const eps = [2, 3, 4].map((h) => ({ address: { socket_address: { address: `10.0.0.${h}`, port_value: 9095 } }, total_issued_requests: 10 + (i % 5), total_successful_requests: 10 + (i % 5), total_error_requests: 0, total_requests_in_progress: 1 }));
        lrs.write({
          node: null,
          cluster_stats: [{
            cluster_name: 'distributor', cluster_service_name: '', total_dropped_requests: 0, load_report_interval: msDuration(every),
            upstream_locality_stats: [{ locality: { region: '', zone: '', sub_zone: '' }, total_issued_requests: 3 * (10 + (i % 5)), total_successful_requests: 3 * (10 + (i % 5)), total_error_requests: 0, total_requests_in_progress: 3, upstream_endpoint_stats: eps }],
          }],
        });
      }, every);
    });
    lrs.write({ node: node as unknown as LoadStatsRequestMessage['node'], cluster_stats: [] });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`fleet-streams: ${String(err)}\n`);
  process.exit(1);
});
