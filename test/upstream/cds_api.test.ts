/**
 * CDS through the real data path: clusters pushed through the in-memory xDS
 * transport into createClusterManager()'s cluster manager, and real requests
 * through a listener, HCM, router and pools to real upstreams on 127.0.0.1.
 * Covers add / update / remove with requests in flight, warming, TLS
 * transport sockets of CDS clusters, config_dump data, stats, and the bad
 * input CDS must NACK while the last good config keeps serving.
 */
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { ConfigError } from '../../src/config/config_error.js';
import { ConfigUpdateFailureReason, TypeUrl } from '../../src/envoy/config/subscription.js';
import { testCerts } from '../support/certs.js';
import {
  assignment,
  clusterMsg,
  edsClusterMsg,
  startNamedUpstream,
  startProxy,
  staticClusterMsg,
  type NamedUpstream,
  type TestProxy,
} from '../support/xds_proxy.js';
import { eventually } from './helpers.js';

describe('CDS: clusters added, updated and removed at runtime', () => {
  let a: NamedUpstream;
  let b: NamedUpstream;
  let proxy: TestProxy | null = null;

  before(async () => {
    a = await startNamedUpstream('a');
    b = await startNamedUpstream('b');
  });
  after(async () => {
    await a.close();
    await b.close();
  });
  afterEach(() => {
    a.release();
    b.release();
    proxy?.close();
    proxy = null;
  });

  async function start(clusters = ''): Promise<TestProxy> {
    proxy = await startProxy({ clusters, cds: true });
    return proxy;
  }

  test('the CDS API subscribes (wildcard) to Cluster with the cluster_manager.cds. scope once the static clusters are warm', async () => {
    const p = await startProxy({ cds: true });
    proxy = p;
    const [sub] = p.xds.active(TypeUrl.Cluster);
    assert.ok(sub, 'CDS subscription started');
    assert.deepEqual(sub.names, [], 'wildcard');
    assert.equal(sub.scope.prefix, 'cluster_manager.cds.');
    assert.equal(sub.path, 'dynamic_resources.cds_config');
    assert.equal(sub.configSource.configSourceSpecifier.case, 'ads');
  });

  test('initialized() waits for the first CDS update and the clusters it adds', async () => {
    const p = await startProxy({ cds: true });
    proxy = p;
    let done = false;
    void p.cm.initialized().then(() => { done = true; });
    await new Promise((r) => setImmediate(r));
    assert.equal(done, false, 'waiting for CDS');
    assert.deepEqual(p.pushClusters([edsClusterMsg('e1')]), []);
    await new Promise((r) => setImmediate(r));
    assert.equal(done, false, 'waiting for the EDS cluster CDS added');
    assert.deepEqual(p.pushAssignments([assignment('e1', [a.port])]), []);
    await eventually(() => done);
    assert.equal((await p.get('e1')).upstream, 'a');
  });

  test('a CDS failure (FetchTimedout) ends the wait for CDS', async () => {
    const p = await startProxy({ cds: true });
    proxy = p;
    let done = false;
    void p.cm.initialized().then(() => { done = true; });
    p.xds.fail(TypeUrl.Cluster, ConfigUpdateFailureReason.ConnectionFailure);
    await new Promise((r) => setImmediate(r));
    assert.equal(done, false, 'a lost connection is retried, not the end of the wait');
    p.xds.fail(TypeUrl.Cluster, ConfigUpdateFailureReason.FetchTimedout);
    await eventually(() => done);
  });

  test('a cluster added by CDS takes requests; stats and the version follow', async () => {
    const p = await start();
    assert.equal((await p.get('dyn')).status, 503, 'unknown before CDS adds it');
    assert.equal(p.stat('http.ingress_http.no_cluster'), 1);
    assert.deepEqual(p.pushClusters([staticClusterMsg('dyn', [a.port])], [], 'v1'), []);
    const r = await p.get('dyn', '/x');
    assert.equal(r.status, 200);
    assert.equal(r.upstream, 'a');
    assert.equal(p.stat('cluster_manager.cluster_added'), 1);
    assert.equal(p.stat('cluster_manager.active_clusters'), 1);
    assert.equal(p.stat('cluster_manager.warming_clusters'), 0);
    assert.equal(p.stat('cluster.dyn.upstream_rq_total'), 1);
    const dump = p.cm.clustersConfigDump();
    assert.equal(dump.versionInfo, 'v1');
    assert.equal(dump.dynamicActiveClusters.length, 1);
    assert.equal(dump.dynamicActiveClusters[0].cluster.name, 'dyn');
    assert.equal(dump.dynamicActiveClusters[0].versionInfo, 'v1');
    assert.ok(Math.abs(dump.dynamicActiveClusters[0].lastUpdatedMs - Date.now()) < 60_000);
    // The same config again changes nothing (compared by content), and keeps the version it came with.
    assert.deepEqual(p.pushClusters([staticClusterMsg('dyn', [a.port])], [], 'v2'), []);
    assert.equal(p.stat('cluster_manager.cluster_modified'), 0);
    assert.equal(p.cm.clustersConfigDump().dynamicActiveClusters[0].versionInfo, 'v1');
    assert.equal(p.cm.clustersConfigDump().versionInfo, 'v1', 'nothing applied: the CDS version stays');
  });

  test('an update sends new requests to the new host while a request in flight finishes on the old one, whose pool then closes', async () => {
    const p = await start();
    p.pushClusters([staticClusterMsg('dyn', [a.port])], [], 'v1');
    const oldTlc = p.cm.getThreadLocalCluster('dyn');
    const slow = p.get('dyn', '/hold');
    await a.held(1);
    assert.equal(a.openConnections, 1);
    assert.deepEqual(p.pushClusters([staticClusterMsg('dyn', [b.port])], [], 'v2'), []);
    assert.notEqual(p.cm.getThreadLocalCluster('dyn'), oldTlc, 'a new cluster object serves');
    const fresh = await p.get('dyn', '/after');
    assert.equal(fresh.status, 200);
    assert.equal(fresh.upstream, 'b');
    assert.equal(a.openConnections, 1, 'the busy connection to the old host stays');
    a.release();
    const r = await slow;
    assert.equal(r.status, 200);
    assert.equal(r.upstream, 'a');
    await eventually(() => a.openConnections === 0);
    assert.equal(oldTlc?.poolCount(), 0);
    assert.equal(p.stat('cluster_manager.cluster_modified'), 1);
    assert.equal(p.stat('cluster_manager.active_clusters'), 1);
    assert.equal(p.stat('cluster.dyn.upstream_rq_total'), 2, 'both versions count under one cluster.dyn. scope');
  });

  test('removal: the request in flight finishes, the pool closes after it, new requests get 503 (no cluster), stats go after the drain', async () => {
    const p = await start();
    p.pushClusters([staticClusterMsg('gone', [a.port]), staticClusterMsg('gone.child', [b.port])], [], 'v1');
    assert.equal((await p.get('gone.child')).upstream, 'b');
    const slow = p.get('gone', '/hold');
    await a.held(1);
    assert.deepEqual(p.pushClusters([], ['gone'], 'v2'), []);
    const after = await p.get('gone');
    assert.equal(after.status, 503);
    assert.equal(p.stat('http.ingress_http.no_cluster'), 1);
    assert.equal(p.stat('cluster_manager.cluster_removed'), 1);
    assert.equal(p.stat('cluster_manager.active_clusters'), 1);
    assert.equal(p.stat('cluster.gone.upstream_rq_active'), 1, 'its stats are readable while a request still uses it');
    a.release();
    const r = await slow;
    assert.equal(r.status, 200);
    assert.equal(r.upstream, 'a');
    await eventually(() => a.openConnections === 0);
    await eventually(() => p.stat('cluster.gone.upstream_rq_total') === undefined);
    assert.equal(p.stat('cluster.gone.child.upstream_rq_total'), 1, 'a cluster whose name extends it keeps its stats');
    assert.equal(p.cm.clustersConfigDump().versionInfo, 'v2');
    // Removing it again, or a name never added, is not a change.
    assert.deepEqual(p.pushClusters([], ['gone', 'never'], 'v3'), []);
    assert.equal(p.cm.clustersConfigDump().versionInfo, 'v2');
    assert.equal(p.stat('cluster_manager.cluster_removed'), 1);
  });

  test('a cluster removed and added again gets fresh stats and serves', async () => {
    const p = await start();
    p.pushClusters([staticClusterMsg('again', [a.port])]);
    await p.get('again');
    p.pushClusters([], ['again']);
    await eventually(() => p.stat('cluster.again.upstream_rq_total') === undefined);
    p.pushClusters([staticClusterMsg('again', [b.port])]);
    const r = await p.get('again');
    assert.equal(r.upstream, 'b');
    assert.equal(p.stat('cluster.again.upstream_rq_total'), 1);
  });

  test('warming: a new EDS cluster is not routable until its assignment; an update keeps the old version serving until the new one is warm', async () => {
    const p = await start();
    p.pushClusters([staticClusterMsg('w', [a.port])], [], 'v1');
    assert.equal((await p.get('w')).upstream, 'a');
    // Replace it by an EDS version: warming, the STATIC version keeps serving.
    assert.deepEqual(p.pushClusters([edsClusterMsg('w')], [], 'v2'), []);
    assert.equal(p.stat('cluster_manager.warming_clusters'), 1);
    assert.equal(p.stat('cluster_manager.active_clusters'), 1);
    assert.deepEqual(p.cm.warmingClusterNames(), ['w']);
    const dump = p.cm.clustersConfigDump();
    assert.equal(dump.dynamicWarmingClusters[0].versionInfo, 'v2');
    assert.equal(dump.dynamicActiveClusters[0].versionInfo, 'v1');
    assert.equal((await p.get('w')).upstream, 'a', 'old version serves while the new one warms');
    // A brand new EDS cluster: not routable at all while warming.
    p.pushClusters([staticClusterMsg('w', [a.port]), edsClusterMsg('fresh')], [], 'v3');
    assert.equal((await p.get('fresh')).status, 503);
    const e = p.xds.active(TypeUrl.ClusterLoadAssignment, 'fresh')[0];
    assert.ok(e, 'the warming cluster subscribed to its assignment');
    assert.deepEqual(p.pushAssignments([assignment('fresh', [b.port])]), []);
    assert.equal((await p.get('fresh')).upstream, 'b');
    assert.equal(p.stat('cluster_manager.warming_clusters'), 0);
  });

  test('the EDS version of an updated cluster takes over once its assignment arrives', async () => {
    const p = await start();
    p.pushClusters([staticClusterMsg('sw', [a.port])], [], 'v1');
    p.pushClusters([edsClusterMsg('sw')], [], 'v2');
    assert.equal((await p.get('sw')).upstream, 'a');
    p.pushAssignments([assignment('sw', [b.port])]);
    assert.equal((await p.get('sw')).upstream, 'b');
    assert.equal(p.stat('cluster_manager.warming_clusters'), 0);
    assert.equal(p.stat('cluster_manager.active_clusters'), 1);
    assert.equal(p.cm.clustersConfigDump().dynamicActiveClusters[0].versionInfo, 'v2');
    await eventually(() => a.openConnections === 0);
  });

  describe('bad input', () => {
    test('an invalid cluster is rejected naming the cluster and field; valid siblings are applied; its last good version keeps serving', async () => {
      const p = await start();
      p.pushClusters([staticClusterMsg('bad', [a.port])], [], 'v1');
      const errors = p.pushClusters([
        staticClusterMsg('ok1', [a.port]),
        staticClusterMsg('bad', [b.port], 'connect_timeout: -1s'),
        staticClusterMsg('worse', [b.port], 'lb_policy: CLUSTER_PROVIDED'),
        staticClusterMsg('ok2', [b.port]),
      ], [], 'v2');
      assert.equal(errors.length, 1);
      const err = errors[0];
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /^Error adding\/updating cluster\(s\) bad: clusters\["bad"\]\.connect_timeout: /);
      assert.match(err.message, /, worse: clusters\["worse"\]\.lb_policy: /);
      assert.equal((await p.get('ok1')).upstream, 'a');
      assert.equal((await p.get('ok2')).upstream, 'b');
      assert.equal((await p.get('bad')).upstream, 'a', 'last good version of bad keeps serving');
      assert.equal((await p.get('worse')).status, 503);
      assert.equal(p.stat('cluster_manager.cluster_added'), 3, 'bad v1, ok1, ok2');
      assert.equal(p.stat('cluster_manager.cluster_modified'), 0);
      assert.equal(p.cm.clustersConfigDump().versionInfo, 'v2', 'valid clusters were applied (as Envoy)');
    });

    test('a cluster without a name is rejected (PGV) with its path', async () => {
      const p = await start();
      const errors = p.pushClusters([clusterMsg('{ name: "", type: STATIC }')]);
      assert.equal(errors.length, 1);
      assert.match(errors[0].message, /clusters\[""\]\.name: /);
    });

    test('duplicate names in one update: the first is applied, the update is rejected', async () => {
      const p = await start();
      const errors = p.pushClusters([staticClusterMsg('twice', [a.port]), staticClusterMsg('twice', [b.port])]);
      assert.equal(errors.length, 1);
      assert.match(errors[0].message, /twice: duplicate cluster twice found/);
      assert.equal((await p.get('twice')).upstream, 'a');
    });

    test('a bootstrap (static) cluster cannot be changed or removed by CDS: skipped, as Envoy does', async () => {
      const p = await start(`
  - name: boot
    type: STATIC
    load_assignment: { cluster_name: boot, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${a.port} } } } }] }] }
`);
      assert.deepEqual(p.pushClusters([staticClusterMsg('boot', [b.port])], ['boot']), []);
      assert.equal((await p.get('boot')).upstream, 'a');
      assert.equal(p.stat('cluster_manager.cluster_modified'), 0);
      assert.equal(p.stat('cluster_manager.cluster_removed'), 0);
      const dump = p.cm.clustersConfigDump();
      assert.deepEqual(dump.staticClusters.map((c) => c.cluster.name), ['boot']);
      assert.equal(dump.dynamicActiveClusters.length, 0);
    });

    test('an EDS cluster whose eds_config is missing is rejected', async () => {
      const p = await start();
      const errors = p.pushClusters([clusterMsg('{ name: noeds, type: EDS }')]);
      assert.equal(errors.length, 1);
      assert.match(errors[0].message, /noeds: clusters\["noeds"\]\.eds_cluster_config: cannot create an EDS cluster without an EDS config/);
    });
  });
});

describe('CDS clusters with TLS', () => {
  const c = testCerts();
  let server: https.Server;
  let port = 0;
  const snis: string[] = [];
  let proxy: TestProxy | null = null;

  before(async () => {
    const cert = c.issue('cds-backend', { dns: ['cds.backend.test'] });
    server = https.createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
      snis.push(String((req.socket as import('node:tls').TLSSocket).servername));
      res.setHeader('x-upstream', 'tls');
      res.end('secure');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(() => {
    proxy?.close();
    server.closeAllConnections();
    server.close();
  });

  function tlsCluster(name: string, sni: string, ca: string): ReturnType<typeof clusterMsg> {
    return staticClusterMsg(name, [port], `transport_socket:
  name: envoy.transport_sockets.tls
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
    sni: ${sni}
    common_tls_context: { validation_context: { trusted_ca: { filename: "${ca}" } } }`);
  }

  test('each CDS cluster gets its own transport socket; a bad one is rejected at the transport_socket field', async () => {
    proxy = await startProxy({ cds: true });
    assert.deepEqual(proxy.pushClusters([tlsCluster('tls1', 'one.test', c.ca.cert), tlsCluster('tls2', 'two.test', c.ca.cert)]), []);
    assert.equal((await proxy.get('tls1')).body, 'secure');
    assert.equal((await proxy.get('tls2')).body, 'secure');
    assert.deepEqual(snis, ['one.test', 'two.test']);
    // An update changes the SNI: the new version has its own socket factory.
    proxy.pushClusters([tlsCluster('tls1', 'three.test', c.ca.cert), tlsCluster('tls2', 'two.test', c.ca.cert)]);
    assert.equal((await proxy.get('tls1')).body, 'secure');
    assert.equal(snis.at(-1), 'three.test');
    const errors = proxy.pushClusters([tlsCluster('tls2', 'two.test', '/nonexistent/ca.pem')]);
    assert.equal(errors.length, 1);
    assert.match(errors[0].message, /tls2: clusters\["tls2"\]\.transport_socket/);
    assert.equal((await proxy.get('tls2')).body, 'secure', 'last good version keeps serving');
  });
});
