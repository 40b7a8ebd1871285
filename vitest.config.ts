import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    // Generous: the suite must pass while every core is busy with something else (waits are polls that
    // return as soon as their condition holds, so a healthy run never comes near these).
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // The JSON report is what .ci/run counts its "N passed, N failed" line from.
    reporters: ['default', ['json', { outputFile: '.vitest-results.json' }]],
  },
});
