/** The HCM stats block under `http.<stat_prefix>.` (Envoy's ALL_HTTP_CONN_MAN_STATS, the part we emit). */
import { HistogramUnit, type Counter, type Gauge, type Histogram, type Scope } from '../envoy/stats/stats.js';
import { makeStatsBlock } from '../stats/stats_impl.js';

const COUNTERS = [
  'downstream_cx_total', 'downstream_cx_http1_total', 'downstream_cx_http2_total',
  'downstream_cx_destroy', 'downstream_cx_destroy_remote', 'downstream_cx_destroy_local',
  'downstream_cx_destroy_active_rq', 'downstream_cx_destroy_local_active_rq', 'downstream_cx_destroy_remote_active_rq',
  'downstream_cx_rx_bytes_total', 'downstream_cx_tx_bytes_total', 'downstream_cx_protocol_error',
  'downstream_cx_idle_timeout', 'downstream_cx_max_duration_reached', 'downstream_cx_drain_close',
  'downstream_cx_upgrades_total',
  'downstream_rq_total', 'downstream_rq_http1_total', 'downstream_rq_http2_total',
  'downstream_rq_1xx', 'downstream_rq_2xx', 'downstream_rq_3xx', 'downstream_rq_4xx', 'downstream_rq_5xx',
  'downstream_rq_completed', 'downstream_rq_non_relative_path', 'downstream_rq_too_large',
  'downstream_rq_rx_reset', 'downstream_rq_tx_reset', 'downstream_rq_timeout', 'downstream_rq_idle_timeout',
  'downstream_rq_header_timeout', 'downstream_rq_ws_on_non_ws_route', 'downstream_rq_response_before_rq_complete',
  'downstream_rq_too_many_premature_resets',
  'rq_direct_response', 'rq_redirect', 'rq_total', 'rq_reset_after_downstream_response_started',
  'no_route', 'no_cluster',
] as const;
const GAUGES = [
  'downstream_cx_active', 'downstream_cx_http1_active', 'downstream_cx_http2_active', 'downstream_cx_upgrades_active',
  'downstream_cx_rx_bytes_buffered', 'downstream_cx_tx_bytes_buffered', 'downstream_rq_active',
] as const;
const HISTOGRAMS = [
  ['downstream_cx_length_ms', HistogramUnit.Milliseconds],
  ['downstream_rq_time', HistogramUnit.Milliseconds],
] as const;

export type ConnectionManagerStats = Record<(typeof COUNTERS)[number], Counter> &
  Record<(typeof GAUGES)[number], Gauge> &
  Record<(typeof HISTOGRAMS)[number][0], Histogram>;

/** `scope` is the `http.<stat_prefix>.` scope. */
export function createConnectionManagerStats(scope: Scope): ConnectionManagerStats {
  return makeStatsBlock(scope, { counters: COUNTERS, gauges: GAUGES, histograms: HISTOGRAMS });
}

/** Per-listener HCM stats (`listener.<addr>.http.<prefix>.downstream_rq_<N>xx`, `downstream_rq_completed`). */
export function createListenerConnectionManagerStats(scope: Scope): ConnectionManagerStats {
  return createConnectionManagerStats(scope);
}
