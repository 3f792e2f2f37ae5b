/**
 * The server: Legate's composition root, after Envoy's `source/server/server.cc`.
 *
 *   options -> load bootstrap -> stats -> extensions -> cluster manager (static
 *   clusters, first DNS resolution) -> listeners (built all-or-nothing, then
 *   bound) -> admin -> LIVE.  SIGTERM/SIGINT -> drain -> exit 0.
 */
import type { Bootstrap } from '../generated/envoy/config/bootstrap/v3/bootstrap_pb.js';
import type { FactoryContext, ListenerFactoryInfo, LocalInfo } from '../envoy/server/factory_context.js';
import type { Scope } from '../envoy/stats/stats.js';
import { getLogger, setAllLogLevels } from '../common/logger.js';
import { ConfigError } from '../config/config_error.js';
import { loadBootstrap, type LoadedBootstrap } from '../config/bootstrap_loader.js';
import { unpackAny } from '../config/type_registry.js';
import { startStatsFlushTimer, StatsStore } from '../stats/stats_impl.js';
import { createServerStats, startServerStatsUpdater, type ServerStatsUpdater } from '../stats/server_stats.js';
import { TagProducer, tagProducerConfigFromProto } from '../stats/tag_extractor.js';
import { durationToMs } from '../config/well_known.js';
import { AccessLogManager, setDefaultAccessLogManager } from '../logging/access_log_file.js';
import { ListenerManagerImpl } from '../listener/listener_manager_impl.js';
import { SecretManagerImpl } from '../secret/secret_manager_impl.js';
import { registerBuiltinExtensions } from '../extensions/index.js';
import { createClusterManager, type ServerClusterManager } from './cluster_manager_factory.js';
import { DrainManager } from './drain_manager.js';
import { startAdmin, type RunningAdmin } from './admin_setup.js';
import type { Options } from './options.js';
import { VERSION } from './version.js';
import { SubscriptionFactoryImpl } from '../xds/subscription_factory_impl.js';
import { localNode } from './local_node.js';
import { EnvoyGrpcAsyncClient } from '../upstream/grpc/async_client_impl.js';
import { LdsApi } from '../listener/lds_api.js';
import type { ClusterManager } from '../envoy/upstream/cluster_manager.js';

const log = getLogger('main');

export type ServerState = 'PRE_INITIALIZING' | 'INITIALIZING' | 'LIVE' | 'DRAINING';

export class Server {
  readonly stats = new StatsStore();
  readonly drainManager = new DrainManager();
  readonly startTimeMs = Date.now();
  state: ServerState = 'PRE_INITIALIZING';
  healthCheckFailed = false;
  loaded!: LoadedBootstrap;
  clusterManager!: ServerClusterManager;
  listenerManager!: ListenerManagerImpl;
  admin: RunningAdmin | null = null;
  secretManager!: SecretManagerImpl;
  localInfo!: LocalInfo;
  /** xDS subscriptions (ADS stream, per-type streams, files); null without dynamic_resources. */
  subscriptionFactory: SubscriptionFactoryImpl | null = null;
  /** The LDS consumer, with dynamic_resources.lds_config. */
  lds: LdsApi | null = null;
  private shuttingDown = false;
  private readonly warnings: string[] = [];

  constructor(readonly options: Options) {}

  get bootstrap(): Bootstrap { return this.loaded.bootstrap; }

  /** Loads and compiles everything. With `bind` false (--mode validate) nothing listens. */
  async initialize(bind: boolean): Promise<void> {
    const o = this.options;
    setAllLogLevels(o.logLevel);
    this.loaded = loadBootstrap({
      configPath: o.configPath ?? undefined,
      configYaml: o.configYaml ?? undefined,
      allowUnknownStaticFields: o.allowUnknownStaticFields,
    });
    for (const w of this.loaded.warnings) log.warn(w.toString());
    const b = this.loaded.bootstrap;
    // The node sent to control planes: the bootstrap's, with --service-node/-cluster/-zone applied.
    const node = localNode(b.node, o);
    this.localInfo = { nodeId: node.id, clusterName: node.cluster, zone: node.locality?.zone ?? '' };
    // Access logs are written by one manager per process, flushed on Envoy's --file-flush-interval-msec.
    setDefaultAccessLogManager(new AccessLogManager({ flushIntervalMs: o.fileFlushIntervalMsec, scope: this.stats.rootScope }));
    registerBuiltinExtensions();
    this.stats.setTagProducer(TagProducer.create(tagProducerConfigFromProto(b.statsConfig)));
    this.state = 'INITIALIZING';

    const root = this.stats.rootScope;
    const configDir = this.loaded.configDir;
    // xDS: gRPC sources reach their static cluster when a stream starts, so the factory
    // exists before the cluster manager (whose static clusters may already use SDS or EDS).
    const clusters: ClusterManager = {
      getThreadLocalCluster: (name) => this.clusterManager.getThreadLocalCluster(name),
      clusterNames: () => this.clusterManager.clusterNames(),
    };
    const factory = this.rethrowWithPosition(() => new SubscriptionFactoryImpl({
      grpcClientFor: (name) => new EnvoyGrpcAsyncClient(clusters, name),
      staticClusterNames: new Set((b.staticResources?.clusters ?? []).map((c) => c.name)),
      node,
      scope: root,
      configDir,
      adsConfig: b.dynamicResources?.adsConfig,
    }));
    this.subscriptionFactory = factory;
    this.secretManager = new SecretManagerImpl({ scope: root, configDir, subscriptionFactory: factory });
    const secretManager = this.secretManager;
    this.rethrowWithPosition(() => secretManager.addStaticSecrets(b.staticResources?.secrets ?? [], 'static_resources.secrets'));
    const baseContext = (listener: ListenerFactoryInfo | null, listenerScope: Scope): FactoryContext => ({
      scope: root,
      listenerScope,
      clusterManager: this.clusterManager,
      localInfo: this.localInfo,
      drainDecision: this.drainManager,
      configDir: this.loaded.configDir,
      listener,
      unpackAny: (any, path) => unpackAny(any as never, path),
      warn: (path, message) => { this.warnings.push(`${path}: ${message}`); log.warn(`${path}: ${message}`); },
      secretManager,
      healthCheckFailed: () => this.healthCheckFailed,
    });

    this.clusterManager = this.rethrowWithPosition(() => createClusterManager(this, b, {
      secretManager, configDir, warn: (path, message) => { this.warnings.push(`${path}: ${message}`); log.warn(`${path}: ${message}`); },
    }, { subscriptionFactory: factory }));
    if (bind) {
      // Envoy's init order: static clusters, then EDS clusters, then CDS's first update (each bounded by its initial_fetch_timeout).
      const waiting = this.clusterManager.initializingClusterNames();
      if (waiting.length > 0) log.info(`waiting for cluster(s) to initialize: ${waiting.join(', ')}`);
      await this.clusterManager.initialized();
    }

    this.listenerManager = new ListenerManagerImpl(root, (info, scope) => baseContext(info, scope), {
      drainTimeMs: o.drainTimeS * 1000,
      subscriptionFactory: factory,
    });
    const listeners = b.staticResources?.listeners ?? [];
    await this.rethrowWithPositionAsync(() => this.listenerManager.addStaticListeners(listeners, bind));
    const ldsConfig = b.dynamicResources?.ldsConfig;
    if (ldsConfig !== undefined) {
      const lds = this.rethrowWithPosition(() => new LdsApi(ldsConfig, this.listenerManager, factory, root));
      this.lds = lds;
      if (bind) await new Promise<void>((ready) => lds.initialize(ready));
    }
  }

  /** Adds the file, line and column to a ConfigError raised after loading (by field path). */
  private rethrowWithPosition<T>(fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      throw this.positioned(e);
    }
  }
  private async rethrowWithPositionAsync<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw this.positioned(e);
    }
  }
  private positioned(e: unknown): unknown {
    if (e instanceof ConfigError && e.line === undefined) {
      const pos = this.loaded.positions.lookup(e.fieldPath);
      if (pos !== undefined) return new ConfigError(e.fieldPath, e.detail, pos);
    }
    return e;
  }

  async start(): Promise<void> {
    await this.initialize(true);
    const adminCfg = this.bootstrap.admin;
    if (adminCfg?.address !== undefined) {
      this.admin = await startAdmin(this, adminCfg);
      log.info(`admin address: ${this.admin.boundAddress}`);
    }
    this.state = 'LIVE';
    this.startStatsTimers();
    log.info(`legate ${VERSION} started; ${this.listenerManager.listeners.length} listener(s), ${this.clusterManager.clusterNames().length} cluster(s); config loaded in ${this.loaded.loadMs.toFixed(0)} ms`);
    process.on('SIGTERM', () => void this.shutdown('SIGTERM'));
    process.on('SIGINT', () => void this.shutdown('SIGINT'));
  }

  private statsUpdater: ServerStatsUpdater | null = null;

  /** server.* gauges (live, uptime, memory...) and histogram interval flushes, as Envoy's stats flush. */
  private startStatsTimers(): void {
    const serverStats = createServerStats(this.stats.rootScope);
    serverStats.concurrency.set(this.options.concurrency);
    serverStats.hot_restart_epoch.set(this.options.restartEpoch);
    this.statsUpdater = startServerStatsUpdater(serverStats, {
      startTimeFirstEpochMs: this.startTimeMs,
      serverState: () => this.state === 'LIVE' && this.healthCheckFailed ? 'DRAINING' : this.state,
      isLive: () => this.state === 'LIVE',
      totalConnections: () => this.listenerManager.activeConnections(),
    });
    startStatsFlushTimer(this.stats, durationToMs(this.bootstrap.statsFlushInterval, 5000));
  }

  /**
   * Graceful shutdown: stop accepting, tell connections to close after their
   * current request, wait up to --drain-time-s for them, then exit 0.
   */
  async shutdown(reason: string): Promise<void> {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    log.info(`caught ${reason}; draining for up to ${this.options.drainTimeS}s`);
    this.state = 'DRAINING';
    this.statsUpdater?.update();
    this.listenerManager.stopListeners();
    this.drainManager.startDrainSequence();
    const deadline = Date.now() + this.options.drainTimeS * 1000;
    while (this.listenerManager.activeConnections() > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const left = this.listenerManager.activeConnections();
    if (left > 0) log.info(`drain time over; closing ${left} connection(s)`);
    this.listenerManager.closeAllConnections();
    this.lds?.stop();
    this.subscriptionFactory?.stop();
    await this.admin?.close();
    this.clusterManager.shutdown();
    await flushAccessLogs();
    log.info('exiting');
    process.exit(0);
  }
}

async function flushAccessLogs(): Promise<void> {
  const { flushAllAccessLogs } = await import('./access_log_flush.js');
  await flushAllAccessLogs();
}
