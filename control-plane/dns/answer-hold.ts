// Decides which endpoint set of one name to publish when the DNS answer is not the whole set.
// Past ~4,090 A records one 64 KiB message cannot hold the RRset; servers then send a different subset on
// every lookup (BIND's cyclic rrset-order, CoreDNS's loadbalance), and some always answer with a random few
// (Route 53 multivalue: 8). Publishing each subset would push a new endpoint set to every gateway on every
// lookup although nothing changed. So while answers are truncated or rotating, the published set is held
// and only refreshed once per HOLD_WINDOW answers, dropping members no answer in that window named.

import type { Endpoint } from '../../core/model.js';
import { normalizeEndpoints, sameEndpoints } from './endpoint-set.js';

/** `complete`: each answer is taken as the whole set. `truncated`: answers fill a DNS message.
 *  `rotating`: same-size answers that differ, with members coming back after being left out. */
export type AnswerMode = 'complete' | 'truncated' | 'rotating';

/** Answers between two refreshes of a held set; also how long a member may go unseen before it is dropped. */
export const HOLD_WINDOW = 12;

export interface HoldDecision {
  /** The set to publish now, or undefined to keep what was published. */
  readonly publish: readonly Endpoint[] | undefined;
  readonly mode: AnswerMode;
  /** The mode differs from the previous answer's (log it once). */
  readonly modeChanged: boolean;
}

const keyOf = (e: Endpoint): string => `${e.address}|${e.port}`;

export class AnswerHold {
  private seq = 0;
  /** Answer number in which each address was last seen, for the last HOLD_WINDOW answers. */
  private readonly lastSeen = new Map<string, number>();
  private previous: readonly Endpoint[] | undefined;
  private published: readonly Endpoint[] | undefined;
  private refreshDue = 0;
  mode: AnswerMode = 'complete';

  /** Takes one good answer (normalized, non-empty). */
  accept(answer: readonly Endpoint[], truncated: boolean): HoldDecision {
    this.seq++;
    const previous = this.previous;
    // A member absent from the previous answer but seen before it has come back: that is rotation, not a
    // rolling update (a replaced pod's address does not return within a few lookups).
    const returned = previous !== undefined && answer.some((e) => {
      const seen = this.lastSeen.get(keyOf(e));
      return seen !== undefined && seen < this.seq - 1;
    });
    const sameSize = previous !== undefined && previous.length === answer.length;
    const differs = previous === undefined || !sameEndpoints(previous, answer);
    for (const e of answer) this.lastSeen.set(keyOf(e), this.seq);
    for (const [k, seen] of this.lastSeen) if (seen <= this.seq - HOLD_WINDOW) this.lastSeen.delete(k);
    this.previous = answer;

    const before = this.mode;
    if (truncated) this.mode = 'truncated';
    else if (sameSize && differs && (returned || this.mode !== 'complete')) this.mode = 'rotating';
    else this.mode = 'complete';
    const modeChanged = before !== this.mode;
    if (modeChanged) this.refreshDue = this.seq + HOLD_WINDOW;

    if (this.mode === 'complete' || this.published === undefined) return this.publish(answer, modeChanged);
    if (this.seq < this.refreshDue) return { publish: undefined, mode: this.mode, modeChanged };
    this.refreshDue = this.seq + HOLD_WINDOW;
    return this.publish(this.refreshed(this.published, answer), modeChanged);
  }

  /** Keeps held members seen within the window; tops up from the latest answer to its size. */
  private refreshed(held: readonly Endpoint[], answer: readonly Endpoint[]): readonly Endpoint[] {
    const keep = held.filter((e) => this.lastSeen.has(keyOf(e)));
    const kept = new Set(keep.map(keyOf));
    const fill = answer.filter((e) => !kept.has(keyOf(e))).slice(0, Math.max(0, answer.length - keep.length));
    const next = [...keep, ...fill];
    // A smaller answer: drop the members seen least recently.
    if (next.length > answer.length) {
      next.sort((x, y) => (this.lastSeen.get(keyOf(y)) ?? 0) - (this.lastSeen.get(keyOf(x)) ?? 0));
      next.length = answer.length;
    }
    return normalizeEndpoints(next);
  }

  private publish(next: readonly Endpoint[], modeChanged: boolean): HoldDecision {
    if (this.published !== undefined && sameEndpoints(this.published, next)) return { publish: undefined, mode: this.mode, modeChanged };
    this.published = next;
    return { publish: next, mode: this.mode, modeChanged };
  }
}
