/**
 * What every cluster type shares, after Envoy's `ClusterImplBase`: the
 * ClusterInfo, the PrioritySet, the initialization ("warming") promise, the
 * membership stats, and building hosts from `load_assignment` endpoints.
 *
 * Lifecycle: construct (validates config, throws ConfigError) ->
 * `initialize()` (starts discovery; resolves once the first resolution of
 * every endpoint has completed, successfully or not, or at once with
 * `wait_for_warm_on_init: false`) -> `destroy()` (stops timers and queries).
 */
import type { Host } from '../envoy/upstream/host.js';
import type { Cluster } from '../generated/envoy/config/cluster/v3/cluster_pb.js';
import type { LbEndpoint, LocalityLbEndpoints } from '../generated/envoy/config/endpoint/v3/endpoint_components_pb.js';
import type { ClusterInfoImpl } from './cluster_info_impl.js';
import { HostImpl, edsHealthFlags, localityOf, metadataOf } from './host_impl.js';
import { DEFAULT_OVERPROVISIONING_FACTOR, PrioritySetImpl } from './priority_set_impl.js';
import { ConfigError, notSupportedYet, socketAddressOf } from './proto_util.js';

/** One `lb_endpoints[]` entry with where it sits in the config. */
export interface EndpointRef {
  lle: LocalityLbEndpoints;
  lbe: LbEndpoint;
  /** Field path of the LbEndpoint, for errors. */
  path: string;
  address: string;
  port: number;
}

export abstract class ClusterImplBase {
  readonly prioritySet = new PrioritySetImpl();
  /** ClusterLoadAssignment.policy.overprovisioning_factor (percent). */
  readonly overprovisioningFactor: number;
  protected destroyed = false;
  private initStarted = false;
  private initDone = false;
  private readonly initPromise: Promise<void>;
  private resolveInit!: () => void;

  constructor(
    readonly info: ClusterInfoImpl,
    /** Field path of the cluster, for errors. */
    protected readonly base: string,
  ) {
    this.initPromise = new Promise<void>((resolve) => {
      this.resolveInit = resolve;
    });
    const policy = info.config.loadAssignment?.policy;
    if (policy?.weightedPriorityHealth === true) {
      throw notSupportedYet(`${base}.load_assignment.policy.weighted_priority_health`, 'weighted_priority_health');
    }
    const opf = policy?.overprovisioningFactor ?? DEFAULT_OVERPROVISIONING_FACTOR;
    if (opf <= 0) throw new ConfigError(`${base}.load_assignment.policy.overprovisioning_factor`, 'must be greater than 0');
    this.overprovisioningFactor = opf;
    this.prioritySet.getOrCreateHostSet(0).overprovisioningFactor = opf;
    this.prioritySet.addMemberUpdateCb((_p, added, removed) => this.updateMembershipStats(added.length + removed.length > 0));
  }

  get config(): Cluster {
    return this.info.config;
  }

  /** True once the first resolution completed (or the cluster needs none). */
  get isInitialized(): boolean {
    return this.initDone;
  }

  /** Starts discovery (once) and resolves when the cluster is warm. */
  initialize(): Promise<void> {
    if (!this.initStarted) {
      this.initStarted = true;
      this.startPreInit();
      if (this.config.waitForWarmOnInit === false) this.onPreInitComplete();
    }
    return this.initPromise;
  }

  /** Stops timers and outstanding queries; the host lists stay as they were. */
  destroy(): void {
    this.destroyed = true;
    this.onPreInitComplete(); // nobody should wait on a dead cluster
  }

  /** Starts the first discovery; call onPreInitComplete() when it is done. */
  protected abstract startPreInit(): void;

  protected onPreInitComplete(): void {
    if (this.initDone) return;
    this.initDone = true;
    this.resolveInit();
  }

  /** Every lb_endpoint of load_assignment, with addresses validated as socket addresses. */
  protected endpoints(): EndpointRef[] {
    const out: EndpointRef[] = [];
    const la = this.config.loadAssignment;
    if (la === undefined) return out;
    la.endpoints.forEach((lle, i) => {
      const llePath = `${this.base}.load_assignment.endpoints[${i}]`;
      if (lle.lbConfig.case === 'ledsClusterLocalityConfig') {
        throw notSupportedYet(`${llePath}.leds_cluster_locality_config`, 'LEDS');
      }
      const lbes = lle.lbConfig.case === 'loadBalancerEndpoints' ? lle.lbConfig.value.lbEndpoints : lle.lbEndpoints;
      lbes.forEach((lbe, j) => {
        const path = `${llePath}.lb_endpoints[${j}]`;
        if (lbe.hostIdentifier.case !== 'endpoint') {
          throw notSupportedYet(`${path}.endpoint_name`, 'named endpoints');
        }
        if (lbe.loadBalancingWeight !== undefined && lbe.loadBalancingWeight < 1) {
          throw new ConfigError(`${path}.load_balancing_weight`, `must be at least 1, got ${lbe.loadBalancingWeight}`);
        }
        const sa = socketAddressOf(lbe.hostIdentifier.value.address, `${path}.endpoint.address`);
        if (sa.resolverName !== '') {
          throw notSupportedYet(`${path}.endpoint.address.socket_address.resolver_name`, 'a custom resolver_name');
        }
        out.push({ lle, lbe, path, address: sa.address, port: sa.port });
      });
    });
    return out;
  }

  /** A host for `ep` at `address` (a resolved IP). */
  protected makeHost(ep: EndpointRef, address: string, hostname: string, priority = ep.lle.priority): HostImpl {
    return new HostImpl({
      cluster: this.info,
      address,
      port: ep.port,
      hostname,
      weight: ep.lbe.loadBalancingWeight ?? 1,
      priority,
      locality: localityOf(ep.lle),
      metadata: metadataOf(ep.lbe),
      healthFlags: edsHealthFlags(ep.lbe.healthStatus),
    });
  }

  /** Replaces the hosts of one priority level and notifies the load balancer. */
  protected setHosts(priority: number, hosts: Host[], added: Host[], removed: Host[]): void {
    this.prioritySet.updateHosts(priority, hosts, added, removed, this.overprovisioningFactor);
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

