/**
 * What every cluster type shares, after Envoy's `ClusterImplBase`: the
 * ClusterInfo, the PrioritySet, the initialization ("warming") promise, the
 * membership stats, and building hosts from `load_assignment` endpoints.
 *
 * Lifecycle: construct (validates config, throws ConfigError) ->
 * `initialize()` (starts discovery; resolves once the first resolution of
 * every endpoint has completed, successfully or not, or at once with
 * `wait_for_warm_on_init: false`) -> `destroy()` (stops timers and queries).
 * `onInitialized(cb)` is the synchronous form, for the cluster manager, which
 * must make a warm cluster routable in the same tick.
 *
 * Active health checking (setHealthChecker): hosts start failed_active_hc
 * (and pending_active_hc for hosts added after start-up with
 * common_lb_config.ignore_new_hosts_until_first_hc), the checker starts with
 * initialize(), and warming also waits for the first check of every host, as
 * Envoy's onInitDone does. A check that changes a host's health rebuilds the
 * host sets, so the load balancer stops (or resumes) picking it.
 *
 * Initialize phase (Envoy's InitializePhase): EDS clusters fed over a gRPC
 * or ADS config source are `secondary` — they start after the primary
 * clusters, one of which usually carries their xDS stream.
 */
import { HealthFlag, type Host } from '../envoy/upstream/host.js';
import { HealthState, HealthTransition, type HealthChecker } from '../envoy/upstream/health_checker.js';
import type { Cluster } from '../generated/envoy/config/cluster/v3/cluster_pb.js';
import type { LbEndpoint, LocalityLbEndpoints } from '../generated/envoy/config/endpoint/v3/endpoint_components_pb.js';
import type { ClusterLoadAssignment, ClusterLoadAssignment_Policy } from '../generated/envoy/config/endpoint/v3/endpoint_pb.js';
import { isIP } from 'node:net';
import type { ClusterInfoImpl } from './cluster_info_impl.js';
import type { DetectorImpl } from './outlier_detection_impl.js';
import { HostImpl, edsHealthFlags, localityKey, localityOf, metadataOf } from './host_impl.js';
import { DEFAULT_OVERPROVISIONING_FACTOR, PrioritySetImpl } from './priority_set_impl.js';
import { ConfigError, notSupportedYet, socketAddressOf } from './proto_util.js';

/** One `lb_endpoints[]` entry with where it sits in the config. */
export interface EndpointRef {
  readonly lle: LocalityLbEndpoints;
  readonly lbe: LbEndpoint;
  /** Field path of the LbEndpoint, for errors (built when asked: EDS may carry 10,000s of endpoints). */
  readonly path: string;
  readonly address: string;
  readonly port: number;
}

class EndpointRefImpl implements EndpointRef {
  constructor(
    readonly lle: LocalityLbEndpoints,
    readonly lbe: LbEndpoint,
    private readonly llePath: string,
    private readonly index: number,
    readonly address: string,
    readonly port: number,
  ) {}

  get path(): string {
    return `${this.llePath}.lb_endpoints[${this.index}]`;
  }
}

export type InitializePhase = 'primary' | 'secondary';

export abstract class ClusterImplBase {
  readonly prioritySet = new PrioritySetImpl();
  /** Overprovisioning factor (percent) of the current assignment (load_assignment or the last EDS one). */
  protected overprovisioningFactorValue: number;
  protected destroyed = false;
  private initStarted = false;
  private initDone = false;
  private readonly initPromise: Promise<void>;
  private resolveInit!: () => void;
  private readonly initCallbacks: Array<() => void> = [];
  /** Outlier detection, when the cluster has `outlier_detection` (see setOutlierDetector). */
  outlierDetector: DetectorImpl | null = null;
  private healthCheckerValue: HealthChecker | null = null;
  /** Hosts whose first health check warming still waits for. */
  private pendingInitializeHealthChecks = 0;
  private preInitDone = false;

  constructor(
    readonly info: ClusterInfoImpl,
    /** Field path of the cluster, for errors. */
    protected readonly base: string,
  ) {
    this.initPromise = new Promise<void>((resolve) => {
      this.resolveInit = resolve;
    });
    this.overprovisioningFactorValue = overprovisioningFactorOf(info.config.loadAssignment?.policy, `${base}.load_assignment.policy`);
    this.prioritySet.getOrCreateHostSet(0).overprovisioningFactor = this.overprovisioningFactorValue;
    // Membership stats once per update (an EDS assignment touching several priorities counts one change).
    let membershipChanged = false;
    this.prioritySet.addMemberUpdateCb((_p, added, removed) => {
      if (added.length + removed.length > 0) membershipChanged = true;
    });
    this.prioritySet.addUpdateCb(() => {
      this.updateMembershipStats(membershipChanged);
      membershipChanged = false;
    });
  }

  /** ClusterLoadAssignment.policy.overprovisioning_factor (percent). */
  get overprovisioningFactor(): number {
    return this.overprovisioningFactorValue;
  }

  get config(): Cluster {
    return this.info.config;
  }

  /** Primary clusters initialize first; see the file comment. */
  get initializePhase(): InitializePhase {
    return 'primary';
  }

  /** True once the first resolution completed (or the cluster needs none). */
  get isInitialized(): boolean {
    return this.initDone;
  }

  /** The active health checker (null without health_checks). */
  get healthChecker(): HealthChecker | null {
    return this.healthCheckerValue;
  }

  /** Envoy's setHealthChecker: host set rebuilds on health changes; started by initialize(). */
  setHealthChecker(hc: HealthChecker): void {
    this.healthCheckerValue = hc;
    hc.addHostCheckCompleteCb((host, changed, result) => {
      if (changed === HealthTransition.Changed && !this.destroyed) this.prioritySet.refreshHealth(host.priority);
      // Envoy: a passing active check un-ejects an outlier (successful_active_health_check_uneject_host).
      if (result === HealthState.Healthy) this.outlierDetector?.onActiveHealthCheckSuccess(host);
    });
  }

  /** Starts discovery (once) and resolves when the cluster is warm. */
  initialize(): Promise<void> {
    if (!this.initStarted) {
      this.initStarted = true;
      this.healthCheckerValue?.start();
      this.startPreInit();
      if (this.config.waitForWarmOnInit === false) this.onPreInitComplete();
    }
    return this.initPromise;
  }

  /** Runs `cb` synchronously once the cluster is warm (at once if it already is). */
  onInitialized(cb: () => void): void {
    if (this.initDone) cb();
    else this.initCallbacks.push(cb);
  }

  /** Attaches outlier detection: an ejection or return re-partitions the host's priority so the LB follows. */
  setOutlierDetector(detector: DetectorImpl): void {
    this.outlierDetector = detector;
    detector.addChangedStateCb((host) => this.prioritySet.refreshHealth(host.priority));
  }

  /** Stops timers and outstanding queries; the host lists stay as they were. */
  destroy(): void {
    this.destroyed = true;
    this.outlierDetector?.destroy();
    this.healthCheckerValue?.stop();
    this.finishInitialization(); // nobody should wait on a dead cluster
  }

  /** Starts the first discovery; call onPreInitComplete() when it is done. */
  protected abstract startPreInit(): void;

  protected onPreInitComplete(): void {
    if (this.preInitDone || this.initDone) return;
    this.preInitDone = true;
    const hc = this.healthCheckerValue;
    if (hc !== null && !this.destroyed) {
      // Envoy's onInitDone: wait for one check result per host (every completed check counts one).
      let hosts = 0;
      for (const hs of this.prioritySet.hostSetsPerPriority) hosts += hs.hosts.length;
      if (hosts > 0) {
        this.pendingInitializeHealthChecks = hosts;
        hc.addHostCheckCompleteCb(() => {
          if (this.pendingInitializeHealthChecks > 0 && --this.pendingInitializeHealthChecks === 0) this.finishInitialization();
        });
        return;
      }
    }
    this.finishInitialization();
  }

  private finishInitialization(): void {
    if (this.initDone) return;
    this.initDone = true;
    this.resolveInit();
    for (const cb of this.initCallbacks.splice(0)) cb();
  }

  /** Every lb_endpoint of the cluster's load_assignment, with addresses validated as socket addresses. */
  protected endpoints(): EndpointRef[] {
    return endpointsOf(this.config.loadAssignment, `${this.base}.load_assignment`);
  }

  /** A host for `ep` at `address` (a resolved IP). */
  protected makeHost(ep: EndpointRef, address: string, hostname: string, priority = ep.lle.priority): HostImpl {
    let hcFlags = 0;
    if (this.config.healthChecks.length > 0) {
      // Unhealthy until its first check passes (Envoy: FAILED_ACTIVE_HC; PENDING_ACTIVE_HC keeps
      // a host added after start-up out of the host counts too, with ignore_new_hosts_until_first_hc).
      hcFlags = HealthFlag.FailedActiveHc;
      if (this.initStarted && this.config.commonLbConfig?.ignoreNewHostsUntilFirstHc === true) hcFlags |= HealthFlag.PendingActiveHc;
    }
    return new HostImpl({
      cluster: this.info,
      address,
      port: ep.port,
      hostname,
      weight: ep.lbe.loadBalancingWeight ?? 1,
      priority,
      locality: localityOf(ep.lle),
      metadata: metadataOf(ep.lbe),
      healthFlags: edsHealthFlags(ep.lbe.healthStatus) | hcFlags,
      localityWeight: ep.lle.loadBalancingWeight ?? 0,
    });
  }

  /** Replaces the hosts of one priority level and notifies the load balancer. */
  protected setHosts(priority: number, hosts: Host[], added: Host[], removed: Host[]): void {
    this.prioritySet.updateHosts(priority, hosts, added, removed, this.overprovisioningFactor, localityWeightsOf(hosts));
  }

  private updateMembershipStats(changed: boolean): void {
    let total = 0;
    let healthy = 0;
    let degraded = 0;
    let excluded = 0;
    let maxWeight = 0;
    for (const hs of this.prioritySet.hostSetsPerPriority) {
      total += hs.hosts.length;
      healthy += hs.healthyHosts.length;
      degraded += hs.degradedHosts.length;
      excluded += hs.excludedHosts.length;
      for (const h of hs.hosts) if (h.weight > maxWeight) maxWeight = h.weight;
    }
    const s = this.info.stats;
    s.membership_total.set(total);
    s.membership_healthy.set(healthy);
    s.membership_degraded.set(degraded);
    s.membership_excluded.set(excluded);
    s.max_host_weight.set(maxWeight);
    if (changed) s.membership_change.inc();
  }
}

/** Each locality's `load_balancing_weight`, from the hosts built for it (by `localityKey`). */
function localityWeightsOf(hosts: ReadonlyArray<Host>): Map<string, number> {
  const weights = new Map<string, number>();
  for (const h of hosts) if (h instanceof HostImpl) weights.set(localityKey(h.locality), h.localityWeight);
  return weights;
}

/** `policy.overprovisioning_factor` (default 140), refusing what Legate cannot honour. */
export function overprovisioningFactorOf(policy: ClusterLoadAssignment_Policy | undefined, path: string): number {
  if (policy?.weightedPriorityHealth === true) {
    throw notSupportedYet(`${path}.weighted_priority_health`, 'weighted_priority_health');
  }
  const opf = policy?.overprovisioningFactor ?? DEFAULT_OVERPROVISIONING_FACTOR;
  if (opf <= 0) throw new ConfigError(`${path}.overprovisioning_factor`, 'must be greater than 0');
  return opf;
}

/**
 * Every lb_endpoint of a ClusterLoadAssignment (`path` names it in errors),
 * with addresses validated as socket addresses and weights as at least 1.
 */
export function endpointsOf(la: ClusterLoadAssignment | undefined, path: string): EndpointRef[] {
  const out: EndpointRef[] = [];
  if (la === undefined) return out;
  la.endpoints.forEach((lle, i) => {
    const llePath = `${path}.endpoints[${i}]`;
    if (lle.lbConfig.case === 'ledsClusterLocalityConfig') {
      throw notSupportedYet(`${llePath}.leds_cluster_locality_config`, 'LEDS');
    }
    const lbes = lle.lbConfig.case === 'loadBalancerEndpoints' ? lle.lbConfig.value.lbEndpoints : lle.lbEndpoints;
    for (let j = 0; j < lbes.length; j++) {
      const lbe = lbes[j];
      const epPath = (): string => `${llePath}.lb_endpoints[${j}]`;
      if (lbe.hostIdentifier.case !== 'endpoint') {
        throw notSupportedYet(`${epPath()}.endpoint_name`, 'named endpoints');
      }
      if (lbe.loadBalancingWeight !== undefined && lbe.loadBalancingWeight < 1) {
        throw new ConfigError(`${epPath()}.load_balancing_weight`, `must be at least 1, got ${lbe.loadBalancingWeight}`);
      }
      const addr = lbe.hostIdentifier.value.address;
      const raw = addr?.address.case === 'socketAddress' ? addr.address.value : undefined;
      const valid = raw !== undefined && raw.portSpecifier.case !== 'namedPort' && raw.address !== '';
      // The field path is built only for an error (an assignment may hold 10,000s of endpoints).
      const sa = socketAddressOf(addr, valid ? '' : `${epPath()}.endpoint.address`);
      if (sa.resolverName !== '') {
        throw notSupportedYet(`${epPath()}.endpoint.address.socket_address.resolver_name`, 'a custom resolver_name');
      }
      out.push(new EndpointRefImpl(lle, lbe, llePath, j, sa.address, sa.port));
    }
  });
  return out;
}

/** STATIC and EDS endpoints are IP addresses, never names (Envoy's resolveProtoAddress). */
export function requireIpAddress(ep: EndpointRef, clusterKind: string): void {
  if (isIP(ep.address) === 0) {
    throw new ConfigError(
      `${ep.path}.endpoint.address.socket_address.address`,
      `malformed IP address: ${ep.address} (${clusterKind} clusters need IP addresses; use STRICT_DNS or LOGICAL_DNS for names)`,
    );
  }
}
