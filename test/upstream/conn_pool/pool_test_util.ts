/**
 * Plain test doubles for the connection-pool tests: Counter/Gauge/Histogram
 * objects matching src/envoy/stats/stats.ts, a full ClusterStats block, a
 * ResourceManager with settable limits, a Host and its ClusterInfo, and a
 * recording ConnectionPoolCallbacks.
 */
import type { RequestEncoder } from '../../../src/envoy/http/codec.js';
import type { Counter, Gauge, Histogram } from '../../../src/envoy/stats/stats.js';
import { HistogramUnit } from '../../../src/envoy/stats/stats.js';
import type { ConnectionPoolCallbacks, PoolFailureReason } from '../../../src/envoy/upstream/cluster_manager.js';
import type { ClusterInfo, Host, ResourceLimit, ResourceManager } from '../../../src/envoy/upstream/host.js';
import type { ClusterStats, HostStats } from '../../../src/envoy/upstream/stats.js';
import { RecordedResponse, Waiter } from '../../http/codec/http1_test_util.js';

export class TestCounter implements Counter {
  private v = 0;
  private latched = 0;
  constructor(readonly name: string) {}
  inc(): void { this.v++; }
  add(n: number): void { this.v += n; }
  value(): number { return this.v; }
  latch(): number { const d = this.v - this.latched; this.latched = this.v; return d; }
}

export class TestGauge implements Gauge {
  private v = 0;
  constructor(readonly name: string) {}
  inc(): void { this.v++; }
  dec(): void { this.v--; }
  add(n: number): void { this.v += n; }
  sub(n: number): void { this.v -= n; }
  set(n: number): void { this.v = n; }
  value(): number { return this.v; }
}

export class TestHistogram implements Histogram {
  readonly values: number[] = [];
  constructor(readonly name: string, readonly unit: HistogramUnit) {}
  recordValue(v: number): void { this.values.push(v); }
}

export type TestClusterStats = ClusterStats & {
  /** Every counter/gauge by name (for assertions on exact Envoy names). */
  readonly all: Map<string, TestCounter | TestGauge>;
};

export function makeClusterStats(): TestClusterStats {
  const all = new Map<string, TestCounter | TestGauge>();
  const c = (n: string): TestCounter => { const x = new TestCounter(n); all.set(n, x); return x; };
  const g = (n: string): TestGauge => { const x = new TestGauge(n); all.set(n, x); return x; };
  const h = (n: string): TestHistogram => new TestHistogram(n, HistogramUnit.Milliseconds);
  const codes = new Map<number, TestCounter>();
  return {
    all,
    upstream_cx_total: c('upstream_cx_total'),
    upstream_cx_active: g('upstream_cx_active'),
    upstream_cx_http1_total: c('upstream_cx_http1_total'),
    upstream_cx_http2_total: c('upstream_cx_http2_total'),
    upstream_cx_connect_fail: c('upstream_cx_connect_fail'),
    upstream_cx_connect_timeout: c('upstream_cx_connect_timeout'),
    upstream_cx_destroy: c('upstream_cx_destroy'),
    upstream_cx_destroy_local: c('upstream_cx_destroy_local'),
    upstream_cx_destroy_remote: c('upstream_cx_destroy_remote'),
    upstream_cx_destroy_with_active_rq: c('upstream_cx_destroy_with_active_rq'),
    upstream_cx_destroy_local_with_active_rq: c('upstream_cx_destroy_local_with_active_rq'),
    upstream_cx_destroy_remote_with_active_rq: c('upstream_cx_destroy_remote_with_active_rq'),
    upstream_cx_close_notify: c('upstream_cx_close_notify'),
    upstream_cx_rx_bytes_total: c('upstream_cx_rx_bytes_total'),
    upstream_cx_tx_bytes_total: c('upstream_cx_tx_bytes_total'),
    upstream_cx_overflow: c('upstream_cx_overflow'),
    upstream_cx_idle_timeout: c('upstream_cx_idle_timeout'),
    upstream_cx_max_requests: c('upstream_cx_max_requests'),
    upstream_cx_max_duration_reached: c('upstream_cx_max_duration_reached'),
    upstream_cx_none_healthy: c('upstream_cx_none_healthy'),
    upstream_cx_protocol_error: c('upstream_cx_protocol_error'),
    upstream_cx_length_ms: h('upstream_cx_length_ms'),
    upstream_cx_connect_ms: h('upstream_cx_connect_ms'),
    upstream_rq_total: c('upstream_rq_total'),
    upstream_rq_active: g('upstream_rq_active'),
    upstream_rq_pending_total: c('upstream_rq_pending_total'),
    upstream_rq_pending_active: g('upstream_rq_pending_active'),
    upstream_rq_pending_overflow: c('upstream_rq_pending_overflow'),
    upstream_rq_pending_failure_eject: c('upstream_rq_pending_failure_eject'),
    upstream_rq_cancelled: c('upstream_rq_cancelled'),
    upstream_rq_completed: c('upstream_rq_completed'),
    upstream_rq_maintenance_mode: c('upstream_rq_maintenance_mode'),
    upstream_rq_max_duration_reached: c('upstream_rq_max_duration_reached'),
    upstream_rq_timeout: c('upstream_rq_timeout'),
    upstream_rq_per_try_timeout: c('upstream_rq_per_try_timeout'),
    upstream_rq_rx_reset: c('upstream_rq_rx_reset'),
    upstream_rq_tx_reset: c('upstream_rq_tx_reset'),
    upstream_rq_retry: c('upstream_rq_retry'),
    upstream_rq_retry_success: c('upstream_rq_retry_success'),
    upstream_rq_retry_overflow: c('upstream_rq_retry_overflow'),
    upstream_rq_retry_limit_exceeded: c('upstream_rq_retry_limit_exceeded'),
    retry_or_shadow_abandoned: c('retry_or_shadow_abandoned'),
    upstream_rq_1xx: c('upstream_rq_1xx'),
    upstream_rq_2xx: c('upstream_rq_2xx'),
    upstream_rq_3xx: c('upstream_rq_3xx'),
    upstream_rq_4xx: c('upstream_rq_4xx'),
    upstream_rq_5xx: c('upstream_rq_5xx'),
    upstream_rq_time: h('upstream_rq_time'),
    upstream_flow_control_paused_reading_total: c('upstream_flow_control_paused_reading_total'),
    upstream_flow_control_resumed_reading_total: c('upstream_flow_control_resumed_reading_total'),
    membership_healthy: g('membership_healthy'),
    membership_degraded: g('membership_degraded'),
    membership_excluded: g('membership_excluded'),
    membership_total: g('membership_total'),
    membership_change: c('membership_change'),
    update_attempt: c('update_attempt'),
    update_success: c('update_success'),
    update_failure: c('update_failure'),
    update_empty: c('update_empty'),
    update_no_rebuild: c('update_no_rebuild'),
    assignment_stale: c('assignment_stale'),
    assignment_timeout_received: c('assignment_timeout_received'),
    max_host_weight: g('max_host_weight'),
    lb_healthy_panic: c('lb_healthy_panic'),
    version: g('version'),
    upstreamRqCode(code: number): Counter {
      let x = codes.get(code);
      if (x === undefined) { x = new TestCounter(`upstream_rq_${code}`); codes.set(code, x); }
      return x;
    },
  };
}

export class TestResourceLimit implements ResourceLimit {
  count = 0;
  constructor(public max: number) {}
  canCreate(): boolean { return this.count < this.max; }
  inc(): void { this.count++; }
  dec(): void { this.count--; }
}

export interface TestClusterOptions {
  connectTimeoutMs?: number;
  idleTimeoutMs?: number;
  maxRequestsPerConnection?: number;
  maxConnections?: number;
  maxPendingRequests?: number;
  perConnectionBufferLimitBytes?: number;
}

export interface TestHost extends Host {
  readonly cluster: ClusterInfo & { readonly stats: TestClusterStats };
  readonly resources: { connections: TestResourceLimit; pendingRequests: TestResourceLimit; requests: TestResourceLimit; retries: TestResourceLimit };
}

export function makeHost(port: number, o: TestClusterOptions = {}, address = '127.0.0.1'): TestHost {
  const stats = makeClusterStats();
  const resources = {
    connections: new TestResourceLimit(o.maxConnections ?? 1024),
    pendingRequests: new TestResourceLimit(o.maxPendingRequests ?? 1024),
    requests: new TestResourceLimit(1024),
    retries: new TestResourceLimit(3),
  };
  const rm: ResourceManager = resources;
  const cluster = {
    name: 'test_cluster',
    statName: 'test_cluster',
    connectTimeoutMs: o.connectTimeoutMs ?? 5000,
    idleTimeoutMs: o.idleTimeoutMs ?? 0,
    perConnectionBufferLimitBytes: o.perConnectionBufferLimitBytes ?? 1024 * 1024,
    maxRequestsPerConnection: o.maxRequestsPerConnection ?? 0,
    upstreamProtocol: 'http1' as const,
    useDownstreamProtocol: false,
    alpnAutoConfig: false,
    maxStreamDurationMs: 0,
    maxConnectionDurationMs: 0,
    maxHeadersCount: 0,
    stats,
    resourceManager: (_p: number): ResourceManager => rm,
    config: null,
  };
  const hostStats: HostStats = {
    cx_total: 0, cx_active: 0, cx_connect_fail: 0, rq_total: 0, rq_active: 0, rq_error: 0, rq_success: 0, rq_timeout: 0,
  };
  return {
    addressString: `${address}:${port}`, address, port, hostname: '', cluster, stats: hostStats, priority: 0,
    locality: { region: '', zone: '', subZone: '' }, metadata: {}, weight: 1, healthFlags: 0,
    healthy: () => true, activeRequests: 0, resources,
  };
}

/** What a router attempt sees from the pool: ready or failure, then the response. */
export class PoolRequest implements ConnectionPoolCallbacks {
  encoder: RequestEncoder | null = null;
  upstreamLocalAddress = '';
  failure: [PoolFailureReason, string] | null = null;
  readonly response = new RecordedResponse();
  readonly waiter = new Waiter();

  onPoolReady(encoder: RequestEncoder, _host: Host, upstreamLocalAddress: string): void {
    this.encoder = encoder;
    this.upstreamLocalAddress = upstreamLocalAddress;
    encoder.getStream().addCallbacks(this.response);
    this.waiter.notify();
  }

  onPoolFailure(reason: PoolFailureReason, transportFailureReason: string): void {
    this.failure = [reason, transportFailureReason];
    this.waiter.notify();
  }

  untilSettled(): Promise<void> {
    return this.waiter.until(() => this.encoder !== null || this.failure !== null);
  }
}
