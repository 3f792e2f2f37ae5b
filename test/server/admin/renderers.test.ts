import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as diagnostics from 'node:diagnostics_channel';
import * as http from 'node:http';
import { StatsStore } from '../../../src/stats/stats_impl.js';
import {
  healthFlagsToString, renderClustersJson, renderClustersText, type ClusterStatusSnapshot,
} from '../../../src/server/admin/clusters_render.js';
import { renderListenersJson, renderListenersText } from '../../../src/server/admin/listeners_render.js';
import { ADMIN_REQUEST_CHANNEL, AdminServer, type AdminRequestEvent } from '../../../src/server/admin/admin_server.js';

const STATS = { cx_total: 3, cx_active: 1, cx_connect_fail: 0, rq_total: 5, rq_active: 0, rq_error: 1, rq_success: 4, rq_timeout: 0 };

const CLUSTERS: ClusterStatusSnapshot[] = [
  {
    name: 'web', addedViaApi: true, edsServiceName: 'web-eds',
    circuitBreakers: { default: { maxConnections: 10, maxPendingRequests: 20, maxRequests: 30, maxRetries: 1 } },
    outlier: { successRateAverage: 99.5, successRateEjectionThreshold: 90, localOriginSuccessRateAverage: 0, localOriginSuccessRateEjectionThreshold: 0 },
    hosts: [{
      address: { address: '::1', port: 8443 }, hostname: 'web-1', stats: STATS, weight: 5, priority: 1,
      healthFlags: { failedActiveHc: true, failedOutlierCheck: true }, locality: { region: 'eu', zone: 'a', subZone: 'x' },
      canary: true, successRate: 97.5,
    }],
  },
  { name: 'api', addedViaApi: false, hosts: [] },
];

test('/clusters text, line for line as Envoy prints it', () => {
  assert.equal(renderClustersText(CLUSTERS),
    'api::observability_name::api\n' +
    'api::default_priority::max_connections::1024\napi::default_priority::max_pending_requests::1024\n' +
    'api::default_priority::max_requests::1024\napi::default_priority::max_retries::3\n' +
    'api::high_priority::max_connections::1024\napi::high_priority::max_pending_requests::1024\n' +
    'api::high_priority::max_requests::1024\napi::high_priority::max_retries::3\n' +
    'api::added_via_api::false\n' +
    'web::observability_name::web\n' +
    'web::outlier::success_rate_average::99.5\nweb::outlier::success_rate_ejection_threshold::90\n' +
    'web::outlier::local_origin_success_rate_average::0\nweb::outlier::local_origin_success_rate_ejection_threshold::0\n' +
    'web::default_priority::max_connections::10\nweb::default_priority::max_pending_requests::20\n' +
    'web::default_priority::max_requests::30\nweb::default_priority::max_retries::1\n' +
    'web::high_priority::max_connections::1024\nweb::high_priority::max_pending_requests::1024\n' +
    'web::high_priority::max_requests::1024\nweb::high_priority::max_retries::3\n' +
    'web::added_via_api::true\nweb::eds_service_name::web-eds\n' +
    'web::[::1]:8443::cx_active::1\nweb::[::1]:8443::cx_connect_fail::0\nweb::[::1]:8443::cx_total::3\n' +
    'web::[::1]:8443::rq_active::0\nweb::[::1]:8443::rq_error::1\nweb::[::1]:8443::rq_success::4\n' +
    'web::[::1]:8443::rq_timeout::0\nweb::[::1]:8443::rq_total::5\n' +
    'web::[::1]:8443::hostname::web-1\nweb::[::1]:8443::health_flags::/failed_active_hc/failed_outlier_check\n' +
    'web::[::1]:8443::weight::5\nweb::[::1]:8443::region::eu\nweb::[::1]:8443::zone::a\nweb::[::1]:8443::sub_zone::x\n' +
    'web::[::1]:8443::canary::true\nweb::[::1]:8443::priority::1\nweb::[::1]:8443::success_rate::97.5\n' +
    'web::[::1]:8443::local_origin_success_rate::-1\n');
  assert.equal(healthFlagsToString({}), 'healthy');
  assert.equal(healthFlagsToString({ edsStatusDraining: true, failedEdsHealth: true }), '/failed_eds_health/eds_status_draining');
});

test('/clusters?format=json is envoy.admin.v3.Clusters as protobuf JSON', () => {
  const doc = JSON.parse(renderClustersJson(CLUSTERS));
  const web = doc.cluster_statuses[1];
  assert.equal(doc.cluster_statuses[0].name, 'api');
  assert.equal(web.added_via_api, true);
  assert.equal(web.eds_service_name, 'web-eds');
  assert.deepEqual(web.success_rate_ejection_threshold, { value: 90 });
  assert.deepEqual(web.circuit_breakers.thresholds[0], { max_connections: 10, max_pending_requests: 20, max_requests: 30, max_retries: 1 });
  assert.equal(web.circuit_breakers.thresholds[1].priority, 'HIGH');
  const host = web.host_statuses[0];
  assert.deepEqual(host.address, { socket_address: { address: '::1', port_value: 8443 } });
  assert.deepEqual(host.health_status, { failed_active_health_check: true, failed_outlier_check: true, eds_health_status: 'HEALTHY' });
  assert.deepEqual(host.stats[1], { value: '3', name: 'cx_total' });
  assert.deepEqual(host.stats[6], { type: 'GAUGE', value: '1', name: 'cx_active' });
  assert.deepEqual(host.success_rate, { value: 97.5 });
  assert.deepEqual(host.locality, { region: 'eu', zone: 'a', sub_zone: 'x' });
  assert.equal(host.priority, 1);
});

test('/listeners text and JSON, IPv4, IPv6 and pipes', () => {
  const listeners = [
    { name: 'v4', localAddress: { address: '0.0.0.0', port: 10000 } },
    { name: 'v6', localAddress: { address: '::', port: 443 }, additionalLocalAddresses: [{ address: '0.0.0.0', port: 443 }] },
    { name: 'uds', localAddress: { pipe: '/tmp/l.sock' } },
  ];
  assert.equal(renderListenersText(listeners), 'v4::0.0.0.0:10000\nv6::[::]:443\nv6::0.0.0.0:443\nuds::/tmp/l.sock\n');
  const json = renderListenersJson(listeners);
  assert.ok(json.startsWith('{\n "listener_statuses": [\n  {\n   "name": "v4",\n'));
  const doc = JSON.parse(json);
  assert.deepEqual(doc.listener_statuses[1].additional_local_addresses, [{ socket_address: { address: '0.0.0.0', port_value: 443 } }]);
  assert.deepEqual(doc.listener_statuses[1].local_address, { socket_address: { address: '::', port_value: 443 } });
  assert.deepEqual(doc.listener_statuses[2].local_address, { pipe: { path: '/tmp/l.sock' } });
});

test('finished admin requests are published on legate:admin:request', async () => {
  const admin = new AdminServer({
    stats: new StatsStore(),
    loggers: { loggers: () => [], setLevel: () => false, setAllLevels: () => undefined },
    serverInfo: () => ({ version: 'v', hotRestartVersion: 'disabled', startTimeCurrentEpochMs: 0, startTimeFirstEpochMs: 0 }),
    initState: () => 'Initialized',
    healthCheckFailed: () => false,
    failHealthcheck: () => undefined,
    shutdown: () => undefined,
  });
  const events: AdminRequestEvent[] = [];
  const onEvent = (m: unknown): void => { events.push(m as AdminRequestEvent); };
  diagnostics.subscribe(ADMIN_REQUEST_CHANNEL.name, onEvent);
  await admin.listen({ host: '127.0.0.1', port: 0 });
  try {
    await new Promise<void>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: admin.port, path: '/ready?x=1', agent: false }, (res) => {
        res.resume();
        res.on('end', resolve);
      }).on('error', reject);
    });
  } finally {
    await admin.close();
    diagnostics.unsubscribe(ADMIN_REQUEST_CHANNEL.name, onEvent);
  }
  assert.equal(events.length, 1);
  assert.deepEqual({ ...events[0], durationMs: 0 }, { method: 'GET', path: '/ready', status: 200, durationMs: 0 });
});
