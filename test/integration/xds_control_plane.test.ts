// Legate driven by Legate's own control plane over real gRPC ADS (state of
// the world and delta): LDS → RDS, CDS → EDS; changes in the control plane's
// directory reach the proxy under load without a failed request; a resource
// the proxy rejects is NACKed (seen on the control plane's /clients) while the
// last good config keeps serving; the control plane killed: the proxy keeps
// serving, and converges on the newer snapshot when it comes back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { LEGATE_BIN, startLegate } from '../support/legate_process.js';
import { startH1Loop } from '../support/traffic.js';
import { eventually, readStats, request, startUpstream, type TestServer } from '../support/http_util.js';
import { adsBootstrapYaml } from '../support/xds_bootstrap.js';
import { startControlPlane, tempResourceDir, watchOutput, writeResource, type ControlPlaneProcess } from '../control_plane/xds_fixtures.js';

const listener = `"@type": type.googleapis.com/envoy.config.listener.v3.Listener
name: http
address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
filter_chains:
- filters:
  - name: envoy.filters.network.http_connection_manager
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
      stat_prefix: ingress
      rds: { route_config_name: local, config_source: { ads: {}, resource_api_version: V3 } }
      http_filters:
      - name: envoy.filters.http.router
        typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
`;

const route = (tag: string, match = 'prefix: "/"') => `"@type": type.googleapis.com/envoy.config.route.v3.RouteConfiguration
name: local
virtual_hosts:
- name: all
  domains: ["*"]
  response_headers_to_add: [{ header: { key: x-route-version, value: "${tag}" } }]
  routes:
  - match: { ${match} }
    route: { cluster: backend }
`;

const cluster = `"@type": type.googleapis.com/envoy.config.cluster.v3.Cluster
name: backend
type: EDS
connect_timeout: 1s
eds_cluster_config: { eds_config: { ads: {}, resource_api_version: V3 } }
`;

const endpoints = (ports: number[]) => `"@type": type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment
cluster_name: backend
endpoints:
- lb_endpoints:
${ports.map((p) => `  - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${p} } } }`).join('\n')}
`;

for (const apiType of ['GRPC', 'DELTA_GRPC']) {
  test(`${apiType} ADS from legate control-plane: changes under load, NACK of a bad route, control plane killed and restarted`, async () => {
    const backends: TestServer[] = [];
    for (const name of ['a', 'b']) backends.push(await startUpstream((_req, res) => res.end(name)));
    const [a, b] = backends as [TestServer, TestServer];
    const dir = tempResourceDir();
    writeResource(dir, 'listener.yaml', listener);
    writeResource(dir, 'route.yaml', route('one'));
    writeResource(dir, 'cluster.yaml', `${cluster}---\n${endpoints([a.port])}`);
    let cp: ControlPlaneProcess | null = await startControlPlane(dir);
    const xdsPort = cp.xdsPort;
    let restarted: ReturnType<typeof watchOutput> | null = null;
    const legate = await startLegate(adsBootstrapYaml({ xdsPort, apiType: apiType as 'GRPC' | 'DELTA_GRPC', admin: true }), { expectListeners: ['http'], expectAdmin: true, timeoutMs: 20000 });
    const port = legate.ports.get('http')!;
    const admin = legate.adminPort!;
    try {
      const first = await request(port, { path: '/' });
      assert.equal(first.body, 'a');
      assert.equal(first.headers['x-route-version'], 'one');
      assert.equal((await readStats(admin)).get('control_plane.connected_state'), 1);

      const load = startH1Loop(port, '/load', { parallel: 2, max: 1_000_000 });
      writeResource(dir, 'cluster.yaml', `${cluster}---\n${endpoints([b.port])}`);
      await eventually(async () => (await request(port, { path: '/' })).body === 'b', 5000, 'EDS push');
      writeResource(dir, 'route.yaml', route('two'));
      await eventually(async () => (await request(port, { path: '/' })).headers['x-route-version'] === 'two', 5000, 'RDS push');

      // A route the control plane accepts but the proxy cannot compile: NACKed, last good kept.
      writeResource(dir, 'route.yaml', route('bad', 'safe_regex: { regex: "(" }'));
      await eventually(async () => ((await readStats(admin)).get('http.ingress.rds.local.update_rejected') ?? 0) >= 1, 5000, 'RDS NACK counted');
      await eventually(async () => /RDS \[local\].*NACKED.*RouteConfiguration 'local'\.virtual_hosts\[0\]\.routes\[0\]\.match\.safe_regex\.regex: invalid regex/.test((await cp!.admin('/')).body), 5000, 'NACK shown by the control plane');
      assert.equal((await request(port, { path: '/' })).headers['x-route-version'], 'two');

      // Control plane gone: the proxy keeps serving what it has.
      await cp.stop();
      cp = null;
      await eventually(async () => (await readStats(admin)).get('control_plane.connected_state') === 0, 5000, 'disconnected');
      assert.equal((await request(port, { path: '/' })).body, 'b');
      // It comes back (same port) with a newer snapshot: the proxy reconnects and converges.
      writeResource(dir, 'route.yaml', route('three'));
      writeResource(dir, 'cluster.yaml', `${cluster}---\n${endpoints([a.port])}`);
      restarted = watchOutput(spawn(process.execPath, [LEGATE_BIN, 'control-plane', '--dir', dir, '--port', String(xdsPort), '--admin-port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] }), 'control plane (restarted)');
      await restarted.waitFor(/xDS listening on/);
      await eventually(async () => {
        const r = await request(port, { path: '/' });
        return r.body === 'a' && r.headers['x-route-version'] === 'three';
      }, 20000, 'converged on the newer snapshot');
      assert.equal((await readStats(admin)).get('control_plane.connected_state'), 1);

      const result = await load.stop();
      assert.ok(result.requests > 20, `the load ran (${result.requests} requests)`);
      assert.deepEqual(result.failures, [], 'no request failed');
    } finally {
      await legate.stop('SIGKILL');
      await cp?.stop();
      await restarted?.stop();
      for (const s of backends) await s.close();
    }
  });
}
