#!/usr/bin/env node
// metrics-gateway: one binary, components chosen with -target (Mimir/GEM conventions).

import { GatewayError } from '../core/errors.js';
import { loadConfig, str } from './config.js';
import { helpText } from './help.js';
import { createLogger, type LogFormat } from './logger.js';
import { checkConfig } from './config-check.js';
import { tokensCommand } from './tokens-command.js';
import cluster from 'node:cluster';
import { Registry } from 'prom-client';
import { buildModules, type ModuleOptions } from './modules.js';
import { workerRole } from './worker.js';
import { WORKER_ENV } from './worker-protocol.js';
import { WorkerPool } from './workers.js';
import { workerCount } from './workers-count.js';

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'tokens') return tokensCommand(argv.slice(1), process.stdout, process.stderr);
  let cfg;
  try {
    cfg = loadConfig(argv);
  } catch (err) {
    if (err instanceof GatewayError) {
      process.stderr.write(`error: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  if (cfg.help) {
    process.stdout.write(helpText());
    return 0;
  }
  if (cfg.check) return checkConfig(cfg);
  let logger = createLogger({ level: str(cfg.tree, 'server.log_level'), format: str(cfg.tree, 'server.log_format') as LogFormat });
  const workers = workerCount(str(cfg.tree, 'server.workers')) as number;
  const target = str(cfg.tree, 'target');
  // Workers serve the gateway only: a control plane's API and its gRPC port stay in one process.
  const multi = workers > 1 && target === 'gateway';
  if (workers > 1 && !multi) logger.warn({ target, workers }, '-server.workers applies to -target=gateway only; running one process');
  // Set when a worker's primary asks it to drain (IPC) or goes away.
  let stopRequested: (() => void) | undefined;
  let requestedEarly = false;
  const requestStop = (): void => (stopRequested ? stopRequested() : void (requestedEarly = true));
  const registry = new Registry();
  let pool: WorkerPool | undefined;
  let opts: ModuleOptions = {};
  let modules: ReturnType<typeof buildModules> | undefined;
  if (multi && cluster.isWorker) {
    logger = logger.child({ worker: Number(process.env[WORKER_ENV]) });
    opts = { registry, role: workerRole(registry, requestStop, () => modules?.gateway?.load) };
    process.on('disconnect', requestStop);
  } else if (multi) {
    opts = { registry, role: { kind: 'primary', relay: (raw) => pool?.relay(raw) } };
  }
  try {
    modules = buildModules(cfg, logger, opts);
    const built = modules;
    if (multi && cluster.isPrimary) pool = new WorkerPool(workers, () => built, registry, logger, cfg);
    await modules.start();
    pool?.start();
  } catch (err) {
    const message = err instanceof GatewayError ? err.message : err instanceof Error ? err.message : String(err);
    logger.error({ target: str(cfg.tree, 'target') }, `startup failed: ${message}`);
    await modules?.stop().catch(() => undefined);
    return 1;
  }
  logger.info({ target, ...modules.addresses(), ...(multi ? { workers } : {}) }, pool ? 'metrics-gateway primary started' : 'metrics-gateway started');
  await new Promise<void>((resolve) => {
    const onSignal = (sig: NodeJS.Signals): void => {
      logger.info({ signal: sig }, 'shutting down');
      resolve();
    };
    stopRequested = () => resolve();
    if (requestedEarly) resolve();
    // A worker drains when its primary says so; a signal to the whole group (Ctrl-C) must not
    // end it a second way, so its handlers stay installed.
    const on = multi && cluster.isWorker ? process.on.bind(process) : process.once.bind(process);
    on('SIGTERM', onSignal);
    on('SIGINT', onSignal);
  });
  if (pool) await pool.stop();
  else await modules.stop();
  logger.info('stopped');
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    // Exit explicitly: a connection the drain timed out on must not keep the process alive.
    process.exit(code);
  },
  (err: unknown) => {
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
