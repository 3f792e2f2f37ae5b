/**
 * The cluster manager, after Envoy's `ClusterManagerImpl`
 * (source/common/upstream/cluster_manager_impl.cc).
 *
 * It owns every cluster (static from the bootstrap, dynamic from CDS), builds
 * them from v3 Cluster messages, keeps one connection pool per (host,
 * protocol) per cluster, and answers `getThreadLocalCluster(name)` for the
 * router. Legate runs one event loop per process, so the "thread local"
 * cluster is simply the active cluster object.
 *
 * Lifecycle of a cluster:
 *
 *   static:  initializeStaticClusters() -> active at once; initialize() waits
 *            for the DNS ones to warm (first resolution) before the server is ready.
 *   CDS:     addOrUpdateCluster() -> warming (not visible) -> warm -> active,
 *            replacing the previous version, whose pools drain.
 *            A STATIC-type cluster warms synchronously.
 *   removal: removeCluster() -> gone for new requests (router answers NC);
 *            its pools drain: idle connections close now, busy ones when their
 *            requests finish, then each pool is destroyed.
 *
 * Hosts removed by discovery (DNS) have their pools drained the same way.
 *
 * Stats (`cluster_manager.`): cluster_added, cluster_modified,
 * cluster_removed, active_clusters, warming_clusters.
 *
 * Creating the cluster manager from a bootstrap:
 *
 *   const cm = new ClusterManagerImpl({
 *     statsScope: store.rootScope,
 *     connPoolFactory: (host, protocol) => createPool(host, protocol),
 *     defaultDnsResolverConfig: bootstrap.typedDnsResolverConfig,
 *   });
 *   cm.initializeStaticClusters(bootstrap.staticResources?.clusters ?? []);
 *   await cm.initialize();          // bounded wait for DNS clusters
 */
import type { Scope } from '../envoy/stats/stats.js';
import type {
  ClusterManager,
  HttpConnectionPool,
  LoadBalancer,
  LoadBalancerContext,
  ThreadLocalCluster,
} from '../envoy/upstream/cluster_manager.js';
import type { Host, UpstreamProtocol } from '../envoy/upstream/host.js';
import type { HostStats } from '../envoy/upstream/stats.js';
import type { Cluster } from '../generated/envoy/config/cluster/v3/cluster_pb.js';
import type { TypedExtensionConfig } from '../generated/envoy/config/core/v3/extension_pb.js';
import { createClusterManagerStats, type ClusterManagerStats } from '../stats/cluster_manager_stats.js';
import { createCluster } from './cluster_factory.js';
import type { ClusterImplBase } from './cluster_impl_base.js';
import type { ClusterInfoImpl, ClusterType } from './cluster_info_impl.js';
import {
  createDnsResolver,
  dnsResolverConfigFromTyped,
  type DnsResolver,
  type DnsResolverConfig,
  type DnsResolverOptions,
} from './dns_resolver.js';
import { healthFlagsToString, type Locality } from './host_impl.js';
import type { LbPolicyConfig } from './load_balancer_config.js';
import { defaultRandom, type RandomGenerator } from './load_balancer_impl.js';
import type { PrioritySetImpl } from './priority_set_impl.js';
import { ConfigError, messageFingerprint } from './proto_util.js';

export type ConnPoolFactory = (host: Host, protocol: UpstreamProtocol) => HttpConnectionPool;

export interface ClusterManagerOptions {
  /** The root stats scope (`cluster.<name>.` and `cluster_manager.` go under it). */
  statsScope: Scope;
  /** Makes the connection pool for one (host, protocol). */
  connPoolFactory: ConnPoolFactory;
  /** The bootstrap's `typed_dns_resolver_config`: the resolver of clusters that set none. */
  defaultDnsResolverConfig?: TypedExtensionConfig;
  /** Source of randomness for the load balancers (tests pass a seeded one). */
  random?: RandomGenerator;
  /** DNS query timeout/tries and hosts file. */
  dnsResolverOptions?: DnsResolverOptions;
  /** Replaces resolver creation (tests). `undefined` config = the default resolver. */
  dnsResolverFactory?: (config: DnsResolverConfig | undefined) => DnsResolver;
}

export const DEFAULT_INITIALIZE_TIMEOUT_MS = 15000;

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

/** The per-cluster view the router uses: info, hosts, load balancer, pools. */
export class ThreadLocalClusterImpl implements ThreadLocalCluster {
  private readonly pools = new Map<Host, Map<UpstreamProtocol, HttpConnectionPool>>();
  private readonly unsubscribe: () => void;
  private retired = false;

  constructor(
    readonly info: ClusterInfoImpl,
    readonly prioritySet: PrioritySetImpl,
    readonly loadBalancer: LoadBalancer,
    private readonly connPoolFactory: ConnPoolFactory,
  ) {
    this.unsubscribe = prioritySet.addMemberUpdateCb((_p, _added, removed) => {
      for (const h of removed) this.drainHostPools(h);
    });
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

  httpConnPool(host: Host, protocol: UpstreamProtocol): HttpConnectionPool {
    let byProto = this.pools.get(host);
    if (byProto === undefined) {
      byProto = new Map();
      if (!this.retired) this.pools.set(host, byProto);
    }
    let pool = byProto.get(protocol);
    if (pool === undefined) {
      pool = this.connPoolFactory(host, protocol);
      this.info.resourceManager(0).connectionPools.inc();
      if (this.retired) {
        // A request still holding a removed cluster (e.g. a retry): serve it
        // from an untracked pool that is destroyed once its streams are done.
        const p = pool;
        let done = false;
        const destroy = (): void => {
          if (done || !p.isIdle()) return;
          done = true;
          p.destroy();
          this.info.resourceManager(0).connectionPools.dec();
        };
        p.addIdleCallback(destroy);
        setImmediate(destroy);
        return p;
      }
      byProto.set(protocol, pool);
    }
    return pool;
  }

  /** Number of pools currently held (tests, admin). */
  poolCount(): number {
    let n = 0;
    for (const m of this.pools.values()) n += m.size;
    return n;
  }

  /** Drains every pool and stops tracking hosts; used when the cluster is removed or replaced. */
  retire(): void {
    if (this.retired) return;
    this.retired = true;
    this.unsubscribe();
    for (const [host, byProto] of [...this.pools]) {
      for (const [protocol, pool] of [...byProto]) this.removePool(host, protocol, pool);
    }
  }

  /** Destroys every pool now (shutdown). */
  destroyPools(): void {
    for (const byProto of this.pools.values()) for (const pool of byProto.values()) pool.destroy();
    this.pools.clear();
  }

  private drainHostPools(host: Host): void {
    const byProto = this.pools.get(host);
    if (byProto === undefined) return;
    for (const [protocol, pool] of [...byProto]) this.removePool(host, protocol, pool);
  }

  private removePool(host: Host, protocol: UpstreamProtocol, pool: HttpConnectionPool): void {
    const byProto = this.pools.get(host);
    if (byProto?.get(protocol) === pool) {
      byProto.delete(protocol);
      if (byProto.size === 0) this.pools.delete(host);
    }
    drainAndDestroy(pool, () => this.info.resourceManager(0).connectionPools.dec());
  }
}

interface ClusterEntry {
  name: string;
  fingerprint: string;
  versionInfo: string;
  addedViaApi: boolean;
  cluster: ClusterImplBase;
  tlc: ThreadLocalClusterImpl;
}

export interface HostSnapshot {
  address: string;
  port: number;
  /** `ip:port` ([ip6]:port). */
  addressString: string;
  hostname: string;
  healthFlags: number;
  /** `healthy`, or Envoy's `/failed_active_hc/...` form. */
  healthFlagsText: string;
  weight: number;
  priority: number;
  locality: Locality;
  stats: HostStats;
}

export interface CircuitBreakerSnapshot {
  priority: 'default' | 'high';
  maxConnections: number;
  maxPendingRequests: number;
  maxRequests: number;
  maxRetries: number;
}

export interface ClusterSnapshot {
  name: string;
  /** `alt_stat_name` or the name (Envoy's observability_name). */
  statName: string;
  type: ClusterType;
  addedViaApi: boolean;
  /** CDS version the cluster came with; '' for static. */
  versionInfo: string;
  /** True while a new version is warming and not serving yet. */
  warming: boolean;
  lbPolicy: LbPolicyConfig['kind'];
  circuitBreakers: CircuitBreakerSnapshot[];
  hosts: HostSnapshot[];
}

export class ClusterManagerImpl implements ClusterManager {
  readonly stats: ClusterManagerStats;
  private readonly active = new Map<string, ClusterEntry>();
  private readonly warming = new Map<string, ClusterEntry>();
  private readonly random: RandomGenerator;
  private readonly defaultResolverConfig: DnsResolverConfig | undefined;
  private defaultResolver: DnsResolver | undefined;
  private shutDown = false;

  constructor(private readonly options: ClusterManagerOptions) {
    this.random = options.random ?? defaultRandom;
    this.stats = createClusterManagerStats(options.statsScope);
    this.defaultResolverConfig =
      options.defaultDnsResolverConfig === undefined
        ? undefined
        : dnsResolverConfigFromTyped(options.defaultDnsResolverConfig, 'typed_dns_resolver_config');
  }

  /**
   * Adds the bootstrap's `static_resources.clusters`, all or nothing: a
   * duplicate name or any invalid cluster throws ConfigError (path
   * `static_resources.clusters[i]...`) and nothing is added. Static clusters
   * are active at once; DNS ones start resolving (see initialize()).
   */
  initializeStaticClusters(clusters: ReadonlyArray<Cluster>, fieldPathPrefix = 'static_resources.clusters'): void {
    const seen = new Map<string, number>();
    clusters.forEach((c, i) => {
      const prev = seen.get(c.name);
      if (prev !== undefined) {
        throw new ConfigError(
          `${fieldPathPrefix}[${i}].name`,
          `duplicate cluster name '${c.name}' (also ${fieldPathPrefix}[${prev}])`,
        );
      }
      if (this.active.has(c.name) || this.warming.has(c.name)) {
        throw new ConfigError(`${fieldPathPrefix}[${i}].name`, `cluster '${c.name}' already exists`);
      }
      seen.set(c.name, i);
    });
    const built: ClusterEntry[] = [];
    try {
      clusters.forEach((c, i) => built.push(this.buildEntry(c, false, '', `${fieldPathPrefix}[${i}]`)));
    } catch (e) {
      for (const b of built) this.destroyEntry(b);
      throw e;
    }
    for (const entry of built) {
      this.active.set(entry.name, entry);
      this.stats.cluster_added.inc();
      this.stats.active_clusters.inc();
      void entry.cluster.initialize();
    }
  }

  /**
   * Adds or replaces a dynamic (CDS) cluster. Returns false when an identical
   * config is already active or warming. Throws ConfigError for an invalid
   * cluster (nothing changes) or for a static cluster's name.
   */
  addOrUpdateCluster(cluster: Cluster, versionInfo = ''): boolean {
    const name = cluster.name;
    const path = `clusters[${JSON.stringify(name)}]`;
    const existing = this.active.get(name);
    if (existing !== undefined && !existing.addedViaApi) {
      throw new ConfigError(`${path}.name`, `static cluster '${name}' cannot be updated via CDS`);
    }
    const fingerprint = messageFingerprint(cluster);
    const current = this.warming.get(name) ?? existing;
    if (current !== undefined && current.fingerprint === fingerprint) return false;

    const entry = this.buildEntry(cluster, true, versionInfo, path, fingerprint);
    if (current !== undefined) this.stats.cluster_modified.inc();
    else this.stats.cluster_added.inc();

    const previousWarming = this.warming.get(name);
    if (previousWarming !== undefined) this.destroyEntry(previousWarming);
    else this.stats.warming_clusters.inc();
    this.warming.set(name, entry);
    void entry.cluster.initialize().then(() => this.onWarm(entry));
    if (entry.cluster.isInitialized) this.onWarm(entry);
    return true;
  }

  /**
   * Removes a dynamic cluster (and any warming version). New requests get no
   * cluster; its pools drain. Returns false for an unknown or static cluster.
   */
  removeCluster(name: string): boolean {
    const existing = this.active.get(name);
    if (existing !== undefined && !existing.addedViaApi) return false;
    const warming = this.warming.get(name);
    if (existing === undefined && warming === undefined) return false;
    if (warming !== undefined) {
      this.warming.delete(name);
      this.stats.warming_clusters.dec();
      this.destroyEntry(warming);
    }
    if (existing !== undefined) {
      this.active.delete(name);
      this.stats.active_clusters.dec();
      this.destroyEntry(existing);
    }
    this.stats.cluster_removed.inc();
    return true;
  }

  getThreadLocalCluster(name: string): ThreadLocalClusterImpl | undefined {
    return this.active.get(name)?.tlc;
  }

  /** Active cluster names (warming ones are not routable yet). */
  clusterNames(): string[] {
    return [...this.active.keys()];
  }

  warmingClusterNames(): string[] {
    return [...this.warming.keys()];
  }

  /**
   * Resolves when every known cluster (active and warming) has finished its
   * first discovery, or after `timeoutMs`, whichever comes first. Returns the
   * names still initializing when the bound hit (empty when all are warm).
   */
  async initialize(timeoutMs = DEFAULT_INITIALIZE_TIMEOUT_MS): Promise<string[]> {
    const pending = [...this.active.values(), ...this.warming.values()].filter((e) => !e.cluster.isInitialized);
    if (pending.length === 0) return [];
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
      timer.unref();
    });
    await Promise.race([Promise.all(pending.map((e) => e.cluster.initialize())), bound]);
    clearTimeout(timer);
    return pending.filter((e) => !e.cluster.isInitialized).map((e) => e.name);
  }

  /** A snapshot of every cluster and host, for admin `/clusters`. */
  allClusters(): ClusterSnapshot[] {
    const out: ClusterSnapshot[] = [];
    const add = (e: ClusterEntry, warming: boolean): void => {
      const info = e.cluster.info;
      const cb = (priority: 'default' | 'high'): CircuitBreakerSnapshot => {
        const rm = info.resourceManager(priority === 'default' ? 0 : 1);
        return {
          priority,
          maxConnections: rm.connections.max,
          maxPendingRequests: rm.pendingRequests.max,
          maxRequests: rm.requests.max,
          maxRetries: rm.retries.max,
        };
      };
      const hosts: HostSnapshot[] = [];
      for (const hs of e.cluster.prioritySet.hostSetsPerPriority) {
        for (const h of hs.hosts) {
          hosts.push({
            address: h.address,
            port: h.port,
            addressString: h.addressString,
            hostname: h.hostname,
            healthFlags: h.healthFlags,
            healthFlagsText: healthFlagsToString(h.healthFlags),
            weight: h.weight,
            priority: h.priority,
            locality: { ...h.locality },
            stats: { ...h.stats },
          });
        }
      }
      out.push({
        name: e.name,
        statName: info.statName,
        type: info.type,
        addedViaApi: e.addedViaApi,
        versionInfo: e.versionInfo,
        warming,
        lbPolicy: info.lb.policy.kind,
        circuitBreakers: [cb('default'), cb('high')],
        hosts,
      });
    };
    for (const e of this.active.values()) add(e, false);
    for (const e of this.warming.values()) add(e, true);
    return out;
  }

  /** Stops every cluster (timers, DNS) and destroys every pool now. */
  shutdown(): void {
    if (this.shutDown) return;
    this.shutDown = true;
    for (const e of [...this.active.values(), ...this.warming.values()]) {
      e.tlc.retire();
      e.tlc.destroyPools();
      e.cluster.destroy();
    }
    this.active.clear();
    this.warming.clear();
    this.stats.active_clusters.set(0);
    this.stats.warming_clusters.set(0);
    this.defaultResolver?.close();
    this.defaultResolver = undefined;
  }

  private buildEntry(cluster: Cluster, addedViaApi: boolean, versionInfo: string, fieldPath: string, fingerprint?: string): ClusterEntry {
    const { cluster: impl, loadBalancer } = createCluster(cluster, {
      statsScope: this.options.statsScope,
      addedViaApi,
      fieldPath,
      random: this.random,
      defaultDnsResolver: () => this.getDefaultResolver(),
      createDnsResolver: (config) => this.makeResolver(config),
    });
    const tlc = new ThreadLocalClusterImpl(impl.info, impl.prioritySet, loadBalancer, this.options.connPoolFactory);
    return {
      name: cluster.name,
      fingerprint: fingerprint ?? messageFingerprint(cluster),
      versionInfo,
      addedViaApi,
      cluster: impl,
      tlc,
    };
  }

  private onWarm(entry: ClusterEntry): void {
    if (this.warming.get(entry.name) !== entry) return; // replaced, removed or already promoted
    this.warming.delete(entry.name);
    this.stats.warming_clusters.dec();
    const old = this.active.get(entry.name);
    this.active.set(entry.name, entry);
    if (old === undefined) this.stats.active_clusters.inc();
    else this.destroyEntry(old);
  }

  private destroyEntry(entry: ClusterEntry): void {
    entry.tlc.retire();
    entry.cluster.destroy();
  }

  private getDefaultResolver(): DnsResolver {
    if (this.defaultResolver === undefined) {
      this.defaultResolver =
        this.options.dnsResolverFactory?.(this.defaultResolverConfig) ??
        createDnsResolver(this.defaultResolverConfig, this.options.dnsResolverOptions);
    }
    return this.defaultResolver;
  }

  private makeResolver(config: DnsResolverConfig): DnsResolver {
    return this.options.dnsResolverFactory?.(config) ?? createDnsResolver(config, this.options.dnsResolverOptions);
  }
}
