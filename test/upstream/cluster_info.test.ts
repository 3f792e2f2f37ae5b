import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { StatsStore } from '../../src/stats/stats_impl.js';
import { ClusterInfoImpl } from '../../src/upstream/cluster_info_impl.js';
import { ConfigError } from '../../src/upstream/proto_util.js';
import { clusterFromYaml } from './helpers.js';

function info(yaml: string, store = new StatsStore()): ClusterInfoImpl {
  return new ClusterInfoImpl(clusterFromYaml(yaml), { statsScope: store.rootScope, addedViaApi: false });
}

function gauge(store: StatsStore, name: string): number | undefined {
  return store.gauges.get(name)?.value();
}

describe('ClusterInfoImpl defaults', () => {
  test('Envoy defaults for an empty cluster', () => {
    const i = info('name: backend');
    assert.equal(i.name, 'backend');
    assert.equal(i.statName, 'backend');
    assert.equal(i.type, 'static');
    assert.equal(i.connectTimeoutMs, 5000);
    assert.equal(i.idleTimeoutMs, 3600 * 1000);
    assert.equal(i.perConnectionBufferLimitBytes, 1024 * 1024);
    assert.equal(i.maxRequestsPerConnection, 0);
    assert.equal(i.upstreamProtocol, 'http1');
    assert.equal(i.useDownstreamProtocol, false);
    assert.deepEqual(i.lb, { policy: { kind: 'round_robin' }, healthyPanicThreshold: 50, localityWeightedBalancing: false });
  });

  test('circuit breaker defaults 1024/1024/1024/3 for both priorities, gauges closed', () => {
    const store = new StatsStore();
    const i = info('name: backend', store);
    for (const p of [0, 1]) {
      const rm = i.resourceManager(p);
      assert.equal(rm.connections.max, 1024);
      assert.equal(rm.pendingRequests.max, 1024);
      assert.equal(rm.requests.max, 1024);
      assert.equal(rm.retries.max, 3);
      assert.equal(rm.connectionPools.max, Infinity);
    }
    for (const g of ['cx_open', 'rq_pending_open', 'rq_open', 'rq_retry_open', 'cx_pool_open']) {
      assert.equal(gauge(store, `cluster.backend.circuit_breakers.default.${g}`), 0, g);
      assert.equal(gauge(store, `cluster.backend.circuit_breakers.high.${g}`), 0, g);
    }
    // No remaining_* gauges without track_remaining.
    assert.equal(gauge(store, 'cluster.backend.circuit_breakers.default.remaining_cx'), undefined);
  });

  test('connect_timeout, buffer limit and alt_stat_name', () => {
    const store = new StatsStore();
    const i = info(
      `
name: backend
alt_stat_name: backend_v2
connect_timeout: 0.25s
per_connection_buffer_limit_bytes: 32768
`,
      store,
    );
    assert.equal(i.connectTimeoutMs, 250);
    assert.equal(i.perConnectionBufferLimitBytes, 32768);
    assert.equal(i.statName, 'backend_v2');
    i.stats.upstream_rq_total.inc();
    i.stats.upstreamRqCode(503).inc();
    assert.equal(store.counters.get('cluster.backend_v2.upstream_rq_total')?.value(), 1);
    assert.equal(store.counters.get('cluster.backend_v2.upstream_rq_503')?.value(), 1);
  });
});

describe('circuit breakers', () => {
  test('custom thresholds per priority, track_remaining and *_open gauges', () => {
    const store = new StatsStore();
    const i = info(
      `
name: cb
circuit_breakers:
  thresholds:
  - priority: DEFAULT
    max_connections: 2
    max_pending_requests: 5
    max_requests: 7
    max_retries: 1
    track_remaining: true
  - priority: HIGH
    max_connections: 100
`,
      store,
    );
    const d = i.resourceManager(0);
    assert.equal(d.connections.max, 2);
    assert.equal(d.pendingRequests.max, 5);
    assert.equal(d.requests.max, 7);
    assert.equal(d.retries.max, 1);
    const h = i.resourceManager(1);
    assert.equal(h.connections.max, 100);
    assert.equal(h.requests.max, 1024, 'unset fields keep their defaults');

    const p = 'cluster.cb.circuit_breakers.default.';
    assert.equal(gauge(store, `${p}remaining_cx`), 2);
    assert.equal(d.connections.canCreate(), true);
    d.connections.inc();
    assert.equal(gauge(store, `${p}remaining_cx`), 1);
    assert.equal(gauge(store, `${p}cx_open`), 0);
    d.connections.inc();
    assert.equal(d.connections.canCreate(), false);
    assert.equal(gauge(store, `${p}cx_open`), 1);
    assert.equal(gauge(store, `${p}remaining_cx`), 0);
    d.connections.dec();
    assert.equal(d.connections.canCreate(), true);
    assert.equal(gauge(store, `${p}cx_open`), 0);

    d.retries.inc();
    assert.equal(gauge(store, `${p}rq_retry_open`), 1);
    assert.equal(gauge(store, `${p}remaining_retries`), 0);
    assert.equal(gauge(store, 'cluster.cb.circuit_breakers.high.remaining_cx'), undefined, 'HIGH does not track remaining');
  });

  test('retry_budget: max retries follow active + pending requests', () => {
    const i = info(`
name: rb
circuit_breakers:
  thresholds:
  - retry_budget:
      budget_percent: { value: 50 }
      min_retry_concurrency: 2
`);
    const rm = i.resourceManager(0);
    assert.equal(rm.retries.max, 2, 'floor at min_retry_concurrency');
    for (let n = 0; n < 10; n++) rm.requests.inc();
    assert.equal(rm.retries.max, 5);
    for (let n = 0; n < 4; n++) rm.pendingRequests.inc();
    assert.equal(rm.retries.max, 7);
  });
});

describe('HTTP protocol options', () => {
  test('legacy cluster fields: http2_protocol_options, common_http_protocol_options, max_requests_per_connection', () => {
    const i = info(`
name: h2
http2_protocol_options: {}
common_http_protocol_options:
  idle_timeout: 30s
  max_requests_per_connection: 100
`);
    assert.equal(i.upstreamProtocol, 'http2');
    assert.equal(i.idleTimeoutMs, 30000);
    assert.equal(i.maxRequestsPerConnection, 100);
    assert.ok(i.http2ProtocolOptions);
  });

  test('deprecated cluster max_requests_per_connection', () => {
    assert.equal(info('{name: m, max_requests_per_connection: 7}').maxRequestsPerConnection, 7);
  });

  test('HttpProtocolOptions extension: explicit HTTP/2, idle timeout and max requests', () => {
    const i = info(`
name: ext
max_requests_per_connection: 7
typed_extension_protocol_options:
  envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
    "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
    common_http_protocol_options:
      idle_timeout: 0s
      max_requests_per_connection: 50
    explicit_http_config:
      http2_protocol_options: {}
`);
    assert.equal(i.upstreamProtocol, 'http2');
    assert.equal(i.idleTimeoutMs, 0, 'explicit 0 disables the idle timeout');
    assert.equal(i.maxRequestsPerConnection, 50, 'the extension wins over the deprecated field');
  });

  test('HttpProtocolOptions extension: explicit HTTP/1.1 and use_downstream_protocol_config', () => {
    const h1 = info(`
name: ext1
typed_extension_protocol_options:
  envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
    "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
    explicit_http_config: { http_protocol_options: {} }
`);
    assert.equal(h1.upstreamProtocol, 'http1');
    assert.equal(h1.idleTimeoutMs, 3600 * 1000);
    const ds = info(`
name: ext2
typed_extension_protocol_options:
  envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
    "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
    use_downstream_protocol_config: { http2_protocol_options: {} }
`);
    assert.equal(ds.upstreamProtocol, 'http1');
    assert.equal(ds.useDownstreamProtocol, true);
    assert.ok(ds.http2ProtocolOptions);
  });

  test('upstream HTTP/2 options Legate cannot honour are rejected, naming the field', () => {
    assert.throws(
      () => info(`
name: idle_ping
typed_extension_protocol_options:
  envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
    "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
    explicit_http_config:
      http2_protocol_options: { connection_keepalive: { interval: 1s, timeout: 1s, connection_idle_interval: 5s } }
`),
      (e: unknown) => e instanceof ConfigError
        && e.fieldPath === 'clusters["idle_ping"].typed_extension_protocol_options["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"].explicit_http_config.http2_protocol_options.connection_keepalive.connection_idle_interval',
    );
    assert.throws(
      () => info('name: meta\nhttp2_protocol_options: { allow_metadata: true }'),
      (e: unknown) => e instanceof ConfigError && e.fieldPath === 'clusters["meta"].http2_protocol_options.allow_metadata',
    );
    const ok = info('name: ka\nhttp2_protocol_options: { connection_keepalive: { interval: 10s, timeout: 1s } }');
    assert.equal(ok.upstreamProtocol, 'http2');
  });

  test('auto_config compiles (the pool picks HTTP/1 or HTTP/2 by ALPN); its http3_protocol_options are rejected, naming the field', () => {
    const i = info(`
name: auto
typed_extension_protocol_options:
  envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
    "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
    auto_config: { http2_protocol_options: { max_concurrent_streams: 7 } }
`);
    assert.equal(i.http2ProtocolOptions?.maxConcurrentStreams, 7);
    assert.throws(
      () =>
        info(`
name: auto
typed_extension_protocol_options:
  envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
    "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
    auto_config: { http3_protocol_options: {} }
`),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.fieldPath === 'clusters["auto"].typed_extension_protocol_options["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"].auto_config.http3_protocol_options' &&
        /not supported yet/.test(e.message),
    );
  });
});

describe('load balancing config', () => {
  test('LEAST_REQUEST with choice_count and active_request_bias', () => {
    const i = info(`
name: lr
lb_policy: LEAST_REQUEST
least_request_lb_config:
  choice_count: 4
  active_request_bias: { default_value: 0.5, runtime_key: x }
common_lb_config:
  healthy_panic_threshold: { value: 25 }
`);
    assert.deepEqual(i.lb, {
      policy: { kind: 'least_request', choiceCount: 4, activeRequestBias: 0.5, fullScan: false },
      healthyPanicThreshold: 25,
      localityWeightedBalancing: false,
    });
  });

  test('LEAST_REQUEST defaults: choice_count 2, bias 1.0', () => {
    assert.deepEqual(info('{name: lr, lb_policy: LEAST_REQUEST}').lb.policy, {
      kind: 'least_request',
      choiceCount: 2,
      activeRequestBias: 1,
      fullScan: false,
    });
  });

  test('RANDOM', () => {
    assert.deepEqual(info('{name: r, lb_policy: RANDOM}').lb.policy, { kind: 'random' });
  });

  test('typed load_balancing_policy: first supported policy wins', () => {
    const i = info(`
name: typed
load_balancing_policy:
  policies:
  - typed_extension_config:
      name: envoy.load_balancing_policies.pick_first
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.load_balancing_policies.pick_first.v3.PickFirst
  - typed_extension_config:
      name: envoy.load_balancing_policies.least_request
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.load_balancing_policies.least_request.v3.LeastRequest
        choice_count: 3
        selection_method: FULL_SCAN
`);
    assert.deepEqual(i.lb.policy, { kind: 'least_request', choiceCount: 3, activeRequestBias: 1, fullScan: true });
    const rr = info(`
name: typed_rr
load_balancing_policy:
  policies:
  - typed_extension_config:
      name: envoy.load_balancing_policies.round_robin
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.load_balancing_policies.round_robin.v3.RoundRobin
`);
    assert.deepEqual(rr.lb.policy, { kind: 'round_robin' });
  });

  test('RING_HASH: defaults, ring_hash_lb_config, MURMUR_HASH_2, use_hostname_for_hashing', () => {
    assert.deepEqual(info('{name: r, lb_policy: RING_HASH}').lb.policy, {
      kind: 'ring_hash', minimumRingSize: 1024, maximumRingSize: 8388608, hashFunction: 'xx_hash', useHostnameForHashing: false,
    });
    assert.deepEqual(info(`
name: r
lb_policy: RING_HASH
ring_hash_lb_config: { minimum_ring_size: 16, maximum_ring_size: 64, hash_function: MURMUR_HASH_2 }
common_lb_config: { consistent_hashing_lb_config: { use_hostname_for_hashing: true } }
`).lb.policy, { kind: 'ring_hash', minimumRingSize: 16, maximumRingSize: 64, hashFunction: 'murmur_hash_2', useHostnameForHashing: true });
  });

  test('MAGLEV: default table 65537, a prime table_size', () => {
    assert.deepEqual(info('{name: m, lb_policy: MAGLEV}').lb.policy, { kind: 'maglev', tableSize: 65537, useHostnameForHashing: false });
    assert.deepEqual(info('{name: m, lb_policy: MAGLEV, maglev_lb_config: {table_size: 7}}').lb.policy,
      { kind: 'maglev', tableSize: 7, useHostnameForHashing: false });
  });

  test('typed ring_hash and maglev policies', () => {
    const rh = info(`
name: t
load_balancing_policy:
  policies:
  - typed_extension_config:
      name: envoy.load_balancing_policies.ring_hash
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.load_balancing_policies.ring_hash.v3.RingHash
        hash_function: MURMUR_HASH_2
        minimum_ring_size: 100
        consistent_hashing_lb_config: { use_hostname_for_hashing: true }
        locality_weighted_lb_config: {}
`);
    assert.deepEqual(rh.lb.policy, { kind: 'ring_hash', minimumRingSize: 100, maximumRingSize: 8388608, hashFunction: 'murmur_hash_2', useHostnameForHashing: true });
    assert.equal(rh.lb.localityWeightedBalancing, true);
    const mg = info(`
name: t
load_balancing_policy:
  policies:
  - typed_extension_config:
      name: envoy.load_balancing_policies.maglev
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.load_balancing_policies.maglev.v3.Maglev
        table_size: 11
`);
    assert.deepEqual(mg.lb.policy, { kind: 'maglev', tableSize: 11, useHostnameForHashing: false });
  });

  test('impossible ring / table sizes are errors naming the field', () => {
    const cases: Array<[string, string, RegExp]> = [
      ['{name: h, lb_policy: RING_HASH, ring_hash_lb_config: {minimum_ring_size: 20, maximum_ring_size: 10}}',
        'clusters["h"].ring_hash_lb_config', /ring hash: minimum_ring_size \(20\) > maximum_ring_size \(10\)/],
      ['{name: h, lb_policy: RING_HASH, ring_hash_lb_config: {minimum_ring_size: 0}}', 'clusters["h"].ring_hash_lb_config.minimum_ring_size', /at least 1/],
      ['{name: h, lb_policy: RING_HASH, ring_hash_lb_config: {maximum_ring_size: 8388609}}', 'clusters["h"].ring_hash_lb_config.maximum_ring_size', /at most 8388608/],
      ['{name: h, lb_policy: MAGLEV, maglev_lb_config: {table_size: 65536}}', 'clusters["h"].maglev_lb_config.table_size', /must be prime number/],
      ['{name: h, lb_policy: MAGLEV, maglev_lb_config: {table_size: 1}}', 'clusters["h"].maglev_lb_config.table_size', /must be prime number/],
      ['{name: h, lb_policy: MAGLEV, maglev_lb_config: {table_size: 5000101}}', 'clusters["h"].maglev_lb_config.table_size', /at most 5000011/],
      ['{name: h, lb_policy: MAGLEV, ring_hash_lb_config: {}}', 'clusters["h"].ring_hash_lb_config', /expected MAGLEV/],
      ['{name: h, lb_policy: RING_HASH, common_lb_config: {consistent_hashing_lb_config: {hash_balance_factor: 120}}}',
        'clusters["h"].common_lb_config.consistent_hashing_lb_config.hash_balance_factor', /not supported yet/],
    ];
    for (const [yaml, path, re] of cases) {
      assert.throws(() => info(yaml), (e: unknown) => e instanceof ConfigError && e.fieldPath === path && re.test(e.message), yaml);
    }
  });

  test('CLUSTER_PROVIDED is rejected with the field path, not silently round robin', () => {
    for (const p of ['CLUSTER_PROVIDED']) {
      assert.throws(
        () => info(`{name: h, lb_policy: ${p}}`),
        (e: unknown) =>
          e instanceof ConfigError && e.fieldPath === 'clusters["h"].lb_policy' && e.message.includes(`lb_policy ${p} is not supported yet`),
      );
    }
  });

  test('a typed policy list with nothing supported is rejected', () => {
    assert.throws(
      () =>
        info(`
name: t
load_balancing_policy:
  policies:
  - typed_extension_config:
      name: envoy.load_balancing_policies.pick_first
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.load_balancing_policies.pick_first.v3.PickFirst
`),
      (e: unknown) => e instanceof ConfigError && e.fieldPath === 'clusters["t"].load_balancing_policy' && /pick_first/.test(e.message),
    );
  });

  test('a *_lb_config that does not match lb_policy is an error', () => {
    assert.throws(
      () => info('{name: m, lb_policy: ROUND_ROBIN, least_request_lb_config: {choice_count: 3}}'),
      (e: unknown) => e instanceof ConfigError && e.fieldPath === 'clusters["m"].least_request_lb_config',
    );
  });

  test('slow start is rejected as not supported yet', () => {
    assert.throws(
      () => info('{name: s, round_robin_lb_config: {slow_start_config: {slow_start_window: 10s}}}'),
      (e: unknown) => e instanceof ConfigError && e.fieldPath === 'clusters["s"].round_robin_lb_config.slow_start_config',
    );
  });

  test('locality_weighted_lb_config turns on locality-weighted balancing (cluster or typed policy)', () => {
    assert.equal(info('{name: l}').lb.localityWeightedBalancing, false);
    assert.equal(info('{name: l, common_lb_config: {locality_weighted_lb_config: {}}}').lb.localityWeightedBalancing, true);
    assert.equal(info('{name: l, lb_policy: MAGLEV, common_lb_config: {locality_weighted_lb_config: {}}}').lb.localityWeightedBalancing, true);
    const typed = info(`
name: typed_rr
load_balancing_policy:
  policies:
  - typed_extension_config:
      name: envoy.load_balancing_policies.round_robin
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.load_balancing_policies.round_robin.v3.RoundRobin
        locality_lb_config: { locality_weighted_lb_config: {} }
`);
    assert.equal(typed.lb.localityWeightedBalancing, true);
  });

  test('unsupported cluster types are rejected', () => {
    assert.equal(info('{name: e, type: EDS}').type, 'eds');
    assert.throws(
      () => info('{name: o, type: ORIGINAL_DST, lb_policy: CLUSTER_PROVIDED}'),
      (e: unknown) => e instanceof ConfigError && /ORIGINAL_DST/.test(e.message),
    );
  });
});
