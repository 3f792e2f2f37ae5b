/** The command line: Envoy's flags, --mode validate, errors that point at the line. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runLegate, startLegate, writeTempConfig } from '../support/legate_process.js';
import { request, startUpstream } from '../support/http_util.js';
import { proxyConfig } from './fixtures.js';

describe('legate CLI', () => {
  it('--version and --help', async () => {
    const v = await runLegate(['--version']);
    assert.equal(v.code, 0);
    assert.match(v.stdout, /^legate version: \d+\.\d+\.\d+/);
    const h = await runLegate(['--help']);
    assert.equal(h.code, 0);
    for (const f of ['--config-path', '--config-yaml', '--mode', '--log-level', '--service-cluster', '--service-node', '--drain-time-s']) {
      assert.ok(h.stdout.includes(f), `help mentions ${f}`);
    }
  });

  it('an unknown flag is a clear error', async () => {
    const r = await runLegate(['--confg-path', 'x.yaml']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /unknown flag '--confg-path' \(did you mean --config-path\?\)/);
  });

  it('--mode validate prints one OK line for a good config', async () => {
    const p = writeTempConfig(proxyConfig({ upstreamPort: 1 }));
    const r = await runLegate(['--mode', 'validate', '-c', p]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `configuration '${p}' OK\n`);
  });

  it('--mode validate names the file, line, column and field of an unknown field', async () => {
    const yaml = proxyConfig({ upstreamPort: 1 }).replace('connect_timeout: 1s', 'conect_timeout: 1s');
    const p = writeTempConfig(yaml);
    const r = await runLegate(['--mode', 'validate', '-c', p]);
    assert.equal(r.code, 1);
    const line = yaml.split('\n').findIndex((l) => l.includes('conect_timeout')) + 1;
    assert.match(r.stderr, new RegExp(`${p.replace(/[/.]/g, '\\$&')}:${line}:\\d+: static_resources\\.clusters\\[0\\]\\.conect_timeout: .*connect_timeout`));
  });

  it('a route naming an unknown cluster is rejected at load, as Envoy does', async () => {
    const yaml = proxyConfig({ upstreamPort: 1, routes: '- match: { prefix: "/" }\n  route: { cluster: nosuch }' });
    const r = await runLegate(['--mode', 'validate', '-c', writeTempConfig(yaml)]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /unknown cluster 'nosuch'/);
    assert.match(r.stderr, /filter_chains\[0\]\.filters\[0\]\.typed_config/);
  });

  it('a missing config file is a clear error', async () => {
    const r = await runLegate(['-c', '/nonexistent/legate.yaml']);
    assert.equal(r.code, 1);
    assert.match(r.stderr + r.stdout, /\/nonexistent\/legate\.yaml/);
  });

  it('--config-yaml is merged over the file', async () => {
    const upstream = await startUpstream((_req, res) => res.end('merged'));
    // The file's cluster points nowhere; --config-yaml adds a route header and a second listener name check.
    const base = proxyConfig({ upstreamPort: upstream.port });
    const legate = await startLegate(base, {
      expectListeners: ['ingress', 'extra'],
      args: ['--config-yaml', JSON.stringify({ static_resources: { listeners: [{ name: 'extra', address: { socket_address: { address: '127.0.0.1', port_value: 0 } }, filter_chains: [{ filters: [{ name: 'envoy.filters.network.tcp_proxy', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', stat_prefix: 'tcp', cluster: 'backend' } }] }] }] } })],
    });
    try {
      // Repeated fields append (proto MergeFrom): both listeners exist and work.
      const a = await request(legate.ports.get('ingress')!, { path: '/' });
      const b = await request(legate.ports.get('extra')!, { path: '/' });
      assert.equal(a.body, 'merged');
      assert.equal(b.body, 'merged');
    } finally {
      await legate.stop();
      await upstream.close();
    }
  });

  it('SIGTERM lets an in-flight request finish, then exits 0', async () => {
    const upstream = await startUpstream((_req, res) => setTimeout(() => res.end('finished'), 400));
    const legate = await startLegate(proxyConfig({ upstreamPort: upstream.port }), { expectListeners: ['ingress'], args: ['--drain-time-s', '5'] });
    try {
      const pending = request(legate.ports.get('ingress')!, { path: '/slow' });
      await new Promise((r) => setTimeout(r, 100));
      const exit = legate.stop('SIGTERM');
      const r = await pending;
      assert.equal(r.status, 200);
      assert.equal(r.body, 'finished');
      assert.equal(await exit, 0);
    } finally {
      await upstream.close();
    }
  });
});
