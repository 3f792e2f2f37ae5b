/**
 * Active health checker stats (Envoy's ALL_HEALTH_CHECKER_STATS) under
 * `cluster.<name>.health_check.`.
 */
import type { Scope } from '../envoy/stats/stats.js';
import { makeStatsBlock, prefixedScope, type StatsBlock } from './stats_impl.js';

const COUNTERS = ['attempt', 'success', 'failure', 'network_failure', 'passive_failure', 'verify_cluster'] as const;
const GAUGES = ['healthy', 'degraded'] as const;

export type HealthCheckerStats = StatsBlock<(typeof COUNTERS)[number], (typeof GAUGES)[number]>;

/** `clusterScope` is the cluster's `cluster.<name>.` scope. */
export function createHealthCheckerStats(clusterScope: Scope): HealthCheckerStats {
  return makeStatsBlock(prefixedScope(clusterScope, 'health_check.'), { counters: COUNTERS, gauges: GAUGES });
}

const FILTER_COUNTERS = [
  'request_total',
  'failed',
  'ok',
  'cached_response',
  'failed_cluster_not_found',
  'failed_cluster_empty',
  'failed_cluster_unhealthy',
  'degraded',
] as const;

/** The health check HTTP filter's stats (Envoy's ALL_HEALTH_CHECK_FILTER_STATS). */
export type HealthCheckFilterStats = StatsBlock<(typeof FILTER_COUNTERS)[number]>;

/** Under `<http filter stats prefix>health_check.` (the HCM's `http.<stat_prefix>.`) of the root scope. */
export function createHealthCheckFilterStats(root: Scope, httpStatsPrefix: string): HealthCheckFilterStats {
  return makeStatsBlock(prefixedScope(root, `${httpStatsPrefix}health_check.`), { counters: FILTER_COUNTERS });
}
