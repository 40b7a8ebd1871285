// -config.check, like `nginx -t` or `envoy --mode validate`: the file and flags go through what
// start-up does before it serves (schema, certificates, the xDS snapshot the config translates into,
// the gateway's xDS settings), nothing is started, and what would run is printed.
// Errors are printed exactly as start-up reports them.

import { pino } from 'pino';
import { GatewayError } from '../core/errors.js';
import type { LoadedConfig } from './config.js';
import { buildModules } from './modules.js';

/** Returns the exit status: 0 and a description on stdout, or 1 and the error on stderr. */
export function checkConfig(cfg: LoadedConfig, out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): number {
  try {
    const lines = buildModules(cfg, pino({ level: 'silent' })).check();
    out.write(`config OK: ${cfg.file === '' ? '(no -config.file: defaults and flags)' : cfg.file}\n${lines.map((l) => `  ${l}`).join('\n')}\n`);
    return 0;
  } catch (e) {
    if (!(e instanceof GatewayError)) throw e;
    err.write(`error: ${e.message}\n`);
    return 1;
  }
}
