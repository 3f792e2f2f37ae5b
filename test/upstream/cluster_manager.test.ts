import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Host } from '../../src/envoy/upstream/host.js';
import { StatsStore } from '../../src/stats/stats_impl.js';
import { ClusterManagerImpl } from '../../src/upstream/cluster_manager_impl.js';
import type { DnsResolver, DnsResolution } from '../../src/upstream/dns_resolver.js';
import { ConfigError } from '../../src/upstream/proto_util.js';
import { TestDnsServer } from '../support/dns_server.js';
import { TypeUrl } from '../../src/envoy/config/subscription.js';
import type { ClusterLoadAssignment } from '../../src/generated/envoy/config/endpoint/v3/endpoint_pb.js';
import { InMemorySubscriptionFactory } from '../support/in_memory_subscriptions.js';
import { clusterFromYaml, fakePoolFactory, messageFromYaml, seededRandom, typedExtensionConfigFromYaml, untilUpdated, type FakePool } from './helpers.js';

function staticCluster(name: string, ips: string[], extra = ''): string {
  return `
name: ${name}
type: STATIC
${extra}
load_assignment:
  cluster_name: ${name}
  endpoints:
  - lb_endpoints:
${ips.map((ip) => `    - endpoint: { address: { socket_address: { address: ${ip}, port_value: 80 } } }`).join('\n')}
`;
}

function setup() {
  const store = new StatsStore();
  const pools = fakePoolFactory();
  const cm = new ClusterManagerImpl({ statsScope: store.rootScope, connPoolFactory: pools.factory, random: seededRandom(3) });
  const cmStat = (n: string) => (store.counters.get(`cluster_manager.${n}`) ?? store.gauges.get(`cluster_manager.${n}`))?.value();
  return { store, pools, cm, cmStat };
}

describe('static clusters', () => {
  test('bootstrap clusters are active at once and routable', async () => {
    const { cm, cmStat } = setup();
    cm.initializeStaticClusters([clusterFromYaml(staticCluster('a', ['10.0.0.1'])), clusterFromYaml(staticCluster('b', ['10.0.0.2', '10.0.0.3']))]);
    assert.deepEqual(cm.clusterNames().sort(), ['a', 'b']);
    assert.deepEqual(await cm.initialize(), []);
    const b = cm.getThreadLocalCluster('b');
    assert.ok(b);
    assert.equal(b.info.name, 'b');
    assert.equal(b.prioritySet.hostSetsPerPriority[0].hosts.length, 2);
    assert.ok(b.loadBalancer.chooseHost(null));
    assert.equal(cm.getThreadLocalCluster('nope'), undefined);
    assert.equal(cmStat('cluster_added'), 2);
    assert.equal(cmStat('active_clusters'), 2);
    cm.shutdown();
  });

  test('duplicate names are a config error and nothing is added', () => {
    const { cm } = setup();
    assert.throws(
      () =>
        cm.initializeStaticClusters([
          clusterFromYaml(staticCluster('a', ['10.0.0.1'])),
          clusterFromYaml(staticCluster('b', ['10.0.0.1'])),
          clusterFromYaml(staticCluster('a', ['10.0.0.2'])),
        ]),
      (e: unknown) => e instanceof ConfigError && e.fieldPath === 'static_resources.clusters[2].name' && /duplicate cluster name 'a'/.test(e.message),
    );
    assert.deepEqual(cm.clusterNames(), []);
  });

  test('one invalid cluster rejects the whole set', () => {
    const { cm } = setup();
    assert.throws(
      () => cm.initializeStaticClusters([clusterFromYaml(staticCluster('ok', ['10.0.0.1'])), clusterFromYaml('{name: bad, lb_policy: CLUSTER_PROVIDED}')]),
      (e: unknown) => e instanceof ConfigError && e.fieldPath === 'static_resources.clusters[1].lb_policy',
    );
    assert.deepEqual(cm.clusterNames(), []);
  });

  test('static clusters cannot be updated or removed through CDS (skipped, as Envoy\'s blockUpdate)', () => {
    const { cm, cmStat } = setup();
    cm.initializeStaticClusters([clusterFromYaml(staticCluster('s', ['10.0.0.1']))]);
    assert.equal(cm.addOrUpdateCluster(clusterFromYaml(staticCluster('s', ['10.0.0.2']))), false);
    assert.equal(cm.removeCluster('s'), false);
    assert.equal(cm.getThreadLocalCluster('s')?.prioritySet.hostSetsPerPriority[0].hosts[0].address, '10.0.0.1');
    assert.equal(cmStat('cluster_modified'), 0);
    cm.shutdown();
  });
});

describe('connection pools', () => {
  test('one pool per (host, protocol), reused', () => {
    const { cm, pools } = setup();
    cm.initializeStaticClusters([clusterFromYaml(staticCluster('p', ['10.0.0.1', '10.0.0.2']))]);
    const tlc = cm.getThreadLocalCluster('p');
    assert.ok(tlc);
    const [h1, h2] = tlc.prioritySet.hostSetsPerPriority[0].hosts;
    const a = tlc.httpConnPool(h1, 'http1');
    assert.equal(tlc.httpConnPool(h1, 'http1'), a);
    const b = tlc.httpConnPool(h1, 'http2');
    const c = tlc.httpConnPool(h2, 'http1');
    assert.notEqual(a, b);
    assert.notEqual(a, c);
    assert.equal(pools.pools.length, 3);
    assert.equal(tlc.poolCount(), 3);
    assert.equal(a.host, h1);
    assert.equal(b.protocol, 'http2');
    cm.shutdown();
    assert.ok(pools.pools.every((p) => p.destroyed));
  });

  test('chooseHost counts upstream_cx_none_healthy when there is no host', () => {
    const { cm, store } = setup();
    cm.initializeStaticClusters([clusterFromYaml('name: empty')]);
    assert.equal(cm.getThreadLocalCluster('empty')?.chooseHost(null), null);
    assert.equal(store.counters.get('cluster.empty.upstream_cx_none_healthy')?.value(), 1);
  });
});

describe('CDS clusters: add, update, remove', () => {
  test('add, unchanged update, modify, remove; stats follow', () => {
    const { cm, cmStat } = setup();
    assert.equal(cm.addOrUpdateCluster(clusterFromYaml(staticCluster('d', ['10.0.0.1'])), 'v1'), true);
    assert.ok(cm.getThreadLocalCluster('d'), 'a STATIC-type CDS cluster warms at once');
    assert.equal(cm.addOrUpdateCluster(clusterFromYaml(staticCluster('d', ['10.0.0.1'])), 'v2'), false, 'identical config');
    assert.equal(cm.addOrUpdateCluster(clusterFromYaml(staticCluster('d', ['10.0.0.9'])), 'v3'), true);
    assert.equal(cm.getThreadLocalCluster('d')?.prioritySet.hostSetsPerPriority[0].hosts[0].address, '10.0.0.9');
    assert.equal(cmStat('cluster_added'), 1);
    assert.equal(cmStat('cluster_modified'), 1);
    assert.equal(cmStat('active_clusters'), 1);
    assert.equal(cm.allClusters()[0].versionInfo, 'v3');
    assert.equal(cm.removeCluster('d'), true);
    assert.equal(cm.getThreadLocalCluster('d'), undefined, 'new requests get no cluster (NC)');
    assert.equal(cm.removeCluster('d'), false);
    assert.equal(cmStat('cluster_removed'), 1);
    assert.equal(cmStat('active_clusters'), 0);
  });

  test('an invalid update is rejected and the old version keeps serving', () => {
    const { cm } = setup();
    cm.addOrUpdateCluster(clusterFromYaml(staticCluster('keep', ['10.0.0.1'])));
    assert.throws(
      () => cm.addOrUpdateCluster(clusterFromYaml(staticCluster('keep', ['10.0.0.2'], 'lb_policy: CLUSTER_PROVIDED'))),
      (e: unknown) => e instanceof ConfigError && e.fieldPath === 'clusters["keep"].lb_policy',
    );
    assert.equal(cm.getThreadLocalCluster('keep')?.prioritySet.hostSetsPerPriority[0].hosts[0].address, '10.0.0.1');
  });

  test('removing a cluster drains its pools: idle ones now, busy ones when their streams finish', () => {
    const { cm, pools } = setup();
    cm.addOrUpdateCluster(clusterFromYaml(staticCluster('r', ['10.0.0.1', '10.0.0.2'])));
    const tlc = cm.getThreadLocalCluster('r');
    assert.ok(tlc);
    const [h1, h2] = tlc.prioritySet.hostSetsPerPriority[0].hosts;
    tlc.httpConnPool(h1, 'http1');
    tlc.httpConnPool(h2, 'http1');
    const [idle, busy] = pools.pools;
    busy.startStream();
    cm.removeCluster('r');
    assert.equal(idle.drained, true);
    assert.equal(idle.destroyed, true);
    assert.equal(busy.drained, true);
    assert.equal(busy.destroyed, false, 'in-flight request finishes');
    busy.finishStream();
    assert.equal(busy.destroyed, true);
  });

  test('an update replaces the cluster; the old version\'s pools drain', () => {
    const { cm, pools } = setup();
    cm.addOrUpdateCluster(clusterFromYaml(staticCluster('u', ['10.0.0.1'])));
    const old = cm.getThreadLocalCluster('u');
    assert.ok(old);
    old.httpConnPool(old.prioritySet.hostSetsPerPriority[0].hosts[0], 'http1').newStream({} as never, {} as never);
    cm.addOrUpdateCluster(clusterFromYaml(staticCluster('u', ['10.0.0.1'], 'connect_timeout: 2s')));
    const fresh = cm.getThreadLocalCluster('u');
    assert.ok(fresh && fresh !== old);
    assert.equal(fresh.info.connectTimeoutMs, 2000);
    assert.equal(pools.pools[0].drained, true);
    assert.equal(pools.pools[0].destroyed, false);
    pools.pools[0].finishStream();
    assert.equal(pools.pools[0].destroyed, true);
  });

  test('allClusters() snapshot for admin /clusters', () => {
    const { cm } = setup();
    cm.initializeStaticClusters([
      clusterFromYaml(`
name: snap
alt_stat_name: snap_stats
lb_policy: LEAST_REQUEST
circuit_breakers: { thresholds: [{ max_connections: 10 }] }
load_assignment:
  endpoints:
  - locality: { region: r1, zone: z1 }
    priority: 0
    lb_endpoints:
    - endpoint: { address: { socket_address: { address: 10.0.0.1, port_value: 80 } }, hostname: one }
      load_balancing_weight: 5
    - endpoint: { address: { socket_address: { address: 10.0.0.2, port_value: 80 } } }
      health_status: UNHEALTHY
`),
    ]);
    const [s] = cm.allClusters();
    assert.equal(s.name, 'snap');
    assert.equal(s.statName, 'snap_stats');
    assert.equal(s.type, 'static');
    assert.equal(s.addedViaApi, false);
    assert.equal(s.warming, false);
    assert.equal(s.lbPolicy, 'least_request');
    assert.deepEqual(s.circuitBreakers[0], { priority: 'default', maxConnections: 10, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: 3 });
    assert.equal(s.circuitBreakers[1].maxConnections, 1024);
    assert.equal(s.hosts.length, 2);
    assert.deepEqual(
      { ...s.hosts[0], stats: undefined },
      {
        address: '10.0.0.1',
        port: 80,
        addressString: '10.0.0.1:80',
        hostname: 'one',
        healthFlags: 0,
        healthFlagsText: 'healthy',
        weight: 5,
        priority: 0,
        locality: { region: 'r1', zone: 'z1', subZone: '' },
        stats: undefined,
        successRate: -1,
        localOriginSuccessRate: -1,
      },
    );
    assert.equal(s.outlier, undefined, 'no outlier_detection: no outlier figures');
    assert.equal(s.hosts[0].stats.rq_total, 0);
    assert.equal(s.hosts[1].healthFlagsText, '/failed_eds_health');
    cm.shutdown();
  });
});

describe('DNS clusters in the cluster manager', () => {
  let dns: TestDnsServer;
  before(async () => {
    dns = await TestDnsServer.start();
  });
  after(async () => {
    await dns.close();
  });

  function dnsYaml(name: string, host: string, extra = ''): string {
    return `
name: ${name}
type: STRICT_DNS
dns_lookup_family: V4_ONLY
${extra}
load_assignment:
  cluster_name: ${name}
  endpoints:
  - lb_endpoints:
    - endpoint: { address: { socket_address: { address: ${host}, port_value: 80 } } }
`;
  }

  test('the bootstrap typed_dns_resolver_config is the default resolver', async () => {
    dns.setRecords('boot.cm.test', { A: ['127.0.1.1'] });
    const store = new StatsStore();
    const pools = fakePoolFactory();
    const cm = new ClusterManagerImpl({
      statsScope: store.rootScope,
      connPoolFactory: pools.factory,
      defaultDnsResolverConfig: typedExtensionConfigFromYaml(`
name: envoy.network.dns_resolver.cares
typed_config:
  "@type": type.googleapis.com/envoy.extensions.network.dns_resolver.cares.v3.CaresDnsResolverConfig
  resolvers: [{ socket_address: { address: 127.0.0.1, port_value: ${dns.port} } }]
`),
      dnsResolverOptions: { hostsFile: null, tries: 1, timeoutMs: 2000 },
    });
    cm.initializeStaticClusters([clusterFromYaml(dnsYaml('boot', 'boot.cm.test'))]);
    assert.deepEqual(await cm.initialize(), []);
    assert.equal(cm.getThreadLocalCluster('boot')?.prioritySet.hostSetsPerPriority[0].hosts[0].address, '127.0.1.1');
    cm.shutdown();
  });

  test('a CDS DNS cluster is warming until its first answer, then becomes active', async () => {
    dns.setRecords('warm.cm.test', { A: ['127.0.1.2'] });
    const { cm, cmStat } = setup();
    const yaml = dnsYaml('warm', 'warm.cm.test', `dns_resolution_config: { resolvers: [{ socket_address: { address: 127.0.0.1, port_value: ${dns.port} } }] }`);
    assert.equal(cm.addOrUpdateCluster(clusterFromYaml(yaml)), true);
    assert.equal(cm.getThreadLocalCluster('warm'), undefined, 'not routable while warming');
    assert.deepEqual(cm.warmingClusterNames(), ['warm']);
    assert.equal(cmStat('warming_clusters'), 1);
    assert.equal(cm.allClusters()[0].warming, true);
    assert.deepEqual(await cm.initialize(), []);
    assert.equal(cm.getThreadLocalCluster('warm')?.prioritySet.hostSetsPerPriority[0].hosts[0].address, '127.0.1.2');
    assert.equal(cmStat('warming_clusters'), 0);
    assert.equal(cmStat('active_clusters'), 1);
    cm.shutdown();
  });

  test('pools of hosts removed by DNS are drained and destroyed once idle', async () => {
    dns.setRecords('drain.cm.test', { A: ['127.0.1.3', '127.0.1.4'] });
    const { cm, pools } = setup();
    cm.initializeStaticClusters([
      clusterFromYaml(
        dnsYaml(
          'drain',
          'drain.cm.test',
          `dns_refresh_rate: 0.05s\ndns_resolution_config: { resolvers: [{ socket_address: { address: 127.0.0.1, port_value: ${dns.port} } }] }`,
        ),
      ),
    ]);
    await cm.initialize();
    const tlc = cm.getThreadLocalCluster('drain');
    assert.ok(tlc);
    const hosts = tlc.prioritySet.hostSetsPerPriority[0].hosts;
    const gone = hosts.find((h) => h.address === '127.0.1.3') as Host;
    const stays = hosts.find((h) => h.address === '127.0.1.4') as Host;
    const gonePool = tlc.httpConnPool(gone, 'http1');
    const staysPool = tlc.httpConnPool(stays, 'http1');
    pools.pools[0].startStream();
    dns.setRecords('drain.cm.test', { A: ['127.0.1.4'] });
    await untilUpdated(tlc.prioritySet, () => tlc.prioritySet.hostSetsPerPriority[0].hosts.length === 1);
    assert.equal(pools.pools[0], gonePool);
    assert.equal(pools.pools[0].drained, true);
    assert.equal(pools.pools[0].destroyed, false);
    pools.pools[0].finishStream();
    assert.equal(pools.pools[0].destroyed, true);
    assert.equal(pools.pools[1], staysPool);
    assert.equal(pools.pools[1].drained, false);
    assert.equal(tlc.poolCount(), 1);
    cm.shutdown();
  });

  test('wait_for_warm_on_init: false makes a CDS DNS cluster active before its first answer', () => {
    const never: DnsResolver = { resolve: () => new Promise<DnsResolution>(() => {}), close: () => {} };
    const store = new StatsStore();
    const cm = new ClusterManagerImpl({ statsScope: store.rootScope, connPoolFactory: fakePoolFactory().factory, dnsResolverFactory: () => never });
    cm.addOrUpdateCluster(clusterFromYaml(dnsYaml('nowarm', 'nowarm.test', 'wait_for_warm_on_init: false')));
    const tlc = cm.getThreadLocalCluster('nowarm');
    assert.ok(tlc);
    assert.equal(tlc.chooseHost(null), null, 'no host yet');
    cm.shutdown();
  });

  test('initialize() is bounded: a cluster that never resolves is reported, not waited for', async () => {
    const never: DnsResolver = { resolve: () => new Promise<DnsResolution>(() => {}), close: () => {} };
    const store = new StatsStore();
    const cm = new ClusterManagerImpl({
      statsScope: store.rootScope,
      connPoolFactory: fakePoolFactory().factory,
      dnsResolverFactory: () => never,
    });
    cm.initializeStaticClusters([clusterFromYaml(dnsYaml('stuck', 'stuck.test')), clusterFromYaml(staticCluster('fine', ['10.0.0.1']))]);
    assert.deepEqual(await cm.initialize(20), ['stuck']);
    assert.deepEqual(cm.clusterNames().sort(), ['fine', 'stuck'], 'a static cluster is known while it initializes');
    assert.equal(cm.getThreadLocalCluster('stuck'), undefined, 'and routable only once initialized (Envoy: onClusterInit)');
    assert.ok(cm.getThreadLocalCluster('fine'));
    cm.shutdown();
  });
});

describe('pools of removed hosts and retired clusters are never reused', () => {
  test('a request holding a retired cluster gets a one-off pool, destroyed once idle', async () => {
    const { cm, pools } = setup();
    cm.addOrUpdateCluster(clusterFromYaml(staticCluster('r', ['10.0.0.1'])));
    const tlc = cm.getThreadLocalCluster('r');
    assert.ok(tlc);
    const host = tlc.prioritySet.hostSetsPerPriority[0].hosts[0];
    const kept = tlc.httpConnPool(host, 'http1') as FakePool;
    cm.removeCluster('r');
    assert.equal(kept.destroyed, true, 'the idle pool went with the cluster');
    const retry = tlc.httpConnPool(host, 'http1') as FakePool;
    assert.notEqual(retry, kept);
    assert.equal(retry.destroyed, false);
    retry.startStream();
    await new Promise((r) => setImmediate(r));
    assert.equal(retry.destroyed, false, 'kept while its stream runs');
    retry.finishStream();
    assert.equal(retry.destroyed, true);
    assert.notEqual(tlc.httpConnPool(host, 'http1'), retry, 'never handed out again');
    assert.equal(pools.pools.length, 3);
    await new Promise((r) => setImmediate(r));
    assert.ok(pools.pools.every((p) => p.destroyed), 'an unused one-off pool goes on the next tick');
  });

  test('a pool asked for a host discovery removed is one-off too (no pool kept for a gone host)', async () => {
    const { cm } = setup();
    cm.addOrUpdateCluster(clusterFromYaml(staticCluster('h', ['10.0.0.1', '10.0.0.2'])));
    const tlc = cm.getThreadLocalCluster('h')!;
    const [h1, h2] = tlc.prioritySet.hostSetsPerPriority[0].hosts;
    // Simulate discovery removing h1 (what DNS and EDS do through the priority set).
    tlc.prioritySet.updateHosts(0, [h2], [], [h1]);
    const p = tlc.httpConnPool(h1, 'http1') as FakePool;
    assert.equal(tlc.poolCount(), 0, 'not tracked');
    await new Promise((r) => setImmediate(r));
    assert.equal(p.destroyed, true);
    // Added back: pooled again.
    tlc.prioritySet.updateHosts(0, [h1, h2], [h1], []);
    assert.equal(tlc.httpConnPool(h1, 'http1'), tlc.httpConnPool(h1, 'http1'));
    assert.equal(tlc.poolCount(), 1);
    cm.shutdown();
  });

  test('a removed cluster\'s stats are deleted once its pools are gone, unless it is back', () => {
    const store = new StatsStore();
    const pools = fakePoolFactory();
    const cm = new ClusterManagerImpl({
      statsScope: store.rootScope,
      connPoolFactory: pools.factory,
      releaseStats: (prefix, keep) => store.deleteScope(prefix, keep),
    });
    cm.addOrUpdateCluster(clusterFromYaml(staticCluster('s', ['10.0.0.1'])));
    cm.addOrUpdateCluster(clusterFromYaml(staticCluster('s.x', ['10.0.0.1'])));
    const tlc = cm.getThreadLocalCluster('s')!;
    tlc.httpConnPool(tlc.prioritySet.hostSetsPerPriority[0].hosts[0], 'http1');
    pools.pools[0].startStream();
    cm.removeCluster('s');
    assert.ok(store.counters.has('cluster.s.upstream_rq_total'), 'kept while a stream runs');
    pools.pools[0].finishStream();
    assert.equal(store.counters.has('cluster.s.upstream_rq_total'), false);
    assert.ok(store.counters.has('cluster.s.x.upstream_rq_total'));
    // Removed while draining, then added back before the drain ends: the stats stay.
    cm.addOrUpdateCluster(clusterFromYaml(staticCluster('t', ['10.0.0.1'])));
    const t = cm.getThreadLocalCluster('t')!;
    t.httpConnPool(t.prioritySet.hostSetsPerPriority[0].hosts[0], 'http1');
    pools.pools[1].startStream();
    cm.removeCluster('t');
    cm.addOrUpdateCluster(clusterFromYaml(staticCluster('t', ['10.0.0.2'])));
    pools.pools[1].finishStream();
    assert.ok(store.counters.has('cluster.t.upstream_rq_total'));
    cm.shutdown();
  });
});

describe('start-up order (ClusterManagerInitHelper)', () => {
  test('EDS clusters start after the primary (DNS) clusters are warm; initialized() after both', async () => {
    let answer: ((r: DnsResolution) => void) | undefined;
    const slow: DnsResolver = { resolve: () => new Promise<DnsResolution>((r) => { answer = r; }), close: () => {} };
    const store = new StatsStore();
    const xds = new InMemorySubscriptionFactory();
    const cm = new ClusterManagerImpl({
      statsScope: store.rootScope,
      connPoolFactory: fakePoolFactory().factory,
      dnsResolverFactory: () => slow,
      subscriptionFactory: xds,
    });
    let done = false;
    void cm.initialized().then(() => { done = true; });
    cm.initializeStaticClusters([
      clusterFromYaml(`
name: eds
type: EDS
eds_cluster_config: { eds_config: { ads: {} } }
`),
      clusterFromYaml(`
name: xds
type: STRICT_DNS
load_assignment:
  cluster_name: xds
  endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: cp.test, port_value: 18000 } } } }] }]
`),
    ]);
    assert.equal(xds.subscriptions.length, 1, 'the EDS subscription exists');
    assert.equal(xds.subscriptions[0].started, false, 'but waits for the primary clusters');
    assert.ok(answer);
    answer({ status: 'completed', answers: [{ address: '127.0.0.9', ttlSeconds: 30 }] });
    await new Promise((r) => setImmediate(r));
    assert.equal(xds.subscriptions[0].started, true);
    assert.equal(done, false);
    xds.push(TypeUrl.ClusterLoadAssignment, [{ name: 'eds', version: '1', resource: messageFromYaml<ClusterLoadAssignment>('envoy.config.endpoint.v3.ClusterLoadAssignment', 'cluster_name: eds') }]);
    await new Promise((r) => setImmediate(r));
    assert.equal(done, true);
    cm.shutdown();
  });

  test('with no clusters, initialized() resolves at once', async () => {
    const { cm } = setup();
    cm.initializeStaticClusters([]);
    await cm.initialized();
  });
});
