import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { Any } from '@bufbuild/protobuf/wkt';
import type { RouteEntryImpl, RouteImpl } from '../../src/router/route_entry_impl.js';
import { RetryOn, parseRetryGrpcOn, parseRetryOn } from '../../src/router/retry_policy_impl.js';
import { type RouteTableOptions } from '../../src/router/config_impl.js';
import { req, streamInfo, table } from './test_util.js';

function route(action: string, vhostExtra = '', options: Partial<RouteTableOptions> = {}): RouteImpl {
  const t = table(`
virtual_hosts:
- name: vh
  domains: ["*"]
${vhostExtra}
  routes:
  - name: the-route
    match: {prefix: /}
    route: ${action}`, options);
  return t.route(req('h', '/'), streamInfo(), 0) as RouteImpl;
}
const entry = (action: string, vhostExtra = '') => route(action, vhostExtra).routeEntry as RouteEntryImpl;

describe('timeouts', () => {
  it('route timeout defaults to 15s; 0s disables; fractional seconds', () => {
    assert.equal(entry('{cluster: c}').timeoutMs, 15000);
    assert.equal(entry('{cluster: c, timeout: 0s}').timeoutMs, 0);
    assert.equal(entry('{cluster: c, timeout: 2.5s}').timeoutMs, 2500);
    assert.equal(entry('{cluster: c, timeout: 0.0005s}').timeoutMs, 0);
  });
  it('idle_timeout: unset vs 0 vs set', () => {
    const unset = entry('{cluster: c}');
    assert.equal(unset.idleTimeoutMs, 0);
    assert.equal(unset.idleTimeoutMsOrNull, null);
    assert.equal(entry('{cluster: c, idle_timeout: 0s}').idleTimeoutMsOrNull, 0);
    assert.equal(entry('{cluster: c, idle_timeout: 30s}').idleTimeoutMs, 30000);
  });
  it('max_stream_duration', () => {
    const e = entry('{cluster: c, max_stream_duration: {max_stream_duration: 5s, grpc_timeout_header_max: 1s}}');
    assert.equal(e.maxStreamDurationMs, 5000);
    assert.equal(e.grpcTimeoutHeaderMaxMs, 1000);
    assert.equal(e.grpcTimeoutHeaderOffsetMs, null);
  });
});

describe('retry_policy', () => {
  it('parses retry_on names into bits (trimmed, unknown ignored)', () => {
    const p = entry(`{cluster: c, retry_policy: {retry_on: "5xx, gateway-error,reset,connect-failure,retriable-4xx,refused-stream,retriable-status-codes,retriable-headers,envoy-ratelimited,http3-post-connect-failure,bogus", num_retries: 3, per_try_timeout: 0.25s, retriable_status_codes: [409, 418]}}`).retryPolicy!;
    assert.equal(p.retryOn, RetryOn.FiveXx | RetryOn.GatewayError | RetryOn.Reset | RetryOn.ConnectFailure | RetryOn.Retriable4xx
      | RetryOn.RefusedStream | RetryOn.RetriableStatusCodes | RetryOn.RetriableHeaders | RetryOn.EnvoyRateLimited
      | RetryOn.Http3PostConnectFailure);
    assert.equal(p.numRetries, 3);
    assert.equal(p.perTryTimeoutMs, 250);
    assert.deepEqual([...p.retriableStatusCodes], [409, 418]);
  });
  it('defaults: num_retries 1, no per-try timeout', () => {
    const p = entry('{cluster: c, retry_policy: {retry_on: 5xx}}').retryPolicy!;
    assert.equal(p.numRetries, 1);
    assert.equal(p.perTryTimeoutMs, 0);
    assert.equal(p.baseIntervalMs, null);
    assert.equal(p.hostSelectionMaxAttempts, 1);
  });
  it('gRPC retry_on names', () => {
    const p = entry('{cluster: c, retry_policy: {retry_on: "cancelled,unavailable,5xx"}}').retryPolicy!;
    assert.equal(p.retryOn, RetryOn.GrpcCancelled | RetryOn.GrpcUnavailable | RetryOn.FiveXx);
    assert.deepEqual(parseRetryOn('5xx,nope'), { bits: RetryOn.FiveXx, allValid: false });
    assert.deepEqual(parseRetryGrpcOn('deadline-exceeded, internal ,resource-exhausted'),
      { bits: RetryOn.GrpcDeadlineExceeded | RetryOn.GrpcInternal | RetryOn.GrpcResourceExhausted, allValid: true });
  });
  it('back-off and retriable headers', () => {
    const p = entry(`{cluster: c, retry_policy: {retry_on: retriable-headers, retry_back_off: {base_interval: 0.1s, max_interval: 1s},
      retriable_headers: [{name: x-retry, string_match: {exact: "yes"}}]}}`).retryPolicy!;
    assert.equal(p.baseIntervalMs, 100);
    assert.equal(p.maxIntervalMs, 1000);
    assert.equal(p.retriableHeaders.length, 1);
    assert.equal(p.retriableHeaders[0]!.match(req('h', '/', [['x-retry', 'yes']])), true);
    assert.throws(() => entry('{cluster: c, retry_policy: {retry_back_off: {base_interval: 1s, max_interval: 0.5s}}}'),
      /retry_policy.retry_back_off.max_interval: retry_policy.max_interval must greater than or equal to the base_interval/);
  });
  it('the route policy replaces the virtual host policy entirely', () => {
    const vh = '  retry_policy: {retry_on: connect-failure, num_retries: 5}';
    assert.equal(entry('{cluster: c}', vh).retryPolicy!.numRetries, 5);
    const own = entry('{cluster: c, retry_policy: {retry_on: 5xx}}', vh).retryPolicy!;
    assert.equal(own.retryOn, RetryOn.FiveXx);
    assert.equal(own.numRetries, 1);
    assert.equal(entry('{cluster: c}').retryPolicy, null);
  });
});

describe('upgrade_configs', () => {
  it('enabled defaults to true; lookups ignore case', () => {
    const e = entry('{cluster: c, upgrade_configs: [{upgrade_type: websocket}, {upgrade_type: h2c, enabled: false}, {upgrade_type: CONNECT, connect_config: {}}]}');
    assert.deepEqual(e.upgradeConfigs.map((u) => [u.upgradeType, u.enabled]), [['websocket', true], ['h2c', false], ['CONNECT', true]]);
    assert.equal(e.upgradeEnabled('WebSocket'), true);
    assert.equal(e.upgradeEnabled('h2c'), false);
    assert.equal(e.upgradeEnabled('other'), undefined);
  });
  it('duplicates and connect_config on non-CONNECT are errors', () => {
    assert.throws(() => entry('{cluster: c, upgrade_configs: [{upgrade_type: websocket}, {upgrade_type: WebSocket}]}'), /Duplicate upgrade WebSocket/);
    assert.throws(() => entry('{cluster: c, upgrade_configs: [{upgrade_type: websocket, connect_config: {}}]}'), /Non-CONNECT upgrade type websocket has ConnectConfig/);
  });
});

describe('typed_per_filter_config', () => {
  const fault = (code: number) => `
      envoy.filters.http.fault:
        "@type": type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault
        abort: {http_status: ${code}, percentage: {numerator: 100}}`;
  const yaml = (levels: { global?: boolean; vhost?: boolean; route?: boolean }) => `
${levels.global ? `typed_per_filter_config:${fault(500).replace(/\n {6}/g, '\n  ')}` : ''}
virtual_hosts:
- name: vh
  domains: ["*"]
${levels.vhost ? `  typed_per_filter_config:${fault(501).replace(/\n {6}/g, '\n    ')}` : ''}
  routes:
  - match: {prefix: /}
    route: {cluster: c}
${levels.route ? `    typed_per_filter_config:${fault(502)}` : ''}`;

  it('the most specific level wins; the compile hook runs once per entry at compile time', () => {
    const seen: string[] = [];
    const compilePerFilterConfig = (name: string, any: Any) => {
      seen.push(name);
      return { name, bytes: any.value.length, typeUrl: any.typeUrl };
    };
    const r = (levels: Parameters<typeof yaml>[0]) =>
      table(yaml(levels), { compilePerFilterConfig }).route(req('h', '/'), streamInfo(), 0) as RouteImpl;
    const all = r({ global: true, vhost: true, route: true });
    assert.equal(seen.length, 3);
    const own = all.perFilterConfig('envoy.filters.http.fault') as { bytes: number };
    assert.equal(all.perFilterConfigs('envoy.filters.http.fault').length, 3);
    assert.equal(all.perFilterConfigs('envoy.filters.http.fault')[2], own);
    assert.equal(all.perFilterConfig('other'), undefined);
    const vhOnly = r({ global: true, vhost: true });
    assert.equal(vhOnly.perFilterConfig('envoy.filters.http.fault'), vhOnly.virtualHost.perFilterConfigMap.get('envoy.filters.http.fault'));
    const globalOnly = r({ global: true });
    assert.equal((globalOnly.perFilterConfig('envoy.filters.http.fault') as { typeUrl: string }).typeUrl,
      'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault');
  });

  it('without a hook the raw Any is kept; a throwing hook is a config error at the entry', () => {
    const raw = table(yaml({ route: true })).route(req('h', '/'), streamInfo(), 0)!;
    assert.equal((raw.perFilterConfig('envoy.filters.http.fault') as Any).typeUrl,
      'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault');
    assert.throws(() => table(yaml({ route: true }), { compilePerFilterConfig: () => { throw new Error('bad fault config'); } }),
      /virtual_hosts\[0\]\.routes\[0\]\.typed_per_filter_config\["envoy\.filters\.http\.fault"\]: bad fault config/);
  });
});

describe('names, raw config and referenced clusters', () => {
  it('route and virtual host names', () => {
    const r = route('{cluster: c}');
    assert.equal(r.name, 'the-route');
    assert.equal(r.virtualHost.name, 'vh');
  });

  it('referencedClusters covers cluster, weighted and mirror clusters (not cluster_header)', () => {
    const t = table(`
request_mirror_policies: [{cluster: global-mirror}]
virtual_hosts:
- name: vh
  domains: ["*"]
  request_mirror_policies: [{cluster: vh-mirror}]
  routes:
  - {match: {prefix: /a}, route: {cluster: a}}
  - {match: {prefix: /b}, route: {weighted_clusters: {clusters: [{name: w1, weight: 1}, {cluster_header: x-c, weight: 1}]}}}
  - {match: {prefix: /c}, route: {cluster_header: x-cluster}}
  - {match: {prefix: /d}, route: {cluster: d, request_mirror_policies: [{cluster: d-mirror}]}}
- name: other
  domains: [other.com]
  routes: [{match: {prefix: /}, redirect: {host_redirect: x}}]`);
    // global-mirror: inherited (and so validated) by the redirect route of 'other', as Envoy.
    assert.deepEqual([...t.referencedClusters()].sort(), ['a', 'd', 'd-mirror', 'global-mirror', 'vh-mirror', 'w1']);
    const r = t.route(req('h', '/a'), streamInfo(), 0)!.routeEntry as RouteEntryImpl;
    assert.deepEqual(r.requestMirrorPolicies.map((p) => p.cluster), ['vh-mirror']);
  });

  it('validate_clusters: the callback sees every name; it can reject; validate_clusters: false skips it', () => {
    const yaml = (v = '') => `
${v}
virtual_hosts:
- name: vh
  domains: ["*"]
  routes: [{match: {prefix: /}, route: {cluster: missing}}]`;
    const known = new Set(['present']);
    const validateClusters = (names: ReadonlySet<string>) => {
      for (const n of names) if (!known.has(n)) throw new Error(`route: unknown cluster '${n}'`);
    };
    assert.throws(() => table(yaml(), { validateClusters }), /route: unknown cluster 'missing'/);
    assert.doesNotThrow(() => table(yaml('validate_clusters: false'), { validateClusters }));
    assert.doesNotThrow(() => table(yaml(), { validateClusters, validateClustersDefault: false }));
    assert.throws(() => table(yaml('validate_clusters: true'), { validateClusters, validateClustersDefault: false }), /unknown cluster/);
  });
});
