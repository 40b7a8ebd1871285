import type { ServerResponse } from 'node:http';

// Server-sent events (HTML "Server-sent events", text/event-stream) for the dashboard: one payload
// per tick, built once and written to every open page, so the cost of an update does not grow with
// the number of pages watching. Ticks come at most every `minGapMs` after a change (changes in a
// burst, e.g. a push to 1,000 gateways and their ACKs, are one tick) and at least every `maxGapMs`
// (time-based state such as "not ACKed for 5 s" and DNS lookups also move without an event).

export interface EventStreamOptions {
  /** The payload of one tick (JSON-serialisable). */
  payload(): unknown;
  readonly minGapMs?: number;
  readonly maxGapMs?: number;
}

export class EventStream {
  private readonly clients = new Set<ServerResponse>();
  private pending: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private lastSent = 0;
  private readonly minGapMs: number;
  private readonly maxGapMs: number;

  constructor(private readonly opts: EventStreamOptions) {
    this.minGapMs = opts.minGapMs ?? 250;
    this.maxGapMs = opts.maxGapMs ?? 1000;
  }

  /** Takes over `res` as an event stream until the client goes or close() is called. */
  add(res: ServerResponse): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no', // nginx and friends: do not buffer the stream
    });
    res.write(`retry: 1000\ndata: ${JSON.stringify(this.opts.payload())}\n\n`);
    this.clients.add(res);
    res.on('close', () => {
      this.clients.delete(res);
      if (this.clients.size === 0) this.stopTimers();
    });
    this.heartbeat ??= setInterval(() => this.changed(), this.maxGapMs);
    this.heartbeat.unref();
  }

  /** Something the payload shows changed: send within minGapMs. */
  changed(): void {
    if (this.clients.size === 0 || this.pending) return;
    const wait = Math.max(0, this.lastSent + this.minGapMs - Date.now());
    this.pending = setTimeout(() => this.send(), wait);
    this.pending.unref();
  }

  /** Pages watching now. */
  get size(): number {
    return this.clients.size;
  }

  close(): void {
    this.stopTimers();
    for (const res of this.clients) res.end();
    this.clients.clear();
  }

  private send(): void {
    this.pending = undefined;
    this.lastSent = Date.now();
    const frame = `data: ${JSON.stringify(this.opts.payload())}\n\n`;
    for (const res of this.clients) res.write(frame);
  }

  private stopTimers(): void {
    clearTimeout(this.pending);
    clearInterval(this.heartbeat);
    this.pending = undefined;
    this.heartbeat = undefined;
  }
}
