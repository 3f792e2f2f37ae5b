/**
 * EDS clusters through the real data path: assignments pushed through the
 * in-memory xDS transport, real requests through listener, HCM, router and
 * pools to real upstreams on 127.0.0.1. Covers warming (first assignment,
 * initial_fetch_timeout, failures), host replacement keeping the hosts (and
 * connections) that stay, draining the ones that go, health_status,
 * priorities and weights, membership stats, and rejected assignments.
 */
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigUpdateFailureReason, TypeUrl } from '../../src/envoy/config/subscription.js';
import type { HostImpl } from '../../src/upstream/host_impl.js';
import {
  assignment,
  claMsg,
  edsClusterMsg,
  edsClusterYaml,
  startNamedUpstream,
  startProxy,
  type NamedUpstream,
  type TestProxy,
} from '../support/xds_proxy.js';
import { eventually } from './helpers.js';

/** edsClusterYaml() as a static_resources.clusters list item. */
function staticEds(name: string, o: Parameters<typeof edsClusterYaml>[1] = {}): string {
  return edsClusterYaml(name, o).trim().split('\n').map((l, i) => (i === 0 ? `  - ${l}` : `    ${l}`)).join('\n');
}

describe('EDS clusters', () => {
  const ups: NamedUpstream[] = [];
  let a: NamedUpstream;
  let b: NamedUpstream;
  let c: NamedUpstream;
  let proxy: TestProxy | null = null;

  before(async () => {
    for (const n of ['a', 'b', 'c']) ups.push(await startNamedUpstream(n));
    [a, b, c] = ups;
  });
  after(async () => {
    for (const u of ups) await u.close();
  });
  afterEach(() => {
    for (const u of ups) u.release();
    proxy?.close();
    proxy = null;
  });

  async function start(clusters: string): Promise<TestProxy> {
    proxy = await startProxy({ clusters });
    return proxy;
  }

  test('a static EDS cluster subscribes to its service_name with scope cluster.<name>., and warms on its first assignment', async () => {
    const p = await start(staticEds('svc', { serviceName: 'svc-eds' }));
    let initialized = false;
    void p.cm.initialized().then(() => { initialized = true; });
    const [sub] = p.xds.active(TypeUrl.ClusterLoadAssignment);
    assert.ok(sub);
    assert.deepEqual(sub.names, ['svc-eds']);
    assert.equal(sub.scope.prefix, 'cluster.svc.');
    assert.equal(sub.path, 'static_resources.clusters[0].eds_cluster_config.eds_config');
    assert.deepEqual(p.cm.clusterNames(), ['svc'], 'known (static) while warming');
    assert.equal((await p.get('svc')).status, 503, 'not routable before its first assignment');
    assert.equal(initialized, false, 'the server waits for static EDS clusters');
    assert.deepEqual(p.cm.initializingClusterNames(), ['svc']);
    assert.deepEqual(p.pushAssignments([assignment('svc-eds', [a.port])]), []);
    await eventually(() => initialized);
    const r = await p.get('svc');
    assert.equal(r.status, 200);
    assert.equal(r.upstream, 'a');
    assert.equal(p.stat('cluster.svc.membership_total'), 1);
    assert.equal(p.stat('cluster.svc.membership_healthy'), 1);
    assert.equal(p.stat('cluster_manager.cluster_updated'), 1);
  });

  test('initial_fetch_timeout: with no assignment the cluster becomes active and empty (503, upstream_cx_none_healthy)', async () => {
    const p = await start(staticEds('late', { initialFetchTimeout: '0.2s' }));
    let initialized = false;
    void p.cm.initialized().then(() => { initialized = true; });
    assert.equal((await p.get('late')).status, 503);
    assert.equal(p.stat('cluster.late.upstream_cx_none_healthy'), 0, 'not routed at all while warming');
    await eventually(() => initialized);
    assert.equal((await p.get('late')).status, 503);
    assert.equal(p.stat('cluster.late.upstream_cx_none_healthy'), 1, 'routed now, but no host (UH)');
    // A late assignment still fills it.
    p.pushAssignments([assignment('late', [b.port])]);
    assert.equal((await p.get('late')).upstream, 'b');
  });

  test('initial_fetch_timeout 0 waits for the assignment; a FetchTimedout from the transport ends the wait, a lost connection does not', async () => {
    const p = await start(`${staticEds('never', { initialFetchTimeout: '0s' })}\n${staticEds('other', { initialFetchTimeout: '0s' })}`);
    let initialized = false;
    void p.cm.initialized().then(() => { initialized = true; });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(initialized, false);
    p.xds.fail(TypeUrl.ClusterLoadAssignment, ConfigUpdateFailureReason.ConnectionFailure);
    await new Promise((r) => setImmediate(r));
    assert.equal(initialized, false);
    assert.equal((await p.get('never')).status, 503);
    assert.equal(p.stat('cluster.never.upstream_cx_none_healthy'), 0);
    p.xds.fail(TypeUrl.ClusterLoadAssignment, ConfigUpdateFailureReason.FetchTimedout);
    await eventually(() => initialized);
    assert.equal((await p.get('never')).status, 503);
    assert.equal(p.stat('cluster.never.upstream_cx_none_healthy'), 1);
  });

  test('an assignment replaces the hosts: a kept host is the same Host (weight updated in place), a removed host finishes its request in flight and its connection closes after', async () => {
    const p = await start(staticEds('rep'));
    p.pushAssignments([assignment('rep', [a.port, b.port])]);
    const tlc = p.cm.getThreadLocalCluster('rep');
    assert.ok(tlc);
    const hostA = tlc.prioritySet.hostSetsPerPriority[0].hosts.find((h) => h.port === a.port);
    // Round robin over a and b: two held requests, one on each.
    const slow = [p.get('rep', '/hold'), p.get('rep', '/hold')];
    await a.held(1);
    await b.held(1);
    p.pushAssignments([assignment('rep', [{ port: a.port, extra: 'load_balancing_weight: 3' }, c.port])]);
    assert.equal(p.cm.getThreadLocalCluster('rep'), tlc, 'an assignment does not replace the cluster');
    const hostsNow = tlc.prioritySet.hostSetsPerPriority[0].hosts;
    assert.ok(hostA !== undefined && hostsNow.includes(hostA), 'the kept endpoint is the same Host object');
    assert.equal(hostA.weight, 3);
    assert.equal(hostA.stats.rq_active, 1, 'with its stats');
    assert.equal(p.stat('cluster.rep.membership_total'), 2);
    assert.equal(p.stat('cluster.rep.max_host_weight'), 3);
    assert.equal(p.stat('cluster.rep.membership_change'), 2);
    const seen = new Map<string, number>();
    for (let i = 0; i < 8; i++) {
      const r = await p.get('rep');
      seen.set(r.upstream, (seen.get(r.upstream) ?? 0) + 1);
    }
    assert.deepEqual([...seen.keys()].sort(), ['a', 'c'], 'b gets no new request');
    assert.equal(seen.get('a'), 6, 'weights 3:1');
    assert.equal(b.openConnections, 1, 'the removed host still serves its request in flight');
    b.release();
    a.release();
    for (const r of await Promise.all(slow)) assert.equal(r.status, 200);
    await eventually(() => b.openConnections === 0);
    assert.ok(a.openConnections > 0, 'connections to the kept host stay open');
  });

  test('the kept host\'s connection is reused and the removed host\'s idle connection closes at once', async () => {
    const p = await start(staticEds('keep'));
    p.pushAssignments([assignment('keep', [a.port])]);
    const r1 = await p.get('keep');
    p.pushAssignments([assignment('keep', [a.port, b.port])]);
    const rs = [await p.get('keep'), await p.get('keep')];
    const again = rs.find((r) => r.upstream === 'a');
    assert.ok(again);
    assert.equal(again.conn, r1.conn, 'same upstream connection to a');
    assert.equal(b.openConnections, 1);
    p.pushAssignments([assignment('keep', [a.port])]);
    await eventually(() => b.openConnections === 0);
    assert.equal((await p.get('keep')).conn, r1.conn);
    assert.equal(p.stat('cluster.keep.upstream_cx_total'), 2, 'one connection to a for all of it, one to b');
  });

  test('health_status UNHEALTHY, DRAINING and TIMEOUT hosts get no traffic; DEGRADED only when nothing healthy is left', async () => {
    const p = await start(staticEds('health'));
    p.pushAssignments([assignment('health', [
      a.port,
      { port: b.port, extra: 'health_status: UNHEALTHY' },
      { port: c.port, extra: 'health_status: DRAINING' },
    ])]);
    for (let i = 0; i < 6; i++) assert.equal((await p.get('health')).upstream, 'a');
    assert.equal(p.stat('cluster.health.membership_total'), 3);
    assert.equal(p.stat('cluster.health.membership_healthy'), 1);
    assert.equal(p.stat('cluster.health.membership_excluded'), 1, 'DRAINING is excluded');
    // a turns TIMEOUT, b healthy: the kept hosts change health in place.
    p.pushAssignments([assignment('health', [{ port: a.port, extra: 'health_status: TIMEOUT' }, b.port])]);
    for (let i = 0; i < 6; i++) assert.equal((await p.get('health')).upstream, 'b');
    assert.equal(p.stat('cluster.health.membership_healthy'), 1);
    assert.equal(p.stat('cluster.health.membership_total'), 2);
  });

  test('priorities: P0 serves while healthy; with P0 unhealthy traffic fails over to P1; a P0 host moved to P1 keeps its connection', async () => {
    const p = await start(staticEds('prio'));
    const two = (p0: string, p1: string) => claMsg(`
cluster_name: prio
endpoints:
- priority: 0
  lb_endpoints:
  - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${a.port} } } }
    ${p0}
- priority: 1
  lb_endpoints:
  - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${b.port} } } }
    ${p1}
`);
    p.pushAssignments([two('', '')]);
    const r0 = await p.get('prio');
    assert.equal(r0.upstream, 'a');
    p.pushAssignments([two('health_status: UNHEALTHY', '')]);
    for (let i = 0; i < 4; i++) assert.equal((await p.get('prio')).upstream, 'b');
    // a moves to P1 next to b (healthy again), nothing in P0: a's Host and connection are kept.
    const tlc = p.cm.getThreadLocalCluster('prio')!;
    const hostA = tlc.prioritySet.hostSetsPerPriority[0].hosts[0] as HostImpl;
    p.pushAssignments([claMsg(`
cluster_name: prio
endpoints:
- priority: 1
  lb_endpoints:
  - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${a.port} } } }
  - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${b.port} } } }
`)]);
    assert.equal(tlc.prioritySet.hostSetsPerPriority[0].hosts.length, 0);
    assert.ok(tlc.prioritySet.hostSetsPerPriority[1].hosts.includes(hostA));
    assert.equal(hostA.priority, 1);
    const rs = [await p.get('prio'), await p.get('prio')];
    const toA = rs.find((r) => r.upstream === 'a');
    assert.ok(toA);
    assert.equal(toA.conn, r0.conn, 'same connection after the move');
  });

  test('an invalid assignment is rejected naming the field, and the old hosts keep serving', async () => {
    const p = await start(staticEds('strict'));
    p.pushAssignments([assignment('strict', [a.port])]);
    const bad = (yaml: string) => p.pushAssignments([claMsg(yaml)]);
    let errors = bad(`
cluster_name: strict
endpoints:
- lb_endpoints:
  - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${b.port} } } }
  - endpoint: { address: { socket_address: { address: backend.example, port_value: 80 } } }
`);
    assert.equal(errors.length, 1);
    assert.match(errors[0].message, /^cluster_load_assignment\["strict"\]\.endpoints\[0\]\.lb_endpoints\[1\]\.endpoint\.address\.socket_address\.address: malformed IP address: backend\.example/);
    errors = bad(`
cluster_name: strict
endpoints:
- lb_endpoints:
  - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${b.port} } } }
    load_balancing_weight: 0
`);
    assert.match(errors[0].message, /lb_endpoints\[0\]\.load_balancing_weight: must be at least 1/);
    errors = bad(`
cluster_name: strict
policy: { overprovisioning_factor: 0 }
endpoints: []
`);
    assert.match(errors[0].message, /policy\.overprovisioning_factor: must be greater than 0/);
    errors = bad(`
cluster_name: strict
policy: { drop_overloads: [{ category: x, drop_percentage: { numerator: 10 } }] }
`);
    assert.match(errors[0].message, /policy\.drop_overloads: drop_overloads is not supported yet/);
    // The transport delivers by name; a payload naming another cluster is refused (Envoy's check).
    const sub = p.xds.active(TypeUrl.ClusterLoadAssignment, 'strict')[0];
    assert.throws(
      () => sub.callbacks.onConfigUpdate({ added: [{ name: 'strict', version: '9', resource: assignment('other', [b.port]) }], removed: [], versionInfo: '9' }),
      /cluster_name: Unexpected EDS cluster \(expecting strict\): other/,
    );
    for (let i = 0; i < 3; i++) assert.equal((await p.get('strict')).upstream, 'a');
    assert.equal(p.stat('cluster.strict.membership_total'), 1);
  });

  test('a rejected first assignment ends warming (active, empty), as Envoy', async () => {
    const p = await start(staticEds('firstbad'));
    let initialized = false;
    void p.cm.initialized().then(() => { initialized = true; });
    const errors = p.pushAssignments([claMsg(`
cluster_name: firstbad
endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: nope, port_value: 1 } } } }] }]
`)]);
    assert.equal(errors.length, 1);
    await eventually(() => initialized);
    assert.equal((await p.get('firstbad')).status, 503);
    assert.equal(p.stat('cluster.firstbad.upstream_cx_none_healthy'), 1);
  });

  test('an update without our assignment, or with it removed, keeps the hosts (update_empty), as Envoy', async () => {
    const p = await start(staticEds('stay'));
    p.pushAssignments([assignment('stay', [a.port])]);
    const sub = p.xds.active(TypeUrl.ClusterLoadAssignment, 'stay')[0];
    sub.callbacks.onConfigUpdate({ added: [], removed: [], versionInfo: '2' });
    assert.deepEqual(p.pushAssignments([], ['stay'], '3'), []);
    assert.equal(p.stat('cluster.stay.update_empty'), 2);
    assert.equal((await p.get('stay')).upstream, 'a');
  });

  test('an unchanged assignment rebuilds nothing (update_no_rebuild); host updates count cluster_updated', async () => {
    const p = await start(staticEds('same'));
    p.pushAssignments([assignment('same', [a.port, b.port])]);
    const updated = p.stat('cluster_manager.cluster_updated')!;
    p.pushAssignments([assignment('same', [a.port, b.port])], [], '2');
    assert.equal(p.stat('cluster.same.update_no_rebuild'), 1);
    assert.equal(p.stat('cluster_manager.cluster_updated'), updated);
    assert.equal(p.stat('cluster.same.membership_change'), 1);
    p.pushAssignments([assignment('same', [b.port])], [], '3');
    assert.equal(p.stat('cluster_manager.cluster_updated'), updated + 1);
    assert.equal(p.stat('cluster.same.membership_change'), 2);
  });

  test('endpoint_stale_after drops the hosts when no new assignment comes in time', async () => {
    const p = await start(staticEds('stale'));
    p.pushAssignments([assignment('stale', [a.port], 'policy: { endpoint_stale_after: 0.1s }')]);
    assert.equal((await p.get('stale')).upstream, 'a');
    assert.equal(p.stat('cluster.stale.assignment_timeout_received'), 1);
    await eventually(() => p.stat('cluster.stale.assignment_stale') === 1);
    assert.equal((await p.get('stale')).status, 503);
    assert.equal(p.stat('cluster.stale.membership_total'), 0);
  });

  test('without an xDS transport an EDS cluster is a config error', async () => {
    const { ClusterManagerImpl } = await import('../../src/upstream/cluster_manager_impl.js');
    const { StatsStore } = await import('../../src/stats/stats_impl.js');
    const cm = new ClusterManagerImpl({ statsScope: new StatsStore().rootScope, connPoolFactory: () => { throw new Error('unused'); } });
    assert.throws(
      () => cm.initializeStaticClusters([edsClusterMsg('x')]),
      /static_resources\.clusters\[0\]\.eds_cluster_config\.eds_config: EDS needs an xDS config source, and no xDS transport is configured/,
    );
  });

  test('a removed CDS EDS cluster stops its subscription', async () => {
    proxy = await startProxy({ cds: true });
    const p = proxy;
    p.pushClusters([edsClusterMsg('tmp')]);
    assert.equal(p.xds.active(TypeUrl.ClusterLoadAssignment, 'tmp').length, 1);
    p.pushClusters([], ['tmp']);
    assert.equal(p.xds.active(TypeUrl.ClusterLoadAssignment, 'tmp').length, 0);
    assert.equal(p.stat('cluster_manager.warming_clusters'), 0);
  });
});
