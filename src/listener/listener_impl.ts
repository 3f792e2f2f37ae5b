/**
 * ListenerImpl: one configured listener bound to its address, after Envoy's
 * `source/common/listener_manager/listener_impl.cc` and
 * `active_tcp_listener.cc`. Accepts connections, chooses a filter chain,
 * builds the chain's network filters on the connection, and tracks the
 * connections so it can drain them.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { Scope } from '../envoy/stats/stats.js';
import { ConnectionCloseType, ConnectionEvent } from '../envoy/network/connection.js';
import { ConnectionImpl } from '../network/connection_impl.js';
import { addressToString } from '../network/address.js';
import { createListenerStats, type ListenerStats } from '../stats/listener_stats.js';
import type { FilterChainManager } from './filter_chain_manager.js';

export interface ListenerConfig {
  readonly name: string;
  readonly address: string;
  readonly port: number;
  readonly ipv4Compat: boolean;
  readonly filterChainManager: FilterChainManager;
  readonly perConnectionBufferLimitBytes: number;
  readonly backlog: number;
  /** Raw Listener message, for /config_dump. */
  readonly config: unknown;
}

export class ListenerImpl {
  private server: Server | null = null;
  private readonly connections = new Set<ConnectionImpl>();
  readonly stats: ListenerStats;
  readonly scope: Scope;
  boundPort = 0;
  private draining = false;

  /** `scope` is the listener's stats scope (`listener.<address>.` or `listener.<stat_prefix>.`). */
  constructor(readonly config: ListenerConfig, scope: Scope) {
    this.scope = scope;
    this.stats = createListenerStats(this.scope);
  }

  get name(): string { return this.config.name; }
  get activeConnections(): number { return this.connections.size; }

  /** Binds; resolves once listening, rejects with the bind error. */
  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const server = createServer({ noDelay: true, pauseOnConnect: false }, (socket) => this.onAccept(socket));
      this.server = server;
      server.once('error', reject);
      server.listen({ host: this.config.address, port: this.config.port, backlog: this.config.backlog, ipv6Only: !this.config.ipv4Compat && this.config.address.includes(':') }, () => {
        server.off('error', reject);
        server.on('error', () => { /* accept errors (EMFILE...) are transient */ });
        const a = server.address();
        this.boundPort = typeof a === 'object' && a !== null ? a.port : this.config.port;
        resolve();
      });
    });
  }

  /** `ip:port` actually bound (port 0 resolved). */
  boundAddress(): string {
    return addressToString(this.config.address, this.boundPort);
  }

  private onAccept(socket: Socket): void {
    if (this.draining) { socket.destroy(); return; }
    this.stats.downstream_cx_total.inc();
    const local = socket.localAddress ?? '';
    const remote = socket.remoteAddress ?? '';
    const chain = this.config.filterChainManager.findFilterChain({
      localIp: local.startsWith('::ffff:') ? local.slice(7) : local,
      localPort: socket.localPort ?? 0,
      remoteIp: remote.startsWith('::ffff:') ? remote.slice(7) : remote,
      remotePort: socket.remotePort ?? 0,
      serverName: '',
      transportProtocol: 'raw_buffer',
      applicationProtocols: [],
    });
    if (chain === null) {
      this.stats.no_filter_chain_match.inc();
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    const conn = new ConnectionImpl(socket, this.config.perConnectionBufferLimitBytes);
    this.connections.add(conn);
    this.stats.downstream_cx_active.inc();
    const start = performance.now();
    conn.addConnectionCallbacks({
      onEvent: (e) => {
        if (e === ConnectionEvent.Connected) return;
        this.connections.delete(conn);
        this.stats.downstream_cx_active.dec();
        this.stats.downstream_cx_destroy.inc();
        this.stats.downstream_cx_length_ms.recordValue(performance.now() - start);
      },
      onAboveWriteBufferHighWatermark: () => {},
      onBelowWriteBufferLowWatermark: () => {},
    });
    for (const f of chain.filterFactories) f(conn, conn);
    if (!conn.initializeReadFilters()) {
      // A chain with no filters closes at once, as Envoy does.
      conn.close(ConnectionCloseType.NoFlush);
    }
  }

  /** Stops accepting new connections (existing ones carry on). Does not wait for them. */
  stopListening(): void {
    this.draining = true;
    if (this.server !== null && this.server.listening) this.server.close();
  }

  /** Closes every connection now. */
  closeAllConnections(): void {
    for (const c of [...this.connections]) c.close(ConnectionCloseType.NoFlush);
  }
}
