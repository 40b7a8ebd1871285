// The layering rule of the source tree, checked by reading every import (TypeScript's own
// pre-processor, so `import`, `export ... from`, `import()` and `require()` are all seen).
//
//   app/ ──► control-plane/ ──► xds/ ──► core/
//        └─► data-plane/    ──┘
//
// The two planes meet only at the Envoy API (xds/) and the shared vocabulary (core/).

import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

/** Top-level folder → the folders its files may import from (itself included). */
export const LAYERS: Readonly<Record<string, readonly string[]>> = {
  core: ['core'],
  xds: ['xds', 'core'],
  'control-plane': ['control-plane', 'xds', 'core'],
  'data-plane': ['data-plane', 'xds', 'core'],
  app: ['app', 'control-plane', 'data-plane', 'xds', 'core'],
};

export interface Violation {
  /** `data-plane/xds-apply.ts:8`, relative to the root. */
  readonly where: string;
  readonly imports: string;
  readonly message: string;
}

function tsFiles(dir: string): string[] {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return tsFiles(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

/** Every import in the layered folders under `root` that breaks LAYERS. */
export function importViolations(root: string): Violation[] {
  const out: Violation[] = [];
  for (const [layer, allowed] of Object.entries(LAYERS)) {
    for (const file of tsFiles(path.join(root, layer))) {
      const text = readFileSync(file, 'utf8');
      const info = ts.preProcessFile(text, true, true);
      for (const ref of info.importedFiles) {
        if (!ref.fileName.startsWith('.')) continue; // packages and node: builtins
        const target = path.relative(root, path.resolve(path.dirname(file), ref.fileName));
        const targetLayer = target.split(path.sep)[0] ?? '';
        if (allowed.includes(targetLayer)) continue;
        const line = ts.getLineAndCharacterOfPosition(ts.createSourceFile(file, text, ts.ScriptTarget.Latest), ref.pos).line + 1;
        const where = `${path.relative(root, file)}:${line}`;
        const why =
          targetLayer in LAYERS
            ? `${layer}/ may import only ${allowed.map((a) => `${a}/`).join(', ')}`
            : `${layer}/ may not import outside the layered folders`;
        out.push({ where, imports: ref.fileName, message: `${where}: imports ${ref.fileName} (${target}): ${why}` });
      }
    }
  }
  return out;
}
