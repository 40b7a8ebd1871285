// Go `flag` package conventions, as Mimir/GEM binaries take them:
// -flag=value, -flag value, --flag=value, and a bare -flag for booleans.

import { closest } from 'fastest-levenshtein';
import { GatewayError } from '../core/errors.js';

export interface FlagSpec {
  readonly name: string;
  readonly isBool: boolean;
}

export interface ParsedFlags {
  /** Flag name → raw value, in command-line order (a later repeat wins). */
  readonly values: Map<string, string>;
  readonly positional: string[];
}

export function parseFlags(argv: readonly string[], specs: readonly FlagSpec[]): ParsedFlags {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const values = new Map<string, string>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positional.push(arg);
      continue;
    }
    const body = arg.startsWith('--') ? arg.slice(2) : arg.slice(1);
    const eq = body.indexOf('=');
    const name = eq < 0 ? body : body.slice(0, eq);
    const spec = byName.get(name);
    if (!spec) {
      const hint = specs.length > 0 ? `; did you mean -${closest(name, specs.map((s) => s.name))}?` : '';
      throw new GatewayError('FLAG_UNKNOWN', `flag provided but not defined: -${name}${hint} (see -help)`);
    }
    if (eq >= 0) {
      values.set(name, body.slice(eq + 1));
    } else if (spec.isBool) {
      values.set(name, 'true');
    } else {
      const next = argv[i + 1];
      if (next === undefined) throw new GatewayError('FLAG_VALUE', `flag needs an argument: -${name}`);
      values.set(name, next);
      i++;
    }
  }
  return { values, positional };
}
