// The orchestrator's handle on bench/peers.ts: starts it pinned, sends commands, awaits replies.

import { join } from 'node:path';
import { BENCH_DIST } from './paths.js';
import { start, type Child } from './proc.js';
import type { PeerCommand, PeerCounts, PeerReply, TimelinePoint } from './peers-protocol.js';

export class Peers {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  private constructor(readonly child: Child) {
    child.proc.on('message', (m: PeerReply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if ('error' in m) p.reject(new Error(`peers: ${m.error}`));
      else p.resolve(m.result);
    });
    child.proc.on('exit', (code) => {
      for (const p of this.pending.values()) p.reject(new Error(`peers process exited (${code})`));
      this.pending.clear();
    });
  }

  static start(cpu: string | undefined, logFile: string): Peers {
    return new Peers(start('peers', process.execPath, [join(BENCH_DIST, 'peers.js')], { cpu, logFile, ipc: true }));
  }

  private call<T>(cmd: PeerCommand, timeoutMs = 10_000): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`peers: no answer to ${cmd.op} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.child.proc.send({ ...cmd, id });
    });
  }

  behave(peer: string, status: number, delayMs = 0): Promise<null> {
    return this.call({ op: 'behave', peer, status, delayMs });
  }
  dns(): Promise<number> {
    return this.call({ op: 'dns' });
  }
  records(name: string, hosts: readonly string[], ttl: number): Promise<number> {
    return this.call({ op: 'records', name, hosts, ttl });
  }
  grpc(hosts: readonly string[], port?: number): Promise<number> {
    return this.call({ op: 'grpc', hosts, ...(port !== undefined ? { port } : {}) });
  }
  http(hosts: readonly string[]): Promise<number> {
    return this.call({ op: 'http', hosts });
  }
  counts(): Promise<PeerCounts> {
    return this.call({ op: 'counts' });
  }
  sample(everyMs: number): Promise<void> {
    return this.call({ op: 'sample', everyMs });
  }
  timeline(): Promise<TimelinePoint[]> {
    return this.call({ op: 'timeline' });
  }
  stopPeers(peers?: readonly string[]): Promise<void> {
    return this.call({ op: 'stop', ...(peers ? { peers } : {}) });
  }

  async close(): Promise<void> {
    await this.stopPeers().catch(() => undefined);
    await this.child.stop(2000);
  }
}
