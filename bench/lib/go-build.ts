// Builds the Go programs under go/ (test peers, the bench's Go gateway) from Debian's grpc-go, offline,
// in GOPATH mode: GO111MODULE=off, GOPATH = <cache>/gopath (our sources, linked in as "metricsgw") :
// /usr/share/gocode (golang-google-grpc-dev). Binaries are cached by a hash of the Go sources, so a
// test run builds each once (~30 s cold, instant after); parallel builders race harmlessly (rename).
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
/** The repository root, from bench/lib (vitest) or dist/bench/lib (compiled) alike. */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
}
const REPO_ROOT = repoRoot();
const GO_DIR = join(REPO_ROOT, 'go');
const CACHE = join(REPO_ROOT, 'node_modules', '.cache', 'metrics-gateway-go');

function sourceHash(dir: string): string {
  const h = createHash('sha256');
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.go')) h.update(p).update(readFileSync(p));
    }
  };
  walk(dir);
  return h.digest('hex').slice(0, 16);
}

const building = new Map<string, Promise<string>>();

/** Path of the built `go/cmd/<cmd>` binary. */
export function buildGo(cmd: string): Promise<string> {
  let p = building.get(cmd);
  if (p === undefined) building.set(cmd, (p = build(cmd)));
  return p;
}

async function build(cmd: string): Promise<string> {
  const hash = sourceHash(GO_DIR);
  const out = join(CACHE, 'bin', hash, cmd);
  if (existsSync(out)) return out;
  const gopath = join(CACHE, 'gopath');
  mkdirSync(join(gopath, 'src'), { recursive: true });
  const link = join(gopath, 'src', 'metricsgw');
  if (!existsSync(link)) {
    try {
      symlinkSync(GO_DIR, link);
    } catch {
      // Another builder made it.
    }
  }
  mkdirSync(join(CACHE, 'bin', hash), { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  await run('go', ['build', '-o', tmp, `metricsgw/cmd/${cmd}`], {
    env: { ...process.env, GO111MODULE: 'off', GOFLAGS: '', GOPATH: `${gopath}:/usr/share/gocode`, GOCACHE: join(CACHE, 'gocache') },
    timeout: 300_000,
  });
  renameSync(tmp, out);
  rmSync(tmp, { force: true });
  return out;
}
