import type { TypeUrl, XdsResource } from '../../xds/resource.js';
import type { Snapshot } from './snapshot.js';

// What a watch would answer from a given snapshot, as pure functions: the cache calls them
// when a watch is created and on every publish; tests call them directly.
// A watch answers only when the answer differs from what the client was last sent, so a
// NACKed version is never re-sent (go-control-plane #962) and unchanged resources are not
// pushed again (xds_protocol.rst, "When to send an update").

/** State of the world (SotW) watch: what the client asks for and what it was last sent. */
export interface SotwWatchRequest {
  readonly typeUrl: TypeUrl;
  /** All resources of the type (LDS/CDS "*" or the legacy empty request). */
  readonly wildcard: boolean;
  /** Names asked for explicitly ("*" excluded). */
  readonly resourceNames: ReadonlySet<string>;
  /** name → resource hash last sent on this stream, for names still subscribed. */
  readonly sent: ReadonlyMap<string, string>;
  /** Answer even when unchanged: nothing of this full-state type has been sent yet. */
  readonly answerEvenIfUnchanged: boolean;
  /** The stream's node id: during a rollout the cache answers canaries from the candidate. */
  readonly nodeId?: string;
}

export interface SotwAnswer {
  readonly version: string;
  readonly resources: readonly XdsResource[];
  /** name → resource hash of `resources`: the stream's new `sent`. */
  readonly hashes: ReadonlyMap<string, string>;
}

export function sotwAnswer(snapshot: Snapshot, req: SotwWatchRequest): SotwAnswer | undefined {
  const all = snapshot.resources(req.typeUrl);
  // Only the names asked for: a client naming a subset gets exactly that subset
  // (go-control-plane #63/#426 ignored such requests and broke gRPC clients).
  const chosen: XdsResource[] = [];
  if (req.wildcard) chosen.push(...all.values());
  else {
    for (const name of req.resourceNames) {
      const r = all.get(name);
      if (r) chosen.push(r);
    }
  }
  const hashes = new Map<string, string>();
  for (const r of chosen) hashes.set(r.name, snapshot.hashOf(r));
  if (!req.answerEvenIfUnchanged && sameEntries(hashes, req.sent)) return undefined;
  return { version: snapshot.version(req.typeUrl), resources: chosen, hashes };
}

/** Marks a name the client was told does not exist (delta `removed_resources`). */
export const TOLD_ABSENT: unique symbol = Symbol('told-absent');
/** Marks a name whose state must be told again, whatever it is (resource or removal). */
export const MUST_RETELL: unique symbol = Symbol('must-retell');
export type KnownVersion = string | typeof TOLD_ABSENT | typeof MUST_RETELL;

/** Incremental (delta) watch: subscriptions and the per-resource versions the client holds. */
export interface DeltaWatchRequest {
  readonly typeUrl: TypeUrl;
  readonly wildcard: boolean;
  /** Names subscribed explicitly ("*" excluded). */
  readonly resourceNames: ReadonlySet<string>;
  readonly known: ReadonlyMap<string, KnownVersion>;
  readonly answerEvenIfUnchanged: boolean;
  /** The stream's node id: during a rollout the cache answers canaries from the candidate. */
  readonly nodeId?: string;
}

export interface DeltaAnswer {
  readonly systemVersion: string;
  readonly resources: readonly { readonly resource: XdsResource; readonly version: string }[];
  readonly removed: readonly string[];
}

export function deltaAnswer(snapshot: Snapshot, req: DeltaWatchRequest): DeltaAnswer | undefined {
  const all = snapshot.resources(req.typeUrl);
  const resources: { resource: XdsResource; version: string }[] = [];
  const removed: string[] = [];
  const consider = (r: XdsResource): void => {
    const version = snapshot.hashOf(r);
    if (req.known.get(r.name) !== version) resources.push({ resource: r, version });
  };
  if (req.wildcard) for (const r of all.values()) consider(r);
  for (const name of req.resourceNames) {
    const r = all.get(name);
    if (r) {
      if (!req.wildcard) consider(r);
    } else if (req.known.get(name) !== TOLD_ABSENT) {
      // A subscribed name that does not exist is reported at once, so the client need not
      // wait for its does-not-exist timeout (xds_protocol.rst, delta "Knowing When a
      // Requested Resource Does Not Exist").
      removed.push(name);
    }
  }
  for (const [name, v] of req.known) {
    if (!req.resourceNames.has(name) && !all.has(name) && v !== TOLD_ABSENT) removed.push(name);
  }
  if (!req.answerEvenIfUnchanged && resources.length === 0 && removed.length === 0) return undefined;
  return { systemVersion: snapshot.version(req.typeUrl), resources, removed };
}

function sameEntries(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}
