/**
 * EnvoyGrpcAsyncClient: gRPC to a cluster of Legate's own cluster manager
 * (`envoy_grpc`), after Envoy's `Grpc::AsyncClientImpl` / `AsyncStreamImpl`
 * (source/common/grpc/async_client_impl.cc). The xDS client runs on it, so a
 * control plane is reached with the cluster's own settings: its endpoints,
 * load balancer, HTTP/2 options and TLS transport socket.
 *
 * A stream (GrpcStream):
 *
 *   start()         host from the cluster's load balancer → HTTP/2 pool → stream;
 *                   POST <path>, content-type application/grpc, te: trailers
 *   sendMessage(b)  one length-prefixed gRPC message (queued until the stream is up)
 *   messages in     onReceiveMessage(payload) per complete message
 *   end             onRemoteClose(grpc-status, grpc-message) exactly once: from the
 *                   trailers (or a trailers-only reply), a non-200 reply, a reset,
 *                   or a failure to get a stream at all (UNAVAILABLE)
 *   close()         resets the stream; no callback follows
 */
import { StreamResetReason, type RequestEncoder, type ResponseDecoder, type StreamCallbacks } from '../../envoy/http/codec.js';
import type { HeaderMap } from '../../envoy/http/header_map.js';
import {
  PoolFailureReason,
  type Cancellable,
  type ClusterManager,
  type ConnectionPoolCallbacks,
} from '../../envoy/upstream/cluster_manager.js';
import type { Host } from '../../envoy/upstream/host.js';
import { HeaderMapImpl } from '../../http/codec/header_map_impl.js';
import { GrpcFrameDecoder, GRPC_FRAME_HEADER_SIZE, encodeGrpcFrame } from '../../common/grpc/codec.js';
import { GrpcStatus } from '../../common/grpc/common.js';
import type { GrpcAsyncClient, GrpcAsyncStream, GrpcAsyncStreamCallbacks, GrpcStreamOptions } from '../../envoy/grpc/async_client.js';

/** The `envoy_grpc` client for one cluster. */
export class EnvoyGrpcAsyncClient implements GrpcAsyncClient {
  constructor(private readonly clusterManager: ClusterManager, readonly clusterName: string, private readonly authority = clusterName) {}

  startStream(methodPath: string, callbacks: GrpcAsyncStreamCallbacks, options: GrpcStreamOptions = {}): GrpcAsyncStream {
    const stream = new GrpcStream(this.clusterManager, this.clusterName, methodPath, callbacks, { ...options, authority: this.authority });
    // Started on the next tick so even an immediate failure (no cluster, no host) reaches a caller that holds the stream.
    queueMicrotask(() => stream.start());
    return stream;
  }
}

const DEFAULT_MAX_RECEIVE = 64 * 1024 * 1024;

export class GrpcStream implements GrpcAsyncStream, ResponseDecoder, StreamCallbacks, ConnectionPoolCallbacks {
  private encoder: RequestEncoder | null = null;
  private pending: Cancellable | null = null;
  private queued: Buffer[] = [];
  private closed = false;
  private readonly frames = new GrpcFrameDecoder();
  private responseStatus: number | null = null;
  /** closeStream() was called: our side ends (now, or once the stream is up). */
  private localEnd = false;
  /** END_STREAM has gone out on our side. */
  private localEndSent = false;

  constructor(
    private readonly clusterManager: ClusterManager,
    readonly clusterName: string,
    /** `/package.Service/Method`. */
    private readonly path: string,
    private readonly callbacks: GrpcAsyncStreamCallbacks,
    private readonly options: GrpcStreamOptions & { authority?: string } = {},
  ) {}

  start(): void {
    if (this.closed) return;
    const cluster = this.clusterManager.getThreadLocalCluster(this.clusterName);
    if (cluster === undefined) return this.remoteClose(GrpcStatus.Unavailable, `cluster ${this.clusterName} not found`);
    const host = cluster.loadBalancer.chooseHost(null);
    if (host === null) return this.remoteClose(GrpcStatus.Unavailable, `no healthy host in cluster ${this.clusterName}`);
    const pool = cluster.httpConnPool(host, 'http2');
    this.pending = pool.newStream(this, this);
  }

  sendMessage(payload: Buffer): void {
    if (this.closed || this.localEnd) return;
    const frame = encodeGrpcFrame(payload);
    if (this.encoder === null) this.queued.push(frame);
    else this.encoder.encodeData(frame, false);
  }

  closeStream(): void {
    if (this.closed || this.localEnd) return;
    this.localEnd = true;
    if (this.encoder !== null) this.sendLocalEnd(this.encoder);
  }

  private sendLocalEnd(encoder: RequestEncoder): void {
    this.localEndSent = true;
    encoder.encodeData(Buffer.alloc(0), true);
  }

  /** Ends the stream from our side (RST_STREAM); no callback follows. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pending?.cancel();
    this.pending = null;
    const enc = this.encoder;
    this.encoder = null;
    enc?.getStream().removeCallbacks(this);
    enc?.getStream().resetStream(StreamResetReason.LocalReset);
  }

  // ---- ConnectionPoolCallbacks ----

  onPoolReady(encoder: RequestEncoder, _host: Host): void {
    this.pending = null;
    if (this.closed) {
      encoder.getStream().resetStream(StreamResetReason.LocalReset);
      return;
    }
    this.encoder = encoder;
    encoder.getStream().addCallbacks(this);
    const headers = HeaderMapImpl.fromPairs([
      [':method', 'POST'],
      [':path', this.path],
      [':scheme', 'http'],
      [':authority', this.options.authority ?? this.clusterName],
      ['content-type', 'application/grpc'],
      ['te', 'trailers'],
      ...(this.options.initialMetadata ?? []),
    ]);
    encoder.encodeHeaders(headers, false);
    const queued = this.queued;
    this.queued = [];
    for (const f of queued) if (this.encoder !== null) this.encoder.encodeData(f, false);
    if (this.localEnd && this.encoder !== null) this.sendLocalEnd(this.encoder);
    if (this.encoder !== null) this.callbacks.onStreamReady?.();
  }

  onPoolFailure(reason: PoolFailureReason, transportFailureReason: string): void {
    this.pending = null;
    const detail = transportFailureReason !== '' ? `${reason}: ${transportFailureReason}` : reason;
    this.remoteClose(GrpcStatus.Unavailable, `cannot connect to ${this.clusterName}: ${detail}`);
  }

  // ---- ResponseDecoder ----

  decode1xxHeaders(): void {}

  decodeHeaders(headers: HeaderMap, endStream: boolean): void {
    const status = headers.get(':status');
    if (status !== '200') {
      this.remoteClose(GrpcStatus.Unavailable, `HTTP status ${status ?? 'missing'} from ${this.clusterName}`);
      return;
    }
    this.responseStatus = 200;
    if (endStream || headers.has('grpc-status')) this.finishFrom(headers);
  }

  decodeData(data: Buffer, endStream: boolean): void {
    if (this.closed) return;
    if (data.length > 0) {
      for (const f of this.frames.decode(data)) {
        if (this.closed) return;
        if ((f.flags & 1) !== 0) return this.remoteClose(GrpcStatus.Internal, 'compressed gRPC messages are not supported');
        this.callbacks.onReceiveMessage(f.wire.subarray(GRPC_FRAME_HEADER_SIZE));
      }
      const max = this.options.maxReceiveMessageBytes ?? DEFAULT_MAX_RECEIVE;
      if (this.frames.bufferedBytes > max + GRPC_FRAME_HEADER_SIZE) {
        return this.remoteClose(GrpcStatus.ResourceExhausted, `message larger than ${max} bytes`);
      }
    }
    if (endStream) this.remoteClose(GrpcStatus.Internal, 'stream ended without trailers');
  }

  decodeTrailers(trailers: HeaderMap): void {
    this.finishFrom(trailers);
  }

  // ---- StreamCallbacks ----

  onResetStream(reason: StreamResetReason, transportFailureReason: string): void {
    const detail = transportFailureReason !== '' ? `${reason}: ${transportFailureReason}` : reason;
    this.remoteClose(GrpcStatus.Unavailable, `stream to ${this.clusterName} reset: ${detail}`);
  }

  onAboveWriteBufferHighWatermark(): void {}
  onBelowWriteBufferLowWatermark(): void {}

  // ---- internals ----

  private finishFrom(h: HeaderMap): void {
    const raw = h.get('grpc-status');
    const status = raw === undefined ? GrpcStatus.Unknown : Number(raw);
    let message = h.get('grpc-message') ?? '';
    try { message = decodeURIComponent(message); } catch { /* keep as sent */ }
    this.remoteClose(Number.isInteger(status) ? status : GrpcStatus.Unknown, message);
  }

  private remoteClose(status: number, message: string): void {
    if (this.closed) return;
    this.closed = true;
    const enc = this.encoder;
    this.encoder = null;
    if (enc !== null) {
      enc.getStream().removeCallbacks(this);
      // Half-open on our side still: end it so the pool slot is freed.
      if (this.responseStatus === null || status !== GrpcStatus.Ok) enc.getStream().resetStream(StreamResetReason.LocalReset);
      else if (!this.localEndSent) enc.encodeData(Buffer.alloc(0), true);
    }
    this.callbacks.onRemoteClose(status, message);
  }
}
