/**
 * HttpAsyncClientImpl: a whole-message HTTP request to one cluster of the
 * cluster manager, after Envoy's `Http::AsyncClientImpl::send`
 * (source/common/http/async_client_impl.cc). Envoy runs such a request through
 * its own router filter; here the same steps are done directly:
 *
 *   send(message)  host from the cluster's load balancer → the cluster's
 *                  `requests` circuit breaker → a stream from the host's pool
 *                  (HTTP/1.1 or HTTP/2, as the cluster speaks) → headers, body,
 *                  trailers
 *   response       onSuccess(response) once, with the status and headers (and
 *                  the body unless `discardResponseBody`)
 *   local replies  like the router's, also through onSuccess: 503 when no host
 *                  is healthy, the circuit breaker overflows, the connection
 *                  fails or the stream is reset before the headers; 504 when
 *                  `timeoutMs` elapses first
 *   onFailure      only a reset after the response headers arrived
 *   cancel()       resets the stream; no callback follows
 *
 * Stats as the router charges them on the cluster: upstream_rq_<code> and
 * upstream_rq_<N>xx, upstream_rq_completed, upstream_rq_time,
 * upstream_rq_timeout, upstream_rq_pending_overflow, upstream_cx_none_healthy,
 * upstream_rq_active (the pool counts upstream_rq_total).
 */
import type { TimeSource, Timer } from '../envoy/common/time.js';
import { StreamResetReason, type RequestEncoder, type ResponseDecoder, type StreamCallbacks } from '../envoy/http/codec.js';
import type { HeaderMap } from '../envoy/http/header_map.js';
import type { Cancellable, ConnectionPoolCallbacks, PoolFailureReason, ThreadLocalCluster } from '../envoy/upstream/cluster_manager.js';
import type { Host, UpstreamProtocol } from '../envoy/upstream/host.js';
import { HeaderMapImpl } from '../http/codec/header_map_impl.js';
import { realTimeSource } from '../common/real_time_source.js';

/** A request or response as one message (Envoy's Http::RequestMessage / ResponseMessage). */
export interface HttpMessage {
  readonly headers: HeaderMap;
  /** Empty for none. */
  readonly body: Buffer;
  readonly trailers: HeaderMap | null;
}

export interface HttpAsyncRequestCallbacks {
  /** A response (from the upstream, or a local 503/504) arrived in full. */
  onSuccess(response: HttpMessage): void;
  /** The stream was reset after the response headers arrived. */
  onFailure(reason: StreamResetReason): void;
}

export interface HttpAsyncRequestOptions {
  /** Whole-request timeout in ms from send(); 0 or unset = none. */
  readonly timeoutMs?: number;
  /** Drop the response body as it arrives (shadows, fire-and-forget). */
  readonly discardResponseBody?: boolean;
  /** The protocol to speak; defaults to the cluster's configured one. */
  readonly protocol?: UpstreamProtocol;
}

/** An in-flight request. */
export interface HttpAsyncRequest {
  /** Resets the request; no callback follows. */
  cancel(): void;
}

export class HttpAsyncClientImpl {
  constructor(private readonly cluster: ThreadLocalCluster, private readonly timeSource: TimeSource = realTimeSource) {}

  /** Sends `request`; callbacks may fire before this returns (no healthy host, overflow). */
  send(request: HttpMessage, callbacks: HttpAsyncRequestCallbacks, options: HttpAsyncRequestOptions = {}): HttpAsyncRequest {
    const r = new AsyncRequestImpl(this.cluster, request, callbacks, options, this.timeSource);
    r.start();
    return r;
  }
}

class AsyncRequestImpl implements HttpAsyncRequest, ResponseDecoder, StreamCallbacks, ConnectionPoolCallbacks {
  private encoder: RequestEncoder | null = null;
  private pending: Cancellable | null = null;
  private timer: Timer | null = null;
  private finished = false;
  private holdsRequestSlot = false;
  private active = false;
  private host: Host | null = null;
  private startMs = 0;
  private responseHeaders: HeaderMap | null = null;
  private readonly responseBody: Buffer[] = [];

  constructor(
    private readonly cluster: ThreadLocalCluster,
    private readonly request: HttpMessage,
    private readonly callbacks: HttpAsyncRequestCallbacks,
    private readonly options: HttpAsyncRequestOptions,
    private readonly timeSource: TimeSource,
  ) {}

  start(): void {
    const info = this.cluster.info;
    this.startMs = this.timeSource.monotonicMs();
    const host = this.cluster.loadBalancer.chooseHost(null);
    if (host === null) {
      info.stats.upstream_cx_none_healthy.inc();
      this.localReply(503, 'no healthy upstream');
      return;
    }
    this.host = host;
    const requests = info.resourceManager(0).requests;
    if (!requests.canCreate()) {
      info.stats.upstream_rq_pending_overflow.inc();
      this.localReply(503, 'upstream connect error or disconnect/reset before headers. reset reason: overflow', true);
      return;
    }
    requests.inc();
    this.holdsRequestSlot = true;
    const timeoutMs = this.options.timeoutMs ?? 0;
    if (timeoutMs > 0) this.timer = this.timeSource.schedule(timeoutMs, () => this.onTimeout());
    const pool = this.cluster.httpConnPool(host, this.options.protocol ?? info.upstreamProtocol);
    this.pending = pool.newStream(this, this);
  }

  cancel(): void {
    if (this.finished) return;
    this.finish();
    this.resetUpstream();
  }

  // ---- ConnectionPoolCallbacks ----

  onPoolReady(encoder: RequestEncoder, host: Host): void {
    this.pending = null;
    if (this.finished) {
      encoder.getStream().resetStream(StreamResetReason.LocalReset);
      return;
    }
    this.encoder = encoder;
    this.active = true;
    host.cluster.stats.upstream_rq_active.inc();
    host.activeRequests++;
    host.stats.rq_total++;
    encoder.getStream().addCallbacks(this);
    const { headers, body, trailers } = this.request;
    encoder.encodeHeaders(headers, body.length === 0 && trailers === null);
    if (this.encoder !== null && body.length > 0) encoder.encodeData(body, trailers === null);
    if (this.encoder !== null && trailers !== null) encoder.encodeTrailers(trailers);
  }

  onPoolFailure(reason: PoolFailureReason, transportFailureReason: string): void {
    this.pending = null;
    if (this.finished) return;
    let body = `upstream connect error or disconnect/reset before headers. reset reason: ${reason}`;
    if (transportFailureReason !== '') body += `, transport failure reason: ${transportFailureReason}`;
    this.localReply(503, body, reason === 'overflow');
  }

  // ---- ResponseDecoder ----

  decode1xxHeaders(): void {}

  decodeHeaders(headers: HeaderMap, endStream: boolean): void {
    if (this.finished) return;
    this.responseHeaders = headers;
    const status = Number(headers.get(':status'));
    this.chargeStatus(status);
    if (this.host !== null) this.host.stats[status >= 500 ? 'rq_error' : 'rq_success']++;
    if (endStream) this.complete(null);
  }

  decodeData(data: Buffer, endStream: boolean): void {
    if (this.finished) return;
    if (!this.options.discardResponseBody && data.length > 0) this.responseBody.push(data);
    if (endStream) this.complete(null);
  }

  decodeTrailers(trailers: HeaderMap): void {
    if (this.finished) return;
    this.complete(trailers);
  }

  // ---- StreamCallbacks ----

  onResetStream(reason: StreamResetReason, transportFailureReason: string): void {
    if (this.finished) return;
    this.encoder = null;
    this.release();
    this.cluster.info.stats.upstream_rq_rx_reset.inc();
    if (this.responseHeaders !== null) {
      this.finish();
      this.callbacks.onFailure(reason);
      return;
    }
    let body = `upstream connect error or disconnect/reset before headers. reset reason: ${reason}`;
    if (transportFailureReason !== '') body += `, transport failure reason: ${transportFailureReason}`;
    this.localReply(reason === StreamResetReason.ProtocolError ? 502 : 503, body);
  }

  onAboveWriteBufferHighWatermark(): void {}
  onBelowWriteBufferLowWatermark(): void {}

  // ---- internals ----

  private onTimeout(): void {
    this.timer = null;
    if (this.finished) return;
    const stats = this.cluster.info.stats;
    stats.upstream_rq_timeout.inc();
    if (this.host !== null) this.host.stats.rq_timeout++;
    if (this.responseHeaders !== null) {
      // The response started: the stream is cut, as the router resets a downstream mid-response.
      this.finish();
      this.resetUpstream();
      this.callbacks.onFailure(StreamResetReason.LocalReset);
      return;
    }
    this.resetUpstream();
    this.localReply(504, 'upstream request timeout');
  }

  private complete(trailers: HeaderMap | null): void {
    const stats = this.cluster.info.stats;
    stats.upstream_rq_completed.inc();
    stats.upstream_rq_time.recordValue(this.timeSource.monotonicMs() - this.startMs);
    const encoder = this.encoder;
    this.encoder = null;
    encoder?.getStream().removeCallbacks(this);
    this.finish();
    const body = this.responseBody.length === 1 ? this.responseBody[0]! : Buffer.concat(this.responseBody);
    this.callbacks.onSuccess({ headers: this.responseHeaders!, body, trailers });
  }

  /** A reply made here (no upstream response): charged like the router charges its local replies. */
  private localReply(status: number, body: string, overloaded = false): void {
    this.finish();
    const headers = HeaderMapImpl.fromPairs([[':status', String(status)], ['content-type', 'text/plain']]);
    if (overloaded) headers.set('x-envoy-overloaded', 'true');
    this.chargeStatus(status);
    this.callbacks.onSuccess({ headers, body: Buffer.from(body), trailers: null });
  }

  private chargeStatus(status: number): void {
    const stats = this.cluster.info.stats;
    switch (Math.floor(status / 100)) {
      case 1: stats.upstream_rq_1xx.inc(); break;
      case 2: stats.upstream_rq_2xx.inc(); break;
      case 3: stats.upstream_rq_3xx.inc(); break;
      case 4: stats.upstream_rq_4xx.inc(); break;
      default: stats.upstream_rq_5xx.inc(); break;
    }
    stats.upstreamRqCode(status).inc();
  }

  /** Marks the request done: no callback after this; frees the timer, slot and active counts. */
  private finish(): void {
    this.finished = true;
    this.timer?.cancel();
    this.timer = null;
    this.release();
    if (this.holdsRequestSlot) {
      this.holdsRequestSlot = false;
      this.cluster.info.resourceManager(0).requests.dec();
    }
  }

  private release(): void {
    if (!this.active) return;
    this.active = false;
    this.cluster.info.stats.upstream_rq_active.dec();
    this.host!.activeRequests--;
  }

  private resetUpstream(): void {
    if (this.pending !== null) {
      this.pending.cancel();
      this.pending = null;
      this.cluster.info.stats.upstream_rq_cancelled.inc();
      return;
    }
    const encoder = this.encoder;
    this.encoder = null;
    if (encoder !== null) {
      this.cluster.info.stats.upstream_rq_tx_reset.inc();
      const s = encoder.getStream();
      s.removeCallbacks(this);
      s.resetStream(StreamResetReason.LocalReset);
    }
  }
}
