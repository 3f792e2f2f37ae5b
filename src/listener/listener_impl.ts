/**
 * ListenerImpl: one configured listener bound to its address, after Envoy's
 * `source/common/listener_manager/listener_impl.cc` and
 * `active_tcp_listener.cc`. Accepts connections, chooses a filter chain,
 * builds the chain's network filters on the connection, and tracks the
 * connections so it can drain them.
 *
 * Each listener has its own init manager (it warms until its RDS routes
 * arrive) and drain manager (its connections drain when LDS replaces or
 * removes it). A newer version of the listener on the same address takes
 * the bound socket over (Node cannot bind a port twice): new connections go
 * to the new filter chains while this one drains the ones it has.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { Scope } from '../envoy/stats/stats.js';
import { ConnectionCloseType, ConnectionEvent } from '../envoy/network/connection.js';
import { ConnectionImpl } from '../network/connection_impl.js';
import { addressToString } from '../network/address.js';
import { createListenerStats, type ListenerStats } from '../stats/listener_stats.js';
import type { FilterChain, FilterChainManager } from './filter_chain_manager.js';
import type { ListenerFilterFactoryCb } from '../envoy/network/listener_filter.js';
import type { SslConnectionInfo } from '../envoy/network/connection.js';
import { runListenerFilters, type DetectedConnectionInfo } from './active_tcp_socket.js';
import type { InitManagerImpl } from '../common/init/manager_impl.js';
import type { ListenerDrainManager } from './listener_drain_manager.js';

/** Bound on a TLS handshake when the chain sets no transport_socket_connect_timeout. */
const DEFAULT_TRANSPORT_SOCKET_CONNECT_TIMEOUT_MS = 15_000;

export interface ListenerConfig {
  readonly name: string;
  readonly address: string;
  readonly port: number;
  readonly ipv4Compat: boolean;
  readonly filterChainManager: FilterChainManager;
  readonly perConnectionBufferLimitBytes: number;
  readonly backlog: number;
  readonly listenerFilters: ReadonlyArray<ListenerFilterFactoryCb>;
  /** listener_filters_timeout (ms; 0 = none). Default 15 s. */
  readonly listenerFiltersTimeoutMs: number;
  readonly continueOnListenerFiltersTimeout: boolean;
  /** Raw Listener message, for /config_dump. */
  readonly config: unknown;
  /** False for bootstrap (static) listeners, which LDS may not change. */
  readonly addedViaApi: boolean;
  /** version_info of the LDS update that delivered it ('' for static listeners). */
  readonly versionInfo: string;
  /** The serialized Listener (base64): an update with equal bytes is no change. */
  readonly hash: string;
}

/** What a listener owns besides its config: its init and drain managers, and cleanup of what its filters hold. */
export interface ListenerLifecycle {
  readonly initManager: InitManagerImpl;
  readonly drainManager: ListenerDrainManager;
  readonly destroyCallbacks: ReadonlyArray<() => void>;
}

export class ListenerImpl {
  private server: Server | null = null;
  private readonly connections = new Set<ConnectionImpl>();
  /** Sockets still in listener filters or a TLS handshake. */
  private readonly pendingSockets = new Set<Socket>();
  readonly stats: ListenerStats;
  readonly scope: Scope;
  boundPort = 0;
  /** When this version of the listener was added or last changed. */
  readonly lastUpdated = new Date();
  private stopped = false;
  private destroyed = false;
  private idleCallbacks: Array<() => void> = [];

  /** `scope` is the listener's stats scope (`listener.<address>.` or `listener.<stat_prefix>.`). */
  constructor(readonly config: ListenerConfig, scope: Scope, readonly lifecycle: ListenerLifecycle) {
    this.scope = scope;
    this.stats = createListenerStats(this.scope);
  }

  get name(): string { return this.config.name; }
  get activeConnections(): number { return this.connections.size; }
  get initManager(): InitManagerImpl { return this.lifecycle.initManager; }
  get drainManager(): ListenerDrainManager { return this.lifecycle.drainManager; }
  /** Whether this listener holds a bound socket. */
  get isBound(): boolean { return this.server !== null && this.server.listening; }

  /** Binds; resolves once listening, rejects with the bind error. */
  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const server = createServer({ noDelay: true, pauseOnConnect: false });
      server.on('connection', (socket: Socket) => this.onAccept(socket));
      this.server = server;
      server.once('error', reject);
      server.listen({ host: this.config.address, port: this.config.port, backlog: this.config.backlog, ipv6Only: !this.config.ipv4Compat && this.config.address.includes(':') }, () => {
        server.off('error', reject);
        server.on('error', () => { /* accept errors (EMFILE...) are transient */ });
        const a = server.address();
        this.boundPort = typeof a === 'object' && a !== null ? a.port : this.config.port;
        // Stopped (replaced or removed) while binding: give the port back at once.
        if (this.stopped && this.server === server) { this.server = null; server.close(); }
        resolve();
      });
    });
  }

  /**
   * Takes the bound socket of an older version of this listener (same
   * address): from now on new connections are accepted here; `old` keeps
   * only the connections it has.
   */
  adoptListenSocket(old: ListenerImpl): void {
    const server = old.server;
    if (server === null) throw new Error(`listener '${old.name}' has no bound socket to hand over`);
    old.server = null;
    server.removeAllListeners('connection');
    server.on('connection', (socket: Socket) => this.onAccept(socket));
    this.server = server;
    this.boundPort = old.boundPort;
  }

  /** `ip:port` actually bound (port 0 resolved). */
  boundAddress(): string {
    return addressToString(this.config.address, this.boundPort);
  }

  private onAccept(socket: Socket): void {
    if (this.stopped) { socket.destroy(); return; }
    this.stats.downstream_cx_total.inc();
    socket.setNoDelay(true);
    if (this.config.listenerFilters.length === 0) {
      this.onListenerFiltersDone(socket, { serverName: '', transportProtocol: 'raw_buffer', applicationProtocols: [] });
      return;
    }
    this.pendingSockets.add(socket);
    socket.once('close', () => this.removePending(socket));
    const c = this.config;
    runListenerFilters(socket, c.listenerFilters, c.listenerFiltersTimeoutMs, c.continueOnListenerFiltersTimeout, this.stats,
      (info) => this.onListenerFiltersDone(socket, info));
  }

  private onListenerFiltersDone(socket: Socket, info: DetectedConnectionInfo): void {
    const local = socket.localAddress ?? '';
    const remote = socket.remoteAddress ?? '';
    const chain = this.config.filterChainManager.findFilterChain({
      localIp: local.startsWith('::ffff:') ? local.slice(7) : local,
      localPort: socket.localPort ?? 0,
      remoteIp: remote.startsWith('::ffff:') ? remote.slice(7) : remote,
      remotePort: socket.remotePort ?? 0,
      serverName: info.serverName,
      transportProtocol: info.transportProtocol,
      applicationProtocols: info.applicationProtocols,
    });
    if (chain === null) {
      this.stats.no_filter_chain_match.inc();
      socket.destroy();
      return;
    }
    const ts = chain.transportSocketFactory;
    if (ts === null) {
      this.newConnection(socket, chain, info.serverName, null);
      return;
    }
    // TLS: the network filters are built only once the handshake (and client-certificate checks) succeeded.
    this.pendingSockets.add(socket);
    let settled = false;
    const timeoutMs = chain.transportSocketConnectTimeoutMs > 0 ? chain.transportSocketConnectTimeoutMs : DEFAULT_TRANSPORT_SOCKET_CONNECT_TIMEOUT_MS;
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      this.stats.downstream_cx_transport_socket_connect_timeout.inc();
      socket.destroy();
      this.removePending(socket);
    }, timeoutMs);
    ts.accept(socket, info.serverName, (result) => {
      clearTimeout(timer);
      if (settled) { result?.socket.destroy(); this.removePending(socket); return; }
      settled = true;
      if (result !== null) this.newConnection(result.socket, chain, result.ssl?.sni || info.serverName, result.ssl);
      this.removePending(socket);
    });
  }

  private newConnection(socket: Socket, chain: FilterChain, serverName: string, ssl: SslConnectionInfo | null): void {
    const conn = new ConnectionImpl(socket, this.config.perConnectionBufferLimitBytes);
    conn.requestedServerName = serverName;
    conn.ssl = ssl;
    this.connections.add(conn);
    this.stats.downstream_cx_active.inc();
    const start = performance.now();
    conn.addConnectionCallbacks({
      onEvent: (e) => {
        if (e === ConnectionEvent.Connected) return;
        if (!this.connections.delete(conn)) return;
        this.stats.downstream_cx_active.dec();
        this.stats.downstream_cx_destroy.inc();
        this.stats.downstream_cx_length_ms.recordValue(performance.now() - start);
        this.checkIdle();
      },
      onAboveWriteBufferHighWatermark: () => {},
      onBelowWriteBufferLowWatermark: () => {},
    });
    for (const f of chain.filterFactories) f(conn, conn);
    if (!conn.initializeReadFilters()) {
      // A chain with no filters closes at once, as Envoy does.
      conn.close(ConnectionCloseType.NoFlush);
      return;
    }
    // Listener filters leave the socket paused with what they read put back.
    conn.resumeReadingIfEnabled();
  }

  private removePending(socket: Socket): void {
    if (this.pendingSockets.delete(socket)) this.checkIdle();
  }

  private checkIdle(): void {
    if (this.connections.size > 0 || this.pendingSockets.size > 0 || this.idleCallbacks.length === 0) return;
    const cbs = this.idleCallbacks;
    this.idleCallbacks = [];
    for (const cb of cbs) cb();
  }

  /** Calls `cb` (soon) once the listener has no connection left, pending ones included. */
  whenIdle(cb: () => void): void {
    this.idleCallbacks.push(cb);
    setImmediate(() => this.checkIdle());
  }

  /**
   * Stops accepting new connections (existing ones carry on). Does not wait
   * for them. A socket handed over to a newer version stays open.
   */
  stopListening(): void {
    this.stopped = true;
    const server = this.server;
    if (server !== null && server.listening) { this.server = null; server.close(); }
  }

  /** Closes every connection now. */
  closeAllConnections(): void {
    for (const c of [...this.connections]) c.close(ConnectionCloseType.NoFlush);
    for (const s of [...this.pendingSockets]) s.destroy();
    this.pendingSockets.clear();
    this.checkIdle();
  }

  /**
   * The listener is gone for good: no init callback fires any more and what
   * its filters hold (RDS subscriptions) is released. Idempotent.
   */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.lifecycle.initManager.cancel();
    for (const cb of this.lifecycle.destroyCallbacks) cb();
  }
}
