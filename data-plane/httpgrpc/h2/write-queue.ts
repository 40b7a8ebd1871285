// Frames queued during one turn of the event loop go out together (setImmediate: after every socket
// read of this turn has been handled), so N calls started or answered in one turn cost one write, as
// undici's client-h1 and Go's http2 transport (its bufio.Writer, flushed per batch) do. Small batches
// are joined into one buffer; large ones (a big DATA payload) go as one corked writev, not copied.
import type { Socket } from 'node:net';

const JOIN_BELOW = 64 * 1024;

export class WriteQueue {
  private chunks: Buffer[] = [];
  private bytes = 0;
  private scheduled = false;

  constructor(
    private readonly socket: Socket,
    /** Called just before a flush: the connection adds what it batches (WINDOW_UPDATEs). */
    private readonly beforeFlush: () => void,
  ) {}

  push(b: Buffer): void {
    this.chunks.push(b);
    this.bytes += b.length;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  /** Flush at the end of this turn even if nothing is queued yet (beforeFlush may add frames). */
  schedule(): void {
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  readonly flush = (): void => {
    this.beforeFlush();
    this.scheduled = false;
    const chunks = this.chunks;
    const bytes = this.bytes;
    this.chunks = [];
    this.bytes = 0;
    if (chunks.length === 0 || this.socket.destroyed) return;
    if (chunks.length === 1) this.socket.write(chunks[0]!);
    else if (bytes < JOIN_BELOW) this.socket.write(Buffer.concat(chunks, bytes));
    else {
      this.socket.cork();
      for (const c of chunks) this.socket.write(c);
      this.socket.uncork();
    }
  };
}
