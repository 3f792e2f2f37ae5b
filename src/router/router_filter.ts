/**
 * The router filter (`envoy.filters.http.router`), after Envoy's
 * `source/common/router/router.cc`: the terminal decoder filter that takes the
 * matched route to a cluster, picks a host, gets a stream from the host's
 * connection pool and proxies the request and response. Every way this can
 * fail ends in a local reply carrying a response flag (NR, NC, UH, UO, UF, UC,
 * UR, UT, UPE) and Envoy's reply body, so a 503 explains itself.
 */
import type { Counter } from '../envoy/stats/stats.js';
import {
  FilterDataStatus,
  FilterHeadersStatus,
  FilterTrailersStatus,
  type DownstreamWatermarkCallbacks,
  type StreamDecoderFilter,
  type StreamDecoderFilterCallbacks,
} from '../envoy/http/filter.js';
import type { HeaderMap } from '../envoy/http/header_map.js';
import { StreamResetReason } from '../envoy/http/codec.js';
import type { RouteEntry } from '../envoy/router/router.js';
import { ResponseFlag } from '../envoy/stream_info/response_flags.js';
import { PoolFailureReason, type ClusterManager, type LoadBalancerContext, type ThreadLocalCluster } from '../envoy/upstream/cluster_manager.js';
import type { Host } from '../envoy/upstream/host.js';
import { isGrpcRequestHeaders, GrpcStatus } from '../common/grpc/common.js';
import { routeGlobalTimeoutMs, setGrpcTimeoutHeader, streamDurationTimeoutMs } from './timeouts.js';
import { TcpConnPool } from './tcp_upstream.js';
import { upstreamProtocolFor } from './upstream_protocol.js';
import { UpstreamRequest, type GenericConnPool } from './upstream_request.js';
import { startShadowing, type RequestShadower } from './request_shadower.js';

/** Router settings and stats shared by every stream of one HCM (built once). */
export interface RouterConfig {
  readonly clusterManager: ClusterManager;
  /** `suppress_envoy_headers`: no x-envoy-upstream-service-time etc. */
  readonly suppressEnvoyHeaders: boolean;
  /** Honour x-envoy-upstream-rq-timeout-ms from the client. */
  readonly respectRequestTimeoutHeader: boolean;
  readonly stats: RouterStats;
  /** `http.<stat_prefix>.downstream_rq_max_duration_reached` (the HCM's counter; the router runs the timer). */
  readonly maxDurationReached: Counter;
}

export interface RouterStats {
  readonly no_route: Counter;
  readonly no_cluster: Counter;
  readonly rq_redirect: Counter;
  readonly rq_direct_response: Counter;
  readonly rq_total: Counter;
  readonly rq_reset_after_downstream_response_started: Counter;
}

const EMPTY_BODY = '';

/** Reset reason → the response flag Envoy records for it. */
export function resetReasonToResponseFlag(reason: StreamResetReason): number {
  switch (reason) {
    case StreamResetReason.ConnectionFailure:
    case StreamResetReason.ConnectionTimeout:
      return ResponseFlag.UpstreamConnectionFailure;
    case StreamResetReason.ConnectionTermination:
      return ResponseFlag.UpstreamConnectionTermination;
    case StreamResetReason.LocalReset:
      return ResponseFlag.LocalReset;
    case StreamResetReason.Overflow:
      return ResponseFlag.UpstreamOverflow;
    case StreamResetReason.ProtocolError:
      return ResponseFlag.UpstreamProtocolError;
    default:
      return ResponseFlag.UpstreamRemoteReset;
  }
}

export class RouterFilter implements StreamDecoderFilter, DownstreamWatermarkCallbacks, LoadBalancerContext {
  private cb!: StreamDecoderFilterCallbacks;
  private upstreamRequest: UpstreamRequest | null = null;
  private routeEntry: RouteEntry | null = null;
  private cluster: ThreadLocalCluster | null = null;
  private timeoutMs = 0;
  private timer: NodeJS.Timeout | null = null;
  private maxDurationTimer: NodeJS.Timeout | null = null;
  private grpcRequest = false;
  private downstreamResponseStarted = false;
  private downstreamEndStream = false;
  private requestHeaders: HeaderMap | null = null;
  private holdsRequestSlot = false;
  private done = false;
  private host: Host | null = null;
  /** The route terminates this CONNECT (or allow_post POST): the upstream is raw TCP. */
  private terminateConnect = false;
  /**
   * The request body so far, kept so a stream the upstream refused unprocessed
   * can be sent again (null once it outgrew the buffer limit, or for upgrades).
   */
  private retainedBody: Buffer[] | null = null;
  private retainedBytes = 0;
  private retainedTrailers: HeaderMap | null = null;
  /** The request was already sent again after a refused stream (at most once). */
  private sentAgain = false;
  /** Mirroring of this request (request_mirror_policies), or null. */
  private shadower: RequestShadower | null = null;

  constructor(private readonly config: RouterConfig) {}

  setDecoderFilterCallbacks(callbacks: StreamDecoderFilterCallbacks): void {
    this.cb = callbacks;
  }

  // ---- LoadBalancerContext ----
  computeHashKey(): bigint | null { return null; }
  downstreamHeaders(): HeaderMap | null { return this.requestHeaders; }
  shouldSelectAnotherHost(_host: Host): boolean { return false; }
  hostSelectionRetryCount(): number { return 0; }

  decodeHeaders(headers: HeaderMap, endStream: boolean): FilterHeadersStatus {
    const cb = this.cb;
    const si = cb.streamInfo;
    this.requestHeaders = headers;
    this.downstreamEndStream = endStream;
    this.config.stats.rq_total.inc();
    const route = cb.route();
    if (route === null) {
      this.config.stats.no_route.inc();
      si.setResponseFlag(ResponseFlag.NoRouteFound);
      cb.sendLocalReply(404, EMPTY_BODY, { details: 'route_not_found' });
      return FilterHeadersStatus.StopIteration;
    }
    const direct = route.directResponse;
    if (direct !== null) {
      this.config.stats.rq_direct_response.inc();
      const body = direct.body === null ? EMPTY_BODY : direct.body.toString('latin1');
      cb.sendLocalReply(direct.status, body, {
        details: 'direct_response',
        modifyHeaders: (h) => direct.finalizeResponseHeaders(h, si, headers),
      });
      return FilterHeadersStatus.StopIteration;
    }
    const redirect = route.redirect;
    if (redirect !== null) {
      this.config.stats.rq_redirect.inc();
      const location = redirect.newLocation(headers);
      cb.sendLocalReply(redirect.responseCode, EMPTY_BODY, {
        details: 'direct_response',
        modifyHeaders: (h) => { h.set('location', location); redirect.finalizeResponseHeaders(h, si, headers); },
      });
      return FilterHeadersStatus.StopIteration;
    }
    const entry = route.routeEntry!;
    this.routeEntry = entry;
    const clusterName = entry.clusterName(headers, (Math.random() * 0x80000000) >>> 0);
    const cluster = clusterName === null ? undefined : this.config.clusterManager.getThreadLocalCluster(clusterName);
    if (cluster === undefined) {
      this.config.stats.no_cluster.inc();
      si.setResponseFlag(ResponseFlag.NoClusterFound);
      cb.sendLocalReply(entry.clusterNotFoundResponseCode, EMPTY_BODY, { details: 'cluster_not_found' });
      return FilterHeadersStatus.StopIteration;
    }
    this.cluster = cluster;
    si.upstreamClusterName = cluster.info.name;
    this.grpcRequest = isGrpcRequestHeaders(headers);

    // Stream max duration (route max_stream_duration / grpc-timeout), counted from the stream start.
    const maxDuration = streamDurationTimeoutMs(entry, headers, this.grpcRequest);
    if (maxDuration !== null) {
      const left = Math.max(0, maxDuration - (performance.now() - si.startTimeMonotonic));
      this.maxDurationTimer = setTimeout(() => this.onDownstreamMaxStreamDuration(), left);
    }

    // Timeout: the route's (or gRPC's, under max_grpc_timeout), or the client's x-envoy-upstream-rq-timeout-ms when trusted.
    this.timeoutMs = routeGlobalTimeoutMs(entry, headers, this.grpcRequest);
    const hdrTimeout = headers.get('x-envoy-upstream-rq-timeout-ms');
    if (hdrTimeout !== undefined) {
      if (this.config.respectRequestTimeoutHeader) {
        const n = Number(hdrTimeout);
        if (Number.isInteger(n) && n >= 0) this.timeoutMs = n;
      }
      headers.remove('x-envoy-upstream-rq-timeout-ms');
    }

    const host = cluster.loadBalancer.chooseHost(this);
    if (host === null) {
      cluster.info.stats.upstream_cx_none_healthy.inc();
      si.setResponseFlag(ResponseFlag.NoHealthyUpstream);
      cb.sendLocalReply(503, 'no healthy upstream', { details: 'no_healthy_upstream' });
      return FilterHeadersStatus.StopIteration;
    }
    si.upstreamHost = host;
    this.host = host;
    const connect = entry.connectConfig;
    const method = headers.get(':method');
    this.terminateConnect = connect !== null && (method === 'CONNECT' || (connect.allowPost && method === 'POST'));

    const requests = cluster.info.resourceManager(0).requests;
    if (!requests.canCreate()) {
      cluster.info.stats.upstream_rq_pending_overflow.inc();
      this.sendOverflowReply();
      return FilterHeadersStatus.StopIteration;
    }
    requests.inc();
    this.holdsRequestSlot = true;

    // Header mutations in Envoy's order: route entry (incl. rewrites), then the weighted cluster's.
    entry.clusterHeaderMutations(cluster.info.name)?.finalizeRequestHeaders(headers, si);
    entry.finalizeRequestHeaders(headers, si);
    entry.rewriteRequest(headers, true);
    // The mirror copy is taken after the route's mutations, before auto_host_rewrite (as Envoy's).
    this.shadower = startShadowing(this.config, entry, headers, cluster.info, this.timeoutMs, cb.decoderBufferLimit(), si.protocol);
    if (entry.autoHostRewrite && host.hostname !== '') headers.set(':authority', host.hostname);
    if (this.timeoutMs > 0 && !this.config.suppressEnvoyHeaders) {
      headers.set('x-envoy-expected-rq-timeout-ms', String(this.timeoutMs));
    }
    setGrpcTimeoutHeader(entry, headers, this.grpcRequest, this.timeoutMs);

    cb.addDownstreamWatermarkCallbacks(this);
    si.attemptCount = 1;
    const pool = this.connPool(host);
    // Keep the body only where a refused stream can be sent again (HTTP/2), not on every HTTP/1 request.
    if (pool.protocol === 'http2' && cb.upgradeType === null) this.retainedBody = [];
    this.upstreamRequest = new UpstreamRequest(this, host, pool, headers, endStream);
    this.upstreamRequest.start();
    if (endStream && !this.done) this.onRequestComplete();
    if (endStream) this.shadower?.onRequestComplete(this.upstreamRequest !== null);
    return FilterHeadersStatus.StopIteration;
  }

  /** The pool for this request: TCP for a terminated CONNECT, else HTTP in the protocol the cluster picks. */
  private connPool(host: Host): GenericConnPool {
    if (this.terminateConnect) return new TcpConnPool(host);
    const cluster = this.cluster!;
    return cluster.httpConnPool(host, upstreamProtocolFor(cluster.info, this.cb.streamInfo.protocol));
  }

  decodeData(data: Buffer, endStream: boolean): FilterDataStatus {
    this.retain(data);
    if (this.upstreamRequest !== null) this.upstreamRequest.encodeData(data, endStream);
    this.shadower?.onData(data, endStream, this.upstreamRequest !== null);
    if (endStream) this.onRequestComplete();
    return FilterDataStatus.StopIterationNoBuffer;
  }

  decodeTrailers(trailers: HeaderMap): FilterTrailersStatus {
    if (this.retainedBody !== null) this.retainedTrailers = trailers;
    if (this.upstreamRequest !== null) this.upstreamRequest.encodeTrailers(trailers);
    this.shadower?.onTrailers(trailers, this.upstreamRequest !== null);
    this.onRequestComplete();
    return FilterTrailersStatus.StopIteration;
  }

  private retain(data: Buffer): void {
    if (this.retainedBody === null || data.length === 0) return;
    this.retainedBytes += data.length;
    if (this.retainedBytes > this.cluster!.info.perConnectionBufferLimitBytes) this.retainedBody = null;
    else this.retainedBody.push(data);
  }

  /**
   * The upstream refused the stream before processing it (HTTP/2 REFUSED_STREAM,
   * or a stream above a GOAWAY's last-stream-id): send the request once more on
   * a new stream, when no response started and the whole request so far is kept.
   * (Envoy itself does this only with `retry_on: refused-stream`; RFC 9113 §8.7
   * makes it safe for any method.)
   */
  private maySendAgain(reason: StreamResetReason): boolean {
    return reason === StreamResetReason.RemoteRefusedStreamReset && !this.sentAgain && !this.done
      && !this.downstreamResponseStarted && this.retainedBody !== null && this.host !== null;
  }

  private sendAgain(): void {
    this.sentAgain = true;
    const cluster = this.cluster!;
    const host = this.host!;
    cluster.info.stats.upstream_rq_retry.inc();
    this.cb.streamInfo.attemptCount++;
    const body = this.retainedBody!;
    const trailers = this.retainedTrailers;
    const ended = this.downstreamEndStream;
    const ur = new UpstreamRequest(this, host, this.connPool(host), this.requestHeaders!, ended && body.length === 0 && trailers === null);
    this.upstreamRequest = ur;
    ur.start();
    for (let i = 0; i < body.length && this.upstreamRequest === ur; i++) {
      ur.encodeData(body[i]!, ended && trailers === null && i === body.length - 1);
    }
    if (trailers !== null && this.upstreamRequest === ur) ur.encodeTrailers(trailers);
  }

  /** The whole request is upstream-bound: the route timeout starts now (Envoy's rule). */
  private onRequestComplete(): void {
    this.downstreamEndStream = true;
    if (this.timeoutMs > 0 && this.timer === null && this.upstreamRequest !== null && this.cb.upgradeType === null) {
      this.timer = setTimeout(() => this.onResponseTimeout(), this.timeoutMs);
    }
  }

  private onResponseTimeout(): void {
    this.timer = null;
    const ur = this.upstreamRequest;
    if (ur === null || this.done) return;
    const stats = this.cluster!.info.stats;
    stats.upstream_rq_timeout.inc();
    ur.host.stats.rq_timeout++;
    ur.resetStream();
    this.upstreamRequest = null;
    this.releaseRequest();
    if (this.downstreamResponseStarted) {
      this.config.stats.rq_reset_after_downstream_response_started.inc();
      this.cb.streamInfo.setResponseFlag(ResponseFlag.UpstreamRequestTimeout);
      this.cb.resetStream();
      return;
    }
    this.cb.streamInfo.setResponseFlag(ResponseFlag.UpstreamRequestTimeout);
    this.done = true;
    this.cb.sendLocalReply(504, 'upstream request timeout', { details: 'upstream_response_timeout' });
  }

  /** Route max_stream_duration elapsed (the HCM's onStreamMaxDurationReached in Envoy): 408 (504 once the request is in), gRPC DEADLINE_EXCEEDED. */
  private onDownstreamMaxStreamDuration(): void {
    this.maxDurationTimer = null;
    if (this.done && this.upstreamRequest === null) return;
    this.config.maxDurationReached.inc();
    const ur = this.upstreamRequest;
    this.upstreamRequest = null;
    this.clearTimer();
    ur?.resetStream();
    this.releaseRequest();
    this.done = true;
    const code = this.cb.streamInfo.lastDownstreamRxByteReceived !== null ? 504 : 408;
    // After the response started this resets the stream instead.
    this.cb.sendLocalReply(code, 'downstream duration timeout', { details: 'max_duration_timeout', grpcStatus: GrpcStatus.DeadlineExceeded });
  }

  private sendOverflowReply(): void {
    this.cb.streamInfo.setResponseFlag(ResponseFlag.UpstreamOverflow);
    this.cb.sendLocalReply(503, 'upstream connect error or disconnect/reset before headers. reset reason: overflow', {
      details: 'upstream_reset_before_response_started{overflow}',
      modifyHeaders: (h) => { if (!this.config.suppressEnvoyHeaders) h.set('x-envoy-overloaded', 'true'); },
    });
  }

  // ---- called by UpstreamRequest ----
  onPoolFailure(reason: PoolFailureReason, transportFailureReason: string): void {
    this.upstreamRequest = null;
    this.releaseRequest();
    if (reason === PoolFailureReason.Overflow) {
      this.sendOverflowReply();
      return;
    }
    const resetReason = reason === PoolFailureReason.Timeout ? StreamResetReason.ConnectionTimeout : StreamResetReason.ConnectionFailure;
    const text = reason === PoolFailureReason.Timeout ? 'connection timeout'
      : reason === PoolFailureReason.LocalConnectionFailure ? 'local connection failure' : 'remote connection failure';
    this.onUpstreamResetBeforeResponse(resetReason, text, transportFailureReason);
  }

  onUpstreamReset(reason: StreamResetReason, transportFailureReason: string): void {
    if (this.maySendAgain(reason)) {
      this.sendAgain();
      return;
    }
    this.upstreamRequest = null;
    this.releaseRequest();
    if (this.done) return;
    if (this.downstreamResponseStarted) {
      // Mid-response: the client sees its stream cut, with the reason in the flags.
      this.config.stats.rq_reset_after_downstream_response_started.inc();
      this.cb.streamInfo.setResponseFlag(resetReasonToResponseFlag(reason));
      this.done = true;
      this.cb.resetStream();
      return;
    }
    this.onUpstreamResetBeforeResponse(reason, reason, transportFailureReason);
  }

  private onUpstreamResetBeforeResponse(reason: StreamResetReason, text: string, transportFailureReason: string): void {
    if (this.done) return;
    this.done = true;
    this.clearTimer();
    const si = this.cb.streamInfo;
    si.setResponseFlag(resetReasonToResponseFlag(reason));
    if (transportFailureReason !== '') si.upstreamTransportFailureReason = transportFailureReason;
    const code = reason === StreamResetReason.ProtocolError ? 502 : 503;
    let body = `upstream connect error or disconnect/reset before headers. reset reason: ${text}`;
    if (transportFailureReason !== '') body += `, transport failure reason: ${transportFailureReason}`;
    const detailReason = text.replace(/ /g, '_') + (transportFailureReason !== '' ? `|${transportFailureReason.replace(/ /g, '_')}` : '');
    this.cb.sendLocalReply(code, body, { details: `upstream_reset_before_response_started{${detailReason}}` });
  }

  /** `max_stream_duration` of the cluster's upstream streams elapsed (Envoy's onStreamMaxDurationReached). */
  onStreamMaxDurationReached(): void {
    const ur = this.upstreamRequest;
    if (ur === null || this.done) return;
    this.cluster!.info.stats.upstream_rq_max_duration_reached.inc();
    ur.resetStream();
    this.upstreamRequest = null;
    this.releaseRequest();
    this.clearTimer();
    this.done = true;
    const si = this.cb.streamInfo;
    si.setResponseFlag(ResponseFlag.UpstreamMaxStreamDurationReached);
    if (this.downstreamResponseStarted) {
      this.config.stats.rq_reset_after_downstream_response_started.inc();
      this.cb.resetStream();
      return;
    }
    this.cb.sendLocalReply(this.downstreamEndStream ? 504 : 408, 'upstream max stream duration reached',
      { details: 'upstream_max_stream_duration_reached' });
  }

  onUpstreamConnected(upstreamLocalAddress: string): void {
    this.cb.streamInfo.upstreamLocalAddress = upstreamLocalAddress;
  }

  onUpstream1xxHeaders(headers: HeaderMap): void {
    // The connection manager already answered 100-continue itself; other 1xx pass through.
    if (headers.get(':status') === '100') return;
    this.cb.encode1xxHeaders(headers);
  }

  onUpstreamHeaders(headers: HeaderMap, endStream: boolean, serviceTimeMs: number): void {
    const cluster = this.cluster!;
    const status = Number(headers.get(':status'));
    const stats = cluster.info.stats;
    switch (Math.floor(status / 100)) {
      case 1: stats.upstream_rq_1xx.inc(); break;
      case 2: stats.upstream_rq_2xx.inc(); break;
      case 3: stats.upstream_rq_3xx.inc(); break;
      case 4: stats.upstream_rq_4xx.inc(); break;
      default: stats.upstream_rq_5xx.inc(); break;
    }
    stats.upstreamRqCode(status).inc();
    const si = this.cb.streamInfo;
    si.firstUpstreamRxByteReceived = performance.now();
    // Set before the response header mutations so %RESPONSE_CODE% sees it (as Envoy's router does).
    si.responseCode = status;
    if (!this.config.suppressEnvoyHeaders) headers.set('x-envoy-upstream-service-time', String(Math.round(serviceTimeMs)));
    const entry = this.routeEntry!;
    entry.clusterHeaderMutations(cluster.info.name)?.finalizeResponseHeaders(headers, si, this.requestHeaders);
    entry.finalizeResponseHeaders(headers, si, this.requestHeaders);
    this.downstreamResponseStarted = true;
    this.retainedBody = null; // a response started: the request is never sent again
    this.retainedTrailers = null;
    if (endStream) this.onUpstreamComplete();
    this.cb.encodeHeaders(headers, endStream, 'via_upstream');
  }

  onUpstreamData(data: Buffer, endStream: boolean): void {
    if (endStream) this.onUpstreamComplete();
    this.cb.encodeData(data, endStream);
  }

  onUpstreamTrailers(trailers: HeaderMap): void {
    this.onUpstreamComplete();
    this.cb.encodeTrailers(trailers);
  }

  private onUpstreamComplete(): void {
    const ur = this.upstreamRequest;
    this.cb.streamInfo.lastUpstreamRxByteReceived = performance.now();
    this.clearTimer();
    this.clearMaxDurationTimer();
    if (ur !== null) {
      this.cluster!.info.stats.upstream_rq_time.recordValue(ur.elapsedMs());
      ur.onComplete();
    }
    this.upstreamRequest = null;
    this.done = true;
    this.releaseRequest();
  }

  /** Upstream write buffer full: stop reading the downstream request. */
  onUpstreamAboveWriteBufferHighWatermark(): void { this.cb.onDecoderFilterAboveWriteBufferHighWatermark(); }
  onUpstreamBelowWriteBufferLowWatermark(): void { this.cb.onDecoderFilterBelowWriteBufferLowWatermark(); }

  // ---- DownstreamWatermarkCallbacks: the client is slow, so stop reading the upstream ----
  onAboveWriteBufferHighWatermark(): void {
    this.upstreamRequest?.readDisable(true);
  }
  onBelowWriteBufferLowWatermark(): void {
    this.upstreamRequest?.readDisable(false);
  }

  private clearTimer(): void {
    if (this.timer !== null) { clearTimeout(this.timer); this.timer = null; }
  }

  private clearMaxDurationTimer(): void {
    if (this.maxDurationTimer !== null) { clearTimeout(this.maxDurationTimer); this.maxDurationTimer = null; }
  }

  private releaseRequest(): void {
    if (this.holdsRequestSlot) {
      this.holdsRequestSlot = false;
      this.cluster!.info.resourceManager(0).requests.dec();
    }
  }

  onDestroy(): void {
    this.clearTimer();
    this.clearMaxDurationTimer();
    const ur = this.upstreamRequest;
    if (ur !== null) {
      // The client went away (or the stream was reset): nothing may leak upstream.
      this.upstreamRequest = null;
      ur.resetStream();
    }
    this.releaseRequest();
    this.cb.removeDownstreamWatermarkCallbacks(this);
  }
}
