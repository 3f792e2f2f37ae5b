/**
 * UpstreamRequest: one attempt of the router against one host, after Envoy's
 * `source/common/router/upstream_request.cc`. It waits for a pool stream,
 * buffers the request body meanwhile, then relays both directions. It owns
 * the attempt's per-try timers (`per_try_timeout`, started once the stream is
 * ready and the whole request is in; `per_try_idle_timeout`, restarted by
 * every response event) and tells the router which attempt an event is for,
 * since with hedging several can be in flight.
 */
import {
  StreamResetReason,
  type RequestEncoder,
  type ResponseDecoder,
  type StreamCallbacks,
} from '../envoy/http/codec.js';
import type { HeaderMap } from '../envoy/http/header_map.js';
import { PoolFailureReason, type Cancellable, type ConnectionPoolCallbacks } from '../envoy/upstream/cluster_manager.js';
import { OutlierResult } from '../envoy/upstream/outlier_detection.js';
import type { Host, UpstreamProtocol } from '../envoy/upstream/host.js';
import { outlierResponseCode } from './outlier_response_code.js';
import type { Timer } from '../envoy/common/time.js';
import { UnhealthyType } from '../envoy/upstream/health_checker.js';
import type { RouterFilter } from './router_filter.js';

/**
 * What an upstream request needs of a pool (Envoy's router GenericConnPool):
 * an HTTP connection pool, or the TCP pool of a terminated CONNECT.
 */
export interface GenericConnPool {
  /** The HTTP pools' protocol; only an HTTP/2 stream can be refused unprocessed and sent again. */
  readonly protocol?: UpstreamProtocol;
  newStream(decoder: ResponseDecoder, callbacks: ConnectionPoolCallbacks): Cancellable | null;
}

export class UpstreamRequest implements ResponseDecoder, StreamCallbacks, ConnectionPoolCallbacks {
  private encoder: RequestEncoder | null = null;
  private pending: Cancellable | null = null;
  private buffered: Buffer[] | null = null;
  private bufferedBytes = 0;
  private trailers: HeaderMap | null = null;
  private requestEnded: boolean;
  private startTime = 0;
  private sentTime = 0;
  private finished = false;
  private readDisabled = 0;
  private aboveWatermark = false;
  private active = false;
  private maxDurationTimer: NodeJS.Timeout | null = null;
  private perTryTimer: Timer | null = null;
  private perTryIdleTimer: Timer | null = null;
  /** The stream became ready before the request was complete: per-try timers start on completion. */
  createPerTryTimeoutOnRequestComplete = false;
  /** No response headers yet. */
  awaitingHeaders = true;
  /** A hedged attempt was started for this one after its per-try timeout: it is never retried itself. */
  retried = false;

  constructor(
    private readonly parent: RouterFilter,
    readonly host: Host,
    private readonly pool: GenericConnPool,
    private readonly headers: HeaderMap,
    endStream: boolean,
  ) {
    this.requestEnded = endStream;
  }

  start(): void {
    this.startTime = performance.now();
    this.pending = this.pool.newStream(this, this);
  }

  elapsedMs(): number { return performance.now() - this.startTime; }

  // ---- ConnectionPoolCallbacks ----
  onPoolReady(encoder: RequestEncoder, host: Host, upstreamLocalAddress: string): void {
    this.pending = null;
    if (this.finished) { encoder.getStream().resetStream(StreamResetReason.LocalReset); return; }
    this.encoder = encoder;
    this.active = true;
    host.outlierDetector?.putResult(OutlierResult.LocalOriginConnectSuccess);
    if (this.parent.downstreamEnded()) this.setupPerTryTimeout();
    else this.createPerTryTimeoutOnRequestComplete = true;
    const stats = host.cluster.stats;
    stats.upstream_rq_active.inc();
    host.activeRequests++; // the same number as host.stats.rq_active (HostImpl)
    host.stats.rq_total++;
    encoder.getStream().addCallbacks(this);
    this.parent.onUpstreamConnected(upstreamLocalAddress, this);
    const maxDuration = host.cluster.maxStreamDurationMs;
    if (maxDuration > 0) {
      this.maxDurationTimer = setTimeout(() => {
        this.maxDurationTimer = null;
        this.parent.onStreamMaxDurationReached(this);
      }, maxDuration);
    }
    for (let i = 0; i < this.readDisabled; i++) encoder.getStream().readDisable(true);
    this.sentTime = performance.now();
    const noBody = this.requestEnded && this.buffered === null && this.trailers === null;
    encoder.encodeHeaders(this.headers, noBody);
    if (this.buffered !== null) {
      const data = this.buffered.length === 1 ? this.buffered[0]! : Buffer.concat(this.buffered);
      this.buffered = null;
      this.bufferedBytes = 0;
      if (this.aboveWatermark) { this.aboveWatermark = false; this.parent.onUpstreamBelowWriteBufferLowWatermark(); }
      encoder.encodeData(data, this.requestEnded && this.trailers === null);
    }
    if (this.trailers !== null && this.encoder !== null) encoder.encodeTrailers(this.trailers);
  }

  onPoolFailure(reason: PoolFailureReason, transportFailureReason: string, _host: Host): void {
    this.pending = null;
    if (this.finished) return;
    this.finished = true;
    // An overflow is the cluster's own circuit breaker, not the host's fault (Envoy skips it too).
    if (reason !== PoolFailureReason.Overflow) this.host.outlierDetector?.putResult(OutlierResult.LocalOriginConnectFailed);
    this.parent.onPoolFailure(reason, transportFailureReason, this);
  }

  // ---- request body from the router ----
  encodeData(data: Buffer, endStream: boolean): void {
    if (endStream) this.requestEnded = true;
    if (this.encoder !== null) {
      this.encoder.encodeData(data, endStream);
      return;
    }
    if (data.length > 0) {
      (this.buffered ??= []).push(data);
      this.bufferedBytes += data.length;
      // Back-pressure while the pool has no stream yet: stop reading the client.
      if (!this.aboveWatermark && this.bufferedBytes > this.host.cluster.perConnectionBufferLimitBytes) {
        this.aboveWatermark = true;
        this.parent.onUpstreamAboveWriteBufferHighWatermark();
      }
    } else if (endStream) {
      (this.buffered ??= []).push(data);
    }
  }

  encodeTrailers(trailers: HeaderMap): void {
    this.requestEnded = true;
    if (this.encoder !== null) this.encoder.encodeTrailers(trailers);
    else this.trailers = trailers;
  }

  /** Some of the request reached the upstream (a stream was had and the headers sent). */
  requestStarted(): boolean { return this.encoder !== null; }

  /** The whole request was handed to the upstream stream. */
  encodeComplete(): boolean { return this.encoder !== null && this.requestEnded; }

  /** Starts `per_try_timeout` / `per_try_idle_timeout` (Envoy's setupPerTryTimeout). */
  setupPerTryTimeout(): void {
    this.createPerTryTimeoutOnRequestComplete = false;
    const perTry = this.parent.perTryTimeoutMs();
    if (perTry > 0 && this.perTryTimer === null) {
      this.perTryTimer = this.parent.timeSource.schedule(perTry, () => {
        this.perTryTimer = null;
        // Once the response started, only the global timeout applies.
        if (!this.finished && !this.parent.downstreamResponseHasStarted()) this.parent.onPerTryTimeout(this);
      });
    }
    this.resetPerTryIdleTimer();
  }

  private resetPerTryIdleTimer(): void {
    const idle = this.parent.perTryIdleTimeoutMs();
    if (idle <= 0 || this.finished) return;
    this.perTryIdleTimer?.cancel();
    this.perTryIdleTimer = this.parent.timeSource.schedule(idle, () => {
      this.perTryIdleTimer = null;
      if (this.finished) return;
      // The idle timeout ends this attempt; its per-try timeout must not fire as well.
      this.perTryTimer?.cancel();
      this.perTryTimer = null;
      this.parent.onPerTryIdleTimeout(this);
    });
  }

  readDisable(disable: boolean): void {
    if (disable) this.readDisabled++;
    else if (this.readDisabled > 0) this.readDisabled--;
    this.encoder?.getStream().readDisable(disable);
  }

  // ---- ResponseDecoder ----
  decode1xxHeaders(headers: HeaderMap): void {
    if (this.finished) return;
    this.resetPerTryIdleTimer();
    this.parent.onUpstream1xxHeaders(headers, this);
  }
  decodeHeaders(headers: HeaderMap, endStream: boolean): void {
    if (this.finished) return;
    this.resetPerTryIdleTimer();
    this.awaitingHeaders = false;
    const status = Number(headers.get(':status'));
    this.host.stats[status >= 500 ? 'rq_error' : 'rq_success']++;
    this.host.outlierDetector?.putHttpResponseCode(outlierResponseCode(headers, this.headers));
    // Envoy's router: the upstream asks to be taken out of rotation now (its active health checker fails it).
    if (headers.get('x-envoy-immediate-health-check-fail') !== undefined) this.host.healthChecker?.setUnhealthy(UnhealthyType.ImmediateHealthCheckFail);
    this.parent.onUpstreamHeaders(headers, endStream, performance.now() - this.sentTime, this);
  }
  decodeData(data: Buffer, endStream: boolean): void {
    if (this.finished) return;
    this.resetPerTryIdleTimer();
    this.parent.onUpstreamData(data, endStream, this);
  }
  decodeTrailers(trailers: HeaderMap): void {
    if (this.finished) return;
    this.parent.onUpstreamTrailers(trailers, this);
  }

  // ---- StreamCallbacks ----
  onResetStream(reason: StreamResetReason, transportFailureReason: string): void {
    if (this.finished) return;
    this.release();
    this.finished = true;
    this.host.cluster.stats.upstream_rq_rx_reset.inc();
    if (reason !== StreamResetReason.Overflow) this.host.outlierDetector?.putResult(OutlierResult.LocalOriginConnectFailed);
    this.parent.onUpstreamReset(reason, transportFailureReason, this);
  }
  onAboveWriteBufferHighWatermark(): void { this.parent.onUpstreamAboveWriteBufferHighWatermark(); }
  onBelowWriteBufferLowWatermark(): void { this.parent.onUpstreamBelowWriteBufferLowWatermark(); }

  /** The response finished normally. */
  onComplete(): void {
    this.finished = true;
    this.release();
    this.host.cluster.stats.upstream_rq_completed.inc();
  }

  /** Abandon this attempt (timeout, downstream gone). */
  resetStream(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.pending !== null) {
      this.pending.cancel();
      this.pending = null;
      this.host.cluster.stats.upstream_rq_cancelled.inc();
      return;
    }
    this.release();
    if (this.encoder !== null) {
      this.host.cluster.stats.upstream_rq_tx_reset.inc();
      const s = this.encoder.getStream();
      s.removeCallbacks(this);
      s.resetStream(StreamResetReason.LocalReset);
    }
  }

  private release(): void {
    if (this.maxDurationTimer !== null) { clearTimeout(this.maxDurationTimer); this.maxDurationTimer = null; }
    this.perTryTimer?.cancel();
    this.perTryTimer = null;
    this.perTryIdleTimer?.cancel();
    this.perTryIdleTimer = null;
    if (!this.active) return;
    this.active = false;
    this.host.cluster.stats.upstream_rq_active.dec();
    this.host.activeRequests--;
  }
}
