/**
 * STRICT_DNS and LOGICAL_DNS clusters against a real DNS server on 127.0.0.1.
 * Waiting is event-driven (host-set updates, answered queries); refresh rates
 * are short so the tests are quick, but nothing asserts on elapsed time.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { StatsStore } from '../../src/stats/stats_impl.js';
import { createCluster, type BuiltCluster } from '../../src/upstream/cluster_factory.js';
import { createDnsResolver } from '../../src/upstream/dns_resolver.js';
import type { HostImpl } from '../../src/upstream/host_impl.js';
import type { LogicalDnsCluster } from '../../src/upstream/logical_dns_cluster.js';
import { ConfigError } from '../../src/upstream/proto_util.js';
import { TestDnsServer } from '../support/dns_server.js';
import { addrs, clusterFromYaml, nextUpdate, seededRandom, untilUpdated } from './helpers.js';

let dns: TestDnsServer;
const built: BuiltCluster[] = [];

before(async () => {
  dns = await TestDnsServer.start();
});

after(async () => {
  for (const b of built) b.cluster.destroy();
  await dns.close();
});

function dnsCluster(name: string, type: 'STRICT_DNS' | 'LOGICAL_DNS', extra: string, endpoints: string[], store = new StatsStore()): BuiltCluster {
  const eps = endpoints
    .map((e) => {
      const [host, port, priority] = e.split(':');
      return `  - priority: ${priority ?? 0}
    lb_endpoints:
    - endpoint: { address: { socket_address: { address: "${host}", port_value: ${port} } } }`;
    })
    .join('\n');
  const yaml = `
name: ${name}
type: ${type}
dns_resolution_config:
  resolvers: [{ socket_address: { address: 127.0.0.1, port_value: ${dns.port} } }]
${extra}
load_assignment:
  cluster_name: ${name}
  endpoints:
${eps}
`;
  const b = createCluster(clusterFromYaml(yaml), {
    statsScope: store.rootScope,
    addedViaApi: false,
    fieldPath: `clusters["${name}"]`,
    random: seededRandom(7),
    defaultDnsResolver: () => {
      throw new Error('cluster config names its own resolver');
    },
    createDnsResolver: (config) => createDnsResolver(config, { hostsFile: null, tries: 1, timeoutMs: 2000 }),
  });
  built.push(b);
  return b;
}

function counter(store: StatsStore, name: string): number {
  return store.counters.get(name)?.value() ?? 0;
}

describe('STRICT_DNS', () => {
  test('every A record becomes a host; initialize() waits for the first answer', async () => {
    dns.setRecords('multi.strict.test', { A: ['127.0.0.11', '127.0.0.12', '127.0.0.13'] });
    const store = new StatsStore();
    const { cluster, loadBalancer } = dnsCluster('multi', 'STRICT_DNS', 'dns_lookup_family: V4_ONLY', ['multi.strict.test:8080'], store);
    assert.equal(cluster.isInitialized, false);
    await cluster.initialize();
    const hosts = cluster.prioritySet.hostSetsPerPriority[0].hosts;
    assert.deepEqual(addrs(hosts), ['127.0.0.11:8080', '127.0.0.12:8080', '127.0.0.13:8080']);
    assert.equal(hosts[0].hostname, 'multi.strict.test');
    assert.equal(counter(store, 'cluster.multi.update_attempt'), 1);
    assert.equal(counter(store, 'cluster.multi.update_success'), 1);
    assert.equal(store.gauges.get('cluster.multi.membership_total')?.value(), 3);
    const seen = new Set<string>();
    for (let i = 0; i < 3; i++) seen.add(loadBalancer.chooseHost(null)?.address ?? '');
    assert.equal(seen.size, 3);
  });

  test('a changed answer is picked up after dns_refresh_rate; surviving hosts keep their identity', async () => {
    dns.setRecords('change.strict.test', { A: ['127.0.0.21', '127.0.0.22'] });
    const store = new StatsStore();
    const { cluster } = dnsCluster('change', 'STRICT_DNS', 'dns_refresh_rate: 0.05s\ndns_lookup_family: V4_ONLY', ['change.strict.test:80'], store);
    await cluster.initialize();
    const hs = cluster.prioritySet.hostSetsPerPriority[0];
    const kept = hs.hosts.find((h) => h.address === '127.0.0.22');
    assert.ok(kept);
    dns.setRecords('change.strict.test', { A: ['127.0.0.22', '127.0.0.23'] });
    const update = await nextUpdate(cluster.prioritySet);
    assert.deepEqual(addrs(update.added), ['127.0.0.23:80']);
    assert.deepEqual(addrs(update.removed), ['127.0.0.21:80']);
    assert.deepEqual(addrs(hs.hosts), ['127.0.0.22:80', '127.0.0.23:80']);
    assert.equal(hs.hosts.find((h) => h.address === '127.0.0.22'), kept, 'same Host object');
    // Unchanged answers do not rebuild.
    const attempts = counter(store, 'cluster.change.update_attempt');
    await dns.waitForQueries('change.strict.test', 'A', dns.queryCount('change.strict.test', 'A') + 2);
    assert.ok(counter(store, 'cluster.change.update_attempt') > attempts);
    assert.ok(counter(store, 'cluster.change.update_no_rebuild') >= 1);
  });

  test('respect_dns_ttl: the record TTL, not dns_refresh_rate, sets the next query', async () => {
    dns.setRecords('ttl.strict.test', { A: ['127.0.0.31'], ttl: 1 });
    const { cluster } = dnsCluster(
      'ttl',
      'STRICT_DNS',
      'dns_refresh_rate: 3600s\nrespect_dns_ttl: true\ndns_lookup_family: V4_ONLY',
      ['ttl.strict.test:80'],
    );
    await cluster.initialize();
    dns.setRecords('ttl.strict.test', { A: ['127.0.0.32'], ttl: 1 });
    // With the 1 h refresh rate this would never come; the 1 s TTL brings it.
    await untilUpdated(cluster.prioritySet, () => addrs(cluster.prioritySet.hostSetsPerPriority[0].hosts)[0] === '127.0.0.32:80');
  });

  test('a failed resolution keeps the hosts; the next success updates them', async () => {
    dns.setRecords('fail.strict.test', { A: ['127.0.0.41', '127.0.0.42'] });
    const store = new StatsStore();
    const { cluster } = dnsCluster('fail', 'STRICT_DNS', 'dns_refresh_rate: 0.05s\ndns_lookup_family: V4_ONLY', ['fail.strict.test:80'], store);
    await cluster.initialize();
    dns.fail('fail.strict.test', 'SERVFAIL');
    const n = dns.queryCount('fail.strict.test', 'A');
    await dns.waitForQueries('fail.strict.test', 'A', n + 3);
    assert.ok(counter(store, 'cluster.fail.update_failure') >= 2);
    assert.deepEqual(addrs(cluster.prioritySet.hostSetsPerPriority[0].hosts), ['127.0.0.41:80', '127.0.0.42:80']);
    dns.setRecords('fail.strict.test', { A: ['127.0.0.43'] });
    dns.fail('fail.strict.test', null);
    await untilUpdated(cluster.prioritySet, () => addrs(cluster.prioritySet.hostSetsPerPriority[0].hosts).join() === '127.0.0.43:80');
  });

  test('dns_failure_refresh_rate is used after failures', async () => {
    dns.setRecords('backoff.strict.test', { A: ['127.0.0.44'] });
    dns.fail('backoff.strict.test', 'SERVFAIL');
    const store = new StatsStore();
    const { cluster } = dnsCluster(
      'backoff',
      'STRICT_DNS',
      'dns_refresh_rate: 3600s\ndns_failure_refresh_rate: { base_interval: 0.01s, max_interval: 0.05s }\ndns_lookup_family: V4_ONLY',
      ['backoff.strict.test:80'],
      store,
    );
    await cluster.initialize();
    assert.equal(cluster.prioritySet.hostSetsPerPriority[0].hosts.length, 0, 'initialized even though it failed');
    // The 1 h refresh rate would never retry; the failure back-off does.
    await dns.waitForQueries('backoff.strict.test', 'A', 3);
    dns.fail('backoff.strict.test', null);
    await untilUpdated(cluster.prioritySet, () => cluster.prioritySet.hostSetsPerPriority[0].hosts.length === 1);
    assert.ok(counter(store, 'cluster.backoff.update_failure') >= 2);
  });

  test('NXDOMAIN is an answer with no address: the hosts go away (as in Envoy)', async () => {
    dns.setRecords('gone.strict.test', { A: ['127.0.0.51'] });
    const store = new StatsStore();
    const { cluster } = dnsCluster('gone', 'STRICT_DNS', 'dns_refresh_rate: 0.05s\ndns_lookup_family: V4_ONLY', ['gone.strict.test:80'], store);
    await cluster.initialize();
    assert.equal(cluster.prioritySet.hostSetsPerPriority[0].hosts.length, 1);
    dns.deleteRecords('gone.strict.test');
    await untilUpdated(cluster.prioritySet, () => cluster.prioritySet.hostSetsPerPriority[0].hosts.length === 0);
    assert.equal(counter(store, 'cluster.gone.update_failure'), 0);
  });

  test('V4_ONLY vs AUTO', async () => {
    dns.setRecords('dual.strict.test', { A: ['127.0.0.61'], AAAA: ['::1'] });
    const v4 = dnsCluster('dual4', 'STRICT_DNS', 'dns_lookup_family: V4_ONLY', ['dual.strict.test:80']);
    const auto = dnsCluster('dualauto', 'STRICT_DNS', '', ['dual.strict.test:80']);
    await Promise.all([v4.cluster.initialize(), auto.cluster.initialize()]);
    assert.deepEqual(addrs(v4.cluster.prioritySet.hostSetsPerPriority[0].hosts), ['127.0.0.61:80']);
    assert.deepEqual(addrs(auto.cluster.prioritySet.hostSetsPerPriority[0].hosts), ['[::1]:80'], 'AUTO prefers IPv6');
    dns.setRecords('v4only.strict.test', { A: ['127.0.0.62'] });
    const fallback = dnsCluster('fallback', 'STRICT_DNS', '', ['v4only.strict.test:80']);
    await fallback.cluster.initialize();
    assert.deepEqual(addrs(fallback.cluster.prioritySet.hostSetsPerPriority[0].hosts), ['127.0.0.62:80'], 'AUTO falls back to IPv4');
  });

  test('several names and priorities; IP literals need no DNS', async () => {
    dns.setRecords('a.multi.test', { A: ['127.0.0.71', '127.0.0.72'] });
    dns.setRecords('b.multi.test', { A: ['127.0.0.73'] });
    const { cluster, loadBalancer } = dnsCluster('prio', 'STRICT_DNS', 'dns_lookup_family: V4_ONLY', [
      'a.multi.test:80:0',
      '127.0.0.99:81:0',
      'b.multi.test:80:1',
    ]);
    await cluster.initialize();
    const [p0, p1] = cluster.prioritySet.hostSetsPerPriority;
    assert.deepEqual(addrs(p0.hosts), ['127.0.0.71:80', '127.0.0.72:80', '127.0.0.99:81']);
    assert.deepEqual(addrs(p1.hosts), ['127.0.0.73:80']);
    assert.equal(dns.queryCount('127.0.0.99', 'A'), 0);
    for (let i = 0; i < 10; i++) assert.equal(loadBalancer.chooseHost(null)?.priority, 0);
  });
});

describe('LOGICAL_DNS', () => {
  test('one logical host at the first address; it moves without being replaced', async () => {
    dns.setRecords('logical.test', { A: ['127.0.0.81', '127.0.0.82'] });
    const store = new StatsStore();
    const { cluster, loadBalancer } = dnsCluster('logical', 'LOGICAL_DNS', 'dns_refresh_rate: 0.05s\ndns_lookup_family: V4_ONLY', ['logical.test:9000'], store);
    await cluster.initialize();
    const hosts = cluster.prioritySet.hostSetsPerPriority[0].hosts;
    assert.equal(hosts.length, 1);
    const host = hosts[0] as HostImpl;
    assert.equal(host.addressString, '127.0.0.81:9000');
    assert.equal(host.hostname, 'logical.test');
    assert.equal(loadBalancer.chooseHost(null), host);

    dns.setRecords('logical.test', { A: ['127.0.0.83'] });
    await dns.waitForQueries('logical.test', 'A', dns.queryCount('logical.test', 'A') + 2);
    assert.equal(host.address, '127.0.0.83', 'same host object, new address');
    assert.equal(host.addressString, '127.0.0.83:9000');
    assert.equal(cluster.prioritySet.hostSetsPerPriority[0].hosts[0], host);
    assert.equal((cluster as LogicalDnsCluster).logicalHost, host);
    assert.equal(store.counters.get('cluster.logical.membership_change')?.value(), 1, 'membership never changed after the first answer');
  });

  test('failures and empty answers keep the last address', async () => {
    dns.setRecords('sticky.test', { A: ['127.0.0.84'] });
    const store = new StatsStore();
    const { cluster } = dnsCluster('sticky', 'LOGICAL_DNS', 'dns_refresh_rate: 0.05s\ndns_lookup_family: V4_ONLY', ['sticky.test:80'], store);
    await cluster.initialize();
    dns.fail('sticky.test', 'SERVFAIL');
    await dns.waitForQueries('sticky.test', 'A', dns.queryCount('sticky.test', 'A') + 2);
    dns.fail('sticky.test', null);
    dns.deleteRecords('sticky.test');
    await dns.waitForQueries('sticky.test', 'A', dns.queryCount('sticky.test', 'A') + 2);
    assert.equal(cluster.prioritySet.hostSetsPerPriority[0].hosts[0].address, '127.0.0.84');
    assert.ok((store.counters.get('cluster.sticky.update_failure')?.value() ?? 0) >= 3);
  });

  test('LOGICAL_DNS needs exactly one endpoint', () => {
    assert.throws(
      () => dnsCluster('two', 'LOGICAL_DNS', '', ['a.test:80', 'b.test:80']),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.fieldPath === 'clusters["two"].load_assignment' &&
        /single locality_lb_endpoint and a single lb_endpoint/.test(e.message),
    );
  });
});
