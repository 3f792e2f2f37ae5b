/**
 * Http2ConnPool: the HTTP/2 connection pool for one upstream host, after
 * Envoy's source/common/http/http2/conn_pool.cc on top of
 * source/common/conn_pool/conn_pool_base.cc, over Legate's own HTTP/2 client
 * codec (Http2ClientConnection; h2c prior knowledge by default,
 * `createConnection` + `scheme` open it to TLS).
 *
 *   newStream(decoder, cb)
 *     a ready session with a free stream slot -> attach now: cb.onPoolReady(encoder, host, localAddress)
 *     none, pending allowed     -> queue (FIFO) + connect while the queue outgrows the
 *                                  stream capacity of the sessions being opened
 *     pending limit reached     -> cb.onPoolFailure(Overflow)              upstream_rq_pending_overflow
 *   server SETTINGS received  -> session ready; queued streams attach up to
 *                                min(server SETTINGS_MAX_CONCURRENT_STREAMS, configured max_concurrent_streams)
 *   connect fails / times out -> every queued stream fails              upstream_cx_connect_fail (+_timeout)
 *   GOAWAY received           -> session drains: streams above last-stream-id are refused
 *                                (RemoteRefusedStreamReset, retriable), the rest finish, new
 *                                streams go to another session, it closes when empty  upstream_cx_close_notify
 *   max_requests_per_connection streams started -> session drains       upstream_cx_max_requests
 *   no stream for idleTimeoutMs -> session closed                       upstream_cx_idle_timeout
 *   max_connection_duration since SETTINGS -> session drains            upstream_cx_max_duration_reached
 *   connection_keepalive PING not ACKed in time -> session closed       http2.keepalive_timeout
 *
 * A session counts as connected (upstream_cx_connect_ms) when its socket
 * connects, but it takes streams only once the server's first SETTINGS frame
 * has arrived, so the first burst of streams is spread over as many sessions as
 * the server's limit requires. The connect timeout runs until those SETTINGS.
 * Until a server's limit is known, a connecting session is assumed to carry
 * `assumedConcurrentStreams` (100) streams, or the limit the last session
 * learned.
 *
 * Stats owned here (names as Envoy's): upstream_cx_{total,active,http2_total,
 * connect_fail,connect_timeout,connect_ms,length_ms,destroy*,rx_bytes_total,
 * tx_bytes_total,overflow,idle_timeout,max_requests,close_notify,protocol_error},
 * upstream_rq_total (on attach, as the HTTP/1 pool), upstream_rq_pending_{total,
 * active,overflow,failure_eject}, and host cx_total/cx_active/cx_connect_fail.
 * The router owns the per-request ones it already keeps (upstream_rq_active,
 * _cancelled, _rx/tx_reset, _completed, host rq_*) and the max_requests
 * circuit breaker. This pool holds the max_connections and max_pending_requests
 * breakers.
 */
import { addressToString } from '../../network/address.js';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { ResponseDecoder } from '../../envoy/http/codec.js';
import {
  PoolFailureReason,
  type Cancellable,
  type ConnectionPoolCallbacks,
  type HttpConnectionPool,
} from '../../envoy/upstream/cluster_manager.js';
import type { ClusterInfo, Host, UpstreamProtocol } from '../../envoy/upstream/host.js';
import type { Http2ProtocolOptions } from '../../generated/envoy/config/core/v3/protocol_pb.js';
import { durationToMs, percentToFraction } from '../../config/well_known.js';
import type { Counter, Scope } from '../../envoy/stats/stats.js';
import { ConnPoolImplBase, connectFailureReason } from './conn_pool_base.js';
import { Http2UpstreamStream, type Http2StreamOwner } from './http2_stream.js';
import { Http2ClientConnection } from '../../http/codec/http2/client_connection.js';

/** HTTP/2 codec settings of the pool's sessions (Envoy's Http2ProtocolOptions, client side). */
export interface Http2CodecOptions {
  /** Upper bound on concurrent streams per session; the server's SETTINGS may lower it. Envoy default 2^31-1. */
  maxConcurrentStreams: number;
  /** SETTINGS_INITIAL_WINDOW_SIZE we advertise. Envoy default 256 MiB. */
  initialStreamWindowSize: number;
  /** Connection-level receive window. Envoy default 256 MiB. */
  initialConnectionWindowSize: number;
  /** SETTINGS_HEADER_TABLE_SIZE. Envoy default 4096. */
  hpackTableSize: number;
  /** Streams a session is assumed to take before its server's SETTINGS arrive (RFC 9113 recommends ≥ 100). */
  assumedConcurrentStreams: number;
  /** `connection_keepalive.interval` in ms: PING this often (0 = no keepalive PINGs). */
  keepaliveIntervalMs: number;
  /** `connection_keepalive.timeout` in ms: no PING ACK within it closes the session. */
  keepaliveTimeoutMs: number;
  /** `connection_keepalive.interval_jitter` as a fraction of the interval (default 15 %). */
  keepaliveJitter: number;
}

export interface Http2ConnPoolOptions {
  /** Circuit-breaker priority (0 DEFAULT, 1 HIGH). */
  priority?: number;
  /**
   * Opens the transport for a new session (a TLS socket negotiating `h2`, or
   * tests). Default: TCP to host.address:host.port (h2c, prior knowledge).
   */
  createConnection?: (host: Host) => Duplex;
  /** URL scheme of the sessions and the default `:scheme` of requests. Default `http`. */
  scheme?: 'http' | 'https';
  /** The transport failure reason for a socket error before the session is ready (TLS errors), or null. */
  transportFailureReason?: (err: Error) => string | null;
  /** Overrides the codec settings read from the cluster's http2_protocol_options. */
  codecOptions?: Partial<Http2CodecOptions>;
}

/** Envoy's defaults for Http2ProtocolOptions (api/envoy/config/core/v3/protocol.proto). */
export const DEFAULT_MAX_CONCURRENT_STREAMS = 2147483647;
export const DEFAULT_INITIAL_WINDOW_SIZE = 268435456;
export const DEFAULT_HPACK_TABLE_SIZE = 4096;
export const DEFAULT_ASSUMED_CONCURRENT_STREAMS = 100;
/** Envoy's default common_http_protocol_options.max_headers_count. */
export const DEFAULT_MAX_HEADERS_COUNT = 100;
/** Envoy's default max_response_headers_kb (60 KiB), as an RFC 9113 header list size. */
export const DEFAULT_MAX_RESPONSE_HEADER_LIST_SIZE = 60 * 1024;

/** The codec settings for `cluster`: its http2_protocol_options (when it exposes them), then Envoy's defaults. */
export function codecOptionsFor(cluster: ClusterInfo, overrides: Partial<Http2CodecOptions> = {}): Http2CodecOptions {
  const proto = (cluster as { http2ProtocolOptions?: Http2ProtocolOptions }).http2ProtocolOptions;
  const ka = proto?.connectionKeepalive;
  return {
    keepaliveIntervalMs: durationToMs(ka?.interval, 0),
    keepaliveTimeoutMs: durationToMs(ka?.timeout, 0),
    keepaliveJitter: percentToFraction(ka?.intervalJitter, 0.15),
    maxConcurrentStreams: proto?.maxConcurrentStreams ?? DEFAULT_MAX_CONCURRENT_STREAMS,
    initialStreamWindowSize: proto?.initialStreamWindowSize ?? DEFAULT_INITIAL_WINDOW_SIZE,
    initialConnectionWindowSize: proto?.initialConnectionWindowSize ?? DEFAULT_INITIAL_WINDOW_SIZE,
    hpackTableSize: proto?.hpackTableSize ?? DEFAULT_HPACK_TABLE_SIZE,
    assumedConcurrentStreams: DEFAULT_ASSUMED_CONCURRENT_STREAMS,
    ...overrides,
  };
}

const enum ClientState { Connecting, Ready, Draining, Closed }

/** One HTTP/2 connection (Envoy's ActiveClient + CodecClient). */
class Http2ActiveClient implements Http2StreamOwner {
  state = ClientState.Connecting;
  readonly connection: Http2ClientConnection;
  readonly scheme: string;
  readonly maxResponseHeadersCount: number;
  localAddress = '';
  /** Streams attached and not yet closed. */
  activeStreams = 0;
  /** Streams cut by the session closing under them (for *_destroy_with_active_rq). */
  cutStreams = 0;
  /** Concurrent stream limit: assumed until the server's SETTINGS, then theirs (capped by ours). */
  concurrentLimit: number;
  /** Streams this session may still start (Infinity when unlimited). */
  remainingStreams: number;
  localClose = false;
  timedOut = false;
  goAwayReceived = false;
  failureReason = '';
  readonly createdAt = performance.now();
  private connectTimer: NodeJS.Timeout | null = null;
  private idleTimer: NodeJS.Timeout | null = null;
  private durationTimer: NodeJS.Timeout | null = null;
  private keepaliveTimer: NodeJS.Timeout | null = null;
  private keepaliveTimeoutTimer: NodeJS.Timeout | null = null;
  private rxCounted = 0;
  private txCounted = 0;

  constructor(private readonly pool: Http2ConnPool, private readonly socket: Duplex) {
    const opts = pool.codecOptions;
    const max = pool.cluster.maxRequestsPerConnection;
    this.remainingStreams = max > 0 ? max : Infinity;
    this.concurrentLimit = pool.assumedStreamsPerSession();
    this.scheme = pool.scheme;
    this.maxResponseHeadersCount = pool.cluster.maxHeadersCount > 0 ? pool.cluster.maxHeadersCount : DEFAULT_MAX_HEADERS_COUNT;
    this.connection = new Http2ClientConnection(
      socket,
      {
        initialStreamWindowSize: opts.initialStreamWindowSize,
        initialConnectionWindowSize: opts.initialConnectionWindowSize,
        headerTableSize: opts.hpackTableSize,
        maxHeaderListSize: DEFAULT_MAX_RESPONSE_HEADER_LIST_SIZE,
        highWatermark: pool.cluster.perConnectionBufferLimitBytes,
      },
      {
        onConnected: () => this.onSocketConnected(),
        onRemoteSettings: (maxConcurrentStreams, first) => this.onRemoteSettings(maxConcurrentStreams, first),
        onGoAway: () => this.onGoAway(),
        onProtocolError: () => pool.stats.upstream_cx_protocol_error.inc(),
        onTransportError: (err) => this.onTransportError(err),
        onClose: () => pool.onClientClosed(this),
      },
    );
    const timeout = pool.cluster.connectTimeoutMs;
    if (timeout > 0) {
      this.connectTimer = setTimeout(() => {
        this.connectTimer = null;
        if (this.state !== ClientState.Connecting) return;
        pool.stats.upstream_cx_connect_timeout.inc();
        this.timedOut = true;
        this.close(false);
      }, timeout);
    }
  }

  /** A stream can be attached now. */
  hasCapacity(): boolean {
    return (
      this.state === ClientState.Ready &&
      this.activeStreams < this.concurrentLimit &&
      this.remainingStreams > 0 &&
      this.connection.canOpenStream
    );
  }

  /** Streams this session is expected to take once connected (for deciding whether to open more). */
  connectingCapacity(): number {
    return Math.max(1, Math.min(this.concurrentLimit, this.remainingStreams));
  }

  private onSocketConnected(): void {
    const s = this.socket as Partial<net.Socket>;
    this.localAddress = addressToString(s.localAddress, s.localPort);
    this.pool.stats.upstream_cx_connect_ms.recordValue(performance.now() - this.createdAt);
  }

  private onRemoteSettings(theirs: number, first: boolean): void {
    if (this.state === ClientState.Closed) return;
    this.concurrentLimit = Math.max(0, Math.min(theirs, this.pool.codecOptions.maxConcurrentStreams));
    this.pool.learnedConcurrentLimit = this.concurrentLimit;
    if (first && this.state === ClientState.Connecting) {
      this.clearConnectTimer();
      this.state = ClientState.Ready;
      const maxDuration = this.pool.cluster.maxConnectionDurationMs;
      if (maxDuration > 0) {
        this.durationTimer = setTimeout(() => {
          this.durationTimer = null;
          this.pool.onConnectionDurationReached(this);
        }, maxDuration);
        this.durationTimer.unref();
      }
      this.scheduleKeepalive();
      this.pool.onClientReady(this);
    } else {
      this.pool.onUpstreamReady();
    }
  }

  private onGoAway(): void {
    if (this.goAwayReceived || this.state === ClientState.Closed) return;
    this.goAwayReceived = true;
    this.pool.stats.upstream_cx_close_notify.inc();
    this.pool.onClientGoAway(this);
  }

  private onTransportError(err: Error): void {
    if (this.state === ClientState.Connecting && this.failureReason === '') {
      this.failureReason = this.pool.transportFailureReason?.(err) ?? connectFailureReason(err as NodeJS.ErrnoException);
    }
  }

  clearConnectTimer(): void {
    if (this.connectTimer !== null) {
      clearTimeout(this.connectTimer);
      this.connectTimer = null;
    }
  }

  armIdleTimer(ms: number): void {
    if (this.idleTimer !== null || ms <= 0) return;
    const t = setTimeout(() => {
      this.idleTimer = null;
      if (this.state !== ClientState.Ready || this.activeStreams > 0) return;
      this.pool.stats.upstream_cx_idle_timeout.inc();
      this.close(true);
    }, ms);
    t.unref();
    this.idleTimer = t;
  }

  clearLifetimeTimers(): void {
    if (this.durationTimer !== null) {
      clearTimeout(this.durationTimer);
      this.durationTimer = null;
    }
    if (this.keepaliveTimer !== null) { clearTimeout(this.keepaliveTimer); this.keepaliveTimer = null; }
    if (this.keepaliveTimeoutTimer !== null) { clearTimeout(this.keepaliveTimeoutTimer); this.keepaliveTimeoutTimer = null; }
  }

  /**
   * connection_keepalive: a PING every interval (plus jitter); no ACK within
   * the timeout closes the session, cutting its streams (http2.keepalive_timeout).
   */
  private scheduleKeepalive(): void {
    const o = this.pool.codecOptions;
    if (o.keepaliveIntervalMs <= 0 || this.state === ClientState.Closed) return;
    const delay = o.keepaliveIntervalMs + Math.floor(Math.random() * o.keepaliveIntervalMs * o.keepaliveJitter);
    this.keepaliveTimer = setTimeout(() => {
      this.keepaliveTimer = null;
      this.sendKeepalive();
    }, delay);
    this.keepaliveTimer.unref();
  }

  private sendKeepalive(): void {
    if (this.state === ClientState.Closed || this.connection.destroyed) return;
    const o = this.pool.codecOptions;
    if (o.keepaliveTimeoutMs > 0) {
      this.keepaliveTimeoutTimer = setTimeout(() => {
        this.keepaliveTimeoutTimer = null;
        this.pool.keepaliveTimeout?.inc();
        this.close(false);
      }, o.keepaliveTimeoutMs);
      this.keepaliveTimeoutTimer.unref();
    }
    this.connection.ping((acked) => {
      if (this.keepaliveTimeoutTimer !== null) { clearTimeout(this.keepaliveTimeoutTimer); this.keepaliveTimeoutTimer = null; }
      if (acked) this.scheduleKeepalive();
    });
  }

  clearIdleTimer(): void {
    if (this.idleTimer !== null) {
      clearTimeout(this.idleTimer);
      this.idleTimer = null;
    }
  }

  /**
   * Closes the connection from this side; accounting happens now. `graceful`
   * sends GOAWAY first (used when no stream is active); otherwise the
   * connection is destroyed and its streams are cut.
   */
  close(graceful: boolean): void {
    if (this.state === ClientState.Closed) return;
    this.localClose = true;
    if (graceful && this.activeStreams === 0 && this.state !== ClientState.Connecting) this.connection.close();
    else this.connection.destroy();
    this.pool.onClientClosed(this);
  }

  /** Adds the bytes moved since the last call to the cluster's rx/tx totals. */
  countBytes(): void {
    const s = this.socket as Partial<net.Socket>;
    const rx = s.bytesRead ?? 0, tx = s.bytesWritten ?? 0;
    const stats = this.pool.stats;
    if (rx > this.rxCounted) { stats.upstream_cx_rx_bytes_total.add(rx - this.rxCounted); this.rxCounted = rx; }
    if (tx > this.txCounted) { stats.upstream_cx_tx_bytes_total.add(tx - this.txCounted); this.txCounted = tx; }
  }

  onStreamDone(_stream: Http2UpstreamStream, cutByConnection: boolean): void {
    this.pool.onStreamDone(this, cutByConnection);
  }
}

export class Http2ConnPool extends ConnPoolImplBase implements HttpConnectionPool {
  readonly protocol: UpstreamProtocol = 'http2';
  readonly codecOptions: Http2CodecOptions;
  readonly scheme: 'http' | 'https';
  /** `cluster.<name>.http2.keepalive_timeout` (only when the cluster exposes its stats scope). */
  readonly keepaliveTimeout: Counter | undefined;
  /** The concurrent-stream limit the latest session got from its server (null until one did). */
  learnedConcurrentLimit: number | null = null;
  private readonly createConnection: (host: Host) => Duplex;
  readonly transportFailureReason: ((err: Error) => string | null) | undefined;
  /** Every session not yet closed, oldest first (streams fill the oldest ready session first). */
  private readonly clients: Http2ActiveClient[] = [];

  constructor(host: Host, options: Http2ConnPoolOptions = {}) {
    super(host, options.priority ?? 0);
    this.codecOptions = codecOptionsFor(host.cluster, options.codecOptions);
    const scope = (host.cluster as { statsScope?: Scope }).statsScope;
    this.keepaliveTimeout = this.codecOptions.keepaliveIntervalMs > 0 ? scope?.counter('http2.keepalive_timeout') : undefined;
    this.scheme = options.scheme ?? 'http';
    this.transportFailureReason = options.transportFailureReason;
    this.createConnection = options.createConnection ?? ((h) => net.connect({ host: h.address, port: h.port, noDelay: true }));
  }

  // ---- HttpConnectionPool ----

  newStream(decoder: ResponseDecoder, callbacks: ConnectionPoolCallbacks): Cancellable | null {
    if (this.destroyed) {
      callbacks.onPoolFailure(PoolFailureReason.LocalConnectionFailure, 'connection pool destroyed', this.host);
      return null;
    }
    const client = this.readyClient();
    if (client !== null) {
      this.attach(client, decoder, callbacks);
      return null;
    }
    const p = this.newPendingStream(decoder, callbacks);
    if (p === null) return null;
    this.tryCreateConnections();
    return p.done ? null : p; // null when a callback already fired
  }

  drainConnections(): void {
    for (const c of this.clients.slice()) {
      if (c.state === ClientState.Connecting) {
        if (this.pending.length === 0) c.close(false);
      } else if (c.state === ClientState.Ready || c.state === ClientState.Draining) {
        if (c.activeStreams === 0) c.close(true);
        else c.state = ClientState.Draining;
      }
    }
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.purgePendingStreams(PoolFailureReason.LocalConnectionFailure, 'connection pool destroyed');
    for (const c of this.clients.slice()) c.close(false);
  }

  /** Sessions open or connecting (tests, admin). */
  get connectionCount(): number {
    return this.clients.length;
  }

  /** Streams attached to sessions. */
  get activeStreamCount(): number {
    return this.activeStreams;
  }

  // ---- internals (called by the sessions) ----

  /** @internal Streams a new session is expected to carry before its server says. */
  assumedStreamsPerSession(): number {
    const o = this.codecOptions;
    return Math.max(1, Math.min(this.learnedConcurrentLimit ?? o.assumedConcurrentStreams, o.maxConcurrentStreams));
  }

  private readyClient(): Http2ActiveClient | null {
    for (const c of this.clients) if (c.hasCapacity()) return c;
    return null;
  }

  private attach(c: Http2ActiveClient, decoder: ResponseDecoder, callbacks: ConnectionPoolCallbacks): void {
    c.activeStreams++;
    this.activeStreams++;
    c.clearIdleTimer();
    if (--c.remainingStreams === 0) {
      this.stats.upstream_cx_max_requests.inc();
      c.state = ClientState.Draining;
    }
    this.stats.upstream_rq_total.inc();
    const stream = new Http2UpstreamStream(c, decoder);
    callbacks.onPoolReady(stream, this.host, c.localAddress);
  }

  /** Opens sessions while the queue outgrows the stream capacity of those being opened. */
  private tryCreateConnections(): void {
    while (this.pending.length > this.connectingCapacity()) {
      const canCreate = this.canCreateConnection();
      if (!canCreate) this.stats.upstream_cx_overflow.inc();
      // At the connection limit, a pool with no session at all still gets one,
      // or its queued streams could never be served (Envoy does the same).
      if (!canCreate && this.clients.length > 0) return;
      if (!this.createClient()) return;
      if (!canCreate) return;
    }
  }

  private connectingCapacity(): number {
    let n = 0;
    for (const c of this.clients) if (c.state === ClientState.Connecting) n += c.connectingCapacity();
    return n;
  }

  /** The cluster's max_connections, and per_host_thresholds max_connections when the cluster has one. */
  private canCreateConnection(): boolean {
    const perHost = (this.cluster as { perHostMaxConnections?: number }).perHostMaxConnections;
    if (perHost !== undefined && this.host.stats.cx_active >= perHost) return false;
    return this.resources.connections.canCreate();
  }

  /** Opens a session; false (queued streams failed) when the transport could not even be created. */
  private createClient(): boolean {
    let c: Http2ActiveClient;
    let socket: Duplex | undefined;
    try {
      socket = this.createConnection(this.host);
      c = new Http2ActiveClient(this, socket);
    } catch (err) {
      socket?.destroy();
      // e.g. an invalid address or port: nothing was opened, nothing to count but the failure.
      this.stats.upstream_cx_connect_fail.inc();
      this.host.stats.cx_connect_fail++;
      this.purgePendingStreams(PoolFailureReason.LocalConnectionFailure, (err as Error).message);
      return false;
    }
    const stats = this.stats;
    stats.upstream_cx_total.inc();
    stats.upstream_cx_active.inc();
    stats.upstream_cx_http2_total.inc();
    this.host.stats.cx_total++;
    this.host.stats.cx_active++;
    this.resources.connections.inc();
    this.clients.push(c);
    return true;
  }

  /** @internal The server's first SETTINGS arrived. */
  onClientReady(c: Http2ActiveClient): void {
    this.onUpstreamReady();
    if (c.state === ClientState.Ready && c.activeStreams === 0) c.armIdleTimer(this.cluster.idleTimeoutMs);
  }

  /** @internal Capacity appeared: attach queued streams, then open sessions for the rest. */
  onUpstreamReady(): void {
    while (this.pending.length > 0) {
      const c = this.readyClient();
      if (c === null) break;
      const p = this.pending.shift()!;
      this.dequeued(p);
      this.attach(c, p.decoder, p.callbacks);
    }
    if (this.pending.length > 0 && !this.destroyed) this.tryCreateConnections();
  }

  /** @internal */
  onClientGoAway(c: Http2ActiveClient): void {
    if (c.state === ClientState.Ready || c.state === ClientState.Draining) {
      c.state = ClientState.Draining;
      if (c.activeStreams === 0) c.close(true);
    }
    // A connecting session closes after a GOAWAY and fails its queued streams.
    if (this.pending.length > 0 && !this.destroyed) this.tryCreateConnections();
  }

  /**
   * @internal max_connection_duration elapsed (Envoy's onConnectionDurationTimeout):
   * the session drains, closing now when it carries no stream.
   */
  onConnectionDurationReached(c: Http2ActiveClient): void {
    if (c.state !== ClientState.Ready) return;
    this.stats.upstream_cx_max_duration_reached.inc();
    c.state = ClientState.Draining;
    if (c.activeStreams === 0) c.close(true);
  }

  /** @internal A stream closed (or was reset before it was sent). */
  onStreamDone(c: Http2ActiveClient, cutByConnection: boolean): void {
    c.activeStreams--;
    this.activeStreams--;
    if (cutByConnection) c.cutStreams++;
    if (c.state !== ClientState.Closed && c.activeStreams === 0) {
      if (c.state === ClientState.Draining) c.close(true);
      else if (c.state === ClientState.Ready) c.armIdleTimer(this.cluster.idleTimeoutMs);
    }
    if (this.pending.length > 0 && !this.destroyed) this.onUpstreamReady();
    this.checkForIdle();
  }

  /** @internal The session is gone (local close: synchronously; remote: on 'close'). */
  onClientClosed(c: Http2ActiveClient): void {
    if (c.state === ClientState.Closed) return;
    const wasConnecting = c.state === ClientState.Connecting;
    c.state = ClientState.Closed;
    c.clearConnectTimer();
    c.clearIdleTimer();
    c.clearLifetimeTimers();
    const stats = this.stats;
    const local = c.localClose;
    stats.upstream_cx_destroy.inc();
    if (local) stats.upstream_cx_destroy_local.inc();
    else stats.upstream_cx_destroy_remote.inc();
    if (c.activeStreams > 0 || c.cutStreams > 0) {
      stats.upstream_cx_destroy_with_active_rq.inc();
      if (local) stats.upstream_cx_destroy_local_with_active_rq.inc();
      else stats.upstream_cx_destroy_remote_with_active_rq.inc();
    }
    c.countBytes();
    stats.upstream_cx_active.dec();
    this.host.stats.cx_active--;
    this.resources.connections.dec();
    stats.upstream_cx_length_ms.recordValue(performance.now() - c.createdAt);
    const i = this.clients.indexOf(c);
    if (i !== -1) this.clients.splice(i, 1);
    // Streams still attached are cut by node ('close' on each) and report their reset then.

    if (wasConnecting) {
      stats.upstream_cx_connect_fail.inc();
      this.host.stats.cx_connect_fail++;
      const reason = c.timedOut
        ? PoolFailureReason.Timeout
        : local
          ? PoolFailureReason.LocalConnectionFailure
          : PoolFailureReason.RemoteConnectionFailure;
      // Connect failures fail every queued stream, so callers decide (retry, 503) now.
      this.purgePendingStreams(reason, c.failureReason);
    }
    if (this.pending.length > 0 && !this.destroyed) this.onUpstreamReady();
    this.checkForIdle();
  }

  /** Envoy's CancelPolicy::CloseExcess. */
  protected override onPendingStreamCancelled(): void {
    this.closeExcessConnecting();
  }

  /**
   * After a cancel, a connecting session the queue no longer needs is closed
   * (Envoy's CancelPolicy::CloseExcess), newest first.
   */
  private closeExcessConnecting(): void {
    for (let i = this.clients.length - 1; i >= 0; i--) {
      const c = this.clients[i]!;
      if (c.state !== ClientState.Connecting) continue;
      if (this.pending.length > this.connectingCapacity() - c.connectingCapacity()) return;
      c.state = ClientState.Draining; // not a connect failure: nothing to purge
      c.close(false);
    }
  }
}

/** The pool factory for one host (the cluster manager's ConnPoolFactory for 'http2'). */
export function createHttp2ConnPool(host: Host, options?: Http2ConnPoolOptions): HttpConnectionPool {
  return new Http2ConnPool(host, options);
}
