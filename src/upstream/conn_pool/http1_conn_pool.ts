/**
 * Http1ConnPool: the HTTP/1.1 connection pool for one upstream host, after
 * Envoy's source/common/http/http1/conn_pool.cc on top of
 * source/common/conn_pool/conn_pool_base.cc.
 *
 *   newStream(decoder, cb)
 *     idle connection (LIFO)  -> attach now: cb.onPoolReady(encoder, host, localAddress)
 *     none, pending allowed   -> queue (FIFO) + maybe connect; Cancellable returned
 *     pending limit reached   -> cb.onPoolFailure(Overflow)       upstream_rq_pending_overflow
 *   connect ok                -> attach the oldest pending stream, or go idle
 *   connect fails / times out -> every pending stream fails      upstream_cx_connect_fail (+_timeout)
 *   response complete         -> connection idle again, unless `connection: close`, HTTP/1.0,
 *                                max_requests_per_connection, draining, or an early response
 *   idle for idleTimeoutMs    -> closed                          upstream_cx_idle_timeout
 *
 * Stats owned here (names as Envoy's): upstream_cx_{total,active,http1_total,
 * connect_fail,connect_timeout,connect_ms,length_ms,destroy*,rx_bytes_total,
 * tx_bytes_total,overflow,idle_timeout,max_requests,close_notify,protocol_error},
 * upstream_rq_total, upstream_rq_pending_{total,active,overflow,failure_eject},
 * and host cx_total/cx_active/cx_connect_fail. The router owns the per-request
 * ones it already keeps (upstream_rq_active, _cancelled, _rx/tx_reset,
 * _completed, host rq_*), and the max_requests circuit breaker.
 */
import { addressToString } from '../../network/address.js';
import net from 'node:net';
import type { StreamResetReason, ResponseDecoder } from '../../envoy/http/codec.js';
import {
  PoolFailureReason,
  type Cancellable,
  type ConnectionPoolCallbacks,
  type HttpConnectionPool,
} from '../../envoy/upstream/cluster_manager.js';
import type { Host, UpstreamProtocol } from '../../envoy/upstream/host.js';
import type { ClusterStats } from '../../envoy/upstream/stats.js';
import {
  Http1ClientConnection,
  type Http1ClientConnectionCallbacks,
  type Http1RequestEncoder,
} from '../../http/codec/http1/client_connection.js';
import type { Http1ClientSettings } from '../../http/codec/http1/settings.js';
import { ConnPoolImplBase, delayedConnectError } from './conn_pool_base.js';
import type { UpstreamTransportSocketFactory } from '../../envoy/network/transport_socket.js';

export interface Http1ConnPoolOptions {
  /** Circuit-breaker priority (0 DEFAULT, 1 HIGH). */
  priority?: number;
  /** Codec settings; bufferLimit defaults to the cluster's per_connection_buffer_limit_bytes. */
  codecSettings?: Partial<Http1ClientSettings>;
  /** Makes the upstream socket (tests). Default: the transport socket, else TCP to host.address:host.port. */
  createSocket?: (host: Host) => net.Socket;
  /** The cluster's transport socket (tls): connections are ready after its handshake. */
  transportSocket?: UpstreamTransportSocketFactory;
}

const enum ClientState { Connecting, Ready, Busy, Closed }

/** One upstream connection and its codec (Envoy's ActiveClient + CodecClient). */
class ActiveClient implements Http1ClientConnectionCallbacks {
  state = ClientState.Connecting;
  codec: Http1ClientConnection | null = null;
  localAddress = '';
  /** Requests this connection may still start (Infinity when unlimited). */
  remainingRequests: number;
  /** Close once the current stream ends (max requests reached, or the pool is draining). */
  draining = false;
  /** A stream is attached and has not completed or reset. */
  streamActive = false;
  /** A stream was attached and its response never completed (destroy_with_active_rq). */
  streamIncomplete = false;
  /** This side closed the connection. */
  localClose = false;
  timedOut = false;
  failureReason = '';
  readonly createdAt = performance.now();
  idleSince = 0;
  private connectTimer: NodeJS.Timeout | null = null;
  idleTimer: NodeJS.Timeout | null = null;
  private rxCounted = 0;
  private txCounted = 0;

  constructor(private readonly pool: Http1ConnPool, readonly socket: net.Socket, readyEvent: 'connect' | 'secureConnect' = 'connect') {
    const max = pool.cluster.maxRequestsPerConnection;
    this.remainingRequests = max > 0 ? max : Infinity;
    socket.setNoDelay(true);
    socket.on(readyEvent, () => this.onConnect());
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (this.state === ClientState.Connecting && this.failureReason === '') {
        this.failureReason = pool.transportSocket?.transportFailureReason(err) ?? delayedConnectError(err);
      }
    });
    socket.on('end', () => pool.onClientUnusable(this));
    socket.on('close', () => pool.onClientClosed(this));
    const timeout = pool.cluster.connectTimeoutMs;
    if (timeout > 0) {
      this.connectTimer = setTimeout(() => {
        this.connectTimer = null;
        if (this.state !== ClientState.Connecting) return;
        pool.stats.upstream_cx_connect_timeout.inc();
        this.timedOut = true;
        this.close();
      }, timeout);
    }
  }

  private onConnect(): void {
    if (this.state !== ClientState.Connecting) return;
    this.clearConnectTimer();
    const s = this.socket;
    this.localAddress = addressToString(s.localAddress, s.localPort);
    this.codec = new Http1ClientConnection(s, this, this.pool.codecSettings);
    this.pool.onClientConnected(this);
  }

  clearConnectTimer(): void {
    if (this.connectTimer !== null) {
      clearTimeout(this.connectTimer);
      this.connectTimer = null;
    }
  }

  /** Closes now (NoFlush); a stream in progress is reset by the codec. Accounting happens synchronously. */
  close(): void {
    if (this.state === ClientState.Closed) return;
    this.localClose = true;
    if (this.codec !== null) this.codec.close();
    else this.socket.destroy();
    this.pool.onClientClosed(this);
  }

  /** Adds the bytes moved since the last call to the cluster's rx/tx totals. */
  countBytes(stats: ClusterStats): void {
    const rx = this.socket.bytesRead, tx = this.socket.bytesWritten;
    if (rx !== this.rxCounted) { stats.upstream_cx_rx_bytes_total.add(rx - this.rxCounted); this.rxCounted = rx; }
    if (tx !== this.txCounted) { stats.upstream_cx_tx_bytes_total.add(tx - this.txCounted); this.txCounted = tx; }
  }

  // ---- Http1ClientConnectionCallbacks ----
  onStreamComplete(stream: Http1RequestEncoder): void { this.pool.onStreamComplete(this, stream); }
  onStreamReset(_stream: Http1RequestEncoder, _reason: StreamResetReason): void { this.pool.onStreamReset(this); }
  onCloseNotify(): void { this.pool.stats.upstream_cx_close_notify.inc(); }
  onProtocolError(): void {
    this.pool.stats.upstream_cx_protocol_error.inc();
    // The codec is about to close this connection; an idle one must leave the ready list now.
    this.pool.onClientUnusable(this);
  }
}

export class Http1ConnPool extends ConnPoolImplBase implements HttpConnectionPool {
  readonly protocol: UpstreamProtocol = 'http1';
  readonly codecSettings: Partial<Http1ClientSettings>;
  private readonly createSocket: ((host: Host) => net.Socket) | null;
  readonly transportSocket: UpstreamTransportSocketFactory | null;
  /** Idle connections; the most recently used is reused first (LIFO keeps few connections warm). */
  private readonly ready: ActiveClient[] = [];
  private readonly clients = new Set<ActiveClient>();
  private connecting = 0;
  private upstreamReadyScheduled = false;

  constructor(host: Host, options: Http1ConnPoolOptions = {}) {
    super(host, options.priority ?? 0);
    this.codecSettings = { bufferLimit: host.cluster.perConnectionBufferLimitBytes, ...options.codecSettings };
    this.createSocket = options.createSocket ?? null;
    this.transportSocket = options.transportSocket ?? null;
  }

  // ---- HttpConnectionPool ----

  newStream(decoder: ResponseDecoder, callbacks: ConnectionPoolCallbacks): Cancellable | null {
    if (this.destroyed) {
      callbacks.onPoolFailure(PoolFailureReason.LocalConnectionFailure, 'connection pool destroyed', this.host);
      return null;
    }
    let client = this.ready.pop();
    while (client !== undefined && (client.codec!.closed || !client.codec!.reusable)) client = this.ready.pop();
    if (client !== undefined) {
      this.attach(client, decoder, callbacks);
      return null;
    }
    const p = this.newPendingStream(decoder, callbacks);
    if (p === null) return null;
    this.tryCreateConnection();
    return p;
  }

  drainConnections(): void {
    for (const c of this.ready.slice()) c.close();
    for (const c of [...this.clients]) {
      if (c.state === ClientState.Connecting) {
        if (this.pending.length === 0) c.close();
      } else if (c.state === ClientState.Busy) {
        c.draining = true;
      }
    }
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const c of [...this.clients]) c.close();
    this.purgePendingStreams(PoolFailureReason.LocalConnectionFailure, 'connection pool destroyed');
  }

  /** Connections open or connecting (for tests and admin). */
  get connectionCount(): number {
    return this.clients.size;
  }

  /** Idle keep-alive connections. */
  get readyCount(): number {
    return this.ready.length;
  }

  // ---- internals ----

  private attach(c: ActiveClient, decoder: ResponseDecoder, callbacks: ConnectionPoolCallbacks): void {
    c.state = ClientState.Busy;
    c.streamActive = true;
    c.streamIncomplete = true;
    this.activeStreams++;
    if (--c.remainingRequests === 0) {
      c.draining = true;
      this.stats.upstream_cx_max_requests.inc();
    }
    this.stats.upstream_rq_total.inc();
    const encoder = c.codec!.newStream(decoder);
    callbacks.onPoolReady(encoder, this.host, c.localAddress);
  }

  /** Opens a connection when the queued streams outnumber the connections being made. */
  private tryCreateConnection(): void {
    if (this.pending.length <= this.connecting) return;
    const canCreate = this.resources.connections.canCreate();
    if (!canCreate) this.stats.upstream_cx_overflow.inc();
    // At the connection limit, a pool with no connection at all still gets one,
    // or its queued streams could never be served (Envoy does the same).
    if (canCreate || this.clients.size === 0) this.createClient();
  }

  private createClient(): void {
    const stats = this.stats;
    stats.upstream_cx_total.inc();
    stats.upstream_cx_active.inc();
    stats.upstream_cx_http1_total.inc();
    this.host.stats.cx_total++;
    this.host.stats.cx_active++;
    this.resources.connections.inc();
    this.connecting++;
    const h = this.host;
    const c = this.createSocket !== null ? new ActiveClient(this, this.createSocket(h))
      : this.transportSocket !== null ? this.openTransport(h, this.transportSocket)
      : new ActiveClient(this, net.connect({ host: h.address, port: h.port }));
    this.clients.add(c);
  }

  private openTransport(h: Host, ts: UpstreamTransportSocketFactory): ActiveClient {
    const t = ts.connect(h.address, h.port, h.hostname);
    return new ActiveClient(this, t.socket, t.readyEvent);
  }

  /** @internal */
  onClientConnected(c: ActiveClient): void {
    this.connecting--;
    this.stats.upstream_cx_connect_ms.recordValue(performance.now() - c.createdAt);
    const p = this.pending.shift();
    if (p !== undefined) {
      this.dequeued(p);
      this.attach(c, p.decoder, p.callbacks);
    } else {
      this.toReady(c);
    }
  }

  private toReady(c: ActiveClient): void {
    c.state = ClientState.Ready;
    this.ready.push(c);
    const idle = this.cluster.idleTimeoutMs;
    if (idle > 0) {
      c.idleSince = performance.now();
      if (c.idleTimer === null) this.armIdleTimer(c, idle);
    }
  }

  /**
   * One lazily re-armed timer per connection: marking a connection idle costs
   * a timestamp, not a timer; the timer re-arms for the remaining time.
   */
  private armIdleTimer(c: ActiveClient, ms: number): void {
    const t = setTimeout(() => {
      c.idleTimer = null;
      if (c.state !== ClientState.Ready) return; // Busy: re-armed when it is idle again.
      const left = this.cluster.idleTimeoutMs - (performance.now() - c.idleSince);
      if (left > 1) {
        this.armIdleTimer(c, left);
        return;
      }
      this.stats.upstream_cx_idle_timeout.inc();
      c.close();
    }, ms);
    t.unref();
    c.idleTimer = t;
  }

  /** @internal The response completed (the codec already delivered it). */
  onStreamComplete(c: ActiveClient, stream: Http1RequestEncoder): void {
    c.streamIncomplete = false;
    if (c.streamActive) {
      c.streamActive = false;
      this.activeStreams--;
    }
    c.countBytes(this.stats);
    const codec = c.codec!;
    if (!codec.reusable || !stream.encodeComplete || c.draining || this.destroyed) {
      c.close();
      return;
    }
    this.toReady(c);
    if (this.pending.length > 0 && !this.upstreamReadyScheduled) {
      // Like Envoy (envoyproxy/envoy#2715), queued streams attach on the next
      // loop turn, so an upstream close that came with the response is seen first.
      this.upstreamReadyScheduled = true;
      setImmediate(() => this.onUpstreamReady());
    }
  }

  private onUpstreamReady(): void {
    this.upstreamReadyScheduled = false;
    while (this.pending.length > 0 && this.ready.length > 0) {
      const c = this.ready.pop()!;
      const p = this.pending.shift()!;
      this.dequeued(p);
      this.attach(c, p.decoder, p.callbacks);
    }
  }

  /** @internal The active stream was reset; the codec closes the connection. */
  onStreamReset(c: ActiveClient): void {
    if (c.streamActive) {
      c.streamActive = false;
      this.activeStreams--;
    }
  }

  /** @internal The upstream half-closed: never hand this connection out again. */
  onClientUnusable(c: ActiveClient): void {
    const i = this.ready.indexOf(c);
    if (i !== -1) this.ready.splice(i, 1);
    if (c.state === ClientState.Ready) c.state = ClientState.Busy;
  }

  /** @internal The connection is gone (local close: synchronously; remote: on 'close'). */
  onClientClosed(c: ActiveClient): void {
    if (c.state === ClientState.Closed) return;
    const wasConnecting = c.state === ClientState.Connecting;
    c.state = ClientState.Closed;
    c.clearConnectTimer();
    if (c.idleTimer !== null) {
      clearTimeout(c.idleTimer);
      c.idleTimer = null;
    }
    const stats = this.stats;
    const local = c.localClose || (c.codec !== null && c.codec.localClose);
    stats.upstream_cx_destroy.inc();
    if (local) stats.upstream_cx_destroy_local.inc();
    else stats.upstream_cx_destroy_remote.inc();
    if (c.streamIncomplete) {
      stats.upstream_cx_destroy_with_active_rq.inc();
      if (local) stats.upstream_cx_destroy_local_with_active_rq.inc();
      else stats.upstream_cx_destroy_remote_with_active_rq.inc();
    }
    c.countBytes(stats);
    stats.upstream_cx_active.dec();
    this.host.stats.cx_active--;
    this.resources.connections.dec();
    stats.upstream_cx_length_ms.recordValue(performance.now() - c.createdAt);
    this.clients.delete(c);
    const i = this.ready.indexOf(c);
    if (i !== -1) this.ready.splice(i, 1);
    if (c.streamActive) {
      // The codec resets the stream right after (its 'close' listener runs later).
      c.streamActive = false;
      this.activeStreams--;
    }

    if (wasConnecting) {
      this.connecting--;
      stats.upstream_cx_connect_fail.inc();
      this.host.stats.cx_connect_fail++;
      const reason = c.timedOut ? PoolFailureReason.Timeout
        : local ? PoolFailureReason.LocalConnectionFailure : PoolFailureReason.RemoteConnectionFailure;
      // Connect failures fail every queued stream, so callers decide (retry, 503) now.
      this.purgePendingStreams(reason, c.failureReason);
    }
    if (this.pending.length > 0 && !this.destroyed) this.tryCreateConnection();
    this.checkForIdle();
  }
}
