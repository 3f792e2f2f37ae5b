// Legate's xDS client transports against a scripted ADS server (real gRPC
// over Legate's own HTTP/2 client to a static cluster) and against real files:
// requests, ACK/NACK with versions and nonces, removals, NACK back-off,
// reconnects, delta subscriptions, and config-source errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Message } from '@bufbuild/protobuf';
import { loadBootstrap } from '../../src/config/bootstrap_loader.js';
import { registerBuiltinExtensions } from '../../src/extensions/index.js';
import { createClusterManager } from '../../src/server/cluster_manager_factory.js';
import { StatsStore } from '../../src/stats/stats_impl.js';
import { SubscriptionFactoryImpl } from '../../src/xds/subscription_factory_impl.js';
import { EnvoyGrpcAsyncClient } from '../../src/upstream/grpc/async_client_impl.js';
import {
  ConfigUpdateFailureReason,
  TypeUrl,
  type ConfigUpdate,
  type SubscriptionCallbacks,
} from '../../src/envoy/config/subscription.js';
import type { ConfigSource } from '../../src/generated/envoy/config/core/v3/config_source_pb.js';
import { ConfigError } from '../../src/config/config_error.js';
import { create } from '@bufbuild/protobuf';
import { messageSchema } from '../../src/config/type_registry.js';
import { adsBootstrapYaml } from '../support/xds_bootstrap.js';
import { resource, startScriptedXdsServer, type ScriptedXdsServer } from '../support/scripted_xds_server.js';
import { setLogSink } from '../../src/common/logger.js';

registerBuiltinExtensions();

async function makeFactory(xdsPort: number, apiType = 'GRPC', extra = '') {
  const loaded = loadBootstrap({ configYaml: adsBootstrapYaml({ xdsPort, apiType: apiType as 'GRPC' | 'DELTA_GRPC', nodeId: 'node-1', nodeCluster: 'svc-a', lds: false, cds: false, adsExtra: extra }) });
  const stats = new StatsStore();
  const cm = createClusterManager({ stats }, loaded.bootstrap);
  await cm.initialize();
  const factory = new SubscriptionFactoryImpl({
    grpcClientFor: (name) => new EnvoyGrpcAsyncClient(cm, name),
    staticClusterNames: new Set(cm.clusterNames()),
    node: loaded.bootstrap.node!,
    scope: stats.rootScope,
    configDir: process.cwd(),
    adsConfig: loaded.bootstrap.dynamicResources?.adsConfig,
  });
  return { factory, stats, cm, close: () => { factory.stop(); cm.shutdown(); } };
}

interface Recorder extends SubscriptionCallbacks<Message> {
  updates: ConfigUpdate<Message>[];
  failures: ConfigUpdateFailureReason[];
  /** Names to reject (the consumer throws naming them). */
  reject: Set<string>;
  next(): Promise<ConfigUpdate<Message>>;
}

function recorder(): Recorder {
  const waiters: Array<(u: ConfigUpdate<Message>) => void> = [];
  const r: Recorder = {
    updates: [],
    failures: [],
    reject: new Set(),
    onConfigUpdate(u) {
      for (const a of u.added) if (r.reject.has(a.name)) throw new ConfigError(`Cluster '${a.name}'.connect_timeout`, 'rejected by the test');
      r.updates.push(u);
      waiters.shift()?.(u);
    },
    onConfigUpdateFailed(reason) { r.failures.push(reason); },
    next() {
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('no update')), 5000);
        waiters.push((u) => { clearTimeout(t); resolve(u); });
      });
    },
  };
  return r;
}

const ADS: ConfigSource = create(messageSchema('envoy.config.core.v3.ConfigSource'), { configSourceSpecifier: { case: 'ads', value: {} } } as never) as unknown as ConfigSource;
const cluster = (name: string) => resource('envoy.config.cluster.v3.Cluster', { name, connectTimeout: { seconds: 1n, nanos: 0 } });
const cla = (name: string) => resource('envoy.config.endpoint.v3.ClusterLoadAssignment', { clusterName: name });

async function withServer(fn: (server: ScriptedXdsServer) => Promise<void>): Promise<void> {
  const server = await startScriptedXdsServer();
  try { await fn(server); } finally { await server.close(); }
}

test('state of the world over ADS: wildcard CDS, ACK with version and nonce, removal, NACK naming the resource, last good kept', async () => {
  await withServer(async (server) => {
    const { factory, stats, close } = await makeFactory(server.port);
    try {
      const cds = recorder();
      factory.subscriptionFromConfigSource(ADS, TypeUrl.Cluster, stats.rootScope.createScope('cluster_manager.cds.'), cds, 'cds_config').start([]);
      const s = await server.nextStream();
      const first = await s.nextRequest(TypeUrl.Cluster);
      assert.deepEqual(first.resourceNames, []);
      assert.equal(first.versionInfo, '');
      assert.equal(first.responseNonce, '');
      assert.equal(first.node?.id, 'node-1');
      assert.equal(first.node?.cluster, 'svc-a');

      s.sendSotw(TypeUrl.Cluster, 'v1', 'n1', [cluster('a'), cluster('b')]);
      const u1 = await cds.next();
      assert.deepEqual(u1.added.map((r) => r.name), ['a', 'b']);
      assert.deepEqual(u1.removed, []);
      assert.equal(u1.versionInfo, 'v1');
      const ack1 = await s.nextRequest(TypeUrl.Cluster);
      assert.equal(ack1.versionInfo, 'v1');
      assert.equal(ack1.responseNonce, 'n1');
      assert.equal(ack1.errorDetail, undefined);
      assert.equal(stats.rootScope.createScope('control_plane.').gauge('connected_state').value(), 1);

      s.sendSotw(TypeUrl.Cluster, 'v2', 'n2', [cluster('b')]);
      const u2 = await cds.next();
      assert.deepEqual(u2.removed, ['a'], 'a missing from a CDS state of the world is removed');
      await s.nextRequest(TypeUrl.Cluster);

      cds.reject.add('bad');
      s.sendSotw(TypeUrl.Cluster, 'v3', 'n3', [cluster('b'), cluster('bad')]);
      const nack = await s.nextRequest(TypeUrl.Cluster);
      assert.equal(nack.versionInfo, 'v2', 'a NACK carries the last accepted version');
      assert.equal(nack.responseNonce, 'n3');
      assert.match(nack.errorDetail?.message ?? '', /Cluster 'bad'\.connect_timeout: rejected by the test/);
      const scope = stats.rootScope.createScope('cluster_manager.cds.');
      assert.equal(scope.counter('update_rejected').value(), 1);
      assert.equal(scope.counter('update_success').value(), 2);
      assert.ok(cds.failures.includes(ConfigUpdateFailureReason.UpdateRejected));

      // A resource that fails its proto validation never reaches the consumer.
      s.sendSotw(TypeUrl.Cluster, 'v4', 'n4', [resource('envoy.config.cluster.v3.Cluster', { name: '' })]);
      const nack2 = await s.nextRequest(TypeUrl.Cluster);
      assert.equal(nack2.versionInfo, 'v2');
      assert.ok((nack2.errorDetail?.message ?? '') !== '');
      assert.equal(cds.updates.length, 2);
    } finally {
      close();
    }
  });
});

test('a control plane that resends a NACKed response at once does not make the client spin', async () => {
  await withServer(async (server) => {
    const { factory, stats, close } = await makeFactory(server.port);
    try {
      const cds = recorder();
      cds.reject.add('bad');
      factory.subscriptionFromConfigSource(ADS, TypeUrl.Cluster, stats.rootScope.createScope('cluster_manager.cds.'), cds, 'cds_config').start([]);
      const s = await server.nextStream();
      await s.nextRequest(TypeUrl.Cluster);
      let n = 0;
      // go-control-plane's habit: every request carrying the old version gets the snapshot again.
      server.onRequest = (st, req) => { if (req.errorDetail !== undefined) st.sendSotw(TypeUrl.Cluster, 'v1', `n${++n + 1}`, [cluster('bad')]); };
      s.sendSotw(TypeUrl.Cluster, 'v1', 'n1', [cluster('bad')]);
      await new Promise((r) => setTimeout(r, 1500));
      const nacks = s.requests.filter((r) => r.errorDetail !== undefined).length;
      assert.ok(nacks >= 1 && nacks <= 3, `NACKs in 1.5 s: ${nacks}`);
      // The rejection was applied once, not per repeat.
      assert.equal(stats.rootScope.createScope('cluster_manager.cds.').counter('update_rejected').value(), 1);
      server.onRequest = undefined;
    } finally {
      close();
    }
  });
});

test('the stream dropping: last good config kept, subscriptions told, reconnect re-sends the accepted version and the node', async () => {
  await withServer(async (server) => {
    const { factory, stats, close } = await makeFactory(server.port, 'GRPC', '    set_node_on_first_message_only: true');
    try {
      const eds = recorder();
      const sub = factory.subscriptionFromConfigSource(ADS, TypeUrl.ClusterLoadAssignment, stats.rootScope.createScope('cluster.x.'), eds, 'eds_config');
      sub.start(['x']);
      const s1 = await server.nextStream();
      const r1 = await s1.nextRequest(TypeUrl.ClusterLoadAssignment);
      assert.deepEqual(r1.resourceNames, ['x']);
      assert.equal(r1.node?.id, 'node-1');
      s1.sendSotw(TypeUrl.ClusterLoadAssignment, '7', 'a', [cla('x'), cla('not-mine')]);
      const u = await eds.next();
      assert.deepEqual(u.added.map((r) => r.name), ['x'], 'only the names subscribed');
      const ack = await s1.nextRequest(TypeUrl.ClusterLoadAssignment);
      assert.equal(ack.node, undefined, 'set_node_on_first_message_only: no node after the first request');

      s1.end();
      const s2 = await server.nextStream(5000);
      const r2 = await s2.nextRequest(TypeUrl.ClusterLoadAssignment);
      assert.equal(r2.versionInfo, '7');
      assert.equal(r2.responseNonce, '');
      assert.equal(r2.node?.id, 'node-1', 'a new stream starts with the node again');
      assert.ok(eds.failures.includes(ConfigUpdateFailureReason.ConnectionFailure));
      assert.equal(stats.rootScope.createScope('cluster.x.').counter('update_failure').value() >= 1, true);

      sub.updateResourceInterest(['x', 'y']);
      const r3 = await s2.nextRequest(TypeUrl.ClusterLoadAssignment);
      assert.deepEqual([...r3.resourceNames].sort(), ['x', 'y']);
    } finally {
      close();
    }
  });
});

test('delta ADS: subscribe and unsubscribe by name, added and removed resources, ACK by nonce, initial versions on a new stream', async () => {
  await withServer(async (server) => {
    const { factory, stats, close } = await makeFactory(server.port, 'DELTA_GRPC');
    try {
      const eds = recorder();
      const sub = factory.subscriptionFromConfigSource(ADS, TypeUrl.ClusterLoadAssignment, stats.rootScope.createScope('cluster.x.'), eds, 'eds_config');
      sub.start(['x', 'y']);
      const s = await server.nextStream();
      assert.equal(s.delta, true);
      const r1 = await s.nextRequest(TypeUrl.ClusterLoadAssignment);
      assert.deepEqual([...r1.resourceNamesSubscribe].sort(), ['x', 'y']);
      s.sendDelta(TypeUrl.ClusterLoadAssignment, 's1', 'd1', [{ name: 'x', version: 'hx1', resource: cla('x') }]);
      const u1 = await eds.next();
      assert.deepEqual(u1.added.map((r) => [r.name, r.version]), [['x', 'hx1']]);
      const ack = await s.nextRequest(TypeUrl.ClusterLoadAssignment);
      assert.equal(ack.responseNonce, 'd1');
      assert.equal(ack.errorDetail, undefined);
      s.sendDelta(TypeUrl.ClusterLoadAssignment, 's2', 'd2', [], ['y']);
      const u2 = await eds.next();
      assert.deepEqual(u2.removed, ['y']);
      await s.nextRequest(TypeUrl.ClusterLoadAssignment);

      sub.updateResourceInterest(['x']);
      const r3 = await s.nextRequest(TypeUrl.ClusterLoadAssignment);
      assert.deepEqual(r3.resourceNamesUnsubscribe, ['y']);

      s.end();
      const s2 = await server.nextStream();
      const r4 = await s2.nextRequest(TypeUrl.ClusterLoadAssignment);
      assert.deepEqual(r4.resourceNamesSubscribe, ['x']);
      assert.deepEqual({ ...r4.initialResourceVersions }, { x: 'hx1' });

      eds.reject.add('x');
      s2.sendDelta(TypeUrl.ClusterLoadAssignment, 's3', 'd3', [{ name: 'x', version: 'hx2', resource: cla('x') }]);
      const nack = await s2.nextRequest(TypeUrl.ClusterLoadAssignment);
      assert.equal(nack.responseNonce, 'd3');
      assert.match(nack.errorDetail?.message ?? '', /rejected by the test/);
    } finally {
      close();
    }
  });
});

test('file config source: loaded at start, reloaded when replaced, a malformed file rejected with file:line and the last good kept', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'legate-xds-file-'));
  const file = join(dir, 'cds.yaml');
  const write = (text: string): void => {
    const tmp = join(dir, `.tmp-${Math.random()}`);
    writeFileSync(tmp, text);
    renameSync(tmp, file);
  };
  const clusterYaml = (names: string[], version: string) => `version_info: "${version}"
resources:
${names.map((n) => `- "@type": type.googleapis.com/envoy.config.cluster.v3.Cluster
  name: ${n}
  connect_timeout: 1s`).join('\n')}
`;
  write(clusterYaml(['a'], '1'));
  const { factory, stats, close } = await makeFactory(1);
  const logs: string[] = [];
  setLogSink((line) => logs.push(line));
  try {
    const cds = recorder();
    const source = create(messageSchema('envoy.config.core.v3.ConfigSource'), {
      configSourceSpecifier: { case: 'pathConfigSource', value: { path: file } },
    } as never) as unknown as ConfigSource;
    const sub = factory.subscriptionFromConfigSource(source, TypeUrl.Cluster, stats.rootScope.createScope('cluster_manager.cds.'), cds, 'cds_config');
    sub.start([]);
    assert.deepEqual(cds.updates[0]?.added.map((r) => r.name), ['a']);
    const next = cds.next();
    write(clusterYaml(['b'], '2'));
    const u = await next;
    assert.deepEqual(u.added.map((r) => r.name), ['b']);
    assert.deepEqual(u.removed, ['a']);

    write(`version_info: "3"\nresources:\n- "@type": type.googleapis.com/envoy.config.cluster.v3.Cluster\n  name: c\n  connect_timeout: soon\n`);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(cds.updates.length, 2, 'the malformed file was not applied');
    assert.equal(stats.rootScope.createScope('cluster_manager.cds.').counter('update_rejected').value(), 1);
    assert.ok(logs.some((l) => l.includes(`${file}:5`)), `a log line names the file and line:\n${logs.join('\n')}`);
    sub.stop();
  } finally {
    setLogSink((line) => process.stderr.write(line + '\n'));
    close();
  }
});

test('config sources that cannot be used are config errors naming the field', async () => {
  const { factory, stats, close } = await makeFactory(1);
  try {
    const cs = (init: Record<string, unknown>) => create(messageSchema('envoy.config.core.v3.ConfigSource'), init as never) as unknown as ConfigSource;
    const sub = (c: ConfigSource) => factory.subscriptionFromConfigSource(c, TypeUrl.Cluster, stats.rootScope, recorder(), 'dynamic_resources.cds_config');
    assert.throws(() => sub(cs({ configSourceSpecifier: { case: 'apiConfigSource', value: { apiType: 1, transportApiVersion: 2 } } })), /cds_config\.api_config_source\.api_type: REST/);
    assert.throws(() => sub(cs({ configSourceSpecifier: { case: 'apiConfigSource', value: {
      apiType: 2, transportApiVersion: 2, grpcServices: [{ targetSpecifier: { case: 'envoyGrpc', value: { clusterName: 'nope' } } }],
    } } })), /envoy_grpc\.cluster_name: unknown cluster 'nope'/);
    assert.throws(() => sub(cs({ configSourceSpecifier: { case: 'apiConfigSource', value: {
      apiType: 2, transportApiVersion: 2, grpcServices: [{ targetSpecifier: { case: 'googleGrpc', value: { targetUri: 'x' } } }],
    } } })), /only envoy_grpc is supported/);
  } finally {
    close();
  }
  const noAds = loadBootstrap({ configYaml: 'node: { id: n }\nstatic_resources: {}' });
  const st = new StatsStore();
  const cm = createClusterManager({ stats: st }, noAds.bootstrap);
  const f2 = new SubscriptionFactoryImpl({ grpcClientFor: (name) => new EnvoyGrpcAsyncClient(cm, name), staticClusterNames: new Set(), node: noAds.bootstrap.node!, scope: st.rootScope, configDir: '.' });
  assert.throws(() => f2.subscriptionFromConfigSource(ADS, TypeUrl.Listener, st.rootScope, recorder(), 'dynamic_resources.lds_config'),
    /lds_config\.ads: ads config source used but the bootstrap has no dynamic_resources\.ads_config/);
  cm.shutdown();
});

test('clusters added by one CDS update subscribe to their endpoints in one EDS request (ADS pause/resume)', async () => {
  await withServer(async (server) => {
    const { factory, stats, close } = await makeFactory(server.port);
    try {
      const eds = recorder();
      const cds: Recorder = recorder();
      const inner = cds.onConfigUpdate;
      cds.onConfigUpdate = (u) => {
        inner(u);
        for (const r of u.added) factory.subscriptionFromConfigSource(ADS, TypeUrl.ClusterLoadAssignment, stats.rootScope.createScope(`cluster.${r.name}.`), eds, 'eds_config').start([r.name]);
      };
      factory.subscriptionFromConfigSource(ADS, TypeUrl.Cluster, stats.rootScope.createScope('cluster_manager.cds.'), cds, 'cds_config').start([]);
      const s = await server.nextStream();
      await s.nextRequest(TypeUrl.Cluster);
      s.sendSotw(TypeUrl.Cluster, '1', 'c1', [cluster('a'), cluster('b'), cluster('c')]);
      const req = await s.nextRequest(TypeUrl.ClusterLoadAssignment);
      assert.deepEqual([...req.resourceNames].sort(), ['a', 'b', 'c']);
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(s.requests.filter((r) => r.typeUrl === TypeUrl.ClusterLoadAssignment).length, 1);
    } finally {
      close();
    }
  });
});
