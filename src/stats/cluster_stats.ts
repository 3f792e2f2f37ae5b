/**
 * The cluster stats block under `cluster.<name>.` (Envoy's
 * ALL_CLUSTER_TRAFFIC_STATS / config / LB / endpoint stats, the subset the
 * ClusterStats interface in src/envoy/upstream/stats.ts declares), built
 * once per cluster. The data path only touches the returned handles.
 */
import { HistogramUnit, type Counter, type Scope } from '../envoy/stats/stats.js';
import type { ClusterStats } from '../envoy/upstream/stats.js';
import { CounterImpl, makeStatsBlock, sanitizeStatsName } from './stats_impl.js';

const COUNTERS = [
  'assignment_stale',
  'assignment_timeout_received',
  'lb_healthy_panic',
  'membership_change',
  'retry_or_shadow_abandoned',
  'update_attempt',
  'update_empty',
  'update_failure',
  'update_no_rebuild',
  'update_success',
  'upstream_cx_close_notify',
  'upstream_cx_connect_fail',
  'upstream_cx_connect_timeout',
  'upstream_cx_destroy',
  'upstream_cx_destroy_local',
  'upstream_cx_destroy_local_with_active_rq',
  'upstream_cx_destroy_remote',
  'upstream_cx_destroy_remote_with_active_rq',
  'upstream_cx_destroy_with_active_rq',
  'upstream_cx_http1_total',
  'upstream_cx_http2_total',
  'upstream_cx_idle_timeout',
  'upstream_cx_max_duration_reached',
  'upstream_cx_max_requests',
  'upstream_cx_none_healthy',
  'upstream_cx_overflow',
  'upstream_cx_protocol_error',
  'upstream_cx_rx_bytes_total',
  'upstream_cx_total',
  'upstream_cx_tx_bytes_total',
  'upstream_flow_control_paused_reading_total',
  'upstream_flow_control_resumed_reading_total',
  'upstream_rq_1xx',
  'upstream_rq_2xx',
  'upstream_rq_3xx',
  'upstream_rq_4xx',
  'upstream_rq_5xx',
  'upstream_rq_cancelled',
  'upstream_rq_completed',
  'upstream_rq_maintenance_mode',
  'upstream_rq_max_duration_reached',
  'upstream_rq_pending_failure_eject',
  'upstream_rq_pending_overflow',
  'upstream_rq_pending_total',
  'upstream_rq_per_try_timeout',
  'upstream_rq_retry',
  'upstream_rq_retry_limit_exceeded',
  'upstream_rq_retry_overflow',
  'upstream_rq_retry_success',
  'upstream_rq_rx_reset',
  'upstream_rq_timeout',
  'upstream_rq_total',
  'upstream_rq_tx_reset',
] as const;

const GAUGES = [
  'max_host_weight',
  'membership_degraded',
  'membership_excluded',
  'membership_healthy',
  'membership_total',
  'upstream_cx_active',
  'upstream_rq_active',
  'upstream_rq_pending_active',
  'version',
] as const;

const HISTOGRAMS = [
  ['upstream_cx_connect_ms', HistogramUnit.Milliseconds],
  ['upstream_cx_length_ms', HistogramUnit.Milliseconds],
  ['upstream_rq_time', HistogramUnit.Milliseconds],
] as const;

/** `cluster.<name>.` — the alt_stat_name (observability name) when set; `:` becomes `_` as in Envoy. */
export function clusterStatPrefix(name: string, altStatName?: string): string {
  return `cluster.${sanitizeStatsName(altStatName !== undefined && altStatName !== '' ? altStatName : name)}.`;
}

/**
 * Creates the block in `scope` (the cluster's scope, `cluster.<name>.`).
 * `upstreamRqCode(code)` creates `upstream_rq_<code>` on first use and keeps
 * it; codes outside 100..999 share one detached counter, so no junk stat appears.
 */
export function createClusterStats(scope: Scope): ClusterStats {
  const block = makeStatsBlock(scope, { counters: COUNTERS, gauges: GAUGES, histograms: HISTOGRAMS });
  const byCode = new Map<number, Counter>();
  let invalid: Counter | undefined;
  const upstreamRqCode = (code: number): Counter => {
    if (!(Number.isInteger(code) && code >= 100 && code <= 999)) {
      return (invalid ??= new CounterImpl('upstream_rq_invalid'));
    }
    let c = byCode.get(code);
    if (c === undefined) {
      c = scope.counter(`upstream_rq_${code}`);
      byCode.set(code, c);
    }
    return c;
  };
  const stats: ClusterStats = { ...block, upstreamRqCode };
  return stats;
}
