/**
 * Notices changes of config files and calls back once a burst of changes has
 * settled, for the control plane's sources. Two mechanisms, as Envoy's
 * filesystem watcher plus a safety net:
 *
 *   - fs.watch on the directories the source names (events for atomic
 *     renames land on the directory, not the old file);
 *   - a periodic scan comparing a signature (names, sizes, mtimes) the source
 *     computes, for mounts that swap whole directories (Kubernetes ConfigMaps)
 *     and file systems without inotify.
 *
 * Events are gathered for `debounceMs` before `onChange` runs.
 */
import { watch, type FSWatcher } from 'node:fs';
import type { Logger } from '../common/logger.js';

export interface ChangeWatcherOptions {
  /** Quiet time before a burst of events is reported (default 25 ms: an atomic rename is one event; editors' multi-step saves finish well within it). */
  readonly debounceMs?: number;
  /** Interval of the backstop scan (default 1000 ms; 0 disables it). */
  readonly scanIntervalMs?: number;
  /** Use fs.watch (default true). */
  readonly watch?: boolean;
}

export interface WatchedSource {
  /** Directories to watch now (asked again after every change). */
  watchedDirectories(): string[];
  /** A string that changes whenever the watched content changed. */
  signature(): string;
  /** Called once a burst of changes has settled. */
  onChange(): void;
}

export class ChangeWatcher {
  private readonly debounceMs: number;
  private readonly scanIntervalMs: number;
  private readonly useWatch: boolean;
  private readonly watchers = new Map<string, FSWatcher>();
  private debounce: NodeJS.Timeout | undefined;
  private scanTimer: NodeJS.Timeout | undefined;
  private lastSignature = '';
  private stopped = false;

  constructor(
    private readonly source: WatchedSource,
    private readonly log: Logger,
    options: ChangeWatcherOptions = {},
  ) {
    this.debounceMs = options.debounceMs ?? 25;
    this.scanIntervalMs = options.scanIntervalMs ?? 1000;
    this.useWatch = options.watch ?? true;
  }

  start(): void {
    this.refresh();
    if (this.scanIntervalMs > 0) {
      this.scanTimer = setInterval(() => this.scan(), this.scanIntervalMs);
      this.scanTimer.unref();
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.debounce !== undefined) clearTimeout(this.debounce);
    if (this.scanTimer !== undefined) clearInterval(this.scanTimer);
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
  }

  /** The source has read everything as of `signature`: remember it and re-arm the directory watches. */
  settled(signature: string): void {
    this.lastSignature = signature;
    if (!this.stopped) this.refresh();
  }

  private schedule(): void {
    if (this.stopped) return;
    if (this.debounce !== undefined) clearTimeout(this.debounce);
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      this.source.onChange();
    }, this.debounceMs);
  }

  private scan(): void {
    if (this.stopped || this.debounce !== undefined) return;
    try {
      if (this.source.signature() !== this.lastSignature) this.schedule();
    } catch (e) {
      this.log.warn(`cannot scan for changes: ${(e as Error).message}`);
    }
  }

  private refresh(): void {
    if (!this.useWatch) return;
    const wanted = new Set(this.source.watchedDirectories());
    for (const [path, w] of this.watchers) {
      if (!wanted.has(path)) {
        w.close();
        this.watchers.delete(path);
      }
    }
    for (const path of wanted) {
      if (this.watchers.has(path)) continue;
      try {
        const w = watch(path, { persistent: false }, () => this.schedule());
        w.on('error', () => {
          w.close();
          this.watchers.delete(path);
        });
        this.watchers.set(path, w);
      } catch (e) {
        this.log.warn(`cannot watch ${path} (${(e as Error).message}); relying on the periodic scan`);
      }
    }
  }
}
