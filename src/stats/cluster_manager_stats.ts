/** Cluster manager stats (Envoy's ALL_CLUSTER_MANAGER_STATS) under `cluster_manager.`. */
import type { Scope } from '../envoy/stats/stats.js';
import { makeStatsBlock, prefixedScope, type StatsBlock } from './stats_impl.js';

const COUNTERS = [
  'cluster_added',
  'cluster_modified',
  'cluster_removed',
  'cluster_updated',
  'cluster_updated_via_merge',
  'update_merge_cancelled',
  'update_out_of_merge_window',
] as const;
const GAUGES = ['active_clusters', 'warming_clusters'] as const;

export type ClusterManagerStats = StatsBlock<(typeof COUNTERS)[number], (typeof GAUGES)[number]>;

export function createClusterManagerStats(root: Scope): ClusterManagerStats {
  return makeStatsBlock(prefixedScope(root, 'cluster_manager.'), { counters: COUNTERS, gauges: GAUGES });
}
