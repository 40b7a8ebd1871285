import type { DeltaDiscoveryRequestMessage } from '../../xds/ads-service.js';
import type { Cancel } from './snapshot-cache.js';
import { typeLabel, WILDCARD_TYPES, type TypeUrl } from '../../xds/resource.js';
import { servedType, type StreamDeps } from './stream-common.js';
import { MUST_RETELL, TOLD_ABSENT, type DeltaAnswer, type KnownVersion } from './watch-answers.js';

// The state of one DeltaAggregatedResources (incremental) stream, per envoy's
// docs/root/api-docs/xds_protocol.rst, "Incremental xDS". Transport-free like SotwStream.

/** Responses awaiting ACK/NACK per type; more can be in flight when the client changes subscriptions. */
const MAX_PENDING_NONCES = 16;

interface TypeState {
  seen: boolean;
  /** Subscribed to "*" (explicitly, or by the legacy empty first request). */
  star: boolean;
  names: Set<string>;
  /** name → version the client holds (or was told absent). */
  known: Map<string, KnownVersion>;
  sentAny: boolean;
  /** nonce → system version of responses not yet ACKed or NACKed, oldest first. */
  pending: Map<string, string>;
  cancel: Cancel | undefined;
}

export class DeltaStream {
  private readonly types = new Map<TypeUrl, TypeState>();
  private nonceCounter = 0;
  private nodeSeen = false;
  private closed = false;

  constructor(
    private readonly deps: StreamDeps,
    /** Writes an encoded DeltaDiscoveryResponse (see response-encoding.ts). */
    private readonly send: (response: Buffer) => void,
  ) {}

  /** @throws AdsProtocolError when the request breaks the protocol. */
  onRequest(req: DeltaDiscoveryRequestMessage): void {
    if (this.closed) return;
    const { record, metrics, logger } = this.deps;
    record.requests++;
    if (!this.nodeSeen && req.node) {
      this.nodeSeen = true;
      record.setNode(req.node);
    }
    const typeUrl = servedType(req.type_url, logger);
    if (!typeUrl) return;
    const st = this.state(typeUrl);

    // The nonce only pairs an ACK/NACK with its response; subscription changes are honoured
    // even with a stale nonce (xds_protocol.rst, "Incremental xDS").
    const nonce = req.response_nonce;
    const version = nonce === '' ? undefined : st.pending.get(nonce);
    if (version !== undefined) {
      for (const n of [...st.pending.keys()]) {
        st.pending.delete(n);
        if (n === nonce) break;
      }
      const labels = { type: typeLabel(typeUrl), protocol: 'delta' };
      if (req.error_detail) {
        // Not re-sent: `known` already holds what was sent, so only a change is pushed.
        metrics.nacks.inc(labels);
        record.nacked(typeUrl, req.error_detail.message, version, nonce);
        logger.warn({ typeUrl, version, error: req.error_detail.message }, 'ads delta: client rejected (NACK)');
      } else {
        metrics.acks.inc(labels);
        record.acked(typeUrl, version);
      }
    }

    this.subscribe(typeUrl, st, req);
    this.watch(typeUrl, st);
  }

  close(): void {
    this.closed = true;
    for (const st of this.types.values()) st.cancel?.();
    this.types.clear();
  }

  openWatches(): number {
    let n = 0;
    for (const st of this.types.values()) if (st.cancel) n++;
    return n;
  }

  private wildcard(typeUrl: TypeUrl, st: TypeState): boolean {
    return st.star && WILDCARD_TYPES.has(typeUrl);
  }

  private subscribe(typeUrl: TypeUrl, st: TypeState, req: DeltaDiscoveryRequestMessage): void {
    const sub = req.resource_names_subscribe;
    const unsub = req.resource_names_unsubscribe;
    // Legacy wildcard: a first request naming nothing means "*"; later subscriptions add to
    // it (xds_protocol.rst, "How the client specifies what resources to return").
    if (!st.seen && sub.length === 0 && unsub.length === 0) st.star = true;
    st.seen = true;
    for (const n of sub) {
      if (n === '*') {
        st.star = true;
        continue;
      }
      st.names.add(n);
      // The client may have forgotten it: a subscribed name is always answered
      // (xds_protocol.rst, "Subscribing to Resources").
      st.known.delete(n);
    }
    for (const n of unsub) {
      if (n === '*') {
        st.star = false;
        continue;
      }
      if (!st.names.delete(n)) continue; // phantom unsubscription: ignore
      // With "*" also subscribed, the client cannot tell whether to keep it: tell it again
      // (resource or removal; xds_protocol.rst, "Unsubscribing from Resources").
      if (this.wildcard(typeUrl, st)) st.known.set(n, MUST_RETELL);
      else st.known.delete(n);
    }
    if (!this.wildcard(typeUrl, st)) for (const n of [...st.known.keys()]) if (!st.names.has(n)) st.known.delete(n);
    // Resume without re-sending what the client already holds (reconnect).
    for (const [n, v] of Object.entries(req.initial_resource_versions)) {
      if (this.wildcard(typeUrl, st) || st.names.has(n)) st.known.set(n, v);
    }
  }

  private watch(typeUrl: TypeUrl, st: TypeState): void {
    st.cancel?.();
    st.cancel = undefined;
    const wildcard = this.wildcard(typeUrl, st);
    if (!wildcard && st.names.size === 0 && st.known.size === 0) return;
    let answered = false;
    const cancel = this.deps.cache.createDeltaWatch(
      {
        typeUrl,
        wildcard,
        resourceNames: st.names,
        known: st.known,
        // A first wildcard request is answered even when there is nothing to send, so the
        // client learns the set is complete and can finish initialising.
        answerEvenIfUnchanged: !st.sentAny && wildcard,
        nodeId: this.deps.record.nodeId,
      },
      (answer) => {
        answered = true;
        st.cancel = undefined;
        this.respond(typeUrl, st, answer);
      },
    );
    if (!answered) st.cancel = cancel;
  }

  private respond(typeUrl: TypeUrl, st: TypeState, answer: DeltaAnswer): void {
    if (this.closed) return;
    const nonce = String(++this.nonceCounter);
    for (const { resource, version } of answer.resources) st.known.set(resource.name, version);
    for (const n of answer.removed) {
      if (st.names.has(n)) st.known.set(n, TOLD_ABSENT);
      else st.known.delete(n);
    }
    st.sentAny = true;
    st.pending.set(nonce, answer.systemVersion);
    if (st.pending.size > MAX_PENDING_NONCES) {
      const oldest = st.pending.keys().next().value;
      if (oldest !== undefined) st.pending.delete(oldest);
    }
    this.deps.record.sent(typeUrl, answer.systemVersion, nonce);
    const bytes = this.deps.encoder.delta({ systemVersion: answer.systemVersion, typeUrl, nonce, resources: answer.resources, removed: answer.removed });
    const labels = { type: typeLabel(typeUrl), protocol: 'delta' };
    this.deps.metrics.responses.inc(labels);
    this.deps.metrics.responseBytes.inc(labels, bytes.length);
    this.send(bytes);
  }

  private state(typeUrl: TypeUrl): TypeState {
    let st = this.types.get(typeUrl);
    if (!st) {
      st = { seen: false, star: false, names: new Set(), known: new Map(), sentAny: false, pending: new Map(), cancel: undefined };
      this.types.set(typeUrl, st);
    }
    return st;
  }
}
