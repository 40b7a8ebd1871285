import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

/**
 * Absolute path of a file in the package's `proto/` folder. Found by walking up from this module to
 * the directory holding package.json, because the same code runs from source (vitest) and from
 * `dist/` (compiled), at different depths.
 */
export function protoPath(name: string): string {
  if (root === undefined) {
    let dir = dirname(fileURLToPath(import.meta.url));
    while (!existsSync(join(dir, 'package.json'))) {
      const parent = dirname(dir);
      if (parent === dir) throw new Error(`no package.json above ${fileURLToPath(import.meta.url)}`);
      dir = parent;
    }
    root = dir;
  }
  return join(root, 'proto', name);
}
