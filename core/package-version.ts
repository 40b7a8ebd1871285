import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// The package's version (package.json), for Node.user_agent_version on xDS streams. Found by walking
// up from this module: the same code runs from source (vitest) and from dist/, at different depths.

let version: string | undefined;

export function packageVersion(): string {
  if (version !== undefined) return version;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const v = (JSON.parse(readFileSync(file, 'utf8')) as { version?: unknown }).version;
      version = typeof v === 'string' ? v : '';
      return version;
    }
    const parent = dirname(dir);
    if (parent === dir) return (version = '');
    dir = parent;
  }
}
