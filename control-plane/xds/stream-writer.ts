// Writes of encoded responses to ADS streams, paced. grpc-js frames every message into a copy of its
// own (server-interceptors serializeMessage), kept until HTTP/2 has sent it, so a push of a 4,000-endpoint
// ClusterLoadAssignment written to 5,000 streams at once held 5,000 copies (the control plane's RSS
// peaked at 733 MB). Here each stream has at most one write in flight, and all streams together at
// most `SendBudget.maxBytes`; the rest wait holding a reference to the shared response (no copy). A
// stream that is slow gets its response when it is ready, and only the newest of a type: a SotW
// response is the whole state of its type, so an older one not yet written is dropped for it.

export class SendBudget {
  private inFlight = 0;
  /** Writers waiting for room, first come first served. */
  private readonly waiting: StreamWriter[] = [];
  private readonly queued = new Set<StreamWriter>();

  /**
   * `holdMs`: a write whose stream has not taken it within this long stops counting, so clients slow to
   * read (flow control) cannot stall the push to everyone else; the budget then bounds what is written
   * per `holdMs`, not what is buffered forever.
   */
  constructor(
    readonly maxBytes = 64 * 1024 * 1024,
    readonly holdMs = 2000,
  ) {}

  /** Bytes written and not yet sent. */
  get bytesInFlight(): number {
    return this.inFlight;
  }

  /** Takes `bytes` from the budget, or queues `w` (pumped again once there is room). One write always fits. */
  take(w: StreamWriter, bytes: number): boolean {
    if (!this.fits(bytes) || (this.waiting.length > 0 && this.waiting[0] !== w)) {
      if (!this.queued.has(w)) {
        this.queued.add(w);
        this.waiting.push(w);
      }
      return false;
    }
    if (this.waiting[0] === w) {
      this.waiting.shift();
      this.queued.delete(w);
    }
    this.inFlight += bytes;
    return true;
  }

  give(bytes: number): void {
    this.inFlight -= bytes;
    while (this.waiting.length > 0) {
      const w = this.waiting[0]!;
      const need = w.nextBytes();
      if (need === undefined) {
        this.waiting.shift();
        this.queued.delete(w);
        continue;
      }
      if (!this.fits(need)) return;
      w.pump(); // takes its place at the head
      if (this.waiting[0] === w) return; // could not write after all (it is writing already)
    }
  }

  private fits(bytes: number): boolean {
    return this.inFlight === 0 || this.inFlight + bytes <= this.maxBytes;
  }
}

let unique = 0;

export class StreamWriter {
  /** Responses not yet written, in order; a key appears once (a newer response of it replaces the older). */
  private readonly pending = new Map<string, Buffer>();
  private writing = false;
  private closed = false;
  /** Gives the write in flight's bytes back to the budget (once). */
  private release: (() => void) | undefined;

  constructor(
    private readonly budget: SendBudget,
    /** Writes to the call; `done` once the transport has taken the bytes. */
    private readonly write: (bytes: Buffer, done: () => void) => void,
  ) {}

  /** Queues `bytes`; with `supersedes`, in place of a response of that key not yet written. */
  send(bytes: Buffer, supersedes?: string): void {
    if (this.closed) return;
    this.pending.set(supersedes ?? `#${++unique}`, bytes);
    this.pump();
  }

  /** Size of the next response to write; undefined when there is none or one is being written. */
  nextBytes(): number | undefined {
    if (this.writing || this.closed) return undefined;
    const next = this.pending.values().next();
    return next.done ? undefined : next.value.length;
  }

  pump(): void {
    if (this.writing || this.closed) return;
    const next = this.pending.entries().next();
    if (next.done) return;
    const [key, bytes] = next.value;
    if (!this.budget.take(this, bytes.length)) return;
    this.pending.delete(key);
    this.writing = true;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      clearTimeout(hold);
      this.budget.give(bytes.length);
    };
    this.release = release;
    const hold = setTimeout(release, this.budget.holdMs);
    hold.unref();
    this.write(bytes, () => {
      this.writing = false;
      release();
      this.pump();
    });
  }

  /** The stream ended: nothing more is written and its share of the budget is given back. */
  close(): void {
    this.closed = true;
    this.pending.clear();
    this.release?.();
  }
}
