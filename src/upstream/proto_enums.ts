/**
 * Numeric values of the Envoy v3 enums the upstream code reads.
 *
 * Config arrives as protobuf-es messages whose enum fields are plain numbers.
 * The upstream layer imports generated code with `import type` only (nothing
 * from src/generated runs), so the generated TypeScript enums are not
 * available as values. These small const maps mirror them instead; the unit
 * test `test/upstream/proto_enums.test.ts` checks every value against the
 * descriptor registry built from `generated/envoy_api.binpb`, so a drift in the
 * protos fails the build's tests rather than silently misreading config.
 */

/** envoy.config.cluster.v3.Cluster.DiscoveryType */
export const DiscoveryType = {
  STATIC: 0,
  STRICT_DNS: 1,
  LOGICAL_DNS: 2,
  EDS: 3,
  ORIGINAL_DST: 4,
} as const;

/** envoy.config.cluster.v3.Cluster.LbPolicy */
export const LbPolicy = {
  ROUND_ROBIN: 0,
  LEAST_REQUEST: 1,
  RING_HASH: 2,
  RANDOM: 3,
  MAGLEV: 5,
  CLUSTER_PROVIDED: 6,
  LOAD_BALANCING_POLICY_CONFIG: 7,
} as const;

/** envoy.config.cluster.v3.Cluster.DnsLookupFamily */
export const DnsLookupFamilyValue = {
  AUTO: 0,
  V4_ONLY: 1,
  V6_ONLY: 2,
  V4_PREFERRED: 3,
  ALL: 4,
} as const;

/** envoy.config.cluster.v3.Cluster.ClusterProtocolSelection */
export const ClusterProtocolSelection = {
  USE_CONFIGURED_PROTOCOL: 0,
  USE_DOWNSTREAM_PROTOCOL: 1,
} as const;

/** envoy.config.core.v3.HealthStatus */
export const HealthStatus = {
  UNKNOWN: 0,
  HEALTHY: 1,
  UNHEALTHY: 2,
  DRAINING: 3,
  TIMEOUT: 4,
  DEGRADED: 5,
} as const;

/** envoy.config.core.v3.RoutingPriority */
export const RoutingPriority = {
  DEFAULT: 0,
  HIGH: 1,
} as const;

/** envoy.extensions.load_balancing_policies.least_request.v3.LeastRequest.SelectionMethod */
export const LeastRequestSelectionMethod = {
  N_CHOICES: 0,
  FULL_SCAN: 1,
} as const;

/** Reverse lookup for error messages: the enum value's name, or the number. */
export function enumName(map: Readonly<Record<string, number>>, value: number): string {
  for (const [k, v] of Object.entries(map)) if (v === value) return k;
  return String(value);
}
