/** The admin endpoints an Envoy operator reaches for, with Envoy's names and shapes. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startLegate, type LegateProcess } from '../support/legate_process.js';
import { request, startUpstream, type TestServer } from '../support/http_util.js';
import { proxyConfig } from './fixtures.js';

describe('admin', () => {
  let upstream: TestServer;
  let legate: LegateProcess;
  let admin: number;
  let port: number;

  before(async () => {
    upstream = await startUpstream((_q, res) => res.end('ok'));
    legate = await startLegate(proxyConfig({ upstreamPort: upstream.port }), { expectListeners: ['ingress'], expectAdmin: true });
    admin = legate.adminPort!;
    port = legate.ports.get('ingress')!;
    await request(port, { path: '/warm' });
  });
  after(async () => {
    await legate?.stop();
    await upstream?.close();
  });

  it('/ready says LIVE', async () => {
    const r = await request(admin, { path: '/ready' });
    assert.equal(r.status, 200);
    assert.equal(r.body.trim(), 'LIVE');
  });

  it('/listeners shows the bound port of a port-0 listener', async () => {
    const r = await request(admin, { path: '/listeners?format=json' });
    const j = JSON.parse(r.body);
    const l = j.listener_statuses.find((s: { name: string }) => s.name === 'ingress');
    assert.equal(l.local_address.socket_address.port_value, port);
  });

  it('/stats/prometheus uses Envoy names and tags', async () => {
    const r = await request(admin, { path: '/stats/prometheus' });
    assert.equal(r.status, 200);
    assert.match(r.body, /# TYPE envoy_cluster_upstream_rq_total counter/);
    assert.match(r.body, /envoy_cluster_upstream_rq_total\{envoy_cluster_name="backend"\} [1-9]/);
    assert.match(r.body, /envoy_http_downstream_rq_total\{envoy_http_conn_manager_prefix="ingress_http"\} [1-9]/);
    assert.match(r.body, /envoy_server_live\{\} 1/);
    assert.match(r.body, /envoy_cluster_upstream_rq_time_bucket\{envoy_cluster_name="backend",le="0.5"\}/);
  });

  it('/stats text has histograms with quantiles and honours ?filter=', async () => {
    const r = await request(admin, { path: '/stats?filter=^cluster\\.backend\\.upstream_rq_' });
    assert.match(r.body, /^cluster\.backend\.upstream_rq_total: \d+$/m);
    assert.match(r.body, /cluster\.backend\.upstream_rq_time: P0\(/);
    assert.doesNotMatch(r.body, /^http\./m);
  });

  it('/clusters lists hosts with stats', async () => {
    const r = await request(admin, { path: '/clusters' });
    assert.match(r.body, new RegExp(`backend::127\\.0\\.0\\.1:${upstream.port}::rq_total::[1-9]`));
    assert.match(r.body, new RegExp(`backend::127\\.0\\.0\\.1:${upstream.port}::health_flags::healthy`));
  });

  it('/config_dump has the bootstrap and static listeners and clusters', async () => {
    const r = await request(admin, { path: '/config_dump' });
    const j = JSON.parse(r.body);
    const types = j.configs.map((c: { '@type': string }) => c['@type']);
    assert.ok(types.includes('type.googleapis.com/envoy.admin.v3.BootstrapConfigDump'));
    assert.ok(types.includes('type.googleapis.com/envoy.admin.v3.ClustersConfigDump'));
    assert.ok(types.includes('type.googleapis.com/envoy.admin.v3.ListenersConfigDump'));
    const routes = j.configs.find((c: { '@type': string }) => c['@type'].endsWith('RoutesConfigDump'));
    assert.equal(routes.static_route_configs[0].route_config.name, 'local_route');
    const clusters = await request(admin, { path: '/config_dump?resource=static_clusters' });
    assert.equal(JSON.parse(clusters.body).configs[0].cluster.name, 'backend');
  });

  it('/server_info has the state and node', async () => {
    const j = JSON.parse((await request(admin, { path: '/server_info' })).body);
    assert.equal(j.state, 'LIVE');
    assert.ok(typeof j.version === 'string');
  });

  it('mutating endpoints need POST; /healthcheck/fail then /healthcheck/ok', async () => {
    const g = await request(admin, { path: '/healthcheck/fail' });
    assert.notEqual(g.status, 200);
    assert.equal((await request(admin, { path: '/healthcheck/fail', method: 'POST' })).status, 200);
    assert.equal((await request(admin, { path: '/healthcheck/ok', method: 'POST' })).status, 200);
  });
});
