import { GatewayError } from '../core/errors.js';

// -config.expand-env: ${VAR} and ${VAR:default}, as Mimir does, line by line so that
// positions in later error messages still point at the right line.

const REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([^}]*))?\}/g;

export function expandEnv(text: string, env: NodeJS.ProcessEnv, file: string): string {
  return text
    .split('\n')
    .map((line, i) =>
      line.replace(REF, (whole: string, name: string, def: string | undefined, col: number) => {
        const value = env[name];
        if (value !== undefined) return value;
        if (def !== undefined) return def;
        throw new GatewayError(
          'CONFIG_ENV',
          `${file}:${i + 1}:${col + 1}: ${whole} is not set in the environment and has no default; ` +
            `set ${name} or write \${${name}:default}`,
        );
      }),
    )
    .join('\n');
}
