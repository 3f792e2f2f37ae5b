/**
 * The xDS protocol as Legate's control plane speaks it, checked with a raw
 * grpc-js client on the exported service definitions: SotW versions, nonces,
 * ACK, NACK (recorded, not re-pushed), stale nonces, wildcard and
 * unsubscription by empty names, push order, per-type services and Fetch;
 * delta subscribe / unsubscribe / removed_resources / initial versions; the
 * consistency check and per-node snapshots.
 */
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { mkdirSync } from 'node:fs';
import type { ClusterLoadAssignment } from '../../src/generated/envoy/config/endpoint/v3/endpoint_pb.js';
import { setLogSink } from '../../src/common/logger.js';
import { ControlPlane } from '../../src/control_plane/control_plane.js';
import {
  CLUSTER_DISCOVERY_SERVICE,
  LISTENER_DISCOVERY_SERVICE,
} from '../../src/control_plane/discovery_service.js';
import { TypeUrl } from '../../src/control_plane/resource_types.js';
import { apiListenerYaml, claYaml, edsClusterYaml, routeYaml, tempResourceDir, writeEchoService, writeResource } from './xds_fixtures.js';
import { deltaRequest, namesOf, sotwRequest, unpack, XdsTestClient } from './xds_test_client.js';

const QUIET_MS = 300;

describe('xDS protocol (raw client)', () => {
  let dir: string;
  let cp: ControlPlane;
  let client: XdsTestClient;
  let logs: string[];

  before(() => {
    setLogSink((line) => logs.push(line));
  });
  after(() => {
    setLogSink((line) => process.stderr.write(line));
  });

  beforeEach(async () => {
    logs = [];
    dir = tempResourceDir();
    writeEchoService(dir, [1001]);
    writeResource(dir, 'other.yaml', `- ${edsClusterYaml('other-cluster').replace(/\n(?=.)/g, '\n  ')}- ${claYaml('other-cluster', [2001]).replace(/\n(?=.)/g, '\n  ')}`);
    cp = new ControlPlane({ dir, port: 0, adminPort: 0, directoryOptions: { scanIntervalMs: 0, watch: false } });
    await cp.start();
    client = new XdsTestClient(cp.xdsPort);
  });

  afterEach(async () => {
    client.close();
    await cp.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Applies the files written so far (what the watcher does after its debounce; the CLI tests cover the watcher). */
  function reload(): void {
    const r = cp.directory!.reload();
    if (r instanceof Error) throw r;
  }

  it('SotW: versions and nonces, ACK without response, push on change only, NACK recorded and not re-pushed', async () => {
    const s = client.ads();
    s.send(sotwRequest({ typeUrl: TypeUrl.Listener, names: ['echo-svc'], nodeId: 'n1', nodeCluster: 'c1' }));
    const lds = await s.next();
    assert.equal(lds.typeUrl, TypeUrl.Listener);
    assert.equal(lds.versionInfo, '1');
    assert.equal(lds.nonce, '1');
    assert.deepEqual(namesOf(lds), ['echo-svc']);
    assert.equal(lds.controlPlane?.identifier, 'legate-control-plane');
    s.send(sotwRequest({ typeUrl: TypeUrl.Listener, names: ['echo-svc'], version: '1', nonce: '1' }));
    s.send(sotwRequest({ typeUrl: TypeUrl.RouteConfiguration, names: ['echo-route'] }));
    const rds = await s.next();
    assert.equal(rds.typeUrl, TypeUrl.RouteConfiguration);
    assert.equal(rds.nonce, '2');
    s.send(sotwRequest({ typeUrl: TypeUrl.RouteConfiguration, names: ['echo-route'], version: '1', nonce: '2' }));
    assert.deepEqual(await s.quiet(QUIET_MS), [], 'ACKs are not answered');

    // A route change: only RDS moves (LDS keeps version 1 and is not re-sent).
    writeResource(dir, 'route.yaml', routeYaml('echo-route', 'other-cluster'));
    reload();
    const rds2 = await s.next();
    assert.equal(rds2.typeUrl, TypeUrl.RouteConfiguration);
    assert.equal(rds2.versionInfo, '2');
    assert.deepEqual(await s.quiet(QUIET_MS), []);

    // NACK it: recorded, not answered, not even after a second.
    s.send(sotwRequest({ typeUrl: TypeUrl.RouteConfiguration, names: ['echo-route'], version: '1', nonce: rds2.nonce, error: 'route rejected by test' }));
    assert.deepEqual(await s.quiet(1000), [], 'a NACK is not answered by a re-push');
    const st = cp.xds.clients()[0]!;
    assert.equal(st.node_id, 'n1');
    assert.equal(st.cluster, 'c1');
    assert.equal(st.types['RDS']!.nacked_version, '2');
    assert.equal(st.types['RDS']!.acked_version, '1');
    assert.deepEqual(st.types['RDS']!.nack_error, { code: 3, message: 'route rejected by test' });
    assert.equal(st.types['RDS']!.pushes, 2);
    assert.equal(logs.filter((l) => l.includes('NACKed RDS version 2')).length, 1, 'logged once');
    assert.match(cp.stats.prometheus(), /^legate_cp_nacks_total\{type="RDS"\} 1$/m);

    // A stale nonce is ignored, even with different names.
    s.send(sotwRequest({ typeUrl: TypeUrl.RouteConfiguration, names: ['echo-route', 'x'], version: '1', nonce: '1' }));
    assert.deepEqual(await s.quiet(QUIET_MS), []);
    // A changed subscription on the current nonce is answered (with the current version).
    s.send(sotwRequest({ typeUrl: TypeUrl.RouteConfiguration, names: ['echo-route', 'missing-route'], version: '1', nonce: rds2.nonce }));
    const rds3 = await s.next();
    assert.equal(rds3.versionInfo, '2');
    assert.deepEqual(namesOf(rds3), ['echo-route'], 'resources that do not exist are left out');
    // A new version after the NACK is pushed.
    writeResource(dir, 'route.yaml', routeYaml('echo-route', 'echo-cluster'));
    reload();
    const rds4 = await s.next();
    assert.equal(rds4.versionInfo, '3');
    s.close();
  });

  it('SotW: push order CDS, EDS, LDS, RDS on a change of every type', async () => {
    const s = client.ads();
    const acks = new Map<string, string>();
    for (const [typeUrl, names] of [
      [TypeUrl.Listener, ['echo-svc']],
      [TypeUrl.RouteConfiguration, ['echo-route']],
      [TypeUrl.Cluster, []],
      [TypeUrl.ClusterLoadAssignment, ['echo-eds', 'other-cluster']],
    ] as const) {
      s.send(sotwRequest({ typeUrl, names: [...names], nodeId: 'n' }));
      const r = await s.next();
      acks.set(typeUrl, r.nonce);
      s.send(sotwRequest({ typeUrl, names: [...names], version: r.versionInfo, nonce: r.nonce }));
    }
    assert.deepEqual(await s.quiet(QUIET_MS), []);
    // Every type changes in one go (new cluster, its endpoints, a listener and route using it).
    writeResource(dir, 'listener.yaml', apiListenerYaml('echo-svc', 'echo-route').replace('stat_prefix: echo-svc', 'stat_prefix: echo2'));
    writeResource(dir, 'route.yaml', routeYaml('echo-route', 'third'));
    writeResource(dir, 'third.yaml', `${edsClusterYaml('third')}---\n${claYaml('third', [3001])}`);
    writeResource(dir, 'cluster.yaml', `${edsClusterYaml('echo-cluster', 'echo-eds')}---\n${claYaml('echo-eds', [1002])}`);
    reload();
    const order: string[] = [];
    for (let i = 0; i < 4; i++) order.push((await s.next()).typeUrl);
    assert.deepEqual(order, [TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment, TypeUrl.Listener, TypeUrl.RouteConfiguration]);
    s.close();
  });

  it('SotW: legacy wildcard, "*" and unsubscription by empty names', async () => {
    const s = client.ads();
    s.send(sotwRequest({ typeUrl: TypeUrl.Cluster, nodeId: 'envoy-1' }));
    const cds = await s.next();
    assert.deepEqual(namesOf(cds), ['echo-cluster', 'other-cluster'], 'empty names on the first CDS request: everything');
    // Envoy ACKs a wildcard subscription with empty names: still a wildcard, no response.
    s.send(sotwRequest({ typeUrl: TypeUrl.Cluster, version: cds.versionInfo, nonce: cds.nonce }));
    assert.deepEqual(await s.quiet(QUIET_MS), []);
    writeResource(dir, 'third.yaml', `${edsClusterYaml('third')}---\n${claYaml('third', [3001])}`);
    reload();
    const cds2 = await s.next();
    assert.deepEqual(namesOf(cds2), ['echo-cluster', 'other-cluster', 'third']);

    // EDS is never a legacy wildcard: empty names subscribe to nothing...
    s.send(sotwRequest({ typeUrl: TypeUrl.ClusterLoadAssignment }));
    const eds0 = await s.next();
    assert.deepEqual(namesOf(eds0), []);
    // ... but "*" is everything.
    s.send(sotwRequest({ typeUrl: TypeUrl.ClusterLoadAssignment, names: ['*'], version: eds0.versionInfo, nonce: eds0.nonce }));
    const eds1 = await s.next();
    assert.deepEqual(namesOf(eds1), ['echo-eds', 'other-cluster', 'third']);

    // A named LDS subscription emptied (grpc-js-xds closing a channel): no response, no later pushes.
    s.send(sotwRequest({ typeUrl: TypeUrl.Listener, names: ['echo-svc'] }));
    const lds = await s.next();
    s.send(sotwRequest({ typeUrl: TypeUrl.Listener, names: [], version: lds.versionInfo, nonce: lds.nonce }));
    assert.deepEqual(await s.quiet(QUIET_MS), [], 'unsubscribing is not answered');
    writeResource(dir, 'listener.yaml', apiListenerYaml('echo-svc', 'echo-route').replace('stat_prefix: echo-svc', 'stat_prefix: changed'));
    reload();
    assert.deepEqual((await s.quiet(QUIET_MS)).map((r) => r.typeUrl), [], 'nothing is pushed for an unsubscribed type');
    assert.deepEqual(cp.xds.clients()[0]!.types['LDS']!.resource_names, []);
    s.close();
  });

  it('per-type services, Fetch, and malformed requests end the stream with INVALID_ARGUMENT', async () => {
    const lds = client.typed(LISTENER_DISCOVERY_SERVICE);
    lds.send(sotwRequest({ typeUrl: '', names: ['echo-svc'], nodeId: 'n' }));
    const r = await lds.next();
    assert.equal(r.typeUrl, TypeUrl.Listener);
    assert.deepEqual(namesOf(r), ['echo-svc']);
    assert.equal(cp.xds.clients()[0]!.service, 'LDS');
    lds.send(sotwRequest({ typeUrl: TypeUrl.Cluster, nonce: r.nonce }));
    const st = await lds.status;
    assert.equal(st.code, grpc.status.INVALID_ARGUMENT);
    assert.match(st.details, /serves type\.googleapis\.com\/envoy\.config\.listener\.v3\.Listener, not .*Cluster/);

    const ads = client.ads();
    ads.send(sotwRequest({ typeUrl: '' }));
    const st2 = await ads.status;
    assert.equal(st2.code, grpc.status.INVALID_ARGUMENT);
    assert.match(st2.details, /type_url is required/);

    const fetched = await client.fetch(CLUSTER_DISCOVERY_SERVICE, sotwRequest({ typeUrl: TypeUrl.Cluster, names: ['other-cluster'] }));
    assert.deepEqual(namesOf(fetched), ['other-cluster']);
    assert.equal(fetched.versionInfo, '1');
  });

  it('delta: wildcard, named subscriptions, removed_resources, unsubscribe, NACK and initial_resource_versions', async () => {
    const d = client.deltaAds();
    d.send(deltaRequest({ typeUrl: TypeUrl.Cluster, nodeId: 'delta-1' }));
    const cds = await d.next();
    assert.deepEqual(cds.resources.map((r) => r.name).sort(), ['echo-cluster', 'other-cluster']);
    assert.equal(cds.systemVersionInfo, '1');
    for (const r of cds.resources) assert.match(r.version, /^[0-9a-f]{64}$/);
    assert.deepEqual(cds.removedResources, []);
    d.send(deltaRequest({ typeUrl: TypeUrl.Cluster, nonce: cds.nonce }));

    d.send(deltaRequest({ typeUrl: TypeUrl.ClusterLoadAssignment, subscribe: ['echo-eds', 'missing'] }));
    const eds = await d.next();
    assert.deepEqual(eds.resources.map((r) => r.name), ['echo-eds']);
    assert.deepEqual(eds.removedResources, ['missing'], 'a subscribed resource that does not exist is reported removed');
    d.send(deltaRequest({ typeUrl: TypeUrl.ClusterLoadAssignment, nonce: eds.nonce }));
    assert.deepEqual(await d.quiet(QUIET_MS), []);
    const st = cp.xds.clients()[0]!;
    assert.equal(st.protocol, 'delta');
    assert.equal(st.types['CDS']!.wildcard, true);
    assert.equal(st.types['EDS']!.acked_version, '1');

    // Only what changed is sent: other-cluster's endpoints change, echo-eds does not.
    writeResource(dir, 'other.yaml', `${edsClusterYaml('other-cluster')}---\n${claYaml('other-cluster', [2002])}`);
    d.send(deltaRequest({ typeUrl: TypeUrl.ClusterLoadAssignment, subscribe: ['other-cluster'] }));
    const eds2 = await d.next();
    assert.deepEqual(eds2.resources.map((r) => r.name), ['other-cluster']);
    const before = unpack<ClusterLoadAssignment>(eds2.resources[0]!.resource!);
    assert.equal(before.endpoints[0]!.lbEndpoints[0]!.hostIdentifier.case, 'endpoint');
    d.send(deltaRequest({ typeUrl: TypeUrl.ClusterLoadAssignment, nonce: eds2.nonce }));
    reload();
    const eds3 = await d.next();
    assert.deepEqual(eds3.resources.map((r) => r.name), ['other-cluster']);
    assert.equal(eds3.systemVersionInfo, '2');
    const cla = unpack<ClusterLoadAssignment>(eds3.resources[0]!.resource!);
    const ep = cla.endpoints[0]!.lbEndpoints[0]!.hostIdentifier;
    assert.equal(ep.case === 'endpoint' && ep.value.address?.address.case === 'socketAddress' ? ep.value.address.address.value.portSpecifier.value : 0, 2002);
    // NACK it: recorded, no re-push.
    d.send(deltaRequest({ typeUrl: TypeUrl.ClusterLoadAssignment, nonce: eds3.nonce, error: 'bad endpoints' }));
    assert.deepEqual(await d.quiet(1000), []);
    assert.equal(cp.xds.clients()[0]!.types['EDS']!.nacked_version, '2');

    // Removing a cluster: removed_resources for CDS (wildcard) and EDS (named).
    rmSync(join(dir, 'other.yaml'));
    reload();
    const gone1 = await d.next();
    const gone2 = await d.next();
    assert.equal(gone1.typeUrl, TypeUrl.Cluster);
    assert.deepEqual(gone1.removedResources, ['other-cluster']);
    assert.deepEqual(gone1.resources, []);
    assert.equal(gone2.typeUrl, TypeUrl.ClusterLoadAssignment);
    assert.deepEqual(gone2.removedResources, ['other-cluster']);

    // Unsubscribed: later changes of echo-eds are not sent.
    d.send(deltaRequest({ typeUrl: TypeUrl.ClusterLoadAssignment, nonce: gone2.nonce, unsubscribe: ['echo-eds'] }));
    assert.deepEqual(await d.quiet(QUIET_MS), []);
    writeResource(dir, 'cluster.yaml', `${edsClusterYaml('echo-cluster', 'echo-eds')}---\n${claYaml('echo-eds', [1009])}`);
    reload();
    assert.deepEqual((await d.quiet(QUIET_MS)).filter((r) => r.typeUrl === TypeUrl.ClusterLoadAssignment), []);
    d.close();

    // A reconnecting client that already holds a resource at its current version is not sent it again.
    const hash = (await (async () => {
      const d2 = client.deltaAds();
      d2.send(deltaRequest({ typeUrl: TypeUrl.Cluster, nodeId: 'delta-2' }));
      const r = await d2.next();
      d2.close();
      return r.resources.find((x) => x.name === 'echo-cluster')!.version;
    })());
    const d3 = client.deltaAds();
    d3.send(deltaRequest({ typeUrl: TypeUrl.Cluster, nodeId: 'delta-3', initialVersions: { 'echo-cluster': hash, stale: 'abc' } }));
    const r3 = await d3.next();
    assert.deepEqual(r3.resources.map((r) => r.name), [], 'echo-cluster is up to date');
    assert.deepEqual(r3.removedResources, ['stale'], 'a resource the client holds that no longer exists is removed');
    d3.close();
  });

  it('refuses an inconsistent snapshot with a clear message and keeps serving the previous one', async () => {
    const s = client.ads();
    s.send(sotwRequest({ typeUrl: TypeUrl.RouteConfiguration, names: ['echo-route'], nodeId: 'n' }));
    const rds = await s.next();
    s.send(sotwRequest({ typeUrl: TypeUrl.RouteConfiguration, names: ['echo-route'], version: rds.versionInfo, nonce: rds.nonce }));

    // A route to a cluster that does not exist (inside weighted_clusters).
    writeResource(dir, 'route.yaml', `"@type": type.googleapis.com/envoy.config.route.v3.RouteConfiguration
name: echo-route
virtual_hosts:
- name: all
  domains: ["*"]
  routes:
  - match: { prefix: "" }
    route:
      weighted_clusters:
        clusters:
        - { name: echo-cluster, weight: 90 }
        - { name: canary, weight: 10 }
`);
    const err = cp.directory!.reload();
    assert.ok(err instanceof Error);
    const routeFile = join(dir, 'route.yaml');
    assert.equal(err.message, `snapshot (default) is inconsistent: ${routeFile}:12:19: virtual_hosts[0].routes[0].route.weighted_clusters.clusters[1].name: RouteConfiguration "echo-route": cluster "canary" is not in the snapshot`);
    assert.ok(logs.some((l) => l.includes('refusing the change') && l.includes(`${routeFile}:12:19`) && l.includes('still serving snapshot 1')), logs.join(''));
    assert.deepEqual(await s.quiet(QUIET_MS), []);

    // An EDS cluster without its assignment, and a listener naming a missing route.
    writeResource(dir, 'route.yaml', routeYaml('echo-route', 'echo-cluster'));
    writeResource(dir, 'cluster.yaml', edsClusterYaml('echo-cluster', 'echo-eds'));
    writeResource(dir, 'listener.yaml', apiListenerYaml('echo-svc', 'no-such-route'));
    const err2 = cp.directory!.reload();
    assert.ok(err2 instanceof Error);
    assert.match(err2.message, /cluster\.yaml:7:17: eds_cluster_config\.service_name: Cluster "echo-cluster": EDS cluster has no ClusterLoadAssignment "echo-eds" in the snapshot/);
    assert.match(err2.message, /listener\.yaml:\d+:\d+: api_listener\.api_listener\.rds\.route_config_name: Listener "echo-svc": route configuration "no-such-route" \(rds\) is not in the snapshot/);
    assert.equal(cp.stats.snapshotRejected, 2);
    assert.equal(cp.stats.snapshotVersion, 1);
    assert.deepEqual(await s.quiet(QUIET_MS), []);

    // Duplicate names across files are refused too (files are read in name order).
    writeEchoService(dir, [1001]);
    writeResource(dir, 'dup.yaml', routeYaml('echo-route', 'other-cluster'));
    const err3 = cp.directory!.reload();
    assert.ok(err3 instanceof Error);
    assert.match(err3.message, /route\.yaml:2:7: name: duplicate RDS resource name "echo-route" \(first defined at .*dup\.yaml:1:1\)/);
    s.close();
  });

  it('serves per-node snapshots: node id, then node cluster, then the default', async () => {
    mkdirSync(join(dir, 'special'));
    writeResource(join(dir, 'special'), 'eds.yaml', claYaml('echo-eds', [7777]));
    mkdirSync(join(dir, 'canary-fleet'));
    writeResource(join(dir, 'canary-fleet'), 'eds.yaml', claYaml('echo-eds', [8888]));
    reload();
    const portFor = async (nodeId: string, cluster: string): Promise<number> => {
      const s = client.ads();
      s.send(sotwRequest({ typeUrl: TypeUrl.ClusterLoadAssignment, names: ['echo-eds'], nodeId, nodeCluster: cluster }));
      const r = await s.next();
      s.close();
      const ep = unpack<ClusterLoadAssignment>(r.resources[0]!).endpoints[0]!.lbEndpoints[0]!.hostIdentifier;
      return ep.case === 'endpoint' && ep.value.address?.address.case === 'socketAddress' ? ep.value.address.address.value.portSpecifier.value as number : 0;
    };
    assert.equal(await portFor('special', 'canary-fleet'), 7777, 'node id first');
    assert.equal(await portFor('someone', 'canary-fleet'), 8888, 'then node cluster');
    assert.equal(await portFor('someone', 'other'), 1001, 'then the default');
    const snapshots = JSON.parse(await (await fetch(`http://127.0.0.1:${cp.adminPort}/snapshots`)).text()) as { snapshots: Record<string, unknown> };
    assert.deepEqual(Object.keys(snapshots.snapshots).sort(), ['(default)', 'canary-fleet', 'special']);
  });
});
