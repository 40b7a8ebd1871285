import type { DiscoveryRequestMessage } from '../../xds/ads-service.js';
import type { Cancel } from './snapshot-cache.js';
import { typeLabel, WILDCARD_TYPES, type TypeUrl } from '../../xds/resource.js';
import { servedType, type StreamDeps } from './stream-common.js';
import type { SotwAnswer } from './watch-answers.js';

// The state of one StreamAggregatedResources (state of the world) stream, per envoy's
// docs/root/api-docs/xds_protocol.rst. Transport-free: requests come in through onRequest,
// responses go out through `send`; AdsServer wires both to the gRPC call.

interface TypeState {
  /** Some request of this type named resources: an empty list no longer means wildcard. */
  everNamed: boolean;
  wildcard: boolean;
  names: ReadonlySet<string>;
  /** name → hash of what was last sent and is still subscribed (what the client holds, or NACKed). */
  sent: Map<string, string>;
  sentAny: boolean;
  /** Nonce and version of the latest response of this type; '' before the first. */
  nonce: string;
  version: string;
  cancel: Cancel | undefined;
}

export class SotwStream {
  private readonly types = new Map<TypeUrl, TypeState>();
  private nonceCounter = 0;
  private nodeSeen = false;
  private closed = false;

  constructor(
    private readonly deps: StreamDeps,
    /**
     * Writes an encoded DiscoveryResponse (see response-encoding.ts). `supersedes`: a response of the
     * same key not yet written may be dropped for this one (SotW: each is the whole state of its type).
     */
    private readonly send: (response: Buffer, supersedes?: string) => void,
  ) {}

  /** @throws AdsProtocolError when the request breaks the protocol. */
  onRequest(req: DiscoveryRequestMessage): void {
    if (this.closed) return;
    const { record, metrics, logger } = this.deps;
    record.requests++;
    // Only the first request is sure to carry the node (xds_protocol.rst, "Basic Protocol Overview").
    if (!this.nodeSeen && req.node) {
      this.nodeSeen = true;
      record.setNode(req.node);
    }
    const typeUrl = servedType(req.type_url, logger);
    if (!typeUrl) return;
    const st = this.state(typeUrl);

    const nonce = req.response_nonce;
    if (nonce !== '' && st.nonce !== '' && nonce !== st.nonce) {
      // Stale: it answers a response that a newer one superseded; the client will send
      // another request for the newer one (xds_protocol.rst, "Resource updates").
      logger.debug({ typeUrl, nonce, latest: st.nonce }, 'ads sotw: stale nonce; request ignored');
      return;
    }
    if (nonce !== '' && nonce === st.nonce) {
      const labels = { type: typeLabel(typeUrl), protocol: 'sotw' };
      if (req.error_detail) {
        // NACK (xds_protocol.rst, "ACK and NACK semantics summary"): recorded, and the rejected
        // version is not sent again; only a newer answer is (go-control-plane #962).
        metrics.nacks.inc(labels);
        record.nacked(typeUrl, req.error_detail.message, st.version, nonce);
        logger.warn({ typeUrl, version: st.version, error: req.error_detail.message }, 'ads sotw: client rejected (NACK)');
      } else {
        metrics.acks.inc(labels);
        record.acked(typeUrl, req.version_info);
      }
    }

    this.subscribe(typeUrl, st, req.resource_names);
    this.watch(typeUrl, st);
  }

  /** Frees every watch; the stream is unusable afterwards. */
  close(): void {
    this.closed = true;
    for (const st of this.types.values()) st.cancel?.();
    this.types.clear();
  }

  /** Open watches of this stream (tests). */
  openWatches(): number {
    let n = 0;
    for (const st of this.types.values()) if (st.cancel) n++;
    return n;
  }

  // xds_protocol.rst, "How the client specifies what resources to return": for LDS/CDS an empty
  // list means "*" until the client first names something; "*" may be mixed with names.
  private subscribe(typeUrl: TypeUrl, st: TypeState, requested: readonly string[]): void {
    if (requested.length > 0) st.everNamed = true;
    st.wildcard = WILDCARD_TYPES.has(typeUrl) && (requested.includes('*') || (requested.length === 0 && !st.everNamed));
    const names = new Set(requested.filter((n) => n !== '*'));
    st.names = names;
    // Forget what was sent for names no longer subscribed, so a later re-subscription is
    // answered even if nothing changed (go-control-plane #431).
    if (!st.wildcard) for (const n of [...st.sent.keys()]) if (!names.has(n)) st.sent.delete(n);
  }

  private watch(typeUrl: TypeUrl, st: TypeState): void {
    // Within a stream a new request supersedes the previous one of its type (xds_protocol.rst,
    // "When to send an update"), so its watch is replaced.
    st.cancel?.();
    st.cancel = undefined;
    if (!st.wildcard && st.names.size === 0) return; // subscribed to nothing: nothing to watch
    let answered = false;
    const cancel = this.deps.cache.createSotwWatch(
      {
        typeUrl,
        wildcard: st.wildcard,
        resourceNames: st.names,
        sent: st.sent,
        // LDS/CDS responses are the full state, so the first one is due even if empty: the
        // client learns that nothing exists and can finish initialising.
        answerEvenIfUnchanged: !st.sentAny && WILDCARD_TYPES.has(typeUrl),
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

  private respond(typeUrl: TypeUrl, st: TypeState, answer: SotwAnswer): void {
    if (this.closed) return;
    const shared = this.deps.encoder.sotwShared({ version: answer.version, resources: answer.resources, typeUrl });
    let { nonce, bytes } = shared;
    if (nonce === st.nonce) {
      // The same response twice on this stream (a re-subscription answered at the same version): a nonce of its own.
      nonce = `${shared.nonce}.${++this.nonceCounter}`;
      bytes = this.deps.encoder.sotw({ version: answer.version, resources: answer.resources, typeUrl, nonce });
    }
    st.nonce = nonce;
    st.version = answer.version;
    st.sent = new Map(answer.hashes);
    st.sentAny = true;
    this.deps.record.sent(typeUrl, answer.version, nonce);
    const labels = { type: typeLabel(typeUrl), protocol: 'sotw' };
    this.deps.metrics.responses.inc(labels);
    this.deps.metrics.responseBytes.inc(labels, bytes.length);
    this.send(bytes, typeUrl);
  }

  private state(typeUrl: TypeUrl): TypeState {
    let st = this.types.get(typeUrl);
    if (!st) {
      st = { everNamed: false, wildcard: false, names: new Set(), sent: new Map(), sentAny: false, nonce: '', version: '', cancel: undefined };
      this.types.set(typeUrl, st);
    }
    return st;
  }
}
