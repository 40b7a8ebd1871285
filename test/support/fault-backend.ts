// An HTTP backend on loopback that misbehaves on request: the last path segment picks the fault.
//   .../stall        accept, read the request, never answer
//   .../stall-body   answer 200 with Content-Length 1 MiB, send 64 KiB, then nothing
//   .../stall-chunks the same without Content-Length (chunked)
//   .../reset        answer 200 with Content-Length 1 MiB, send 64 KiB, then reset the TCP connection
//   .../reset-chunks the same without Content-Length (chunked)
//   .../huge?bytes=N stream N bytes (Content-Length: N), honouring backpressure
//   anything else    200 {"backend": name, "url": ..., "headers": {...}} once the body is in
// It counts requests that started (headers in) and requests whose connection closed before the
// answer was complete, so a test can tell "never reached" from "reached and abandoned".

import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';

export const PARTIAL_BYTES = 64 * 1024;
export const DECLARED_BYTES = 1024 * 1024;
/** The byte at `offset` of a huge body: a repeating 0..250 ramp, so a shifted or truncated body shows. */
export const hugeByte = (offset: number): number => offset % 251;

export class FaultBackend {
  /** Paths of requests whose headers arrived. */
  readonly started: string[] = [];
  /** Paths of requests whose connection closed before the answer was complete. */
  readonly abandoned: string[] = [];
  /** Paths of requests answered in full. */
  readonly completed: string[] = [];
  private readonly server: http.Server;
  port = 0;

  private constructor(
    readonly name: string,
    readonly host: string,
  ) {
    this.server = http.createServer((req, res) => this.onRequest(req, res));
  }

  static async start(name: string, host: string): Promise<FaultBackend> {
    const b = new FaultBackend(name, host);
    b.server.listen(0, host);
    await once(b.server, 'listening');
    b.port = (b.server.address() as AddressInfo).port;
    return b;
  }

  get url(): string {
    return `http://${this.host}:${this.port}`;
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '/';
    this.started.push(url);
    res.once('close', () => (res.writableFinished ? this.completed : this.abandoned).push(url));
    req.resume();
    const path = url.split('?')[0]!;
    const fault = path.slice(path.lastIndexOf('/') + 1);
    switch (fault) {
      case 'stall':
        return;
      case 'stall-body':
      case 'reset':
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': DECLARED_BYTES });
        res.write(Buffer.alloc(PARTIAL_BYTES, 'p'), () => {
          if (fault === 'reset') setTimeout(() => req.socket.resetAndDestroy(), 20);
        });
        return;
      case 'stall-chunks':
      case 'reset-chunks':
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.write(Buffer.alloc(PARTIAL_BYTES, 'p'), () => {
          if (fault === 'reset-chunks') setTimeout(() => req.socket.resetAndDestroy(), 20);
        });
        return;
      case 'huge':
        return this.huge(res, Number(new URL(url, 'http://x').searchParams.get('bytes')));
      default:
        // Only once the whole body is in: a request cut off midway must stay unanswered (abandoned).
        req.once('end', () => {
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify({ backend: this.name, url, headers: req.headers }));
        });
    }
  }

  private huge(res: ServerResponse, total: number): void {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': total });
    // One 251-aligned block, so every chunk continues the ramp where the previous one ended.
    const block = Buffer.alloc(251 * 1024);
    for (let i = 0; i < block.length; i++) block[i] = hugeByte(i);
    let sent = 0;
    const pump = (): void => {
      while (sent < total) {
        const n = Math.min(block.length, total - sent);
        sent += n;
        if (!res.write(n === block.length ? block : block.subarray(0, n))) {
          res.once('drain', pump);
          return;
        }
      }
      res.end();
    };
    pump();
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    this.server.close();
    if (this.server.listening) await once(this.server, 'close');
  }
}
