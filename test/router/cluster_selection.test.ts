import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { RouteEntryImpl } from '../../src/router/route_entry_impl.js';
import { pairsOf, req, streamInfo, table } from './test_util.js';

function entry(action: string, extra = ''): RouteEntryImpl {
  const t = table(`
name: rc
virtual_hosts:
- name: vh
  domains: ["*"]
  routes:
  - match: {prefix: /}
    route: ${action}
${extra}`);
  const r = t.route(req('h', '/'), streamInfo(), 0);
  assert.ok(r?.routeEntry);
  return r.routeEntry as RouteEntryImpl;
}

describe('cluster and cluster_header', () => {
  it('cluster', () => {
    assert.equal(entry('{cluster: backend}').clusterName(req('h', '/'), 7), 'backend');
  });

  it('cluster_header: first value; null when absent or empty', () => {
    const e = entry('{cluster_header: X-Cluster}');
    assert.equal(e.clusterName(req('h', '/', [['x-cluster', 'a'], ['x-cluster', 'b']]), 0), 'a');
    assert.equal(e.clusterName(req('h', '/'), 0), null);
    assert.equal(e.clusterName(req('h', '/', [['x-cluster', '']]), 0), null);
  });

  it('cluster_not_found_response_code', () => {
    assert.equal(entry('{cluster: c}').clusterNotFoundResponseCode, 503);
    assert.equal(entry('{cluster: c, cluster_not_found_response_code: NOT_FOUND}').clusterNotFoundResponseCode, 404);
    assert.equal(entry('{cluster: c, cluster_not_found_response_code: INTERNAL_SERVER_ERROR}').clusterNotFoundResponseCode, 500);
  });
});

describe('weighted_clusters', () => {
  const e = entry(`
      weighted_clusters:
        clusters:
        - {name: a, weight: 10}
        - {name: zero, weight: 0}
        - {name: b, weight: 30}
        - {name: c, weight: 60}`);
  const pick = (random: number) => e.clusterName(req('h', '/'), random);

  it('picks by random % total over [0,10) [10,40) [40,100), exact boundaries', () => {
    const cases: Array<[number, string]> = [
      [0, 'a'], [9, 'a'], [10, 'b'], [39, 'b'], [40, 'c'], [99, 'c'], [100, 'a'], [109, 'a'], [110, 'b'], [1_000_039, 'b'],
    ];
    for (const [r, want] of cases) assert.equal(pick(r), want, `random ${r}`);
  });

  it('distribution over every random value in one period matches the weights', () => {
    const counts = new Map<string, number>();
    for (let r = 0; r < 1000; r++) counts.set(pick(r)!, (counts.get(pick(r)!) ?? 0) + 1);
    assert.deepEqual(Object.fromEntries(counts), { a: 100, b: 300, c: 600 });
  });

  it('total_weight, when set, must equal the sum', () => {
    const t = entry(`
      weighted_clusters:
        total_weight: 100
        clusters: [{name: a, weight: 50}, {name: b, weight: 50}]`);
    assert.equal(t.clusterName(req('h', '/'), 49), 'a');
    assert.equal(t.clusterName(req('h', '/'), 50), 'b');
    assert.throws(() => entry(`
      weighted_clusters:
        total_weight: 100
        clusters: [{name: a, weight: 50}, {name: b, weight: 49}]`), /total_weight.*must equal total_weight \(100\)/);
  });

  it('header_name supplies the random value when it has exactly one integer value', () => {
    const h = entry(`
      weighted_clusters:
        header_name: x-random
        clusters: [{name: a, weight: 1}, {name: b, weight: 1}]`);
    assert.equal(h.clusterName(req('h', '/', [['x-random', '1']]), 0), 'b');
    assert.equal(h.clusterName(req('h', '/', [['x-random', '18446744073709551615']]), 0), 'b');
    assert.equal(h.clusterName(req('h', '/', [['x-random', 'abc']]), 0), 'a'); // falls back to random
    assert.equal(h.clusterName(req('h', '/', [['x-random', '1'], ['x-random', '1']]), 0), 'a');
  });

  it('cluster_header entries read the cluster from the request', () => {
    const h = entry(`
      weighted_clusters:
        clusters: [{cluster_header: x-c, weight: 1}, {name: b, weight: 1}]`);
    assert.equal(h.clusterName(req('h', '/', [['x-c', 'dyn']]), 0), 'dyn');
    assert.equal(h.clusterName(req('h', '/'), 0), null);
  });

  it('per-cluster header mutations, host_rewrite_literal and typed_per_filter_config', () => {
    const w = entry(`
      weighted_clusters:
        clusters:
        - name: a
          weight: 1
          host_rewrite_literal: a.internal
          request_headers_to_add: [{header: {key: x-cluster, value: a}}]
          request_headers_to_remove: [x-drop]
          response_headers_to_add: [{header: {key: x-served-by, value: a}}]
          typed_per_filter_config:
            envoy.filters.http.fault:
              "@type": type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault
              abort: {http_status: 503, percentage: {numerator: 100}}
        - {name: b, weight: 1}`);
    const m = w.clusterHeaderMutations('a');
    assert.ok(m !== null);
    const h = req('orig.host', '/', [['x-drop', '1']]);
    m.finalizeRequestHeaders(h, streamInfo());
    assert.equal(h.get(':authority'), 'a.internal');
    assert.equal(h.get('x-cluster'), 'a');
    assert.equal(h.get('x-drop'), undefined);
    const resp = req('x', '/');
    m.finalizeResponseHeaders(resp, streamInfo());
    assert.equal(resp.get('x-served-by'), 'a');
    assert.equal(w.clusterHeaderMutations('b') === null, false);
    assert.equal(w.clusterHeaderMutations('nope'), null);
    const picked = w.pickWeightedCluster(req('h', '/'), 0)!;
    assert.equal(picked.name, 'a');
    assert.equal((picked.perFilterConfig('envoy.filters.http.fault') as { typeUrl: string }).typeUrl,
      'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault');
    assert.deepEqual(pairsOf(resp).filter(([n]) => n === 'x-served-by'), [['x-served-by', 'a']]);
  });
});
