// A directory laid out as the kubelet mounts a Secret: each file is a symlink through `..data`, a
// symlink to a timestamped directory; an update writes a new directory and renames a new `..data`
// over the old one, so a reader sees all old files or all new ones (kubernetes AtomicWriter).

import { copyFileSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export class SecretDir {
  readonly dir = mkdtempSync(join(tmpdir(), 'mgw-secret-'));
  private generation = 0;

  /** `files`: name in the Secret → file to copy in (e.g. tls.crt → /tmp/…/server.pem). */
  constructor(files: Readonly<Record<string, string>>) {
    this.update(files);
    for (const name of Object.keys(files)) symlinkSync(join('..data', name), join(this.dir, name));
  }

  path(name: string): string {
    return join(this.dir, name);
  }

  update(files: Readonly<Record<string, string>>): void {
    const gen = `..${++this.generation}_${Date.now()}`;
    mkdirSync(join(this.dir, gen));
    for (const [name, from] of Object.entries(files)) copyFileSync(from, join(this.dir, gen, name));
    symlinkSync(gen, join(this.dir, '..data_tmp'));
    renameSync(join(this.dir, '..data_tmp'), join(this.dir, '..data'));
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
