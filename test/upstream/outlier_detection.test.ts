/**
 * Outlier detection through the whole data path: a proxy in-process with a
 * simulated clock (so 10 s intervals and 30 s ejections take no real time),
 * real HTTP upstreams that misbehave on cue, and real HTTP clients. Ejected
 * hosts must stop receiving traffic, return after their ejection time, and
 * every decision must show in Envoy's `outlier_detection.*` stats.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, readStats, request } from '../support/http_util.js';
import { startLegate, type LegateProcess } from '../support/legate_process.js';
import { startFaultyUpstream, type FaultyUpstream } from '../support/faulty_upstream.js';
import { startInProcessProxy, type InProcessProxy } from '../support/in_process_proxy.js';
import { SimulatedTimeSource } from '../support/simulated_time.js';
import { successRateEjectionThreshold } from '../../src/upstream/outlier_success_rate.js';
import { resultToHttpCode } from '../../src/upstream/outlier_detection_impl.js';
import { OutlierResult } from '../../src/envoy/upstream/outlier_detection.js';

const OD = 'cluster.backend.outlier_detection.';

function bootstrap(upstreams: ReadonlyArray<FaultyUpstream>, outlier: string, routeExtra = ''): string {
  const endpoints = upstreams
    .map((u) => `        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${u.port} } } }`)
    .join('\n');
  return `
static_resources:
  listeners:
  - name: ingress
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes: [{ match: { prefix: "/" }, route: { cluster: backend ${routeExtra} } }]
          http_filters:
          - name: envoy.filters.http.router
            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
  clusters:
  - name: backend
    type: STATIC
    lb_policy: ROUND_ROBIN
    connect_timeout: 1s
    outlier_detection: ${outlier}
    load_assignment:
      cluster_name: backend
      endpoints:
      - lb_endpoints:
${endpoints}
`;
}

interface Rig {
  proxy: InProcessProxy;
  clock: SimulatedTimeSource;
  ups: FaultyUpstream[];
  get(): Promise<{ status: number; from: string }>;
  /** `n` requests; how many each upstream answered (by name; '' = local reply). */
  spread(n: number): Promise<Map<string, number>>;
  stat(name: string): number;
  healthText(u: FaultyUpstream): string;
  stop(): Promise<void>;
}

async function rig(names: string[], outlier: string, routeExtra = ''): Promise<Rig> {
  const ups = await Promise.all(names.map((n) => startFaultyUpstream(n)));
  const clock = new SimulatedTimeSource();
  let proxy: InProcessProxy;
  try {
    proxy = await startInProcessProxy(bootstrap(ups, outlier, routeExtra), { timeSource: clock });
  } catch (e) {
    await Promise.all(ups.map((u) => u.close()));
    throw e;
  }
  const port = proxy.ports.get('ingress')!;
  const get = async () => {
    const r = await request(port, { path: '/' });
    return { status: r.status, from: String(r.headers['x-upstream'] ?? '') };
  };
  return {
    proxy, clock, ups, get,
    async spread(n) {
      const m = new Map<string, number>();
      for (let i = 0; i < n; i++) {
        const r = await get();
        m.set(r.from, (m.get(r.from) ?? 0) + 1);
      }
      return m;
    },
    stat: (name) => proxy.stat(name) ?? 0,
    healthText(u) {
      const c = proxy.clusterManager.allClusters().find((x) => x.name === 'backend')!;
      return c.hosts.find((h) => h.port === u.port)!.healthFlagsText;
    },
    async stop() {
      proxy.stop();
      await Promise.all(ups.map((u) => u.close()));
    },
  };
}

/** Sends requests until `u` has answered `n` more of them (round robin reaches it every few requests). */
async function hitUntil(r: Rig, u: FaultyUpstream, n: number): Promise<void> {
  const target = u.requests.length + n;
  for (let i = 0; i < 200 && u.requests.length < target; i++) await r.get();
  assert.equal(u.requests.length, target, `${u.name} should have answered ${n} more requests`);
}

/** Sends requests until every one of `ups` has answered at least `n` requests in total. */
async function hitEach(r: Rig, ups: FaultyUpstream[], n: number): Promise<void> {
  for (let i = 0; i < 200 && ups.some((u) => u.requests.length < n); i++) await r.get();
  for (const u of ups) assert.ok(u.requests.length >= n, `${u.name} should have answered ${n} requests`);
}

describe('outlier detection: consecutive 5xx', () => {
  let r: Rig;
  after(async () => { await r?.stop(); });

  it('ejects the failing host, sends traffic elsewhere, returns it after base_ejection_time, and doubles the time on the second ejection', async () => {
    r = await rig(['a', 'b', 'c'], '{ consecutive_5xx: 3, max_ejection_percent: 50, interval: 10s, base_ejection_time: 30s }');
    const [a] = r.ups;
    a!.setDefault({ kind: 'status', status: 500 });
    await hitUntil(r, a!, 3);
    assert.equal(r.stat(`${OD}ejections_detected_consecutive_5xx`), 1);
    assert.equal(r.stat(`${OD}ejections_enforced_consecutive_5xx`), 1);
    assert.equal(r.stat(`${OD}ejections_enforced_total`), 1);
    assert.equal(r.stat(`${OD}ejections_active`), 1);
    assert.equal(r.stat(`${OD}ejections_overflow`), 0);
    assert.equal(r.healthText(a!), '/failed_outlier_check');
    assert.equal(r.stat('cluster.backend.membership_healthy'), 2);

    // The load balancer skips it: every answer is b's or c's, and all are 200.
    const seen = await r.spread(12);
    assert.equal(seen.get('a') ?? 0, 0);
    assert.equal((seen.get('b') ?? 0) + (seen.get('c') ?? 0), 12);

    // Not back before 30 s ...
    r.clock.advance(20_000);
    assert.equal(r.healthText(a!), '/failed_outlier_check');
    // ... back at the interval that follows 30 s.
    r.clock.advance(10_000);
    assert.equal(r.healthText(a!), 'healthy');
    assert.equal(r.stat(`${OD}ejections_active`), 0);
    assert.equal(r.stat('cluster.backend.membership_healthy'), 3);

    // Fails again: ejected for 2 x 30 s this time.
    await hitUntil(r, a!, 3);
    assert.equal(r.stat(`${OD}ejections_enforced_consecutive_5xx`), 2);
    r.clock.advance(30_000);
    assert.equal(r.healthText(a!), '/failed_outlier_check', 'the second ejection lasts longer than base_ejection_time');
    r.clock.advance(30_000);
    assert.equal(r.healthText(a!), 'healthy');
    a!.setDefault({ kind: 'ok' });
    const back = await r.spread(6);
    assert.ok((back.get('a') ?? 0) > 0, 'the returned host gets traffic again');

    // Two intervals in service earn back both steps: the next ejection is 30 s again (not 90 s).
    r.clock.advance(20_000);
    a!.setDefault({ kind: 'status', status: 500 });
    await hitUntil(r, a!, 3);
    assert.equal(r.healthText(a!), '/failed_outlier_check');
    r.clock.advance(30_000);
    assert.equal(r.healthText(a!), 'healthy');
    assert.equal(r.stat(`${OD}ejections_enforced_total`), 3);
  });
});

describe('outlier detection: max_ejection_percent', () => {
  let r: Rig | undefined;
  after(async () => { await r?.stop(); });

  it('caps ejections (ejections_overflow) and by default ejects none when one host is already over the percentage', async () => {
    r = await rig(['a', 'b', 'c', 'd'], '{ consecutive_5xx: 2, max_ejection_percent: 25 }');
    const [a, b] = r.ups;
    a!.setDefault({ kind: 'status', status: 500 });
    b!.setDefault({ kind: 'status', status: 500 });
    await hitEach(r, [a!, b!], 2);
    // 1 of 4 is 25 %: allowed; a second would be 50 %.
    assert.equal(r.stat(`${OD}ejections_enforced_total`), 1);
    assert.equal(r.stat(`${OD}ejections_active`), 1);
    assert.equal(r.stat(`${OD}ejections_overflow`), 1);
    assert.equal(r.stat(`${OD}ejections_detected_consecutive_5xx`), 2);
    await r.stop();
    r = undefined;

    // Default 10 % of 3 hosts: not even one, unless always_eject_one_host.
    r = await rig(['a', 'b', 'c'], '{ consecutive_5xx: 2 }');
    r.ups[0]!.setDefault({ kind: 'status', status: 500 });
    await hitUntil(r, r.ups[0]!, 2);
    assert.equal(r.stat(`${OD}ejections_overflow`), 1);
    assert.equal(r.stat(`${OD}ejections_active`), 0);
    await r.stop();
    r = undefined;

    r = await rig(['a', 'b', 'c'], '{ consecutive_5xx: 2, always_eject_one_host: true }');
    r.ups[0]!.setDefault({ kind: 'status', status: 500 });
    r.ups[1]!.setDefault({ kind: 'status', status: 500 });
    await hitEach(r, [r.ups[0]!, r.ups[1]!], 2);
    assert.equal(r.stat(`${OD}ejections_active`), 1, 'one host, and only one');
    assert.equal(r.stat(`${OD}ejections_overflow`), 1);
  });
});

describe('outlier detection: gateway failures', () => {
  let r: Rig | undefined;
  after(async () => { await r?.stop(); });

  it('detects consecutive 502/503/504 but does not enforce by default (enforcing_consecutive_gateway_failure 0)', async () => {
    r = await rig(['a', 'b', 'c'], '{ consecutive_5xx: 100, consecutive_gateway_failure: 3, max_ejection_percent: 100 }');
    const [a] = r.ups;
    a!.queue({ kind: 'status', status: 502 });
    a!.queue({ kind: 'status', status: 504 });
    a!.queue({ kind: 'status', status: 503 });
    await hitUntil(r, a!, 3);
    assert.equal(r.stat(`${OD}ejections_detected_consecutive_gateway_failure`), 1);
    assert.equal(r.stat(`${OD}ejections_enforced_consecutive_gateway_failure`), 0);
    assert.equal(r.stat(`${OD}ejections_active`), 0);
    assert.equal(r.healthText(a!), 'healthy');
    await r.stop();
    r = undefined;

    r = await rig(['a', 'b', 'c'], '{ consecutive_5xx: 100, consecutive_gateway_failure: 3, enforcing_consecutive_gateway_failure: 100, max_ejection_percent: 100 }');
    const a2 = r.ups[0]!;
    // A 500 in between breaks a run of gateway failures (not a gateway error).
    for (const s of [503, 500, 502, 503]) a2.queue({ kind: 'status', status: s });
    await hitUntil(r, a2, 4);
    assert.equal(r.stat(`${OD}ejections_detected_consecutive_gateway_failure`), 0);
    a2.queue({ kind: 'status', status: 504 });
    await hitUntil(r, a2, 1);
    assert.equal(r.stat(`${OD}ejections_enforced_consecutive_gateway_failure`), 1);
    assert.equal(r.healthText(a2), '/failed_outlier_check');
  });
});

describe('outlier detection: local-origin errors', () => {
  let r: Rig | undefined;
  after(async () => { await r?.stop(); });

  it('split: connect failures count as consecutive local-origin failures, not as 5xx', async () => {
    r = await rig(['a', 'b', 'c'], '{ split_external_local_origin_errors: true, consecutive_local_origin_failure: 2, max_ejection_percent: 100 }');
    const [a] = r.ups;
    await a!.stopListening();
    const before = r.stat('cluster.backend.upstream_cx_connect_fail');
    for (let i = 0; i < 20 && r.stat('cluster.backend.upstream_cx_connect_fail') - before < 2; i++) await r.get();
    assert.equal(r.stat(`${OD}ejections_enforced_consecutive_local_origin_failure`), 1);
    assert.equal(r.stat(`${OD}ejections_detected_consecutive_5xx`), 0);
    assert.equal(r.healthText(a!), '/failed_outlier_check');
    // Nothing is refused any more: the ejected host gets no connection attempts.
    const fails = r.stat('cluster.backend.upstream_cx_connect_fail');
    const seen = await r.spread(6);
    assert.equal(seen.get(''), undefined, 'no local reply');
    assert.equal(r.stat('cluster.backend.upstream_cx_connect_fail'), fails);
    await r.stop();
    r = undefined;
  });

  it('not split: a connect failure counts as a 503 (5xx and gateway failure)', async () => {
    r = await rig(['a', 'b', 'c'], '{ consecutive_5xx: 2, consecutive_local_origin_failure: 1, max_ejection_percent: 100 }');
    const [a] = r.ups;
    await a!.stopListening();
    for (let i = 0; i < 20 && r.stat(`${OD}ejections_enforced_total`) === 0; i++) await r.get();
    assert.equal(r.stat(`${OD}ejections_enforced_consecutive_5xx`), 1);
    assert.equal(r.stat(`${OD}ejections_detected_consecutive_local_origin_failure`), 0, 'local-origin counters are for split mode');
    assert.equal(r.stat('cluster.backend.upstream_cx_connect_fail'), 2);
    assert.equal(r.healthText(a!), '/failed_outlier_check');
  });

  it('split: a route timeout counts as a local-origin failure', async () => {
    await r?.stop();
    r = await rig(['a', 'b', 'c'], '{ split_external_local_origin_errors: true, consecutive_local_origin_failure: 1, consecutive_5xx: 1, max_ejection_percent: 100 }', ', timeout: 0.05s');
    const [a] = r.ups;
    a!.queue({ kind: 'hang' });
    let timedOut = 0;
    for (let i = 0; i < 5 && timedOut === 0; i++) if ((await r.get()).status === 504) timedOut++;
    assert.equal(timedOut, 1);
    assert.equal(r.stat(`${OD}ejections_enforced_consecutive_local_origin_failure`), 1);
    assert.equal(r.stat(`${OD}ejections_detected_consecutive_5xx`), 0, 'a timeout is not an upstream 5xx in split mode');
  });
});

describe('outlier detection: success rate and failure percentage', () => {
  let r: Rig | undefined;
  after(async () => { await r?.stop(); });

  it('ejects the host whose success rate is below mean - 1.9 stdev at the interval, and reports the rates', async () => {
    r = await rig(['a', 'b', 'c', 'd', 'e'],
      '{ consecutive_5xx: 1000, success_rate_request_volume: 10, max_ejection_percent: 100, enforcing_failure_percentage: 100 }');
    const [a] = r.ups;
    for (let i = 0; i < 5; i++) { a!.queue({ kind: 'status', status: 500 }); a!.queue({ kind: 'ok' }); }
    const seen = await r.spread(50);
    assert.deepEqual([...seen.values()], [10, 10, 10, 10, 10]);
    r.clock.advance(10_000);
    // a: 50 %, the others 100 %: mean 90, stdev 20, threshold 52.
    assert.equal(r.stat(`${OD}ejections_detected_success_rate`), 1);
    assert.equal(r.stat(`${OD}ejections_enforced_success_rate`), 1);
    assert.equal(r.stat(`${OD}ejections_detected_failure_percentage`), 0, '50 % failures is below the 85 % threshold');
    assert.equal(r.healthText(a!), '/failed_outlier_check');
    const c = r.proxy.clusterManager.allClusters().find((x) => x.name === 'backend')!;
    assert.deepEqual(c.outlier, {
      successRateAverage: 90, successRateEjectionThreshold: 52,
      localOriginSuccessRateAverage: -1, localOriginSuccessRateEjectionThreshold: -1,
    });
    assert.deepEqual(c.hosts.map((h) => h.successRate).sort(), [100, 100, 100, 100, 50].sort());
    // The next interval without traffic: no data, rates back to -1.
    r.clock.advance(10_000);
    const c2 = r.proxy.clusterManager.allClusters().find((x) => x.name === 'backend')!;
    assert.deepEqual(c2.hosts.map((h) => h.successRate), [-1, -1, -1, -1, -1]);
    assert.equal(c2.outlier!.successRateAverage, -1);
  });

  it('needs success_rate_minimum_hosts hosts with enough volume', async () => {
    await r?.stop();
    r = await rig(['a', 'b', 'c', 'd', 'e'], '{ consecutive_5xx: 1000, success_rate_request_volume: 11, max_ejection_percent: 100 }');
    r.ups[0]!.setDefault({ kind: 'status', status: 500 });
    await r.spread(50); // 10 each: below the volume
    r.clock.advance(10_000);
    assert.equal(r.stat(`${OD}ejections_detected_success_rate`), 0);
    assert.equal(r.healthText(r.ups[0]!), 'healthy');
  });

  it('failure percentage: ejects a host at >= 85 % failures when enforced; only detects by default', async () => {
    await r?.stop();
    r = await rig(['a', 'b', 'c', 'd', 'e'],
      '{ consecutive_5xx: 1000, success_rate_minimum_hosts: 100, failure_percentage_request_volume: 10, max_ejection_percent: 100 }');
    r.ups[0]!.setDefault({ kind: 'status', status: 503 });
    await r.spread(50);
    r.clock.advance(10_000);
    assert.equal(r.stat(`${OD}ejections_detected_failure_percentage`), 1);
    assert.equal(r.stat(`${OD}ejections_enforced_failure_percentage`), 0);
    assert.equal(r.healthText(r.ups[0]!), 'healthy');
    await r.stop();

    r = await rig(['a', 'b', 'c', 'd', 'e'],
      '{ consecutive_5xx: 1000, success_rate_minimum_hosts: 100, failure_percentage_request_volume: 10, enforcing_failure_percentage: 100, max_ejection_percent: 100 }');
    r.ups[0]!.setDefault({ kind: 'status', status: 503 });
    await r.spread(50);
    r.clock.advance(10_000);
    assert.equal(r.stat(`${OD}ejections_enforced_failure_percentage`), 1);
    assert.equal(r.stat(`${OD}ejections_detected_success_rate`), 0, 'success rate needs 100 hosts here');
    assert.equal(r.healthText(r.ups[0]!), '/failed_outlier_check');
  });
});

describe('outlier detection: config errors', () => {
  const fake = [{ port: 1 }, { port: 2 }] as unknown as FaultyUpstream[];
  const fails = async (outlier: string, re: RegExp) => {
    await assert.rejects(startInProcessProxy(bootstrap(fake, outlier)), re);
  };
  it('refuses max_ejection_time below base_ejection_time with Envoy\'s message', async () => {
    await fails('{ base_ejection_time: 60s, max_ejection_time: 30s }', /outlier_detection\.max_ejection_time.*cannot be smaller than base_ejection_time/);
  });
  it('refuses percentages above 100', async () => {
    await fails('{ max_ejection_percent: 101 }', /max_ejection_percent/);
    await fails('{ enforcing_consecutive_5xx: 150 }', /enforcing_consecutive_5xx/);
    await fails('{ failure_percentage_threshold: 200 }', /failure_percentage_threshold/);
  });
  it('refuses a zero interval', async () => {
    await fails('{ interval: 0s }', /outlier_detection\.interval/);
  });
});

describe('outlier detection: pieces', () => {
  it('success-rate threshold is mean - factor x population stdev (Envoy\'s worked example)', () => {
    assert.deepEqual(successRateEjectionThreshold([50, 100, 100, 100, 100], 1.9), { mean: 90, threshold: 52 });
    assert.deepEqual(successRateEjectionThreshold([100, 100], 1.9), { mean: 100, threshold: 100 });
  });
  it('maps local-origin results to HTTP codes when errors are not split', () => {
    assert.equal(resultToHttpCode(OutlierResult.LocalOriginConnectFailed), 503);
    assert.equal(resultToHttpCode(OutlierResult.LocalOriginTimeout), 504);
    assert.equal(resultToHttpCode(OutlierResult.ExtOriginRequestFailed), 500);
    assert.equal(resultToHttpCode(OutlierResult.LocalOriginConnectSuccessFinal), 200);
    assert.equal(resultToHttpCode(OutlierResult.LocalOriginConnectSuccess), null);
  });
});

describe('outlier detection in a real legate process', () => {
  let legate: LegateProcess | undefined;
  let ups: FaultyUpstream[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'legate-outlier-'));
  after(async () => {
    await legate?.stop();
    await Promise.all(ups.map((u) => u.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('admin /clusters shows failed_outlier_check and the event log has the ejection', async () => {
    ups = await Promise.all(['a', 'b'].map((n) => startFaultyUpstream(n)));
    const log = join(dir, 'outlier.log');
    const yaml = `admin: { address: { socket_address: { address: 127.0.0.1, port_value: 0 } } }
cluster_manager: { outlier_detection: { event_log_path: ${JSON.stringify(log)} } }
${bootstrap(ups, '{ consecutive_5xx: 2, always_eject_one_host: true }')}`;
    legate = await startLegate(yaml, { expectListeners: ['ingress'], expectAdmin: true, args: ['--file-flush-interval-msec', '50'] });
    const port = legate.ports.get('ingress')!;
    const [a] = ups;
    a!.setDefault({ kind: 'status', status: 500 });
    for (let i = 0; i < 20 && a!.requests.length < 2; i++) await request(port, { path: '/' });
    const text = (await request(legate.adminPort!, { path: '/clusters' })).body;
    assert.match(text, new RegExp(`backend::127\\.0\\.0\\.1:${a!.port}::health_flags::/failed_outlier_check\\n`));
    assert.match(text, new RegExp(`backend::127\\.0\\.0\\.1:${ups[1]!.port}::health_flags::healthy\\n`));
    assert.match(text, /backend::outlier::success_rate_average::-1\n/);
    assert.match(text, new RegExp(`backend::127\\.0\\.0\\.1:${a!.port}::success_rate::-1\\n`));
    const json = JSON.parse((await request(legate.adminPort!, { path: '/clusters?format=json' })).body) as {
      cluster_statuses: Array<{ name: string; host_statuses: Array<{ address: { socket_address: { port_value: number } }; health_status: { failed_outlier_check?: boolean } }> }>;
    };
    const hosts = json.cluster_statuses.find((c) => c.name === 'backend')!.host_statuses;
    assert.equal(hosts.find((h) => h.address.socket_address.port_value === a!.port)!.health_status.failed_outlier_check, true);
    const stats = await readStats(legate.adminPort!);
    assert.equal(stats.get(`${OD}ejections_enforced_consecutive_5xx`), 1);

    await eventually(() => existsSync(log) && readFileSync(log, 'utf8').includes('\n'), 5000, 'event log written');
    const event = JSON.parse(readFileSync(log, 'utf8').split('\n')[0]!) as Record<string, unknown>;
    assert.equal(event['type'], 'CONSECUTIVE_5XX');
    assert.equal(event['action'], 'EJECT');
    assert.equal(event['enforced'], true);
    assert.equal(event['cluster_name'], 'backend');
    assert.equal(event['upstream_url'], `127.0.0.1:${a!.port}`);
    assert.equal(event['num_ejections'], 1);
    assert.deepEqual(event['eject_consecutive_event'], {});
  });
});
