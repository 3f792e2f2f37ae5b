/**
 * Legate's control plane driving xDS clients nobody on this team wrote:
 * @grpc/grpc-js-xds (gRPC's Node xDS client) and gRPC C-core (Debian's
 * python3-grpcio). Each resolves `xds:///echo-svc` through `legate
 * control-plane` serving a resource directory, makes real unary calls to
 * gRPC backends run here, follows an EDS change made by rewriting a file,
 * and (grpc-js) rejects an invalid Listener: the NACK shows at /clients and
 * in the metrics, is not re-pushed in a loop, and calls keep working on the
 * last good config. A malformed file is refused with its file:line:column.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { startGrpcServer, type GrpcTestServer } from '../support/grpc_util.js';
import {
  apiListenerYaml,
  claYaml,
  edsClusterYaml,
  installPythonGrpc,
  startControlPlane,
  startGrpcJsXdsClient,
  startPythonXdsClient,
  tempResourceDir,
  writeEchoService,
  routeYaml,
  writeResource,
  type ControlPlaneProcess,
  type OutputProcess,
} from './xds_fixtures.js';

function echoBackend(id: string): Promise<GrpcTestServer> {
  return startGrpcServer({
    Unary: (_call: unknown, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.from(id)),
  } as never);
}

interface ClientsJson {
  clients: Array<{
    node_id: string;
    cluster: string;
    service: string;
    protocol: string;
    types: Record<string, { last_sent_version: string; acked_version: string; nacked_version: string; nack_error: { code: number; message: string } | null; pushes: number; nacks: number; resource_names: string[] }>;
  }>;
}

async function clientsOf(cp: ControlPlaneProcess): Promise<ClientsJson> {
  const r = await cp.admin('/clients');
  assert.equal(r.status, 200);
  return JSON.parse(r.body) as ClientsJson;
}

/** Polls until `pred` holds (or fails after `timeoutMs` with the last value). */
async function eventually<T>(fn: () => Promise<T>, pred: (v: T) => boolean, timeoutMs = 8000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (pred(v)) return v;
    if (Date.now() > deadline) assert.fail(`condition not met within ${timeoutMs} ms; last value: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The call results printed after offset `from`. */
function resultsSince(client: OutputProcess, from: number): string[] {
  return client.output().slice(from).split('\n').filter((l) => l.startsWith('ok ') || l.startsWith('err '));
}

describe('real xDS clients through legate control-plane', () => {
  let backendA: GrpcTestServer;
  let backendB: GrpcTestServer;
  before(async () => {
    backendA = await echoBackend('A');
    backendB = await echoBackend('B');
  });
  after(async () => {
    await backendA.close();
    await backendB.close();
  });

  it('@grpc/grpc-js-xds resolves, follows an EDS change, NACKs a bad Listener without a push loop, and a malformed file is refused', async () => {
    const dir = tempResourceDir();
    writeEchoService(dir, [backendA.port]);
    const cp = await startControlPlane(dir);
    const client = startGrpcJsXdsClient(cp.xdsPort, 'echo-svc', 'grpc-js-node-1');
    try {
      await client.waitFor(/^ok A$/m, 15000);

      // EDS moves to backend B: calls follow.
      let mark = client.output().length;
      writeResource(dir, 'cluster.yaml', `${edsClusterYaml('echo-cluster', 'echo-eds')}---\n${claYaml('echo-eds', [backendB.port])}`);
      await client.waitFor(/^ok B$/m, 5000, mark);
      mark = client.output().indexOf('ok B', mark);
      await client.waitFor(/(^ok .*\n){4}/m, 5000, mark);
      assert.deepEqual([...new Set(resultsSince(client, mark))], ['ok B'], 'after the switch every call goes to B');

      const status = await eventually(() => clientsOf(cp), (s) => s.clients.length === 1 && s.clients[0]?.types['EDS']?.acked_version === '2');
      const c = status.clients[0]!;
      assert.equal(c.node_id, 'grpc-js-node-1');
      assert.equal(c.cluster, 'test');
      assert.equal(c.service, 'ADS');
      assert.equal(c.protocol, 'sotw');
      assert.deepEqual(Object.keys(c.types).sort(), ['CDS', 'EDS', 'LDS', 'RDS']);
      assert.deepEqual(c.types['LDS']!.resource_names, ['echo-svc']);
      assert.equal(c.types['LDS']!.acked_version, '1');
      assert.equal(c.types['LDS']!.nack_error, null);

      // An invalid Listener (router filter not last): the client NACKs it, calls keep working.
      writeResource(dir, 'listener.yaml', apiListenerYaml('echo-svc', 'echo-route', { routerFirst: true }));
      const nacked = await eventually(() => clientsOf(cp), (s) => s.clients[0]?.types['LDS']?.nack_error !== null && s.clients[0]?.types['LDS']?.nack_error !== undefined);
      const lds = nacked.clients[0]!.types['LDS']!;
      assert.equal(lds.nacked_version, '3');
      assert.equal(lds.acked_version, '1', 'the last accepted version is still 1');
      assert.match(lds.nack_error!.message, /router filter is before the end of the list/);
      // Not re-pushed in a loop: the push count stays put over a second.
      const pushes = lds.pushes;
      mark = client.output().length;
      await new Promise((r) => setTimeout(r, 1000));
      const later = (await clientsOf(cp)).clients[0]!.types['LDS']!;
      assert.equal(later.pushes, pushes, 'no LDS response after the NACK');
      assert.equal(later.nacks, 1);
      const during = resultsSince(client, mark);
      assert.ok(during.length >= 5, `calls went on (${during.length})`);
      assert.deepEqual([...new Set(during)], ['ok B'], 'calls keep working on the last good Listener');
      assert.equal(cp.output().match(/NACKed LDS version 3/g)?.length, 1, 'the NACK is logged once');
      const metrics = (await cp.admin('/stats/prometheus')).body;
      assert.match(metrics, /^legate_cp_nacks_total\{type="LDS"\} 1$/m);
      assert.match(metrics, /^legate_cp_connected_clients 1$/m);
      assert.match(metrics, /^legate_cp_snapshot_version 3$/m);

      // A malformed file: refused with file:line:column, the previous snapshot stays served.
      const snapshots = async (): Promise<{ snapshots: unknown; refused_changes: Record<string, { error: string }> }> =>
        JSON.parse((await cp.admin('/snapshots')).body) as { snapshots: unknown; refused_changes: Record<string, { error: string }> };
      const before = await snapshots();
      assert.deepEqual(before.refused_changes, {});
      const logMark = cp.output().length;
      writeResource(dir, 'route.yaml', `"@type": type.googleapis.com/envoy.config.route.v3.RouteConfiguration
name: echo-route
virtual_hosts:
- name: all
  domains: ["*"]
  routes:
  - match: { prefix: "" }
    route: { cluster: echo-cluster, timeuot: 1s }
`);
      const line = await cp.waitFor(/refusing the change in .*\n/, 5000, logMark);
      assert.match(line[0], new RegExp(`${join(dir, 'route.yaml').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:8:\\d+: virtual_hosts\\[0\\]\\.routes\\[0\\]\\.route\\.timeuot: unknown field "timeuot"`));
      assert.match(line[0], /still serving snapshot 3/);
      const afterRefusal = await snapshots();
      assert.deepEqual(afterRefusal.snapshots, before.snapshots, 'the previous snapshot stays served');
      assert.match(Object.values(afterRefusal.refused_changes)[0]?.error ?? '', /route\.yaml:8:\d+: .*unknown field "timeuot"/);
      mark = client.output().length;
      await client.waitFor(/(^ok B\n){3}/m, 5000, mark);
      assert.match((await cp.admin('/stats/prometheus')).body, /^legate_cp_snapshot_rejected_total 1$/m);

      // While route.yaml is malformed every change is refused; fixing both is pushed and ACKed.
      writeResource(dir, 'listener.yaml', apiListenerYaml('echo-svc', 'echo-route'));
      await cp.waitFor(/refusing the change[^\n]*\n(.|\n)*refusing the change/, 5000, logMark);
      writeResource(dir, 'route.yaml', routeYaml('echo-route', 'echo-cluster'));
      const fixed = await eventually(() => clientsOf(cp), (s) => s.clients[0]?.types['LDS']?.acked_version === '4');
      assert.equal(fixed.clients[0]!.types['LDS']!.nacked_version, '3', 'the last NACK stays on record');
    } finally {
      await client.stop();
      await cp.stop();
    }
  });

  it('gRPC C-core (python3-grpcio) resolves through the control plane, follows an EDS change and NACKs a bad Listener', async (t) => {
    if (!installPythonGrpc()) {
      t.skip('python3-grpcio is not installed and cannot be installed here (apt-get install python3-grpcio; CI installs it)');
      return;
    }
    const dir = tempResourceDir();
    writeEchoService(dir, [backendA.port]);
    const cp = await startControlPlane(dir);
    const client = startPythonXdsClient(cp.xdsPort, 'echo-svc', 'c-core-node-1');
    try {
      await client.waitFor(/^ok A$/m, 15000);
      const mark = client.output().length;
      writeResource(dir, 'cluster.yaml', `${edsClusterYaml('echo-cluster', 'echo-eds')}---\n${claYaml('echo-eds', [backendB.port])}`);
      await client.waitFor(/^ok B$/m, 8000, mark);
      const status = await eventually(() => clientsOf(cp), (s) => s.clients[0]?.types['EDS']?.acked_version === '2');
      const c = status.clients[0]!;
      assert.equal(c.node_id, 'c-core-node-1');
      assert.deepEqual(Object.keys(c.types).sort(), ['CDS', 'EDS', 'LDS', 'RDS']);
      for (const type of ['LDS', 'RDS', 'CDS']) assert.equal(c.types[type]!.acked_version, '1', type);
      const firstOk = client.output().indexOf('ok A');
      assert.deepEqual(resultsSince(client, firstOk).filter((l) => l.startsWith('err ')), [], 'no call failed once resolved');

      // C-core's NACK (INVALID_ARGUMENT, its own wording) is recorded the same way; calls go on.
      writeResource(dir, 'listener.yaml', apiListenerYaml('echo-svc', 'echo-route', { routerFirst: true }));
      const nacked = await eventually(() => clientsOf(cp), (s) => (s.clients[0]?.types['LDS']?.nacks ?? 0) > 0);
      const lds = nacked.clients[0]!.types['LDS']!;
      assert.equal(lds.nacked_version, '3');
      assert.equal(lds.nack_error?.code, 3);
      assert.match(lds.nack_error?.message ?? '', /must be the last filter in the chain/);
      const mark2 = client.output().length;
      await client.waitFor(/(^ok B\n){3}/m, 5000, mark2);
    } finally {
      await client.stop();
      await cp.stop();
    }
  });
});
