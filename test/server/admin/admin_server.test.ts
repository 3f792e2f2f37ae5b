import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { HistogramUnit } from '../../../src/envoy/stats/stats.js';
import { StatsStore } from '../../../src/stats/stats_impl.js';
import type { InitState } from '../../../src/stats/server_stats.js';
import { AdminServer } from '../../../src/server/admin/admin_server.js';
import type { AdminLoggerRegistry, AdminServerContext, LogLevel } from '../../../src/server/admin/admin_types.js';
import { clustersHandler } from '../../../src/server/admin/clusters_render.js';
import { listenersHandler } from '../../../src/server/admin/listeners_render.js';

interface Reply { status: number; headers: http.IncomingHttpHeaders; body: string }

function call(port: number, method: string, path: string, opts: { headers?: Record<string, string>; body?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

class Loggers implements AdminLoggerRegistry {
  readonly levels = new Map<string, LogLevel>([['admin', 'info'], ['upstream', 'info']]);
  loggers() { return [...this.levels].map(([name, level]) => ({ name, level })); }
  setLevel(name: string, level: LogLevel) {
    if (!this.levels.has(name)) return false;
    this.levels.set(name, level);
    return true;
  }
  setAllLevels(level: LogLevel) { for (const k of this.levels.keys()) this.levels.set(k, level); }
}

function makeContext() {
  const state = { init: 'Initialized' as InitState, hcFailed: false, shutdowns: 0, drains: [] as unknown[] };
  const stats = new StatsStore();
  const loggers = new Loggers();
  const ctx: AdminServerContext = {
    stats,
    loggers,
    serverInfo: () => ({
      version: 'abc123/1.0.0/Clean/RELEASE/Node',
      hotRestartVersion: 'disabled',
      startTimeCurrentEpochMs: Date.now() - 5000,
      startTimeFirstEpochMs: Date.now() - 7000,
      commandLineOptions: { concurrency: 2, logLevel: 'info', configPath: 'envoy.yaml' },
      node: { id: 'node-1', cluster: 'edge' },
    }),
    initState: () => state.init,
    healthCheckFailed: () => state.hcFailed,
    failHealthcheck: (fail) => { state.hcFailed = fail; },
    shutdown: () => { state.shutdowns++; },
    drainListeners: (o) => { state.drains.push(o); },
  };
  return { ctx, state, stats, loggers };
}

async function withAdmin(fn: (port: number, h: ReturnType<typeof makeContext>, admin: AdminServer) => Promise<void>) {
  const h = makeContext();
  const admin = new AdminServer(h.ctx);
  await admin.listen({ host: '127.0.0.1', port: 0 });
  try {
    await fn(admin.port, h, admin);
  } finally {
    await admin.close();
  }
}

test('index lists every endpoint (text and HTML); unknown path is 404 with the index', () => {
  return withAdmin(async (port) => {
    const text = await call(port, 'GET', '/');
    assert.equal(text.status, 200);
    assert.equal(text.headers['content-type'], 'text/plain; charset=UTF-8');
    assert.equal(text.headers['x-content-type-options'], 'nosniff');
    assert.equal(text.headers['cache-control'], 'no-cache, max-age=0');
    assert.ok(text.body.startsWith('admin commands are:\n  /: Admin home page\n'));
    assert.ok(text.body.includes('  /healthcheck/fail (POST): cause the server to fail health checks\n'));
    assert.ok(text.body.includes('  /stats/prometheus: print server stats in prometheus format\n'));
    assert.ok(text.body.includes('      usedonly: Only include stats that have been written by system since restart\n'));

    const html = await call(port, 'GET', '/', { headers: { accept: 'text/html,application/xhtml+xml' } });
    assert.equal(html.headers['content-type'], 'text/html; charset=UTF-8');
    assert.ok(html.body.includes('<a href="/stats">/stats</a>'));
    assert.ok(html.body.includes('<form action="/quitquitquit" method="post">'));

    const missing = await call(port, 'GET', '/nope');
    assert.equal(missing.status, 404);
    assert.ok(missing.body.startsWith('invalid path. admin commands are:\n'));
    assert.equal((await call(port, 'GET', '/stats/')).status, 404);
  });
});

test('mutating endpoints refuse GET with 405; POST works', () => {
  return withAdmin(async (port, h) => {
    for (const path of ['/healthcheck/fail', '/healthcheck/ok', '/quitquitquit', '/reset_counters', '/drain_listeners', '/logging']) {
      const r = await call(port, 'GET', path);
      assert.equal(r.status, 405, path);
      assert.equal(r.body, 'Method GET not allowed, POST required.');
    }
    assert.equal(h.state.hcFailed, false);
    assert.equal(h.state.shutdowns, 0);

    const c = h.stats.rootScope.counter('cluster.x.upstream_rq_total');
    c.add(3);
    const reset = await call(port, 'POST', '/reset_counters');
    assert.deepEqual([reset.status, reset.body], [200, 'OK\n']);
    assert.equal(c.value(), 0);

    const drain = await call(port, 'POST', '/drain_listeners?graceful&inboundonly');
    assert.equal(drain.body, 'OK\n');
    assert.deepEqual(h.state.drains, [{ graceful: true, inboundOnly: true, skipExit: false }]);

    const quit = await call(port, 'POST', '/quitquitquit');
    assert.deepEqual([quit.status, quit.body], [200, 'OK\n']);
    assert.equal(h.state.shutdowns, 1);
  });
});

test('/ready and /healthcheck/fail|ok flip LIVE and DRAINING', () => {
  return withAdmin(async (port, h) => {
    assert.deepEqual(await call(port, 'GET', '/ready').then((r) => [r.status, r.body]), [200, 'LIVE\n']);
    assert.equal((await call(port, 'POST', '/healthcheck/fail')).body, 'OK\n');
    assert.deepEqual(await call(port, 'GET', '/ready').then((r) => [r.status, r.body]), [503, 'DRAINING\n']);
    await call(port, 'POST', '/healthcheck/ok');
    assert.deepEqual(await call(port, 'GET', '/ready').then((r) => [r.status, r.body]), [200, 'LIVE\n']);
    h.state.init = 'Uninitialized';
    assert.deepEqual(await call(port, 'GET', '/ready').then((r) => [r.status, r.body]), [503, 'PRE_INITIALIZING\n']);
  });
});

test('/server_info has Envoy\'s shape', () => {
  return withAdmin(async (port) => {
    const r = await call(port, 'GET', '/server_info');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'application/json');
    assert.ok(r.body.startsWith('{\n "version": "abc123/1.0.0/Clean/RELEASE/Node",\n "state": "LIVE",\n'));
    assert.ok(r.body.endsWith('}\n'));
    const info = JSON.parse(r.body);
    assert.deepEqual(Object.keys(info),
      ['version', 'state', 'uptime_current_epoch', 'uptime_all_epochs', 'hot_restart_version', 'command_line_options', 'node']);
    assert.match(info.uptime_current_epoch, /^\d+s$/);
    assert.ok(Number.parseInt(info.uptime_all_epochs, 10) >= Number.parseInt(info.uptime_current_epoch, 10));
    assert.equal(info.hot_restart_version, 'disabled');
    assert.equal(info.command_line_options.concurrency, 2);
    assert.equal(info.command_line_options.log_level, 'info');
    assert.equal(info.command_line_options.base_id, '0');
    assert.equal(info.node.id, 'node-1');
    assert.equal(info.node.cluster, 'edge');
  });
});

test('/stats, /stats?format=json, /stats/prometheus and /stats?format=prometheus', () => {
  return withAdmin(async (port, h) => {
    const root = h.stats.rootScope;
    root.counter('cluster.x.upstream_rq_total').add(2);
    root.histogram('cluster.x.upstream_rq_time', HistogramUnit.Milliseconds).recordValue(200);

    const text = await call(port, 'GET', '/stats?filter=%5Ecluster');
    assert.equal(text.body,
      'cluster.x.upstream_rq_total: 2\n' +
      'cluster.x.upstream_rq_time: P0(nan,200) P25(nan,202.5) P50(nan,205) P75(nan,207.5) P90(nan,209) ' +
      'P95(nan,209.5) P99(nan,209.9) P99.5(nan,209.95) P99.9(nan,209.99) P100(nan,210)\n');

    const json = await call(port, 'GET', '/stats?format=json&filter=upstream_rq_total');
    assert.equal(json.headers['content-type'], 'application/json');
    assert.equal(json.body, '{"stats":[{"name":"cluster.x.upstream_rq_total","value":2}]}');

    const prom = await call(port, 'GET', '/stats/prometheus?filter=upstream_rq_total');
    assert.equal(prom.status, 200);
    assert.equal(prom.headers['content-type'], 'text/plain; charset=UTF-8');
    assert.equal(prom.body,
      '# TYPE envoy_cluster_upstream_rq_total counter\nenvoy_cluster_upstream_rq_total{envoy_cluster_name="x"} 2\n');
    const viaStats = await call(port, 'GET', '/stats?format=prometheus&filter=upstream_rq_total');
    assert.equal(viaStats.body, prom.body);

    // The admin listener counts itself, as Envoy's does.
    const admin = await call(port, 'GET', '/stats?filter=%5Ehttp%5C.admin%5C.downstream_rq_2xx%24');
    assert.match(admin.body, /^http\.admin\.downstream_rq_2xx: \d+\n$/);

    const bad = await call(port, 'GET', '/stats?format=xml');
    assert.equal(bad.status, 400);
    assert.equal(bad.body, 'usage: /stats?format=(html|active-html|json|prometheus|text)\n\n');
  });
});

test('/logging lists and changes levels (query or form body)', () => {
  return withAdmin(async (port, h) => {
    const list = await call(port, 'POST', '/logging');
    assert.equal(list.body, 'active loggers:\n  admin: info\n  upstream: info\n\n');
    await call(port, 'POST', '/logging?level=debug');
    assert.deepEqual([...h.loggers.levels.values()], ['debug', 'debug']);
    const one = await call(port, 'POST', '/logging?upstream=trace');
    assert.equal(one.body, 'active loggers:\n  admin: debug\n  upstream: trace\n\n');
    await call(port, 'POST', '/logging', {
      headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'paths=admin:error,upstream:warning',
    });
    assert.deepEqual([...h.loggers.levels.values()], ['error', 'warning']);
    const bad = await call(port, 'POST', '/logging?nosuch=debug');
    assert.equal(bad.status, 400);
    assert.ok(bad.body.startsWith('error: unknown logger name\n\nusage: /logging?<name>=<level> (change single level)\n'));
    assert.ok(bad.body.includes('levels: trace debug info warning error critical off \n'));
    assert.equal((await call(port, 'POST', '/logging?level=loud')).status, 400);
  });
});

test('/memory, /runtime, /certs, /hot_restart_version', () => {
  return withAdmin(async (port) => {
    const mem = JSON.parse((await call(port, 'GET', '/memory')).body);
    assert.deepEqual(Object.keys(mem), ['allocated', 'heap_size', 'pageheap_unmapped', 'pageheap_free', 'total_thread_cache', 'total_physical_bytes']);
    assert.match(mem.allocated, /^\d+$/);
    assert.equal((await call(port, 'GET', '/runtime')).body, '{\n "entries": {},\n "layers": []\n}\n');
    assert.equal((await call(port, 'GET', '/certs')).body, '{\n "certificates": []\n}\n');
    assert.equal((await call(port, 'GET', '/hot_restart_version')).body, 'disabled');
  });
});

test('server-registered handlers: /clusters and /listeners; duplicates refused; removable', () => {
  return withAdmin(async (port, _h, admin) => {
    assert.ok(admin.addHandler('/clusters', 'upstream cluster status', clustersHandler(() => [{
      name: 'backend', addedViaApi: false,
      hosts: [{
        address: { address: '127.0.0.1', port: 8080 }, weight: 1, priority: 0,
        stats: { cx_total: 3, cx_active: 1, cx_connect_fail: 0, rq_total: 5, rq_active: 0, rq_error: 1, rq_success: 4, rq_timeout: 0 },
      }],
    }])));
    assert.ok(admin.addHandler('/listeners', 'print listener info', listenersHandler(() => [
      { name: 'ingress', localAddress: { address: '0.0.0.0', port: 10000 } },
    ])));
    assert.equal(admin.addHandler('/stats', 'dup', () => ({ status: 200, body: '' })), false);
    assert.equal(admin.removeHandler('/stats'), false);

    const clusters = await call(port, 'GET', '/clusters');
    assert.ok(clusters.body.startsWith('backend::observability_name::backend\nbackend::default_priority::max_connections::1024\n'));
    assert.ok(clusters.body.includes('backend::127.0.0.1:8080::cx_active::1\n'));
    assert.ok(clusters.body.includes('backend::127.0.0.1:8080::health_flags::healthy\n'));
    const listeners = await call(port, 'GET', '/listeners');
    assert.equal(listeners.body, 'ingress::0.0.0.0:10000\n');
    const lj = await call(port, 'GET', '/listeners?format=json');
    assert.equal(lj.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(lj.body), {
      listener_statuses: [{ name: 'ingress', local_address: { socket_address: { address: '0.0.0.0', port_value: 10000 } } }],
    });

    assert.ok(admin.removeHandler('/clusters'));
    assert.equal((await call(port, 'GET', '/clusters')).status, 404);
  });
});

test('binds IPv6 loopback when available', async (t) => {
  const h = makeContext();
  const admin = new AdminServer(h.ctx);
  try {
    await admin.listen({ host: '::1', port: 0 });
  } catch {
    t.skip('no IPv6 loopback');
    return;
  }
  try {
    const addr = admin.address();
    assert.ok(typeof addr === 'object' && addr !== undefined && addr.family === 'IPv6');
    const r = await new Promise<number>((resolve, reject) => {
      http.get({ host: '::1', port: admin.port, path: '/ready', agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      }).on('error', reject);
    });
    assert.equal(r, 200);
  } finally {
    await admin.close();
  }
});

test('in-process request() needs no socket', async () => {
  const h = makeContext();
  const admin = new AdminServer(h.ctx);
  const r = await admin.request('/ready', 'GET');
  assert.deepEqual([r.status, r.body], [200, 'LIVE\n']);
  const refused = await admin.request('/healthcheck/fail', 'HEAD');
  assert.equal(refused.status, 405);
  assert.equal(refused.body, 'Method HEAD not allowed, POST required.');
});
