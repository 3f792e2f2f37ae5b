/**
 * AlpnConnPool: the pool of an `auto_config` cluster (Envoy's
 * HttpConnPoolImplMixed): HTTP/2 or HTTP/1.1 to a host as its TLS server
 * chooses by ALPN. The first stream opens a probe connection offering
 * `h2,http/1.1`; the negotiated protocol then fixes the pool for that host
 * (an HTTP/2 or HTTP/1 pool whose connections offer only that protocol) and
 * the waiting streams move to it. The probe is closed once it has answered,
 * so the first request pays for one extra handshake; its failure fails the
 * waiting streams with the TLS failure reason.
 */
import type { ResponseDecoder } from '../../envoy/http/codec.js';
import {
  PoolFailureReason,
  type Cancellable,
  type ConnectionPoolCallbacks,
  type HttpConnectionPool,
} from '../../envoy/upstream/cluster_manager.js';
import type { Host, UpstreamProtocol } from '../../envoy/upstream/host.js';
import type { UpstreamTransportSocketFactory } from '../../envoy/network/transport_socket.js';
import type { TLSSocket } from 'node:tls';
import { Http1ConnPool } from './http1_conn_pool.js';
import { createHttp2ConnPool } from './http2_conn_pool.js';
import { connectFailureReason } from './conn_pool_base.js';

interface Waiting extends Cancellable {
  readonly decoder: ResponseDecoder;
  readonly callbacks: ConnectionPoolCallbacks;
  cancelled: boolean;
  inner: Cancellable | null;
}

export class AlpnConnPool implements HttpConnectionPool {
  private inner: HttpConnectionPool | null = null;
  private readonly waiting: Waiting[] = [];
  private probing = false;
  private readonly idleCallbacks: Array<() => void> = [];

  /** @param priority circuit-breaker priority of the pools it creates (0 DEFAULT, 1 HIGH) */
  constructor(readonly host: Host, private readonly ts: UpstreamTransportSocketFactory, private readonly priority = 0) {}

  get protocol(): UpstreamProtocol { return this.inner?.protocol ?? 'http1'; }

  newStream(decoder: ResponseDecoder, callbacks: ConnectionPoolCallbacks): Cancellable | null {
    if (this.inner !== null) return this.inner.newStream(decoder, callbacks);
    const w: Waiting = {
      decoder, callbacks, cancelled: false, inner: null,
      cancel: () => { w.cancelled = true; w.inner?.cancel(); },
    };
    this.waiting.push(w);
    if (!this.probing) this.probe();
    return w;
  }

  private probe(): void {
    this.probing = true;
    const h = this.host;
    const { socket } = this.ts.connect(h.address, h.port, h.hostname, ['h2', 'http/1.1']);
    let done = false;
    const timeoutMs = h.cluster.connectTimeoutMs;
    const timer = timeoutMs > 0 ? setTimeout(() => fail(PoolFailureReason.Timeout, 'connection timeout'), timeoutMs) : null;
    const fail = (reason: PoolFailureReason, why: string): void => {
      if (done) return;
      done = true;
      if (timer !== null) clearTimeout(timer);
      socket.destroy();
      this.probing = false;
      h.cluster.stats.upstream_cx_connect_fail.inc();
      for (const w of this.waiting.splice(0)) if (!w.cancelled) w.callbacks.onPoolFailure(reason, why, h);
      this.runIdle();
    };
    socket.once('secureConnect', () => {
      if (done) return;
      done = true;
      if (timer !== null) clearTimeout(timer);
      const alpn = (socket as TLSSocket).alpnProtocol;
      socket.end();
      this.inner = alpn === 'h2' ? this.http2Pool() : this.http1Pool();
      for (const cb of this.idleCallbacks) this.inner.addIdleCallback(cb);
      for (const w of this.waiting.splice(0)) if (!w.cancelled) w.inner = this.inner.newStream(w.decoder, w.callbacks);
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      fail(PoolFailureReason.RemoteConnectionFailure, this.ts.transportFailureReason(err) ?? connectFailureReason(err));
    });
    socket.on('close', () => fail(PoolFailureReason.RemoteConnectionFailure, 'connection closed during the TLS handshake'));
  }

  private http2Pool(): HttpConnectionPool {
    const ts = this.ts;
    return createHttp2ConnPool(this.host, {
      createConnection: (h) => ts.connect(h.address, h.port, h.hostname, ['h2']).socket,
      scheme: 'https',
      transportFailureReason: (err) => ts.transportFailureReason(err),
      priority: this.priority,
    });
  }

  private http1Pool(): HttpConnectionPool {
    const ts = this.ts;
    const onlyHttp1: UpstreamTransportSocketFactory = {
      implementsSecureTransport: true,
      alpnProtocols: ['http/1.1'],
      connect: (address, port, hostname) => ts.connect(address, port, hostname, ['http/1.1']),
      transportFailureReason: (err) => ts.transportFailureReason(err),
      connectionInfo: (s) => ts.connectionInfo(s),
    };
    return new Http1ConnPool(this.host, { transportSocket: onlyHttp1, priority: this.priority });
  }

  isIdle(): boolean { return this.inner !== null ? this.inner.isIdle() : this.waiting.length === 0; }
  drainConnections(): void { this.inner?.drainConnections(); }
  destroy(): void {
    this.inner?.destroy();
    for (const w of this.waiting.splice(0)) if (!w.cancelled) w.callbacks.onPoolFailure(PoolFailureReason.LocalConnectionFailure, 'connection pool destroyed', this.host);
  }
  addIdleCallback(cb: () => void): void {
    this.idleCallbacks.push(cb);
    this.inner?.addIdleCallback(cb);
  }
  private runIdle(): void { if (this.inner === null && this.waiting.length === 0) for (const cb of this.idleCallbacks.slice()) cb(); }
}
