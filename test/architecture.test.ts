import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { importViolations } from './support/import-rules.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

describe('layering: the planes meet only at xds/ and core/', () => {
  it('no file of core/, xds/, control-plane/, data-plane/ imports across its layer', () => {
    const problems = importViolations(ROOT).map((v) => v.message);
    expect(problems, problems.join('\n')).toEqual([]);
  });

  it('reports a forbidden import with its file and line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'layers-'));
    try {
      const write = (file: string, text: string): void => {
        mkdirSync(join(dir, file, '..'), { recursive: true });
        writeFileSync(join(dir, file), text);
      };
      write('core/model.ts', 'export const x = 1;\n');
      write('control-plane/model.ts', 'export const y = 1;\n');
      write('app/errors.ts', 'export const e = 1;\n');
      write('xds/ok.ts', "import { x } from '../core/model.js';\nexport const z = x;\n");
      write(
        'data-plane/bad.ts',
        "import { x } from '../core/model.js';\n// a comment\nimport { y } from '../control-plane/model.js';\nexport { e } from '../app/errors.js';\nconst lazy = () => import('../control-plane/model.js');\n",
      );
      write('core/bad.ts', "import { z } from '../xds/ok.js';\n");
      const found = importViolations(dir).map((v) => v.where).sort();
      expect(found).toEqual(['core/bad.ts:1', 'data-plane/bad.ts:3', 'data-plane/bad.ts:4', 'data-plane/bad.ts:5']);
      expect(importViolations(dir).find((v) => v.where === 'data-plane/bad.ts:3')?.message).toBe(
        'data-plane/bad.ts:3: imports ../control-plane/model.js (control-plane/model.js): data-plane/ may import only data-plane/, xds/, core/',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
