import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HistogramUnit } from '../../src/envoy/stats/stats.js';
import { StatsStore } from '../../src/stats/stats_impl.js';
import { renderStatsJson, renderStatsText } from '../../src/stats/stats_render.js';
import { parseStatsParams, type StatsParams } from '../../src/stats/stats_params.js';

function params(q = ''): StatsParams {
  const r = parseStatsParams(new URLSearchParams(q));
  assert.ok(r.ok, q);
  return r.params;
}

// Expected strings below are from Envoy's test/server/admin/stats_handler_test.cc.

test('text: counters and gauges sorted together, then histogram quantile lines', () => {
  const store = new StatsStore();
  const root = store.rootScope;
  root.gauge('s4');
  root.counter('c2').add(20);
  root.counter('c1').add(10);
  root.gauge('s2').set(2);
  const h1 = root.histogram('h1', HistogramUnit.Unspecified);
  const h2 = root.histogram('h2', HistogramUnit.Unspecified);
  h1.recordValue(200);
  h2.recordValue(100);
  store.flushHistograms();
  assert.equal(renderStatsText(store, params()),
    'c1: 10\nc2: 20\ns2: 2\ns4: 0\n' +
    'h1: P0(200,200) P25(202.5,202.5) P50(205,205) P75(207.5,207.5) P90(209,209) P95(209.5,209.5) ' +
    'P99(209.9,209.9) P99.5(209.95,209.95) P99.9(209.99,209.99) P100(210,210)\n' +
    'h2: P0(100,100) P25(102.5,102.5) P50(105,105) P75(107.5,107.5) P90(109,109) P95(109.5,109.5) ' +
    'P99(109.9,109.9) P99.5(109.95,109.95) P99.9(109.99,109.99) P100(110,110)\n');
});

test('text: unused histogram and empty interval', () => {
  const store = new StatsStore();
  const h = store.rootScope.histogram('h', HistogramUnit.Milliseconds);
  store.rootScope.histogram('unused', HistogramUnit.Milliseconds);
  h.recordValue(1);
  assert.equal(renderStatsText(store, params()),
    'h: P0(nan,1) P25(nan,1.025) P50(nan,1.05) P75(nan,1.075) P90(nan,1.09) P95(nan,1.095) ' +
    'P99(nan,1.099) P99.5(nan,1.0995) P99.9(nan,1.0999) P100(nan,1.1)\nunused: No recorded values\n');
  assert.equal(renderStatsText(store, params('usedonly')).split('\n').length, 2);
});

test('text: histogram_buckets=cumulative and disjoint', () => {
  const store = new StatsStore();
  const h1 = store.rootScope.histogram('h1', HistogramUnit.Unspecified);
  h1.recordValue(300);
  store.flushHistograms();
  assert.equal(renderStatsText(store, params('histogram_buckets=cumulative')),
    'h1: B0.5(0,0) B1(0,0) B5(0,0) B10(0,0) B25(0,0) B50(0,0) B100(0,0) B250(0,0) ' +
    'B500(1,1) B1000(1,1) B2500(1,1) B5000(1,1) B10000(1,1) B30000(1,1) B60000(1,1) ' +
    'B300000(1,1) B600000(1,1) B1.8e+06(1,1) B3.6e+06(1,1)\n');

  const s2 = new StatsStore();
  const a = s2.rootScope.histogram('h1', HistogramUnit.Unspecified);
  s2.rootScope.histogram('h2', HistogramUnit.Unspecified);
  a.recordValue(200);
  a.recordValue(300);
  s2.flushHistograms();
  a.recordValue(300);
  s2.flushHistograms();
  assert.equal(renderStatsText(s2, params('histogram_buckets=disjoint')),
    'h1: B0.5(0,0) B1(0,0) B5(0,0) B10(0,0) B25(0,0) B50(0,0) B100(0,0) B250(0,1) ' +
    'B500(1,2) B1000(0,0) B2500(0,0) B5000(0,0) B10000(0,0) B30000(0,0) B60000(0,0) ' +
    'B300000(0,0) B600000(0,0) B1.8e+06(0,0) B3.6e+06(0,0)\nh2: No recorded values\n');
});

test('text: detailed buckets', () => {
  const store = new StatsStore();
  const h = store.rootScope.histogram('h', HistogramUnit.Unspecified);
  h.recordValue(0);
  h.recordValue(200);
  h.recordValue(200);
  store.flushHistograms();
  assert.equal(renderStatsText(store, params('histogram_buckets=detailed')),
    'h:\n  totals=0,0:1, 200,10:2\n  intervals=0,0:1, 200,10:2\n' +
    '  summary=P0(0,0) P25(0,0) P50(202.5,202.5) P75(206.25,206.25) P90(208.5,208.5) P95(209.25,209.25) ' +
    'P99(209.85,209.85) P99.5(209.925,209.925) P99.9(209.985,209.985) P100(210,210)\n');
});

test('text: filter, usedonly and type', () => {
  const store = new StatsStore();
  const root = store.rootScope;
  root.counter('cluster.a.upstream_rq_total').inc();
  root.counter('cluster.b.upstream_rq_total');
  root.gauge('cluster.a.upstream_cx_active').set(1);
  root.histogram('cluster.a.upstream_rq_time', HistogramUnit.Milliseconds).recordValue(5);
  assert.equal(renderStatsText(store, params('filter=cluster%5C.b')), 'cluster.b.upstream_rq_total: 0\n');
  assert.equal(renderStatsText(store, params('usedonly&type=Counters')), 'cluster.a.upstream_rq_total: 1\n');
  assert.equal(renderStatsText(store, params('type=Gauges')), 'cluster.a.upstream_cx_active: 1\n');
  assert.match(renderStatsText(store, params('type=Histograms')), /^cluster\.a\.upstream_rq_time: P0\(nan,5\) /);
  assert.equal(renderStatsText(store, params('type=TextReadouts')), '');
});

test('JSON: counters, then one histograms entry with supported and computed quantiles', () => {
  const store = new StatsStore();
  const root = store.rootScope;
  root.counter('c1').add(10);
  const h1 = root.histogram('h1', HistogramUnit.Unspecified);
  const h2 = root.histogram('h2', HistogramUnit.Unspecified);
  h1.recordValue(200);
  h2.recordValue(100);
  store.flushHistograms();
  h1.recordValue(100);
  store.flushHistograms();
  const doc = JSON.parse(renderStatsJson(store, params('format=json')));
  assert.deepEqual(doc.stats[0], { name: 'c1', value: 10 });
  const hist = doc.stats[1].histograms;
  assert.deepEqual(hist.supported_quantiles, [0, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 100]);
  assert.deepEqual(hist.computed_quantiles[0], {
    name: 'h1',
    values: [[100, 100], [102.5, 105], [105, 110], [107.5, 205], [109, 208], [109.5, 209], [109.9, 209.8],
      [109.95, 209.9], [109.99, 209.98], [110, 210]].map(([interval, cumulative]) => ({ cumulative, interval })),
  });
  assert.deepEqual(hist.computed_quantiles[1].values[0], { cumulative: 100, interval: null });
  // Compact, key order as Envoy's streamer writes it.
  assert.ok(renderStatsJson(store, params('format=json')).startsWith(
    '{"stats":[{"name":"c1","value":10},{"histograms":{"supported_quantiles":[0,25,50,75,90,95,99,99.5,99.9,100],' +
    '"computed_quantiles":[{"name":"h1","values":[{"cumulative":100,"interval":100},'));
});

test('JSON: usedonly, filter, bucket modes', () => {
  const store = new StatsStore();
  const root = store.rootScope;
  root.counter('c1').add(10);
  root.histogram('h1', HistogramUnit.Unspecified);
  assert.equal(renderStatsJson(store, params('format=json&usedonly')), '{"stats":[{"name":"c1","value":10}]}');
  assert.equal(renderStatsJson(store, params('format=json&filter=nothing')), '{"stats":[]}');
  const h = root.histogram('h2', HistogramUnit.Unspecified);
  h.recordValue(300);
  store.flushHistograms();
  const doc = JSON.parse(renderStatsJson(store, params('format=json&usedonly&histogram_buckets=cumulative')));
  assert.deepEqual(doc.stats[1].histograms[0].name, 'h2');
  assert.deepEqual(doc.stats[1].histograms[0].buckets[8], { upper_bound: 500, interval: 1, cumulative: 1 });
  assert.deepEqual(doc.stats[1].histograms[0].buckets[7], { upper_bound: 250, interval: 0, cumulative: 0 });
  // A histogram never recorded into shows zeros, as Envoy's never-computed statistics.
  const all = JSON.parse(renderStatsJson(store, params('format=json')));
  assert.deepEqual(all.stats[1].histograms.computed_quantiles[0].values[0], { cumulative: 0, interval: 0 });
  const detailed = JSON.parse(renderStatsJson(store, params('format=json&usedonly&histogram_buckets=detailed')));
  assert.deepEqual(detailed.stats[1].histograms.details[0].totals, [{ lower_bound: 300, width: 10, count: 1 }]);
});

test('bad parameters answer 400 with Envoy messages', () => {
  const bad = (q: string) => {
    const r = parseStatsParams(new URLSearchParams(q));
    assert.ok(!r.ok, q);
    return r.body;
  };
  assert.equal(bad('format=blergh'), 'usage: /stats?format=(html|active-html|json|prometheus|text)\n\n');
  assert.equal(bad('filter=%28'), 'Invalid re2 regex');
  assert.equal(bad('type=Nope'), 'invalid &type= param');
  assert.equal(bad('histogram_buckets=invalid_input'), 'usage: /stats?histogram_buckets=(cumulative|disjoint|detailed|summary)\n');
  assert.equal(bad('hidden=foo'), 'usage: /stats?hidden=(include|only|exclude)\n\n');
});

test('reset and scope naming', () => {
  const store = new StatsStore();
  const c = store.rootScope.createScope('cluster.foo:80').counter('upstream_rq_total');
  c.add(5);
  assert.equal(c.name, 'cluster.foo_80.upstream_rq_total');
  store.resetCounters();
  assert.equal(c.value(), 0);
  assert.equal(renderStatsText(store, params('usedonly')), 'cluster.foo_80.upstream_rq_total: 0\n');
});
