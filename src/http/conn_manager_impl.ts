/**
 * ConnectionManagerImpl: the `envoy.filters.network.http_connection_manager`
 * read filter, after Envoy's `source/common/http/conn_manager_impl.cc`. It owns
 * the codec of one downstream connection and one ActiveStream per request.
 *
 *   bytes -> codec -> newStream() -> ActiveStream.decodeHeaders
 *     -> request header mutation (XFF, x-request-id, ...) -> FilterManager (... router)
 *   router -> FilterManager encode path -> ActiveStream.encodeHeadersToCodec
 *     -> response header mutation (date, server, ...) -> codec -> bytes
 *   stream complete -> stats, access logs, filter onDestroy
 */
import { randomUUID } from 'node:crypto';
import {
  StreamResetReason,
  type RequestDecoder,
  type ResponseEncoder,
  type ServerConnection,
  type ServerConnectionCallbacks,
  type StreamCallbacks,
} from '../envoy/http/codec.js';
import type { LocalReplyOptions } from '../envoy/http/filter.js';
import type { HeaderMap } from '../envoy/http/header_map.js';
import { Protocol } from '../envoy/http/protocol.js';
import { ConnectionCloseType, ConnectionEvent, type Connection, type ConnectionCallbacks } from '../envoy/network/connection.js';
import { FilterStatus, type ReadFilter, type ReadFilterCallbacks } from '../envoy/network/filter.js';
import type { Route } from '../envoy/router/router.js';
import type { DrainDecision } from '../envoy/server/factory_context.js';
import { ResponseFlag } from '../envoy/stream_info/response_flags.js';
import { isInternalAddress, splitAddress } from '../network/address.js';
import { StreamInfoImpl } from '../stream_info/stream_info_impl.js';
import { mutateXfccRequestHeader } from './forward_client_cert.js';
import { HeaderMapImpl } from './codec/header_map_impl.js';
import { HTTP2_PREFACE } from './codec/http2/server_connection.js';
import { ServerHeaderTransformation, type ConnectionManagerConfig, type DownstreamCodecProtocol, type UpgradeSetting } from './conn_manager_config.js';
import { currentHttpDate } from './date_provider.js';
import { FilterManager, type FilterManagerCallbacks } from './filter_manager.js';
import { percentEncodeGrpcMessage } from '../common/grpc/common.js';
import { Headers, httpToGrpcStatus, isGrpcRequest } from './headers.js';

let nextStreamId = 0;

/** Envoy's overload.premature_reset_total_stream_count default. */
const PREMATURE_RESET_TOTAL_STREAM_COUNT = 500;
/** Envoy's overload.premature_reset_min_stream_lifetime_seconds default. */
const PREMATURE_RESET_MIN_STREAM_LIFETIME_S = 1;

/** Random non-negative 31-bit integers for route picks, cheap (no crypto). */
function randomU31(): number {
  return (Math.random() * 0x80000000) >>> 0;
}


/**
 * Request headers that steer the router (retries, timeouts, hedging), removed
 * from requests that do not come from an internal address, as Envoy's
 * ConnectionManagerUtility::cleanInternalHeaders does.
 */
const INTERNAL_ONLY_REQUEST_HEADERS: readonly string[] = [
  'x-envoy-retriable-status-codes',
  'x-envoy-retriable-header-names',
  'x-envoy-retry-on',
  'x-envoy-retry-grpc-on',
  'x-envoy-max-retries',
  'x-envoy-upstream-alt-stat-name',
  'x-envoy-upstream-rq-timeout-ms',
  'x-envoy-upstream-rq-per-try-timeout-ms',
  'x-envoy-upstream-rq-timeout-alt-response',
  'x-envoy-expected-rq-timeout-ms',
  'x-envoy-force-trace',
  'x-envoy-ip-tags',
  'x-envoy-original-url',
  'x-envoy-hedge-on-per-try-timeout',
];
export class ConnectionManagerImpl implements ReadFilter, ServerConnectionCallbacks, ConnectionCallbacks {
  private readCallbacks!: ReadFilterCallbacks;
  private codec: ServerConnection | null = null;
  readonly streams = new Set<ActiveStream>();
  private idleTimer: NodeJS.Timeout | null = null;
  private maxDurationTimer: NodeJS.Timeout | null = null;
  private headersTimer: NodeJS.Timeout | null = null;
  private readonly connectStart = performance.now();
  private closed = false;
  /** Set when the connection must close once the current stream ends (drain, HTTP/1.0, errors). */
  drainClosing = false;
  /** Per-connection facts every request needs, computed once. */
  remoteIp = '';
  remoteIsInternal = false;
  localPort = 0;
  /**
   * HTTP/1 runs one stream at a time, so its streams share one stream-idle
   * timer (re-armed per stream) instead of a new timer per request.
   */
  private streamIdleTimer: NodeJS.Timeout | null = null;
  private streamIdleOwner: ActiveStream | null = null;
  /** The codec's protocol once chosen (AUTO without ALPN waits for the first bytes). */
  private codecProtocol: DownstreamCodecProtocol | null = null;
  /** Bytes of a possible HTTP/2 preface seen so far (AUTO). */
  private pendingPreface: Buffer | null = null;
  /** True for HTTP/2: many streams at once, each with its own timers, reset without closing the connection. */
  multiplexed = false;
  /** Envoy's premature-reset accounting (rapid reset, CVE-2023-44487). */
  private closedStreams = 0;
  private rxBytesCounted = 0;
  private prematureResets = 0;

  constructor(readonly config: ConnectionManagerConfig, readonly drainDecision: DrainDecision) {}

  get connection(): Connection { return this.readCallbacks.connection; }

  initializeReadFilterCallbacks(callbacks: ReadFilterCallbacks): void {
    this.readCallbacks = callbacks;
    callbacks.connection.addConnectionCallbacks(this);
  }

  private unregisterDrain: (() => void) | null = null;

  onNewConnection(): FilterStatus {
    this.unregisterDrain = this.drainDecision.addOnDrainCloseCb((closeIdle) => this.startDrainClose(closeIdle !== false));
    const s = this.config.stats;
    s.downstream_cx_total.inc();
    s.downstream_cx_active.inc();
    const remote = splitAddress(this.connection.remoteAddress);
    this.remoteIp = remote.ip;
    this.remoteIsInternal = isInternalAddress(remote.ip);
    this.localPort = splitAddress(this.connection.localAddress).port;
    const codecType = this.config.codecType;
    const alpn = this.connection.nextProtocol;
    if (codecType !== 'auto') this.selectCodec(codecType);
    else if (alpn === 'h2') this.selectCodec('http2');
    else if (alpn !== '') this.selectCodec('http1');
    // else AUTO in cleartext: the first bytes decide (onData).
    this.startIdleTimer();
    if (this.config.maxConnectionDurationMs > 0) {
      this.maxDurationTimer = setTimeout(() => {
        this.config.stats.downstream_cx_max_duration_reached.inc();
        this.startDrainClose();
      }, this.config.maxConnectionDurationMs);
    }
    return FilterStatus.Continue;
  }

  onData(data: Buffer, _endStream: boolean): FilterStatus {
    this.config.stats.downstream_cx_rx_bytes_total.add(data.length);
    this.rxBytesCounted += data.length;
    if (this.codec === null) {
      // AUTO: HTTP/2 with prior knowledge starts with the connection preface.
      const buf = this.pendingPreface === null ? data : Buffer.concat([this.pendingPreface, data]);
      const n = Math.min(buf.length, HTTP2_PREFACE.length);
      if (buf.subarray(0, n).equals(HTTP2_PREFACE.subarray(0, n))) {
        if (n < HTTP2_PREFACE.length) { this.pendingPreface = buf; return FilterStatus.StopIteration; }
        this.selectCodec('http2');
      } else {
        this.selectCodec('http1');
      }
      this.pendingPreface = null;
      data = buf;
    }
    if (!this.multiplexed && this.streams.size === 0 && this.headersTimer === null && this.config.requestHeadersTimeoutMs > 0) {
      this.headersTimer = setTimeout(() => this.onRequestHeadersTimeout(), this.config.requestHeadersTimeoutMs);
    }
    this.codec!.dispatch(data);
    return FilterStatus.StopIteration;
  }

  private selectCodec(protocol: DownstreamCodecProtocol): void {
    this.codecProtocol = protocol;
    this.multiplexed = protocol === 'http2';
    const s = this.config.stats;
    if (protocol === 'http2') { s.downstream_cx_http2_total.inc(); s.downstream_cx_http2_active.inc(); } else { s.downstream_cx_http1_total.inc(); s.downstream_cx_http1_active.inc(); }
    this.codec = this.config.createCodec(protocol, this.connection, this);
  }

  // ---- ServerConnectionCallbacks ----
  newStream(encoder: ResponseEncoder): RequestDecoder {
    if (this.headersTimer !== null) { clearTimeout(this.headersTimer); this.headersTimer = null; }
    const stream = new ActiveStream(this, encoder);
    this.streams.add(stream);
    return stream;
  }

  onCodecError(_status: number, _details: string): void {
    this.config.stats.downstream_cx_protocol_error.inc();
  }

  // ---- ConnectionCallbacks ----
  onEvent(event: ConnectionEvent): void {
    if (event === ConnectionEvent.Connected || this.closed) return;
    this.closed = true;
    const s = this.config.stats;
    s.downstream_cx_destroy.inc();
    if (event === ConnectionEvent.RemoteClose) s.downstream_cx_destroy_remote.inc();
    else s.downstream_cx_destroy_local.inc();
    if (this.streams.size > 0) {
      s.downstream_cx_destroy_active_rq.inc();
      if (event === ConnectionEvent.RemoteClose) s.downstream_cx_destroy_remote_active_rq.inc();
      else s.downstream_cx_destroy_local_active_rq.inc();
    }
    for (const stream of [...this.streams]) stream.onDownstreamReset(event === ConnectionEvent.RemoteClose);
    s.downstream_cx_active.dec();
    if (this.codecProtocol === 'http2') s.downstream_cx_http2_active.dec();
    else if (this.codecProtocol === 'http1') s.downstream_cx_http1_active.dec();
    s.downstream_cx_tx_bytes_total.add(this.connection.bytesSent);
    // HTTP/2 reads the socket itself after the first bytes: count the rest now.
    if (this.multiplexed) s.downstream_cx_rx_bytes_total.add(Math.max(0, this.connection.bytesReceived - this.rxBytesCounted));
    s.downstream_cx_length_ms.recordValue(performance.now() - this.connectStart);
    this.clearIdleTimer();
    this.streamIdleOwner = null;
    if (this.streamIdleTimer !== null) clearTimeout(this.streamIdleTimer);
    this.unregisterDrain?.();
    if (this.maxDurationTimer !== null) clearTimeout(this.maxDurationTimer);
    if (this.headersTimer !== null) clearTimeout(this.headersTimer);
  }
  onAboveWriteBufferHighWatermark(): void {
    for (const s of this.streams) s.filterManager.onDownstreamAboveHighWatermark();
  }
  onBelowWriteBufferLowWatermark(): void {
    for (const s of this.streams) s.filterManager.onDownstreamBelowLowWatermark();
  }

  // ---- lifecycle helpers ----
  /**
   * (Re-)arms the connection idle timer. One Timeout per connection, refreshed
   * when the connection goes idle again; while streams are active a firing is
   * ignored, so nothing is cleared and recreated per request.
   */
  private startIdleTimer(): void {
    if (this.config.idleTimeoutMs <= 0 || this.closed) return;
    if (this.idleTimer !== null) { this.idleTimer.refresh(); return; }
    this.idleTimer = setTimeout(() => {
      if (this.streams.size === 0 && !this.closed) {
        this.config.stats.downstream_cx_idle_timeout.inc();
        this.closeGracefully();
      }
    }, this.config.idleTimeoutMs);
  }
  private clearIdleTimer(): void {
    if (this.idleTimer !== null) { clearTimeout(this.idleTimer); this.idleTimer = null; }
  }

  private onRequestHeadersTimeout(): void {
    this.headersTimer = null;
    if (this.streams.size > 0) return;
    this.config.stats.downstream_rq_header_timeout.inc();
    // Envoy answers 408 when it can; before a stream exists we can only close.
    this.connection.write(
      'HTTP/1.1 408 Request Timeout\r\ncontent-length: 15\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\nrequest timeout', true);
    this.connection.close(ConnectionCloseType.FlushWrite);
  }

  /** Arms the shared stream-idle timer for `stream` (null disarms). */
  armStreamIdleTimer(stream: ActiveStream | null): void {
    this.streamIdleOwner = stream;
    if (stream === null || this.config.streamIdleTimeoutMs <= 0) return;
    if (this.streamIdleTimer === null) {
      this.streamIdleTimer = setTimeout(() => this.streamIdleOwner?.onStreamIdleTimeout(), this.config.streamIdleTimeoutMs);
    } else {
      this.streamIdleTimer.refresh();
    }
  }
  refreshStreamIdleTimer(): void {
    if (this.streamIdleOwner !== null) this.streamIdleTimer!.refresh();
  }

  /**
   * HTTP/1 closes after flushing; HTTP/2 sends GOAWAY and node:http2 closes
   * the connection once its last stream has finished.
   */
  private closeGracefully(): void {
    if (this.multiplexed && this.codec !== null) this.codec.shutdownNotice();
    else this.connection.close(ConnectionCloseType.FlushWrite);
  }

  /**
   * Close once the in-flight streams end. An idle HTTP/1 connection closes
   * now when `closeIdle` (shutdown); otherwise (a listener drain) its next
   * response carries `connection: close`, as Envoy's drainClose() does.
   */
  startDrainClose(closeIdle = true): void {
    this.drainClosing = true;
    if (this.multiplexed) {
      this.countDrainClose();
      this.closeGracefully();
      return;
    }
    if (this.streams.size === 0 && closeIdle) {
      this.countDrainClose();
      this.connection.close(ConnectionCloseType.FlushWrite);
    }
  }

  private drainCloseCounted = false;

  /** downstream_cx_drain_close: once per connection the drain closes. */
  private countDrainClose(): void {
    if (this.drainCloseCounted) return;
    this.drainCloseCounted = true;
    this.config.stats.downstream_cx_drain_close.inc();
  }

  /** Called by a stream once it is done in both directions. */
  onStreamDestroyed(stream: ActiveStream, closeConnection: boolean, prematureReset: boolean): void {
    this.streams.delete(stream);
    if (this.closed || this.connection.closed) return;
    if (this.multiplexed) {
      this.closedStreams++;
      if (prematureReset) this.prematureResets++;
      if (this.tooManyPrematureResets()) return;
      if (this.drainClosing) this.closeGracefully();
      else if (this.streams.size === 0) this.startIdleTimer();
      return;
    }
    if (closeConnection || this.drainClosing) {
      if (this.drainClosing) this.countDrainClose();
      this.connection.close(ConnectionCloseType.FlushWrite);
      return;
    }
    if (this.streams.size === 0) this.startIdleTimer();
  }

  /**
   * Envoy's defence against rapid reset (CVE-2023-44487): a connection whose
   * streams are mostly reset by the client before any response closes at once.
   * Below 500 closed streams it takes 250 premature resets; from then on,
   * premature resets must stay under half of all closed streams.
   */
  private tooManyPrematureResets(): boolean {
    const limit = PREMATURE_RESET_TOTAL_STREAM_COUNT;
    if (this.closedStreams < limit ? this.prematureResets * 2 < limit : this.prematureResets * 2 < this.closedStreams) return false;
    this.config.stats.downstream_rq_too_many_premature_resets.inc();
    this.connection.close(ConnectionCloseType.NoFlush);
    return true;
  }

  /** Whether responses should carry `connection: close` now (HTTP/2: GOAWAY is sent instead). */
  shouldDrainClose(): boolean {
    if (this.drainClosing) return true;
    if (this.drainDecision.drainClose()) {
      this.drainClosing = true;
      this.countDrainClose();
      if (this.multiplexed) this.closeGracefully();
      return true;
    }
    return false;
  }
}

/** One request/response exchange on the connection. */
export class ActiveStream implements RequestDecoder, FilterManagerCallbacks, StreamCallbacks {
  readonly streamId = nextStreamId++;
  readonly streamInfo: StreamInfoImpl;
  readonly filterManager: FilterManager;
  private cachedRoute: Route | null | undefined = undefined;
  upgradeType: string | null = null;
  private requestTimer: NodeJS.Timeout | null = null;
  private codecResponseStarted = false;
  private codecResponseComplete = false;
  private destroyed = false;
  private closeConnectionAfter = false;
  private isGrpc = false;
  private isHead = false;
  private requestHeaders: HeaderMap | null = null;
  /** HTTP/2 streams keep their own stream-idle timer (HTTP/1 shares the connection's). */
  private ownIdleTimer: NodeJS.Timeout | null = null;

  constructor(readonly parent: ConnectionManagerImpl, readonly encoder: ResponseEncoder) {
    const conn = parent.connection;
    this.streamInfo = new StreamInfoImpl(encoder.protocol, conn.remoteAddress, conn.remoteAddress, conn.localAddress);
    this.streamInfo.requestedServerName = conn.requestedServerName;
    this.streamInfo.downstreamSslConnection = conn.ssl;
    this.filterManager = new FilterManager(this, this.streamInfo);
    encoder.getStream().addCallbacks(this);
    const s = parent.config.stats;
    s.downstream_rq_total.inc();
    s.downstream_rq_active.inc();
    if (encoder.protocol === Protocol.Http2) s.downstream_rq_http2_total.inc();
    else s.downstream_rq_http1_total.inc();
    if (!parent.multiplexed) parent.armStreamIdleTimer(this);
    else if (parent.config.streamIdleTimeoutMs > 0) {
      this.ownIdleTimer = setTimeout(() => this.onStreamIdleTimeout(), parent.config.streamIdleTimeoutMs);
    }
  }

  get config(): ConnectionManagerConfig { return this.parent.config; }
  get connectionId(): number { return this.parent.connection.id; }
  get statPrefix(): string { return this.config.statPrefix; }

  // ---- RequestDecoder (from the codec) ----
  decodeHeaders(headers: HeaderMap, endStream: boolean): void {
    this.requestHeaders = headers;
    this.isHead = headers.get(Headers.Method) === 'HEAD';
    this.isGrpc = isGrpcRequest(headers.get(Headers.ContentType));
    if (this.encoder.protocol === Protocol.Http10) this.closeConnectionAfter = true;
    else {
      const conn = headers.get(Headers.Connection);
      if (conn !== undefined && /(?:^|,)\s*close\s*(?:,|$)/i.test(conn)) this.closeConnectionAfter = true;
    }
    if (endStream) this.onRequestComplete();
    else if (this.config.requestTimeoutMs > 0) {
      this.requestTimer = setTimeout(() => this.onRequestTimeout(), this.config.requestTimeoutMs);
    }
    this.refreshIdleTimer();

    // Upgrades (WebSocket; CONNECT counts as the upgrade "connect", as in Envoy):
    // allowed or refused below, once the route is known.
    const upgrade = headers.get(Headers.Upgrade);
    if (upgrade !== undefined && headerHasToken(headers.get(Headers.Connection), 'upgrade')) {
      this.upgradeType = upgrade.toLowerCase();
    } else if (headers.get(Headers.Method) === 'CONNECT') {
      this.upgradeType = 'connect';
    }

    const path = headers.get(Headers.Path);
    const isConnect = headers.get(Headers.Method) === 'CONNECT';
    if (isConnect && path === undefined) {
      // A CONNECT carries an authority and no path (RFC 9110 §9.3.6).
    } else if (path === undefined || (path.charCodeAt(0) !== 47 /* / */ && !isConnect && path !== '*')) {
      this.config.stats.downstream_rq_non_relative_path.inc();
      this.sendLocalReply(404, '', { details: 'absolute_path_rejected' }, false);
      return;
    } else if (this.config.normalizePath || this.config.mergeSlashes) {
      const normalized = normalizePath(path, this.config.normalizePath, this.config.mergeSlashes);
      if (normalized === null) {
        this.sendLocalReply(400, 'Bad Request', { details: 'path_normalization_failed' }, false);
        return;
      }
      if (normalized !== path) headers.set(Headers.Path, normalized);
    }

    this.mutateRequestHeaders(headers);

    // Expect: 100-continue is answered here unless the HCM proxies it.
    if (!this.config.proxy100Continue) {
      const expect = headers.get(Headers.Expect);
      if (expect !== undefined && expect.toLowerCase() === '100-continue') {
        headers.remove(Headers.Expect);
        this.encoder.encode1xxHeaders(HeaderMapImpl.fromPairs([[':status', '100']]));
      }
    }

    if (this.upgradeType !== null) {
      if (!this.upgradeAllowed(this.upgradeType)) {
        this.config.stats.downstream_rq_ws_on_non_ws_route.inc();
        this.closeConnectionAfter = true;
        this.sendLocalReply(403, '', { details: 'upgrade_failed' }, false);
        return;
      }
      this.config.stats.downstream_cx_upgrades_total.inc();
    }
    const factories = this.upgradeType !== null ? (this.findUpgrade(this.upgradeType)?.filterFactories ?? this.config.filterFactories) : this.config.filterFactories;
    for (const f of factories) f(this.filterManager);
    this.filterManager.decodeHeaders(0, headers, endStream);
  }

  decodeData(data: Buffer, endStream: boolean): void {
    this.streamInfo.bytesReceived += data.length;
    this.refreshIdleTimer();
    if (endStream) this.onRequestComplete();
    if (this.filterManager.responseComplete() || this.destroyed) return;
    this.filterManager.decodeData(0, data, endStream);
  }

  decodeTrailers(trailers: HeaderMap): void {
    this.onRequestComplete();
    if (this.filterManager.responseComplete() || this.destroyed) return;
    this.filterManager.decodeTrailers(0, trailers);
  }

  private onRequestComplete(): void {
    if (this.filterManager.decodeComplete) return;
    this.filterManager.decodeComplete = true;
    this.streamInfo.lastDownstreamRxByteReceived = performance.now();
    if (this.requestTimer !== null) { clearTimeout(this.requestTimer); this.requestTimer = null; }
    this.maybeEndStream();
  }

  /**
   * Envoy's createUpgradeFilterChain: the route's upgrade_configs decide when
   * they name the type (enabled or not); otherwise the HCM's must allow it.
   */
  private upgradeAllowed(type: string): boolean {
    const perRoute = this.route()?.routeEntry?.upgradeConfigs;
    if (perRoute !== undefined) {
      for (const u of perRoute) if (u.upgradeType.toLowerCase() === type) return u.enabled;
    }
    const setting = this.findUpgrade(type);
    return setting !== null && setting.enabled;
  }

  private findUpgrade(type: string): UpgradeSetting | null {
    for (const u of this.config.upgrades) if (u.upgradeType === type) return u;
    return null;
  }

  // ---- request header mutation (Envoy's ConnectionManagerUtility::mutateRequestHeaders) ----
  private mutateRequestHeaders(headers: HeaderMap): void {
    const cfg = this.config;
    // Hop-by-hop headers never go upstream (an allowed upgrade keeps its two).
    if (this.upgradeType === null) {
      headers.remove(Headers.Connection);
      headers.remove(Headers.Upgrade);
    }
    headers.remove(Headers.KeepAlive);
    headers.remove(Headers.ProxyConnection);
    headers.remove(Headers.TransferEncoding);
    const te = headers.get(Headers.TE);
    if (te !== undefined) {
      if (headerHasToken(te, 'trailers')) headers.set(Headers.TE, 'trailers');
      else headers.remove(Headers.TE);
    }

    // The scheme is per connection: one listener may carry TLS and plaintext chains.
    const scheme = this.parent.connection.ssl !== null ? 'https' : 'http';
    const remoteIp = this.parent.remoteIp;
    let clientIp = remoteIp;
    const xff = headers.get(Headers.XForwardedFor);
    if (cfg.useRemoteAddress) {
      if (cfg.xffNumTrustedHops > 0 && xff !== undefined) {
        const parts = xff.split(',').map((p) => p.trim());
        const idx = parts.length - cfg.xffNumTrustedHops;
        if (idx >= 0 && idx < parts.length && parts[idx]) clientIp = parts[idx]!;
      }
      if (!cfg.skipXffAppend) headers.set(Headers.XForwardedFor, xff === undefined ? remoteIp : `${xff},${remoteIp}`);
      headers.set(Headers.XForwardedProto, scheme);
    } else {
      if (xff !== undefined) {
        const parts = xff.split(',').map((p) => p.trim());
        const idx = parts.length - 1 - cfg.xffNumTrustedHops;
        if (idx >= 0 && parts[idx]) clientIp = parts[idx]!;
      }
      if (!headers.has(Headers.XForwardedProto)) headers.set(Headers.XForwardedProto, scheme);
    }
    if (clientIp !== remoteIp) {
      this.streamInfo.downstreamRemoteAddress = clientIp.includes(':') ? `[${clientIp}]:0` : `${clientIp}:0`;
    }
    const internal = clientIp === remoteIp ? this.parent.remoteIsInternal : isInternalAddress(clientIp);
    if (cfg.useRemoteAddress) {
      if (internal) headers.set(Headers.XEnvoyInternal, 'true');
      else {
        headers.remove(Headers.XEnvoyInternal);
        headers.set(Headers.XEnvoyExternalAddress, clientIp);
      }
    }
    // An external client must not steer retries or timeouts (Envoy's cleanInternalHeaders).
    if (!internal) for (const name of INTERNAL_ONLY_REQUEST_HEADERS) headers.remove(name);
    headers.set(Headers.Scheme, scheme);
    mutateXfccRequestHeader(headers, this.parent.connection.ssl, cfg.forwardClientCert);

    if (cfg.via !== '') {
      const v = headers.get(Headers.Via);
      headers.set(Headers.Via, v === undefined ? cfg.via : `${v},${cfg.via}`);
    }

    // x-request-id: generated when missing; an external one is replaced at the edge unless preserved.
    let rid = headers.get(Headers.XRequestId);
    const edgeExternal = cfg.useRemoteAddress && !internal;
    if (cfg.generateRequestId && (rid === undefined || (edgeExternal && !cfg.preserveExternalRequestId))) {
      rid = randomUUID();
      headers.set(Headers.XRequestId, rid);
    }
    this.streamInfo.requestId = rid ?? null;

    const authority = headers.get(Headers.Authority);
    if (authority !== undefined) {
      let a = authority;
      if (cfg.stripTrailingHostDot) a = stripTrailingDot(a);
      if (cfg.stripAnyHostPort) a = stripPort(a);
      else if (cfg.stripMatchingHostPort) {
        const p = portOf(a);
        if (p !== null && p === this.parent.localPort) a = stripPort(a);
      }
      if (a !== authority) headers.set(Headers.Authority, a);
    }
  }

  // ---- FilterManagerCallbacks ----
  route(): Route | null {
    if (this.cachedRoute === undefined) {
      const table = this.config.routeTable();
      this.cachedRoute = table === null || this.requestHeaders === null
        ? null : table.route(this.requestHeaders, this.streamInfo, randomU31());
      if (this.cachedRoute !== null) this.streamInfo.routeName = this.cachedRoute.name || null;
    }
    return this.cachedRoute;
  }
  clearRouteCache(): void { this.cachedRoute = undefined; }

  bufferLimit(): number { return this.config.bufferLimit; }

  readDisableDownstream(disable: boolean): void {
    this.encoder.getStream().readDisable(disable);
  }

  encode1xxToCodec(headers: HeaderMap): void {
    this.encoder.encode1xxHeaders(headers);
  }

  encodeHeadersToCodec(headers: HeaderMap, endStream: boolean): void {
    const cfg = this.config;
    const status = Number(headers.get(Headers.Status));
    this.streamInfo.responseCode = status;
    headers.set(Headers.Date, currentHttpDate());
    if (cfg.serverHeaderTransformation === ServerHeaderTransformation.Overwrite
      || (cfg.serverHeaderTransformation === ServerHeaderTransformation.AppendIfAbsent && !headers.has(Headers.Server))) {
      headers.set(Headers.Server, cfg.serverName);
    }
    // Upstream hop-by-hop headers are the codec's business, not the client's.
    if (!(status === 101 && this.upgradeType !== null)) {
      headers.remove(Headers.Connection);
      headers.remove(Headers.Upgrade);
    }
    headers.remove(Headers.KeepAlive);
    headers.remove(Headers.ProxyConnection);
    headers.remove(Headers.TransferEncoding);
    if (cfg.via !== '') {
      const v = headers.get(Headers.Via);
      headers.set(Headers.Via, v === undefined ? cfg.via : `${v},${cfg.via}`);
    }
    if (cfg.alwaysSetRequestIdInResponse && this.streamInfo.requestId !== null && !headers.has(Headers.XRequestId)) {
      headers.set(Headers.XRequestId, this.streamInfo.requestId);
    }
    if (this.closeConnectionAfter || this.parent.shouldDrainClose()) {
      this.closeConnectionAfter = true;
      if (this.encoder.protocol !== Protocol.Http2) headers.set(Headers.Connection, 'close');
    }
    // A response that finishes before the request (HTTP/1) means the connection cannot be reused.
    if (endStream && !this.filterManager.decodeComplete && this.encoder.protocol !== Protocol.Http2) {
      this.closeConnectionAfter = true;
      if (!headers.has(Headers.Connection)) headers.set(Headers.Connection, 'close');
    }
    this.streamInfo.firstDownstreamTxByteSent = performance.now();
    this.codecResponseStarted = true;
    this.recordResponseCode(status);
    this.refreshIdleTimer();
    this.encoder.encodeHeaders(headers, endStream);
    if (endStream) this.onResponseComplete();
  }

  encodeDataToCodec(data: Buffer, endStream: boolean): void {
    this.streamInfo.bytesSent += data.length;
    this.refreshIdleTimer();
    this.encoder.encodeData(data, endStream);
    if (endStream) this.onResponseComplete();
  }

  encodeTrailersToCodec(trailers: HeaderMap): void {
    this.encoder.encodeTrailers(trailers);
    this.onResponseComplete();
  }

  private recordResponseCode(status: number): void {
    const s = this.config.stats;
    const l = this.config.listenerStats;
    const cls = Math.floor(status / 100);
    switch (cls) {
      case 1: s.downstream_rq_1xx.inc(); l?.downstream_rq_1xx.inc(); break;
      case 2: s.downstream_rq_2xx.inc(); l?.downstream_rq_2xx.inc(); break;
      case 3: s.downstream_rq_3xx.inc(); l?.downstream_rq_3xx.inc(); break;
      case 4: s.downstream_rq_4xx.inc(); l?.downstream_rq_4xx.inc(); break;
      default: s.downstream_rq_5xx.inc(); l?.downstream_rq_5xx.inc(); break;
    }
  }

  private onResponseComplete(): void {
    if (this.codecResponseComplete) return;
    this.codecResponseComplete = true;
    this.streamInfo.lastDownstreamTxByteSent = performance.now();
    if (!this.filterManager.decodeComplete) {
      this.config.stats.downstream_rq_response_before_rq_complete.inc();
      if (this.encoder.protocol !== Protocol.Http2) this.closeConnectionAfter = true;
    }
    this.maybeEndStream();
  }

  /** A stream ends when the response is out; an unfinished HTTP/1 request closes the connection. */
  private maybeEndStream(): void {
    if (!this.codecResponseComplete || this.destroyed) return;
    // HTTP/2: a complete response ends the stream (the codec cuts the rest of the request).
    if (!this.filterManager.decodeComplete && this.upgradeType === null && !this.closeConnectionAfter && !this.parent.multiplexed) return;
    this.finish(this.closeConnectionAfter);
  }

  sendLocalReply(code: number, body: string, options: LocalReplyOptions, fromEncoder: boolean): void {
    if (this.destroyed) return;
    this.streamInfo.responseCodeDetails = options.details;
    if (!this.codecResponseStarted) this.streamInfo.responseCode = code;
    if (this.codecResponseStarted) {
      // Too late for a reply: the client already has a status line.
      this.resetStream();
      return;
    }
    const headers = new HeaderMapImpl();
    let bodyBuf: Buffer | null = null;
    if (this.isGrpc) {
      // gRPC clients get a trailers-only reply carrying the status (Envoy's local reply for gRPC).
      headers.add(Headers.Status, '200');
      headers.add(Headers.ContentType, 'application/grpc');
      headers.add(Headers.GrpcStatus, String(options.grpcStatus ?? httpToGrpcStatus(code)));
      if (body !== '') headers.add(Headers.GrpcMessage, percentEncodeGrpcMessage(body));
    } else {
      headers.add(Headers.Status, String(code));
      if (body !== '') {
        bodyBuf = Buffer.from(body);
        headers.add(Headers.ContentLength, String(bodyBuf.length));
        headers.add(Headers.ContentType, 'text/plain');
      } else if (code >= 200 && code !== 204 && code !== 304) {
        headers.add(Headers.ContentLength, '0');
      }
    }
    options.modifyHeaders?.(headers);
    if (this.isHead) bodyBuf = null;
    const fm = this.filterManager;
    if (fromEncoder) {
      this.encodeHeadersToCodec(headers, bodyBuf === null);
      if (bodyBuf !== null) this.encodeDataToCodec(bodyBuf, true);
      return;
    }
    fm.resetEncodeState();
    fm.encodeHeaders(fm.encoderFilters.length - 1, headers, bodyBuf === null);
    if (bodyBuf !== null && !this.destroyed) fm.encodeData(fm.encoderFilters.length - 1, bodyBuf, true);
  }

  resetStream(): void {
    if (this.destroyed) return;
    this.config.stats.downstream_rq_tx_reset.inc();
    // HTTP/1 has no stream reset: the connection goes (HTTP/2 resets only the
    // stream). Our own callbacks must not read this local reset as the client
    // going away (DC).
    const multiplexed = this.parent.multiplexed;
    if (!multiplexed) this.closeConnectionAfter = true;
    const stream = this.encoder.getStream();
    stream.removeCallbacks(this);
    stream.resetStream(StreamResetReason.LocalReset);
    this.finish(!multiplexed);
  }

  // ---- StreamCallbacks (from the codec) ----
  onResetStream(_reason: StreamResetReason, _transportFailureReason: string): void {
    if (this.destroyed) return;
    this.onDownstreamReset(true);
  }
  onAboveWriteBufferHighWatermark(): void { this.filterManager.onDownstreamAboveHighWatermark(); }
  onBelowWriteBufferLowWatermark(): void { this.filterManager.onDownstreamBelowLowWatermark(); }

  /**
   * Envoy's isPrematureRstStream: a stream that lived no longer than the
   * minimum lifetime (whole seconds) and got no response status.
   */
  private isPrematureReset(): boolean {
    if (Math.floor((performance.now() - this.streamInfo.startTimeMonotonic) / 1000) > PREMATURE_RESET_MIN_STREAM_LIFETIME_S) return false;
    return this.streamInfo.responseCode === null;
  }

  /** The client went away (or the connection closed) before the stream finished. */
  onDownstreamReset(remote: boolean): void {
    if (this.destroyed) return;
    if (remote) {
      this.config.stats.downstream_rq_rx_reset.inc();
      if (!this.codecResponseComplete) this.streamInfo.setResponseFlag(ResponseFlag.DownstreamConnectionTermination);
    }
    this.finish(false);
  }

  // ---- timeouts ----
  private refreshIdleTimer(): void {
    if (this.ownIdleTimer !== null) this.ownIdleTimer.refresh();
    else if (!this.parent.multiplexed) this.parent.refreshStreamIdleTimer();
  }

  private clearIdleTimer(): void {
    if (this.ownIdleTimer !== null) { clearTimeout(this.ownIdleTimer); this.ownIdleTimer = null; }
    else if (!this.parent.multiplexed) this.parent.armStreamIdleTimer(null);
  }

  onStreamIdleTimeout(): void {
    if (this.destroyed) return;
    this.clearIdleTimer();
    this.config.stats.downstream_rq_idle_timeout.inc();
    this.streamInfo.setResponseFlag(ResponseFlag.StreamIdleTimeout);
    if (this.codecResponseStarted) this.resetStream();
    else this.sendLocalReply(408, 'stream timeout', { details: 'stream_idle_timeout' }, false);
  }

  private onRequestTimeout(): void {
    this.requestTimer = null;
    if (this.destroyed) return;
    this.config.stats.downstream_rq_timeout.inc();
    if (this.codecResponseStarted) this.resetStream();
    else {
      this.closeConnectionAfter = true;
      this.sendLocalReply(408, 'request timeout', { details: 'request_overall_timeout' }, false);
    }
  }

  /** Ends the stream: filters destroyed, stats and access logs, connection bookkeeping. */
  private finish(closeConnection: boolean): void {
    if (this.destroyed) return;
    this.destroyed = true;
    if (this.requestTimer !== null) clearTimeout(this.requestTimer);
    this.clearIdleTimer();
    this.streamInfo.onComplete();
    const s = this.config.stats;
    s.downstream_rq_active.dec();
    if (this.codecResponseComplete) {
      s.downstream_rq_completed.inc();
      this.config.listenerStats?.downstream_rq_completed.inc();
    }
    const d = this.streamInfo.duration();
    if (d !== null) s.downstream_rq_time.recordValue(d);
    this.filterManager.destroyFilters();
    const fm = this.filterManager;
    const logs = this.config.accessLogs;
    if (logs.length > 0 || fm.accessLogHandlers.length > 0) {
      for (const log of logs) log.log(this.requestHeaders, fm.responseHeaders, fm.responseTrailers, this.streamInfo);
      for (const h of fm.accessLogHandlers) h.log(this.requestHeaders, fm.responseHeaders, fm.responseTrailers, this.streamInfo);
    }
    this.parent.onStreamDestroyed(this, closeConnection, this.parent.multiplexed && this.isPrematureReset());
  }
}

function headerHasToken(value: string | undefined, token: string): boolean {
  if (value === undefined) return false;
  for (const part of value.split(',')) if (part.trim().toLowerCase() === token) return true;
  return false;
}

function portOf(authority: string): number | null {
  const close = authority.lastIndexOf(']');
  const colon = authority.lastIndexOf(':');
  if (colon <= close) return null;
  const p = Number(authority.slice(colon + 1));
  return Number.isInteger(p) ? p : null;
}

function stripPort(authority: string): string {
  const close = authority.lastIndexOf(']');
  const colon = authority.lastIndexOf(':');
  return colon > close ? authority.slice(0, colon) : authority;
}

function stripTrailingDot(authority: string): string {
  const p = portOf(authority);
  const host = p === null ? authority : stripPort(authority);
  if (!host.endsWith('.')) return authority;
  return p === null ? host.slice(0, -1) : `${host.slice(0, -1)}:${p}`;
}

/**
 * RFC 3986 path normalisation (remove dot segments) and slash merging, as the
 * HCM's normalize_path / merge_slashes. Returns null for paths that cannot be
 * normalised (escaping above the root is clamped, as Envoy does).
 */
export function normalizePath(path: string, normalize: boolean, mergeSlashes: boolean): string | null {
  const q = path.indexOf('?');
  let p = q === -1 ? path : path.slice(0, q);
  const rest = q === -1 ? '' : path.slice(q);
  if (mergeSlashes) p = p.replace(/\/{2,}/g, '/');
  if (normalize) {
    if (p.includes('\\')) p = p.replace(/\\/g, '/');
    const out: string[] = [];
    const segs = p.split('/');
    for (let i = 1; i < segs.length; i++) {
      const s = segs[i]!;
      if (s === '.') { if (i === segs.length - 1) out.push(''); continue; }
      if (s === '..') { out.pop(); if (i === segs.length - 1) out.push(''); continue; }
      out.push(s);
    }
    p = `/${out.join('/')}`;
  }
  return p + rest;
}
