/**
 * HTTP connection manager stats (Envoy's `source/common/http/conn_manager_config.h`):
 *
 * - ALL_HTTP_CONN_MAN_STATS under `http.<stat_prefix>.`
 * - CONN_MAN_TRACING_STATS under `http.<stat_prefix>.tracing.`
 * - CONN_MAN_LISTENER_STATS under `listener.<address>.http.<stat_prefix>.`
 *   (the per-listener response-code counters)
 *
 * Names are joined verbatim (POOL_COUNTER_PREFIX), as in Envoy.
 */
import { HistogramUnit, type Scope } from '../envoy/stats/stats.js';
import { makeStatsBlock, prefixedScope, type StatsBlock } from './stats_impl.js';

const HCM_COUNTERS = [
  'downstream_cx_delayed_close_timeout',
  'downstream_cx_destroy',
  'downstream_cx_destroy_active_rq',
  'downstream_cx_destroy_local',
  'downstream_cx_destroy_local_active_rq',
  'downstream_cx_destroy_remote',
  'downstream_cx_destroy_remote_active_rq',
  'downstream_cx_drain_close',
  'downstream_cx_http1_total',
  'downstream_cx_http2_total',
  'downstream_cx_http3_total',
  'downstream_cx_idle_timeout',
  'downstream_cx_max_duration_reached',
  'downstream_cx_max_requests_reached',
  'downstream_cx_overload_disable_keepalive',
  'downstream_cx_protocol_error',
  'downstream_cx_rx_bytes_total',
  'downstream_cx_ssl_total',
  'downstream_cx_total',
  'downstream_cx_tx_bytes_total',
  'downstream_cx_upgrades_total',
  'downstream_flow_control_paused_reading_total',
  'downstream_flow_control_resumed_reading_total',
  'downstream_rq_1xx',
  'downstream_rq_2xx',
  'downstream_rq_3xx',
  'downstream_rq_4xx',
  'downstream_rq_5xx',
  'downstream_rq_completed',
  'downstream_rq_failed_path_normalization',
  'downstream_rq_http1_total',
  'downstream_rq_http2_total',
  'downstream_rq_http3_total',
  'downstream_rq_idle_timeout',
  'downstream_rq_non_relative_path',
  'downstream_rq_overload_close',
  'downstream_rq_redirected_with_normalized_path',
  'downstream_rq_rejected_via_ip_detection',
  'downstream_rq_response_before_rq_complete',
  'downstream_rq_rx_reset',
  'downstream_rq_too_many_premature_resets',
  'downstream_rq_timeout',
  'downstream_rq_header_timeout',
  'downstream_rq_too_large',
  'downstream_rq_total',
  'downstream_rq_tx_reset',
  'downstream_rq_max_duration_reached',
  'downstream_rq_ws_on_non_ws_route',
  'rs_too_large',
] as const;

const HCM_GAUGES = [
  'downstream_cx_active',
  'downstream_cx_http1_active',
  'downstream_cx_http2_active',
  'downstream_cx_http3_active',
  'downstream_cx_rx_bytes_buffered',
  'downstream_cx_ssl_active',
  'downstream_cx_tx_bytes_buffered',
  'downstream_cx_upgrades_active',
  'downstream_rq_active',
] as const;

const HCM_HISTOGRAMS = [
  ['downstream_cx_length_ms', HistogramUnit.Milliseconds],
  ['downstream_rq_time', HistogramUnit.Milliseconds],
] as const;

export type HttpConnManagerStats = StatsBlock<
  (typeof HCM_COUNTERS)[number], (typeof HCM_GAUGES)[number], (typeof HCM_HISTOGRAMS)[number][0]>;

/** `http.<stat_prefix>.` */
export function httpConnManagerStatPrefix(statPrefix: string): string {
  return `http.${statPrefix}.`;
}

/** ALL_HTTP_CONN_MAN_STATS under `http.<stat_prefix>.` of `root` (the server's root scope). */
export function createHttpConnManagerStats(root: Scope, statPrefix: string): HttpConnManagerStats {
  return makeStatsBlock(prefixedScope(root, httpConnManagerStatPrefix(statPrefix)), {
    counters: HCM_COUNTERS, gauges: HCM_GAUGES, histograms: HCM_HISTOGRAMS,
  });
}

const TRACING_COUNTERS = ['random_sampling', 'service_forced', 'client_enabled', 'not_traceable', 'health_check'] as const;
export type HttpConnManagerTracingStats = StatsBlock<(typeof TRACING_COUNTERS)[number]>;

/** CONN_MAN_TRACING_STATS under `http.<stat_prefix>.tracing.`. */
export function createHttpConnManagerTracingStats(root: Scope, statPrefix: string): HttpConnManagerTracingStats {
  return makeStatsBlock(prefixedScope(root, `${httpConnManagerStatPrefix(statPrefix)}tracing.`), {
    counters: TRACING_COUNTERS,
  });
}

const LISTENER_COUNTERS = [
  'downstream_rq_1xx',
  'downstream_rq_2xx',
  'downstream_rq_3xx',
  'downstream_rq_4xx',
  'downstream_rq_5xx',
  'downstream_rq_completed',
] as const;
export type HttpConnManagerListenerStats = StatsBlock<(typeof LISTENER_COUNTERS)[number]>;

/**
 * CONN_MAN_LISTENER_STATS under `listener.<address>.http.<stat_prefix>.`;
 * `listenerScope` is the listener's scope (see listenerStatPrefix).
 */
export function createHttpConnManagerListenerStats(listenerScope: Scope, statPrefix: string): HttpConnManagerListenerStats {
  return makeStatsBlock(prefixedScope(listenerScope, httpConnManagerStatPrefix(statPrefix)), {
    counters: LISTENER_COUNTERS,
  });
}

/** The `downstream_rq_<N>xx` counter for a response code, or undefined outside 100..599. */
export function responseCodeClassCounter<S extends StatsBlock<'downstream_rq_1xx' | 'downstream_rq_2xx' | 'downstream_rq_3xx' | 'downstream_rq_4xx' | 'downstream_rq_5xx'>>(
  stats: S, code: number,
): S['downstream_rq_2xx'] | undefined {
  switch (Math.floor(code / 100)) {
    case 1: return stats.downstream_rq_1xx;
    case 2: return stats.downstream_rq_2xx;
    case 3: return stats.downstream_rq_3xx;
    case 4: return stats.downstream_rq_4xx;
    case 5: return stats.downstream_rq_5xx;
    default: return undefined;
  }
}
