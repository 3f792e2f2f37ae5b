/**
 * EDS clusters, after Envoy's `EdsClusterImpl`
 * (source/extensions/clusters/eds/eds.cc).
 *
 * The cluster subscribes (through the cluster manager's SubscriptionFactory)
 * to the ClusterLoadAssignment named `eds_cluster_config.service_name`, or
 * the cluster's name, with its stats scope `cluster.<name>.` for the
 * subscription stats. Each assignment replaces the hosts, the way a STATIC
 * cluster's `load_assignment` builds them (IP addresses only, priorities,
 * weights, locality, metadata, `health_status`):
 *
 *   - an endpoint whose address (ip:port) stays keeps its Host object, and so
 *     its connection pools, stats and outlier state; its weight, EDS health,
 *     metadata and priority are updated in place (a changed locality or
 *     hostname makes it a new host, as Envoy does for locality);
 *   - a host that is gone is removed, and the cluster manager drains its pools;
 *   - a priority level no longer named is emptied;
 *   - duplicate addresses in one assignment: the first is kept (as Envoy).
 *
 * An assignment is validated completely before anything changes, so a
 * rejected one (thrown ConfigError, NACKed by the transport) leaves the
 * current hosts serving. An update without our resource (empty, or our name
 * in `removed`) counts `update_empty` and keeps the hosts, as Envoy does:
 * xDS says an absent EDS resource means nothing, and the cluster only goes
 * away with its Cluster.
 *
 * Warming: the cluster is initialized by its first assignment, by the
 * subscription reporting a failure (FetchTimedout, UpdateRejected), by a
 * rejected first assignment, or when the eds_config's `initial_fetch_timeout`
 * (default 15 s; 0 = wait forever) passes — then with no hosts (503 UH).
 *
 * `policy.endpoint_stale_after`: when no new assignment arrives in time the
 * hosts are dropped (`assignment_stale`; `assignment_timeout_received` counts
 * assignments that set it).
 */
import { getLogger } from '../common/logger.js';
import { durationToMs } from '../config/well_known.js';
import {
  ConfigUpdateFailureReason,
  TypeUrl,
  type ConfigUpdate,
  type Subscription,
  type SubscriptionCallbacks,
  type SubscriptionFactory,
} from '../envoy/config/subscription.js';
import type { Host } from '../envoy/upstream/host.js';
import type { ClusterLoadAssignment } from '../generated/envoy/config/endpoint/v3/endpoint_pb.js';
import { addressToString } from '../network/address.js';
import type { ClusterInfoImpl } from './cluster_info_impl.js';
import {
  ClusterImplBase,
  endpointsOf,
  overprovisioningFactorOf,
  requireIpAddress,
  type EndpointRef,
  type InitializePhase,
} from './cluster_impl_base.js';
import { edsHealthFlags, metadataOf, type HostImpl } from './host_impl.js';
import { HealthFlag } from '../envoy/upstream/host.js';
import { ConfigError, notSupportedYet } from './proto_util.js';

const log = getLogger('upstream');

/** The health flags an EDS `health_status` sets; the others (active HC, outlier) are not EDS's. */
const EDS_FLAGS = HealthFlag.FailedEdsHealth | HealthFlag.EdsStatusDraining | HealthFlag.DegradedEdsHealth;

export class EdsClusterImpl extends ClusterImplBase implements SubscriptionCallbacks<ClusterLoadAssignment> {
  /** The ClusterLoadAssignment name subscribed to. */
  readonly serviceName: string;
  private readonly phase: InitializePhase;
  private readonly subscription: Subscription;
  private staleTimer: NodeJS.Timeout | null = null;
  /** Current hosts by `ip:port`. */
  private hostsByAddress = new Map<string, HostImpl>();

  constructor(info: ClusterInfoImpl, base: string, subscriptionFactory: SubscriptionFactory | undefined) {
    super(info, base);
    const ecc = info.config.edsClusterConfig;
    if (ecc === undefined) throw new ConfigError(`${base}.eds_cluster_config`, 'cannot create an EDS cluster without an EDS config');
    const edsConfig = ecc.edsConfig;
    const configPath = `${base}.eds_cluster_config.eds_config`;
    if (edsConfig === undefined) throw new ConfigError(configPath, 'eds_config is required');
    if (subscriptionFactory === undefined) {
      throw new ConfigError(configPath, 'EDS needs an xDS config source, and no xDS transport is configured');
    }
    this.serviceName = ecc.serviceName !== '' ? ecc.serviceName : info.name;
    const spec = edsConfig.configSourceSpecifier.case;
    this.phase = spec === 'path' || spec === 'pathConfigSource' ? 'primary' : 'secondary';
    this.subscription = subscriptionFactory.subscriptionFromConfigSource<ClusterLoadAssignment>(
      edsConfig, TypeUrl.ClusterLoadAssignment, info.statsScope, this, configPath,
    );
  }

  override get initializePhase(): InitializePhase {
    return this.phase;
  }

  protected override startPreInit(): void {
    this.subscription.start([this.serviceName]);
  }

  override destroy(): void {
    this.subscription.stop();
    this.clearTimers();
    super.destroy();
  }

  // ---- SubscriptionCallbacks ----

  onConfigUpdate(update: ConfigUpdate<ClusterLoadAssignment>): void {
    if (this.destroyed) return;
    if (update.added.length === 0) {
      // Empty, or our resource "removed": Envoy keeps the hosts it has.
      this.info.stats.update_empty.inc();
      this.finishWarming();
      return;
    }
    const path = `cluster_load_assignment[${JSON.stringify(this.serviceName)}]`;
    try {
      if (update.added.length !== 1) throw new ConfigError(path, `Unexpected EDS resource length: ${update.added.length}`);
      const cla = update.added[0].resource;
      if (cla.clusterName !== this.serviceName) {
        throw new ConfigError(`${path}.cluster_name`, `Unexpected EDS cluster (expecting ${this.serviceName}): ${cla.clusterName}`);
      }
      this.applyAssignment(cla, path);
    } catch (e) {
      // A rejected first assignment ends warming (Envoy: onConfigUpdateFailed(UpdateRejected)).
      if (!this.isInitialized) {
        log.warn(`cluster '${this.info.name}': first ClusterLoadAssignment rejected; using no hosts: ${(e as Error).message}`);
        this.finishWarming();
      }
      throw e;
    }
    this.finishWarming();
  }

  onConfigUpdateFailed(reason: ConfigUpdateFailureReason, _error: Error | null): void {
    // The transport retries a lost connection itself; warming waits for it (bounded by initial_fetch_timeout: FetchTimedout).
    if (reason === ConfigUpdateFailureReason.ConnectionFailure) return;
    if (reason === ConfigUpdateFailureReason.FetchTimedout && !this.isInitialized && !this.destroyed) {
      log.warn(`cluster '${this.info.name}': no ClusterLoadAssignment '${this.serviceName}' within initial_fetch_timeout; using no hosts`);
    }
    this.finishWarming();
  }

  // ---- internals ----

  private finishWarming(): void {
    this.onPreInitComplete();
  }

  private clearTimers(): void {
    if (this.staleTimer !== null) clearTimeout(this.staleTimer);
    this.staleTimer = null;
  }

  /** Validates `cla` fully, then replaces the hosts. */
  private applyAssignment(cla: ClusterLoadAssignment, path: string): void {
    const opf = overprovisioningFactorOf(cla.policy, `${path}.policy`);
    if ((cla.policy?.dropOverloads.length ?? 0) > 0) throw notSupportedYet(`${path}.policy.drop_overloads`, 'drop_overloads');
    const staleAfterMs = durationToMs(cla.policy?.endpointStaleAfter, 0);
    const eps = endpointsOf(cla, path);
    for (const ep of eps) requireIpAddress(ep, 'EDS');

    // Nothing below throws: the update is accepted.
    if (this.staleTimer !== null) clearTimeout(this.staleTimer);
    this.staleTimer = null;
    if (staleAfterMs > 0) {
      this.info.stats.assignment_timeout_received.inc();
      this.staleTimer = setTimeout(() => this.onAssignmentStale(), staleAfterMs);
      this.staleTimer.unref();
    }
    this.replaceHosts(eps, opf);
  }

  private onAssignmentStale(): void {
    this.staleTimer = null;
    if (this.destroyed) return;
    log.warn(`cluster '${this.info.name}': ClusterLoadAssignment '${this.serviceName}' is stale (endpoint_stale_after); dropping its hosts`);
    this.info.stats.assignment_stale.inc();
    this.replaceHosts([], this.overprovisioningFactorValue);
  }

  /** Envoy's updateDynamicHostList per priority: keep hosts by address, add new, remove gone. */
  private replaceHosts(eps: EndpointRef[], opf: number): void {
    const next = new Map<string, HostImpl>();
    const byPriority = new Map<number, Host[]>();
    /** Kept hosts whose weight, health or priority changed: their priority levels must be rebuilt. */
    const touched = new Set<number>();
    for (const ep of eps) {
      const key = addressToString(ep.address, ep.port);
      if (next.has(key)) continue; // duplicate address: the first one wins
      const hostname = ep.lbe.hostIdentifier.case === 'endpoint' ? ep.lbe.hostIdentifier.value.hostname : '';
      const priority = ep.lle.priority;
      let host = this.hostsByAddress.get(key);
      if (host !== undefined && (host.hostname !== hostname || !sameLocality(host, ep))) host = undefined;
      if (host === undefined) {
        host = this.makeHost(ep, ep.address, hostname);
      } else {
        const weight = ep.lbe.loadBalancingWeight ?? 1;
        const flags = (host.healthFlags & ~EDS_FLAGS) | edsHealthFlags(ep.lbe.healthStatus);
        const localityWeight = ep.lle.loadBalancingWeight ?? 0;
        if (host.weight !== weight || host.healthFlags !== flags || host.localityWeight !== localityWeight) touched.add(priority);
        if (host.priority !== priority) {
          touched.add(host.priority);
          touched.add(priority);
        }
        host.weight = weight;
        host.localityWeight = localityWeight;
        host.healthFlags = flags;
        host.priority = priority;
        host.metadata = metadataOf(ep.lbe);
      }
      next.set(key, host);
      const list = byPriority.get(priority);
      if (list === undefined) byPriority.set(priority, [host]);
      else list.push(host);
    }

    const opfChanged = opf !== this.overprovisioningFactorValue;
    this.overprovisioningFactorValue = opf;
    let rebuilt = false;
    const levels = Math.max(this.prioritySet.hostSetsPerPriority.length, ...[...byPriority.keys()].map((p) => p + 1));
    this.prioritySet.batchUpdate(() => {
      for (let p = 0; p < levels; p++) {
        const current = this.prioritySet.hostSetsPerPriority[p]?.hosts ?? [];
        const wanted = byPriority.get(p) ?? [];
        if (sameList(current, wanted)) {
          // Same hosts in the same order (the usual repeat): rebuild only for changed weights or health.
          if (touched.has(p) || opfChanged) {
            this.setHosts(p, wanted, [], []);
            rebuilt = true;
          }
          continue;
        }
        const currentSet = new Set(current);
        const wantedSet = new Set(wanted);
        const added = wanted.filter((h) => !currentSet.has(h));
        const leaving = current.filter((h) => !wantedSet.has(h));
        if (added.length === 0 && leaving.length === 0 && !touched.has(p) && !opfChanged) continue;
        // A host that only moved to another priority is not removed: its pools stay.
        const removed = leaving.filter((h) => next.get(h.addressString) !== h);
        this.setHosts(p, wanted, added, removed);
        rebuilt = true;
      }
    });
    this.hostsByAddress = next;
    if (!rebuilt) this.info.stats.update_no_rebuild.inc();
  }
}

function sameLocality(host: HostImpl, ep: EndpointRef): boolean {
  const l = ep.lle.locality;
  return host.locality.region === (l?.region ?? '') && host.locality.zone === (l?.zone ?? '') && host.locality.subZone === (l?.subZone ?? '');
}

function sameList(a: ReadonlyArray<Host>, b: ReadonlyArray<Host>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
