/**
 * Active health checking (HTTP, TCP, gRPC) against real upstreams, with the
 * simulated clock driving intervals and timeouts: thresholds, traffic moving
 * off an unhealthy host and back, timeouts, expected_statuses, payloads,
 * gRPC NOT_SERVING, the event log, stats, and every connection closed on
 * shutdown.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HealthFlag } from '../../src/envoy/upstream/host.js';
import { startFaultyUpstream } from '../support/faulty_upstream.js';
import { startUpstream } from '../support/http_util.js';
import { startH2Upstream } from '../support/h2_upstream.js';
import { clusterFromYaml } from './helpers.js';
import {
  ServingStatus,
  bootstrapYaml,
  clusterYaml,
  startGrpcHealthServer,
  startHarness,
  startTcpServer,
  waitFor,
  type HcHarness,
} from './health_check_support.js';

const tmp = mkdtempSync(join(tmpdir(), 'legate-hc-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function httpCheck(o: { unhealthy?: number; healthy?: number; extra?: string; http?: string } = {}): string {
  return `- timeout: 1s
  interval: 5s
  no_traffic_interval: 5s
  unhealthy_threshold: ${o.unhealthy ?? 2}
  healthy_threshold: ${o.healthy ?? 2}
${o.extra ?? ''}
  http_health_check:
    path: /healthz
${o.http ?? ''}`;
}

const failed = (h: HcHarness, port: number): boolean => (h.host('c', port).healthFlags & HealthFlag.FailedActiveHc) !== 0;

describe('HTTP health checks', () => {
  it('fails a host after unhealthy_threshold network failures, moves traffic, and takes it back after healthy_threshold successes', async () => {
    const a = await startFaultyUpstream('a');
    const b = await startFaultyUpstream('b');
    const h = await startHarness(bootstrapYaml(clusterYaml('c', [a.port, b.port], httpCheck({ unhealthy: 2, healthy: 2 }))));
    try {
      // Warming waited for the first round: both hosts passed their first check.
      assert.equal(failed(h, a.port), false);
      assert.equal(failed(h, b.port), false);
      assert.equal(a.requests[0]?.url, '/healthz');
      assert.equal(a.requests[0]?.headers['user-agent'], 'Envoy/HC');
      assert.equal(a.requests[0]?.headers.host, 'c', 'host defaults to the cluster name');
      assert.deepEqual(new Set(h.picks('c', 4)), new Set([a.port, b.port]));
      assert.equal(h.stat('cluster.c.health_check.healthy'), 2);

      await a.stopListening();
      await h.step(5000);
      assert.equal(failed(h, a.port), false, 'one failure is below unhealthy_threshold 2');
      assert.equal(h.stat('cluster.c.health_check.network_failure'), 1);
      await h.step(5000);
      assert.equal(failed(h, a.port), true, 'second failure reaches the threshold');
      assert.deepEqual(new Set(h.picks('c', 6)), new Set([b.port]), 'the load balancer stops picking the failed host');
      assert.equal(h.stat('cluster.c.health_check.healthy'), 1);
      assert.equal(h.stat('cluster.c.membership_healthy'), 1);

      await a.listenAgain();
      await h.step(5000);
      assert.equal(failed(h, a.port), true, 'one success is below healthy_threshold 2');
      await h.step(5000);
      assert.equal(failed(h, a.port), false);
      assert.deepEqual(new Set(h.picks('c', 6)), new Set([a.port, b.port]));
      assert.equal(h.stat('cluster.c.health_check.healthy'), 2);
      assert.ok((h.stat('cluster.c.health_check.attempt') ?? 0) >= 10);
      assert.equal(h.stat('cluster.c.health_check.failure'), 2);
    } finally {
      h.stop();
      await a.close();
      await b.close();
    }
  });

  it('a status outside expected_statuses fails the host at once; a retriable one counts toward the threshold', async () => {
    const a = await startFaultyUpstream('a');
    const b = await startFaultyUpstream('b');
    const http = `    expected_statuses: [{ start: 200, end: 300 }]
    retriable_statuses: [{ start: 429, end: 430 }]`;
    const h = await startHarness(bootstrapYaml(clusterYaml('c', [a.port, b.port], httpCheck({ unhealthy: 3, http }))));
    try {
      a.setDefault({ kind: 'status', status: 204 });
      await h.step(5000);
      assert.equal(failed(h, a.port), false, '204 is in [200, 300)');
      a.setDefault({ kind: 'status', status: 429 });
      await h.step(5000);
      await h.step(5000);
      assert.equal(failed(h, a.port), false, 'two retriable failures are below the threshold of 3');
      a.setDefault({ kind: 'status', status: 503 });
      await h.step(5000);
      assert.equal(failed(h, a.port), true, 'a non-retriable status ejects at once');
      assert.equal(h.stat('cluster.c.health_check.network_failure'), 0);
      assert.equal(h.stat('cluster.c.health_check.failure'), 3);
    } finally {
      h.stop();
      await a.close();
      await b.close();
    }
  });

  it('default expected status is 200 only; x-envoy-immediate-health-check-fail on the check excludes the host', async () => {
    const a = await startFaultyUpstream('a');
    const b = await startFaultyUpstream('b');
    const h = await startHarness(bootstrapYaml(clusterYaml('c', [a.port, b.port], httpCheck({ unhealthy: 5 }))));
    try {
      a.setDefault({ kind: 'status', status: 503, headers: { 'x-envoy-immediate-health-check-fail': 'true' } });
      await h.step(5000);
      const flags = h.host('c', a.port).healthFlags;
      assert.ok(flags & HealthFlag.FailedActiveHc);
      assert.ok(flags & HealthFlag.ExcludedViaImmediateHcFail);
      assert.equal(h.stat('cluster.c.membership_excluded'), 1);
      assert.deepEqual(new Set(h.picks('c', 4)), new Set([b.port]));
      b.setDefault({ kind: 'status', status: 201 });
      await h.step(5000);
      assert.equal(failed(h, b.port), true, '201 is not the default expected 200');
      // Both unhealthy: panic mode routes to all hosts again (Envoy's healthy_panic_threshold).
      a.setDefault({ kind: 'ok' });
      b.setDefault({ kind: 'ok' });
      await h.step(5000);
      await h.step(5000);
      assert.equal(h.host('c', a.port).healthFlags, 0, 'passing again clears failed and excluded');
    } finally {
      h.stop();
      await a.close();
      await b.close();
    }
  });

  it('a check that times out is a failure and marks active_hc_timeout', async () => {
    const a = await startFaultyUpstream('a');
    const b = await startFaultyUpstream('b');
    const h = await startHarness(bootstrapYaml(clusterYaml('c', [a.port, b.port], httpCheck({ unhealthy: 1 }))));
    try {
      a.setDefault({ kind: 'hang' });
      await h.step(5000); // the check goes out and hangs
      assert.equal(failed(h, a.port), false);
      await h.step(999);
      assert.equal(failed(h, a.port), false, 'not before the 1 s timeout');
      await h.step(1);
      const flags = h.host('c', a.port).healthFlags;
      assert.ok(flags & HealthFlag.FailedActiveHc);
      assert.ok(flags & HealthFlag.ActiveHcTimeout);
      assert.equal(h.stat('cluster.c.health_check.network_failure'), 1);
    } finally {
      h.stop();
      await a.close();
      await b.close();
    }
  });

  it('sends the configured headers and host, and checks the body with receive', async () => {
    let body = 'all good';
    const seen: Array<Record<string, string | string[] | undefined>> = [];
    const up = await startUpstream((req, res) => {
      seen.push(req.headers);
      res.end(body);
    });
    const http = `    host: health.example
    request_headers_to_add:
    - header: { key: x-hc, value: one }
    - header: { key: x-hc, value: two }
      append_action: APPEND_IF_EXISTS_OR_ADD
    request_headers_to_remove: [user-agent]
    receive: [{ text: "676f6f64" }]`;
    const h = await startHarness(bootstrapYaml(clusterYaml('c', [up.port], httpCheck({ unhealthy: 1, http }))));
    try {
      assert.equal(seen[0]?.host, 'health.example');
      assert.equal(seen[0]?.['x-hc'], 'one, two');
      assert.equal(seen[0]?.['user-agent'], undefined);
      assert.equal(failed(h, up.port), false, 'body contains "good"');
      body = 'all bad';
      await h.step(5000);
      assert.equal(failed(h, up.port), true, 'body no longer contains the payload');
    } finally {
      h.stop();
      await up.close();
    }
  });

  it('checks over HTTP/2 with codec_client_type HTTP2', async () => {
    const up = await startH2Upstream();
    const h = await startHarness(bootstrapYaml(clusterYaml('c', [up.port], httpCheck({ unhealthy: 1, http: '    codec_client_type: HTTP2' }))));
    try {
      assert.equal(failed(h, up.port), false);
      assert.equal(up.requests[0]?.headers[':path'], '/healthz');
      assert.equal(up.requests[0]?.headers[':authority'], 'c');
    } finally {
      h.stop();
      await up.close();
    }
  });

  it('uses no_traffic_interval (default 60 s) until the cluster has traffic', async () => {
    const a = await startFaultyUpstream('a');
    const check = `- timeout: 1s
  interval: 1s
  unhealthy_threshold: 1
  healthy_threshold: 1
  http_health_check: { path: /healthz }`;
    const h = await startHarness(bootstrapYaml(clusterYaml('c', [a.port], check)));
    try {
      assert.equal(a.requests.length, 1);
      await h.step(30_000);
      assert.equal(a.requests.length, 1, 'no second check within 60 s without traffic');
      await h.step(30_000);
      assert.equal(a.requests.length, 2);
      // Traffic on the cluster: back to `interval`.
      h.stats.rootScope.counter('cluster.c.upstream_cx_total').inc();
      await h.step(60_000);
      await h.step(1000);
      assert.equal(a.requests.length, 4);
    } finally {
      h.stop();
      await a.close();
    }
  });

  it('writes eject, failure and add events to event_log_path', async () => {
    const a = await startFaultyUpstream('a');
    const b = await startFaultyUpstream('b');
    const path = join(tmp, 'hc_events.log');
    const h = await startHarness(bootstrapYaml(clusterYaml('c', [a.port, b.port], httpCheck({ unhealthy: 1, healthy: 1, extra: `  event_log_path: ${path}` }))));
    try {
      a.setDefault({ kind: 'status', status: 500 });
      await h.step(5000);
      a.setDefault({ kind: 'ok' });
      await h.step(5000);
      h.logs.flushAll();
      const events = readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      const forA = events.filter((e) => (e.host as { socket_address: { port_value: number } }).socket_address.port_value === a.port);
      // First check passed (add_healthy_event first_check), then ejected, then added back.
      assert.deepEqual(forA.map((e) => Object.keys(e).find((k) => k.endsWith('_event'))), ['add_healthy_event', 'eject_unhealthy_event', 'add_healthy_event']);
      assert.deepEqual(forA[0]!.add_healthy_event, { first_check: true });
      assert.deepEqual(forA[1]!.eject_unhealthy_event, { failure_type: 'ACTIVE' });
      assert.deepEqual(forA[2]!.add_healthy_event, { first_check: false });
      for (const e of forA) {
        assert.equal(e.cluster_name, 'c');
        assert.equal(e.health_checker_type, 'HTTP');
        assert.equal((e.host as { socket_address: { address: string } }).socket_address.address, '127.0.0.1');
        // The simulated wall clock (2026-01-01 + monotonic time), not the real one.
        assert.match(String(e.timestamp), /^2026-01-01T00:\d\d:\d\d(\.\d+)?Z$/);
      }
    } finally {
      h.stop();
      await a.close();
      await b.close();
    }
  });

  it('reuse_connection keeps one connection; every connection closes on shutdown and no timer is left', async () => {
    const up = await startUpstream((_req, res) => res.end('ok'));
    let connections = 0;
    let open = 0;
    up.server.on('connection', (s) => {
      connections++;
      open++;
      s.on('close', () => open--);
    });
    const h = await startHarness(bootstrapYaml(clusterYaml('c', [up.port], httpCheck())));
    await h.step(5000);
    await h.step(5000);
    assert.equal(up.requests.length, 3);
    assert.equal(connections, 1, 'one connection for three checks');
    h.stop();
    assert.equal(h.time.pendingCount(), 0, 'no health check timer left');
    await waitFor(() => open === 0, 'the health check connection to close');
    await up.close();
  });

  it('reuse_connection: false opens a connection per check', async () => {
    const up = await startUpstream((_req, res) => res.end('ok'));
    let connections = 0;
    up.server.on('connection', () => connections++);
    const h = await startHarness(bootstrapYaml(clusterYaml('c', [up.port], httpCheck({ extra: '  reuse_connection: false' }))));
    try {
      await h.step(5000);
      await h.step(5000);
      assert.equal(up.requests.length, 3);
      assert.equal(connections, 3);
    } finally {
      h.stop();
      await up.close();
    }
  });
});

describe('health checks of CDS clusters', () => {
  it('a warming CDS cluster waits for its first check; removing it stops every check and closes the connection', async () => {
    const seed = await startFaultyUpstream('seed');
    const up = await startUpstream((_req, res) => res.end('ok'));
    let open = 0;
    up.server.on('connection', (s) => {
      open++;
      s.on('close', () => open--);
    });
    const h = await startHarness(bootstrapYaml(clusterYaml('c', [seed.port], httpCheck())));
    try {
      const timersBefore = h.time.pendingCount();
      const cds = clusterFromYaml(`
name: dyn
type: STATIC
connect_timeout: 1s
load_assignment:
  cluster_name: dyn
  endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${up.port} } } } }] }]
health_checks:
- { timeout: 1s, interval: 5s, unhealthy_threshold: 1, healthy_threshold: 1, http_health_check: { path: /healthz } }`);
      assert.equal(h.cm.addOrUpdateCluster(cds, 'v1'), true);
      assert.deepEqual(h.cm.warmingClusterNames(), ['dyn'], 'warming until the first check completes');
      await waitFor(() => h.cm.getThreadLocalCluster('dyn') !== undefined, 'dyn to warm');
      assert.equal(up.requests.length, 1);
      assert.ok(h.time.pendingCount() > timersBefore);
      assert.equal(h.cm.removeCluster('dyn'), true);
      assert.equal(h.time.pendingCount(), timersBefore, 'the removed cluster left no health check timer');
      await waitFor(() => open === 0, 'the removed cluster health check connection to close');
      await h.step(60_000);
      assert.equal(up.requests.length, 1, 'no check after removal');
    } finally {
      h.stop();
      await up.close();
      await seed.close();
    }
  });
});

describe('TCP health checks', () => {
  it('passes when the reply contains the receive payloads; a mismatch fails by timeout', async () => {
    let answer = 'pong';
    const server = await startTcpServer((d) => (d.toString() === 'ping' ? Buffer.from(answer) : null));
    const check = `- timeout: 1s
  interval: 5s
  no_traffic_interval: 5s
  unhealthy_threshold: 1
  healthy_threshold: 1
  tcp_health_check:
    send: { text: "70696e67" }
    receive: [{ text: "706f6e67" }]`;
    const h = await startHarness(bootstrapYaml(clusterYaml('c', [server.port], check)));
    try {
      assert.equal(failed(h, server.port), false);
      answer = 'nope';
      await h.step(5000);
      assert.equal(failed(h, server.port), false, 'a wrong answer waits for the rest until the timeout');
      await h.step(1000);
      assert.equal(failed(h, server.port), true);
      assert.ok(h.host('c', server.port).healthFlags & HealthFlag.ActiveHcTimeout);
      answer = 'pong';
      await h.step(5000);
      assert.equal(failed(h, server.port), false);
      h.stop();
      await waitFor(() => server.connections() === 0, 'TCP health check connection to close');
    } finally {
      h.stop();
      await server.close();
    }
  });

  it('without receive a connection is enough, and a refused one fails', async () => {
    const server = await startTcpServer(() => null);
    const check = `- timeout: 1s
  interval: 5s
  no_traffic_interval: 5s
  unhealthy_threshold: 1
  healthy_threshold: 1
  tcp_health_check: {}`;
    const h = await startHarness(bootstrapYaml(clusterYaml('c', [server.port], check)));
    try {
      assert.equal(failed(h, server.port), false);
      await server.close();
      await h.step(5000);
      assert.equal(failed(h, server.port), true);
      assert.equal(h.stat('cluster.c.health_check.network_failure'), 1);
    } finally {
      h.stop();
    }
  });
});

describe('gRPC health checks', () => {
  it('SERVING passes, NOT_SERVING and an unknown service fail at once', async () => {
    const server = await startGrpcHealthServer();
    server.statuses.set('pay', ServingStatus.SERVING);
    const check = `- timeout: 1s
  interval: 5s
  no_traffic_interval: 5s
  unhealthy_threshold: 3
  healthy_threshold: 1
  grpc_health_check: { service_name: pay, authority: pay.internal }`;
    const h = await startHarness(bootstrapYaml(clusterYaml('c', [server.port], check, '      http2_protocol_options: {}')));
    try {
      assert.equal(failed(h, server.port), false);
      assert.deepEqual(server.asked, ['pay']);
      assert.equal(server.authorities[0], 'pay.internal');
      server.statuses.set('pay', ServingStatus.NOT_SERVING);
      await h.step(5000);
      assert.equal(failed(h, server.port), true, 'NOT_SERVING ejects at once despite unhealthy_threshold 3');
      server.statuses.set('pay', ServingStatus.SERVING);
      await h.step(5000);
      assert.equal(failed(h, server.port), false);
      server.statuses.delete('pay');
      await h.step(5000);
      assert.equal(failed(h, server.port), true, 'grpc-status NOT_FOUND fails');
      assert.equal(h.stat('cluster.c.health_check.network_failure'), 0);
    } finally {
      h.stop();
      await server.close();
    }
  });
});

describe('health check config errors', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['zero interval', '- { timeout: 1s, interval: 0s, unhealthy_threshold: 1, healthy_threshold: 1, http_health_check: { path: /h } }', /interval.*(greater than 0|gt)/],
    ['negative timeout', '- { timeout: -1s, interval: 1s, unhealthy_threshold: 1, healthy_threshold: 1, http_health_check: { path: /h } }', /timeout/],
    ['missing unhealthy_threshold', '- { timeout: 1s, interval: 1s, healthy_threshold: 1, http_health_check: { path: /h } }', /unhealthy_threshold/],
    ['missing healthy_threshold', '- { timeout: 1s, interval: 1s, unhealthy_threshold: 1, http_health_check: { path: /h } }', /healthy_threshold/],
    ['unhealthy_threshold 0', '- { timeout: 1s, interval: 1s, unhealthy_threshold: 0, healthy_threshold: 1, http_health_check: { path: /h } }', /unhealthy_threshold: must be at least 1/],
    ['healthy_threshold 0', '- { timeout: 1s, interval: 1s, unhealthy_threshold: 1, healthy_threshold: 0, http_health_check: { path: /h } }', /\.healthy_threshold: must be at least 1/],
    ['no checker', '- { timeout: 1s, interval: 1s, unhealthy_threshold: 1, healthy_threshold: 1 }', /health_checks\[0\].*(health checker is required|health_checker)/],
    ['range start >= end', '- { timeout: 1s, interval: 1s, unhealthy_threshold: 1, healthy_threshold: 1, http_health_check: { path: /h, expected_statuses: [{ start: 300, end: 200 }] } }', /expected_statuses\[0\].*start < end, but found start=300 and end=200/],
    ['range below 100', '- { timeout: 1s, interval: 1s, unhealthy_threshold: 1, healthy_threshold: 1, http_health_check: { path: /h, expected_statuses: [{ start: 99, end: 200 }] } }', /expected_statuses\[0\]\.start.*start >= 100/],
    ['range above 600', '- { timeout: 1s, interval: 1s, unhealthy_threshold: 1, healthy_threshold: 1, http_health_check: { path: /h, expected_statuses: [{ start: 200, end: 601 }] } }', /expected_statuses\[0\]\.end.*end <= 600/],
    ['bad hex payload', '- { timeout: 1s, interval: 1s, unhealthy_threshold: 1, healthy_threshold: 1, tcp_health_check: { send: { text: "zz" } } }', /tcp_health_check\.send\.text.*invalid hex string 'zz'/],
    ['body on GET', '- { timeout: 1s, interval: 1s, unhealthy_threshold: 1, healthy_threshold: 1, http_health_check: { path: /h, send: { text: "00" } } }', /send.*method 'GET'/],
    ['host header in request_headers_to_add', '- { timeout: 1s, interval: 1s, unhealthy_threshold: 1, healthy_threshold: 1, http_health_check: { path: /h, request_headers_to_add: [{ header: { key: host, value: x } }] } }', /request_headers_to_add\[0\]\.header\.key.*may not be modified/],
    ['two health checks', `- { timeout: 1s, interval: 1s, unhealthy_threshold: 1, healthy_threshold: 1, tcp_health_check: {} }
- { timeout: 1s, interval: 1s, unhealthy_threshold: 1, healthy_threshold: 1, tcp_health_check: {} }`, /health_checks.*multiple health checks are not supported/],
  ];
  for (const [name, hc, re] of cases) {
    it(`rejects ${name}`, async () => {
      await assert.rejects(() => startHarness(bootstrapYaml(clusterYaml('c', [1], hc))), (e: Error) => {
        assert.match(e.message, re);
        assert.match(e.message, /clusters\[0\]\.health_checks/);
        return true;
      });
    });
  }
});
