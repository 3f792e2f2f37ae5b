/**
 * PGV rules read from the descriptors, checked on real Envoy messages, with
 * PGV's wording and our field paths.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fromJson, type JsonObject, type Message } from '@bufbuild/protobuf';
import { ConfigError } from '../../src/config/config_error.js';
import { collectViolations, validateMessage } from '../../src/config/pgv_validator.js';
import { messageSchema, typeRegistry } from '../../src/config/type_registry.js';

function msg(type: string, json: JsonObject): Message {
  return fromJson(messageSchema(type), json, { registry: typeRegistry() });
}

/** The violations of `json` as `type`, as "path: message" strings without the rule owner. */
function violations(type: string, json: JsonObject, path = ''): string[] {
  return collectViolations(msg(type, json), path).map((e) => `${e.fieldPath}: ${e.detail.replace(/ \(validate rule on [^)]*\)$/, '')}`);
}

function ok(type: string, json: JsonObject): void {
  assert.deepEqual(violations(type, json), []);
}

const CLUSTER = 'envoy.config.cluster.v3.Cluster';
const HCM = 'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';

describe('pgv_validator: strings', () => {
  test('min_len counts characters; an empty cluster name fails', () => {
    assert.deepEqual(violations(CLUSTER, { name: '' }), ['name: value length must be at least 1 characters']);
    assert.deepEqual(violations(CLUSTER, {}), ['name: value length must be at least 1 characters']);
    ok(CLUSTER, { name: 'é' });
  });

  test('max_len and max_bytes', () => {
    const t = 'envoy.extensions.path.match.uri_template.v3.UriTemplateMatchConfig';
    assert.deepEqual(violations(t, { path_template: '/' + 'a'.repeat(256) }), ['path_template: value length must be at most 256 characters']);
    ok(t, { path_template: '/' + 'é'.repeat(255) }); // characters, not bytes
    assert.deepEqual(violations('envoy.config.core.v3.HeaderValue', { key: 'k', value: 'v'.repeat(16385) }), [
      'value: value length must be at most 16384 bytes',
    ]);
  });

  test('well_known_regex HTTP header name/value, lax (strict: false) and strict with ignore_empty', () => {
    const hv = 'envoy.config.core.v3.HeaderValue';
    ok(hv, { key: 'x-ok', value: 'any thing' });
    assert.deepEqual(violations(hv, { key: 'bad\nname', value: 'v' }), ['key: value must be a valid HTTP header name']);
    assert.deepEqual(violations(hv, { key: 'k', value: 'a\r\nb' }), ['value: value must be a valid HTTP header value']);
    const up = 'envoy.config.core.v3.UpstreamHttpProtocolOptions';
    assert.deepEqual(violations(up, { override_auto_sni_header: 'not a token' }), [
      'override_auto_sni_header: value must be a valid HTTP header name',
    ]);
    ok(up, { override_auto_sni_header: ':authority' });
    ok(up, { override_auto_sni_header: '' }); // ignore_empty
  });

  test('pattern (RE2), in', () => {
    const rm = 'envoy.config.route.v3.RouteMatch';
    assert.deepEqual(violations(rm, { path_separated_prefix: '/api/' }), [
      'path_separated_prefix: value does not match regex pattern "^[^?#]+[^?#/]$"',
    ]);
    ok(rm, { path_separated_prefix: '/api' });
    const sht = 'envoy.config.core.v3.SchemeHeaderTransformation';
    assert.deepEqual(violations(sht, { scheme_to_overwrite: 'ftp' }), ['scheme_to_overwrite: value must be in list ["http", "https"]']);
    ok(sht, { scheme_to_overwrite: 'https' });
  });
});

describe('pgv_validator: numbers, bools, enums, bytes', () => {
  test('gte/lte on a plain field, a wrapper (only when set) and a double', () => {
    assert.deepEqual(violations('envoy.config.core.v3.SocketAddress', { address: 'a', port_value: 65536 }), [
      'port_value: value must be less than or equal to 65535',
    ]);
    const lbe = 'envoy.config.endpoint.v3.LbEndpoint';
    ok(lbe, {});
    assert.deepEqual(violations(lbe, { load_balancing_weight: 0 }), ['load_balancing_weight: value must be greater than or equal to 1']);
    assert.deepEqual(violations('envoy.type.v3.Percent', { value: 100.5 }), ['value: value must be inside range [0, 100]']);
    assert.deepEqual(violations(HCM, { stat_prefix: 'x', rds: { route_config_name: 'r', config_source: { ads: {} } }, max_request_headers_kb: 0 }), [
      'max_request_headers_kb: value must be inside range (0, 8192]',
    ]);
  });

  test('a half-open range, 64-bit values and int32 ranges', () => {
    const dr = 'envoy.config.route.v3.DirectResponseAction';
    assert.deepEqual(violations(dr, { status: 600 }), ['status: value must be inside range [200, 600)']);
    assert.deepEqual(violations(dr, { status: 199 }), ['status: value must be inside range [200, 600)']);
    ok(dr, { status: 599 });
    const rh = 'envoy.config.cluster.v3.Cluster.RingHashLbConfig';
    assert.deepEqual(violations(rh, { maximum_ring_size: '8388609' }), ['maximum_ring_size: value must be less than or equal to 8388608']);
    const fs = 'envoy.extensions.filters.network.thrift_proxy.filters.payload_to_metadata.v3.PayloadToMetadata.FieldSelector';
    assert.deepEqual(violations(fs, { name: 'n', id: -40000 }), ['id: value must be inside range [-32768, 32767]']);
  });

  test('bool const', () => {
    assert.deepEqual(violations('envoy.config.bootstrap.v3.Bootstrap', { stats_flush_on_admin: false }), ['stats_flush_on_admin: value must equal true']);
    ok('envoy.config.bootstrap.v3.Bootstrap', { stats_flush_on_admin: true });
  });

  test('enum defined_only and not_in', () => {
    assert.deepEqual(violations(CLUSTER, { name: 'c', lb_policy: 42 }), [
      'lb_policy: value must be one of the defined enum values (ROUND_ROBIN, LEAST_REQUEST, RING_HASH, RANDOM, MAGLEV, CLUSTER_PROVIDED, LOAD_BALANCING_POLICY_CONFIG), got 42',
    ]);
    const hhc = 'envoy.config.core.v3.HealthCheck.HttpHealthCheck';
    assert.deepEqual(violations(hhc, { path: '/h', method: 'CONNECT' }), ['method: value must not be in list [CONNECT]']);
    ok(hhc, { path: '/h', method: 'GET' });
  });

  test('bytes max_len', () => {
    const raw = Buffer.alloc(16385).toString('base64');
    assert.deepEqual(violations('envoy.config.core.v3.HeaderValue', { key: 'k', raw_value: raw }), ['raw_value: value length must be at most 16384 bytes']);
  });
});

describe('pgv_validator: messages, oneofs, repeated, maps, Any, Durations', () => {
  test('message required (a plain message and a wrapper)', () => {
    assert.deepEqual(violations('envoy.config.route.v3.Route', { route: { cluster: 'c' } }), ['match: value is required']);
    const hc = violations('envoy.config.core.v3.HealthCheck', { timeout: '1s', interval: '1s', http_health_check: { path: '/' } });
    assert.deepEqual(hc, ['unhealthy_threshold: value is required', 'healthy_threshold: value is required']);
  });

  test('oneof required names its members', () => {
    assert.deepEqual(violations('envoy.config.route.v3.Route', { match: { prefix: '/' } }), [
      'action: value is required: set one of route, redirect, direct_response, filter_action, non_forwarding_action',
    ]);
  });

  test('Duration required, gt, lt/gte, and an "outside" range', () => {
    assert.deepEqual(violations('envoy.config.core.v3.HealthCheck', { interval: '0s', unhealthy_threshold: 1, healthy_threshold: 1, tcp_health_check: {} }), [
      'timeout: value is required',
      'interval: value must be greater than 0s',
    ]);
    assert.deepEqual(violations(CLUSTER, { name: 'c', connect_timeout: '-1s' }), ['connect_timeout: value must be greater than 0s']);
    const b = 'envoy.config.bootstrap.v3.Bootstrap';
    assert.deepEqual(violations(b, { stats_flush_interval: '300s' }), ['stats_flush_interval: value must be inside range [0.001s, 300s)']);
    assert.deepEqual(violations(b, { stats_flush_interval: '0.0005s' }), ['stats_flush_interval: value must be inside range [0.001s, 300s)']);
    const q = 'envoy.config.core.v3.QuicKeepAliveSettings';
    assert.deepEqual(violations(q, { max_interval: '0.5s' }), ['max_interval: value must be outside range (0s, 1s)']);
    ok(q, { max_interval: '0s' });
    ok(q, { max_interval: '2s' });
  });

  test('repeated min_items, max_items, unique and item rules', () => {
    const vh = 'envoy.config.route.v3.VirtualHost';
    assert.deepEqual(violations(vh, { name: 'v' }), ['domains: value must contain at least 1 item(s)']);
    assert.deepEqual(violations(vh, { name: 'v', domains: ['*'], request_headers_to_remove: ['ok', ''] }), [
      'request_headers_to_remove[1]: value length must be at least 1 characters',
    ]);
    const tp = 'envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';
    assert.deepEqual(violations(tp, { stat_prefix: 's', cluster: 'c', hash_policy: [{ source_ip: {} }, { source_ip: {} }] }), [
      'hash_policy: value must contain no more than 1 item(s)',
    ]);
    assert.deepEqual(violations('envoy.config.metrics.v3.HistogramBucketSettings', { match: { exact: 'x' }, buckets: [1, 2, 2] }), [
      'buckets[2]: repeated value must contain unique items',
    ]);
    assert.deepEqual(violations('envoy.config.core.v3.HealthStatusSet', { statuses: ['HEALTHY', 99] }), [
      'statuses[1]: value must be one of the defined enum values (UNKNOWN, HEALTHY, UNHEALTHY, DRAINING, TIMEOUT, DEGRADED), got 99',
    ]);
  });

  test('map keys and min_pairs', () => {
    assert.deepEqual(violations('envoy.config.core.v3.Metadata', { filter_metadata: { '': { a: 1 } } }), [
      'filter_metadata[""]: value length must be at least 1 characters',
    ]);
    assert.deepEqual(violations('envoy.config.common.matcher.v3.Matcher.MatcherTree.MatchMap', { map: {} }), [
      'map: value must contain at least 1 pair(s)',
    ]);
  });

  test('Any required', () => {
    assert.deepEqual(violations('envoy.config.core.v3.TypedExtensionConfig', { name: 'x' }), ['typed_config: value is required']);
  });

  test('violations inside an Any and inside a TypedStruct carry the path through typed_config', () => {
    const filter = 'envoy.config.listener.v3.Filter';
    const hcm = { '@type': `type.googleapis.com/${HCM}`, rds: { route_config_name: 'r', config_source: { ads: {} } } };
    assert.deepEqual(violations(filter, { name: 'f', typed_config: hcm }, 'filters[0]'), [
      'filters[0].typed_config.stat_prefix: value length must be at least 1 characters',
    ]);
    const ts = {
      '@type': 'type.googleapis.com/xds.type.v3.TypedStruct',
      type_url: `type.googleapis.com/${HCM}`,
      value: { stat_prefix: '', rds: { route_config_name: 'r', config_source: { ads: {} } } },
    };
    assert.deepEqual(violations(filter, { name: 'f', typed_config: ts }), ['typed_config.value.stat_prefix: value length must be at least 1 characters']);
    // Not descending on request.
    assert.deepEqual(collectViolations(msg(filter, { name: 'f', typed_config: hcm }), '', undefined, { descendIntoAny: false }), []);
  });

  test('validateMessage throws one ConfigError naming the rule owner, listing the rest', () => {
    assert.throws(
      () => validateMessage(msg(CLUSTER, { name: '', connect_timeout: '0s' }), 'clusters[3]'),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.fieldPath === 'clusters[3].name' &&
        e.message.startsWith('clusters[3].name: value length must be at least 1 characters (validate rule on envoy.config.cluster.v3.Cluster.name)') &&
        e.others.length === 1 &&
        e.others[0]?.fieldPath === 'clusters[3].connect_timeout',
    );
    validateMessage(msg(CLUSTER, { name: 'ok', connect_timeout: '1s' }));
  });

  test('positions come from the lookup given', () => {
    const positions = { lookup: (p: string) => (p === 'name' ? { file: 'f.yaml', line: 7, column: 3 } : undefined) };
    const [e] = collectViolations(msg(CLUSTER, { name: '' }), '', positions);
    assert.equal(e?.message.startsWith('f.yaml:7:3: name: '), true);
  });
});
