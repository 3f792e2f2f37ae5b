/**
 * TcpProxyFilter (`envoy.filters.network.tcp_proxy`), after Envoy's
 * `source/common/tcp_proxy/tcp_proxy.cc`: a terminal read filter that picks a
 * cluster and host, connects, and relays bytes both ways with back-pressure,
 * half-close and an idle timeout.
 */
import { connect, type Socket } from 'node:net';
import type { AccessLogInstance } from '../../../../envoy/access_log/access_log.js';
import { ConnectionCloseType, ConnectionEvent, type ConnectionCallbacks } from '../../../../envoy/network/connection.js';
import { FilterStatus, type ReadFilter, type ReadFilterCallbacks } from '../../../../envoy/network/filter.js';
import type { TcpProxyStats } from '../../../../stats/tcp_proxy_stats.js';
import { ResponseFlag } from '../../../../envoy/stream_info/response_flags.js';
import type { ClusterManager } from '../../../../envoy/upstream/cluster_manager.js';
import type { Host } from '../../../../envoy/upstream/host.js';
import { OutlierResult } from '../../../../envoy/upstream/outlier_detection.js';
import { addressToString } from '../../../../network/address.js';
import { StreamInfoImpl } from '../../../../stream_info/stream_info_impl.js';

export interface TcpProxyConfig {
  readonly stats: TcpProxyStats;
  readonly clusterManager: ClusterManager;
  /** Picks the cluster for a connection (cluster or weighted_clusters). */
  pickCluster(): string;
  readonly idleTimeoutMs: number;
  readonly maxDownstreamConnectionDurationMs: number;
  readonly maxConnectAttempts: number;
  readonly accessLogs: ReadonlyArray<AccessLogInstance>;
}

export class TcpProxyFilter implements ReadFilter, ConnectionCallbacks {
  private cb!: ReadFilterCallbacks;
  private upstream: Socket | null = null;
  private connected = false;
  private pendingData: Buffer[] = [];
  private pendingEnd = false;
  private streamInfo!: StreamInfoImpl;
  private idleTimer: NodeJS.Timeout | null = null;
  private durationTimer: NodeJS.Timeout | null = null;
  private host: Host | null = null;
  private closed = false;
  private upstreamPausedDownstream = false;
  private connectAttempts = 0;
  private logged = false;

  constructor(private readonly config: TcpProxyConfig) {}

  initializeReadFilterCallbacks(callbacks: ReadFilterCallbacks): void {
    this.cb = callbacks;
    const c = callbacks.connection;
    this.streamInfo = new StreamInfoImpl(null, c.remoteAddress, c.remoteAddress, c.localAddress);
    this.streamInfo.requestedServerName = c.requestedServerName;
    this.streamInfo.downstreamSslConnection = c.ssl;
    c.addConnectionCallbacks(this);
  }

  onNewConnection(): FilterStatus {
    this.config.stats.downstream_cx_total.inc();
    // Hold client bytes until the upstream is connected.
    this.cb.connection.readDisable(true);
    if (this.config.maxDownstreamConnectionDurationMs > 0) {
      this.durationTimer = setTimeout(() => {
        this.config.stats.max_downstream_connection_duration.inc();
        this.closeBoth(ConnectionCloseType.NoFlush);
      }, this.config.maxDownstreamConnectionDurationMs);
    }
    this.connectUpstream();
    return FilterStatus.StopIteration;
  }

  private connectUpstream(): void {
    const si = this.streamInfo;
    const clusterName = this.config.pickCluster();
    const cluster = this.config.clusterManager.getThreadLocalCluster(clusterName);
    if (cluster === undefined) {
      this.config.stats.downstream_cx_no_route.inc();
      si.setResponseFlag(ResponseFlag.NoClusterFound);
      this.closeBoth(ConnectionCloseType.NoFlush);
      return;
    }
    si.upstreamClusterName = cluster.info.name;
    const host = cluster.loadBalancer.chooseHost(null);
    if (host === null) {
      cluster.info.stats.upstream_cx_none_healthy.inc();
      si.setResponseFlag(ResponseFlag.NoHealthyUpstream);
      this.closeBoth(ConnectionCloseType.NoFlush);
      return;
    }
    const info = cluster.info;
    const cxLimit = info.resourceManager(0).connections;
    if (!cxLimit.canCreate()) {
      info.stats.upstream_cx_overflow.inc();
      si.setResponseFlag(ResponseFlag.UpstreamOverflow);
      this.closeBoth(ConnectionCloseType.NoFlush);
      return;
    }
    cxLimit.inc();
    this.host = host;
    si.upstreamHost = host;
    this.connectAttempts++;
    info.stats.upstream_cx_total.inc();
    info.stats.upstream_cx_active.inc();
    host.stats.cx_total++;
    host.stats.cx_active++;
    const started = performance.now();
    const sock = connect({ host: host.address, port: host.port, noDelay: true });
    this.upstream = sock;
    let connectTimedOut = false;
    const connectTimer = setTimeout(() => {
      info.stats.upstream_cx_connect_timeout.inc();
      connectTimedOut = true;
      host.outlierDetector?.putResult(OutlierResult.LocalOriginTimeout);
      sock.destroy(new Error('connect timeout'));
    }, info.connectTimeoutMs);
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      cxLimit.dec();
      info.stats.upstream_cx_active.dec();
      host.stats.cx_active--;
      info.stats.upstream_cx_rx_bytes_total.add(sock.bytesRead);
      info.stats.upstream_cx_tx_bytes_total.add(sock.bytesWritten);
      info.stats.upstream_cx_destroy.inc();
    };
    sock.once('connect', () => {
      clearTimeout(connectTimer);
      info.stats.upstream_cx_connect_ms.recordValue(performance.now() - started);
      this.connected = true;
      host.outlierDetector?.putResult(OutlierResult.LocalOriginConnectSuccessFinal);
      si.upstreamLocalAddress = addressToString(sock.localAddress, sock.localPort);
      for (const d of this.pendingData) sock.write(d);
      this.pendingData = [];
      if (this.pendingEnd) sock.end();
      this.cb.connection.readDisable(false);
      this.startIdleTimer();
    });
    sock.on('data', (d: Buffer) => {
      this.touch();
      si.bytesSent += d.length;
      this.config.stats.downstream_cx_tx_bytes_total.add(d.length);
      this.cb.connection.write(d, false);
    });
    sock.on('end', () => {
      // Upstream half-closed: pass the FIN on once our writes drain.
      if (!this.closed) this.cb.connection.write(Buffer.alloc(0), true);
    });
    sock.on('drain', () => {
      if (this.upstreamPausedDownstream) {
        this.upstreamPausedDownstream = false;
        this.config.stats.downstream_flow_control_resumed_reading_total.inc();
        this.cb.connection.readDisable(false);
      }
    });
    sock.on('error', (err: NodeJS.ErrnoException) => {
      if (!this.connected) {
        clearTimeout(connectTimer);
        info.stats.upstream_cx_connect_fail.inc();
        host.stats.cx_connect_fail++;
        if (!connectTimedOut) host.outlierDetector?.putResult(OutlierResult.LocalOriginConnectFailed);
        si.setResponseFlag(ResponseFlag.UpstreamConnectionFailure);
        si.upstreamTransportFailureReason = err.code ?? err.message;
      }
    });
    sock.on('close', () => {
      clearTimeout(connectTimer);
      release();
      if (!this.connected && this.connectAttempts < this.config.maxConnectAttempts && !this.closed) {
        this.upstream = null;
        this.connectUpstream();
        return;
      }
      if (!this.closed) this.closeBoth(ConnectionCloseType.FlushWrite);
    });
  }

  onData(data: Buffer, endStream: boolean): FilterStatus {
    this.touch();
    this.streamInfo.bytesReceived += data.length;
    this.config.stats.downstream_cx_rx_bytes_total.add(data.length);
    const up = this.upstream;
    if (!this.connected || up === null) {
      if (data.length > 0) this.pendingData.push(data);
      if (endStream) this.pendingEnd = true;
      return FilterStatus.StopIteration;
    }
    if (data.length > 0 && !up.write(data) && !this.upstreamPausedDownstream) {
      this.upstreamPausedDownstream = true;
      this.config.stats.downstream_flow_control_paused_reading_total.inc();
      this.cb.connection.readDisable(true);
    }
    if (endStream) up.end();
    return FilterStatus.StopIteration;
  }

  // ---- downstream ConnectionCallbacks ----
  onEvent(event: ConnectionEvent): void {
    if (event === ConnectionEvent.Connected) return;
    this.closed = true;
    if (this.upstream !== null && !this.upstream.destroyed) {
      if (event === ConnectionEvent.RemoteClose) this.upstream.end();
      else this.upstream.destroy();
      // Bound the half-closed wait.
      const u = this.upstream;
      setTimeout(() => u.destroy(), 1000).unref();
    }
    this.clearTimers();
    this.log();
  }
  onAboveWriteBufferHighWatermark(): void { this.upstream?.pause(); }
  onBelowWriteBufferLowWatermark(): void { this.upstream?.resume(); }

  private startIdleTimer(): void {
    if (this.config.idleTimeoutMs <= 0) return;
    this.idleTimer = setTimeout(() => {
      this.config.stats.idle_timeout.inc();
      this.closeBoth(ConnectionCloseType.NoFlush);
    }, this.config.idleTimeoutMs);
  }
  private touch(): void { this.idleTimer?.refresh(); }

  private clearTimers(): void {
    if (this.idleTimer !== null) { clearTimeout(this.idleTimer); this.idleTimer = null; }
    if (this.durationTimer !== null) { clearTimeout(this.durationTimer); this.durationTimer = null; }
  }

  private closeBoth(type: ConnectionCloseType): void {
    this.clearTimers();
    if (this.upstream !== null && !this.upstream.destroyed) this.upstream.destroy();
    this.cb.connection.close(type);
  }

  private log(): void {
    if (this.logged) return;
    this.logged = true;
    this.streamInfo.onComplete();
    for (const l of this.config.accessLogs) l.log(null, null, null, this.streamInfo);
  }
}
