// The zone → zone matrix of the fleet's requests (issue 20): gateways in zone X (their Node.locality
// zone) to endpoints in zone Y (the upstream_locality_stats zone of their load reports), in requests/s
// over the load window, and the share that crossed a zone. Bytes per zone pair are on each gateway's
// metrics (metrics_gateway_httpgrpc_zone_bytes_total); LRS carries request counts.

export interface ZoneCell {
  readonly fromZone: string;
  readonly toZone: string;
  readonly rps: number;
}

export interface ZoneMatrix {
  readonly cells: readonly ZoneCell[];
  /** Requests/s between different zones over all zoned requests/s; null with none (or no zoned gateway). */
  readonly crossZoneShare: number | null;
}

/**
 * @param rows per reporting stream: node id and requests/s per endpoint zone
 * @param zoneOf node id → its zone ('' none: such rows count as from "")
 */
export function zoneMatrix(rows: readonly { readonly nodeId: string; readonly toZones?: Readonly<Record<string, number>> }[], zoneOf: ReadonlyMap<string, string>): ZoneMatrix {
  const cells = new Map<string, { fromZone: string; toZone: string; rps: number }>();
  let zoned = 0;
  let cross = 0;
  for (const r of rows) {
    const fromZone = zoneOf.get(r.nodeId) ?? '';
    for (const [toZone, rps] of Object.entries(r.toZones ?? {})) {
      const key = `${fromZone}\u0000${toZone}`;
      const c = cells.get(key) ?? { fromZone, toZone, rps: 0 };
      c.rps += rps;
      cells.set(key, c);
      if (fromZone === '') continue;
      zoned += rps;
      if (fromZone !== toZone) cross += rps;
    }
  }
  const sorted = [...cells.values()].sort((a, b) => (a.fromZone < b.fromZone ? -1 : a.fromZone > b.fromZone ? 1 : a.toZone < b.toZone ? -1 : a.toZone > b.toZone ? 1 : 0));
  return { cells: sorted, crossZoneShare: zoned > 0 ? cross / zoned : null };
}
