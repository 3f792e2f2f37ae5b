/**
 * Router filter stats (Envoy's ALL_ROUTER_STATS in `source/common/router/router.h`),
 * named `http.<stat_prefix>.<name>` (e.g. `http.ingress_http.no_route`).
 */
import type { Scope } from '../envoy/stats/stats.js';
import { makeStatsBlock, prefixedScope, type StatsBlock } from './stats_impl.js';
import { httpConnManagerStatPrefix } from './http_conn_manager_stats.js';

const ROUTER_COUNTERS = [
  'passthrough_internal_redirect_bad_location',
  'passthrough_internal_redirect_unsafe_scheme',
  'passthrough_internal_redirect_too_many_redirects',
  'passthrough_internal_redirect_no_route',
  'passthrough_internal_redirect_predicate',
  'no_route',
  'no_cluster',
  'rq_redirect',
  'rq_direct_response',
  'rq_total',
  'rq_reset_after_downstream_response_started',
] as const;

export type RouterStats = StatsBlock<(typeof ROUTER_COUNTERS)[number]>;

/** ALL_ROUTER_STATS under `http.<stat_prefix>.` of `root`. */
export function createRouterStats(root: Scope, statPrefix: string): RouterStats {
  return makeStatsBlock(prefixedScope(root, httpConnManagerStatPrefix(statPrefix)), { counters: ROUTER_COUNTERS });
}
