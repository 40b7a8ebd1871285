/**
 * Per-request round robin over the endpoints that were READY when it was built. The list never
 * changes: on any endpoint-set or connectivity change the owner builds a new picker and assigns it in
 * one statement, which in single-threaded Node is the whole atomic swap (grpc-js picker.ts habit).
 * Only the cursor moves; a replacement starts where the old one stopped so the rotation stays fair.
 */
export class RoundRobinPicker<T> {
  private next: number;

  constructor(
    readonly ready: readonly T[],
    start = 0,
  ) {
    this.next = ready.length > 0 ? start % ready.length : 0;
  }

  /** Cursor to hand to a replacement picker. */
  get cursor(): number {
    return this.next;
  }

  /**
   * The next endpoint, skipping those in `avoid` (already tried by this request) while another is
   * READY; undefined only when nothing is READY at all.
   */
  pick(avoid?: ReadonlySet<T>): T | undefined {
    const n = this.ready.length;
    if (n === 0) return undefined;
    for (let i = 0; i < n; i++) {
      const candidate = this.ready[(this.next + i) % n]!;
      if (avoid === undefined || !avoid.has(candidate)) {
        this.next = (this.next + i + 1) % n;
        return candidate;
      }
    }
    const candidate = this.ready[this.next]!;
    this.next = (this.next + 1) % n;
    return candidate;
  }
}
