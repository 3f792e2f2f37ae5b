/** TCP proxy stats (Envoy's ALL_TCP_PROXY_STATS) under `tcp.<stat_prefix>.`. */
import type { Scope } from '../envoy/stats/stats.js';
import { makeStatsBlock, type StatsBlock } from './stats_impl.js';

const COUNTERS = [
  'downstream_cx_no_route',
  'downstream_cx_rx_bytes_total',
  'downstream_cx_total',
  'downstream_cx_tx_bytes_total',
  'downstream_flow_control_paused_reading_total',
  'downstream_flow_control_resumed_reading_total',
  'early_data_received_count_total',
  'idle_timeout',
  'max_downstream_connection_duration',
  'upstream_flush_total',
] as const;
const GAUGES = ['downstream_cx_rx_bytes_buffered', 'downstream_cx_tx_bytes_buffered', 'upstream_flush_active'] as const;

export type TcpProxyStats = StatsBlock<(typeof COUNTERS)[number], (typeof GAUGES)[number]>;

/** Envoy creates the scope `tcp.<stat_prefix>` (sanitized) in the listener's scope root. */
export function createTcpProxyStats(root: Scope, statPrefix: string): TcpProxyStats {
  return makeStatsBlock(root.createScope(`tcp.${statPrefix}`), { counters: COUNTERS, gauges: GAUGES });
}
