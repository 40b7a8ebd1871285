// A synthetic scrape target: a node:http server answering /metrics in the Prometheus text format
// (0.0.4) with a fixed set of gauge series. Labels are fixed and values depend only on (series,
// scrape number), so two runs expose the same data.

import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';

export interface ScrapeTargetOptions {
  /** Loopback address to listen on; default 127.0.0.1. */
  readonly host?: string;
  /** Number of series; default 5000. Spread over metric families of `perFamily` series each. */
  readonly series?: number;
  readonly perFamily?: number;
}

export class ScrapeTarget {
  /** Scrapes answered so far. */
  scrapes = 0;
  readonly seriesCount: number;
  private readonly families: ReadonlyArray<{ readonly header: string; readonly lines: readonly string[] }>;

  private constructor(
    private readonly server: http.Server,
    readonly host: string,
    readonly port: number,
    series: number,
    perFamily: number,
  ) {
    this.seriesCount = series;
    const families: Array<{ header: string; lines: string[] }> = [];
    for (let i = 0; i < series; i++) {
      const f = Math.floor(i / perFamily);
      const name = `e2e_synthetic_gauge_${String(f).padStart(3, '0')}`;
      if (families[f] === undefined) families[f] = { header: `# HELP ${name} Synthetic gauge family ${f}.\n# TYPE ${name} gauge\n`, lines: [] };
      families[f]!.lines.push(`${name}{item="${String(i % perFamily).padStart(4, '0')}",parity="${i % 2 === 0 ? 'even' : 'odd'}"} `);
    }
    this.families = families;
  }

  static async start(opts: ScrapeTargetOptions = {}): Promise<ScrapeTarget> {
    const host = opts.host ?? '127.0.0.1';
    let target: ScrapeTarget | undefined;
    const server = http.createServer((req, res) => target!.answer(req, res));
    server.listen(0, host);
    await once(server, 'listening');
    target = new ScrapeTarget(server, host, (server.address() as AddressInfo).port, opts.series ?? 5000, opts.perFamily ?? 100);
    return target;
  }

  /** host:port, as a Prometheus static_configs target. */
  get address(): string {
    return `${this.host}:${this.port}`;
  }

  private answer(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (req.url?.split('?')[0] !== '/metrics') {
      res.writeHead(404).end('only /metrics\n');
      return;
    }
    const n = this.scrapes++;
    let body = '';
    let i = 0;
    for (const f of this.families) {
      body += f.header;
      for (const line of f.lines) body += `${line}${(i++ * 31 + n) % 1000}\n`;
    }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
    res.end(body);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
