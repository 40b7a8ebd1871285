// Continuous keep-alive load for reload/failover tests: a few loops over one undici Pool, each request
// checked; bounded in time and count. Every failure is kept with what it was, for the assertion message.

import { Pool } from 'undici';

export interface LoadRequest {
  readonly path: string;
  readonly method: 'GET' | 'POST';
  readonly body?: string;
  /** Replace or add request headers (the default sends X-Scope-OrgID: load). */
  readonly headers?: Readonly<Record<string, string>>;
}

export interface Load {
  readonly sent: () => number;
  readonly failures: string[];
  /** Stops the loops and resolves when the last request is done. */
  stop(): Promise<void>;
}

export interface LoadOptions {
  readonly concurrency?: number;
  readonly maxMs?: number;
  readonly maxRequests?: number;
  /** Each answer with the time its request was sent (status 0: no answer), e.g. to judge it against an event. */
  readonly onResult?: (status: number, sentAt: number) => void;
}

export function startLoad(url: string, requests: readonly LoadRequest[], opts: LoadOptions = {}): Load {
  const pool = new Pool(url, { connections: opts.concurrency ?? 4, pipelining: 1 });
  const failures: string[] = [];
  let sent = 0;
  let stopped = false;
  const deadline = Date.now() + (opts.maxMs ?? 60_000);
  const max = opts.maxRequests ?? 200_000;
  const loop = async (offset: number): Promise<void> => {
    for (let i = offset; !stopped && Date.now() < deadline && sent < max; i++) {
      const r = requests[i % requests.length]!;
      sent++;
      const sentAt = Date.now();
      try {
        const res = await pool.request({ path: r.path, method: r.method, body: r.body, headers: { 'x-scope-orgid': 'load', ...r.headers } });
        const text = await res.body.text();
        opts.onResult?.(res.statusCode, sentAt);
        if (res.statusCode >= 400) failures.push(`${r.method} ${r.path} → ${res.statusCode} ${text.trim()}`);
      } catch (err) {
        opts.onResult?.(0, sentAt);
        failures.push(`${r.method} ${r.path} → ${(err as Error).message}`);
      }
    }
  };
  const loops = Array.from({ length: opts.concurrency ?? 4 }, (_, i) => loop(i));
  return {
    sent: () => sent,
    failures,
    stop: async () => {
      stopped = true;
      await Promise.all(loops);
      await pool.close();
    },
  };
}
