/**
 * Upstream host and cluster-info interfaces, after Envoy's `envoy/upstream`.
 * A Host is one endpoint of a cluster; ClusterInfo is the cluster's compiled,
 * immutable settings and stats. Both are created by the cluster manager when a
 * cluster is added and are shared by every request.
 */
import type { DetectorHostMonitor } from './outlier_detection.js';
import type { ClusterStats, HostStats } from './stats.js';
import type { HealthCheckHostMonitor } from './health_checker.js';

/** Health flags on a host (bit set), as Envoy's `Host::HealthFlag`. */
export const enum HealthFlag {
  FailedActiveHc = 1 << 0,
  FailedOutlierCheck = 1 << 1,
  FailedEdsHealth = 1 << 2,
  DegradedActiveHc = 1 << 3,
  DegradedEdsHealth = 1 << 4,
  PendingDynamicRemoval = 1 << 5,
  PendingActiveHc = 1 << 6,
  ExcludedViaImmediateHcFail = 1 << 7,
  ActiveHcTimeout = 1 << 8,
  EdsStatusDraining = 1 << 9,
}

export interface HostDescription {
  /** `ip:port` (or hostname:port for LOGICAL_DNS before resolution); what %UPSTREAM_HOST% prints. */
  readonly addressString: string;
  /** Resolved IP (or the configured address). */
  readonly address: string;
  readonly port: number;
  /** The DNS name this host came from, if any (for auto_host_rewrite). */
  readonly hostname: string;
  readonly cluster: ClusterInfo;
  readonly stats: HostStats;
  /** Endpoint priority level (0 = highest). */
  readonly priority: number;
  /** Locality zone/region/sub_zone, for stats and LB. */
  readonly locality: { region: string; zone: string; subZone: string };
  /** Endpoint metadata (filter_metadata by namespace). */
  readonly metadata: Record<string, Record<string, unknown>>;
}

export interface Host extends HostDescription {
  /** `load_balancing_weight` (1 when unset). */
  weight: number;
  /** Bit set of HealthFlag. */
  healthFlags: number;
  /** True when no health flag excludes it from load balancing. */
  healthy(): boolean;
  /** Outstanding requests on this host (least-request LB reads it). */
  activeRequests: number;
  /** Outlier detection's monitor, when the cluster has outlier_detection (the data path reports into it). */
  outlierDetector?: DetectorHostMonitor;
  /** The cluster's active health checker for this host (absent without health_checks). */
  healthChecker?: HealthCheckHostMonitor;
}

/** Per-priority circuit breaker limits and their current use. */
export interface ResourceLimit {
  readonly max: number;
  count: number;
  canCreate(): boolean;
  inc(): void;
  dec(): void;
}

export interface ResourceManager {
  readonly connections: ResourceLimit;
  readonly pendingRequests: ResourceLimit;
  readonly requests: ResourceLimit;
  readonly retries: ResourceLimit;
}

export type UpstreamProtocol = 'http1' | 'http2';

export interface ClusterInfo {
  readonly name: string;
  /** The name stats are emitted under (`alt_stat_name` or the name). */
  readonly statName: string;
  readonly connectTimeoutMs: number;
  /** Upstream connection idle timeout in ms (0 = none). */
  readonly idleTimeoutMs: number;
  readonly perConnectionBufferLimitBytes: number;
  /** Max requests per upstream connection (0 = unlimited). */
  readonly maxRequestsPerConnection: number;
  readonly upstreamProtocol: UpstreamProtocol;
  /**
   * `use_downstream_protocol_config` / `protocol_selection: USE_DOWNSTREAM_PROTOCOL`:
   * each request goes upstream in its downstream protocol (router/upstream_protocol.ts).
   */
  readonly useDownstreamProtocol: boolean;
  /** `auto_config`: HTTP/1.1 or HTTP/2 per connection by ALPN (needs a TLS transport socket). */
  readonly alpnAutoConfig: boolean;
  /** `common_http_protocol_options.max_stream_duration` of upstream streams in ms (0 = none). */
  readonly maxStreamDurationMs: number;
  /** `common_http_protocol_options.max_connection_duration` in ms (0 = none). */
  readonly maxConnectionDurationMs: number;
  /** `common_http_protocol_options.max_headers_count` for upstream responses (0 = codec default). */
  readonly maxHeadersCount: number;
  readonly stats: ClusterStats;
  /** Circuit breakers by priority (index 0 DEFAULT, 1 HIGH). */
  resourceManager(priority: number): ResourceManager;
  /** The raw cluster config, for extensions that need more. */
  readonly config: unknown;
}
