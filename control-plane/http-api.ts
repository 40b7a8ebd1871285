// The control plane's HTTP API under /control-plane/: who is connected and what they applied,
// what is being served, and why the last change was (not) published.

import type { FastifyInstance } from 'fastify';
import type { ConfigStatus } from './config-watcher.js';
import type { BuildStatus } from './control-plane.js';
import type { DnsTargetStatus } from './dns/dns-watcher.js';
import type { FleetView } from './fleet/fleet-view.js';
import { parsePeerAsk, PEER_STATE_PATH } from './fleet/peer-state.js';
import type { SnapshotCache } from './xds/snapshot-cache.js';
import { shortType, TYPE_ORDER } from '../xds/resource.js';
import { ERRORS } from '../core/errors.js';
import { parseNodeQuery } from './node-query-params.js';
import type { LoadStore } from './lrs/load-store.js';

export interface ControlPlaneApiDeps {
  /** The fleet: this replica's streams and load merged with its peers'. */
  readonly fleet: FleetView;
  readonly cache: SnapshotCache;
  build(): BuildStatus;
  dns(): readonly DnsTargetStatus[];
  config(): ConfigStatus | undefined;
  /** The tokens file: its watcher's status and the ids in force (never hashes). */
  tokens(): (ConfigStatus & { readonly ids: readonly string[] }) | undefined;
  /** The fleet's load reports, when load reporting is served. */
  readonly load?: LoadStore;
}

export function registerControlPlaneApi(app: FastifyInstance, deps: ControlPlaneApiDeps): void {
  // ?state=&cluster=&prefix=&sort=&order=&offset=&limit= ; summary counts always cover the whole
  // fleet (every replica's streams); each node names the replica holding it; `peers` says which
  // replicas answered (a peer that does not: its nodes are listed as state "unknown").
  app.get('/control-plane/api/v1/nodes', async (req, reply) => {
    const parsed = parseNodeQuery(req.query as Record<string, string | string[] | undefined>);
    if (typeof parsed === 'string') return reply.code(400).send({ error: parsed, code: ERRORS.BAD_REQUEST.code });
    return deps.fleet.query(parsed);
  });

  // Load reports (LRS) of the whole fleet: per backend and endpoint, and per reporting node. Every
  // rate is over the same window (windowSeconds); the chart series has bucketSeconds points over
  // seriesSeconds. A peer that does not answer is named in `missing`: its gateways' share is absent.
  app.get('/control-plane/api/v1/load', async (_req, reply) => {
    if (!deps.load) return reply.code(404).send({ error: 'load reporting is not served by this process' });
    const { bucketSeconds, seconds } = deps.load.series;
    return {
      windowSeconds: deps.load.windowSeconds,
      bucketSeconds,
      seriesSeconds: seconds,
      replica: deps.fleet.replica,
      missing: deps.fleet.peerStatus().filter((p) => p.state !== 'up').map((p) => p.address),
      clusters: deps.fleet.clusters(),
      nodes: deps.fleet.loadNodes(),
      zones: deps.fleet.zoneMatrix(),
    };
  });

  // What this replica holds, for its peers' merged view (control-plane/fleet/peer-state.ts).
  app.get(PEER_STATE_PATH, async (req) => deps.fleet.peerState(parsePeerAsk(req.query as Record<string, string | undefined>)));

  app.get('/control-plane/api/v1/peers', async () => ({ replica: deps.fleet.replica, instance: deps.fleet.instance, peers: deps.fleet.peerStatus() }));

  app.get('/control-plane/api/v1/snapshot', async (_req, reply) => {
    const snapshot = deps.cache.getSnapshot();
    if (!snapshot) return reply.code(503).send({ error: 'no snapshot published yet' });
    return {
      versions: Object.fromEntries(TYPE_ORDER.map((t) => [shortType(t), snapshot.version(t)])),
      resources: Object.fromEntries(
        TYPE_ORDER.map((t) => [shortType(t), [...snapshot.resources(t).values()].map((r) => ({ name: r.name, resource: r.view }))]),
      ),
    };
  });

  app.get('/control-plane/api/v1/status', async () => ({
    snapshot: deps.cache.status(),
    build: deps.build(),
    config: deps.config() ?? null,
    tokens: deps.tokens() ?? null,
    dns: deps.dns(),
  }));
}
