/** Listener manager stats (Envoy's ALL_LISTENER_MANAGER_STATS) under `listener_manager.`. */
import type { Scope } from '../envoy/stats/stats.js';
import { makeStatsBlock, prefixedScope, type StatsBlock } from './stats_impl.js';

const COUNTERS = [
  'listener_added',
  'listener_create_failure',
  'listener_create_success',
  'listener_in_place_updated',
  'listener_modified',
  'listener_removed',
  'listener_stopped',
] as const;
const GAUGES = [
  'total_filter_chains_draining',
  'total_listeners_active',
  'total_listeners_draining',
  'total_listeners_warming',
  'workers_started',
] as const;

export type ListenerManagerStats = StatsBlock<(typeof COUNTERS)[number], (typeof GAUGES)[number]>;

export function createListenerManagerStats(root: Scope): ListenerManagerStats {
  return makeStatsBlock(prefixedScope(root, 'listener_manager.'), { counters: COUNTERS, gauges: GAUGES });
}
