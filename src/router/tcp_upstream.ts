/**
 * CONNECT termination: the router's upstream for a route whose CONNECT
 * upgrade has a `connect_config`, after Envoy's
 * `source/extensions/upstreams/http/tcp/upstream_request.cc` (TcpConnPool +
 * TcpUpstream). One raw TCP connection per request, to the host the load
 * balancer chose:
 *
 *   newStream()            -> connect (connect_timeout, max_connections breaker)
 *   connected              -> onPoolReady(TcpUpstream)
 *   encodeHeaders          -> the request headers are not sent; a synthetic
 *                             `:status: 200` goes back, which completes the CONNECT
 *   encodeData(d, end)     -> bytes upstream; `end` half-closes (FIN) the upstream side
 *   upstream bytes / FIN   -> decodeData(d, false) / decodeData(empty, true)
 *   socket closed early    -> onResetStream(ConnectionTermination)
 *
 * Stats as Envoy's TCP pool keeps them for the cluster: upstream_cx_{total,
 * active,connect_fail,connect_timeout,connect_ms,length_ms,destroy,
 * destroy_local,destroy_remote,rx_bytes_total,tx_bytes_total,overflow},
 * upstream_rq_total, and host cx_total/cx_active/cx_connect_fail.
 */
import net from 'node:net';
import {
  StreamResetReason,
  type RequestEncoder,
  type ResponseDecoder,
  type Stream,
  type StreamCallbacks,
} from '../envoy/http/codec.js';
import type { HeaderMap } from '../envoy/http/header_map.js';
import { PoolFailureReason, type Cancellable, type ConnectionPoolCallbacks } from '../envoy/upstream/cluster_manager.js';
import type { Host } from '../envoy/upstream/host.js';
import { HeaderMapImpl } from '../http/codec/header_map_impl.js';
import { addressToString } from '../network/address.js';
import { connectFailureReason } from '../upstream/conn_pool/conn_pool_base.js';
import type { GenericConnPool } from './upstream_request.js';

const EMPTY = Buffer.alloc(0);

/** Opens one TCP connection per stream to `host` (Envoy's TcpConnPool for the router). */
export class TcpConnPool implements GenericConnPool {
  constructor(readonly host: Host) {}

  newStream(decoder: ResponseDecoder, callbacks: ConnectionPoolCallbacks): Cancellable | null {
    const host = this.host;
    const info = host.cluster;
    const stats = info.stats;
    const connections = info.resourceManager(0).connections;
    if (!connections.canCreate()) {
      stats.upstream_cx_overflow.inc();
      callbacks.onPoolFailure(PoolFailureReason.Overflow, '', host);
      return null;
    }
    stats.upstream_cx_total.inc();
    stats.upstream_cx_active.inc();
    host.stats.cx_total++;
    host.stats.cx_active++;
    connections.inc();
    const started = performance.now();
    const socket = net.connect({ host: host.address, port: host.port, noDelay: true });
    let connected = false;
    let cancelled = false;
    let timedOut = false;
    /** Closed from this side before it connected (timeout, cancel). */
    let closedBeforeConnect = false;
    let failureReason = '';
    let upstream: TcpUpstream | null = null;
    const timer = info.connectTimeoutMs > 0
      ? setTimeout(() => {
        timedOut = true;
        closedBeforeConnect = true;
        stats.upstream_cx_connect_timeout.inc();
        socket.destroy();
      }, info.connectTimeoutMs)
      : null;
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (!connected && failureReason === '') failureReason = connectFailureReason(err);
    });
    socket.once('connect', () => {
      if (timer !== null) clearTimeout(timer);
      connected = true;
      stats.upstream_cx_connect_ms.recordValue(performance.now() - started);
      if (cancelled) { closedBeforeConnect = true; socket.destroy(); return; }
      stats.upstream_rq_total.inc();
      upstream = new TcpUpstream(socket, decoder, info.perConnectionBufferLimitBytes);
      callbacks.onPoolReady(upstream, host, addressToString(socket.localAddress, socket.localPort));
    });
    socket.once('close', () => {
      if (timer !== null) clearTimeout(timer);
      stats.upstream_cx_active.dec();
      host.stats.cx_active--;
      connections.dec();
      stats.upstream_cx_rx_bytes_total.add(socket.bytesRead);
      stats.upstream_cx_tx_bytes_total.add(socket.bytesWritten);
      stats.upstream_cx_length_ms.recordValue(performance.now() - started);
      stats.upstream_cx_destroy.inc();
      if (closedBeforeConnect || (upstream !== null && upstream.closedLocally)) stats.upstream_cx_destroy_local.inc();
      else stats.upstream_cx_destroy_remote.inc();
      if (!connected) {
        stats.upstream_cx_connect_fail.inc();
        host.stats.cx_connect_fail++;
        if (!cancelled) {
          callbacks.onPoolFailure(timedOut ? PoolFailureReason.Timeout : PoolFailureReason.RemoteConnectionFailure,
            failureReason, host);
        }
        return;
      }
      upstream?.onClose();
    });
    return {
      cancel: () => {
        if (connected || cancelled) return;
        cancelled = true;
        closedBeforeConnect = true;
        socket.destroy();
      },
    };
  }
}

/** The request side of a terminated CONNECT: raw bytes over one TCP connection (Envoy's TcpUpstream). */
export class TcpUpstream implements RequestEncoder, Stream {
  /** This side closed the connection (destroy_local rather than destroy_remote). */
  closedLocally = false;
  private callbacks: StreamCallbacks[] = [];
  private started = false;
  private localEnded = false;
  private remoteEnded = false;
  private resetDone = false;
  private readDisableCount = 0;
  private aboveHighWatermark = false;

  constructor(private readonly socket: net.Socket, private readonly decoder: ResponseDecoder, private readonly highWatermark: number) {}

  // ---- RequestEncoder ----

  encodeHeaders(_headers: HeaderMap, endStream: boolean): void {
    if (this.started || this.resetDone) return;
    this.started = true;
    const socket = this.socket;
    socket.on('data', (d: Buffer) => { if (!this.resetDone) this.decoder.decodeData(d, false); });
    socket.on('end', () => {
      this.remoteEnded = true;
      if (!this.resetDone) this.decoder.decodeData(EMPTY, true);
    });
    socket.on('drain', () => {
      if (!this.aboveHighWatermark) return;
      this.aboveHighWatermark = false;
      for (const cb of this.callbacks.slice()) cb.onBelowWriteBufferLowWatermark();
    });
    if (this.readDisableCount > 0) socket.pause();
    // The connection is up: answer the CONNECT now (the upstream speaks no HTTP).
    this.decoder.decodeHeaders(HeaderMapImpl.fromPairs([[':status', '200']]), false);
    if (endStream) this.endUpstream();
  }

  encodeData(data: Buffer, endStream: boolean): void {
    if (!this.started || this.resetDone || this.localEnded) return;
    if (data.length > 0 && !this.socket.write(data) && !this.aboveHighWatermark
      && this.socket.writableLength >= this.highWatermark) {
      this.aboveHighWatermark = true;
      for (const cb of this.callbacks.slice()) cb.onAboveWriteBufferHighWatermark();
    }
    if (endStream) this.endUpstream();
  }

  encodeTrailers(_trailers: HeaderMap): void {
    if (this.started && !this.resetDone && !this.localEnded) this.endUpstream();
  }

  getStream(): Stream { return this; }

  // ---- Stream ----

  addCallbacks(cb: StreamCallbacks): void { this.callbacks.push(cb); }

  removeCallbacks(cb: StreamCallbacks): void {
    const i = this.callbacks.indexOf(cb);
    if (i !== -1) this.callbacks.splice(i, 1);
  }

  resetStream(_reason: StreamResetReason): void {
    if (this.resetDone) return;
    this.resetDone = true;
    this.closedLocally = true;
    this.socket.destroy();
  }

  readDisable(disable: boolean): void {
    if (disable) {
      if (this.readDisableCount++ === 0 && this.started) this.socket.pause();
    } else if (this.readDisableCount > 0) {
      if (--this.readDisableCount === 0 && this.started) this.socket.resume();
    }
  }

  bufferLimit(): number { return this.highWatermark; }

  /** @internal The connection closed (after connecting). */
  onClose(): void {
    if (this.resetDone) return;
    if (this.remoteEnded && this.localEnded) return;
    if (this.remoteEnded) {
      // The upstream finished its side; the rest of ours had nowhere to go.
      this.resetDone = true;
      return;
    }
    this.resetDone = true;
    for (const cb of this.callbacks.slice()) cb.onResetStream(StreamResetReason.ConnectionTermination, '');
  }

  /** Half-closes the upstream: our FIN, the upstream may still answer. */
  private endUpstream(): void {
    this.localEnded = true;
    this.socket.end();
  }
}
