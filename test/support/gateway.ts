// Starts the process in-process exactly as the CLI does (flags → config → modules), HTTP on port 0.

import { pino } from 'pino';
import { request } from 'undici';
import { loadConfig } from '../../app/config.js';
import { buildModules, type ModuleOptions, type Modules } from '../../app/modules.js';
export { eventually } from './poll.js';

export interface RunningGateway {
  readonly url: string;
  readonly port: number;
  /** host:port of the xDS server, for -target=control-plane/all. */
  readonly grpc: string;
  readonly modules: Modules;
  stop(): Promise<void>;
}

/** Loopback, port 0, a short drain: what every in-process test server starts with. */
export const TEST_SERVER_FLAGS: readonly string[] = [
  '-server.http-listen-address=127.0.0.1',
  '-server.http-listen-port=0',
  '-server.grpc-listen-address=127.0.0.1',
  '-server.grpc-listen-port=0',
  '-server.graceful-shutdown-timeout=2s',
];

export async function startGateway(args: string[], opts: ModuleOptions = {}): Promise<RunningGateway> {
  const cfg = loadConfig([...TEST_SERVER_FLAGS, ...args]);
  const modules = buildModules(cfg, pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' }), opts);
  await modules.start();
  const port = Number(modules.addresses()['http']!.split(':').pop());
  return { url: `http://127.0.0.1:${port}`, port, grpc: modules.addresses()['grpc'] ?? '', modules, stop: () => modules.stop() };
}

/** The version the gateway has applied ('' before any), from its own API. */
export async function appliedVersion(gatewayUrl: string): Promise<string> {
  const res = await request(`${gatewayUrl}/gateway/api/v1/config`);
  const body = (await res.body.json()) as { applied: { version: string } | null };
  return body.applied?.version ?? '';
}

