// A real HTTP backend on loopback that records what it receives.

import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';

export interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  bodyBytes: number;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void;

export class HttpBackend {
  readonly received: Received[] = [];
  private readonly server: http.Server;
  port = 0;

  constructor(
    readonly name: string,
    private handler?: Handler,
    private readonly opts: { stream?: boolean } = {},
  ) {
    this.server = http.createServer((req, res) => this.onRequest(req, res));
  }

  static async start(name: string, host = '127.0.0.1', handler?: Handler, opts: { stream?: boolean } = {}): Promise<HttpBackend> {
    const b = new HttpBackend(name, handler, opts);
    b.server.listen(0, host);
    await once(b.server, 'listening');
    b.port = (b.server.address() as AddressInfo).port;
    b.host = host;
    return b;
  }

  host = '127.0.0.1';

  get url(): string {
    return `http://${this.host}:${this.port}`;
  }

  setHandler(h: Handler | undefined): void {
    this.handler = h;
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    let bytes = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      bytes += c.length;
      if (!this.opts.stream) chunks.push(c);
    });
    req.on('end', () => {
      this.received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders, bodyBytes: bytes });
      const body = Buffer.concat(chunks);
      if (this.handler) return this.handler(req, res, body);
      res.setHeader('content-type', 'application/json');
      res.setHeader('x-backend', this.name);
      res.end(JSON.stringify({ backend: this.name, method: req.method, url: req.url, bytes }));
    });
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    this.server.close();
    if (this.server.listening) await once(this.server, 'close');
  }
}
