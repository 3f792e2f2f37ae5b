/**
 * Access-log files, after Envoy's AccessLogManagerImpl / AccessLogFileImpl
 * (source/common/access_log/access_log_manager_impl.cc).
 *
 * - One AccessLogFile per path, shared by every logger that writes that path
 *   (the manager hands out the same object), so lines from many loggers land
 *   whole and in the order they were written.
 * - `write()` only appends to an in-memory buffer: nothing touches the disk on
 *   the request path, and nothing throws.
 * - The buffer is flushed when it passes 64 KiB and on a timer
 *   (`--file-flush-interval-msec`, 10 s by default). A flush hands the batch
 *   to a flush thread (a worker, like Envoy's per-file flush thread) that
 *   appends it with blocking writes, in order, off the event loop.
 * - `flushAll()` writes everything synchronously and waits for the flush
 *   thread to finish: the server calls it on shutdown (it is safe in an
 *   'exit' handler). `flush()` is the async variant.
 * - `/dev/stdout` and `/dev/stderr` go to process.stdout / process.stderr
 *   (buffered the same way, written on flush).
 * - `reopen()` (admin `/reopen_logs`) closes and reopens every file, for
 *   log rotation; writes queued before it go to the old file.
 * - Failures are counted, never thrown, under Envoy's names in `filesystem.`:
 *   write_buffered, write_completed, write_failed, flushed_by_timer,
 *   reopen_failed (counters) and write_total_buffered (gauge, bytes).
 *   Opening a file that cannot be opened is counted as reopen_failed; the
 *   factories turn that into a config error, as Envoy refuses such a config.
 */
import { openSync, writeSync, closeSync } from 'node:fs';
import { resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Counter, Gauge, Scope } from '../envoy/stats/stats.js';
import {
  CTRL_COMPLETED,
  CTRL_DONE,
  CTRL_FAILED,
  CTRL_READY,
  CTRL_SLOTS,
  type FlushMessage,
  type FlushWorkerData,
} from './access_log_flush_protocol.js';

/** Envoy's AccessLogFileImpl::MIN_FLUSH_SIZE. */
export const MIN_FLUSH_SIZE = 64 * 1024;
/** Envoy's default `--file-flush-interval-msec`. */
export const DEFAULT_FLUSH_INTERVAL_MS = 10_000;

/** One log destination, shared by every logger that names its path. */
export interface AccessLogFile {
  readonly path: string;
  /** Appends `data` (usually one line) to the buffer. Never blocks, never throws. */
  write(data: string): void;
  /** Hands the buffer to the flush thread now (asynchronous). */
  flush(): void;
  /** Closes and reopens the file (after rotation). */
  reopen(): void;
  /** Why the last open failed, or null when the file is open. */
  readonly openError: Error | null;
}

/** The `filesystem.*` stats (Envoy's ACCESS_LOG_FILE_STATS). */
export interface AccessLogFileStats {
  readonly writeBuffered: Counter;
  readonly writeCompleted: Counter;
  readonly writeFailed: Counter;
  readonly flushedByTimer: Counter;
  readonly reopenFailed: Counter;
  readonly writeTotalBuffered: Gauge;
}

/** What stdout/stderr writes need; tests pass a fake. */
export interface StdioStream {
  write(data: string, cb?: (err?: Error | null) => void): boolean;
  on?(event: 'error', listener: (err: Error) => void): unknown;
  listenerCount?(event: string): number;
}

export interface AccessLogManagerOptions {
  /** Root scope; stats are created as `filesystem.<name>`. Can also be bound later with bindStats(). */
  readonly scope?: Scope;
  readonly flushIntervalMs?: number;
  readonly minFlushSize?: number;
  /**
   * Write through a flush worker thread (default). When false, or when the
   * worker cannot start, batches are written with blocking writes on the
   * main thread at flush time (never per request).
   */
  readonly useWorker?: boolean;
  /** How long flushAll() waits for the flush thread, ms (default 5000). */
  readonly syncTimeoutMs?: number;
  readonly stdout?: StdioStream;
  readonly stderr?: StdioStream;
}

// ---------------------------------------------------------------------------
// Stats

class LocalCounter implements Counter {
  private v = 0;
  private latched = 0;
  constructor(readonly name: string) {}
  inc(): void { this.v++; }
  add(n: number): void { this.v += n; }
  value(): number { return this.v; }
  latch(): number {
    const d = this.v - this.latched;
    this.latched = this.v;
    return d;
  }
}

class LocalGauge implements Gauge {
  private v = 0;
  constructor(readonly name: string) {}
  inc(): void { this.v++; }
  dec(): void { this.v--; }
  add(n: number): void { this.v += n; }
  sub(n: number): void { this.v -= n; }
  set(n: number): void { this.v = n; }
  value(): number { return this.v; }
}

function localStats(): AccessLogFileStats {
  return {
    writeBuffered: new LocalCounter('filesystem.write_buffered'),
    writeCompleted: new LocalCounter('filesystem.write_completed'),
    writeFailed: new LocalCounter('filesystem.write_failed'),
    flushedByTimer: new LocalCounter('filesystem.flushed_by_timer'),
    reopenFailed: new LocalCounter('filesystem.reopen_failed'),
    writeTotalBuffered: new LocalGauge('filesystem.write_total_buffered'),
  };
}

function scopeStats(scope: Scope): AccessLogFileStats {
  return {
    writeBuffered: scope.counter('filesystem.write_buffered'),
    writeCompleted: scope.counter('filesystem.write_completed'),
    writeFailed: scope.counter('filesystem.write_failed'),
    flushedByTimer: scope.counter('filesystem.flushed_by_timer'),
    reopenFailed: scope.counter('filesystem.reopen_failed'),
    writeTotalBuffered: scope.gauge('filesystem.write_total_buffered', 'never_import'),
  };
}

// ---------------------------------------------------------------------------
// Where batches go: the flush worker, or blocking writes on this thread.

interface WriteSink {
  write(fd: number, data: string): void;
  close(fd: number): void;
  /** Blocks until every batch handed over so far is written (bounded by the timeout). */
  drainSync(): void;
  /** Resolves when every batch handed over so far is written. */
  drain(): Promise<void>;
  /** Moves write results into the stats. */
  syncStats(): void;
  terminate(): void;
}

/** Writes on the calling thread; used when the worker is disabled or cannot start. */
class SyncSink implements WriteSink {
  constructor(private readonly stats: () => AccessLogFileStats) {}

  write(fd: number, data: string): void {
    try {
      const buf = Buffer.from(data, 'utf8');
      let off = 0;
      while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
      this.stats().writeCompleted.inc();
    } catch {
      this.stats().writeFailed.inc();
    }
  }

  close(fd: number): void {
    try {
      closeSync(fd);
    } catch {
      // Already closed.
    }
  }

  drainSync(): void {}
  drain(): Promise<void> { return Promise.resolve(); }
  syncStats(): void {}
  terminate(): void {}
}

/** Atomics.waitAsync (Node 16+), missing from the es2023 lib typings. */
const waitAsync = (Atomics as unknown as {
  waitAsync(a: Int32Array, index: number, value: number, timeoutMs: number):
    { async: false; value: string } | { async: true; value: Promise<string> };
}).waitAsync;

/** Hands batches to the flush worker; keeps each batch until the worker has finished it. */
class WorkerSink implements WriteSink {
  private readonly ctrl: Int32Array;
  private readonly worker: Worker;
  private seq = 0;
  /** Batches posted but not yet confirmed, oldest first (replayed here if the worker never starts). */
  private unacked: FlushMessage[] = [];
  private seenCompleted = 0;
  private seenFailed = 0;
  private broken = false;
  private readonly fallback: SyncSink;
  private pendingCloses: Array<{ fd: number; afterSeq: number }> = [];
  private draining = 0;

  constructor(private readonly stats: () => AccessLogFileStats, private readonly timeoutMs: number) {
    const shared = new SharedArrayBuffer(CTRL_SLOTS * Int32Array.BYTES_PER_ELEMENT);
    this.ctrl = new Int32Array(shared);
    this.fallback = new SyncSink(stats);
    const data: FlushWorkerData = { ctrl: shared };
    this.worker = new Worker(new URL('./access_log_flush_worker.js', import.meta.url), { workerData: data });
    this.worker.unref();
    this.worker.on('error', () => this.fail());
    this.worker.on('exit', () => this.fail());
  }

  write(fd: number, data: string): void {
    if (this.broken) {
      this.fallback.write(fd, data);
      return;
    }
    this.post({ t: 'w', seq: ++this.seq, fd, data });
  }

  close(fd: number): void {
    if (this.broken) {
      this.fallback.close(fd);
      return;
    }
    // Closed here, not in the worker (Node warns when a thread closes an fd it did not open),
    // once the worker is past every write queued for it.
    this.pendingCloses.push({ fd, afterSeq: this.seq });
    this.prune();
  }

  private post(m: FlushMessage): void {
    this.unacked.push(m);
    this.worker.postMessage(m);
    this.prune();
  }

  /** Drops confirmed batches. */
  private prune(): void {
    const done = this.broken ? Number.MAX_SAFE_INTEGER : Atomics.load(this.ctrl, CTRL_DONE);
    let i = 0;
    while (i < this.unacked.length && this.unacked[i]!.seq <= done) i++;
    if (i > 0) this.unacked.splice(0, i);
    if (this.pendingCloses.length > 0) {
      const keep: Array<{ fd: number; afterSeq: number }> = [];
      for (const c of this.pendingCloses) {
        if (c.afterSeq <= done) this.fallback.close(c.fd);
        else keep.push(c);
      }
      this.pendingCloses = keep;
    }
  }

  /** The worker is gone: write what it had not confirmed here, then write here from now on. */
  private fail(): void {
    if (this.broken) return;
    this.syncStats();
    const done = Atomics.load(this.ctrl, CTRL_DONE);
    const pending = this.unacked.filter((m) => m.seq > done);
    this.unacked = [];
    this.broken = true;
    for (const m of pending) this.fallback.write(m.fd, m.data);
    this.prune();
  }

  drainSync(): void {
    if (this.broken) return;
    const target = this.seq;
    const deadline = Date.now() + this.timeoutMs;
    // A worker that never started cannot write: take its batches back.
    while (Atomics.load(this.ctrl, CTRL_READY) === 0) {
      const left = deadline - Date.now();
      if (left <= 0) {
        void this.worker.terminate();
        this.fail();
        return;
      }
      Atomics.wait(this.ctrl, CTRL_READY, 0, left);
    }
    for (;;) {
      const done = Atomics.load(this.ctrl, CTRL_DONE);
      if (done >= target) break;
      const left = deadline - Date.now();
      // A stalled disk: give up waiting; the worker keeps writing if the process lives on.
      if (left <= 0) break;
      Atomics.wait(this.ctrl, CTRL_DONE, done, left);
    }
    this.prune();
    this.syncStats();
  }

  async drain(): Promise<void> {
    const target = this.seq;
    // Atomics.waitAsync alone does not keep the event loop alive; the (normally unref'd) worker does.
    if (this.draining++ === 0) this.worker.ref();
    try {
      while (!this.broken) {
        const done = Atomics.load(this.ctrl, CTRL_DONE);
        if (done >= target) break;
        const r = waitAsync(this.ctrl, CTRL_DONE, done, this.timeoutMs);
        if (r.async && (await r.value) === 'timed-out') break;
      }
    } finally {
      if (--this.draining === 0) this.worker.unref();
    }
    this.prune();
    this.syncStats();
  }

  syncStats(): void {
    this.prune();
    const completed = Atomics.load(this.ctrl, CTRL_COMPLETED);
    const failed = Atomics.load(this.ctrl, CTRL_FAILED);
    const s = this.stats();
    if (completed > this.seenCompleted) s.writeCompleted.add(completed - this.seenCompleted);
    if (failed > this.seenFailed) s.writeFailed.add(failed - this.seenFailed);
    this.seenCompleted = completed;
    this.seenFailed = failed;
  }

  terminate(): void {
    this.broken = true; // later writes (if any) go through the fallback
    this.prune();
    void this.worker.terminate();
  }
}

// ---------------------------------------------------------------------------
// Files

abstract class BufferedLog implements AccessLogFile {
  private pending: string[] = [];
  private pendingBytes = 0;

  constructor(readonly path: string, protected readonly manager: AccessLogManager) {}

  abstract readonly openError: Error | null;
  abstract reopen(): void;
  protected abstract writeBatch(data: string): void;

  write(data: string): void {
    this.pending.push(data);
    this.pendingBytes += data.length;
    const stats = this.manager.stats;
    stats.writeBuffered.inc();
    stats.writeTotalBuffered.add(data.length);
    if (this.pendingBytes >= this.manager.minFlushSize) this.flush();
  }

  get hasPending(): boolean { return this.pendingBytes > 0; }

  flush(): void {
    if (this.pendingBytes === 0) return;
    const data = this.pending.length === 1 ? this.pending[0]! : this.pending.join('');
    this.manager.stats.writeTotalBuffered.sub(this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    this.writeBatch(data);
  }
}

class FileLog extends BufferedLog {
  private fd: number | null = null;
  openError: Error | null = null;

  constructor(path: string, manager: AccessLogManager, private readonly sink: () => WriteSink) {
    super(path, manager);
    this.open();
  }

  private open(): void {
    try {
      this.fd = openSync(this.path, 'a', 0o644);
      this.openError = null;
    } catch (e) {
      this.fd = null;
      this.openError = e as Error;
      this.manager.stats.reopenFailed.inc();
    }
  }

  protected writeBatch(data: string): void {
    if (this.fd === null) {
      this.manager.stats.writeFailed.inc();
      return;
    }
    this.sink().write(this.fd, data);
  }

  reopen(): void {
    this.flush();
    const old = this.fd;
    this.open();
    // The close is queued behind the writes to the old fd.
    if (old !== null) this.sink().close(old);
  }

  /** Closes the file (manager shutdown). */
  close(): void {
    this.flush();
    if (this.fd !== null) this.sink().close(this.fd);
    this.fd = null;
  }
}

class StdioLog extends BufferedLog {
  readonly openError = null;

  constructor(path: string, manager: AccessLogManager, private readonly stream: StdioStream) {
    super(path, manager);
  }

  protected writeBatch(data: string): void {
    const stats = this.manager.stats;
    try {
      this.stream.write(data, (err) => {
        if (err) stats.writeFailed.inc();
        else stats.writeCompleted.inc();
      });
    } catch {
      stats.writeFailed.inc();
    }
  }

  reopen(): void {}
}

// ---------------------------------------------------------------------------
// The manager

/**
 * Owns every access-log file of the process. The server makes one (or uses
 * defaultAccessLogManager()), calls flushAll() on shutdown and reopen() for
 * `/reopen_logs`.
 */
export class AccessLogManager {
  private statsImpl: AccessLogFileStats = localStats();
  private statsBound = false;
  private readonly files = new Map<string, BufferedLog>();
  private sinkImpl: WriteSink | null = null;
  private timer: NodeJS.Timeout | null = null;
  private exitHook: (() => void) | null = null;
  readonly flushIntervalMs: number;
  readonly minFlushSize: number;
  private readonly useWorker: boolean;
  private readonly syncTimeoutMs: number;
  private readonly stdout: StdioStream;
  private readonly stderr: StdioStream;

  constructor(opts: AccessLogManagerOptions = {}) {
    this.flushIntervalMs = opts.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS;
    this.minFlushSize = opts.minFlushSize ?? MIN_FLUSH_SIZE;
    this.useWorker = opts.useWorker ?? true;
    this.syncTimeoutMs = opts.syncTimeoutMs ?? 5000;
    this.stdout = opts.stdout ?? process.stdout;
    this.stderr = opts.stderr ?? process.stderr;
    if (opts.scope !== undefined) this.bindStats(opts.scope);
  }

  get stats(): AccessLogFileStats { return this.statsImpl; }

  /**
   * Creates the `filesystem.*` stats in `scope` (first call wins; counts made
   * before it are carried over). Factories call this with the root scope.
   */
  bindStats(scope: Scope): void {
    if (this.statsBound) return;
    const old = this.statsImpl;
    const s = scopeStats(scope);
    s.writeBuffered.add(old.writeBuffered.value());
    s.writeCompleted.add(old.writeCompleted.value());
    s.writeFailed.add(old.writeFailed.value());
    s.flushedByTimer.add(old.flushedByTimer.value());
    s.reopenFailed.add(old.reopenFailed.value());
    s.writeTotalBuffered.add(old.writeTotalBuffered.value());
    this.statsImpl = s;
    this.statsBound = true;
  }

  /**
   * The shared file for `path` (resolved against the working directory),
   * opened on first use. Never throws: check `openError` (the access-log
   * factories reject the config when it is set, as Envoy does).
   */
  createAccessLog(path: string): AccessLogFile {
    const key = path === '/dev/stdout' || path === '/dev/stderr' ? path : resolve(path);
    let f = this.files.get(key);
    if (f === undefined) {
      if (key === '/dev/stdout') f = new StdioLog(key, this, this.guarded(this.stdout));
      else if (key === '/dev/stderr') f = new StdioLog(key, this, this.guarded(this.stderr));
      else f = new FileLog(key, this, () => this.sink());
      this.files.set(key, f);
      this.startTimer();
    } else if (f.openError !== null) {
      // A later config naming a path that failed before gets another try.
      f.reopen();
    }
    return f;
  }

  /** Hands every buffer to the flush thread (asynchronous). */
  flushBuffers(): void {
    for (const f of this.files.values()) f.flush();
  }

  /** Writes everything buffered and waits until it is on disk (or in the stdio stream). Synchronous. */
  flushAll(): void {
    for (const f of this.files.values()) f.flush();
    this.sinkImpl?.drainSync();
  }

  /** Writes everything buffered; resolves once it is written. */
  async flush(): Promise<void> {
    for (const f of this.files.values()) f.flush();
    await this.sinkImpl?.drain();
  }

  /** Reopens every file (admin `/reopen_logs`). */
  reopen(): void {
    for (const f of this.files.values()) f.reopen();
  }

  /** Flushes synchronously when the process exits (installed once). */
  flushOnExit(): void {
    if (this.exitHook !== null) return;
    this.exitHook = () => this.flushAll();
    process.on('exit', this.exitHook);
  }

  /** Flushes, closes every file and stops the timer and the flush thread. */
  close(): void {
    for (const f of this.files.values()) {
      if (f instanceof FileLog) f.close();
      else f.flush();
    }
    this.sinkImpl?.drainSync();
    this.files.clear();
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.sinkImpl?.terminate();
    this.sinkImpl = null;
    if (this.exitHook !== null) process.off('exit', this.exitHook);
    this.exitHook = null;
  }

  private sink(): WriteSink {
    if (this.sinkImpl === null) {
      const stats = (): AccessLogFileStats => this.statsImpl;
      if (this.useWorker) {
        try {
          this.sinkImpl = new WorkerSink(stats, this.syncTimeoutMs);
        } catch {
          this.sinkImpl = new SyncSink(stats);
        }
      } else {
        this.sinkImpl = new SyncSink(stats);
      }
    }
    return this.sinkImpl;
  }

  private startTimer(): void {
    if (this.timer !== null || this.flushIntervalMs <= 0) return;
    this.timer = setInterval(() => this.onTimer(), this.flushIntervalMs);
    this.timer.unref();
  }

  private onTimer(): void {
    for (const f of this.files.values()) {
      if (!f.hasPending) continue;
      this.statsImpl.flushedByTimer.inc();
      f.flush();
    }
    this.sinkImpl?.syncStats();
  }

  /** A stdio stream with an error listener, so a closed pipe is counted instead of crashing the process. */
  private guarded(stream: StdioStream): StdioStream {
    if (stream.on !== undefined && (stream.listenerCount?.('error') ?? 0) === 0) {
      stream.on('error', () => this.statsImpl.writeFailed.inc());
    }
    return stream;
  }
}

let defaultManager: AccessLogManager | null = null;

/** The process-wide manager used by the built-in access-logger factories unless they are given one. */
export function defaultAccessLogManager(): AccessLogManager {
  if (defaultManager === null) defaultManager = new AccessLogManager();
  return defaultManager;
}

/** Replaces the process-wide manager (the server installs one with its flush interval; tests restore theirs). */
export function setDefaultAccessLogManager(manager: AccessLogManager | null): void {
  defaultManager = manager;
}
