// Watches the config file and reports each new, valid content. fs events are fast but lost on some
// filesystems and across atomic renames (Kubernetes ConfigMaps swap a symlinked directory), so a
// periodic content-hash check backs them up. Changes are debounced like Istio's PILOT_DEBOUNCE_AFTER
// (quiet time) / PILOT_DEBOUNCE_MAX (upper bound), so an editor's several writes become one reload.

import { createHash } from 'node:crypto';
import { watch, readFileSync, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';

export interface ConfigWatcherOptions<T> {
  readonly file: string;
  /** Parses and validates the file (and anything layered on it). Throws with a user-facing message. */
  readonly load: () => T;
  readonly onConfig: (config: T) => void;
  readonly logger: Logger;
  readonly registry: Registry;
  readonly pollIntervalMs?: number;
  readonly debounceQuietMs?: number;
  readonly debounceMaxMs?: number;
  /** What the file holds, in metric names and logs: 'config' (default) or 'tokens' (the tokens file). */
  readonly kind?: 'config' | 'tokens';
}

export interface ConfigStatus {
  readonly file: string;
  readonly hash: string;
  readonly loadedAtMs: number | undefined;
  readonly lastError: { readonly atMs: number; readonly message: string } | null;
}

export class ConfigWatcher<T> {
  private fsWatcher: FSWatcher | undefined;
  private poll: NodeJS.Timeout | undefined;
  private quietTimer: NodeJS.Timeout | undefined;
  private firstEventAt = 0;
  private lastHash = '';
  private loadedAtMs: number | undefined;
  private lastError: ConfigStatus['lastError'] = null;
  private readonly reloads: Counter<'outcome'>;
  private readonly lastSuccess: Gauge;
  private readonly lastReloadOk: Gauge;

  private readonly kind: string;

  constructor(private readonly opts: ConfigWatcherOptions<T>) {
    const kind = (this.kind = opts.kind ?? 'config');
    this.reloads = new Counter({
      name: `control_plane_${kind}_reloads_total`,
      help: `${kind === 'config' ? 'Config' : 'Tokens'} file reloads by outcome (success, failure).`,
      labelNames: ['outcome'],
      registers: [opts.registry],
    });
    this.lastSuccess = new Gauge({
      name: `control_plane_${kind}_last_reload_success_timestamp_seconds`,
      help: `When the ${kind} file was last loaded successfully.`,
      registers: [opts.registry],
    });
    // Prometheus's own prometheus_config_last_reload_successful: an alert on "== 0 for 5m" says a
    // broken file has been left in place, which a counter of failures cannot say once it stops rising.
    this.lastReloadOk = new Gauge({
      name: `control_plane_${kind}_last_reload_successful`,
      help: `1 if the last load of the ${kind} file succeeded, 0 if it failed (the last good ${kind} is still served).`,
      registers: [opts.registry],
    });
  }

  /** Records the content already loaded at startup, then watches for changes. */
  start(initialContentHash: string): void {
    this.lastHash = initialContentHash;
    this.loadedAtMs = Date.now();
    this.lastSuccess.set(this.loadedAtMs / 1000);
    this.lastReloadOk.set(1);
    this.reloads.inc({ outcome: 'success' }, 0);
    this.reloads.inc({ outcome: 'failure' }, 0);
    this.watchDirectory();
    this.poll = setInterval(() => this.check(), this.opts.pollIntervalMs ?? 1000);
    this.poll.unref();
  }

  stop(): void {
    this.fsWatcher?.close();
    this.fsWatcher = undefined;
    clearInterval(this.poll);
    clearTimeout(this.quietTimer);
  }

  status(): ConfigStatus {
    return { file: this.opts.file, hash: this.lastHash, loadedAtMs: this.loadedAtMs, lastError: this.lastError ?? null };
  }

  private watchDirectory(): void {
    // The directory, not the file: an atomic rename replaces the file's inode and a file watch goes deaf.
    try {
      const name = basename(this.opts.file);
      this.fsWatcher = watch(dirname(this.opts.file), { persistent: false }, (_event, changed) => {
        if (changed === null || changed === name || changed.startsWith('..')) this.changed();
      });
      this.fsWatcher.on('error', () => {
        this.fsWatcher?.close();
        this.fsWatcher = undefined; // the poll keeps working
      });
    } catch {
      this.fsWatcher = undefined;
    }
  }

  private check(): void {
    const hash = contentHash(this.opts.file);
    if (hash !== this.lastHash) this.changed();
  }

  /** Debounce: reload after `quiet` ms without events, but no later than `max` ms after the first. */
  private changed(): void {
    const now = Date.now();
    const quiet = this.opts.debounceQuietMs ?? 100;
    const max = this.opts.debounceMaxMs ?? 1000;
    if (this.quietTimer === undefined) this.firstEventAt = now;
    clearTimeout(this.quietTimer);
    const wait = Math.max(0, Math.min(quiet, this.firstEventAt + max - now));
    this.quietTimer = setTimeout(() => {
      this.quietTimer = undefined;
      this.reload();
    }, wait);
    this.quietTimer.unref();
  }

  private reload(): void {
    const hash = contentHash(this.opts.file);
    if (hash === this.lastHash && this.lastError === null) return;
    let config: T;
    try {
      config = this.opts.load();
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      // Same broken content: report once, not at every poll.
      if (hash !== this.lastHash || this.lastError?.message !== message) {
        this.reloads.inc({ outcome: 'failure' });
        this.opts.logger.error({ file: this.opts.file }, `${this.kind} reload failed, keeping the last good ${this.kind}: ${message}`);
      }
      this.lastHash = hash;
      this.lastError = { atMs: Date.now(), message };
      this.lastReloadOk.set(0);
      return;
    }
    this.lastHash = hash;
    this.lastError = null;
    this.loadedAtMs = Date.now();
    this.reloads.inc({ outcome: 'success' });
    this.lastSuccess.set(this.loadedAtMs / 1000);
    this.lastReloadOk.set(1);
    this.opts.logger.info({ file: this.opts.file, hash: hash.slice(0, 12) }, `${this.kind} reloaded`);
    this.opts.onConfig(config);
  }
}

/** sha256 of the file, or a marker naming why it cannot be read (so vanishing counts as a change). */
export function contentHash(file: string): string {
  try {
    return createHash('sha256').update(readFileSync(file)).digest('hex');
  } catch (err) {
    return `unreadable:${(err as NodeJS.ErrnoException).code ?? 'error'}`;
  }
}
