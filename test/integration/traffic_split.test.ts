// Traffic splits and canaries end to end: weighted_clusters (with the
// deprecated total_weight and a runtime_key_prefix that, with no runtime
// layer, leaves the configured weights in force), header_name picks, route
// match runtime_fraction and header-based A/B routes, through a real proxy to
// real upstreams. Observed shares are checked against the configured ones
// within 5 binomial standard deviations: wide enough never to flake, narrow
// enough that a wrong split (50/50 for 90/10) fails by far.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startInProcessProxy, type InProcessProxy } from '../support/in_process_proxy.js';
import { request, startUpstream, type TestServer } from '../support/http_util.js';
import { indent, staticCluster } from './fixtures.js';

function config(routes: string, clusters: string): string {
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
          stat_prefix: ingress_http
          route_config:
            name: local_route
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
${indent(routes, 14)}
          http_filters:
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
${indent(clusters, 2)}`;
}

/** `n` GETs of `path` over a few keep-alive connections; how many answers came from each upstream (by body). */
async function tally(port: number, path: string, n: number, headers: Record<string, string> = {}): Promise<Map<string, number>> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  const counts = new Map<string, number>();
  try {
    for (let done = 0; done < n;) {
      const batch = Math.min(100, n - done);
      const replies = await Promise.all(Array.from({ length: batch }, () => request(port, { path, headers, agent })));
      for (const r of replies) {
        assert.equal(r.status, 200, r.body);
        counts.set(r.body, (counts.get(r.body) ?? 0) + 1);
      }
      done += batch;
    }
  } finally {
    agent.destroy();
  }
  return counts;
}

/** Asserts `got` of `n` is within 5 binomial standard deviations of share `p`. */
function assertShare(got: number, n: number, p: number, what: string): void {
  const sigma = Math.sqrt(n * p * (1 - p));
  assert.ok(Math.abs(got - n * p) <= 5 * sigma,
    `${what}: ${got} of ${n}, expected ${n * p} ± ${(5 * sigma).toFixed(0)} (5σ)`);
}

describe('traffic splits and canaries', () => {
  const upstreams = new Map<string, TestServer>();
  let proxy: InProcessProxy;
  let port: number;

  before(async () => {
    for (const name of ['stable', 'canary', 'a', 'b', 'c']) {
      upstreams.set(name, await startUpstream((_req, res) => res.end(name)));
    }
    const routes = `
- match: { prefix: "/split" }
  route:
    weighted_clusters:
      total_weight: 100
      runtime_key_prefix: routing.traffic_shift.web
      clusters:
      - { name: stable, weight: 90 }
      - { name: canary, weight: 10 }
- match: { prefix: "/three" }
  route:
    weighted_clusters:
      clusters:
      - { name: a, weight: 1 }
      - { name: b, weight: 0 }
      - { name: c, weight: 3 }
- match: { prefix: "/by-key" }
  route:
    weighted_clusters:
      header_name: x-split-key
      clusters:
      - { name: stable, weight: 90 }
      - { name: canary, weight: 10 }
- match:
    prefix: "/fraction"
    runtime_fraction: { default_value: { numerator: 30, denominator: HUNDRED }, runtime_key: routing.fraction }
  route: { cluster: canary }
- match: { prefix: "/fraction" }
  route: { cluster: stable }
- match:
    prefix: "/ab"
    headers: [{ name: x-canary, string_match: { exact: "true" } }]
  route: { cluster: canary }
- match:
    prefix: "/ab"
    headers: [{ name: cookie, string_match: { contains: "group=beta" } }]
  route: { cluster: canary }
- match: { prefix: "/ab" }
  route: { cluster: stable }
`;
    const clusters = [...upstreams].map(([name, s]) => staticCluster(name, s.port)).join('');
    proxy = await startInProcessProxy(config(routes, clusters));
    port = proxy.ports.get('ingress')!;
  });

  after(async () => {
    proxy.stop();
    await Promise.all([...upstreams.values()].map((s) => s.close()));
  });

  it('90/10 weighted split (total_weight, runtime_key_prefix without a runtime layer) over 2000 requests', async () => {
    const n = 2000;
    const counts = await tally(port, '/split', n);
    assert.deepEqual([...counts.keys()].sort(), ['canary', 'stable']);
    assertShare(counts.get('canary')!, n, 0.1, 'canary share');
    assert.equal(counts.get('canary')! + counts.get('stable')!, n);
    // The cluster stats agree with what the client saw.
    assert.equal(proxy.stat('cluster.canary.upstream_rq_200'), counts.get('canary'));
  });

  it('1/0/3 split: a zero-weight cluster never gets traffic', async () => {
    const n = 800;
    const counts = await tally(port, '/three', n);
    assert.equal(counts.get('b'), undefined);
    assertShare(counts.get('a')!, n, 0.25, 'a share');
    assertShare(counts.get('c')!, n, 0.75, 'c share');
  });

  it('header_name: the header value picks deterministically (value % total), bad values fall back to random', async () => {
    const pick = async (key: string): Promise<string> => (await request(port, { path: '/by-key', headers: { 'x-split-key': key } })).body;
    for (const [key, want] of [['0', 'stable'], ['89', 'stable'], ['90', 'canary'], ['99', 'canary'], ['100', 'stable'], ['195', 'canary'],
      ['18446744073709551615', 'stable']] as const) {
      assert.equal(await pick(key), want, `x-split-key ${key}`);
    }
    // Sticky: the same key always lands on the same side.
    for (let i = 0; i < 20; i++) assert.equal(await pick('1234597'), 'canary');
    // A non-number is ignored: the random pick (both sides occur).
    const counts = await tally(port, '/by-key', 400, { 'x-split-key': 'not-a-number' });
    assertShare(counts.get('canary') ?? 0, 400, 0.1, 'canary share with a bad key');
  });

  it('route match runtime_fraction 30%: the default_value decides (no runtime layer)', async () => {
    const n = 1000;
    const counts = await tally(port, '/fraction', n);
    assertShare(counts.get('canary')!, n, 0.3, 'runtime_fraction route');
    assert.equal(counts.get('canary')! + counts.get('stable')!, n);
  });

  it('header A/B routes: exact header or cookie substring to the canary, everything else stable', async () => {
    const via = async (headers: Record<string, string>): Promise<string> => (await request(port, { path: '/ab/page', headers })).body;
    assert.equal(await via({ 'x-canary': 'true' }), 'canary');
    assert.equal(await via({ cookie: 'session=1; group=beta; theme=dark' }), 'canary');
    assert.equal(await via({}), 'stable');
    assert.equal(await via({ 'x-canary': 'TRUE' }), 'stable', 'exact match is case sensitive');
    assert.equal(await via({ 'x-canary': 'false' }), 'stable');
    assert.equal(await via({ cookie: 'group=alpha' }), 'stable');
  });
});

describe('impossible splits are rejected when the config loads', () => {
  const load = (weighted: string): Promise<InProcessProxy> => startInProcessProxy(config(`
- match: { prefix: "/" }
  route:
    weighted_clusters:
${indent(weighted, 6)}`, staticCluster('a', 1) + staticCluster('b', 2)));

  it('weights summing to 0', async () => {
    await assert.rejects(load('clusters: [{ name: a, weight: 0 }, { name: b, weight: 0 }]'),
      /weighted_clusters\.clusters: Sum of weights in the weighted_cluster must be greater than 0/);
  });

  it('total_weight different from the sum', async () => {
    await assert.rejects(load('total_weight: 100\nclusters: [{ name: a, weight: 90 }, { name: b, weight: 20 }]'),
      /weighted_clusters\.total_weight: Sum of weights in the weighted_cluster \(110\) must equal total_weight \(100\)/);
  });

  it('no clusters at all', async () => {
    await assert.rejects(load('clusters: []'), /clusters/);
  });
});
