// Starts the gateway in-process exactly as the CLI does (flags → config → modules), on port 0.

import { pino } from 'pino';
import { loadConfig } from '../../app/config.js';
import { buildModules, type Modules } from '../../app/modules.js';

export interface RunningGateway {
  readonly url: string;
  readonly port: number;
  readonly modules: Modules;
  stop(): Promise<void>;
}

export async function startGateway(args: string[]): Promise<RunningGateway> {
  const cfg = loadConfig(['-server.http-listen-address=127.0.0.1', '-server.http-listen-port=0', '-server.graceful-shutdown-timeout=2s', ...args]);
  const modules = buildModules(cfg, pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' }));
  await modules.start();
  const port = Number(modules.addresses()['http']!.split(':').pop());
  return { url: `http://127.0.0.1:${port}`, port, modules, stop: () => modules.stop() };
}
