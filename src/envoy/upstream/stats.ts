/**
 * Stats blocks resolved once per cluster / host, after Envoy's
 * ALL_CLUSTER_STATS. Field names are the stat names under `cluster.<name>.`.
 */
import type { Counter, Gauge, Histogram } from '../stats/stats.js';

export interface ClusterStats {
  readonly upstream_cx_total: Counter;
  readonly upstream_cx_active: Gauge;
  readonly upstream_cx_http1_total: Counter;
  readonly upstream_cx_http2_total: Counter;
  readonly upstream_cx_connect_fail: Counter;
  readonly upstream_cx_connect_timeout: Counter;
  readonly upstream_cx_destroy: Counter;
  readonly upstream_cx_destroy_local: Counter;
  readonly upstream_cx_destroy_remote: Counter;
  readonly upstream_cx_destroy_with_active_rq: Counter;
  readonly upstream_cx_destroy_local_with_active_rq: Counter;
  readonly upstream_cx_destroy_remote_with_active_rq: Counter;
  readonly upstream_cx_close_notify: Counter;
  readonly upstream_cx_rx_bytes_total: Counter;
  readonly upstream_cx_tx_bytes_total: Counter;
  readonly upstream_cx_overflow: Counter;
  readonly upstream_cx_idle_timeout: Counter;
  readonly upstream_cx_max_requests: Counter;
  /** Connections drained because max_connection_duration elapsed. */
  readonly upstream_cx_max_duration_reached: Counter;
  readonly upstream_cx_none_healthy: Counter;
  readonly upstream_cx_protocol_error: Counter;
  readonly upstream_cx_length_ms: Histogram;
  readonly upstream_cx_connect_ms: Histogram;
  readonly upstream_rq_total: Counter;
  readonly upstream_rq_active: Gauge;
  readonly upstream_rq_pending_total: Counter;
  readonly upstream_rq_pending_active: Gauge;
  readonly upstream_rq_pending_overflow: Counter;
  readonly upstream_rq_pending_failure_eject: Counter;
  readonly upstream_rq_cancelled: Counter;
  readonly upstream_rq_completed: Counter;
  readonly upstream_rq_maintenance_mode: Counter;
  readonly upstream_rq_timeout: Counter;
  /** Upstream streams reset because max_stream_duration elapsed. */
  readonly upstream_rq_max_duration_reached: Counter;
  readonly upstream_rq_per_try_timeout: Counter;
  readonly upstream_rq_rx_reset: Counter;
  readonly upstream_rq_tx_reset: Counter;
  readonly upstream_rq_retry: Counter;
  readonly upstream_rq_retry_success: Counter;
  readonly upstream_rq_retry_overflow: Counter;
  readonly upstream_rq_retry_limit_exceeded: Counter;
  /** Retries / mirroring given up because the request body outgrew the buffer limit. */
  readonly retry_or_shadow_abandoned: Counter;
  readonly upstream_rq_1xx: Counter;
  readonly upstream_rq_2xx: Counter;
  readonly upstream_rq_3xx: Counter;
  readonly upstream_rq_4xx: Counter;
  readonly upstream_rq_5xx: Counter;
  readonly upstream_rq_time: Histogram;
  readonly upstream_flow_control_paused_reading_total: Counter;
  readonly upstream_flow_control_resumed_reading_total: Counter;
  readonly membership_healthy: Gauge;
  readonly membership_degraded: Gauge;
  readonly membership_excluded: Gauge;
  readonly membership_total: Gauge;
  readonly membership_change: Counter;
  readonly update_attempt: Counter;
  readonly update_success: Counter;
  readonly update_failure: Counter;
  readonly update_empty: Counter;
  readonly update_no_rebuild: Counter;
  /** EDS: hosts dropped because no assignment came within endpoint_stale_after. */
  readonly assignment_stale: Counter;
  /** EDS: assignments received that set endpoint_stale_after. */
  readonly assignment_timeout_received: Counter;
  readonly max_host_weight: Gauge;
  readonly lb_healthy_panic: Counter;
  readonly version: Gauge;
  /** `upstream_rq_<code>` counters, created on first use per code (bounded: only real codes). */
  upstreamRqCode(code: number): Counter;
}

/** Per-host counters shown by admin /clusters. */
export interface HostStats {
  cx_total: number;
  cx_active: number;
  cx_connect_fail: number;
  rq_total: number;
  rq_active: number;
  rq_error: number;
  rq_success: number;
  rq_timeout: number;
}
