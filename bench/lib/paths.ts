// Where the bench finds the repository (templates, wrk script, the built gateway) and writes results.
// Compiled to dist/bench/lib/, so the repository root is three levels up from here.

import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
export const TEMPLATES = join(REPO, 'bench', 'templates');
export const WRK_SCRIPT = join(REPO, 'bench', 'post.lua');
export const GATEWAY_CLI = join(REPO, 'dist', 'app', 'cli.js');
/** Compiled bench entry points (peers, baseline proxy, grpc-js client) live next to this file's parent. */
export const BENCH_DIST = fileURLToPath(new URL('../', import.meta.url));
