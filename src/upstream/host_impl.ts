/**
 * Upstream hosts, after Envoy's `HostImpl` / `HostDescriptionImpl`
 * (source/common/upstream/upstream_impl.h).
 *
 * Health is a bit set of HealthFlag. Like Envoy's `coarseHealth()`:
 * - Unhealthy: failed active HC, failed outlier check, EDS UNHEALTHY/TIMEOUT,
 *   EDS DRAINING, or excluded (pending removal, pending first HC, immediate HC fail);
 * - Degraded: degraded by active HC or by EDS (DEGRADED);
 * - Healthy: otherwise.
 * `healthy()` is true only for Healthy; degraded hosts are still used, through
 * the degraded priority load (see load_balancer_impl.ts).
 *
 * A LOGICAL_DNS host keeps its identity while its address changes
 * (`setAddress`); connection pools read `address`/`port` when they connect, so
 * new connections use the latest address and old ones are left alone.
 */
import { HealthFlag, type ClusterInfo, type Host } from '../envoy/upstream/host.js';
import type { DetectorHostMonitor } from '../envoy/upstream/outlier_detection.js';
import type { HostStats } from '../envoy/upstream/stats.js';
import type { LbEndpoint, LocalityLbEndpoints } from '../generated/envoy/config/endpoint/v3/endpoint_components_pb.js';
import { HealthStatus } from './proto_enums.js';
import { addressToString } from '../network/address.js';

export class HostStatsImpl implements HostStats {
  cx_total = 0;
  cx_active = 0;
  cx_connect_fail = 0;
  rq_total = 0;
  rq_active = 0;
  rq_error = 0;
  rq_success = 0;
  rq_timeout = 0;
}

export type CoarseHealth = 'healthy' | 'degraded' | 'unhealthy';

const UNHEALTHY_FLAGS =
  HealthFlag.FailedActiveHc |
  HealthFlag.FailedOutlierCheck |
  HealthFlag.FailedEdsHealth |
  HealthFlag.EdsStatusDraining |
  HealthFlag.ActiveHcTimeout;

/** Flags that take a host out of the priority-level host count entirely (Envoy's excluded hosts). */
export const EXCLUDED_FLAGS =
  HealthFlag.PendingDynamicRemoval |
  HealthFlag.PendingActiveHc |
  HealthFlag.ExcludedViaImmediateHcFail |
  HealthFlag.EdsStatusDraining;

const DEGRADED_FLAGS = HealthFlag.DegradedActiveHc | HealthFlag.DegradedEdsHealth;

/** Envoy's admin names for the health flags, in its print order. */
const FLAG_NAMES: ReadonlyArray<readonly [number, string]> = [
  [HealthFlag.FailedActiveHc, 'failed_active_hc'],
  [HealthFlag.FailedOutlierCheck, 'failed_outlier_check'],
  [HealthFlag.FailedEdsHealth, 'failed_eds_health'],
  [HealthFlag.DegradedActiveHc, 'degraded_active_hc'],
  [HealthFlag.DegradedEdsHealth, 'degraded_eds_health'],
  [HealthFlag.PendingDynamicRemoval, 'pending_dynamic_removal'],
  [HealthFlag.PendingActiveHc, 'pending_active_hc'],
  [HealthFlag.ExcludedViaImmediateHcFail, 'excluded_via_immediate_hc_fail'],
  [HealthFlag.ActiveHcTimeout, 'active_hc_timeout'],
  [HealthFlag.EdsStatusDraining, 'eds_status_draining'],
];

/** `healthy`, or `/failed_active_hc/failed_eds_health` ... as admin /clusters prints health_flags. */
export function healthFlagsToString(flags: number): string {
  if (flags === 0) return 'healthy';
  let s = '';
  for (const [bit, name] of FLAG_NAMES) if (flags & bit) s += `/${name}`;
  return s;
}

export function coarseHealthOf(flags: number): CoarseHealth {
  if (flags & (UNHEALTHY_FLAGS | EXCLUDED_FLAGS)) return 'unhealthy';
  if (flags & DEGRADED_FLAGS) return 'degraded';
  return 'healthy';
}

/** The EDS health flags for an endpoint's `health_status` (as Envoy's setEdsHealthFlag). */
export function edsHealthFlags(healthStatus: number): number {
  switch (healthStatus) {
    case HealthStatus.UNHEALTHY:
    case HealthStatus.TIMEOUT:
      return HealthFlag.FailedEdsHealth;
    case HealthStatus.DRAINING:
      return HealthFlag.EdsStatusDraining;
    case HealthStatus.DEGRADED:
      return HealthFlag.DegradedEdsHealth;
    default:
      return 0; // UNKNOWN and HEALTHY
  }
}

export interface Locality {
  region: string;
  zone: string;
  subZone: string;
}

export interface HostInit {
  cluster: ClusterInfo;
  address: string;
  port: number;
  /** DNS name the host came from, or `endpoint.hostname`; '' for STATIC without one. */
  hostname?: string;
  weight?: number;
  priority?: number;
  locality?: Locality;
  metadata?: Record<string, Record<string, unknown>>;
  healthFlags?: number;
  /** `LocalityLbEndpoints.load_balancing_weight` of the host's locality (0 when unset). */
  localityWeight?: number;
}

export class HostImpl implements Host {
  readonly cluster: ClusterInfo;
  readonly hostname: string;
  readonly stats = new HostStatsImpl();
  /** Mutable: EDS moves a kept host between priorities and replaces its metadata in place (as Envoy). */
  priority: number;
  readonly locality: Locality;
  metadata: Record<string, Record<string, unknown>>;
  weight: number;
  healthFlags: number;
  /** The ThreadLocalCluster that saw this host removed by discovery (its pools are not kept); null while a member. */
  goneFrom: object | null = null;
  /** Set by the cluster's outlier detector (outlier_detection_impl.ts). */
  outlierDetector?: DetectorHostMonitor;
  /** Its locality's `load_balancing_weight` (0 = unset); mutable: EDS updates it in place. */
  localityWeight: number;
  private currentAddress: string;
  private currentPort: number;
  private currentAddressString: string;

  constructor(init: HostInit) {
    this.cluster = init.cluster;
    this.currentAddress = init.address;
    this.currentPort = init.port;
    this.currentAddressString = addressToString(init.address, init.port);
    this.hostname = init.hostname ?? '';
    this.weight = init.weight ?? 1;
    this.priority = init.priority ?? 0;
    this.locality = init.locality ?? { region: '', zone: '', subZone: '' };
    this.metadata = init.metadata ?? {};
    this.healthFlags = init.healthFlags ?? 0;
    this.localityWeight = init.localityWeight ?? 0;
  }

  get address(): string {
    return this.currentAddress;
  }

  get port(): number {
    return this.currentPort;
  }

  get addressString(): string {
    return this.currentAddressString;
  }

  /** Outstanding requests; the same number as `stats.rq_active`. */
  get activeRequests(): number {
    return this.stats.rq_active;
  }

  set activeRequests(v: number) {
    this.stats.rq_active = v;
  }

  healthy(): boolean {
    return coarseHealthOf(this.healthFlags) === 'healthy';
  }

  coarseHealth(): CoarseHealth {
    return coarseHealthOf(this.healthFlags);
  }

  healthFlagSet(flag: number): void {
    this.healthFlags |= flag;
  }

  healthFlagClear(flag: number): void {
    this.healthFlags &= ~flag;
  }

  healthFlagGet(flag: number): boolean {
    return (this.healthFlags & flag) !== 0;
  }

  /** LOGICAL_DNS: the host now points at `address` (same port); identity and stats are kept. */
  setAddress(address: string): void {
    this.currentAddress = address;
    this.currentAddressString = addressToString(address, this.currentPort);
  }
}

/** A key that orders localities as Envoy's LocalityLess: region, then zone, then sub-zone. */
export function localityKey(l: Locality): string {
  return `${l.region}\u0000${l.zone}\u0000${l.subZone}`;
}

/** Locality fields of a LocalityLbEndpoints. */
export function localityOf(lle: LocalityLbEndpoints): Locality {
  return { region: lle.locality?.region ?? '', zone: lle.locality?.zone ?? '', subZone: lle.locality?.subZone ?? '' };
}

/** `filter_metadata` of an endpoint (Struct values arrive as plain JSON objects). */
export function metadataOf(lbe: LbEndpoint): Record<string, Record<string, unknown>> {
  return (lbe.metadata?.filterMetadata ?? {}) as Record<string, Record<string, unknown>>;
}
