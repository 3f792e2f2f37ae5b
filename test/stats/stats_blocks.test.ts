import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StatsStore } from '../../src/stats/stats_impl.js';
import { clusterStatPrefix, createClusterStats } from '../../src/stats/cluster_stats.js';
import {
  createHttpConnManagerListenerStats, createHttpConnManagerStats, createHttpConnManagerTracingStats,
  responseCodeClassCounter,
} from '../../src/stats/http_conn_manager_stats.js';
import { createRouterStats } from '../../src/stats/router_stats.js';
import {
  addressString, createListenerStats, createPerWorkerListenerStats, listenerStatPrefix,
} from '../../src/stats/listener_stats.js';
import { createListenerManagerStats } from '../../src/stats/listener_manager_stats.js';
import { createClusterManagerStats } from '../../src/stats/cluster_manager_stats.js';
import { createTcpProxyStats } from '../../src/stats/tcp_proxy_stats.js';
import { createServerStats, serverState, startServerStatsUpdater } from '../../src/stats/server_stats.js';

function names(store: StatsStore): string[] {
  return [...store.counters.keys(), ...store.gauges.keys(), ...store.histograms.keys()];
}

test('cluster block: Envoy names under cluster.<name>., upstream_rq_<code> memoised', () => {
  const store = new StatsStore();
  const s = createClusterStats(store.rootScope.createScope(clusterStatPrefix('backend')));
  s.upstream_rq_total.inc();
  s.upstream_cx_active.inc();
  s.upstream_rq_time.recordValue(12);
  assert.equal(s.upstream_rq_total.name, 'cluster.backend.upstream_rq_total');
  assert.equal(s.upstream_cx_active.name, 'cluster.backend.upstream_cx_active');
  assert.equal(s.upstream_rq_time.name, 'cluster.backend.upstream_rq_time');
  assert.ok(store.histograms.has('cluster.backend.upstream_cx_connect_ms'));
  assert.ok(store.histograms.has('cluster.backend.upstream_cx_length_ms'));
  const c503 = s.upstreamRqCode(503);
  assert.equal(c503.name, 'cluster.backend.upstream_rq_503');
  assert.equal(s.upstreamRqCode(503), c503);
  const before = store.counters.size;
  s.upstreamRqCode(42).inc();
  s.upstreamRqCode(-1).inc();
  assert.equal(store.counters.size, before);
  assert.equal(clusterStatPrefix('svc:80'), 'cluster.svc_80.');
  assert.equal(clusterStatPrefix('svc', 'alt'), 'cluster.alt.');
});

test('HCM, router and per-listener HCM blocks', () => {
  const store = new StatsStore();
  const root = store.rootScope;
  const hcm = createHttpConnManagerStats(root, 'ingress_http');
  const router = createRouterStats(root, 'ingress_http');
  const tracing = createHttpConnManagerTracingStats(root, 'ingress_http');
  const listener = root.createScope(listenerStatPrefix('0.0.0.0', 10000));
  const perListener = createHttpConnManagerListenerStats(listener, 'ingress_http');
  assert.equal(hcm.downstream_rq_total.name, 'http.ingress_http.downstream_rq_total');
  assert.equal(hcm.downstream_cx_active.name, 'http.ingress_http.downstream_cx_active');
  assert.equal(hcm.downstream_rq_time.name, 'http.ingress_http.downstream_rq_time');
  assert.equal(hcm.downstream_cx_length_ms.name, 'http.ingress_http.downstream_cx_length_ms');
  assert.equal(router.no_route.name, 'http.ingress_http.no_route');
  assert.equal(router.rq_direct_response.name, 'http.ingress_http.rq_direct_response');
  assert.equal(router.rq_reset_after_downstream_response_started.name, 'http.ingress_http.rq_reset_after_downstream_response_started');
  assert.equal(tracing.random_sampling.name, 'http.ingress_http.tracing.random_sampling');
  assert.equal(perListener.downstream_rq_2xx.name, 'listener.0.0.0.0_10000.http.ingress_http.downstream_rq_2xx');
  assert.equal(responseCodeClassCounter(hcm, 503), hcm.downstream_rq_5xx);
  assert.equal(responseCodeClassCounter(perListener, 204), perListener.downstream_rq_2xx);
  assert.equal(responseCodeClassCounter(hcm, 600), undefined);
  for (const n of ['downstream_cx_http1_active', 'downstream_cx_http2_total', 'downstream_rq_1xx', 'downstream_rq_completed',
    'downstream_rq_non_relative_path', 'downstream_rq_ws_on_non_ws_route', 'downstream_cx_destroy_remote_active_rq',
    'downstream_cx_rx_bytes_buffered', 'downstream_rq_header_timeout', 'rs_too_large']) {
    assert.ok(names(store).includes(`http.ingress_http.${n}`), n);
  }
});

test('listener scope names, as Envoy forms them from the address', () => {
  assert.equal(listenerStatPrefix('0.0.0.0', 10000), 'listener.0.0.0.0_10000.');
  assert.equal(listenerStatPrefix('::', 10000), 'listener.[__]_10000.');
  assert.equal(listenerStatPrefix('::1', 0), 'listener.[__1]_0.');
  assert.equal(listenerStatPrefix('2001:DB8:0:0:0:0:0:1', 443), 'listener.[2001_db8__1]_443.');
  assert.equal(listenerStatPrefix('0.0.0.0', 80, 'public'), 'listener.public.');
  assert.equal(addressString('::1', 80), '[::1]:80');
  const store = new StatsStore();
  const scope = store.rootScope.createScope(listenerStatPrefix('127.0.0.1', 8080));
  const l = createListenerStats(scope);
  const w = createPerWorkerListenerStats(scope, 0);
  assert.equal(l.downstream_cx_total.name, 'listener.127.0.0.1_8080.downstream_cx_total');
  assert.equal(l.no_filter_chain_match.name, 'listener.127.0.0.1_8080.no_filter_chain_match');
  assert.equal(l.downstream_pre_cx_active.name, 'listener.127.0.0.1_8080.downstream_pre_cx_active');
  assert.equal(l.downstream_cx_length_ms.name, 'listener.127.0.0.1_8080.downstream_cx_length_ms');
  assert.equal(w.downstream_cx_active.name, 'listener.127.0.0.1_8080.worker_0.downstream_cx_active');
});

test('manager, tcp proxy and server blocks', () => {
  const store = new StatsStore();
  const root = store.rootScope;
  const lm = createListenerManagerStats(root);
  const cm = createClusterManagerStats(root);
  const tcp = createTcpProxyStats(root, 'db');
  const server = createServerStats(root);
  assert.equal(lm.listener_added.name, 'listener_manager.listener_added');
  assert.equal(lm.total_listeners_warming.name, 'listener_manager.total_listeners_warming');
  assert.equal(lm.listener_create_success.name, 'listener_manager.listener_create_success');
  assert.equal(cm.active_clusters.name, 'cluster_manager.active_clusters');
  assert.equal(cm.cluster_removed.name, 'cluster_manager.cluster_removed');
  assert.equal(tcp.downstream_cx_no_route.name, 'tcp.db.downstream_cx_no_route');
  assert.equal(tcp.upstream_flush_total.name, 'tcp.db.upstream_flush_total');
  assert.equal(server.days_until_first_cert_expiring.name, 'server.days_until_first_cert_expiring');
  assert.equal(server.initialization_time_ms.name, 'server.initialization_time_ms');
  assert.equal(server.hot_restart_epoch.name, 'server.hot_restart_epoch');
});

test('server stats updater sets uptime, memory, state and live', () => {
  const store = new StatsStore();
  const s = createServerStats(store.rootScope);
  let now = 100_000;
  const updater = startServerStatsUpdater(s, {
    startTimeFirstEpochMs: 40_000,
    serverState: () => serverState('Initialized', false),
    isLive: () => true,
    totalConnections: () => 7,
  }, 60_000, () => now);
  try {
    assert.equal(s.uptime.value(), 60);
    assert.ok(s.memory_allocated.value() > 0);
    assert.ok(s.memory_heap_size.value() > 0);
    assert.equal(s.live.value(), 1);
    assert.equal(s.state.value(), 0);
    assert.equal(s.total_connections.value(), 7);
    now += 5000;
    updater.update();
    assert.equal(s.uptime.value(), 65);
  } finally {
    updater.stop();
  }
  assert.equal(serverState('Initialized', true), 'DRAINING');
  assert.equal(serverState('Uninitialized', false), 'PRE_INITIALIZING');
});
