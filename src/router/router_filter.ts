/**
 * The router filter (`envoy.filters.http.router`), after Envoy's
 * `source/common/router/router.cc`: the terminal decoder filter that takes the
 * matched route to a cluster, picks a host, gets a stream from the host's
 * connection pool and proxies the request and response. Every way this can
 * fail ends in a local reply carrying a response flag (NR, NC, UH, UO, UF, UC,
 * UR, UT, UPE) and Envoy's reply body, so a 503 explains itself.
 *
 * Retries and hedging follow Envoy's router: a RetryStateImpl (built from the
 * route's retry_policy and the x-envoy-retry-* headers) decides after each
 * failed attempt; the router keeps the request body (up to
 * per_request_buffer_limit_bytes) to replay it, and with
 * hedge_on_per_try_timeout several attempts may be in flight, the first good
 * response winning. Without a retry policy an HTTP/2 stream the upstream
 * refused unprocessed is still sent once more (RFC 9113 §8.7).
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
import type { Host, ResourceLimit } from '../envoy/upstream/host.js';
import { OutlierResult } from '../envoy/upstream/outlier_detection.js';
import type { TimeSource } from '../envoy/common/time.js';
import { isGrpcRequestHeaders, GrpcStatus } from '../common/grpc/common.js';
import { realTimeSource } from '../common/real_time_source.js';
import { defaultRandom, type RandomGenerator } from '../common/random.js';
import { RetryHeaders, RetryStateImpl, RetryStatus, parseUnsigned } from './retry_state_impl.js';
import { routeGlobalTimeoutMs, setGrpcTimeoutHeader, streamDurationTimeoutMs } from './timeouts.js';
import { TcpConnPool } from './tcp_upstream.js';
import { upstreamProtocolFor } from './upstream_protocol.js';
import { UpstreamRequest, type GenericConnPool } from './upstream_request.js';
import { generatedCookieValue, makeSetCookieValue } from './hash_policy_impl.js';
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
  /** Clock of retry back-off and per-try timeouts (default: the real one). */
  readonly timeSource?: TimeSource;
  /** Randomness of the back-off jitter (default: Math.random). */
  readonly random?: RandomGenerator;
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
const ATTEMPT_COUNT = 'x-envoy-attempt-count';

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
  /** Attempts in flight (more than one only while hedging), oldest first. */
  private upstreamRequests: UpstreamRequest[] = [];
  /** The attempt whose response goes downstream. */
  private finalUpstreamRequest: UpstreamRequest | null = null;
  private routeEntry: RouteEntry | null = null;
  private cluster: ThreadLocalCluster | null = null;
  private timeoutMs = 0;
  private timer: NodeJS.Timeout | null = null;
  private maxDurationTimer: NodeJS.Timeout | null = null;
  private grpcRequest = false;
  private downstreamResponseStarted = false;
  private downstreamEndStream = false;
  private requestHeaders: HeaderMap | null = null;
  /** The `requests` circuit-breaker slot this stream holds (of the cluster first picked). */
  private requestSlot: ResourceLimit | null = null;
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
  /** Retry decisions; null when nothing can be retried. */
  private retryState: RetryStateImpl | null = null;
  /** Retries decided whose back-off has not fired yet. */
  private pendingRetries = 0;
  /** A retry (not the refused-stream resend) was made. */
  private isRetry = false;
  /** Some attempt sent (part of) the request upstream. */
  private upstreamRequestStarted = false;
  private hedgeOnPerTryTimeout = false;
  private perTryMs = 0;
  private perTryIdleMs = 0;
  /** How much request body may be kept for retries (per_request_buffer_limit_bytes / the connection's limit). */
  private retryShadowBufferLimit = Infinity;
  private requestCompleteTime: number | null = null;
  /** Downstream write-buffer pauses in force (new attempts start paused too). */
  private downstreamPaused = 0;
  readonly timeSource: TimeSource;
  private readonly random: RandomGenerator;
  /** Mirroring of this request (request_mirror_policies), or null. */
  private shadower: RequestShadower | null = null;

  constructor(private readonly config: RouterConfig) {
    this.timeSource = config.timeSource ?? realTimeSource;
    this.random = config.random ?? defaultRandom;
  }

  setDecoderFilterCallbacks(callbacks: StreamDecoderFilterCallbacks): void {
    this.cb = callbacks;
  }

  // ---- LoadBalancerContext ----
  /** The route's hash_policy result, computed once (undefined until asked): a generated cookie is set only once. */
  private hashKey: bigint | null | undefined = undefined;
  /** `Set-Cookie` values of generated hash cookies, added to the response headers. */
  private readonly downstreamSetCookies: string[] = [];

  computeHashKey(): bigint | null {
    if (this.hashKey !== undefined) return this.hashKey;
    const policy = this.routeEntry?.hashPolicy ?? null;
    const headers = this.requestHeaders;
    this.hashKey = policy === null || headers === null ? null
      : policy.generateHash(headers, this.cb.streamInfo, (name, path, ttlSeconds, attributes) => {
        const value = generatedCookieValue(this.cb.streamInfo);
        this.downstreamSetCookies.push(makeSetCookieValue(name, value, path, ttlSeconds, true, attributes));
        return value;
      });
    return this.hashKey;
  }
  downstreamHeaders(): HeaderMap | null { return this.requestHeaders; }
  shouldSelectAnotherHost(host: Host): boolean { return this.retryState?.shouldSelectAnotherHost(host) ?? false; }
  hostSelectionRetryCount(): number {
    return this.isRetry && this.retryState !== null ? this.retryState.hostSelectionMaxAttempts : 1;
  }

  // ---- read by UpstreamRequest ----
  downstreamEnded(): boolean { return this.downstreamEndStream; }
  downstreamResponseHasStarted(): boolean { return this.downstreamResponseStarted; }
  perTryTimeoutMs(): number { return this.perTryMs; }
  perTryIdleTimeoutMs(): number { return this.perTryIdleMs; }

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

    // Retries and hedging: RetryStateImpl::create, FilterUtility::finalHedgingParams and the per-try part of finalTimeout.
    this.retryState = RetryStateImpl.create(entry.retryPolicy, headers, cluster.info, this.timeSource, this.random);
    this.hedgeOnPerTryTimeout = entry.hedgeOnPerTryTimeout;
    const hedgeHdr = headers.get(RetryHeaders.HedgeOnPerTryTimeout);
    if (hedgeHdr !== undefined) {
      if (hedgeHdr === 'true') this.hedgeOnPerTryTimeout = true;
      else if (hedgeHdr === 'false') this.hedgeOnPerTryTimeout = false;
      headers.remove(RetryHeaders.HedgeOnPerTryTimeout);
    }
    this.perTryMs = entry.retryPolicy?.perTryTimeoutMs ?? 0;
    this.perTryIdleMs = entry.retryPolicy?.perTryIdleTimeoutMs ?? 0;
    const perTryHdr = headers.get(RetryHeaders.UpstreamRqPerTryTimeoutMs);
    if (perTryHdr !== undefined) {
      const n = parseUnsigned(perTryHdr);
      if (n !== null) this.perTryMs = n;
      headers.remove(RetryHeaders.UpstreamRqPerTryTimeoutMs);
    }
    // A per-try timeout at or beyond the global one is meaningless.
    if (this.timeoutMs > 0 && this.perTryMs >= this.timeoutMs) this.perTryMs = 0;
    const connLimit = cb.decoderBufferLimit() > 0 ? cb.decoderBufferLimit() : Infinity;
    this.retryShadowBufferLimit = Math.min(entry.retryShadowBufferLimit ?? Infinity, connLimit);

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

    const requests = cluster.info.resourceManager(entry.priority).requests;
    if (!requests.canCreate()) {
      cluster.info.stats.upstream_rq_pending_overflow.inc();
      this.sendOverflowReply();
      return FilterHeadersStatus.StopIteration;
    }
    requests.inc();
    this.requestSlot = requests;

    // Header mutations in Envoy's order: route entry (incl. rewrites), then the weighted cluster's.
    entry.clusterHeaderMutations(cluster.info.name)?.finalizeRequestHeaders(headers, si);
    entry.finalizeRequestHeaders(headers, si);
    entry.rewriteRequest(headers, true);
    // The mirror copy is taken after the route's mutations, before auto_host_rewrite (as Envoy's).
    this.shadower = startShadowing(this.config, entry, headers, cluster.info, this.timeoutMs, cb.decoderBufferLimit(), si.protocol);
    if (entry.autoHostRewrite && host.hostname !== '') headers.set(':authority', host.hostname);
    this.setTimeoutHeaders(0);
    if (entry.includeAttemptCountInRequest) headers.set(ATTEMPT_COUNT, '1');

    cb.addDownstreamWatermarkCallbacks(this);
    si.attemptCount = 1;
    const pool = this.connPool(host);
    if (cb.upgradeType !== null || this.terminateConnect) {
      // Upgrades and tunnels stream their body: they are never retried.
      this.retryState?.cleanup();
      this.retryState = null;
    } else if ((this.retryState !== null && this.retryState.enabled()) || pool.protocol === 'http2') {
      // Keep the body while a retry (or a refused HTTP/2 stream) may need to send it again.
      this.retainedBody = [];
    }
    this.startUpstreamRequest(host, pool, endStream);
    if (endStream && !this.done) this.onRequestComplete();
    if (endStream) this.shadower?.onRequestComplete(this.mainRequestInFlight());
    return FilterHeadersStatus.StopIteration;
  }

  /** Starts an attempt on `host` (Envoy: a new UpstreamRequest + acceptHeadersFromRouter). */
  private startUpstreamRequest(host: Host, pool: GenericConnPool, endStream: boolean): UpstreamRequest {
    this.host = host;
    this.cb.streamInfo.upstreamHost = host;
    this.retryState?.onHostAttempted(host);
    const ur = new UpstreamRequest(this, host, pool, this.requestHeaders!, endStream);
    for (let i = 0; i < this.downstreamPaused; i++) ur.readDisable(true);
    this.upstreamRequests.push(ur);
    ur.start();
    return ur;
  }

  /**
   * x-envoy-expected-rq-timeout-ms (and grpc-timeout under max_grpc_timeout):
   * the per-try timeout, or the global one when there is none or when
   * hedging, less the time since the request completed (FilterUtility::setTimeoutHeaders).
   */
  private setTimeoutHeaders(elapsedMs: number): void {
    const headers = this.requestHeaders!;
    const global = this.timeoutMs;
    let expected = this.perTryMs;
    if (this.hedgeOnPerTryTimeout || expected === 0) expected = global;
    if (expected <= 0) return;
    if (global > 0) expected = elapsedMs >= global ? 1 : Math.min(expected, global - elapsedMs);
    if (!this.config.suppressEnvoyHeaders) headers.set('x-envoy-expected-rq-timeout-ms', String(expected));
    setGrpcTimeoutHeader(this.routeEntry!, headers, this.grpcRequest, expected);
  }

  /** The pool for this request: TCP for a terminated CONNECT, else HTTP in the protocol the cluster picks. */
  private connPool(host: Host, cluster: ThreadLocalCluster = this.cluster!): GenericConnPool {
    if (this.terminateConnect) return new TcpConnPool(host);
    return cluster.httpConnPool(host, upstreamProtocolFor(cluster.info, this.cb.streamInfo.protocol), this.routeEntry!.priority);
  }

  /** The main request is still being tried (an attempt in flight, or a retry waiting): a mirror may go out. */
  private mainRequestInFlight(): boolean {
    return !this.done && (this.upstreamRequests.length > 0 || this.pendingRetries > 0);
  }

  decodeData(data: Buffer, endStream: boolean): FilterDataStatus {
    if (this.done) return FilterDataStatus.StopIterationNoBuffer;
    if (this.retryState !== null && this.retainedBody !== null && this.retainedBytes + data.length > this.retryShadowBufferLimit) {
      // The body outgrew the retry buffer: this request can no longer be retried.
      this.cluster!.info.stats.retry_or_shadow_abandoned.inc();
      this.retryState.cleanup();
      this.retryState = null;
      if (this.upstreamRequests.length === 0) {
        // The first attempt failed and the retry was waiting for its back-off: nothing is left to answer.
        this.pendingRetries = 0;
        this.cleanup();
        this.done = true;
        this.cb.sendLocalReply(507, 'exceeded request buffer limit while retrying upstream', {
          details: 'request_payload_exceeded_retry_buffer_limit', modifyHeaders: this.attemptCountHeader,
        });
        return FilterDataStatus.StopIterationNoBuffer;
      }
    }
    this.retain(data);
    const ur = this.upstreamRequests[this.upstreamRequests.length - 1];
    if (ur !== undefined) ur.encodeData(data, endStream);
    this.shadower?.onData(data, endStream, this.mainRequestInFlight());
    if (endStream) this.onRequestComplete();
    return FilterDataStatus.StopIterationNoBuffer;
  }

  decodeTrailers(trailers: HeaderMap): FilterTrailersStatus {
    if (this.done) return FilterTrailersStatus.StopIteration;
    if (this.retainedBody !== null) this.retainedTrailers = trailers;
    const ur = this.upstreamRequests[this.upstreamRequests.length - 1];
    if (ur !== undefined) ur.encodeTrailers(trailers);
    this.shadower?.onTrailers(trailers, this.mainRequestInFlight());
    this.onRequestComplete();
    return FilterTrailersStatus.StopIteration;
  }

  private retain(data: Buffer): void {
    if (this.retainedBody === null || data.length === 0) return;
    this.retainedBytes += data.length;
    // Under a retry policy the retry buffer limit applies; for the refused-stream resend alone, the cluster's buffer limit.
    const limit = this.retryState !== null ? this.retryShadowBufferLimit : this.cluster!.info.perConnectionBufferLimitBytes;
    if (this.retainedBytes > limit) this.retainedBody = null;
    else this.retainedBody.push(data);
  }

  /** x-envoy-attempt-count on the response, with the virtual host's include_attempt_count_in_response. */
  private readonly attemptCountHeader = (h: HeaderMap): void => {
    const n = this.cb.streamInfo.attemptCount;
    if (n > 0 && this.routeEntry?.includeAttemptCountInResponse === true) h.set(ATTEMPT_COUNT, String(n));
  };

  /**
   * The upstream refused the stream before processing it (HTTP/2 REFUSED_STREAM,
   * or a stream above a GOAWAY's last-stream-id): send the request once more on
   * a new stream, when no response started and the whole request so far is kept.
   * (Envoy itself does this only with `retry_on: refused-stream`; RFC 9113 §8.7
   * makes it safe for any method.)
   */
  private maySendAgain(reason: StreamResetReason): boolean {
    return reason === StreamResetReason.RemoteRefusedStreamReset && !this.sentAgain && !this.done
      && !this.downstreamResponseStarted && this.retainedBody !== null && this.host !== null
      && this.upstreamRequests.length === 0 && this.pendingRetries === 0
      // A retry policy that covers refused streams decides itself.
      && (this.retryState === null || !this.retryState.wouldRetryFromReset(reason, true));
  }

  private sendAgain(host: Host): void {
    this.sentAgain = true;
    this.cluster!.info.stats.upstream_rq_retry.inc();
    this.cb.streamInfo.attemptCount++;
    this.replayRequest(host, this.connPool(host));
  }

  /** Starts an attempt and sends it the request body and trailers received so far. */
  private replayRequest(host: Host, pool: GenericConnPool): void {
    const body = this.retainedBody ?? [];
    const trailers = this.retainedTrailers;
    const ended = this.downstreamEndStream;
    const ur = this.startUpstreamRequest(host, pool, ended && body.length === 0 && trailers === null);
    // An immediate failure may already have removed it.
    const current = (): boolean => this.upstreamRequests.includes(ur);
    for (let i = 0; i < body.length && current(); i++) {
      ur.encodeData(body[i]!, ended && trailers === null && i === body.length - 1);
    }
    if (trailers !== null && current()) ur.encodeTrailers(trailers);
  }

  /** The back-off of a retry elapsed: the next attempt (Envoy's Filter::doRetry). */
  private doRetry(): void {
    this.isRetry = true;
    this.pendingRetries--;
    const si = this.cb.streamInfo;
    si.attemptCount++;
    // The cluster may have been removed or replaced (CDS) during the back-off.
    const cluster = this.config.clusterManager.getThreadLocalCluster(this.cluster!.info.name);
    const host = cluster === undefined ? null : cluster.loadBalancer.chooseHost(this);
    if (cluster === undefined || host === null) {
      this.sendNoHealthyUpstreamResponse();
      return;
    }
    this.cluster = cluster;
    const entry = this.routeEntry!;
    const headers = this.requestHeaders!;
    if (entry.includeAttemptCountInRequest) headers.set(ATTEMPT_COUNT, String(si.attemptCount));
    if (entry.autoHostRewrite && host.hostname !== '') headers.set(':authority', host.hostname);
    const elapsed = this.requestCompleteTime === null ? 0 : Math.round(performance.now() - this.requestCompleteTime);
    this.setTimeoutHeaders(elapsed);
    this.replayRequest(host, this.connPool(host, cluster));
  }

  private sendNoHealthyUpstreamResponse(): void {
    this.cluster!.info.stats.upstream_cx_none_healthy.inc();
    for (const ur of this.upstreamRequests) ur.resetStream();
    this.upstreamRequests = [];
    this.pendingRetries = 0;
    this.cleanup();
    this.done = true;
    this.cb.streamInfo.setResponseFlag(ResponseFlag.NoHealthyUpstream);
    this.cb.sendLocalReply(503, 'no healthy upstream', { details: 'no_healthy_upstream', modifyHeaders: this.attemptCountHeader });
  }

  /**
   * After a failed attempt (already out of the list): retry if the policy
   * says so. Otherwise the response flag says why not (UO, URX).
   */
  private maybeRetryReset(reason: StreamResetReason, ur: UpstreamRequest): boolean {
    if (this.downstreamResponseStarted || this.retryState === null || ur.retried || this.done) return false;
    this.upstreamRequestStarted ||= ur.requestStarted();
    const status = this.retryState.shouldRetryReset(reason, this.upstreamRequestStarted, () => this.doRetry());
    if (status === RetryStatus.Yes) {
      this.pendingRetries++;
      ur.host.stats.rq_error++;
      return true;
    }
    this.flagRetryRefusal(status);
    return false;
  }

  private flagRetryRefusal(status: RetryStatus): void {
    if (status === RetryStatus.NoOverflow) this.cb.streamInfo.setResponseFlag(ResponseFlag.UpstreamOverflow);
    else if (status === RetryStatus.NoRetryLimitExceeded) this.cb.streamInfo.setResponseFlag(ResponseFlag.UpstreamRetryLimitExceeded);
  }

  private removeUpstreamRequest(ur: UpstreamRequest): void {
    const i = this.upstreamRequests.indexOf(ur);
    if (i >= 0) this.upstreamRequests.splice(i, 1);
  }

  /** Attempts still waiting for response headers, or retries waiting for their back-off. */
  private othersInFlight(): boolean {
    return this.pendingRetries > 0 || this.upstreamRequests.some((u) => u.awaitingHeaders);
  }

  /** The request is answered or abandoned: no more retries, no timer, the request slot back (Envoy's cleanup()). */
  private cleanup(): void {
    this.retryState?.cleanup();
    this.retryState = null;
    this.clearTimer();
    this.releaseRequest();
  }

  /** The whole request is upstream-bound: the route timeout starts now (Envoy's rule). */
  private onRequestComplete(): void {
    this.downstreamEndStream = true;
    this.requestCompleteTime = performance.now();
    const inFlight = this.upstreamRequests.length > 0 || this.pendingRetries > 0;
    if (this.timeoutMs > 0 && this.timer === null && inFlight && this.cb.upgradeType === null) {
      this.timer = setTimeout(() => this.onResponseTimeout(), this.timeoutMs);
    }
    for (const ur of this.upstreamRequests) if (ur.createPerTryTimeoutOnRequestComplete) ur.setupPerTryTimeout();
  }

  private onResponseTimeout(): void {
    this.timer = null;
    if (this.done) return;
    const stats = this.cluster!.info.stats;
    // Every attempt in flight timed out (none when a retry was waiting for its back-off).
    for (const ur of this.upstreamRequests) {
      stats.upstream_rq_timeout.inc();
      ur.host.stats.rq_timeout++;
      if (!this.downstreamResponseStarted) ur.host.outlierDetector?.putResult(OutlierResult.LocalOriginTimeout, 504); // Envoy: only while awaiting headers
      ur.resetStream();
    }
    this.upstreamRequests = [];
    this.onUpstreamTimeoutAbort('upstream_response_timeout');
  }

  /** 504 "upstream request timeout" with flag UT (or a reset once the response started). */
  private onUpstreamTimeoutAbort(details: string): void {
    this.pendingRetries = 0;
    this.cleanup();
    this.cb.streamInfo.setResponseFlag(ResponseFlag.UpstreamRequestTimeout);
    this.done = true;
    if (this.downstreamResponseStarted) {
      this.config.stats.rq_reset_after_downstream_response_started.inc();
      this.cb.resetStream();
      return;
    }
    this.cb.sendLocalReply(504, 'upstream request timeout', { details, modifyHeaders: this.attemptCountHeader });
  }

  // ---- per-try timeouts (called by UpstreamRequest) ----
  onPerTryTimeout(ur: UpstreamRequest): void {
    this.onPerTryTimeoutCommon(ur, this.cluster!.info.stats.upstream_rq_per_try_timeout, 'upstream_per_try_timeout');
  }

  onPerTryIdleTimeout(ur: UpstreamRequest): void {
    this.onPerTryTimeoutCommon(ur, this.cluster!.info.stats.upstream_rq_per_try_idle_timeout, 'upstream_per_try_idle_timeout');
  }

  private onPerTryTimeoutCommon(ur: UpstreamRequest, counter: Counter, details: string): void {
    if (this.done) return;
    // Envoy reports a per-try timeout to the host's outlier detector once, while awaiting headers.
    if (!this.downstreamResponseStarted) ur.host.outlierDetector?.putResult(OutlierResult.LocalOriginTimeout, 504);
    if (this.hedgeOnPerTryTimeout) {
      this.onSoftPerTryTimeout(ur);
      return;
    }
    counter.inc();
    ur.host.stats.rq_timeout++;
    ur.resetStream();
    this.removeUpstreamRequest(ur);
    // A per-try timeout is retried like a reset (5xx, gateway-error, reset).
    if (this.maybeRetryReset(StreamResetReason.LocalReset, ur)) return;
    this.onUpstreamTimeoutAbort(details);
  }

  /** Hedging: the timed-out attempt keeps going and another one starts beside it. */
  private onSoftPerTryTimeout(ur: UpstreamRequest): void {
    if (this.downstreamResponseStarted || this.retryState === null || !this.retryState.enabled()) return;
    const status = this.retryState.shouldHedgeRetryPerTryTimeout(() => this.doRetry());
    if (status === RetryStatus.Yes) {
      this.pendingRetries++;
      ur.retried = true;
    } else {
      this.flagRetryRefusal(status);
    }
  }

  /** Route max_stream_duration elapsed (the HCM's onStreamMaxDurationReached in Envoy): 408 (504 once the request is in), gRPC DEADLINE_EXCEEDED. */
  private onDownstreamMaxStreamDuration(): void {
    this.maxDurationTimer = null;
    if (this.done && this.upstreamRequests.length === 0) return;
    this.config.maxDurationReached.inc();
    const urs = this.upstreamRequests;
    this.upstreamRequests = [];
    for (const ur of urs) ur.resetStream();
    this.pendingRetries = 0;
    this.cleanup();
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
  onPoolFailure(reason: PoolFailureReason, transportFailureReason: string, ur: UpstreamRequest): void {
    if (reason === PoolFailureReason.Overflow) {
      // A circuit breaker: never retried.
      this.removeUpstreamRequest(ur);
      if (this.done || this.othersInFlight()) return;
      this.cleanup();
      this.done = true;
      this.sendOverflowReply();
      return;
    }
    const resetReason = reason === PoolFailureReason.Timeout ? StreamResetReason.ConnectionTimeout : StreamResetReason.ConnectionFailure;
    const text = reason === PoolFailureReason.Timeout ? 'connection timeout'
      : reason === PoolFailureReason.LocalConnectionFailure ? 'local connection failure' : 'remote connection failure';
    this.onUpstreamFailure(resetReason, text, transportFailureReason, ur);
  }

  onUpstreamReset(reason: StreamResetReason, transportFailureReason: string, ur: UpstreamRequest): void {
    this.onUpstreamFailure(reason, reason, transportFailureReason, ur);
  }

  /** An attempt failed: retry it, send a refused stream again, wait for the other attempts, or answer. */
  private onUpstreamFailure(reason: StreamResetReason, text: string, transportFailureReason: string, ur: UpstreamRequest): void {
    this.removeUpstreamRequest(ur);
    if (this.done) return;
    if (this.downstreamResponseStarted) {
      // Mid-response: the client sees its stream cut, with the reason in the flags.
      this.config.stats.rq_reset_after_downstream_response_started.inc();
      this.cb.streamInfo.setResponseFlag(resetReasonToResponseFlag(reason));
      this.done = true;
      this.cleanup();
      this.cb.resetStream();
      return;
    }
    if (this.maybeRetryReset(reason, ur)) return;
    if (this.maySendAgain(reason)) {
      this.sendAgain(ur.host);
      return;
    }
    // Another attempt (hedging) or a scheduled retry may still answer.
    if (this.othersInFlight()) return;
    this.onUpstreamResetBeforeResponse(reason, text, transportFailureReason);
  }

  private onUpstreamResetBeforeResponse(reason: StreamResetReason, text: string, transportFailureReason: string): void {
    if (this.done) return;
    this.done = true;
    this.cleanup();
    const si = this.cb.streamInfo;
    si.setResponseFlag(resetReasonToResponseFlag(reason));
    if (transportFailureReason !== '') si.upstreamTransportFailureReason = transportFailureReason;
    const code = reason === StreamResetReason.ProtocolError ? 502 : 503;
    const retried = this.isRetry ? 'retried and the latest ' : '';
    let body = `upstream connect error or disconnect/reset before headers. ${retried}reset reason: ${text}`;
    if (transportFailureReason !== '') body += `, transport failure reason: ${transportFailureReason}`;
    const detailReason = text.replace(/ /g, '_') + (transportFailureReason !== '' ? `|${transportFailureReason.replace(/ /g, '_')}` : '');
    this.cb.sendLocalReply(code, body, {
      details: `upstream_reset_before_response_started{${detailReason}}`, modifyHeaders: this.attemptCountHeader,
    });
  }

  /** `max_stream_duration` of the cluster's upstream streams elapsed (Envoy's onStreamMaxDurationReached). */
  onStreamMaxDurationReached(ur: UpstreamRequest): void {
    if (this.done) return;
    this.cluster!.info.stats.upstream_rq_max_duration_reached.inc();
    ur.resetStream();
    this.removeUpstreamRequest(ur);
    if (this.maybeRetryReset(StreamResetReason.LocalReset, ur)) return;
    for (const other of this.upstreamRequests) other.resetStream();
    this.upstreamRequests = [];
    this.pendingRetries = 0;
    this.cleanup();
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

  onUpstreamConnected(upstreamLocalAddress: string, _ur: UpstreamRequest): void {
    this.cb.streamInfo.upstreamLocalAddress = upstreamLocalAddress;
  }

  onUpstream1xxHeaders(headers: HeaderMap, _ur: UpstreamRequest): void {
    // The connection manager already answered 100-continue itself; other 1xx pass through.
    if (headers.get(':status') === '100') return;
    this.cb.encode1xxHeaders(headers);
  }

  onUpstreamHeaders(headers: HeaderMap, endStream: boolean, serviceTimeMs: number, ur: UpstreamRequest): void {
    if (this.done) return;
    let couldNotRetry = false;
    if (this.retryState !== null) {
      if (ur.retried) {
        // A hedged attempt already runs for this one: a bad answer here is only dropped.
        couldNotRetry = this.retryState.wouldRetryFromHeaders(headers);
      } else {
        const retry = this.retryState.shouldRetryHeaders(headers, () => this.doRetry());
        if (retry === RetryStatus.Yes) {
          this.pendingRetries++;
          // Not interested in the rest of this response.
          if (!endStream || !ur.encodeComplete()) ur.resetStream();
          else ur.onComplete();
          this.removeUpstreamRequest(ur);
          return;
        }
        if (retry !== RetryStatus.No) {
          this.flagRetryRefusal(retry);
          couldNotRetry = true;
        }
      }
    }
    if (couldNotRetry && this.othersInFlight()) {
      // A bad answer while another attempt (or a scheduled retry) may still bring a good one.
      ur.resetStream();
      this.removeUpstreamRequest(ur);
      return;
    }
    // This response goes downstream: no more retries, and the other attempts are cancelled.
    this.retryState?.cleanup();
    this.retryState = null;
    this.pendingRetries = 0;
    this.finalUpstreamRequest = ur;
    for (const other of this.upstreamRequests) if (other !== ur) other.resetStream();
    this.upstreamRequests = [ur];
    this.host = ur.host;
    this.cb.streamInfo.upstreamHost = ur.host;

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
    this.attemptCountHeader(headers);
    this.downstreamResponseStarted = true;
    this.retainedBody = null; // a response started: the request is never sent again
    this.retainedTrailers = null;
    for (const cookie of this.downstreamSetCookies) headers.add('set-cookie', cookie);
    if (endStream) this.onUpstreamComplete(ur);
    this.cb.encodeHeaders(headers, endStream, 'via_upstream');
  }

  onUpstreamData(data: Buffer, endStream: boolean, ur: UpstreamRequest): void {
    if (ur !== this.finalUpstreamRequest) return;
    if (endStream) this.onUpstreamComplete(ur);
    this.cb.encodeData(data, endStream);
  }

  onUpstreamTrailers(trailers: HeaderMap, ur: UpstreamRequest): void {
    if (ur !== this.finalUpstreamRequest) return;
    this.onUpstreamComplete(ur);
    this.cb.encodeTrailers(trailers);
  }

  private onUpstreamComplete(ur: UpstreamRequest): void {
    this.cb.streamInfo.lastUpstreamRxByteReceived = performance.now();
    this.clearTimer();
    this.clearMaxDurationTimer();
    this.cluster!.info.stats.upstream_rq_time.recordValue(ur.elapsedMs());
    ur.onComplete();
    this.upstreamRequests = [];
    this.done = true;
    this.releaseRequest();
  }

  /** Upstream write buffer full: stop reading the downstream request. */
  onUpstreamAboveWriteBufferHighWatermark(): void { this.cb.onDecoderFilterAboveWriteBufferHighWatermark(); }
  onUpstreamBelowWriteBufferLowWatermark(): void { this.cb.onDecoderFilterBelowWriteBufferLowWatermark(); }

  // ---- DownstreamWatermarkCallbacks: the client is slow, so stop reading the upstream ----
  onAboveWriteBufferHighWatermark(): void {
    this.downstreamPaused++;
    for (const ur of this.upstreamRequests) ur.readDisable(true);
  }
  onBelowWriteBufferLowWatermark(): void {
    if (this.downstreamPaused > 0) this.downstreamPaused--;
    for (const ur of this.upstreamRequests) ur.readDisable(false);
  }

  private clearTimer(): void {
    if (this.timer !== null) { clearTimeout(this.timer); this.timer = null; }
  }

  private clearMaxDurationTimer(): void {
    if (this.maxDurationTimer !== null) { clearTimeout(this.maxDurationTimer); this.maxDurationTimer = null; }
  }

  private releaseRequest(): void {
    if (this.requestSlot !== null) {
      this.requestSlot.dec();
      this.requestSlot = null;
    }
  }

  onDestroy(): void {
    this.clearTimer();
    this.clearMaxDurationTimer();
    // The client went away (or the stream was reset): nothing may leak upstream, no retry may start.
    const urs = this.upstreamRequests;
    this.upstreamRequests = [];
    for (const ur of urs) ur.resetStream();
    this.pendingRetries = 0;
    this.retryState?.cleanup();
    this.retryState = null;
    this.releaseRequest();
    this.cb.removeDownstreamWatermarkCallbacks(this);
  }
}
