/**
 * The CDS API, after Envoy's `CdsApiImpl` and `CdsApiHelper`
 * (source/common/upstream/cds_api_impl.cc, cds_api_helper.cc).
 *
 * Subscribes (wildcard) to Cluster resources from `dynamic_resources.cds_config`
 * with the stats scope `cluster_manager.cds.` (the transport keeps
 * update_attempt / update_success / update_rejected / version there) and
 * applies each update to the cluster manager the way Envoy does:
 *
 *   - every added cluster goes to addOrUpdateCluster(); the valid ones are
 *     applied even when others in the same update are not;
 *   - a name twice in one update: the first is applied, the second is an error;
 *   - every removed name goes to removeCluster();
 *   - if any cluster was bad, the update is then rejected with one message
 *     naming each bad cluster and its field —
 *       `Error adding/updating cluster(s) a: clusters["a"].lb_policy: ..., b: ...`
 *     — which the transport sends as the NACK's error_detail; what was applied
 *     stays applied (Envoy does the same) and the rest keeps serving;
 *   - `versionInfo` (config_dump's ClustersConfigDump.version_info) moves to
 *     the update's version when anything was applied.
 *
 * Initialization (for the cluster manager's init helper): done after the first
 * update is applied (accepted or not), on a subscription failure other than a
 * lost connection, or when cds_config's `initial_fetch_timeout` (default 15 s,
 * 0 = none) passes.
 */
import { getLogger } from '../common/logger.js';
import { ConfigError } from '../config/config_error.js';
import {
  ConfigUpdateFailureReason,
  TypeUrl,
  type ConfigUpdate,
  type Subscription,
  type SubscriptionCallbacks,
  type SubscriptionFactory,
} from '../envoy/config/subscription.js';
import type { Scope } from '../envoy/stats/stats.js';
import type { Cluster } from '../generated/envoy/config/cluster/v3/cluster_pb.js';
import type { ConfigSource } from '../generated/envoy/config/core/v3/config_source_pb.js';
import { prefixedScope } from '../stats/stats_impl.js';
import type { CdsApi } from './cluster_manager_impl.js';

const log = getLogger('upstream');

/** What CDS changes in the cluster manager. */
export interface CdsClusterManager {
  addOrUpdateCluster(cluster: Cluster, versionInfo: string, path: string): boolean;
  removeCluster(name: string): boolean;
}

export interface CdsApiOptions {
  readonly cdsConfig: ConfigSource;
  readonly clusterManager: CdsClusterManager;
  readonly subscriptionFactory: SubscriptionFactory;
  /** The root scope; the subscription's stats go under `cluster_manager.cds.`. */
  readonly statsScope: Scope;
  /** Field path of cds_config, for config source errors. */
  readonly path?: string;
}

export class CdsApiImpl implements CdsApi, SubscriptionCallbacks<Cluster> {
  versionInfo = '';
  private readonly subscription: Subscription;
  private readonly cm: CdsClusterManager;
  private onInit: (() => void) | null = null;
  private stopped = false;

  constructor(options: CdsApiOptions) {
    this.cm = options.clusterManager;
    this.subscription = options.subscriptionFactory.subscriptionFromConfigSource<Cluster>(
      options.cdsConfig,
      TypeUrl.Cluster,
      prefixedScope(options.statsScope, 'cluster_manager.cds.'),
      this,
      options.path ?? 'dynamic_resources.cds_config',
    );
  }

  /** Starts the (wildcard) subscription; `onInitialized` runs once, see the file comment. */
  initialize(onInitialized: () => void): void {
    this.onInit = onInitialized;
    this.subscription.start([]);
  }

  stop(): void {
    this.stopped = true;
    this.subscription.stop();
    this.onInit = null;
  }

  onConfigUpdate(update: ConfigUpdate<Cluster>): void {
    if (this.stopped) return;
    log.info(`cds: add ${update.added.length} cluster(s), remove ${update.removed.length} cluster(s)`);
    const errors: string[] = [];
    const names = new Set<string>();
    let anyApplied = false;
    let skipped = 0;
    for (const r of update.added) {
      const cluster = r.resource;
      const name = cluster.name;
      if (names.has(name)) {
        // The first one of that name was applied already (as in Envoy).
        errors.push(`${name}: duplicate cluster ${name} found`);
        continue;
      }
      names.add(name);
      try {
        if (this.cm.addOrUpdateCluster(cluster, r.version, `clusters[${JSON.stringify(name)}]`)) anyApplied = true;
        else skipped++;
      } catch (e) {
        errors.push(`${name}: ${(e as Error).message}`);
      }
    }
    for (const name of update.removed) {
      if (this.cm.removeCluster(name)) anyApplied = true;
    }
    if (skipped > 0) log.debug(`cds: skipped ${skipped} unmodified cluster(s)`);
    if (anyApplied) this.versionInfo = update.versionInfo;
    this.initDone();
    if (errors.length > 0) {
      const err = new ConfigError('', `Error adding/updating cluster(s) ${errors.join(', ')}`);
      log.warn(`cds: update ${update.versionInfo} rejected: ${err.message}`);
      throw err;
    }
  }

  onConfigUpdateFailed(reason: ConfigUpdateFailureReason, _error: Error | null): void {
    // A lost connection is retried by the transport; initial_fetch_timeout (FetchTimedout) bounds the wait.
    if (reason === ConfigUpdateFailureReason.ConnectionFailure) return;
    if (reason === ConfigUpdateFailureReason.FetchTimedout && this.onInit !== null) log.warn('cds: no Cluster update within initial_fetch_timeout; continuing without');
    this.initDone();
  }

  private initDone(): void {
    const cb = this.onInit;
    this.onInit = null;
    cb?.();
  }
}
