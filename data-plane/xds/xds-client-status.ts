import { TYPE_ORDER, type TypeUrl } from '../../xds/resource.js';
import { ACCEPTED_FIELD, type AcceptedResources } from './accepted-state.js';
import { requestNames, type TypeSubscription } from './subscriptions.js';

// The ADS client's facts for operators (/gateway/api/v1/config): the same things the metrics
// say, plus the texts (last error, last NACK) that do not fit in a label.

export type XdsClientState = 'connecting' | 'connected' | 'backoff' | 'stopped';

export interface XdsTypeStatus {
  /** Last ACKed version_info ('' if none). */
  readonly version: string;
  /** Nonce of the last response of this type answered (ACK or NACK) on any stream. */
  readonly nonce: string;
  /** '*' for a wildcard subscription. */
  readonly subscribed: '*' | readonly string[];
  /** Accepted resources of this type. */
  readonly resources: number;
  readonly acks: number;
  readonly nacks: number;
  /** Last ACK that changed the applied config. */
  readonly updatedAt: string | null;
  readonly lastNack: { readonly version: string; readonly nonce: string; readonly message: string; readonly at: string } | null;
}

export interface XdsClientStatus {
  readonly state: XdsClientState;
  readonly connected: boolean;
  /** Server of the current (or last) stream. */
  readonly server: string | null;
  /** When `state` was entered. */
  readonly since: string | null;
  /** `why`: what to change, when the client could tell (e.g. a refused TLS handshake). */
  readonly lastError: { readonly server: string; readonly message: string; readonly at: string; readonly why?: string } | null;
  /** While in backoff: when the next attempt starts. */
  readonly nextAttemptAt: string | null;
  readonly versions: Readonly<Record<TypeUrl, string>>;
  readonly types: Readonly<Record<TypeUrl, XdsTypeStatus>>;
}

interface TypeBook {
  nonce: string;
  acks: number;
  nacks: number;
  updatedAt: number | undefined;
  lastNack: XdsTypeStatus['lastNack'];
}

const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());

export class XdsClientStatusBook {
  private state: XdsClientState = 'stopped';
  private server: string | undefined;
  private since: number | undefined;
  private nextAttemptAt: number | undefined;
  private lastError: XdsClientStatus['lastError'] = null;
  private readonly types = new Map<TypeUrl, TypeBook>(
    TYPE_ORDER.map((t) => [t, { nonce: '', acks: 0, nacks: 0, updatedAt: undefined, lastNack: null }]),
  );

  constructor(private readonly now: () => number = Date.now) {}

  isConnected(): boolean {
    return this.state === 'connected';
  }

  connecting(server: string): void {
    this.enter('connecting', server);
  }

  connected(server: string): void {
    this.enter('connected', server);
    // The failure is history now; its explanation no longer applies.
    if (this.lastError?.why !== undefined) this.explain(this.lastError.server, undefined);
  }

  disconnected(server: string, message: string, nextAttemptAt: number): void {
    this.enter('backoff', server);
    // The explanation of this server's last failure stays until the new one is explained (explain()
    // comes a handshake later), so /ready does not flicker between "why" and no "why".
    const why = this.lastError?.server === server ? this.lastError.why : undefined;
    this.lastError = { server, message, at: new Date(this.now()).toISOString(), ...(why !== undefined ? { why } : {}) };
    this.nextAttemptAt = nextAttemptAt;
  }

  /** Adds the explanation of the last error, if it is still about this server. */
  explain(server: string, why: string | undefined): void {
    if (this.lastError?.server !== server) return;
    const { why: _old, ...rest } = this.lastError;
    this.lastError = why === undefined ? rest : { ...rest, why };
  }

  stopped(): void {
    if (this.state !== 'stopped') this.enter('stopped', this.server);
  }

  acked(typeUrl: TypeUrl, nonce: string, changed: boolean): void {
    const t = this.type(typeUrl);
    t.nonce = nonce;
    t.acks++;
    if (changed) t.updatedAt = this.now();
  }

  nacked(typeUrl: TypeUrl, version: string, nonce: string, message: string): void {
    const t = this.type(typeUrl);
    t.nonce = nonce;
    t.nacks++;
    t.lastNack = { version, nonce, message, at: new Date(this.now()).toISOString() };
  }

  view(accepted: AcceptedResources, subscription: (t: TypeUrl) => TypeSubscription): XdsClientStatus {
    const types = {} as Record<TypeUrl, XdsTypeStatus>;
    for (const typeUrl of TYPE_ORDER) {
      const t = this.type(typeUrl);
      const sub = subscription(typeUrl);
      types[typeUrl] = {
        version: accepted.versions[typeUrl],
        nonce: t.nonce,
        subscribed: sub.wildcard ? '*' : requestNames(sub),
        resources: accepted[ACCEPTED_FIELD[typeUrl]].size,
        acks: t.acks,
        nacks: t.nacks,
        updatedAt: iso(t.updatedAt),
        lastNack: t.lastNack,
      };
    }
    return {
      state: this.state,
      connected: this.state === 'connected',
      server: this.server ?? null,
      since: iso(this.since),
      lastError: this.lastError,
      nextAttemptAt: this.state === 'backoff' ? iso(this.nextAttemptAt) : null,
      versions: { ...accepted.versions },
      types,
    };
  }

  private enter(state: XdsClientState, server: string | undefined): void {
    this.state = state;
    this.server = server;
    this.since = this.now();
  }

  private type(typeUrl: TypeUrl): TypeBook {
    const t = this.types.get(typeUrl);
    if (!t) throw new Error(`xds client: unknown type URL ${typeUrl}`);
    return t;
  }
}
