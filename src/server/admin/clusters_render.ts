/**
 * `/clusters`, after Envoy's `clusters_handler.cc` / `clusters_renderer.cc`.
 *
 * Text, per cluster:
 *
 *   backend::observability_name::backend
 *   backend::default_priority::max_connections::1024
 *   backend::default_priority::max_pending_requests::1024
 *   backend::default_priority::max_requests::1024
 *   backend::default_priority::max_retries::3
 *   backend::high_priority::max_connections::1024
 *   ...
 *   backend::added_via_api::false
 *   backend::10.0.0.1:8080::cx_active::0          (host stats, sorted by name)
 *   ...
 *   backend::10.0.0.1:8080::hostname::
 *   backend::10.0.0.1:8080::health_flags::healthy (or /failed_active_hc/failed_outlier_check...)
 *   backend::10.0.0.1:8080::weight::1
 *   backend::10.0.0.1:8080::region::
 *   backend::10.0.0.1:8080::zone::
 *   backend::10.0.0.1:8080::sub_zone::
 *   backend::10.0.0.1:8080::canary::false
 *   backend::10.0.0.1:8080::priority::0
 *   backend::10.0.0.1:8080::success_rate::-1
 *   backend::10.0.0.1:8080::local_origin_success_rate::-1
 *
 * JSON (`?format=json`): envoy.admin.v3.Clusters, pretty-printed. Clusters
 * are listed by name (Envoy's order is its hash map's).
 */
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { ClustersSchema, type HostStatusSchema } from '../../generated/envoy/admin/v3/clusters_pb.js';
import { SimpleMetric_Type } from '../../generated/envoy/admin/v3/metrics_pb.js';
import { RoutingPriority } from '../../generated/envoy/config/core/v3/base_pb.js';
import { HealthStatus } from '../../generated/envoy/config/core/v3/health_check_pb.js';
import type { HostStats } from '../../envoy/upstream/stats.js';
import { formatG, formatShortest } from '../../stats/fmt.js';
import type { AdminHandler, AdminResponse } from './admin_types.js';
import { addressProto, socketAddressString, type SocketAddressSnapshot } from './listeners_render.js';
import { protoJson } from './server_info_handler.js';
import { APPLICATION_JSON } from './stats_handler.js';

/** Circuit-breaker limits of one priority. */
export interface CircuitBreakerThresholdsSnapshot {
  readonly maxConnections: number;
  readonly maxPendingRequests: number;
  readonly maxRequests: number;
  readonly maxRetries: number;
}

/** Envoy's defaults (1024/1024/1024/3), for a cluster without circuit_breakers. */
export const DEFAULT_CIRCUIT_BREAKER_THRESHOLDS: CircuitBreakerThresholdsSnapshot = {
  maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: 3,
};

/** Host health flags, in Envoy's HEALTH_FLAG_ENUM_VALUES order; absent means false. */
export interface HostHealthFlagsSnapshot {
  readonly failedActiveHc?: boolean;
  readonly failedOutlierCheck?: boolean;
  readonly failedEdsHealth?: boolean;
  readonly degradedActiveHc?: boolean;
  readonly degradedEdsHealth?: boolean;
  readonly pendingDynamicRemoval?: boolean;
  readonly pendingActiveHc?: boolean;
  readonly excludedViaImmediateHcFail?: boolean;
  readonly activeHcTimeout?: boolean;
  readonly edsStatusDraining?: boolean;
}

export interface HostStatusSnapshot {
  readonly address: SocketAddressSnapshot;
  readonly hostname?: string;
  readonly stats: HostStats;
  readonly healthFlags?: HostHealthFlagsSnapshot;
  readonly weight: number;
  readonly locality?: { readonly region?: string; readonly zone?: string; readonly subZone?: string };
  readonly canary?: boolean;
  readonly priority: number;
  /** Outlier-detection success rate in percent; -1 (the default) when not computed. */
  readonly successRate?: number;
  readonly localOriginSuccessRate?: number;
}

/** Outlier detector figures (only for clusters with outlier_detection). */
export interface OutlierSnapshot {
  readonly successRateAverage: number;
  readonly successRateEjectionThreshold: number;
  readonly localOriginSuccessRateAverage: number;
  readonly localOriginSuccessRateEjectionThreshold: number;
}

/** What the server reports per active cluster. */
export interface ClusterStatusSnapshot {
  readonly name: string;
  /** alt_stat_name; defaults to the name. */
  readonly observabilityName?: string;
  readonly addedViaApi: boolean;
  readonly edsServiceName?: string;
  readonly circuitBreakers?: {
    readonly default?: CircuitBreakerThresholdsSnapshot;
    readonly high?: CircuitBreakerThresholdsSnapshot;
  };
  readonly outlier?: OutlierSnapshot;
  readonly hosts: readonly HostStatusSnapshot[];
}

const HEALTH_FLAG_TEXT: ReadonlyArray<readonly [keyof HostHealthFlagsSnapshot, string]> = [
  ['failedActiveHc', '/failed_active_hc'],
  ['failedOutlierCheck', '/failed_outlier_check'],
  ['failedEdsHealth', '/failed_eds_health'],
  ['degradedActiveHc', '/degraded_active_hc'],
  ['degradedEdsHealth', '/degraded_eds_health'],
  ['pendingDynamicRemoval', '/pending_dynamic_removal'],
  ['pendingActiveHc', '/pending_active_hc'],
  ['excludedViaImmediateHcFail', '/excluded_via_immediate_hc_fail'],
  ['activeHcTimeout', '/active_hc_timeout'],
  ['edsStatusDraining', '/eds_status_draining'],
];

/** Envoy's HostUtility::healthFlagsToString: `healthy`, or the set flags joined. */
export function healthFlagsToString(flags: HostHealthFlagsSnapshot | undefined): string {
  let s = '';
  if (flags !== undefined) for (const [k, text] of HEALTH_FLAG_TEXT) if (flags[k] === true) s += text;
  return s === '' ? 'healthy' : s;
}

const HOST_COUNTERS = ['cx_connect_fail', 'cx_total', 'rq_error', 'rq_success', 'rq_timeout', 'rq_total'] as const;
const HOST_GAUGES = ['cx_active', 'rq_active'] as const;
const HOST_STATS_SORTED = [...HOST_COUNTERS, ...HOST_GAUGES].sort();

function sorted(clusters: readonly ClusterStatusSnapshot[]): ClusterStatusSnapshot[] {
  return [...clusters].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export function renderClustersText(clusters: readonly ClusterStatusSnapshot[]): string {
  const out: string[] = [];
  for (const c of sorted(clusters)) {
    const n = c.name;
    out.push(`${n}::observability_name::${c.observabilityName ?? n}\n`);
    if (c.outlier !== undefined) {
      out.push(`${n}::outlier::success_rate_average::${formatG(c.outlier.successRateAverage)}\n`);
      out.push(`${n}::outlier::success_rate_ejection_threshold::${formatG(c.outlier.successRateEjectionThreshold)}\n`);
      out.push(`${n}::outlier::local_origin_success_rate_average::${formatG(c.outlier.localOriginSuccessRateAverage)}\n`);
      out.push(`${n}::outlier::local_origin_success_rate_ejection_threshold::${formatG(c.outlier.localOriginSuccessRateEjectionThreshold)}\n`);
    }
    for (const [label, t] of [
      ['default', c.circuitBreakers?.default ?? DEFAULT_CIRCUIT_BREAKER_THRESHOLDS],
      ['high', c.circuitBreakers?.high ?? DEFAULT_CIRCUIT_BREAKER_THRESHOLDS],
    ] as const) {
      out.push(`${n}::${label}_priority::max_connections::${t.maxConnections}\n`);
      out.push(`${n}::${label}_priority::max_pending_requests::${t.maxPendingRequests}\n`);
      out.push(`${n}::${label}_priority::max_requests::${t.maxRequests}\n`);
      out.push(`${n}::${label}_priority::max_retries::${t.maxRetries}\n`);
    }
    out.push(`${n}::added_via_api::${c.addedViaApi}\n`);
    if (c.edsServiceName !== undefined && c.edsServiceName !== '') out.push(`${n}::eds_service_name::${c.edsServiceName}\n`);
    for (const h of c.hosts) {
      const p = `${n}::${socketAddressString(h.address)}::`;
      for (const stat of HOST_STATS_SORTED) out.push(`${p}${stat}::${h.stats[stat]}\n`);
      out.push(`${p}hostname::${h.hostname ?? ''}\n`);
      out.push(`${p}health_flags::${healthFlagsToString(h.healthFlags)}\n`);
      out.push(`${p}weight::${h.weight}\n`);
      out.push(`${p}region::${h.locality?.region ?? ''}\n`);
      out.push(`${p}zone::${h.locality?.zone ?? ''}\n`);
      out.push(`${p}sub_zone::${h.locality?.subZone ?? ''}\n`);
      out.push(`${p}canary::${h.canary === true}\n`);
      out.push(`${p}priority::${h.priority}\n`);
      out.push(`${p}success_rate::${formatShortest(h.successRate ?? -1)}\n`);
      out.push(`${p}local_origin_success_rate::${formatShortest(h.localOriginSuccessRate ?? -1)}\n`);
    }
  }
  return out.join('');
}

function edsHealth(flags: HostHealthFlagsSnapshot | undefined): HealthStatus {
  if (flags?.failedEdsHealth === true) return HealthStatus.UNHEALTHY;
  if (flags?.degradedEdsHealth === true) return HealthStatus.DEGRADED;
  if (flags?.edsStatusDraining === true) return HealthStatus.DRAINING;
  return HealthStatus.HEALTHY;
}

function hostJson(h: HostStatusSnapshot): MessageInitShape<typeof HostStatusSchema> {
  const f = h.healthFlags ?? {};
  return {
    address: addressProto(h.address),
    stats: [
      ...HOST_COUNTERS.map((name) => ({ name, value: BigInt(h.stats[name]), type: SimpleMetric_Type.COUNTER })),
      ...HOST_GAUGES.map((name) => ({ name, value: BigInt(h.stats[name]), type: SimpleMetric_Type.GAUGE })),
    ],
    healthStatus: {
      failedActiveHealthCheck: f.failedActiveHc === true,
      failedOutlierCheck: f.failedOutlierCheck === true,
      edsHealthStatus: edsHealth(f),
      failedActiveDegradedCheck: f.degradedActiveHc === true,
      pendingDynamicRemoval: f.pendingDynamicRemoval === true,
      pendingActiveHc: f.pendingActiveHc === true,
      excludedViaImmediateHcFail: f.excludedViaImmediateHcFail === true,
      activeHcTimeout: f.activeHcTimeout === true,
    },
    ...(h.successRate !== undefined && h.successRate >= 0 ? { successRate: { value: h.successRate } } : {}),
    weight: h.weight,
    hostname: h.hostname ?? '',
    priority: h.priority,
    ...(h.localOriginSuccessRate !== undefined && h.localOriginSuccessRate >= 0
      ? { localOriginSuccessRate: { value: h.localOriginSuccessRate } } : {}),
    locality: { region: h.locality?.region ?? '', zone: h.locality?.zone ?? '', subZone: h.locality?.subZone ?? '' },
  };
}

export function renderClustersJson(clusters: readonly ClusterStatusSnapshot[]): string {
  const thresholds = (priority: RoutingPriority, t: CircuitBreakerThresholdsSnapshot) => ({
    priority,
    maxConnections: t.maxConnections,
    maxPendingRequests: t.maxPendingRequests,
    maxRequests: t.maxRequests,
    maxRetries: t.maxRetries,
  });
  const message = create(ClustersSchema, {
    clusterStatuses: sorted(clusters).map((c) => ({
      name: c.name,
      observabilityName: c.observabilityName ?? c.name,
      edsServiceName: c.edsServiceName ?? '',
      circuitBreakers: {
        thresholds: [
          thresholds(RoutingPriority.DEFAULT, c.circuitBreakers?.default ?? DEFAULT_CIRCUIT_BREAKER_THRESHOLDS),
          thresholds(RoutingPriority.HIGH, c.circuitBreakers?.high ?? DEFAULT_CIRCUIT_BREAKER_THRESHOLDS),
        ],
      },
      ...(c.outlier !== undefined && c.outlier.successRateEjectionThreshold > 0
        ? { successRateEjectionThreshold: { value: c.outlier.successRateEjectionThreshold } } : {}),
      ...(c.outlier !== undefined && c.outlier.localOriginSuccessRateEjectionThreshold > 0
        ? { localOriginSuccessRateEjectionThreshold: { value: c.outlier.localOriginSuccessRateEjectionThreshold } } : {}),
      addedViaApi: c.addedViaApi,
      hostStatuses: c.hosts.map(hostJson),
    })),
  });
  return protoJson(ClustersSchema, message, false);
}

/** A `/clusters` handler over the server's snapshot function. */
export function clustersHandler(snapshot: () => readonly ClusterStatusSnapshot[]): AdminHandler {
  return (req): AdminResponse => {
    const clusters = snapshot();
    if (req.query.get('format') === 'json') {
      return { status: 200, contentType: APPLICATION_JSON, body: renderClustersJson(clusters) };
    }
    return { status: 200, body: renderClustersText(clusters) };
  };
}
