/**
 * Active health checking end to end with real Legate processes: Legate A
 * health-checks Legate B (health_check filter, pass_through_mode false) and a
 * plain upstream C. B put into /healthcheck/fail is failed by A at once —
 * actively (its 503 check answer carries x-envoy-immediate-health-check-fail)
 * and passively (a normal response through A's router carries it) — traffic
 * moves to C, /clusters shows the flags, the event log has the events. Also
 * the filter on its own: cluster_min_healthy_percentages, pass-through with
 * cache_time, and its config errors.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runLegate, startLegate, writeTempConfig, type LegateProcess } from '../support/legate_process.js';
import { eventually, readStats, request, startUpstream, type TestServer } from '../support/http_util.js';

const tmp = mkdtempSync(join(tmpdir(), 'legate-hc-e2e-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const ADMIN = `admin:
  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }`;

function hcm(statPrefix: string, filters: string, routes: string): string {
  return `    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ${statPrefix}
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
${routes}
          http_filters:
${filters}
          - name: envoy.filters.http.router
            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }`;
}

function healthCheckFilter(body: string): string {
  return `          - name: envoy.filters.http.health_check
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.health_check.v3.HealthCheck
              headers: [{ name: ":path", string_match: { exact: /healthz } }]
${body.split('\n').map((l) => `              ${l}`).join('\n')}`;
}

function staticCluster(name: string, ports: number[], healthCheck: string): string {
  return `  - name: ${name}
    type: STATIC
    connect_timeout: 1s
    load_assignment:
      cluster_name: ${name}
      endpoints:
      - lb_endpoints:
${ports.map((p) => `        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${p} } } }`).join('\n')}
    health_checks:
${healthCheck.split('\n').map((l) => `    ${l}`).join('\n')}`;
}

/** Legate B: answers /healthz itself (pass_through_mode false), everything else with "from-b". */
function legateBConfig(dPort: number): string {
  return `${ADMIN}
node: { id: b, cluster: backend-b }
static_resources:
  listeners:
  - name: ingress
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
${hcm('ingress_http', healthCheckFilter(`pass_through_mode: false
cluster_min_healthy_percentages: { d: { value: 100 } }`), `              - match: { prefix: / }
                direct_response: { status: 200, body: { inline_string: from-b } }`)}
  - name: passthrough
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
${hcm('pt', healthCheckFilter(`pass_through_mode: true
cache_time: 60s`), `              - match: { prefix: / }
                route: { cluster: d }`)}
  clusters:
${staticCluster('d', [dPort], `- timeout: 1s
  interval: 0.1s
  no_traffic_interval: 0.1s
  unhealthy_threshold: 1
  healthy_threshold: 1
  http_health_check: { path: /healthz }`)}
`;
}

/** Legate A: `active` checks often; `passive` checks once a minute (only traffic can fail it in time). */
function legateAConfig(ports: number[], eventLog: string): string {
  return `${ADMIN}
static_resources:
  listeners:
  - name: ingress
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
${hcm('ingress_http', '', `              - match: { prefix: /passive }
                route: { cluster: passive }
              - match: { prefix: / }
                route: { cluster: active }`)}
  clusters:
${staticCluster('active', ports, `- timeout: 1s
  interval: 0.15s
  no_traffic_interval: 0.15s
  unhealthy_threshold: 3
  healthy_threshold: 1
  always_log_health_check_failures: true
  event_log_path: ${eventLog}
  http_health_check: { path: /healthz }`)}
${staticCluster('passive', ports, `- timeout: 1s
  interval: 60s
  unhealthy_threshold: 3
  healthy_threshold: 1
  http_health_check: { path: /healthz }`)}
`;
}

describe('one Legate health-checks another', () => {
  let c: TestServer;
  let d: TestServer;
  let dHealthy = true;
  let b: LegateProcess;
  let a: LegateProcess;
  let bPort: number;
  const eventLog = join(tmp, 'a_hc_events.log');

  before(async () => {
    c = await startUpstream((_req, res) => res.end('from-c'));
    d = await startUpstream((req, res) => {
      if (req.url === '/healthz' && req.headers['user-agent'] === 'Envoy/HC') {
        res.statusCode = dHealthy ? 200 : 503;
        res.end();
        return;
      }
      res.end('from-d');
    });
    b = await startLegate(legateBConfig(d.port), { expectListeners: ['ingress', 'passthrough'], expectAdmin: true });
    bPort = b.ports.get('ingress')!;
    a = await startLegate(legateAConfig([bPort, c.port], eventLog), { expectListeners: ['ingress'], expectAdmin: true });
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
    await c?.close();
    await d?.close();
  });

  const bodies = async (path: string, n: number): Promise<Set<string>> => {
    const out = new Set<string>();
    for (let i = 0; i < n; i++) out.add((await request(a.ports.get('ingress')!, { path })).body);
    return out;
  };
  const clusters = async (): Promise<string> => (await request(a.adminPort!, { path: '/clusters' })).body;

  it('the health_check filter answers /healthz itself with the local cluster name', async () => {
    const r = await request(bPort, { path: '/healthz' });
    assert.equal(r.status, 200);
    assert.equal(r.headers['x-envoy-upstream-healthchecked-cluster'], 'backend-b');
    assert.equal(r.headers['x-envoy-immediate-health-check-fail'], undefined);
    const other = await request(bPort, { path: '/x' });
    assert.equal(other.body, 'from-b');
    assert.equal(other.headers['x-envoy-upstream-healthchecked-cluster'], undefined);
  });

  it('both hosts start healthy and share the traffic', async () => {
    assert.deepEqual(await bodies('/', 4), new Set(['from-b', 'from-c']));
    const text = await clusters();
    assert.match(text, new RegExp(`active::127\\.0\\.0\\.1:${bPort}::health_flags::healthy`));
    assert.match(text, new RegExp(`active::127\\.0\\.0\\.1:${c.port}::health_flags::healthy`));
  });

  it('a response through the router with x-envoy-immediate-health-check-fail fails the host at once (passive)', async () => {
    const fail = await request(b.adminPort!, { method: 'POST', path: '/healthcheck/fail' });
    assert.equal(fail.status, 200);
    const direct = await request(bPort, { path: '/x' });
    assert.equal(direct.headers['x-envoy-immediate-health-check-fail'], 'true', 'B marks every response while failed');
    const hc = await request(bPort, { path: '/healthz' });
    assert.equal(hc.status, 503);
    assert.equal(hc.headers['x-envoy-immediate-health-check-fail'], 'true');

    // The passive cluster checks once a minute: only the router can take B out now.
    const seen = await bodies('/passive', 2);
    assert.ok(seen.has('from-b'), 'one of two round-robin requests reached B');
    await eventually(async () => (await readStats(a.adminPort!)).get('cluster.passive.health_check.passive_failure') === 1, 3000, 'passive_failure');
    assert.deepEqual(await bodies('/passive', 6), new Set(['from-c']));
    assert.match(await clusters(), new RegExp(`passive::127\\.0\\.0\\.1:${bPort}::health_flags::/failed_active_hc/excluded_via_immediate_hc_fail`));
  });

  it('the active checker fails B on its first failed check, and traffic moves to C', async () => {
    await eventually(async () => /active::127\.0\.0\.1:\d+::health_flags::\/failed_active_hc\/excluded_via_immediate_hc_fail/.test(await clusters()), 3000, 'active cluster to fail B');
    assert.deepEqual(await bodies('/', 6), new Set(['from-c']));
    const stats = await readStats(a.adminPort!);
    assert.equal(stats.get('cluster.active.health_check.healthy'), 1);
    assert.ok((stats.get('cluster.active.health_check.failure') ?? 0) >= 1);
  });

  it('B comes back after /healthcheck/ok, and the event log tells the story', async () => {
    await request(b.adminPort!, { method: 'POST', path: '/healthcheck/ok' });
    await eventually(async () => new RegExp(`active::127\\.0\\.0\\.1:${bPort}::health_flags::healthy`).test(await clusters()), 3000, 'B healthy again');
    assert.deepEqual(await bodies('/', 4), new Set(['from-b', 'from-c']));
    // Stopping A flushes its logs.
    await a.stop();
    const events = readFileSync(eventLog, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const forB = events.filter((e) => (e.host as { socket_address: { port_value: number } }).socket_address.port_value === bPort);
    const kinds = forB.map((e) => Object.keys(e).find((k) => k.endsWith('_event')));
    assert.equal(kinds[0], 'add_healthy_event');
    // Ejected on the first failure despite unhealthy_threshold 3: the eject comes with the first failure event.
    const firstFailure = kinds.indexOf('health_check_failure_event');
    assert.ok(firstFailure > 0);
    assert.equal(kinds[firstFailure - 1], 'eject_unhealthy_event');
    assert.deepEqual(forB[firstFailure - 1]!.eject_unhealthy_event, { failure_type: 'ACTIVE' });
    assert.equal(kinds.at(-1), 'add_healthy_event');
    assert.equal(forB[0]!.cluster_name, 'active');
  });

  it('cluster_min_healthy_percentages: 503 while the cluster is below its minimum', async () => {
    dHealthy = false;
    await eventually(async () => (await request(bPort, { path: '/healthz' })).status === 503, 3000, '503 from B');
    const stats = await readStats(b.adminPort!);
    assert.ok((stats.get('http.ingress_http.health_check.failed_cluster_unhealthy') ?? 0) >= 1);
    dHealthy = true;
    await eventually(async () => (await request(bPort, { path: '/healthz' })).status === 200, 3000, '200 from B');
  });

  it('pass-through mode forwards the check and reuses the answer for cache_time', async () => {
    const pt = b.ports.get('passthrough')!;
    const before = d.requests.filter((r) => r.url === '/healthz' && r.headers['user-agent'] !== 'Envoy/HC').length;
    const r1 = await request(pt, { path: '/healthz' });
    const r2 = await request(pt, { path: '/healthz' });
    assert.equal(r1.status, 200);
    assert.equal(r2.status, 200);
    assert.equal(r2.headers['x-envoy-upstream-healthchecked-cluster'], 'backend-b');
    const after = d.requests.filter((r) => r.url === '/healthz' && r.headers['user-agent'] !== 'Envoy/HC').length;
    assert.equal(after - before, 1, 'the second check was answered from the cache');
    const stats = await readStats(b.adminPort!);
    assert.equal(stats.get('http.pt.health_check.cached_response'), 1);
    assert.equal(stats.get('http.pt.health_check.request_total'), 2);
  });
});

describe('health check config errors at load', () => {
  it('rejects cache_time without pass_through_mode', async () => {
    const yaml = legateBConfig(1).replace('pass_through_mode: false', 'pass_through_mode: false\n              cache_time: 5s');
    const r = await runLegate(['--mode', 'validate', '-c', writeTempConfig(yaml)]);
    assert.notEqual(r.code, 0);
    assert.match(r.stdout + r.stderr, /cache_time must not be set when pass_through_mode is disabled/);
  });

  it('rejects a zero health check interval with the field path', async () => {
    const yaml = legateBConfig(1).replace('interval: 0.1s\n', 'interval: 0s\n');
    const p = join(tmp, 'zero_interval.yaml');
    writeFileSync(p, yaml);
    const r = await runLegate(['--mode', 'validate', '-c', p]);
    assert.notEqual(r.code, 0);
    assert.match(r.stdout + r.stderr, /static_resources\.clusters\[0\]\.health_checks\[0\]\.interval/);
  });
});
