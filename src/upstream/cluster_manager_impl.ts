/**
 * The cluster manager, after Envoy's `ClusterManagerImpl`
 * (source/common/upstream/cluster_manager_impl.cc).
 *
 * It owns every cluster (static from the bootstrap, dynamic from CDS), builds
 * them from v3 Cluster messages — static and CDS clusters through the same
 * code (createCluster, then the cluster's transport socket) — keeps their
 * connection pools (thread_local_cluster_impl.ts) and answers
 * `getThreadLocalCluster(name)` for the router. Legate runs one event loop
 * per process, so the "thread local" cluster is simply the serving cluster
 * object.
 *
 * Lifecycle of a cluster:
 *
 *   static:  initializeStaticClusters() -> registered (listed by
 *            clusterNames()) and routable once initialized: at once for
 *            STATIC, after the first DNS answer or EDS assignment (or
 *            initial_fetch_timeout) otherwise, as Envoy creates the
 *            thread-local cluster in onClusterInit. The start-up order is the
 *            init helper's (cluster_manager_init_helper.ts); initialized()
 *            resolves at its end.
 *   CDS:     addOrUpdateCluster() -> warming (not routable; the previous
 *            version keeps serving) -> initialized -> active, replacing the
 *            previous version, whose pools drain. A STATIC-type cluster warms
 *            synchronously. A static (bootstrap) cluster's name is refused
 *            (false), as Envoy's blockUpdate() does.
 *   removal: removeCluster() (dynamic only) -> gone for new requests (router
 *            answers 503 NC); its pools drain: idle connections close now,
 *            busy ones when their requests finish, then each pool is
 *            destroyed. Its `cluster.<name>.` stats are deleted after that,
 *            unless a cluster of the same stat name exists again.
 *
 * Requests in flight keep the ThreadLocalCluster they started on: they finish
 * on its (draining) pools; a retry on a retired cluster gets a one-off pool.
 *
 * Stats (`cluster_manager.`): cluster_added, cluster_modified,
 * cluster_removed, cluster_updated (a cluster became routable or its hosts
 * changed), active_clusters, warming_clusters.
 *
 * Creating the cluster manager from a bootstrap (see
 * src/server/cluster_manager_factory.ts):
 *
 *   const cm = new ClusterManagerImpl({ statsScope, connPoolFactory, transportSocketFactory, subscriptionFactory, ... });
 *   cm.setCds(new CdsApiImpl(...));          // with dynamic_resources.cds_config
 *   cm.initializeStaticClusters(bootstrap.staticResources?.clusters ?? []);
 *   await cm.initialized();                   // static clusters warm, then CDS's first update
 */
import { getLogger } from '../common/logger.js';
import { validateMessage } from '../config/pgv_validator.js';
import type { TimeSource } from '../envoy/common/time.js';
import type { SubscriptionFactory } from '../envoy/config/subscription.js';
import type { UpstreamTransportSocketFactory } from '../envoy/network/transport_socket.js';
import type { Scope } from '../envoy/stats/stats.js';
import type { ClusterManager } from '../envoy/upstream/cluster_manager.js';
import type { HostStats } from '../envoy/upstream/stats.js';
import type { Cluster } from '../generated/envoy/config/cluster/v3/cluster_pb.js';
import type { TypedExtensionConfig } from '../generated/envoy/config/core/v3/extension_pb.js';
import { createClusterManagerStats, type ClusterManagerStats } from '../stats/cluster_manager_stats.js';
import { createCluster } from './cluster_factory.js';
import type { ClusterImplBase } from './cluster_impl_base.js';
import type { ClusterInfoImpl, ClusterType } from './cluster_info_impl.js';
import { ClusterManagerInitHelper, type CdsInitTarget } from './cluster_manager_init_helper.js';
import {
  createDnsResolver,
  dnsResolverConfigFromTyped,
  type DnsResolver,
  type DnsResolverConfig,
  type DnsResolverOptions,
} from './dns_resolver.js';
import { healthFlagsToString, type Locality } from './host_impl.js';
import { createHealthChecker } from './health_checker_factory.js';
import { realTimeSource } from '../common/real_time_source.js';
import { defaultAccessLogManager, type AccessLogManager } from '../logging/access_log_file.js';
import type { LbPolicyConfig } from './load_balancer_config.js';
import { defaultRandom, type RandomGenerator } from './load_balancer_impl.js';
import type { OutlierEventLogger } from './outlier_detection_impl.js';
import { ConfigError, messageFingerprint } from './proto_util.js';
import { ThreadLocalClusterImpl, type ConnPoolFactory } from './thread_local_cluster_impl.js';

export { ThreadLocalClusterImpl, type ConnPoolFactory };

const log = getLogger('upstream');

/**
 * Builds a cluster's transport socket (tls...) while the cluster is built;
 * null = raw TCP. Throws ConfigError naming `fieldPath`.transport_socket.
 */
export type ClusterTransportSocketFactory = (config: Cluster, info: ClusterInfoImpl, fieldPath: string) => UpstreamTransportSocketFactory | null;

export interface ClusterManagerOptions {
  /** The root stats scope (`cluster.<name>.` and `cluster_manager.` go under it). */
  statsScope: Scope;
  /** Makes the connection pool for one (host, protocol) over the cluster's transport socket. */
  connPoolFactory: ConnPoolFactory;
  /** Each cluster's transport socket; absent = raw TCP for every cluster. */
  transportSocketFactory?: ClusterTransportSocketFactory;
  /**
   * Where EDS clusters (and the CDS API) subscribe. Subscriptions are created
   * when a cluster is built but started only when it initializes — after
   * every static cluster is registered — so a transport may look the cluster
   * manager up lazily. Absent: an EDS cluster is a config error.
   */
  subscriptionFactory?: SubscriptionFactory;
  /**
   * Deletes the stats under `prefix` except those under the `keep` prefixes
   * (StatsStore.deleteScope); called once a removed cluster's pools are gone.
   * Absent: removed clusters' stats stay.
   */
  releaseStats?: (prefix: string, keep: ReadonlyArray<string>) => void;
  /** The bootstrap's `typed_dns_resolver_config`: the resolver of clusters that set none. */
  defaultDnsResolverConfig?: TypedExtensionConfig;
  /** Source of randomness for the load balancers (tests pass a seeded one). */
  random?: RandomGenerator;
  /** DNS query timeout/tries and hosts file. */
  dnsResolverOptions?: DnsResolverOptions;
  /** Replaces resolver creation (tests). `undefined` config = the default resolver. */
  dnsResolverFactory?: (config: DnsResolverConfig | undefined) => DnsResolver;
  /** Clock and timers of outlier detection and active health checks (default: the real clock; tests pass a simulated one). */
  timeSource?: TimeSource;
  /** Where outlier ejections are logged (bootstrap cluster_manager.outlier_detection.event_log_path). */
  outlierEventLogger?: OutlierEventLogger | null;
  /** Where health check event logs are written; default the process-wide access-log manager. */
  accessLogManager?: () => AccessLogManager;
}

/** What the cluster manager needs of the CDS API (cds_api_impl.ts). */
export interface CdsApi extends CdsInitTarget {
  /** version_info of the last CDS update that changed something ('' before). */
  readonly versionInfo: string;
  /** Stops the subscription (shutdown). */
  stop(): void;
}

export const DEFAULT_INITIALIZE_TIMEOUT_MS = 15000;

interface ClusterEntry {
  name: string;
  config: Cluster;
  fingerprint: string;
  versionInfo: string;
  /** When this version was added (ms since the epoch), for /config_dump's last_updated. */
  lastUpdatedMs: number;
  addedViaApi: boolean;
  cluster: ClusterImplBase;
  tlc: ThreadLocalClusterImpl;
  /** Routable: initialized and serving (static: since initialized; CDS: since promoted from warming). */
  routable: boolean;
  /** Stops counting cluster_updated for this entry. */
  stopUpdateCount: (() => void) | null;
}

/** One cluster as /config_dump lists it (ClustersConfigDump.StaticCluster / DynamicCluster). */
export interface ClusterConfigEntry {
  readonly cluster: Cluster;
  /** CDS version_info this cluster came with ('' for static). */
  readonly versionInfo: string;
  /** When it was added or last updated, ms since the epoch. */
  readonly lastUpdatedMs: number;
}

/** The cluster part of /config_dump (envoy.admin.v3.ClustersConfigDump). */
export interface ClustersConfigDumpView {
  /** The CDS version_info ('' without CDS or before its first update). */
  readonly versionInfo: string;
  readonly staticClusters: ClusterConfigEntry[];
  readonly dynamicActiveClusters: ClusterConfigEntry[];
  readonly dynamicWarmingClusters: ClusterConfigEntry[];
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
  /** Outlier detection's success rate of the last interval (percent), -1 when not computed or no detector. */
  successRate: number;
  localOriginSuccessRate: number;
}

/** The cluster's outlier detector figures (admin /clusters `outlier::`), -1 when not computed. */
export interface OutlierDetectorSnapshot {
  successRateAverage: number;
  successRateEjectionThreshold: number;
  localOriginSuccessRateAverage: number;
  localOriginSuccessRateEjectionThreshold: number;
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
  /** Present when the cluster has outlier_detection. */
  outlier?: OutlierDetectorSnapshot;
}

export class ClusterManagerImpl implements ClusterManager {
  readonly stats: ClusterManagerStats;
  /** The serving version of each cluster (static ones from the start, routable once initialized). */
  private readonly active = new Map<string, ClusterEntry>();
  /** CDS versions not initialized yet; the active version of the same name (if any) keeps serving. */
  private readonly warming = new Map<string, ClusterEntry>();
  /** Removed or replaced versions whose pools are still draining. */
  private readonly retiring = new Set<ClusterEntry>();
  private readonly initHelper = new ClusterManagerInitHelper();
  private readonly random: RandomGenerator;
  private readonly defaultResolverConfig: DnsResolverConfig | undefined;
  private defaultResolver: DnsResolver | undefined;
  private cds: CdsApi | null = null;
  private shutDown = false;

  constructor(private readonly options: ClusterManagerOptions) {
    this.random = options.random ?? defaultRandom;
    this.stats = createClusterManagerStats(options.statsScope);
    this.defaultResolverConfig =
      options.defaultDnsResolverConfig === undefined
        ? undefined
        : dnsResolverConfigFromTyped(options.defaultDnsResolverConfig, 'typed_dns_resolver_config');
  }

  /** The factory EDS clusters subscribe through (the CDS API uses it too). */
  get subscriptionFactory(): SubscriptionFactory | undefined {
    return this.options.subscriptionFactory;
  }

  /** The CDS API, started once the static clusters are warm. Call before initializeStaticClusters(). */
  setCds(cds: CdsApi): void {
    this.initHelper.setCds(cds);
    this.cds = cds;
  }

  /**
   * Adds the bootstrap's `static_resources.clusters`, all or nothing: a
   * duplicate name or any invalid cluster throws ConfigError (path
   * `static_resources.clusters[i]...`) and nothing is added. Then starts them
   * in Envoy's order (see cluster_manager_init_helper.ts); call it once, even
   * with no clusters, to start initialization.
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
      for (const b of built) this.destroyNow(b);
      throw e;
    }
    // Register every one before starting any: a cluster's xDS stream may ride on another.
    for (const entry of built) {
      this.active.set(entry.name, entry);
      this.stats.cluster_added.inc();
      this.stats.active_clusters.inc();
    }
    for (const entry of built) {
      entry.cluster.onInitialized(() => {
        if (this.active.get(entry.name) === entry) this.makeRoutable(entry);
      });
      this.initHelper.addCluster(entry.cluster);
    }
    this.initHelper.onStaticLoadComplete();
  }

  /**
   * Adds or replaces a dynamic (CDS) cluster, validated (PGV, then built)
   * exactly as a static one; `path` names it in errors (default
   * `clusters["<name>"]`). Returns false when nothing changes: the config
   * equals the warming (else the active) version, or the name is a static
   * cluster's (Envoy skips those). Throws ConfigError for an invalid cluster;
   * the current version keeps serving.
   */
  addOrUpdateCluster(cluster: Cluster, versionInfo = '', path = `clusters[${JSON.stringify(cluster.name)}]`): boolean {
    if (this.shutDown) return false;
    const name = cluster.name;
    const existing = this.active.get(name);
    if (existing !== undefined && !existing.addedViaApi) {
      log.warn(`cds: cluster '${name}' is static (bootstrap) and cannot be changed by CDS; update skipped`);
      return false;
    }
    const fingerprint = messageFingerprint(cluster);
    const previousWarming = this.warming.get(name);
    if ((previousWarming ?? existing)?.fingerprint === fingerprint) return false;

    validateMessage(cluster, path);
    const entry = this.buildEntry(cluster, true, versionInfo, path, fingerprint);
    if (existing !== undefined || previousWarming !== undefined) this.stats.cluster_modified.inc();
    else this.stats.cluster_added.inc();

    if (previousWarming !== undefined) {
      this.warming.delete(name);
      this.retire(previousWarming);
    } else {
      this.stats.warming_clusters.inc();
    }
    this.warming.set(name, entry);
    entry.cluster.onInitialized(() => this.onWarm(entry));
    if (this.initHelper.isInitialized) void entry.cluster.initialize();
    else this.initHelper.addCluster(entry.cluster);
    log.debug(`cds: ${existing !== undefined || previousWarming !== undefined ? 'updated' : 'added'} cluster '${name}' (version ${versionInfo || '-'})`);
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
      this.retire(warming);
    }
    if (existing !== undefined) {
      this.active.delete(name);
      this.stats.active_clusters.dec();
      this.retire(existing);
    }
    this.stats.cluster_removed.inc();
    log.debug(`cds: removed cluster '${name}'`);
    return true;
  }

  getThreadLocalCluster(name: string): ThreadLocalClusterImpl | undefined {
    const e = this.active.get(name);
    return e !== undefined && e.routable ? e.tlc : undefined;
  }

  /** Active cluster names (static ones from the start; warming CDS clusters are not listed). */
  clusterNames(): string[] {
    return [...this.active.keys()];
  }

  warmingClusterNames(): string[] {
    return [...this.warming.keys()];
  }

  /**
   * Resolves once the start-up sequence is over: every static cluster
   * initialized, then (with CDS) its first update applied and the clusters it
   * added initialized. The server starts its listeners after this, as Envoy's
   * init manager does. Each cluster bounds its own wait.
   */
  initialized(): Promise<void> {
    return new Promise((resolve) => this.initHelper.onInitialized(resolve));
  }

  /** Callback form of initialized(). */
  setInitializedCb(cb: () => void): void {
    this.initHelper.onInitialized(cb);
  }

  /** Clusters the start-up sequence still waits for (for a log line while the server waits). */
  initializingClusterNames(): string[] {
    return this.initHelper.pendingClusters();
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
    await Promise.race([Promise.all(pending.map((e) => new Promise<void>((r) => e.cluster.onInitialized(r)))), bound]);
    clearTimeout(timer);
    return pending.filter((e) => !e.cluster.isInitialized).map((e) => e.name);
  }

  /** The clusters for /config_dump: static, dynamic active and dynamic warming, with versions and times. */
  clustersConfigDump(): ClustersConfigDumpView {
    const view = (e: ClusterEntry): ClusterConfigEntry => ({ cluster: e.config, versionInfo: e.versionInfo, lastUpdatedMs: e.lastUpdatedMs });
    const active = [...this.active.values()];
    return {
      versionInfo: this.cds?.versionInfo ?? '',
      staticClusters: active.filter((e) => !e.addedViaApi).map(view),
      dynamicActiveClusters: active.filter((e) => e.addedViaApi).map(view),
      dynamicWarmingClusters: [...this.warming.values()].map(view),
    };
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
      const od = e.cluster.outlierDetector;
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
            successRate: h.outlierDetector?.successRate('external') ?? -1,
            localOriginSuccessRate: h.outlierDetector?.successRate('local') ?? -1,
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
        ...(od === null ? {} : {
          outlier: {
            successRateAverage: od.successRateAverage('external'),
            successRateEjectionThreshold: od.successRateEjectionThreshold('external'),
            localOriginSuccessRateAverage: od.successRateAverage('local'),
            localOriginSuccessRateEjectionThreshold: od.successRateEjectionThreshold('local'),
          },
        }),
      });
    };
    for (const e of this.active.values()) add(e, false);
    for (const e of this.warming.values()) add(e, true);
    return out;
  }

  /** Stops every cluster (timers, DNS, subscriptions) and destroys every pool now. */
  shutdown(): void {
    if (this.shutDown) return;
    this.shutDown = true;
    this.cds?.stop();
    for (const e of [...this.active.values(), ...this.warming.values(), ...this.retiring]) this.destroyNow(e);
    this.active.clear();
    this.warming.clear();
    this.retiring.clear();
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
      subscriptionFactory: this.options.subscriptionFactory,
      timeSource: this.options.timeSource,
      outlierEventLogger: this.options.outlierEventLogger,
    });
    let transportSocket: UpstreamTransportSocketFactory | null;
    try {
      transportSocket = this.options.transportSocketFactory?.(cluster, impl.info, fieldPath) ?? null;
    } catch (e) {
      impl.destroy();
      throw e;
    }
    try {
      const hc = createHealthChecker(cluster, impl, {
        timeSource: this.options.timeSource ?? realTimeSource,
        random: this.random,
        accessLogManager: this.options.accessLogManager ?? defaultAccessLogManager,
        transportSocket,
      }, fieldPath);
      if (hc !== null) impl.setHealthChecker(hc);
    } catch (e) {
      impl.destroy();
      throw e;
    }
    const tlc = new ThreadLocalClusterImpl(impl.info, impl.prioritySet, loadBalancer, this.options.connPoolFactory, transportSocket);
    return {
      name: cluster.name,
      config: cluster,
      fingerprint: fingerprint ?? messageFingerprint(cluster),
      versionInfo,
      lastUpdatedMs: Date.now(),
      addedViaApi,
      cluster: impl,
      tlc,
      routable: false,
      stopUpdateCount: null,
    };
  }

  /** The entry serves from now on; cluster_updated counts this and each later host update. */
  private makeRoutable(entry: ClusterEntry): void {
    if (entry.routable) return;
    entry.routable = true;
    this.stats.cluster_updated.inc();
    entry.stopUpdateCount = entry.cluster.prioritySet.addUpdateCb(() => this.stats.cluster_updated.inc());
  }

  private onWarm(entry: ClusterEntry): void {
    if (this.warming.get(entry.name) !== entry) return; // replaced, removed or destroyed
    this.warming.delete(entry.name);
    this.stats.warming_clusters.dec();
    const old = this.active.get(entry.name);
    this.active.set(entry.name, entry);
    this.makeRoutable(entry);
    if (old === undefined) this.stats.active_clusters.inc();
    else this.retire(old);
    log.debug(`cds: cluster '${entry.name}' warmed and is now active`);
  }

  /**
   * Takes a removed or replaced version out of service: discovery stops, its
   * pools drain; once they are destroyed, its stats go if no cluster of that
   * stat name is left.
   */
  private retire(entry: ClusterEntry): void {
    entry.stopUpdateCount?.();
    entry.routable = false;
    this.retiring.add(entry);
    entry.cluster.destroy();
    entry.tlc.retire(() => {
      if (!this.retiring.delete(entry)) return; // shut down meanwhile
      this.maybeReleaseStats(entry.cluster.info.statsScope.prefix);
    });
  }

  private destroyNow(entry: ClusterEntry): void {
    entry.stopUpdateCount?.();
    entry.routable = false;
    entry.tlc.retire();
    entry.tlc.destroyPools();
    entry.cluster.destroy();
  }

  private maybeReleaseStats(prefix: string): void {
    if (this.options.releaseStats === undefined || this.shutDown) return;
    const live = [...this.active.values(), ...this.warming.values(), ...this.retiring].map((e) => e.cluster.info.statsScope.prefix);
    if (live.includes(prefix)) return;
    // Keep the stats of clusters whose names extend this one (`cluster.a.b.` under `cluster.a.`).
    this.options.releaseStats(prefix, live.filter((p) => p.startsWith(prefix)));
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
