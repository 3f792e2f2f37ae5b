/**
 * Loading bootstraps: what Envoy accepts must load into the right typed
 * values, and every kind of bad input must fail with file, line, column and
 * field path.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { equals, toBinary } from '@bufbuild/protobuf';
import type { Any } from '@bufbuild/protobuf/wkt';
import type { HttpConnectionManager } from '../../src/generated/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager_pb.js';
import type { HTTPFault } from '../../src/generated/envoy/extensions/filters/http/fault/v3/fault_pb.js';
import type { FileAccessLog } from '../../src/generated/envoy/extensions/access_loggers/file/v3/file_pb.js';
import { loadBootstrap, CONFIG_YAML_SOURCE } from '../../src/config/bootstrap_loader.js';
import { ConfigError } from '../../src/config/config_error.js';
import { messageSchema, unpackAny } from '../../src/config/type_registry.js';
import { expectConfigError, fixture, loadYaml, warningAt, writeTemp } from './config_test_util.js';

const lines = (...l: string[]): string => l.join('\n') + '\n';

/** A small valid bootstrap with one listener (HCM + router) and one cluster. */
const MINIMAL = lines(
  'static_resources:', //                                                          1
  '  listeners:', //                                                               2
  '  - name: l0', //                                                               3
  '    address:', //                                                               4
  '      socket_address: { address: 0.0.0.0, port_value: 10000 }', //            5
  '    filter_chains:', //                                                         6
  '    - filters:', //                                                             7
  '      - name: envoy.filters.network.http_connection_manager', //               8
  '        typed_config:', //                                                      9
  '          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager', // 10
  '          stat_prefix: ingress', //                                             11
  '          route_config:', //                                                    12
  '            virtual_hosts:', //                                                 13
  '            - name: vh', //                                                     14
  '              domains: ["*"]', //                                               15
  '              routes:', //                                                      16
  '              - match: { prefix: / }', //                                       17
  '                route: { cluster: c0 }', //                                     18
  '          http_filters:', //                                                    19
  '          - name: envoy.filters.http.router', //                                20
  '            typed_config:', //                                                  21
  '              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router', // 22
  '  clusters:', //                                                                23
  '  - name: c0', //                                                               24
  '    connect_timeout: 0.25s', //                                                 25
  '    type: STATIC', //                                                           26
  '    load_assignment:', //                                                       27
  '      cluster_name: c0', //                                                     28
  '      endpoints:', //                                                           29
  '      - lb_endpoints:', //                                                      30
  '        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 8080 } } }', // 31
);

/** MINIMAL with line `n` (1-based) replaced. */
function withLine(n: number, text: string, base = MINIMAL): string {
  const l = base.split('\n');
  l[n - 1] = text;
  return l.join('\n');
}

function hcmOf(loaded: ReturnType<typeof loadBootstrap>, listener = 0): HttpConnectionManager {
  const filter = loaded.bootstrap.staticResources?.listeners[listener]?.filterChains[0]?.filters[0];
  assert.ok(filter?.configType.case === 'typedConfig');
  return unpackAny(filter.configType.value, 'hcm') as unknown as HttpConnectionManager;
}

describe('loadBootstrap: valid bootstraps', () => {
  test('the full YAML fixture loads with typed values and no warnings', () => {
    const r = loadBootstrap({ configPath: fixture('full_bootstrap.yaml') });
    assert.deepEqual(r.warnings.map(String), []);
    const b = r.bootstrap;
    // Struct metadata stays plain JSON.
    assert.deepEqual(b.node?.metadata, { team: 'web', canary: true, weights: [1, 2.5, null] });
    assert.equal(b.node?.locality?.zone, 'z1');
    assert.equal(b.statsFlushInterval?.seconds, 5n);
    const listener = b.staticResources?.listeners[0];
    assert.equal(listener?.perConnectionBufferLimitBytes, 32768); // a bare wrapper number
    // Nested Any: HCM inside the listener filter.
    const hcm = hcmOf(r);
    assert.equal(hcm.statPrefix, 'ingress_http');
    assert.equal(hcm.codecType, 0); // AUTO
    assert.equal(hcm.useRemoteAddress, true);
    assert.equal(hcm.commonHttpProtocolOptions?.idleTimeout?.seconds, 300n);
    assert.equal(hcm.routeSpecifier.case, 'routeConfig');
    const rc = hcm.routeSpecifier.case === 'routeConfig' ? hcm.routeSpecifier.value : undefined;
    const vh = rc?.virtualHosts[0];
    const route = vh?.routes[0];
    assert.equal(route?.action.case, 'route');
    const action = route?.action.case === 'route' ? route.action.value : undefined;
    assert.equal(action?.timeout?.seconds, 1n);
    assert.equal(action?.timeout?.nanos, 500_000_000);
    assert.equal(action?.retryPolicy?.numRetries, 3);
    assert.equal(action?.retryPolicy?.perTryTimeout?.nanos, 500_000_000);
    assert.equal(action?.clusterSpecifier.case, 'weightedClusters');
    // A Router inside the HCM, the access log's json_format Struct.
    assert.equal(hcm.httpFilters[1]?.name, 'envoy.filters.http.router');
    const alAny = hcm.accessLog[0]?.configType.value as Any;
    const fileLog = unpackAny(alAny, 'al') as unknown as FileAccessLog;
    assert.equal(fileLog.path, '/dev/stdout');
    assert.equal(fileLog.accessLogFormat.case, 'logFormat');
    // A TypedStruct in typed_per_filter_config unwraps to the HTTPFault it names.
    const perFilter = vh?.typedPerFilterConfig['envoy.filters.http.fault'];
    assert.ok(perFilter !== undefined);
    const fault = unpackAny(perFilter, 'pf') as unknown as HTTPFault;
    assert.equal(fault.$typeName, 'envoy.extensions.filters.http.fault.v3.HTTPFault');
    assert.equal(fault.abort?.errorType.case, 'httpStatus');
    assert.equal(fault.abort?.percentage?.numerator, 5);
    // Clusters: enum names (also via the lowerCamelCase key lbPolicy), Durations, wrappers.
    const [a, bCluster] = b.staticResources?.clusters ?? [];
    assert.equal(a?.lbPolicy, 1); // LEAST_REQUEST
    assert.equal(a?.dnsLookupFamily, 1); // V4_ONLY
    assert.equal(a?.connectTimeout?.nanos, 250_000_000);
    assert.equal(a?.circuitBreakers?.thresholds[0]?.maxConnections, 1024);
    assert.equal(a?.healthChecks[0]?.unhealthyThreshold, 3);
    assert.deepEqual(a?.metadata?.filterMetadata['envoy.lb'], { canary: false, version: '1.2' });
    assert.equal(bCluster?.clusterDiscoveryType.case, 'type');
    assert.equal(b.dynamicResources?.adsConfig?.grpcServices[0]?.targetSpecifier.case, 'envoyGrpc');
    // The canonical JSON uses proto field names.
    const clusterJson = (r.sourceJson['static_resources'] as { clusters: Array<Record<string, unknown>> }).clusters[0];
    assert.equal(clusterJson?.['lb_policy'], 'LEAST_REQUEST');
    assert.ok(!('lbPolicy' in (clusterJson ?? {})));
    assert.ok(r.loadMs > 0);
    assert.equal(r.configDir, fixture());
  });

  test('the JSON fixture gives the same Bootstrap as the YAML one', () => {
    const y = loadBootstrap({ configPath: fixture('full_bootstrap.yaml') }).bootstrap;
    const j = loadBootstrap({ configPath: fixture('full_bootstrap.json') }).bootstrap;
    const schema = messageSchema('envoy.config.bootstrap.v3.Bootstrap');
    assert.ok(equals(schema, y as never, j as never));
    assert.deepEqual(toBinary(schema, y as never), toBinary(schema, j as never));
  });

  test('--config-yaml alone is a whole bootstrap; relative paths resolve from the cwd', () => {
    const r = loadYaml(MINIMAL);
    assert.equal(r.configDir, process.cwd());
    assert.equal(r.bootstrap.staticResources?.clusters[0]?.name, 'c0');
    assert.equal(hcmOf(r).httpFilters.length, 1);
  });

  test('lowerCamelCase JSON names are accepted and rewritten to proto names', () => {
    const r = loadYaml(withLine(25, '    connectTimeout: 2s'));
    assert.equal(r.bootstrap.staticResources?.clusters[0]?.connectTimeout?.seconds, 2n);
    const c = (r.sourceJson['static_resources'] as { clusters: Array<Record<string, unknown>> }).clusters[0];
    assert.equal(c?.['connect_timeout'], '2s');
  });

  test('enum numbers, numeric strings for integers and 64-bit strings are accepted', () => {
    const text = withLine(26, '    type: 0\n    per_connection_buffer_limit_bytes: "4096"\n    dns_refresh_rate: 1.000000001s');
    const c = loadYaml(text).bootstrap.staticResources?.clusters[0];
    assert.equal(c?.clusterDiscoveryType.case, 'type');
    assert.equal(c?.clusterDiscoveryType.value, 0);
    assert.equal(c?.perConnectionBufferLimitBytes, 4096);
    assert.equal(c?.dnsRefreshRate?.nanos, 1);
  });

  test('YAML anchors, aliases, merge keys and !ignore work', () => {
    const text = lines(
      '!ignore defaults: &timeouts { connect_timeout: 3s }',
      'static_resources:',
      '  clusters:',
      '  - <<: *timeouts',
      '    name: a',
      '  - <<: *timeouts',
      '    name: b',
      '    connect_timeout: 4s',
    );
    const cs = loadYaml(text).bootstrap.staticResources?.clusters ?? [];
    assert.deepEqual(
      cs.map((c) => [c.name, c.connectTimeout?.seconds]),
      [
        ['a', 3n],
        ['b', 4n],
      ],
    );
  });

  test('null means "not set", as in proto3 JSON', () => {
    const c = loadYaml(withLine(26, '    type: STATIC\n    per_connection_buffer_limit_bytes:')).bootstrap.staticResources?.clusters[0];
    assert.equal(c?.perConnectionBufferLimitBytes, undefined);
  });

  test('deprecated fields load with a warning naming the replacement', () => {
    const r = loadYaml(withLine(26, '    type: STATIC\n    http2_protocol_options: {}'));
    const w = warningAt(r.warnings, 'static_resources.clusters[0].http2_protocol_options');
    assert.equal(w.line, 27);
    assert.equal(w.column, 5);
    assert.match(w.message, /deprecated option 'envoy.config.cluster.v3.Cluster.http2_protocol_options'/);
    assert.match(w.message, /HttpProtocolOptions/);
    assert.match(w.toString(), /^--config-yaml:27:5: static_resources\.clusters\[0\]\.http2_protocol_options: /);
  });
});

describe('loadBootstrap: errors carry file, line, column and field path', () => {
  test('unknown field, with a suggestion', () => {
    const path = writeTemp('typo.yaml', withLine(25, '    conect_timeout: 0.25s'));
    const e = expectConfigError(() => loadBootstrap({ configPath: path }), {
      file: path,
      line: 25,
      column: 5,
      fieldPath: 'static_resources.clusters[0].conect_timeout',
    });
    assert.equal(
      e.message,
      `${path}:25:5: static_resources.clusters[0].conect_timeout: unknown field "conect_timeout" (did you mean "connect_timeout"?)`,
    );
  });

  test('unknown field without a close match names the message type', () => {
    expectConfigError(() => loadYaml(withLine(25, '    frobnicate: 1')), {
      file: CONFIG_YAML_SOURCE,
      line: 25,
      column: 5,
      includes: ['unknown field "frobnicate" (envoy.config.cluster.v3.Cluster has no such field)'],
    });
  });

  test('unknown field inside an Any (HCM in a listener filter) and inside an Any inside that (Router)', () => {
    expectConfigError(() => loadYaml(withLine(11, '          stat_prefx: ingress')), {
      line: 11,
      column: 11,
      fieldPath: 'static_resources.listeners[0].filter_chains[0].filters[0].typed_config.stat_prefx',
      includes: ['did you mean "stat_prefix"?'],
    });
    const text = withLine(22, '              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router\n              dynamic_stat: true');
    expectConfigError(() => loadYaml(text), {
      line: 23,
      column: 15,
      fieldPath: 'static_resources.listeners[0].filter_chains[0].filters[0].typed_config.http_filters[0].typed_config.dynamic_stat',
      includes: ['did you mean "dynamic_stats"?'],
    });
  });

  test('bad Duration: "1h" is not proto3 JSON; the error points at the value', () => {
    expectConfigError(() => loadYaml(withLine(25, '    connect_timeout: 1h')), {
      line: 25,
      column: 22,
      fieldPath: 'static_resources.clusters[0].connect_timeout',
      includes: ['invalid Duration "1h"', '"0.25s"'],
    });
  });

  test('bad Duration: a bare number, and too many decimals', () => {
    expectConfigError(() => loadYaml(withLine(25, '    connect_timeout: 5')), { line: 25, includes: ['invalid Duration number 5'] });
    expectConfigError(() => loadYaml(withLine(25, '    connect_timeout: 1.0000000001s')), { line: 25, includes: ['at most 9 decimals'] });
  });

  test('bad enum name, with a suggestion', () => {
    expectConfigError(() => loadYaml(withLine(26, '    type: STATIK')), {
      line: 26,
      column: 11,
      fieldPath: 'static_resources.clusters[0].type',
      includes: ['unknown value "STATIK" for enum envoy.config.cluster.v3.Cluster.DiscoveryType (did you mean STATIC?)'],
    });
    expectConfigError(() => loadYaml(withLine(26, '    type: BANANA')), {
      includes: ['expected one of STATIC, STRICT_DNS, LOGICAL_DNS, EDS, ORIGINAL_DST'],
    });
  });

  test('unknown "@type" names the type and points at it', () => {
    const text = withLine(10, '          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConectionManager');
    expectConfigError(() => loadYaml(text), {
      line: 10,
      column: 20,
      fieldPath: 'static_resources.listeners[0].filter_chains[0].filters[0].typed_config.@type',
      includes: ['unknown type "envoy.extensions.filters.network.http_connection_manager.v3.HttpConectionManager"'],
    });
  });

  test('unknown "@type" with the right simple name suggests the full name', () => {
    const text = withLine(22, '              "@type": type.googleapis.com/envoy.filters.http.router.v3.Router');
    expectConfigError(() => loadYaml(text), {
      line: 22,
      includes: ['did you mean "envoy.extensions.filters.http.router.v3.Router"'],
    });
  });

  test('typed_config without "@type", and "@type" that is not a type URL', () => {
    expectConfigError(() => loadYaml(withLine(10, '          codec_type: AUTO')), {
      line: 9,
      column: 9,
      fieldPath: 'static_resources.listeners[0].filter_chains[0].filters[0].typed_config',
      includes: ['missing "@type"'],
    });
    expectConfigError(() => loadYaml(withLine(22, '              "@type": Router')), {
      line: 22,
      includes: ['"@type" must be a type URL'],
    });
  });

  test('"@type" in a message that is not an Any', () => {
    expectConfigError(() => loadYaml(withLine(26, '    type: STATIC\n    "@type": type.googleapis.com/envoy.config.cluster.v3.Cluster')), {
      line: 27,
      includes: ['"@type" is only allowed where the field is a google.protobuf.Any'],
    });
  });

  test('wrong JSON types', () => {
    expectConfigError(() => loadYaml(withLine(24, '  - name: 123')), {
      line: 24,
      column: 11,
      fieldPath: 'static_resources.clusters[0].name',
      includes: ['expected a string, got number 123 (quote it: "123")'],
    });
    expectConfigError(() => loadYaml(withLine(5, '      socket_address: { address: 0.0.0.0, port_value: http }')), {
      line: 5,
      fieldPath: 'static_resources.listeners[0].address.socket_address.port_value',
      includes: ['expected an integer (uint32), got "http"'],
    });
    expectConfigError(() => loadYaml(withLine(5, '      socket_address: { address: 0.0.0.0, port_value: -1 }')), {
      includes: ['expected an integer in the uint32 range'],
    });
    expectConfigError(() => loadYaml(withLine(15, '              domains: "*"')), {
      line: 15,
      fieldPath: 'static_resources.listeners[0].filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].domains',
      includes: ['expected a list for repeated field domains'],
    });
    expectConfigError(() => loadYaml(withLine(26, '    type: STATIC\n    respect_dns_ttl: yes')), {
      line: 27,
      includes: ['expected true or false, got "yes"'],
    });
    expectConfigError(() => loadYaml(withLine(26, '    type: STATIC\n    per_connection_buffer_limit_bytes: { value: 5 }')), {
      includes: ['write 5, not {value: ...}'],
    });
    expectConfigError(() => loadYaml(withLine(4, '    address: "0.0.0.0:80"', withLine(5, '    # (no socket_address)'))), {
      line: 4,
      includes: ['expected a mapping of envoy.config.core.v3.Address fields, got "0.0.0.0:80"'],
    });
  });

  test('two members of one oneof', () => {
    expectConfigError(() => loadYaml(withLine(26, '    type: STATIC\n    cluster_type: { name: envoy.clusters.aggregate }')), {
      line: 27,
      fieldPath: 'static_resources.clusters[0].cluster_type',
      includes: ['only one of "type" and "cluster_type" may be set', 'cluster_discovery_type'],
    });
  });

  test('PGV: an empty cluster name', () => {
    expectConfigError(() => loadYaml(withLine(24, '  - name: ""')), {
      line: 24,
      column: 11,
      fieldPath: 'static_resources.clusters[0].name',
      includes: ['value length must be at least 1 characters', 'envoy.config.cluster.v3.Cluster.name'],
    });
  });

  test('PGV: a cluster without a name points at the cluster', () => {
    const text = withLine(24, '  - connect_timeout: 1s').replace('    connect_timeout: 0.25s\n', '');
    expectConfigError(() => loadYaml(text), {
      line: 24,
      column: 5,
      fieldPath: 'static_resources.clusters[0].name',
      includes: ['value length must be at least 1 characters'],
    });
  });

  test('PGV: stat_prefix missing from the HCM points at its typed_config', () => {
    expectConfigError(() => loadYaml(withLine(11, '          codec_type: AUTO')), {
      line: 9,
      column: 9,
      fieldPath: 'static_resources.listeners[0].filter_chains[0].filters[0].typed_config.stat_prefix',
      includes: ['value length must be at least 1 characters (validate rule on envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager.stat_prefix)'],
    });
  });

  test('PGV: Duration and numeric ranges', () => {
    expectConfigError(() => loadYaml(withLine(25, '    connect_timeout: 0s')), {
      line: 25,
      column: 22,
      includes: ['value must be greater than 0s'],
    });
    expectConfigError(() => loadYaml(withLine(5, '      socket_address: { address: 0.0.0.0, port_value: 70000 }')), {
      line: 5,
      fieldPath: 'static_resources.listeners[0].address.socket_address.port_value',
      includes: ['value must be less than or equal to 65535'],
    });
  });

  test('several errors are reported together, the first one leading', () => {
    const text = withLine(25, '    conect_timeout: 1s', withLine(11, '          stat_prefx: x'));
    const e = expectConfigError(() => loadYaml(text), { line: 11 });
    assert.equal(e.others.length, 1);
    assert.equal(e.others[0]?.line, 25);
    assert.match(e.message, /\n {2}also: --config-yaml:25:5: /);
  });

  test('YAML syntax errors and duplicate keys have positions', () => {
    expectConfigError(() => loadYaml('static_resources:\n  clusters: [\n'), { file: CONFIG_YAML_SOURCE, includes: ['invalid YAML'] });
    expectConfigError(() => loadYaml(withLine(26, '    type: STATIC\n    type: EDS')), {
      line: 27,
      column: 5,
      includes: ['duplicate key "type"'],
    });
  });

  test('JSON files report positions too', () => {
    const path = writeTemp('bad.json', '{\n  "static_resources": {\n    "clusters": [\n      { "name": "a", "connect_timeout": "1h" }\n    ]\n  }\n}\n');
    expectConfigError(() => loadBootstrap({ configPath: path }), {
      file: path,
      line: 4,
      column: 41,
      fieldPath: 'static_resources.clusters[0].connect_timeout',
    });
  });

  test('missing, empty, unsupported and absent configs', () => {
    expectConfigError(() => loadBootstrap({ configPath: '/nonexistent/legate.yaml' }), {
      file: '/nonexistent/legate.yaml',
      includes: ['cannot read the config file: no such file'],
    });
    expectConfigError(() => loadBootstrap({ configPath: writeTemp('empty.yaml', '# nothing\n') }), { includes: ['the config file is empty'] });
    expectConfigError(() => loadBootstrap({ configPath: writeTemp('b.pb', '') }), { includes: ['.pb bootstrap files are not supported'] });
    expectConfigError(() => loadBootstrap({}), { includes: ['no bootstrap given'] });
    expectConfigError(() => loadYaml('- a\n- b\n'), { includes: ['the top level must be a mapping'] });
  });

  test('--allow-unknown-static-fields turns unknown fields into warnings', () => {
    const r = loadYaml(withLine(25, '    connect_timeout: 1s\n    frobnicate: 1'), { allowUnknownStaticFields: true });
    const w = warningAt(r.warnings, 'static_resources.clusters[0].frobnicate');
    assert.equal(w.line, 26);
    assert.match(w.message, /ignored \(--allow-unknown-static-fields\)/);
    assert.ok(!('frobnicate' in ((r.sourceJson['static_resources'] as { clusters: object[] }).clusters[0] ?? {})));
  });

  test('errors are ConfigErrors with the detail apart from the location', () => {
    const e = expectConfigError(() => loadYaml(withLine(26, '    type: STATIK')), {});
    assert.ok(e instanceof ConfigError);
    assert.equal(e.name, 'ConfigError');
    assert.match(e.detail, /^unknown value "STATIK"/);
  });
});

describe('--config-yaml is merged over the file like proto MergeFrom', () => {
  const file = (): string => writeTemp('base.yaml', MINIMAL + 'admin:\n  address: { socket_address: { address: 127.0.0.1, port_value: 9901 } }\nnode: { id: n1, cluster: c }\n');

  test('repeated fields append, scalars replace, messages merge', () => {
    const r = loadBootstrap({
      configPath: file(),
      configYaml: lines(
        'node: { cluster: other }',
        'admin: { address: { socket_address: { port_value: 9902 } } }',
        'static_resources:',
        '  clusters:',
        '  - name: c1',
        '    connect_timeout: 1s',
        '    type: STATIC',
      ),
    });
    const b = r.bootstrap;
    assert.deepEqual(
      b.staticResources?.clusters.map((c) => c.name),
      ['c0', 'c1'],
    );
    assert.equal(b.staticResources?.listeners.length, 1);
    assert.equal(b.node?.id, 'n1'); // kept
    assert.equal(b.node?.cluster, 'other'); // replaced
    const sa = b.admin?.address?.address.case === 'socketAddress' ? b.admin.address.address.value : undefined;
    assert.equal(sa?.address, '127.0.0.1'); // kept
    assert.equal(sa?.portSpecifier.value, 9902); // replaced (oneof member)
  });

  test('a proto3 scalar at its default value does not replace', () => {
    const r = loadBootstrap({ configPath: file(), configYaml: 'node: { id: "" }\n' });
    assert.equal(r.bootstrap.node?.id, 'n1');
  });

  test('setting another oneof member clears the one from the file', () => {
    const r = loadBootstrap({
      configPath: file(),
      configYaml: 'admin: { address: { pipe: { path: /tmp/admin.sock } } }\n',
    });
    assert.equal(r.bootstrap.admin?.address?.address.case, 'pipe');
  });

  test('a wrapper set to 0 does not clear the file value (warned), a Duration merges its parts (warned)', () => {
    const base = writeTemp('wrap.yaml', withLine(26, '    type: STATIC\n    per_connection_buffer_limit_bytes: 1024'));
    const r = loadBootstrap({
      configPath: base,
      configYaml: 'static_resources: { clusters: [] }\nstats_flush_interval: 5s\n',
    });
    assert.equal(r.bootstrap.staticResources?.clusters[0]?.perConnectionBufferLimitBytes, 1024);
    const r2 = loadBootstrap({ configPath: writeTemp('d.yaml', 'stats_flush_interval: 5s\n'), configYaml: 'stats_flush_interval: 0.5s\n' });
    assert.equal(r2.bootstrap.statsFlushInterval?.seconds, 5n);
    assert.equal(r2.bootstrap.statsFlushInterval?.nanos, 500_000_000);
    const w = warningAt(r2.warnings, 'stats_flush_interval');
    assert.match(w.message, /gives 5\.5s/);
    assert.equal(w.file, CONFIG_YAML_SOURCE);
  });

  test('an Any is replaced whole', () => {
    const overlay = lines(
      'static_resources:',
      '  listeners: []',
      'layered_runtime: { layers: [{ name: a, static_layer: { x: 1 } }] }',
    );
    const r = loadBootstrap({ configPath: file(), configYaml: overlay });
    assert.equal(r.bootstrap.layeredRuntime?.layers.length, 1);
  });

  test('errors in --config-yaml point at --config-yaml; PGV errors in merged parts too', () => {
    expectConfigError(() => loadBootstrap({ configPath: file(), configYaml: 'node: { idd: x }\n' }), {
      file: CONFIG_YAML_SOURCE,
      line: 1,
      column: 9,
      fieldPath: 'node.idd',
    });
    expectConfigError(
      () => loadBootstrap({ configPath: file(), configYaml: 'static_resources:\n  clusters:\n  - name: ""\n' }),
      { file: CONFIG_YAML_SOURCE, line: 3, column: 11, fieldPath: 'static_resources.clusters[1].name' },
    );
  });

  test('the merged sourceJson is what was parsed', () => {
    const r = loadBootstrap({ configPath: file(), configYaml: 'node: { cluster: other }\n' });
    assert.deepEqual(r.sourceJson['node'], { id: 'n1', cluster: 'other' });
    assert.ok(readFileSync(file(), 'utf8').length > 0);
  });
});
