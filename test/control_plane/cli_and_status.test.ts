/**
 * `legate control-plane` on the command line (usage errors, start-up
 * failures, clean SIGTERM) and its status page (/ready before and after the
 * first good snapshot, the overview, unknown paths and methods).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { runLegate } from '../support/legate_process.js';
import { routeYaml, startControlPlane, tempResourceDir, writeResource } from './xds_fixtures.js';

describe('legate control-plane command line', () => {
  it('rejects bad usage and a missing directory; --help works', async () => {
    const [noDir, unknown, badPort, missing, help] = await Promise.all([
      runLegate(['control-plane']),
      runLegate(['control-plane', '--dir', '/tmp', '--bogus']),
      runLegate(['control-plane', '--dir', '/tmp', '--port', '70000']),
      runLegate(['control-plane', '--dir', join(tempResourceDir(), 'nope'), '--port', '0', '--admin-port', '-1']),
      runLegate(['control-plane', '--help']),
    ]);
    assert.equal(noDir.code, 1);
    assert.match(noDir.stderr, /nothing to serve: give --dir/);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /unknown argument "--bogus"/);
    assert.equal(badPort.code, 1);
    assert.match(badPort.stderr, /--port: not a port number: 70000/);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /cannot start the control plane: ENOENT/);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: legate control-plane --dir <dir>/);
  });

  it('status page: /ready is 503 until a snapshot is served; overview, 404 and 405', async () => {
    const dir = tempResourceDir();
    writeResource(dir, 'route.yaml', 'name: [\n');
    const cp = await startControlPlane(dir);
    try {
      assert.match(cp.output(), /refusing the change in .* \(nothing is served yet\): .*route\.yaml:2:1: invalid YAML/);
      assert.deepEqual(await cp.admin('/ready'), { status: 503, body: 'NO SNAPSHOT\n' });
      const overview = await cp.admin('/');
      assert.equal(overview.status, 200);
      assert.match(overview.body, /last refused change of directory .*:\n {2}.*route\.yaml:2:1: invalid YAML/);
      assert.match(overview.body, /clients \(0\):/);

      writeResource(dir, 'route.yaml', routeYaml('r', 'c').replace('route: { cluster: c }', 'direct_response: { status: 200 }'));
      await cp.waitFor(/snapshot 1 from .*: 0 SDS, 0 CDS, 0 EDS, 0 LDS, 1 RDS/, 5000);
      assert.deepEqual(await cp.admin('/ready'), { status: 200, body: 'LIVE\n' });
      assert.doesNotMatch((await cp.admin('/')).body, /last refused change/);
      assert.deepEqual(JSON.parse((await cp.admin('/clients')).body), { generation: 1, clients: [] });
      assert.equal((await cp.admin('/nope')).status, 404);
      const post = await fetch(`http://127.0.0.1:${cp.adminPort}/clients`, { method: 'POST' });
      assert.equal(post.status, 405);
      assert.equal(post.headers.get('allow'), 'GET, HEAD');
      await post.text();
      const metrics = await cp.admin('/stats/prometheus');
      assert.match(metrics.body, /^# TYPE legate_cp_snapshot_version gauge\nlegate_cp_snapshot_version 1$/m);
      assert.match(metrics.body, /^legate_cp_snapshot_resources\{type="RDS"\} 1$/m);
      assert.match(metrics.body, /^legate_cp_snapshot_rejected_total 1$/m);
    } finally {
      await cp.stop();
    }
    assert.equal(cp.proc.exitCode, 0, 'SIGTERM is a clean exit');
  });
});
