// The bench's test peers, in their own (pinned) process so their CPU is not the gateway's nor the
// orchestrator's: the in-process DNS server from examples/local, httpgrpc distributors answering 200 at
// once (examples/local/httpgrpc-server.ts), and plain node:http backends for the L4 balancer. Driven over
// the IPC channel by bench/lib/peers-client.ts; every reply carries the command's id.

import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { DnsServer } from '../examples/local/dns-server.js';
import { HttpGrpcServer, type HandlerResult } from '../examples/local/httpgrpc-server.js';
import type { PeerCommand, PeerCounts, PeerReply, TimelinePoint } from './lib/peers-protocol.js';

const OK: HandlerResult = { code: 200, body: 'ok' };

interface Peer {
  readonly host: string;
  readonly port: number;
  requests(): number;
  connections(): number;
  firstAt: number | undefined;
  /** httpgrpc peers only: how they answer (bench 'behave'). */
  behaviour?: { status: number; delayMs: number };
  close(): Promise<void>;
}

let dns: DnsServer | undefined;
const peers = new Map<string, Peer>();
let grpcPort = 0;
let timeline: TimelinePoint[] = [];
let sampler: NodeJS.Timeout | undefined;

async function startGrpc(host: string, port: number): Promise<Peer> {
  const server = await HttpGrpcServer.start({ host, port, record: false });
  const peer: Peer = {
    host,
    port: server.port,
    requests: () => server.requestCount,
    connections: () => 0,
    firstAt: undefined,
    close: async () => server.kill(),
  };
  server.handler = async () => {
    peer.firstAt ??= Date.now();
    const b = peer.behaviour;
    if (b === undefined) return OK;
    if (b.delayMs > 0) await new Promise((r) => setTimeout(r, b.delayMs));
    return b.status >= 400 ? { dskitError: { code: b.status, body: 'bench: told to fail\n' } } : OK;
  };
  return peer;
}

async function startHttp(host: string, port: number): Promise<Peer> {
  let requests = 0;
  let connections = 0;
  const server = http.createServer({ keepAliveTimeout: 120_000 }, (req, res) => {
    requests++;
    peer.firstAt ??= Date.now();
    req.resume();
    req.on('end', () => res.end('ok\n'));
  });
  server.on('connection', () => connections++);
  server.listen(port, host);
  await once(server, 'listening');
  const peer: Peer = {
    host,
    port: (server.address() as AddressInfo).port,
    requests: () => requests,
    connections: () => connections,
    firstAt: undefined,
    close: async () => {
      server.closeAllConnections();
      server.close();
    },
  };
  return peer;
}

/**
 * One server per host, all on one port, as a headless Service presents them: the first host picks the
 * port unless `port` is given. A clash with an unrelated listener on a later host is retried.
 */
async function startAll(hosts: readonly string[], port: number, make: (h: string, p: number) => Promise<Peer>): Promise<number> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const started: Peer[] = [];
    try {
      let p = port;
      for (const h of hosts) {
        const peer = await make(h, p);
        started.push(peer);
        p = peer.port;
      }
      for (const s of started) peers.set(`${s.host}:${s.port}`, s);
      return p;
    } catch (err) {
      for (const s of started) await s.close();
      if (port !== 0) throw err;
    }
  }
  throw new Error(`could not bind ${hosts.join(', ')} on one port`);
}

function counts(): PeerCounts {
  const out: PeerCounts = {};
  for (const [h, p] of peers) out[h] = { requests: p.requests(), connections: p.connections(), firstAt: p.firstAt ?? null };
  return out;
}

async function handle(cmd: PeerCommand): Promise<unknown> {
  switch (cmd.op) {
    case 'dns':
      dns ??= await DnsServer.start({ host: '127.0.0.1', port: 0 });
      return dns.port;
    case 'records':
      dns!.setRecords(cmd.name, cmd.hosts.map((address) => ({ type: 'A' as const, address, ttl: cmd.ttl })));
      // firstAt now means "first request since the records changed" (scale-out trials).
      for (const p of peers.values()) p.firstAt = undefined;
      return Date.now();
    case 'grpc':
      grpcPort = await startAll(cmd.hosts, cmd.port ?? grpcPort, startGrpc);
      return grpcPort;
    case 'http':
      return startAll(cmd.hosts, 0, startHttp);
    case 'counts':
      return counts();
    case 'behave': {
      const peer = peers.get(cmd.peer);
      if (!peer) throw new Error(`no peer ${cmd.peer}`);
      peer.behaviour = cmd.status === 200 && cmd.delayMs === 0 ? undefined : { status: cmd.status, delayMs: cmd.delayMs };
      return null;
    }
    case 'sample':
      clearInterval(sampler);
      timeline = [];
      if (cmd.everyMs > 0) {
        sampler = setInterval(() => timeline.push({ t: Date.now(), counts: Object.fromEntries([...peers].map(([h, p]) => [h, p.requests()])) }), cmd.everyMs);
      }
      return null;
    case 'timeline':
      return timeline;
    case 'stop':
      clearInterval(sampler);
      for (const key of cmd.peers ?? [...peers.keys()]) {
        await peers.get(key)?.close();
        peers.delete(key);
      }
      if (cmd.peers === undefined) {
        grpcPort = 0;
        await dns?.close();
        dns = undefined;
      }
      return null;
  }
}

process.on('message', (m: PeerCommand & { id: number }) => {
  handle(m).then(
    (result) => process.send!({ id: m.id, result } satisfies PeerReply),
    (err: unknown) => process.send!({ id: m.id, error: err instanceof Error ? err.message : String(err) } satisfies PeerReply),
  );
});
// The orchestrator going away (crash, Ctrl-C) closes the channel: exit with it.
process.on('disconnect', () => process.exit(0));
