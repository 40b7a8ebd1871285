import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { allFlags, META_FLAGS } from '../app/config.js';
import { BACKEND_NAMES } from '../core/model.js';

// The README's flag reference covers every flag the binary has (per-backend flags by their pattern).
describe('README flag reference', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const backendFlags = new Set(BACKEND_NAMES.map((b) => `gateway.proxy.${b.replaceAll('_', '-')}.`));

  it('documents every flag', () => {
    const missing = [...META_FLAGS.map((m) => m.name), ...allFlags().map((f) => f.name)].filter((name) => {
      const prefix = [...backendFlags].find((p) => name.startsWith(p));
      const documented = prefix ? `-gateway.proxy.<backend>.${name.slice(prefix.length)}` : `-${name}`;
      return !readme.includes(`\`${documented}\``);
    });
    expect(missing).toEqual([]);
  });
});
