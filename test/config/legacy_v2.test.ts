/**
 * The v1/v2 forms still found in tutorials load after rewriting, each with a
 * warning that says what to write instead and where. The seed documents'
 * configs are fixtures here and must all load.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Any } from '@bufbuild/protobuf/wkt';
import type { HttpConnectionManager } from '../../src/generated/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager_pb.js';
import type { Cluster } from '../../src/generated/envoy/config/cluster/v3/cluster_pb.js';
import { loadBootstrap } from '../../src/config/bootstrap_loader.js';
import {
  canonicalExtensionName,
  extensionConfigType,
  flowYaml,
  legacyEnumName,
  legacyExtensionNames,
  upgradeV2TypeName,
} from '../../src/config/legacy_v2.js';
import { findMessageSchema, typeRegistry, typeUrlToName, unpackAny } from '../../src/config/type_registry.js';
import { expectConfigError, fixture, loadYaml, warningAt } from './config_test_util.js';

const lines = (...l: string[]): string => l.join('\n') + '\n';

function clusterOf(yaml: string, i = 0): { cluster: Cluster; warnings: ReturnType<typeof loadYaml>['warnings'] } {
  const r = loadYaml(yaml);
  const cluster = r.bootstrap.staticResources?.clusters[i];
  assert.ok(cluster !== undefined);
  return { cluster, warnings: r.warnings };
}

function typedConfigOf(x: { configType: { case: string | undefined; value?: unknown } } | undefined): Any {
  assert.ok(x?.configType.case === 'typedConfig', `no typed_config: ${JSON.stringify(x?.configType)}`);
  return x.configType.value as Any;
}

describe('legacy_v2: the seed documents', () => {
  test('seed 000, listener fragment (v2: top-level listeners, envoy.http_connection_manager, config:, codec_type: auto)', () => {
    const r = loadBootstrap({ configPath: fixture('seeds', '000_listeners_fragment.yaml') });
    const listener = r.bootstrap.staticResources?.listeners[0];
    const filter = listener?.filterChains[0]?.filters[0];
    assert.equal(filter?.name, 'envoy.filters.network.http_connection_manager');
    const hcm = unpackAny(typedConfigOf(filter), 'hcm') as unknown as HttpConnectionManager;
    assert.equal(hcm.statPrefix, 'ingress_http');
    assert.equal(hcm.codecType, 0);
    const routes = hcm.routeSpecifier.case === 'routeConfig' ? hcm.routeSpecifier.value.virtualHosts[0]?.routes : [];
    assert.deepEqual(
      routes?.map((x) => (x.action.case === 'route' ? x.action.value.clusterSpecifier.value : undefined)),
      ['service1', 'service2'],
    );
    const w = warningAt(r.warnings, 'listeners');
    assert.equal(w.line, 1);
    assert.equal(w.column, 3);
    assert.match(w.message, /write it under static_resources:/);
    warningAt(r.warnings, 'static_resources.listeners[0].filter_chains[0].filters[0].name', 'write name: envoy.filters.network.http_connection_manager');
    const cw = warningAt(r.warnings, 'static_resources.listeners[0].filter_chains[0].filters[0].config');
    assert.equal(cw.line, 9);
    assert.match(cw.message, /write typed_config: \{"@type": type\.googleapis\.com\/envoy\.extensions\.filters\.network\.http_connection_manager\.v3\.HttpConnectionManager, \.\.\.\} instead/);
    const ew = warningAt(r.warnings, 'static_resources.listeners[0].filter_chains[0].filters[0].typed_config.codec_type');
    assert.equal(ew.message, '"auto" is the v1/v2 spelling; write AUTO');
  });

  test('seed 000, cluster fragment (hosts:, strict_dns, round_robin, http2_protocol_options)', () => {
    const r = loadBootstrap({ configPath: fixture('seeds', '000_clusters_fragment.yaml') });
    const [c1, c2] = r.bootstrap.staticResources?.clusters ?? [];
    assert.equal(c1?.clusterDiscoveryType.value, 1); // STRICT_DNS
    assert.equal(c1?.lbPolicy, 0); // ROUND_ROBIN
    assert.equal(c1?.loadAssignment?.clusterName, 'service1');
    const sa = c1?.loadAssignment?.endpoints[0]?.lbEndpoints[0]?.hostIdentifier;
    assert.equal(sa?.case, 'endpoint');
    assert.equal(c2?.loadAssignment?.clusterName, 'service2');
    const w = warningAt(r.warnings, 'static_resources.clusters[0].hosts');
    assert.equal(w.line, 7);
    assert.equal(w.column, 5);
    assert.equal(
      w.message,
      'hosts is the v2 form; write load_assignment: {cluster_name: service1, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: service1, port_value: 80}}}}]}]} instead',
    );
    warningAt(r.warnings, 'static_resources.clusters[0].type', 'write STRICT_DNS');
    warningAt(r.warnings, 'static_resources.clusters[1].lb_policy', 'write ROUND_ROBIN');
    warningAt(r.warnings, 'static_resources.clusters[1].http2_protocol_options', 'deprecated option');
  });

  test('seed 000, both fragments in one file', () => {
    const r = loadBootstrap({ configPath: fixture('seeds', '000_combined.yaml') });
    assert.equal(r.bootstrap.staticResources?.listeners.length, 1);
    assert.equal(r.bootstrap.staticResources?.clusters.length, 2);
  });

  test('seed 001, a v3 config (router without typed_config) loads without warnings', () => {
    const r = loadBootstrap({ configPath: fixture('seeds', '001_envoy_v3.yaml') });
    assert.deepEqual(r.warnings.map(String), []);
    const c = r.bootstrap.staticResources?.clusters[0];
    assert.equal(c?.name, 'some_service');
    assert.equal(c?.clusterDiscoveryType.value, 2); // LOGICAL_DNS
    const hcm = unpackAny(typedConfigOf(r.bootstrap.staticResources?.listeners[0]?.filterChains[0]?.filters[0]), 'h') as unknown as HttpConnectionManager;
    assert.equal(hcm.httpFilters[0]?.name, 'envoy.filters.http.router');
    assert.equal(hcm.httpFilters[0]?.configType.case, undefined);
  });

  test('seed 004, a v2 static config (config:, envoy.router, hosts in a flow list with a short closing bracket)', () => {
    const r = loadBootstrap({ configPath: fixture('seeds', '004_static_v2.yaml') });
    const hcm = unpackAny(typedConfigOf(r.bootstrap.staticResources?.listeners[0]?.filterChains[0]?.filters[0]), 'h') as unknown as HttpConnectionManager;
    assert.equal(hcm.statPrefix, 'egress_http');
    assert.equal(hcm.httpFilters[0]?.name, 'envoy.filters.http.router');
    const route = hcm.routeSpecifier.case === 'routeConfig' ? hcm.routeSpecifier.value.virtualHosts[0]?.routes[0] : undefined;
    const action = route?.action.case === 'route' ? route.action.value : undefined;
    assert.equal(action?.hostRewriteSpecifier.case, 'autoHostRewrite');
    const c = r.bootstrap.staticResources?.clusters[0];
    assert.equal(c?.dnsLookupFamily, 1); // V4_ONLY
    const ep = c?.loadAssignment?.endpoints[0]?.lbEndpoints[0]?.hostIdentifier;
    const addr = ep?.case === 'endpoint' ? ep.value.address?.address : undefined;
    assert.equal(addr?.case, 'socketAddress');
    assert.equal(addr?.case === 'socketAddress' ? addr.value.address : '', 'httpbin');
    warningAt(r.warnings, 'static_resources.listeners[0].filter_chains[0].filters[0].typed_config.http_filters[0].name', 'write name: envoy.filters.http.router');
    warningAt(r.warnings, '', 'closing bracket');
  });
});

describe('legacy_v2: each v2 form loads with its warning', () => {
  const cluster = (...extra: string[]): string =>
    lines('static_resources:', '  clusters:', '  - name: svc', '    connect_timeout: 1s', ...extra);

  test('a top-level fragment is appended to an existing static_resources', () => {
    const r = loadYaml(lines('static_resources:', '  clusters: [{ name: a, connect_timeout: 1s }]', 'clusters:', '- { name: b, connect_timeout: 1s }'));
    assert.deepEqual(
      r.bootstrap.staticResources?.clusters.map((c) => c.name),
      ['a', 'b'],
    );
    const w = warningAt(r.warnings, 'clusters');
    assert.equal(w.line, 3);
  });

  test('hosts: v1 url form, unix sockets, several hosts', () => {
    const { cluster: c, warnings } = clusterOf(cluster('    hosts:', '    - url: tcp://10.0.0.1:80', '    - url: tcp://[::1]:81', '    - url: unix:///tmp/sock'));
    const eps = c.loadAssignment?.endpoints[0]?.lbEndpoints ?? [];
    assert.equal(eps.length, 3);
    const addrs = eps.map((e) => (e.hostIdentifier.case === 'endpoint' ? e.hostIdentifier.value.address?.address : undefined));
    assert.deepEqual(
      addrs.map((a) => (a?.case === 'socketAddress' ? `${a.value.address}:${a.value.portSpecifier.value}` : a?.case === 'pipe' ? a.value.path : '?')),
      ['10.0.0.1:80', '::1:81', '/tmp/sock'],
    );
    const w = warningAt(warnings, 'static_resources.clusters[0].hosts');
    assert.match(w.message, /^hosts is the v2 form; write load_assignment: \{cluster_name: svc, endpoints: \[\{lb_endpoints: /);
  });

  test('hosts: errors for a bad url, a non-list, and hosts together with load_assignment', () => {
    expectConfigError(() => loadYaml(cluster('    hosts: [{ url: "http://x" }]')), {
      fieldPath: 'static_resources.clusters[0].hosts[0]',
      line: 5,
      includes: ['cannot read the v1 host url "http://x"'],
    });
    expectConfigError(() => loadYaml(cluster('    hosts: 10.0.0.1')), { includes: ['must be a list of addresses'] });
    expectConfigError(() => loadYaml(cluster('    hosts: []', '    load_assignment: { cluster_name: svc }')), {
      includes: ['hosts (the v2 form) and load_assignment are both set'],
    });
  });

  test('lb_type → lb_policy and old enum names', () => {
    const cases: Array<[string, string, number]> = [
      ['    lb_type: round_robin', 'lb_policy', 0],
      ['    lb_policy: weighted_least_request', 'lb_policy', 1],
      ['    lb_policy: random', 'lb_policy', 3],
      ['    lb_policy: least_request', 'lb_policy', 1],
      ['    lb_policy: original_dst_lb', 'lb_policy', 6],
    ];
    for (const [line, field, want] of cases) {
      const { cluster: c, warnings } = clusterOf(cluster(line));
      assert.equal(c.lbPolicy, want, line);
      assert.ok(warnings.some((w) => w.fieldPath === `static_resources.clusters[0].${field}`), line);
    }
    const { warnings } = clusterOf(cluster('    lb_type: round_robin'));
    warningAt(warnings, 'static_resources.clusters[0].lb_type', 'lb_type is the v1 name; write lb_policy: round_robin instead');
  });

  test('lower-case and old names of other enums: discovery type, DNS family, codec type', () => {
    assert.equal(clusterOf(cluster('    type: logical_dns')).cluster.clusterDiscoveryType.value, 2);
    assert.equal(clusterOf(cluster('    type: sds')).cluster.clusterDiscoveryType.value, 3); // EDS
    assert.equal(clusterOf(cluster('    dns_lookup_family: v4_only')).cluster.dnsLookupFamily, 1);
    assert.equal(clusterOf(cluster('    dns_lookup_family: auto')).cluster.dnsLookupFamily, 0);
  });

  test('tls_context on a cluster and on a filter chain → transport_socket', () => {
    const { cluster: c, warnings } = clusterOf(cluster('    tls_context: { sni: example.com }'));
    assert.equal(c.transportSocket?.name, 'envoy.transport_sockets.tls');
    const any = typedConfigOf(c.transportSocket);
    assert.equal(typeUrlToName(any.typeUrl), 'envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext');
    assert.equal((unpackAny(any, 't') as unknown as { sni: string }).sni, 'example.com');
    warningAt(warnings, 'static_resources.clusters[0].tls_context', 'write transport_socket: {name: envoy.transport_sockets.tls');
    const r = loadYaml(
      lines(
        'static_resources:',
        '  listeners:',
        '  - address: { socket_address: { address: 0.0.0.0, port_value: 443 } }',
        '    filter_chains:',
        '    - tls_context: { require_client_certificate: true }',
        '      filters: [{ name: envoy.echo }]',
      ),
    );
    const fc = r.bootstrap.staticResources?.listeners[0]?.filterChains[0];
    assert.equal(typeUrlToName(typedConfigOf(fc?.transportSocket).typeUrl), 'envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext');
    assert.equal(fc?.filters[0]?.name, 'envoy.filters.network.echo');
  });

  test('config: on access logs, HTTP filters, listener filters and transport sockets', () => {
    const text = lines(
      'static_resources:',
      '  listeners:',
      '  - address: { socket_address: { address: 0.0.0.0, port_value: 80 } }',
      '    listener_filters:',
      '    - name: envoy.listener.tls_inspector',
      '      config: {}',
      '    filter_chains:',
      '    - filters:',
      '      - name: envoy.http_connection_manager',
      '        config:',
      '          stat_prefix: x',
      '          route_config: { virtual_hosts: [{ name: v, domains: ["*"], routes: [{ match: { prefix: / }, route: { cluster: c, timeout_ms: 1500 } }] }] }',
      '          access_log:',
      '          - name: envoy.file_access_log',
      '            config: { path: /dev/stdout }',
      '          http_filters:',
      '          - name: envoy.fault',
      '            config: { abort: { http_status: 503, percentage: { numerator: 1 } } }',
      '          - name: envoy.router',
      '  clusters:',
      '  - name: c',
      '    connect_timeout: 1s',
      '    transport_socket: { name: tls, config: { sni: up.example } }',
    );
    const r = loadYaml(text);
    const listener = r.bootstrap.staticResources?.listeners[0];
    assert.equal(listener?.listenerFilters[0]?.name, 'envoy.filters.listener.tls_inspector');
    assert.equal(typeUrlToName(typedConfigOf(listener?.listenerFilters[0]).typeUrl), 'envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector');
    const hcm = unpackAny(typedConfigOf(listener?.filterChains[0]?.filters[0]), 'h') as unknown as HttpConnectionManager;
    assert.equal(hcm.accessLog[0]?.name, 'envoy.access_loggers.file');
    assert.equal(typeUrlToName(typedConfigOf(hcm.accessLog[0]).typeUrl), 'envoy.extensions.access_loggers.file.v3.FileAccessLog');
    assert.equal(hcm.httpFilters[0]?.name, 'envoy.filters.http.fault');
    assert.equal(typeUrlToName(typedConfigOf(hcm.httpFilters[0]).typeUrl), 'envoy.extensions.filters.http.fault.v3.HTTPFault');
    const route = hcm.routeSpecifier.case === 'routeConfig' ? hcm.routeSpecifier.value.virtualHosts[0]?.routes[0] : undefined;
    const action = route?.action.case === 'route' ? route.action.value : undefined;
    assert.equal(action?.timeout?.seconds, 1n);
    assert.equal(action?.timeout?.nanos, 500_000_000);
    const ts = r.bootstrap.staticResources?.clusters[0]?.transportSocket;
    assert.equal(ts?.name, 'envoy.transport_sockets.tls');
    assert.equal(typeUrlToName(typedConfigOf(ts).typeUrl), 'envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext');
    const base = 'static_resources.listeners[0].filter_chains[0].filters[0].typed_config';
    const tw = warningAt(r.warnings, `${base}.route_config.virtual_hosts[0].routes[0].route.timeout_ms`);
    assert.equal(tw.message, 'timeout_ms is the v1 form; write timeout: 1.5s instead');
    assert.equal(tw.line, 12);
    warningAt(r.warnings, `${base}.access_log[0].config`, 'envoy.extensions.access_loggers.file.v3.FileAccessLog');
    warningAt(r.warnings, `${base}.http_filters[0].name`, 'write name: envoy.filters.http.fault');
    warningAt(r.warnings, 'static_resources.clusters[0].transport_socket.name', 'write name: envoy.transport_sockets.tls');
  });

  test('config: errors: unknown extension, both forms, not a mapping', () => {
    const filter = (...l: string[]): string =>
      lines('static_resources:', '  listeners:', '  - address: { socket_address: { address: 0.0.0.0, port_value: 80 } }', '    filter_chains:', '    - filters:', ...l);
    expectConfigError(() => loadYaml(filter('      - name: acme.custom', '        config: { a: 1 }')), {
      line: 7,
      fieldPath: 'static_resources.listeners[0].filter_chains[0].filters[0].config',
      includes: ['does not know the config type of "acme.custom"'],
    });
    expectConfigError(() => loadYaml(filter('      - name: envoy.echo', '        config: {}', '        typed_config: {}')), {
      includes: ['config (the v2 form) and typed_config are both set'],
    });
    expectConfigError(() => loadYaml(filter('      - name: envoy.echo', '        config: [1]')), { includes: ['must be a mapping'] });
  });

  test('an empty config: of an unknown extension is dropped with a warning', () => {
    const r = loadYaml(
      lines(
        'static_resources:',
        '  listeners:',
        '  - address: { socket_address: { address: 0.0.0.0, port_value: 80 } }',
        '    filter_chains: [{ filters: [{ name: acme.custom, config: {} }] }]',
      ),
    );
    assert.equal(r.bootstrap.staticResources?.listeners[0]?.filterChains[0]?.filters[0]?.configType.case, undefined);
    warningAt(r.warnings, 'static_resources.listeners[0].filter_chains[0].filters[0].config', 'can simply be left out');
  });

  test('v1 flat routes and route-level timeout_ms; host_rewrite', () => {
    const text = lines(
      'static_resources:',
      '  listeners:',
      '  - address: { socket_address: { address: 0.0.0.0, port_value: 80 } }',
      '    filter_chains:',
      '    - filters:',
      '      - name: envoy.filters.network.http_connection_manager',
      '        typed_config:',
      '          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
      '          stat_prefix: x',
      '          codec_type: http1',
      '          route_config:',
      '            virtual_hosts:',
      '            - name: v',
      '              domains: ["*"]',
      '              routes:',
      '              - prefix: /service/1',
      '                cluster: service1',
      '                timeout_ms: 250',
      '              - match: { prefix: / }',
      '                route: { cluster: c, host_rewrite: example.com }',
      '                timeout_ms: 3000',
    );
    const r = loadYaml(text);
    const hcm = unpackAny(typedConfigOf(r.bootstrap.staticResources?.listeners[0]?.filterChains[0]?.filters[0]), 'h') as unknown as HttpConnectionManager;
    assert.equal(hcm.codecType, 1); // HTTP1
    const routes = hcm.routeSpecifier.case === 'routeConfig' ? (hcm.routeSpecifier.value.virtualHosts[0]?.routes ?? []) : [];
    const [r1, r2] = routes;
    assert.equal(r1?.match?.pathSpecifier.case, 'prefix');
    assert.equal(r1?.match?.pathSpecifier.value, '/service/1');
    const a1 = r1?.action.case === 'route' ? r1.action.value : undefined;
    assert.equal(a1?.clusterSpecifier.value, 'service1');
    assert.equal(a1?.timeout?.nanos, 250_000_000);
    const a2 = r2?.action.case === 'route' ? r2.action.value : undefined;
    assert.equal(a2?.timeout?.seconds, 3n);
    assert.equal(a2?.hostRewriteSpecifier.case, 'hostRewriteLiteral');
    const base = 'static_resources.listeners[0].filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].routes';
    warningAt(r.warnings, `${base}[0].prefix`, 'write match: {prefix: /service/1} instead');
    warningAt(r.warnings, `${base}[0].cluster`, 'write route: {cluster: service1} instead');
    warningAt(r.warnings, `${base}[1].timeout_ms`, 'write route: {...} with timeout: 3s instead');
    warningAt(r.warnings, `${base}[1].route.host_rewrite`, 'write host_rewrite_literal: example.com instead');
  });

  test('timeout_ms errors: not a number, and set together with timeout', () => {
    const base = (route: string): string =>
      lines(
        'static_resources:',
        '  listeners:',
        '  - address: { socket_address: { address: 0.0.0.0, port_value: 80 } }',
        '    filter_chains:',
        '    - filters:',
        '      - name: envoy.filters.network.http_connection_manager',
        '        typed_config:',
        '          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
        '          stat_prefix: x',
        `          route_config: { virtual_hosts: [{ name: v, domains: ["*"], routes: [{ match: { prefix: / }, route: ${route} }] }] }`,
      );
    expectConfigError(() => loadYaml(base('{ cluster: c, timeout_ms: soon }')), { line: 10, includes: ['must be a number of milliseconds'] });
    expectConfigError(() => loadYaml(base('{ cluster: c, timeout_ms: 5, timeout: 1s }')), { includes: ['timeout_ms (the v1 form) and timeout are both set'] });
  });

  test('v2 type URLs are upgraded to v3 with a warning', () => {
    const text = lines(
      'static_resources:',
      '  listeners:',
      '  - address: { socket_address: { address: 0.0.0.0, port_value: 80 } }',
      '    filter_chains:',
      '    - filters:',
      '      - name: envoy.filters.network.tcp_proxy',
      '        typed_config:',
      '          "@type": type.googleapis.com/envoy.config.filter.network.tcp_proxy.v2.TcpProxy',
      '          stat_prefix: tcp',
      '          cluster: c',
    );
    const r = loadYaml(text);
    const any = typedConfigOf(r.bootstrap.staticResources?.listeners[0]?.filterChains[0]?.filters[0]);
    assert.equal(typeUrlToName(any.typeUrl), 'envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy');
    const w = warningAt(r.warnings, 'static_resources.listeners[0].filter_chains[0].filters[0].typed_config.@type');
    assert.equal(w.line, 8);
    assert.match(w.message, /is a v2 type; write "@type": type\.googleapis\.com\/envoy\.extensions\.filters\.network\.tcp_proxy\.v3\.TcpProxy/);
  });

  test('v2 forms we do not rewrite get a hint', () => {
    const text = lines('static_resources:', '  clusters:', '  - name: c', '    connect_timeout: 1s', '    per_filter_config: {}');
    expectConfigError(() => loadYaml(text), { line: 5, includes: ['per_filter_config is the v2 form; write typed_per_filter_config'] });
  });
});

describe('legacy_v2: tables', () => {
  test('deprecated extension names resolve per category', () => {
    assert.equal(canonicalExtensionName('envoy.router', 'envoy.filters.http'), 'envoy.filters.http.router');
    assert.equal(canonicalExtensionName('envoy.ext_authz', 'envoy.filters.http'), 'envoy.filters.http.ext_authz');
    assert.equal(canonicalExtensionName('envoy.ext_authz', 'envoy.filters.network'), 'envoy.filters.network.ext_authz');
    assert.equal(canonicalExtensionName('envoy.ext_authz'), undefined); // ambiguous without a category
    assert.equal(canonicalExtensionName('tls', 'envoy.transport_sockets.upstream'), 'envoy.transport_sockets.tls');
    assert.equal(canonicalExtensionName('envoy.router', 'envoy.filters.network'), undefined);
    assert.equal(canonicalExtensionName('envoy.filters.http.router', 'envoy.filters.http'), undefined);
    assert.ok(legacyExtensionNames().length >= 40);
  });

  test('every config type in the table is in the descriptor set (or is skipped)', () => {
    for (const { canonical } of legacyExtensionNames()) {
      const t = extensionConfigType(canonical);
      if (t !== undefined) assert.ok(findMessageSchema(t) !== undefined, t);
    }
    assert.equal(extensionConfigType('envoy.filters.http.router'), 'envoy.extensions.filters.http.router.v3.Router');
    assert.equal(extensionConfigType('envoy.transport_sockets.tls', true), 'envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext');
    assert.equal(extensionConfigType('envoy.filters.http.squash'), undefined); // not in our protos
  });

  test('v2 type names map to v3 ones that exist', () => {
    assert.equal(
      upgradeV2TypeName('envoy.config.filter.network.http_connection_manager.v2.HttpConnectionManager'),
      'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
    );
    assert.equal(upgradeV2TypeName('envoy.config.filter.http.router.v2.Router'), 'envoy.extensions.filters.http.router.v3.Router');
    assert.equal(upgradeV2TypeName('envoy.api.v2.Cluster'), 'envoy.config.cluster.v3.Cluster');
    assert.equal(upgradeV2TypeName('envoy.api.v2.ClusterLoadAssignment'), 'envoy.config.endpoint.v3.ClusterLoadAssignment');
    assert.equal(upgradeV2TypeName('envoy.api.v2.auth.UpstreamTlsContext'), 'envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext');
    assert.equal(upgradeV2TypeName('envoy.config.accesslog.v2.FileAccessLog'), 'envoy.extensions.access_loggers.file.v3.FileAccessLog');
    assert.equal(upgradeV2TypeName('acme.Thing'), undefined);
  });

  test('legacy enum names: case-insensitive match and aliases', () => {
    const lb = typeRegistry().getEnum('envoy.config.cluster.v3.Cluster.LbPolicy');
    assert.ok(lb !== undefined);
    assert.equal(legacyEnumName(lb, 'round_robin'), 'ROUND_ROBIN');
    assert.equal(legacyEnumName(lb, 'Weighted_Least_Request'), 'LEAST_REQUEST');
    assert.equal(legacyEnumName(lb, 'fastest'), undefined);
  });

  test('flowYaml renders one line, quoting only when needed', () => {
    assert.equal(flowYaml({ a: 'b', c: [1, true, null], d: 'x: y', e: '' }), '{a: b, c: [1, true, null], d: "x: y", e: ""}');
  });
});
