import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { HealthFlag } from '../../src/envoy/upstream/host.js';
import { StatsStore } from '../../src/stats/stats_impl.js';
import { createCluster } from '../../src/upstream/cluster_factory.js';
import type { HostImpl } from '../../src/upstream/host_impl.js';
import { healthFlagsToString } from '../../src/upstream/host_impl.js';
import { ConfigError } from '../../src/upstream/proto_util.js';
import { clusterFromYaml, seededRandom } from './helpers.js';

function build(yaml: string, store = new StatsStore()) {
  return createCluster(clusterFromYaml(yaml), {
    statsScope: store.rootScope,
    addedViaApi: false,
    fieldPath: 'static_resources.clusters[0]',
    random: seededRandom(1),
    defaultDnsResolver: () => {
      throw new Error('no DNS for static clusters');
    },
    createDnsResolver: () => {
      throw new Error('no DNS for static clusters');
    },
  });
}

const YAML_CLUSTER = `
name: web
type: STATIC
connect_timeout: 1s
load_assignment:
  cluster_name: web
  policy:
    overprovisioning_factor: 120
  endpoints:
  - locality: { region: us-east, zone: a, sub_zone: rack1 }
    lb_endpoints:
    - endpoint:
        address: { socket_address: { address: 10.0.0.1, port_value: 8080 } }
        hostname: web-1.internal
      load_balancing_weight: 3
      metadata: { filter_metadata: { envoy.lb: { canary: true } } }
    - endpoint: { address: { socket_address: { address: 10.0.0.2, port_value: 8080 } } }
      health_status: UNHEALTHY
    - endpoint: { address: { socket_address: { address: 10.0.0.3, port_value: 8080 } } }
      health_status: DEGRADED
    - endpoint: { address: { socket_address: { address: 10.0.0.4, port_value: 8080 } } }
      health_status: DRAINING
    - endpoint: { address: { socket_address: { address: 10.0.0.5, port_value: 8080 } } }
      health_status: TIMEOUT
    - endpoint: { address: { socket_address: { address: 10.0.0.6, port_value: 8080 } } }
      health_status: HEALTHY
  - priority: 1
    lb_endpoints:
    - endpoint: { address: { socket_address: { address: "::1", port_value: 9090 } } }
`;

describe('STATIC cluster', () => {
  test('hosts with priority, locality, weight, hostname and metadata', async () => {
    const store = new StatsStore();
    const { cluster } = build(YAML_CLUSTER, store);
    await cluster.initialize();
    assert.equal(cluster.isInitialized, true);
    const sets = cluster.prioritySet.hostSetsPerPriority;
    assert.equal(sets.length, 2);
    assert.equal(sets[0].hosts.length, 6);
    assert.equal(sets[0].overprovisioningFactor, 120);
    const h1 = sets[0].hosts[0] as HostImpl;
    assert.equal(h1.addressString, '10.0.0.1:8080');
    assert.equal(h1.address, '10.0.0.1');
    assert.equal(h1.port, 8080);
    assert.equal(h1.hostname, 'web-1.internal');
    assert.equal(h1.weight, 3);
    assert.equal(h1.priority, 0);
    assert.deepEqual(h1.locality, { region: 'us-east', zone: 'a', subZone: 'rack1' });
    assert.deepEqual(h1.metadata, { 'envoy.lb': { canary: true } });
    assert.equal(h1.cluster.name, 'web');
    assert.equal(sets[0].hosts[1].weight, 1, 'weight defaults to 1');

    const p1 = sets[1].hosts[0];
    assert.equal(p1.priority, 1);
    assert.equal(p1.addressString, '[::1]:9090');
  });

  test('health_status maps to Envoy health flags and partitions', async () => {
    const { cluster } = build(YAML_CLUSTER);
    const hs = cluster.prioritySet.hostSetsPerPriority[0];
    const flags = hs.hosts.map((h) => h.healthFlags);
    assert.deepEqual(flags, [
      0,
      HealthFlag.FailedEdsHealth,
      HealthFlag.DegradedEdsHealth,
      HealthFlag.EdsStatusDraining,
      HealthFlag.FailedEdsHealth,
      0,
    ]);
    assert.deepEqual(hs.healthyHosts.map((h) => h.address), ['10.0.0.1', '10.0.0.6']);
    assert.deepEqual(hs.degradedHosts.map((h) => h.address), ['10.0.0.3']);
    assert.deepEqual(hs.excludedHosts.map((h) => h.address), ['10.0.0.4']);
    assert.equal(hs.hosts[1].healthy(), false);
    assert.equal(hs.hosts[2].healthy(), false, 'degraded is not healthy (it is used through degraded load)');
    assert.equal(healthFlagsToString(hs.hosts[0].healthFlags), 'healthy');
    assert.equal(healthFlagsToString(hs.hosts[1].healthFlags), '/failed_eds_health');
    assert.equal(healthFlagsToString(hs.hosts[3].healthFlags), '/eds_status_draining');
  });

  test('membership gauges', () => {
    const store = new StatsStore();
    build(YAML_CLUSTER, store);
    const g = (n: string) => store.gauges.get(`cluster.web.${n}`)?.value();
    assert.equal(g('membership_total'), 7);
    assert.equal(g('membership_healthy'), 3);
    assert.equal(g('membership_degraded'), 1);
    assert.equal(g('membership_excluded'), 1);
    assert.equal(g('max_host_weight'), 3);
    assert.equal(store.counters.get('cluster.web.membership_change')?.value(), 2, 'one per priority populated');
  });

  test('a hostname in a STATIC cluster is a config error with the field path', () => {
    assert.throws(
      () =>
        build(`
name: bad
load_assignment:
  endpoints:
  - lb_endpoints:
    - endpoint: { address: { socket_address: { address: example.com, port_value: 80 } } }
`),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.fieldPath === 'static_resources.clusters[0].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address' &&
        /malformed IP address: example.com/.test(e.message),
    );
  });

  test('load_balancing_weight 0 is rejected (Envoy requires >= 1)', () => {
    assert.throws(
      () =>
        build(`
name: w0
load_assignment:
  endpoints:
  - lb_endpoints:
    - endpoint: { address: { socket_address: { address: 10.0.0.1, port_value: 80 } } }
      load_balancing_weight: 0
`),
      (e: unknown) => e instanceof ConfigError && e.fieldPath.endsWith('lb_endpoints[0].load_balancing_weight'),
    );
  });

  test('Host.activeRequests is the host stat rq_active', () => {
    const { cluster } = build(YAML_CLUSTER);
    const h = cluster.prioritySet.hostSetsPerPriority[0].hosts[0];
    h.activeRequests++;
    h.activeRequests++;
    assert.equal(h.stats.rq_active, 2);
    h.stats.rq_active--;
    assert.equal(h.activeRequests, 1);
  });

  test('a cluster without endpoints has an empty P=0 and is warm', async () => {
    const { cluster, loadBalancer } = build('name: empty');
    await cluster.initialize();
    assert.equal(cluster.prioritySet.hostSetsPerPriority.length, 1);
    assert.equal(cluster.prioritySet.hostSetsPerPriority[0].hosts.length, 0);
    assert.equal(loadBalancer.chooseHost(null), null);
  });
});
