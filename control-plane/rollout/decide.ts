import { createHash } from 'node:crypto';

// The rollout decision, as pure functions of (the rollout, the fleet-wide figures, the clock): every
// replica that holds the same figures takes the same decision (README "Rollouts" writes the rule down).
//
// 1. A canary NACKed the candidate → roll back at once (the gateway refused it; nothing to wait for).
// 2. Per backend, once the canaries carried at least `minRequests` requests to it since the rollout
//    began: canary failure rate (no answer or 5xx) above the baseline's by more than
//    `maxFailureRateIncrease` → roll back at once. Early: every second waited costs the canaries' errors.
// 3. Before the bake time has passed → wait.
// 4. After it: the canaries carried at least `minRequests` in all → promote. Fewer: too little traffic
//    to decide; the bake is extended (the page says so) up to `maxBakeMs`, then promoted: a fleet
//    that carries (almost) nothing is harmed by no config, and a fleet split forever is a harm too.

export interface Counts {
  readonly issued: number;
  readonly failed: number;
}

export interface RolloutThresholds {
  readonly bakeMs: number;
  /** Absolute: 0.05 = the canaries may fail 5 percentage points more than the baseline. */
  readonly maxFailureRateIncrease: number;
  /** Requests the canaries must carry (per backend to judge it, in all to promote). */
  readonly minRequests: number;
  /** Longest extended bake when traffic is too low (at least bakeMs). */
  readonly maxBakeMs: number;
}

export interface DecisionInput {
  readonly startedAtMs: number;
  readonly nowMs: number;
  /** Per backend (cluster name): what the canaries counted since the rollout began. */
  readonly canary: ReadonlyMap<string, Counts>;
  /**
   * Per backend: what the baseline cohort counted over the same time; with no baseline cohort (a
   * single gateway), the canaries' own counts from before the change.
   */
  readonly baseline: ReadonlyMap<string, Counts>;
  /** Canary node ids that NACKed the candidate's version, with the message. */
  readonly nacks: readonly { readonly nodeId: string; readonly message: string }[];
}

export interface BackendVerdict {
  readonly backend: string;
  readonly canary: Counts & { readonly failureRate: number };
  readonly baseline: Counts & { readonly failureRate: number };
  /** canary.failureRate - baseline.failureRate. */
  readonly increase: number;
  /** Enough canary requests to judge this backend. */
  readonly judged: boolean;
  readonly bad: boolean;
}

export type Decision =
  | { readonly action: 'wait'; readonly reason: string; readonly leftMs: number; readonly extended: boolean; readonly backends: readonly BackendVerdict[] }
  | { readonly action: 'promote' | 'rollback'; readonly reason: string; readonly backends: readonly BackendVerdict[] };

const rate = (c: Counts): number => (c.issued > 0 ? c.failed / c.issued : 0);
const pct = (r: number): string => `${(r * 100).toFixed(1)}%`;

export function verdicts(input: DecisionInput, t: RolloutThresholds): BackendVerdict[] {
  const names = [...new Set([...input.canary.keys(), ...input.baseline.keys()])].sort();
  return names.map((backend) => {
    const c = input.canary.get(backend) ?? { issued: 0, failed: 0 };
    const b = input.baseline.get(backend) ?? { issued: 0, failed: 0 };
    const increase = rate(c) - rate(b);
    const judged = c.issued >= t.minRequests;
    return {
      backend,
      canary: { issued: c.issued, failed: c.failed, failureRate: rate(c) },
      baseline: { issued: b.issued, failed: b.failed, failureRate: rate(b) },
      increase,
      judged,
      bad: judged && increase > t.maxFailureRateIncrease,
    };
  });
}

export function decide(input: DecisionInput, t: RolloutThresholds): Decision {
  const backends = verdicts(input, t);
  if (input.nacks.length > 0) {
    const n = input.nacks[0]!;
    return { action: 'rollback', reason: `canary ${n.nodeId} rejected the candidate (NACK): ${n.message}`, backends };
  }
  const bad = backends.find((v) => v.bad);
  if (bad) {
    return {
      action: 'rollback',
      reason:
        `backend ${bad.backend}: canaries failed ${pct(bad.canary.failureRate)} of ${bad.canary.issued} requests, ` +
        `baseline ${pct(bad.baseline.failureRate)} of ${bad.baseline.issued}: more than ${pct(t.maxFailureRateIncrease)} above`,
      backends,
    };
  }
  const elapsed = input.nowMs - input.startedAtMs;
  if (elapsed < t.bakeMs) return { action: 'wait', reason: 'baking', leftMs: t.bakeMs - elapsed, extended: false, backends };
  const carried = [...input.canary.values()].reduce((s, c) => s + c.issued, 0);
  if (carried >= t.minRequests) {
    return { action: 'promote', reason: `baked ${Math.round(elapsed / 1000)}s: canaries carried ${carried} requests, no backend above the baseline by more than ${pct(t.maxFailureRateIncrease)}`, backends };
  }
  const maxBake = Math.max(t.bakeMs, t.maxBakeMs);
  if (elapsed < maxBake) {
    return { action: 'wait', reason: `too little traffic to decide: canaries carried ${carried} of the ${t.minRequests} requests needed; bake extended`, leftMs: maxBake - elapsed, extended: true, backends };
  }
  return { action: 'promote', reason: `too little traffic to judge after ${Math.round(elapsed / 1000)}s (${carried} requests); promoted at the longest bake`, backends };
}

/** Stable rank of a node id: the same on every replica, so every replica names the same canaries. */
export function nodeRank(nodeId: string): string {
  return createHash('sha256').update(nodeId).digest('hex').slice(0, 16);
}

/** How many canaries a fleet cluster of `size` connected gateways gets: the fraction, at least one. */
export function cohortSize(size: number, fraction: number): number {
  if (size === 0 || fraction <= 0) return 0;
  return Math.min(size, Math.max(1, Math.ceil(size * fraction - 1e-9)));
}

/**
 * The canary cohort: per fleet cluster (Node.cluster), the `fraction` of its connected gateways with
 * the lowest ranks. Node ids, sorted.
 */
export function canaryCohort(nodes: readonly { readonly nodeId: string; readonly cluster: string }[], fraction: number): string[] {
  const byCluster = new Map<string, Set<string>>();
  for (const n of nodes) {
    if (n.nodeId === '') continue;
    const set = byCluster.get(n.cluster) ?? new Set<string>();
    set.add(n.nodeId);
    byCluster.set(n.cluster, set);
  }
  const out: string[] = [];
  for (const ids of byCluster.values()) {
    const ranked = [...ids].sort((a, b) => (nodeRank(a) < nodeRank(b) ? -1 : nodeRank(a) > nodeRank(b) ? 1 : 0));
    out.push(...ranked.slice(0, cohortSize(ranked.length, fraction)));
  }
  return out.sort();
}
