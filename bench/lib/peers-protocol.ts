// Messages between the bench orchestrator and bench/peers.ts (IPC). Hosts are loopback addresses;
// peers are named "host:port" in counts and timelines.

export type PeerCommand =
  | { readonly op: 'dns' }
  /** Replace the A records of `name`; replies with the time (epoch ms) the records changed. */
  | { readonly op: 'records'; readonly name: string; readonly hosts: readonly string[]; readonly ttl: number }
  /** httpgrpc distributors on `hosts`, one shared port (default: the port of the first set). */
  | { readonly op: 'grpc'; readonly hosts: readonly string[]; readonly port?: number }
  /** node:http backends answering 200 on `hosts`, one shared port. */
  | { readonly op: 'http'; readonly hosts: readonly string[] }
  /** How an httpgrpc peer ("host:port") answers from now on: this HTTP status (dskit-style for >= 400), after delayMs. */
  | { readonly op: 'behave'; readonly peer: string; readonly status: number; readonly delayMs: number }
  | { readonly op: 'counts' }
  /** Start (everyMs > 0) or stop sampling every peer's request count. */
  | { readonly op: 'sample'; readonly everyMs: number }
  | { readonly op: 'timeline' }
  /** Close the given peers ("host:port"), or everything (DNS included) without `peers`. */
  | { readonly op: 'stop'; readonly peers?: readonly string[] };

export type PeerCounts = Record<string, { requests: number; connections: number; firstAt: number | null }>;

export interface TimelinePoint {
  readonly t: number;
  readonly counts: Record<string, number>;
}

export type PeerReply = { readonly id: number; readonly result: unknown } | { readonly id: number; readonly error: string };
