#!/usr/bin/env node
// metrics-gateway: one binary, components chosen with -target (Mimir/GEM conventions).

import { GatewayError } from '../core/errors.js';
import { loadConfig, str } from './config.js';
import { helpText } from './help.js';
import { createLogger, type LogFormat } from './logger.js';
import { checkConfig } from './config-check.js';
import { buildModules } from './modules.js';
import { tokensCommand } from './tokens-command.js';

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
  const logger = createLogger({ level: str(cfg.tree, 'server.log_level'), format: str(cfg.tree, 'server.log_format') as LogFormat });
  let modules;
  try {
    modules = buildModules(cfg, logger);
    await modules.start();
  } catch (err) {
    const message = err instanceof GatewayError ? err.message : err instanceof Error ? err.message : String(err);
    logger.error({ target: str(cfg.tree, 'target') }, `startup failed: ${message}`);
    await modules?.stop().catch(() => undefined);
    return 1;
  }
  logger.info({ target: str(cfg.tree, 'target'), ...modules.addresses() }, 'metrics-gateway started');
  await new Promise<void>((resolve) => {
    const onSignal = (sig: NodeJS.Signals): void => {
      logger.info({ signal: sig }, 'shutting down');
      resolve();
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
  await modules.stop();
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
