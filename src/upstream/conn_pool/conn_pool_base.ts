/**
 * ConnPoolImplBase: what the HTTP/1 and HTTP/2 pools share, after Envoy's
 * source/common/conn_pool/conn_pool_base.cc:
 *
 *   - the pending-stream queue: newPendingStream() under the
 *     max_pending_requests circuit breaker (upstream_rq_pending_{total,active,
 *     overflow}), cancel, purgePendingStreams() on connect failure
 *     (upstream_rq_pending_failure_eject), and the dequeue bookkeeping;
 *   - idle callbacks: run each time the pool has no stream active or pending
 *     and no connection open;
 *   - the transport failure reason of a failed connect (errno -> strerror text).
 *
 * Connections, and when a queued stream gets one, stay with each pool.
 */
import type { ResponseDecoder } from '../../envoy/http/codec.js';
import {
  PoolFailureReason,
  type Cancellable,
  type ConnectionPoolCallbacks,
} from '../../envoy/upstream/cluster_manager.js';
import type { ClusterInfo, Host, ResourceManager } from '../../envoy/upstream/host.js';
import type { ClusterStats } from '../../envoy/upstream/stats.js';

/** strerror() text for the errno codes a connect commonly fails with (Envoy's transport failure reason). */
const STRERROR: Record<string, string> = {
  ECONNREFUSED: 'Connection refused',
  ECONNRESET: 'Connection reset by peer',
  ETIMEDOUT: 'Connection timed out',
  EHOSTUNREACH: 'No route to host',
  ENETUNREACH: 'Network is unreachable',
  EADDRNOTAVAIL: 'Cannot assign requested address',
  EADDRINUSE: 'Address already in use',
  EACCES: 'Permission denied',
  EPERM: 'Operation not permitted',
  EMFILE: 'Too many open files',
  ENOTFOUND: 'Name or service not known',
  EAI_AGAIN: 'Temporary failure in name resolution',
  EPIPE: 'Broken pipe',
};

/** `delayed connect error: Connection refused`, as Envoy words a failed connect, for any error. */
export function delayedConnectError(err: NodeJS.ErrnoException): string {
  const code = err.code ?? '';
  return `delayed connect error: ${STRERROR[code] ?? (code !== '' ? code : err.message)}`;
}

/** delayedConnectError() for a socket error (one with a syscall or a known errno); node's message otherwise. */
export function connectFailureReason(err: NodeJS.ErrnoException): string {
  if (err.syscall !== undefined || STRERROR[err.code ?? ''] !== undefined) return delayedConnectError(err);
  return err.message;
}

/** A stream waiting for a connection; cancel() takes it off the queue. */
export class PendingStream implements Cancellable {
  /** Dequeued: attached, failed or cancelled. */
  done = false;
  constructor(
    private readonly pool: ConnPoolImplBase,
    readonly decoder: ResponseDecoder,
    readonly callbacks: ConnectionPoolCallbacks,
  ) {}

  cancel(): void {
    if (this.done) return;
    this.pool.onPendingStreamCancel(this);
  }
}

export abstract class ConnPoolImplBase {
  readonly cluster: ClusterInfo;
  readonly stats: ClusterStats;
  protected readonly resources: ResourceManager;
  /** Streams waiting for a connection, oldest first. */
  protected readonly pending: PendingStream[] = [];
  /** Streams attached to connections and not yet done. */
  protected activeStreams = 0;
  protected destroyed = false;
  private readonly idleCallbacks: Array<() => void> = [];

  constructor(readonly host: Host, priority: number) {
    this.cluster = host.cluster;
    this.stats = host.cluster.stats;
    this.resources = host.cluster.resourceManager(priority);
  }

  /** Connections open or connecting (tests, admin; and idleness). */
  abstract get connectionCount(): number;

  isIdle(): boolean {
    return this.activeStreams === 0 && this.pending.length === 0;
  }

  /**
   * `cb` runs each time the pool becomes fully idle: no stream active or
   * pending and no connection open (Envoy's idle callbacks), e.g. to delete a
   * drained pool.
   */
  addIdleCallback(cb: () => void): void {
    this.idleCallbacks.push(cb);
  }

  /** Streams waiting for a connection. */
  get pendingCount(): number {
    return this.pending.length;
  }

  /** @internal */
  onPendingStreamCancel(p: PendingStream): void {
    const i = this.pending.indexOf(p);
    if (i !== -1) this.pending.splice(i, 1);
    this.dequeued(p);
    this.onPendingStreamCancelled();
    this.checkForIdle();
  }

  /** After a cancel, before the idle check: a pool may close connections the queue no longer needs. */
  protected onPendingStreamCancelled(): void {}

  /**
   * Queues a stream, or fails it with Overflow (null) when the
   * max_pending_requests circuit breaker is open.
   */
  protected newPendingStream(decoder: ResponseDecoder, callbacks: ConnectionPoolCallbacks): PendingStream | null {
    if (!this.resources.pendingRequests.canCreate()) {
      this.stats.upstream_rq_pending_overflow.inc();
      callbacks.onPoolFailure(PoolFailureReason.Overflow, '', this.host);
      return null;
    }
    const p = new PendingStream(this, decoder, callbacks);
    this.pending.push(p);
    this.stats.upstream_rq_pending_total.inc();
    this.stats.upstream_rq_pending_active.inc();
    this.resources.pendingRequests.inc();
    return p;
  }

  /** Fails every queued stream (a connect failure, or the pool destroyed). */
  protected purgePendingStreams(reason: PoolFailureReason, failureReason: string): void {
    if (this.pending.length === 0) return;
    // Detach the queue first: a retry that re-enters newStream() queues afresh.
    const purged = this.pending.splice(0, this.pending.length);
    for (const p of purged) {
      if (p.done) continue;
      this.dequeued(p);
      this.stats.upstream_rq_pending_failure_eject.inc();
      p.callbacks.onPoolFailure(reason, failureReason, this.host);
    }
  }

  /** Releases a stream's place in the queue's stats and circuit breaker (once). */
  protected dequeued(p: PendingStream): void {
    if (p.done) return;
    p.done = true;
    this.stats.upstream_rq_pending_active.dec();
    this.resources.pendingRequests.dec();
  }

  /** Runs the idle callbacks when nothing is active, pending or connected. */
  protected checkForIdle(): void {
    if (this.idleCallbacks.length === 0) return;
    if (this.activeStreams === 0 && this.pending.length === 0 && this.connectionCount === 0) {
      for (const cb of this.idleCallbacks.slice()) cb();
    }
  }
}
