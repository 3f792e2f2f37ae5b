/**
 * Reading Envoy-format resource files for the control plane: the accepted
 * shapes (one resource, YAML multi-document, list, `resources: [...]`, JSON)
 * and the errors, each with file:line:column.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Cluster } from '../../src/generated/envoy/config/cluster/v3/cluster_pb.js';
import { ConfigError } from '../../src/config/config_error.js';
import { parseResourceFile } from '../../src/control_plane/resource_file.js';
import { resourceName } from '../../src/control_plane/resource_types.js';
import { claYaml, edsClusterYaml, routeYaml } from './xds_fixtures.js';

function names(text: string): string[] {
  return parseResourceFile(text, 'r.yaml').resources.map((r) => `${r.message.$typeName.split('.').pop()}/${resourceName(r.message)}`);
}

function errorOf(text: string, file = 'r.yaml'): ConfigError {
  try {
    parseResourceFile(text, file);
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e;
  }
  assert.fail('expected a ConfigError');
}

describe('resource files', () => {
  it('reads one resource, YAML documents, lists, resources: [...] and JSON', () => {
    assert.deepEqual(names(edsClusterYaml('a')), ['Cluster/a']);
    assert.deepEqual(names(`${edsClusterYaml('a')}---\n${claYaml('a', [1])}\n---\n# empty document\n`), ['Cluster/a', 'ClusterLoadAssignment/a']);
    const indent = (y: string): string => y.replace(/\n(?=.)/g, '\n  ');
    assert.deepEqual(names(`- ${indent(routeYaml('r1', 'a'))}- ${indent(routeYaml('r2', 'a'))}`), ['RouteConfiguration/r1', 'RouteConfiguration/r2']);
    assert.deepEqual(names(`version_info: "7"\nresources:\n- ${indent(edsClusterYaml('b'))}`), ['Cluster/b']);
    const json = JSON.stringify({
      resources: [{ '@type': 'type.googleapis.com/envoy.config.cluster.v3.Cluster', name: 'j', connectTimeout: '0.5s', type: 'STATIC' }],
    });
    const parsed = parseResourceFile(json, 'r.json').resources;
    assert.equal((parsed[0]!.message as Cluster).connectTimeout?.nanos, 500_000_000);
    assert.deepEqual(names(''), []);
  });

  it('keeps the file\'s line numbers in every document', () => {
    const text = `${edsClusterYaml('a')}---\n${edsClusterYaml('b')}`;
    const [a, b] = parseResourceFile(text, 'r.yaml').resources;
    assert.deepEqual(a!.origin, { file: 'r.yaml', line: 1, column: 1 });
    assert.deepEqual(b!.origin, { file: 'r.yaml', line: 8, column: 1 });
    assert.equal(b!.positions!.lookup('lb_policy')?.line, 11);
  });

  it('reports each kind of bad input with file:line:column', () => {
    // An unknown field in the second document.
    const e1 = errorOf(`${edsClusterYaml('a')}---\n${edsClusterYaml('b').replace('lb_policy:', 'lb_polcy:')}`);
    assert.equal(e1.message, 'r.yaml:11:1: lb_polcy: unknown field "lb_polcy" (did you mean "lb_policy"?)');
    // A PGV rule.
    const e2 = errorOf(`"@type": type.googleapis.com/envoy.config.cluster.v3.Cluster\nname: c\nconnect_timeout: 0s\n`);
    assert.match(e2.message, /^r\.yaml:3:18: connect_timeout: value must be greater than 0s/);
    // A bad enum value.
    const e3 = errorOf(edsClusterYaml('a').replace('ROUND_ROBIN', 'ROUND_ROBON'));
    assert.match(e3.message, /^r\.yaml:4:\d+: lb_policy: .*ROUND_ROBON/);
    // YAML syntax.
    const e4 = errorOf(`${edsClusterYaml('a')}---\nname: [\n`);
    assert.match(e4.message, /^r\.yaml:\d+:\d+: invalid YAML/);
    // No "@type", an unknown type, a type that is not a resource.
    assert.match(errorOf('name: x\n').message, /^r\.yaml:1:1: missing "@type"/);
    assert.match(errorOf('"@type": type.googleapis.com/envoy.config.cluster.v3.Clustr\nname: x\n').message, /^r\.yaml:1:10: @type: unknown type "envoy\.config\.cluster\.v3\.Clustr"/);
    assert.match(errorOf('"@type": type.googleapis.com/envoy.config.bootstrap.v3.Bootstrap\n').message, /Bootstrap is not a resource type this control plane serves \(served: Listener, RouteConfiguration, Cluster, ClusterLoadAssignment, Secret\)/);
    // Scalars and odd shapes.
    assert.match(errorOf('- 1\n').message, /^r\.yaml:1:3: \[0\]: each list item must be a resource mapping/);
    assert.match(errorOf('resources: {}\n').message, /^r\.yaml:1:12: resources: must be a list/);
    assert.match(errorOf('resources: []\nextra: 1\n').message, /^r\.yaml:2:1: extra: unknown key "extra" next to "resources"/);
    // A bad nested Any (typed_config of the HCM).
    const e5 = errorOf(`"@type": type.googleapis.com/envoy.config.listener.v3.Listener
name: l
api_listener:
  api_listener:
    "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
    stat_prefix: x
    rds: { route_config_name: r, config_source: { ads: {} } }
    http_filters:
    - name: envoy.filters.http.router
      typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Routr }
`);
    assert.match(e5.message, /^r\.yaml:10:\d+: api_listener\.api_listener\.http_filters\[0\]\.typed_config/);
  });
});
