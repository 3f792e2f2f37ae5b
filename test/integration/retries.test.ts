/**
 * Router retries and hedging through a real legate process, in front of
 * misbehaving upstreams (test/support/faulty_upstream.ts), as Envoy's router
 * documents them: retry_on conditions, num_retries and x-envoy-max-retries,
 * the response flag URX, connect failures retried on another host
 * (previous_hosts), resets, request bodies replayed (and not when they
 * outgrow per_request_buffer_limit_bytes), per_try_timeout /
 * per_try_idle_timeout, hedge_on_per_try_timeout, the retry circuit breaker,
 * the x-envoy-retry-* request headers and x-envoy-attempt-count. Every
 * scenario has its own cluster and upstream, so its stats are its own.
 */
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLegate, type LegateProcess } from '../support/legate_process.js';
import { eventually, readStats, request } from '../support/http_util.js';
import { startFaultyUpstream, type FaultyUpstream } from '../support/faulty_upstream.js';
import { indent } from './fixtures.js';

const PREVIOUS_HOSTS = `retry_host_predicate:
- name: envoy.retry_host_predicates.previous_hosts
  typed_config: { "@type": type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate }
host_selection_retry_max_attempts: 100`;

interface Scenario {
  /** Route prefix `/<name>` → cluster `c_<name>` with the upstream `<name>`. */
  name: string;
  /** The route's retry_policy body (YAML), or '' for none. */
  policy?: string;
  routeExtra?: string;
  /** Route-level fields beside `route:` (e.g. per_request_buffer_limit_bytes). */
  routeFields?: string;
  clusterExtra?: string;
  /** Extra upstreams of the cluster (their ports), after the scenario's own. */
  extraPorts?: number[];
  /** Virtual host: 'main' (attempt counts on), 'bare' (nothing), 'vh' (a virtual-host retry policy). */
  vhost?: 'main' | 'bare' | 'vh';
  /** The route timeout (default 5s). */
  timeout?: string;
}

function routeYaml(s: Scenario): string {
  const policy = s.policy ? `\n  retry_policy:\n${indent(s.policy, 4)}` : '';
  return `- match: { prefix: "/${s.name}/" }
${s.routeFields ? s.routeFields + '\n' : ''}  route:
    cluster: c_${s.name}
    timeout: ${s.timeout ?? '5s'}${s.routeExtra ? '\n' + indent(s.routeExtra, 4) : ''}${indent(policy, 2)}`;
}

function clusterYaml(s: Scenario, port: number): string {
  const endpoints = [port, ...(s.extraPorts ?? [])]
    .map((p) => `      - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${p} } } }`).join('\n');
  return `- name: c_${s.name}
  type: STATIC
  connect_timeout: 1s
${s.clusterExtra ? indent(s.clusterExtra, 2) + '\n' : ''}  load_assignment:
    cluster_name: c_${s.name}
    endpoints:
    - lb_endpoints:
${endpoints}`;
}

function config(scenarios: Scenario[], ports: Map<string, number>, logPath: string): string {
  const routesOf = (v: string) => scenarios.filter((s) => (s.vhost ?? 'main') === v).map(routeYaml).join('\n');
  return `
admin:
  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
static_resources:
  listeners:
  - name: ingress
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress_http
          access_log:
          - name: envoy.access_loggers.file
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: ${logPath}
              log_format: { text_format_source: { inline_string: "%REQ(:PATH)% %RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %UPSTREAM_REQUEST_ATTEMPT_COUNT% %UPSTREAM_HOST%\\n" } }
          route_config:
            name: local_route
            virtual_hosts:
            - name: main
              domains: ["*"]
              include_request_attempt_count: true
              include_attempt_count_in_response: true
              routes:
${indent(routesOf('main'), 14)}
            - name: bare
              domains: ["bare"]
              routes:
${indent(routesOf('bare'), 14)}
            - name: vh
              domains: ["vh"]
              retry_policy: { retry_on: 5xx, num_retries: 3, retry_back_off: { base_interval: 0.002s } }
              routes:
${indent(routesOf('vh'), 14)}
          http_filters:
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
${indent(scenarios.map((s) => clusterYaml(s, ports.get(s.name)!)).join('\n'), 2)}
`;
}

const FAST = 'retry_back_off: { base_interval: 0.002s }';

describe('router retries', () => {
  const upstreams = new Map<string, FaultyUpstream>();
  let dead: FaultyUpstream;
  let legate: LegateProcess;
  let port: number;
  let logPath: string;

  const up = (name: string): FaultyUpstream => upstreams.get(name)!;
  const stat = async (name: string): Promise<number | undefined> => (await readStats(legate.adminPort!)).get(name);
  /** The access-log line of `path` (waits for the flush). */
  const logLine = async (path: string): Promise<string> => {
    let line = '';
    await eventually(() => {
      try {
        line = readFileSync(logPath, 'utf8').split('\n').find((l) => l.startsWith(path + ' ')) ?? '';
      } catch { /* not yet written */ }
      return line !== '';
    }, 5000, `access log line for ${path}`);
    return line;
  };

  before(async () => {
    dead = await startFaultyUpstream('dead');
    await dead.stopListening();
    const scenarios: Scenario[] = [
      { name: 'r5xx', policy: `retry_on: 5xx\nnum_retries: 2\n${FAST}` },
      { name: 'exhaust', policy: `retry_on: 5xx\nnum_retries: 2\n${FAST}` },
      { name: 'connect', policy: `retry_on: connect-failure\nnum_retries: 1\n${PREVIOUS_HOSTS}`, clusterExtra: 'lb_policy: RANDOM', extraPorts: [dead.port] },
      { name: 'reset', policy: `retry_on: reset\n${FAST}` },
      { name: 'noreset', policy: `retry_on: connect-failure\n${FAST}` },
      { name: 'body', policy: `retry_on: 5xx\n${FAST}`, routeFields: '  per_request_buffer_limit_bytes: 1024' },
      { name: 'pertry', policy: `retry_on: 5xx\nnum_retries: 1\nper_try_timeout: 0.2s\n${FAST}` },
      { name: 'idle', policy: `retry_on: 5xx\nnum_retries: 1\nper_try_idle_timeout: 0.2s\n${FAST}` },
      { name: 'hedge', policy: `retry_on: 5xx\nnum_retries: 1\nper_try_timeout: 0.15s\n${FAST}`, routeExtra: 'hedge_policy: { hedge_on_per_try_timeout: true }' },
      { name: 'cb0', policy: `retry_on: 5xx\n${FAST}`, clusterExtra: 'circuit_breakers: { thresholds: [{ max_retries: 0 }] }' },
      { name: 'cb1', policy: 'retry_on: 5xx\nretry_back_off: { base_interval: 0.001s }', clusterExtra: 'circuit_breakers: { thresholds: [{ max_retries: 1 }] }' },
      { name: 'budget', policy: `retry_on: 5xx\n${FAST}`, clusterExtra: 'circuit_breakers: { thresholds: [{ max_retries: 5, retry_budget: { budget_percent: { value: 0 }, min_retry_concurrency: 0 } }] }' },
      { name: 'hdr', vhost: 'bare' },
      { name: 'codes', policy: `retry_on: retriable-status-codes\nretriable_status_codes: [418]\n${FAST}` },
      { name: 'rheaders', policy: `retry_on: retriable-headers\nretriable_headers: [{ name: x-upstream-retry, string_match: { exact: "yes" } }]\n${FAST}` },
      { name: 'grpc', policy: `retry_on: "unavailable,internal"\n${FAST}` },
      { name: 'idem', policy: `retry_on: 5xx\nretriable_request_headers: [{ name: x-idempotent, present_match: true }]\n${FAST}` },
      { name: 'conflict', policy: `retry_on: retriable-4xx\n${FAST}` },
      { name: 'vhpolicy', vhost: 'vh' },
      { name: 'vhoverride', vhost: 'vh', policy: 'retry_on: connect-failure' },
      { name: 'midbody', policy: `retry_on: reset,5xx\n${FAST}` },
      { name: 'drip', policy: `retry_on: reset,5xx\n${FAST}`, timeout: '0.3s' },
    ];
    for (const s of scenarios) upstreams.set(s.name, await startFaultyUpstream(s.name));
    const ports = new Map([...upstreams].map(([n, u]) => [n, u.port] as const));
    logPath = join(mkdtempSync(join(tmpdir(), 'legate-retries-')), 'access.log');
    legate = await startLegate(config(scenarios, ports, logPath), {
      expectListeners: ['ingress'], expectAdmin: true, args: ['--file-flush-interval-msec', '50'],
    });
    port = legate.ports.get('ingress')!;
  });

  after(async () => {
    await legate?.stop();
    for (const u of upstreams.values()) await u.close();
    await dead?.close();
  });

  /** A GET whose response may be cut: the status, the body received and whether the client saw the cut. */
  function cutRequest(path: string): Promise<{ status: number; body: string; cut: boolean }> {
    return new Promise((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port, path }, (res) => {
        let body = '';
        res.setEncoding('latin1');
        res.on('data', (c: string) => { body += c; });
        res.on('end', () => resolve({ status: res.statusCode!, body, cut: !res.complete }));
        res.on('error', () => resolve({ status: res.statusCode!, body, cut: true }));
        res.on('aborted', () => resolve({ status: res.statusCode!, body, cut: true }));
      });
      req.on('error', reject);
    });
  }

  it('an upstream that resets in the middle of the body, or closes after the headers: the client sees the cut, no retry (the response started), flag UC', async () => {
    const u = up('midbody');
    u.queue({ kind: 'reset-mid-body' });
    const r = await cutRequest('/midbody/a');
    assert.equal(r.status, 200);
    assert.equal(r.body, 'partial body');
    assert.ok(r.cut, 'the client must see the response cut short');
    assert.equal(u.requests.length, 1, 'a response already started is never retried');
    assert.match(await logLine('/midbody/a'), /^\/midbody\/a 200 UC /);

    u.queue({ kind: 'close-after-headers' });
    const r2 = await cutRequest('/midbody/b');
    assert.equal(r2.status, 200);
    assert.equal(r2.body, '');
    assert.ok(r2.cut);
    assert.equal(u.requests.length, 2);
    assert.match(await logLine('/midbody/b'), /^\/midbody\/b 200 UC /);
    assert.equal(await stat('http.ingress_http.rq_reset_after_downstream_response_started'), 2);
  });

  it('a slow-drip upstream past the route timeout: the started response is cut with flag UT and upstream_rq_timeout', async () => {
    const u = up('drip');
    u.queue({ kind: 'slow-drip', chunks: 50, intervalMs: 50 });
    const r = await cutRequest('/drip/a');
    assert.equal(r.status, 200);
    assert.ok(r.cut, 'the response must be cut at the route timeout');
    assert.ok(r.body.length > 0 && r.body.length < 50, `some dots before the cut (${r.body.length})`);
    assert.equal(u.requests.length, 1);
    assert.match(await logLine('/drip/a'), /^\/drip\/a 200 UT /);
    assert.equal(await stat('cluster.c_drip.upstream_rq_timeout'), 1);
  });

  it('retry_on 5xx, num_retries 2: 503 twice then 200 → 200 after 3 attempts, with the retry stats', async () => {
    const u = up('r5xx');
    u.queue({ kind: 'status', status: 503 }, 2);
    const r = await request(port, { path: '/r5xx/a' });
    assert.equal(r.status, 200);
    assert.equal(r.body, 'r5xx');
    assert.equal(r.headers['x-envoy-attempt-count'], '3');
    assert.equal(u.requests.length, 3);
    // include_request_attempt_count: the upstream sees which attempt it serves.
    assert.deepEqual(u.requests.map((q) => q.headers['x-envoy-attempt-count']), ['1', '2', '3']);
    assert.match(await logLine('/r5xx/a'), /^\/r5xx\/a 200 - via_upstream 3 /);
    const stats = await readStats(legate.adminPort!);
    assert.equal(stats.get('cluster.c_r5xx.upstream_rq_retry'), 2);
    assert.equal(stats.get('cluster.c_r5xx.upstream_rq_retry_success'), 1);
    assert.equal(stats.get('cluster.c_r5xx.upstream_rq_retry_backoff_exponential'), 2);
    assert.equal(stats.get('cluster.c_r5xx.upstream_rq_retry_limit_exceeded'), 0);
    // Retried responses are not charged as the request's response.
    assert.equal(stats.get('cluster.c_r5xx.upstream_rq_503'), undefined);
    assert.equal(stats.get('cluster.c_r5xx.upstream_rq_200'), 1);
    // The retry circuit-breaker slot is given back.
    assert.equal(stats.get('cluster.c_r5xx.circuit_breakers.default.rq_retry_open'), 0);
  });

  it('retries exhausted: the upstream 503 passes through with flag URX and upstream_rq_retry_limit_exceeded', async () => {
    const u = up('exhaust');
    u.queue({ kind: 'status', status: 503, body: 'still down' }, 3);
    const r = await request(port, { path: '/exhaust/a' });
    assert.equal(r.status, 503);
    assert.equal(r.body, 'still down');
    assert.equal(r.headers['x-upstream'], 'exhaust');
    assert.equal(u.requests.length, 3);
    assert.match(await logLine('/exhaust/a'), /^\/exhaust\/a 503 URX via_upstream 3 /);
    const stats = await readStats(legate.adminPort!);
    assert.equal(stats.get('cluster.c_exhaust.upstream_rq_retry'), 2);
    assert.equal(stats.get('cluster.c_exhaust.upstream_rq_retry_limit_exceeded'), 1);
    assert.equal(stats.get('cluster.c_exhaust.upstream_rq_retry_success'), 0);
  });

  it('connect-failure: a refused connection is retried on the other host (previous_hosts)', async () => {
    // RANDOM picks the dead host first about half the time; without previous_hosts
    // half of those retries would pick it again and fail.
    const rs = [];
    for (let i = 0; i < 16; i++) rs.push(await request(port, { path: `/connect/${i}` }));
    assert.deepEqual(rs.map((r) => r.status), Array(16).fill(200));
    const attempts = rs.map((r) => r.headers['x-envoy-attempt-count']);
    const retried = attempts.filter((a) => a === '2').length;
    assert.ok(retried > 0, `some first picks hit the dead host (attempt counts ${attempts.join(',')})`);
    const stats = await readStats(legate.adminPort!);
    assert.equal(stats.get('cluster.c_connect.upstream_rq_retry'), retried);
    assert.equal(stats.get('cluster.c_connect.upstream_cx_connect_fail'), retried);
    const i = attempts.indexOf('2');
    // The log shows the host that answered.
    assert.match(await logLine(`/connect/${i}`), new RegExp(`^/connect/${i} 200 - via_upstream 2 127\\.0\\.0\\.1:${up('connect').port}$`));
  });

  it('reset before headers is retried with retry_on reset, and not with connect-failure only', async () => {
    const u = up('reset');
    u.queue({ kind: 'reset-before-headers' });
    const r = await request(port, { path: '/reset/a' });
    assert.equal(r.status, 200);
    assert.equal(u.requests.length, 2);
    assert.equal(await stat('cluster.c_reset.upstream_rq_retry'), 1);

    const n = up('noreset');
    n.queue({ kind: 'reset-before-headers' });
    const r2 = await request(port, { path: '/noreset/a' });
    assert.equal(r2.status, 503);
    assert.equal(r2.body, 'upstream connect error or disconnect/reset before headers. reset reason: connection termination');
    assert.equal(n.requests.length, 1);
    assert.match(await logLine('/noreset/a'), /^\/noreset\/a 503 UC upstream_reset_before_response_started\{connection_termination\} 1 /);
    assert.equal(await stat('cluster.c_noreset.upstream_rq_retry'), 0);
  });

  it('a POST body is replayed on the retry; one beyond per_request_buffer_limit_bytes is not retried', async () => {
    const u = up('body');
    u.queue({ kind: 'status', status: 503 });
    const body = 'x'.repeat(700) + 'end';
    const r = await request(port, { path: '/body/small', method: 'POST', body });
    assert.equal(r.status, 200);
    assert.deepEqual(u.requests.map((q) => q.body), [body, body]);

    u.queue({ kind: 'status', status: 503, body: 'big fails' });
    const big = 'y'.repeat(2048);
    const r2 = await request(port, { path: '/body/big', method: 'POST', body: big });
    assert.equal(r2.status, 503);
    assert.equal(r2.body, 'big fails');
    assert.equal(u.requests.length, 3);
    assert.equal(u.requests[2]!.body, big);
    const stats = await readStats(legate.adminPort!);
    assert.equal(stats.get('cluster.c_body.retry_or_shadow_abandoned'), 1);
    assert.equal(stats.get('cluster.c_body.upstream_rq_retry'), 1);
    assert.match(await logLine('/body/big'), /^\/body\/big 503 - via_upstream 1 /);
  });

  it('per_try_timeout: a hanging attempt is cut and retried (upstream_rq_per_try_timeout); the last one ends in 504 UT', async () => {
    const u = up('pertry');
    u.queue({ kind: 'hang' });
    const t0 = Date.now();
    const r = await request(port, { path: '/pertry/a' });
    assert.equal(r.status, 200);
    assert.ok(Date.now() - t0 >= 190, 'the first attempt had its per-try time');
    assert.equal(r.headers['x-envoy-attempt-count'], '2');
    // The expected timeout told upstream is the per-try one.
    assert.equal(u.requests[1]!.headers['x-envoy-expected-rq-timeout-ms'], '200');
    assert.equal(await stat('cluster.c_pertry.upstream_rq_per_try_timeout'), 1);

    u.queue({ kind: 'hang' }, 2);
    const r2 = await request(port, { path: '/pertry/b' });
    assert.equal(r2.status, 504);
    assert.equal(r2.body, 'upstream request timeout');
    assert.match(await logLine('/pertry/b'), /^\/pertry\/b 504 UT,URX upstream_per_try_timeout 2 /);
    const stats = await readStats(legate.adminPort!);
    assert.equal(stats.get('cluster.c_pertry.upstream_rq_per_try_timeout'), 3);
    assert.equal(stats.get('cluster.c_pertry.upstream_rq_retry_limit_exceeded'), 1);
  });

  it('per_try_idle_timeout: an attempt silent for too long is retried (upstream_rq_per_try_idle_timeout)', async () => {
    const u = up('idle');
    u.queue({ kind: 'hang' });
    const r = await request(port, { path: '/idle/a' });
    assert.equal(r.status, 200);
    assert.equal(u.requests.length, 2);
    const stats = await readStats(legate.adminPort!);
    assert.equal(stats.get('cluster.c_idle.upstream_rq_per_try_idle_timeout'), 1);
    assert.equal(stats.get('cluster.c_idle.upstream_rq_per_try_timeout'), 0);
  });

  it('hedge_on_per_try_timeout: a second attempt starts beside the slow first one; the first good response wins', async () => {
    const u = up('hedge');
    // First attempt answers after 600 ms; the hedged one (after the 150 ms per-try timeout) at once.
    u.queue({ kind: 'delay', ms: 600 });
    u.queue({ kind: 'status', status: 200, body: 'hedged' });
    const r = await request(port, { path: '/hedge/a' });
    assert.equal(r.status, 200);
    assert.equal(r.body, 'hedged');
    assert.equal(r.headers['x-envoy-attempt-count'], '2');
    assert.equal(u.requests.length, 2);
    // Hedging keeps the per-try timeout out of the timeout stat; the loser is reset.
    let stats = await readStats(legate.adminPort!);
    assert.equal(stats.get('cluster.c_hedge.upstream_rq_per_try_timeout'), 0);
    assert.equal(stats.get('cluster.c_hedge.upstream_rq_retry'), 1);
    assert.equal(stats.get('cluster.c_hedge.upstream_rq_tx_reset'), 1);
    // With hedging the upstream may use the whole route timeout.
    assert.equal(u.requests[0]!.headers['x-envoy-expected-rq-timeout-ms'], '5000');

    // Now the first attempt wins: it answers at 250 ms while the hedged one hangs.
    u.queue({ kind: 'delay', ms: 250 });
    u.queue({ kind: 'hang' });
    const r2 = await request(port, { path: '/hedge/b' });
    assert.equal(r2.status, 200);
    assert.equal(r2.body, 'hedge');
    assert.equal(u.requests.length, 4);
    stats = await readStats(legate.adminPort!);
    assert.equal(stats.get('cluster.c_hedge.upstream_rq_tx_reset'), 2);
    assert.equal(stats.get('cluster.c_hedge.upstream_rq_active'), 0);
  });

  it('retry circuit breaker: max_retries 0 overflows at once (flag UO); max_retries 1 lets one retry run at a time', async () => {
    const z = up('cb0');
    z.queue({ kind: 'status', status: 503 });
    const r = await request(port, { path: '/cb0/a' });
    assert.equal(r.status, 503);
    assert.equal(z.requests.length, 1);
    assert.match(await logLine('/cb0/a'), /^\/cb0\/a 503 UO via_upstream 1 /);
    assert.equal(await stat('cluster.c_cb0.upstream_rq_retry_overflow'), 1);
    assert.equal(await stat('cluster.c_cb0.upstream_rq_retry'), 0);

    const o = up('cb1');
    // A: 503, then its retry is held for 600 ms; B meanwhile gets a 503 and finds the one retry slot taken.
    o.queue({ kind: 'status', status: 503 });
    o.queue({ kind: 'delay', ms: 600 });
    o.queue({ kind: 'status', status: 503, body: 'b failed' });
    const a = request(port, { path: '/cb1/a' });
    await eventually(() => o.requests.length === 2, 5000, 'the retry of A reached the upstream');
    assert.equal(await stat('cluster.c_cb1.circuit_breakers.default.rq_retry_open'), 1);
    const b = await request(port, { path: '/cb1/b' });
    assert.equal(b.status, 503);
    assert.equal(b.body, 'b failed');
    assert.equal((await a).status, 200);
    assert.equal(await stat('cluster.c_cb1.upstream_rq_retry_overflow'), 1);
    assert.equal(await stat('cluster.c_cb1.upstream_rq_retry'), 1);
    assert.equal(await stat('cluster.c_cb1.circuit_breakers.default.rq_retry_open'), 0);
  });

  it('retry_budget replaces max_retries: a 0 % budget with min_retry_concurrency 0 allows no retry', async () => {
    const u = up('budget');
    u.queue({ kind: 'status', status: 503 });
    const r = await request(port, { path: '/budget/a' });
    assert.equal(r.status, 503);
    assert.equal(u.requests.length, 1);
    assert.equal(await stat('cluster.c_budget.upstream_rq_retry_overflow'), 1);
  });

  it('x-envoy-retry-on / x-envoy-max-retries from the client enable retries on a route without a policy, and are not forwarded', async () => {
    const u = up('hdr');
    u.queue({ kind: 'status', status: 503 });
    const plain = await request(port, { path: '/hdr/plain', headers: { host: 'bare' } });
    assert.equal(plain.status, 503);
    assert.equal(plain.headers['x-envoy-attempt-count'], undefined);
    assert.equal(u.requests.length, 1);

    u.queue({ kind: 'status', status: 502 }, 3);
    const r = await request(port, {
      path: '/hdr/a',
      headers: { host: 'bare', 'x-envoy-retry-on': 'gateway-error, bogus', 'x-envoy-max-retries': '3', 'x-envoy-upstream-rq-per-try-timeout-ms': '1000' },
    });
    assert.equal(r.status, 200);
    assert.equal(u.requests.length, 5);
    for (const q of u.requests.slice(1)) {
      for (const h of ['x-envoy-retry-on', 'x-envoy-max-retries', 'x-envoy-upstream-rq-per-try-timeout-ms', 'x-envoy-attempt-count']) {
        assert.equal(q.headers[h], undefined, `${h} is consumed`);
      }
    }
    assert.match(await logLine('/hdr/a'), /^\/hdr\/a 200 - via_upstream 4 /);

    // From an external client (x-forwarded-for names a public address) the same headers are removed
    // by the connection manager before the router sees them: no retry.
    const before = u.requests.length;
    u.queue({ kind: 'status', status: 502 });
    const external = await request(port, {
      path: '/hdr/external',
      headers: { host: 'bare', 'x-forwarded-for': '203.0.113.7', 'x-envoy-retry-on': 'gateway-error', 'x-envoy-max-retries': '3' },
    });
    assert.equal(external.status, 502);
    assert.equal(u.requests.length, before + 1);
    assert.equal(u.requests.at(-1)!.headers['x-envoy-retry-on'], undefined);

    // An unparsable x-envoy-max-retries is ignored: num_retries stays at its default of 1.
    u.queue({ kind: 'status', status: 503 }, 2);
    const r2 = await request(port, { path: '/hdr/b', headers: { host: 'bare', 'x-envoy-retry-on': '5xx', 'x-envoy-max-retries': 'many' } });
    assert.equal(r2.status, 503);
    assert.equal(u.requests.length, 8);
    assert.match(await logLine('/hdr/b'), /^\/hdr\/b 503 URX via_upstream 2 /);

    // x-envoy-retry-grpc-on and x-envoy-retriable-status-codes work the same way.
    u.queue({ kind: 'status', status: 200, headers: { 'grpc-status': '14' } });
    u.queue({ kind: 'status', status: 429 });
    const r3 = await request(port, {
      path: '/hdr/c',
      headers: { host: 'bare', 'x-envoy-retry-grpc-on': 'unavailable', 'x-envoy-retry-on': 'retriable-status-codes', 'x-envoy-retriable-status-codes': '429,x', 'x-envoy-max-retries': '2' },
    });
    assert.equal(r3.status, 200);
    assert.equal(r3.headers['grpc-status'], undefined);
    assert.equal(u.requests.length, 11);
  });

  it('retriable-status-codes and retriable-headers', async () => {
    const c = up('codes');
    c.queue({ kind: 'status', status: 418 });
    assert.equal((await request(port, { path: '/codes/a' })).status, 200);
    c.queue({ kind: 'status', status: 503 });
    assert.equal((await request(port, { path: '/codes/b' })).status, 503, '503 is not in retriable_status_codes');
    assert.equal(c.requests.length, 3);

    const h = up('rheaders');
    h.queue({ kind: 'status', status: 200, headers: { 'x-upstream-retry': 'yes' }, body: 'try again' });
    const r = await request(port, { path: '/rheaders/a' });
    assert.equal(r.body, 'rheaders');
    h.queue({ kind: 'status', status: 500, headers: { 'x-upstream-retry': 'no' } });
    assert.equal((await request(port, { path: '/rheaders/b' })).status, 500);
    // x-envoy-retriable-header-names adds presence matchers.
    h.queue({ kind: 'status', status: 200, headers: { 'x-again': '1' }, body: 'again' });
    const r3 = await request(port, { path: '/rheaders/c', headers: { 'x-envoy-retriable-header-names': ' x-again ,x-other' } });
    assert.equal(r3.body, 'rheaders');
    assert.equal(h.requests.length, 5);
  });

  it('gRPC: grpc-status unavailable / internal are retried, others are not', async () => {
    const g = up('grpc');
    g.queue({ kind: 'status', status: 200, headers: { 'content-type': 'application/grpc', 'grpc-status': '14' } });
    g.queue({ kind: 'status', status: 200, headers: { 'content-type': 'application/grpc', 'grpc-status': '13' } });
    const r = await request(port, { path: '/grpc/a', headers: { 'x-envoy-max-retries': '3' } });
    assert.equal(r.status, 200);
    assert.equal(r.headers['grpc-status'], undefined);
    assert.equal(g.requests.length, 3);
    g.queue({ kind: 'status', status: 200, headers: { 'content-type': 'application/grpc', 'grpc-status': '5' } });
    const r2 = await request(port, { path: '/grpc/b' });
    assert.equal(r2.headers['grpc-status'], '5');
    assert.equal(g.requests.length, 4);
  });

  it('retriable_request_headers: only matching requests are retried; retriable-4xx retries 409 only', async () => {
    const u = up('idem');
    u.queue({ kind: 'status', status: 503 });
    assert.equal((await request(port, { path: '/idem/a' })).status, 503);
    u.queue({ kind: 'status', status: 503 });
    assert.equal((await request(port, { path: '/idem/b', headers: { 'x-idempotent': '1' } })).status, 200);
    assert.equal(u.requests.length, 3);

    const c = up('conflict');
    c.queue({ kind: 'status', status: 409 });
    assert.equal((await request(port, { path: '/conflict/a' })).status, 200);
    c.queue({ kind: 'status', status: 404 });
    assert.equal((await request(port, { path: '/conflict/b' })).status, 404);
    assert.equal(c.requests.length, 3);
  });

  it('a route without retry_policy uses its virtual host\'s; a route\'s own policy replaces it', async () => {
    const u = up('vhpolicy');
    u.queue({ kind: 'status', status: 503 }, 3);
    const r = await request(port, { path: '/vhpolicy/a', headers: { host: 'vh' } });
    assert.equal(r.status, 200);
    assert.equal(u.requests.length, 4);
    const o = up('vhoverride');
    o.queue({ kind: 'status', status: 503 });
    assert.equal((await request(port, { path: '/vhoverride/a', headers: { host: 'vh' } })).status, 503);
    assert.equal(o.requests.length, 1);
  });
});
