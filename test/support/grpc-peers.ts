// httpgrpc servers on the three gRPC stacks Mimir's clients meet: grpc-go (Mimir's distributors,
// built from Debian's golang-google-grpc-dev by bench/lib/go-build.ts), C-core (Debian's
// python3-grpcio, /usr/bin/python3, test/peers/ccore_server.py) and grpc-js (examples/local). Each
// answers "<stack> <url> <body bytes>" and echoes the body for /echo.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { buildGo } from '../../bench/lib/go-build.js';
import { HttpGrpcServer } from '../../examples/local/httpgrpc-server.js';

export type PeerStack = 'grpc-go' | 'c-core' | 'grpc-js';

export interface GrpcPeer {
  readonly stack: PeerStack;
  readonly endpoint: { readonly address: string; readonly port: number };
  close(): Promise<void>;
}

export interface PeerOptions {
  /** The server's MaxConnectionAge: it sends GOAWAY to each connection this old. */
  readonly maxConnectionAgeMs?: number;
}

const CCORE_SERVER = fileURLToPath(new URL('../peers/ccore_server.py', import.meta.url));

async function spawnPeer(stack: PeerStack, host: string, child: ChildProcess): Promise<GrpcPeer> {
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /PORT (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`${stack} server exited ${code} before listening: ${err}`)));
  });
  return {
    stack,
    endpoint: { address: host, port },
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.stdin!.end();
      const t = setTimeout(() => child.kill('SIGKILL'), 3_000);
      await exited;
      clearTimeout(t);
    },
  };
}

export async function startPeer(stack: PeerStack, host: string, opts: PeerOptions = {}): Promise<GrpcPeer> {
  const age = opts.maxConnectionAgeMs ?? 0;
  if (stack === 'grpc-go') {
    const bin = await buildGo('grpc-go-server');
    const args = [`-addr=${host}:0`, ...(age > 0 ? [`-max-connection-age=${age}ms`] : [])];
    return spawnPeer(stack, host, spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'] }));
  }
  if (stack === 'c-core') {
    const args = [CCORE_SERVER, `--host=${host}`, ...(age > 0 ? [`--max-connection-age-ms=${age}`] : [])];
    return spawnPeer(stack, host, spawn('/usr/bin/python3', args, { stdio: ['pipe', 'pipe', 'pipe'] }));
  }
  if (age > 0) throw new Error('grpc-js peer: no MaxConnectionAge here (grpc-js servers have grpc.max_connection_age_ms, not wired in examples/local)');
  const server = await HttpGrpcServer.start({
    host,
    record: false,
    handler: (req) => ({ code: 200, headers: { 'X-Peer': 'grpc-js' }, body: req.url.startsWith('/echo') ? req.body : `grpc-js ${req.url} ${req.body.length}` }),
  });
  return { stack, endpoint: server.endpoint, close: async () => server.kill() };
}
