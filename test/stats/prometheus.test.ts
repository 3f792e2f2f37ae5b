import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HistogramUnit } from '../../src/envoy/stats/stats.js';
import { StatsStore } from '../../src/stats/stats_impl.js';
import { TagProducer } from '../../src/stats/tag_extractor.js';
import {
  checkPrometheusParams, compareStatNames, formatPrometheusTags, prometheusMetricName, renderPrometheus,
} from '../../src/stats/prometheus.js';
import { parseStatsParams, type StatsParams } from '../../src/stats/stats_params.js';

function params(q = ''): StatsParams {
  const r = parseStatsParams(new URLSearchParams(q));
  assert.ok(r.ok);
  return r.params;
}

const BUCKETS = ['0.5', '1', '5', '10', '25', '50', '100', '250', '500', '1000', '2500', '5000', '10000', '30000',
  '60000', '300000', '600000', '1800000', '3600000'];

function histogramLines(name: string, labels: string, counts: number[], sum: string, count: number): string {
  const l = labels === '' ? '' : `${labels},`;
  return BUCKETS.map((b, i) => `${name}_bucket{${l}le="${b}"} ${counts[i]}\n`).join('') +
    `${name}_bucket{${l}le="+Inf"} ${count}\n${name}_sum{${labels}} ${sum}\n${name}_count{${labels}} ${count}\n`;
}

function fixture(): StatsStore {
  const store = new StatsStore();
  const root = store.rootScope;
  // Created out of order on purpose: output is grouped and sorted.
  root.counter('http.ingress_http.downstream_rq_2xx').add(7);
  root.counter('cluster.x.upstream_rq_total').add(3);
  root.counter('cluster.a.upstream_rq_total').add(1);
  root.counter('cluster.x.upstream_rq_503').add(2);
  root.counter('http.ingress_http.downstream_rq_5xx').add(1);
  root.counter('server.dynamic_unknown_fields');
  root.gauge('cluster.x.upstream_cx_active').set(4);
  root.gauge('server.uptime').set(12);
  const h = root.histogram('cluster.x.upstream_rq_time', HistogramUnit.Milliseconds);
  // Envoy's PrometheusStatsFormatterTest fixture values.
  for (const v of [50, 20, 30, 70, 100, 5000, 200]) h.recordValue(v);
  root.histogram('http.ingress_http.downstream_rq_time', HistogramUnit.Milliseconds);
  return store;
}

test('Prometheus output of a small store, byte for byte', () => {
  const expected =
    '# TYPE envoy_cluster_upstream_rq counter\n' +
    'envoy_cluster_upstream_rq{envoy_response_code="503",envoy_cluster_name="x"} 2\n' +
    '# TYPE envoy_cluster_upstream_rq_total counter\n' +
    'envoy_cluster_upstream_rq_total{envoy_cluster_name="a"} 1\n' +
    'envoy_cluster_upstream_rq_total{envoy_cluster_name="x"} 3\n' +
    '# TYPE envoy_http_downstream_rq_xx counter\n' +
    'envoy_http_downstream_rq_xx{envoy_response_code_class="2",envoy_http_conn_manager_prefix="ingress_http"} 7\n' +
    'envoy_http_downstream_rq_xx{envoy_response_code_class="5",envoy_http_conn_manager_prefix="ingress_http"} 1\n' +
    '# TYPE envoy_server_dynamic_unknown_fields counter\n' +
    'envoy_server_dynamic_unknown_fields{} 0\n' +
    '# TYPE envoy_cluster_upstream_cx_active gauge\n' +
    'envoy_cluster_upstream_cx_active{envoy_cluster_name="x"} 4\n' +
    '# TYPE envoy_server_uptime gauge\n' +
    'envoy_server_uptime{} 12\n' +
    '# TYPE envoy_cluster_upstream_rq_time histogram\n' +
    histogramLines('envoy_cluster_upstream_rq_time', 'envoy_cluster_name="x"',
      [0, 0, 0, 0, 1, 2, 4, 6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7], '5532', 7) +
    '# TYPE envoy_http_downstream_rq_time histogram\n' +
    histogramLines('envoy_http_downstream_rq_time', 'envoy_http_conn_manager_prefix="ingress_http"',
      BUCKETS.map(() => 0), '0', 0);
  assert.equal(renderPrometheus(fixture(), params()), expected);
});

test('usedonly drops unused stats and their TYPE lines; filter is a partial RE2 match on the full name', () => {
  const store = fixture();
  const used = renderPrometheus(store, params('usedonly'));
  assert.ok(!used.includes('dynamic_unknown_fields'));
  assert.ok(!used.includes('envoy_http_downstream_rq_time'));
  assert.ok(used.includes('envoy_cluster_upstream_rq_time_count{envoy_cluster_name="x"} 7\n'));

  const filtered = renderPrometheus(store, params(`filter=${encodeURIComponent('cluster\\.a\\.')}`));
  assert.equal(filtered,
    '# TYPE envoy_cluster_upstream_rq_total counter\nenvoy_cluster_upstream_rq_total{envoy_cluster_name="a"} 1\n');
});

test('summary mode prints interval quantiles', () => {
  const store = new StatsStore();
  const h = store.rootScope.histogram('h1', HistogramUnit.Unspecified);
  h.recordValue(200);
  store.flushHistograms();
  const out = renderPrometheus(store, params('histogram_buckets=summary'));
  assert.equal(out,
    '# TYPE envoy_h1 summary\n' +
    'envoy_h1{quantile="0"} 200\nenvoy_h1{quantile="0.25"} 202.5\nenvoy_h1{quantile="0.5"} 205\n' +
    'envoy_h1{quantile="0.75"} 207.5\nenvoy_h1{quantile="0.9"} 209\nenvoy_h1{quantile="0.95"} 209.5\n' +
    'envoy_h1{quantile="0.99"} 209.9000000000000056843418860808\nenvoy_h1{quantile="0.995"} 209.9499999999999886313162278384\n' +
    'envoy_h1{quantile="0.999"} 209.99000000000000909494701772928\nenvoy_h1{quantile="1"} 210\n' +
    'envoy_h1_sum{} 205\nenvoy_h1_count{} 1\n');
  assert.equal(checkPrometheusParams(params('histogram_buckets=disjoint')), 'unsupported prometheus histogram bucket mode');
});

test('names and labels are sanitized as Envoy does', () => {
  assert.equal(prometheusMetricName('vulture.eats-liver'), 'envoy_vulture_eats_liver');
  assert.equal(prometheusMetricName('An.artist.plays-violin@019street'), 'envoy_An_artist_plays_violin_019street');
  assert.equal(formatPrometheusTags([['a.tag-name', 'a.tag-value'], ['another_tag_name', 'another_tag-value'],
    ['replace_problematic', 'val"ue with\\ some\n issues']]),
  'a_tag_name="a.tag-value",another_tag_name="another_tag-value",replace_problematic="val\\"ue with\\\\ some\\n issues"');
});

test('custom stats_tags change labels; the plan is rebuilt when the producer changes', () => {
  const store = new StatsStore();
  store.rootScope.counter('cluster.x.upstream_rq_total').inc();
  assert.ok(renderPrometheus(store, params()).includes('{envoy_cluster_name="x"}'));
  store.setTagProducer(TagProducer.create({ statsTags: [{ tagName: 'region', fixedValue: 'eu' }] }));
  // Tags without a prefix token (fixed ones) come first, as in Envoy's TagProducerImpl.
  assert.ok(renderPrometheus(store, params()).includes('envoy_cluster_upstream_rq_total{region="eu",envoy_cluster_name="x"} 1\n'));
});

test('group order is token by token, like Envoy symbol tables', () => {
  assert.ok(compareStatNames('a.b', 'a-b') < 0);
  assert.ok(compareStatNames('cluster.upstream_rq', 'cluster.upstream_rq_total') < 0);
  assert.ok(compareStatNames('a', 'a.b') < 0);
});
