// The httpgrpc "cluster" the scenarios share: the in-process DNS server from examples/local and three
// distributors on 127.0.0.2-.4 (one port), in the peers process. Started once, on first use.

import type { BenchContext } from './context.js';
import { httpGet, waitFor } from './proc.js';

export const DNS_NAME = 'distributor.bench';
export const DISTRIBUTOR_HOSTS = ['127.0.0.2', '127.0.0.3', '127.0.0.4'] as const;
/** CoreDNS's default TTL for Kubernetes records (kubernetes plugin `ttl`). */
export const RECORD_TTL_S = 5;

export interface Cluster {
  readonly dnsPort: number;
  readonly grpcPort: number;
  /** dns://127.0.0.1:<dns>/distributor.bench:<port> (RFC 4501 authority: our DNS server). */
  readonly url: string;
  /** "host:port" of each distributor, as peers counts name them. */
  readonly keys: readonly string[];
}

const clusters = new WeakMap<BenchContext, Cluster>();

export async function cluster(ctx: BenchContext): Promise<Cluster> {
  const known = clusters.get(ctx);
  if (known) return known;
  const dnsPort = await ctx.peers.dns();
  const grpcPort = await ctx.peers.grpc(DISTRIBUTOR_HOSTS);
  await ctx.peers.records(DNS_NAME, DISTRIBUTOR_HOSTS, RECORD_TTL_S);
  const c: Cluster = {
    dnsPort,
    grpcPort,
    url: `dns://127.0.0.1:${dnsPort}/${DNS_NAME}:${grpcPort}`,
    keys: DISTRIBUTOR_HOSTS.map((h) => `${h}:${grpcPort}`),
  };
  clusters.set(ctx, c);
  return c;
}

interface ConfigView {
  applied: { upstreams: Array<{ cluster: string; endpoints?: Array<{ address: string; state: string }> }> } | null;
}

/** Waits until the gateway at `url` has `n` READY endpoints for the distributor. */
export async function waitReadyEndpoints(url: string, n: number, timeoutMs = 15_000): Promise<void> {
  await waitFor(`${n} READY distributor endpoints at ${url}`, timeoutMs, async () => {
    const r = await httpGet(`${url}/gateway/api/v1/config`);
    if (r?.status !== 200) return undefined;
    const view = JSON.parse(r.body) as ConfigView;
    const eps = view.applied?.upstreams.find((u) => u.cluster === 'distributor')?.endpoints ?? [];
    return eps.filter((e) => e.state === 'READY').length >= n ? true : undefined;
  });
}
