// A real Legate process configured only through xDS files (lds_config /
// cds_config / rds / eds as path_config_source): listeners, clusters, routes
// and endpoints change underneath a running load loop without a failed
// request; a broken file is rejected and the last good config keeps serving;
// /config_dump shows the dynamic resources with their versions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLegate } from '../support/legate_process.js';
import { startH1Loop } from '../support/traffic.js';
import { eventually, readStats, request, startUpstream, type TestServer } from '../support/http_util.js';

function writeAtomically(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.hrtime.bigint()}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

const listenerYaml = (version: string) => `version_info: "${version}"
resources:
- "@type": type.googleapis.com/envoy.config.listener.v3.Listener
  name: http
  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
  filter_chains:
  - filters:
    - name: envoy.filters.network.http_connection_manager
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
        stat_prefix: ingress
        rds:
          route_config_name: local
          config_source: { path_config_source: { path: RDS_FILE }, resource_api_version: V3 }
        http_filters:
        - name: envoy.filters.http.router
          typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
        common_http_protocol_options: { idle_timeout: 30s }
`;

const routesYaml = (version: string, cluster: string, tag: string) => `version_info: "${version}"
resources:
- "@type": type.googleapis.com/envoy.config.route.v3.RouteConfiguration
  name: local
  virtual_hosts:
  - name: all
    domains: ["*"]
    response_headers_to_add: [{ header: { key: x-route-version, value: "${tag}" } }]
    routes:
    - match: { prefix: "/" }
      route: { cluster: ${cluster} }
`;

const clustersYaml = (version: string, extra = '') => `version_info: "${version}"
resources:
- "@type": type.googleapis.com/envoy.config.cluster.v3.Cluster
  name: backend
  type: EDS
  connect_timeout: 1s
  eds_cluster_config:
    eds_config: { path_config_source: { path: EDS_FILE }, resource_api_version: V3 }
${extra}`;

const endpointsYaml = (version: string, ports: number[]) => `version_info: "${version}"
resources:
- "@type": type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment
  cluster_name: backend
  endpoints:
  - lb_endpoints:
${ports.map((p) => `    - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${p} } } }`).join('\n')}
`;

test('LDS/RDS/CDS/EDS from files: changes apply under load without a failed request; bad files are rejected', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'legate-xds-'));
  const files = { lds: join(dir, 'lds.yaml'), rds: join(dir, 'rds.yaml'), cds: join(dir, 'cds.yaml'), eds: join(dir, 'eds.yaml') };
  const fill = (t: string) => t.replaceAll('RDS_FILE', files.rds).replaceAll('EDS_FILE', files.eds);
  const backends: TestServer[] = [];
  for (const name of ['a', 'b', 'c']) {
    backends.push(await startUpstream((_req, res) => { res.setHeader('x-backend', name); res.end(name); }));
  }
  const [a, b, c] = backends as [TestServer, TestServer, TestServer];
  writeAtomically(files.eds, endpointsYaml('e1', [a.port]));
  writeAtomically(files.cds, fill(clustersYaml('c1')));
  writeAtomically(files.rds, routesYaml('r1', 'backend', 'one'));
  writeAtomically(files.lds, fill(listenerYaml('l1')));

  const legate = await startLegate(`
node: { id: test-node, cluster: test }
admin: { address: { socket_address: { address: 127.0.0.1, port_value: 0 } } }
dynamic_resources:
  lds_config: { path_config_source: { path: ${files.lds} }, resource_api_version: V3 }
  cds_config: { path_config_source: { path: ${files.cds} }, resource_api_version: V3 }
`, { expectListeners: ['http'], expectAdmin: true });
  const port = legate.ports.get('http')!;
  const admin = legate.adminPort!;
  try {
    const first = await request(port, { path: '/' });
    assert.equal(first.status, 200);
    assert.equal(first.body, 'a');
    assert.equal(first.headers['x-route-version'], 'one');

    const load = startH1Loop(port, '/load', { parallel: 2, max: 1_000_000 });
    // EDS: the endpoint moves from a to b.
    writeAtomically(files.eds, endpointsYaml('e2', [b.port]));
    await eventually(async () => (await request(port, { path: '/' })).body === 'b', 5000, 'EDS change to b');
    // RDS: a new route table (new header) for new requests.
    writeAtomically(files.rds, routesYaml('r2', 'backend', 'two'));
    await eventually(async () => (await request(port, { path: '/' })).headers['x-route-version'] === 'two', 5000, 'RDS change');
    // CDS: the cluster changes (a new connect timeout) and keeps its endpoints.
    writeAtomically(files.cds, fill(clustersYaml('c2', '  per_connection_buffer_limit_bytes: 65536\n')));
    await eventually(async () => (await readStats(admin)).get('cluster_manager.cds.update_success') === 2, 5000, 'CDS update applied');
    // EDS again: two endpoints.
    writeAtomically(files.eds, endpointsYaml('e3', [b.port, c.port]));
    await eventually(async () => (await request(port, { path: '/' })).body === 'c', 5000, 'EDS change to b+c');

    // Bad input: a cluster that fails validation, a route to nowhere in a malformed file.
    writeAtomically(files.cds, fill(clustersYaml('c3', '  lb_policy: NOT_A_POLICY\n')));
    writeAtomically(files.rds, 'version_info: "r3"\nresources:\n- "@type": type.googleapis.com/envoy.config.route.v3.RouteConfiguration\n  name: local\n  virtual_hosts: [{ name: x, domains: ["*"], routes: [{ match: { safe_regex: { regex: "(" } }, route: { cluster: backend } }] }]\n');
    await eventually(async () => {
      const s = await readStats(admin);
      return (s.get('cluster_manager.cds.update_rejected') ?? 0) >= 1 && (s.get('http.ingress.rds.local.update_rejected') ?? 0) >= 1;
    }, 5000, 'both bad updates rejected');
    const still = await request(port, { path: '/' });
    assert.equal(still.status, 200, 'the last good config keeps serving');
    assert.equal(still.headers['x-route-version'], 'two');

    await new Promise((r) => setTimeout(r, 200));
    const result = await load.stop();
    assert.ok(result.requests > 20, `the load loop ran (${result.requests} requests)`);
    assert.deepEqual(result.failures, [], 'no request failed while the config changed');

    const dump = JSON.parse((await request(admin, { path: '/config_dump' })).body) as { configs: Array<Record<string, any>> };
    const clusters = dump.configs.find((x) => x['@type'].endsWith('ClustersConfigDump'))!;
    assert.equal(clusters.dynamic_active_clusters[0].cluster.name, 'backend');
    assert.equal(clusters.dynamic_active_clusters[0].version_info, 'c2');
    const listeners = dump.configs.find((x) => x['@type'].endsWith('ListenersConfigDump'))!;
    assert.equal(listeners.dynamic_listeners[0].name, 'http');
    assert.equal(listeners.dynamic_listeners[0].active_state.version_info, 'l1');
    const routes = dump.configs.find((x) => x['@type'].endsWith('RoutesConfigDump'))!;
    assert.equal(routes.dynamic_route_configs[0].version_info, 'r2');
  } finally {
    await legate.stop('SIGKILL');
    for (const s of backends) await s.close();
  }
});
