/**
 * The per-cluster view the router uses, after Envoy's
 * `ClusterManagerImpl::ThreadLocalClusterManagerImpl::ClusterEntry`: the
 * cluster's info, hosts and load balancer, and its connection pools, one per
 * (host, protocol), created on first use over the cluster's transport socket.
 * Legate runs one event loop per process, so there is one of these per
 * cluster version.
 *
 * Pools are never reused once their host or cluster is gone:
 *   - a host removed by discovery (DNS, EDS) has its pools drained — idle
 *     connections close now, busy ones after their request — and destroyed
 *     when idle;
 *   - `retire()` (the cluster was removed or replaced) does that for every
 *     pool and reports when the last one is destroyed;
 *   - a request that still holds the removed host or retired cluster (e.g. a
 *     retry) gets a fresh untracked pool, destroyed as soon as it is idle.
 */
import type { HttpConnectionPool, LoadBalancer, LoadBalancerContext, ThreadLocalCluster } from '../envoy/upstream/cluster_manager.js';
import type { Host, UpstreamProtocol } from '../envoy/upstream/host.js';
import type { UpstreamTransportSocketFactory } from '../envoy/network/transport_socket.js';
import type { ClusterInfoImpl } from './cluster_info_impl.js';
import type { PrioritySetImpl } from './priority_set_impl.js';

/** Makes the connection pool for one (host, protocol) over the cluster's transport socket (null = raw TCP). */
export type ConnPoolFactory = (
  host: Host,
  protocol: UpstreamProtocol,
  transportSocket: UpstreamTransportSocketFactory | null,
  /** Circuit-breaker priority (0 DEFAULT, 1 HIGH); pools are kept per priority, as Envoy's. */
  priority?: number,
) => HttpConnectionPool;

/** Pools per host are keyed by protocol, and by priority for HIGH (`http1`, `http1/high`). */
type PoolKey = string;
const poolKey = (protocol: UpstreamProtocol, priority: number): PoolKey => (priority === 0 ? protocol : `${protocol}/high`);
const keyPriority = (key: PoolKey): number => (key.endsWith('/high') ? 1 : 0);

/** Drains `pool` and destroys it once idle (at once when it already is). */
function drainAndDestroy(pool: HttpConnectionPool, onDestroyed: () => void): void {
  let done = false;
  const destroy = (): void => {
    if (done) return;
    done = true;
    pool.destroy();
    onDestroyed();
  };
  pool.drainConnections();
  if (pool.isIdle()) destroy();
  else pool.addIdleCallback(() => {
    if (pool.isIdle()) destroy();
  });
}

/**
 * Hosts discovery removed: a pool asked for one of them is not kept. A mark on
 * the host (HostImpl declares the field) rather than a WeakSet, which costs
 * ~1 µs per host on a 10,000-endpoint EDS update.
 */
interface GoneMark { goneFrom?: object | null }

export class ThreadLocalClusterImpl implements ThreadLocalCluster {
  private readonly pools = new Map<Host, Map<PoolKey, HttpConnectionPool>>();
  private readonly unsubscribe: () => void;
  private retired = false;
  /** Pools draining (host removed, cluster retired) or one-off; onRetired runs when none is left. */
  private readonly draining = new Set<HttpConnectionPool>();
  private onRetired: (() => void) | null = null;

  constructor(
    readonly info: ClusterInfoImpl,
    readonly prioritySet: PrioritySetImpl,
    readonly loadBalancer: LoadBalancer,
    private readonly connPoolFactory: ConnPoolFactory,
    /** The cluster's transport socket (tls); null for raw TCP. */
    readonly transportSocket: UpstreamTransportSocketFactory | null = null,
  ) {
    this.unsubscribe = prioritySet.addMemberUpdateCb((_p, added, removed) => {
      for (const h of added) if ((h as GoneMark).goneFrom === this) (h as GoneMark).goneFrom = null;
      for (const h of removed) {
        (h as GoneMark).goneFrom = this;
        this.drainHostPools(h);
      }
    });
  }

  /** True once the cluster was removed or replaced. */
  get isRetired(): boolean {
    return this.retired;
  }

  /**
   * The load balancer's pick, counting `upstream_cx_none_healthy` when there
   * is none (the router then answers 503 UH).
   */
  chooseHost(context: LoadBalancerContext | null): Host | null {
    const host = this.loadBalancer.chooseHost(context);
    if (host === null) this.info.stats.upstream_cx_none_healthy.inc();
    return host;
  }

  httpConnPool(host: Host, protocol: UpstreamProtocol, priority = 0): HttpConnectionPool {
    const prio = priority === 0 ? 0 : 1;
    if (this.retired || (host as GoneMark).goneFrom === this) return this.transientPool(host, protocol, prio);
    let byProto = this.pools.get(host);
    if (byProto === undefined) {
      byProto = new Map();
      this.pools.set(host, byProto);
    }
    const key = poolKey(protocol, prio);
    let pool = byProto.get(key);
    if (pool === undefined) {
      pool = this.connPoolFactory(host, protocol, this.transportSocket, prio);
      this.info.resourceManager(prio).connectionPools.inc();
      byProto.set(key, pool);
    }
    return pool;
  }

  /** Number of pools currently held (tests, admin). */
  poolCount(): number {
    let n = 0;
    for (const m of this.pools.values()) n += m.size;
    return n;
  }

  /**
   * Drains every pool and stops tracking hosts; used when the cluster is
   * removed or replaced. `onDrained` runs once every pool it held is
   * destroyed (at once when it held none).
   */
  retire(onDrained?: () => void): void {
    if (this.retired) return;
    this.retired = true;
    this.unsubscribe();
    for (const [host, byProto] of [...this.pools]) {
      for (const [key, pool] of [...byProto]) this.removePool(host, key, pool);
    }
    // Set after the loop: idle pools are destroyed synchronously inside it.
    this.onRetired = onDrained ?? null;
    this.maybeRetired();
  }

  /** Destroys every pool now, draining ones included (shutdown). */
  destroyPools(): void {
    for (const byProto of this.pools.values()) for (const pool of byProto.values()) pool.destroy();
    this.pools.clear();
    for (const pool of [...this.draining]) pool.destroy();
    this.draining.clear();
  }

  /** A pool for one request on a removed host or cluster, destroyed once its streams are done. */
  private transientPool(host: Host, protocol: UpstreamProtocol, priority: number): HttpConnectionPool {
    const pool = this.connPoolFactory(host, protocol, this.transportSocket, priority);
    const resources = this.info.resourceManager(priority);
    resources.connectionPools.inc();
    this.draining.add(pool);
    let done = false;
    const destroy = (): void => {
      if (done || !pool.isIdle()) return;
      done = true;
      pool.destroy();
      resources.connectionPools.dec();
      this.draining.delete(pool);
      this.maybeRetired();
    };
    pool.addIdleCallback(destroy);
    // The caller asks for a stream at once; if it does not, the pool goes.
    setImmediate(destroy);
    return pool;
  }

  private drainHostPools(host: Host): void {
    const byProto = this.pools.get(host);
    if (byProto === undefined) return;
    for (const [key, pool] of [...byProto]) this.removePool(host, key, pool);
  }

  private removePool(host: Host, key: PoolKey, pool: HttpConnectionPool): void {
    const byProto = this.pools.get(host);
    if (byProto?.get(key) === pool) {
      byProto.delete(key);
      if (byProto.size === 0) this.pools.delete(host);
    }
    this.draining.add(pool);
    drainAndDestroy(pool, () => {
      this.info.resourceManager(keyPriority(key)).connectionPools.dec();
      this.draining.delete(pool);
      this.maybeRetired();
    });
  }

  private maybeRetired(): void {
    if (!this.retired || this.draining.size > 0 || this.onRetired === null) return;
    const cb = this.onRetired;
    this.onRetired = null;
    cb();
  }
}
