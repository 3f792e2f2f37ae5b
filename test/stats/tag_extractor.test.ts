import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TagProducer, TagNames as T, defaultTagProducer, extractRegexPrefix } from '../../src/stats/tag_extractor.js';

// Vectors from Envoy's test/common/stats/tag_extractor_impl_test.cc (DefaultTagExtractors)
// and the stats integration test's tag-extracted-name tables. Tags are in the
// order Envoy's TagProducerImpl produces them (Prometheus label order).
const CASES: ReadonlyArray<readonly [string, string, ReadonlyArray<readonly [string, string]>]> = [
  ['cluster.ratelimit.upstream_rq_timeout', 'cluster.upstream_rq_timeout', [[T.CLUSTER_NAME, 'ratelimit']]],
  ['cluster.x.upstream_rq_total', 'cluster.upstream_rq_total', [[T.CLUSTER_NAME, 'x']]],
  ['cluster.x.upstream_rq_200', 'cluster.upstream_rq', [[T.RESPONSE_CODE, '200'], [T.CLUSTER_NAME, 'x']]],
  ['cluster.x.upstream_rq_5xx', 'cluster.upstream_rq_xx', [[T.RESPONSE_CODE_CLASS, '5'], [T.CLUSTER_NAME, 'x']]],
  ['http.ingress_http.downstream_rq_2xx', 'http.downstream_rq_xx',
    [[T.RESPONSE_CODE_CLASS, '2'], [T.HTTP_CONN_MANAGER_PREFIX, 'ingress_http']]],
  ['http.egress_dynamodb_iad.downstream_cx_total', 'http.downstream_cx_total', [[T.HTTP_CONN_MANAGER_PREFIX, 'egress_dynamodb_iad']]],
  ['listener.127.0.0.1_3012.http.http_prefix.downstream_rq_5xx', 'listener.http.downstream_rq_xx',
    [[T.RESPONSE_CODE_CLASS, '5'], [T.HTTP_CONN_MANAGER_PREFIX, 'http_prefix'], [T.LISTENER_ADDRESS, '127.0.0.1_3012']]],
  ['listener.[__1]_0.http.router.downstream_rq_2xx', 'listener.http.downstream_rq_xx',
    [[T.RESPONSE_CODE_CLASS, '2'], [T.HTTP_CONN_MANAGER_PREFIX, 'router'], [T.LISTENER_ADDRESS, '[__1]_0']]],
  ['listener.0.0.0.0_10000.downstream_cx_total', 'listener.downstream_cx_total', [[T.LISTENER_ADDRESS, '0.0.0.0_10000']]],
  ['listener.[__]_10000.downstream_cx_active', 'listener.downstream_cx_active', [[T.LISTENER_ADDRESS, '[__]_10000']]],
  ['listener.[__1]_0.ssl.ciphers.AES256-SHA', 'listener.ssl.ciphers',
    [[T.SSL_CIPHER, 'AES256-SHA'], [T.LISTENER_ADDRESS, '[__1]_0']]],
  ['listener.[2001_0db8_85a3_0000_0000_8a2e_0370_7334]_3543.ssl.ciphers.AES256-SHA', 'listener.ssl.ciphers',
    [[T.SSL_CIPHER, 'AES256-SHA'], [T.LISTENER_ADDRESS, '[2001_0db8_85a3_0000_0000_8a2e_0370_7334]_3543']]],
  ['listener.my_prefix.ssl.ciphers.AES256-SHA', 'listener.ssl.ciphers', [[T.SSL_CIPHER, 'AES256-SHA'], [T.LISTENER_ADDRESS, 'my_prefix']]],
  ['listener.prefix.notmatching.ssl.ciphers.AES256-SHA', 'listener.notmatching.ssl.ciphers',
    [[T.SSL_CIPHER, 'AES256-SHA'], [T.LISTENER_ADDRESS, 'prefix']]],
  ['listener.admin.ssl.ciphers.AES256-SHA', 'listener.admin.ssl.ciphers', [[T.SSL_CIPHER, 'AES256-SHA']]],
  ['listener.admin.downstream_cx_active', 'listener.admin.downstream_cx_active', []],
  ['cluster.ratelimit.ssl.ciphers.ECDHE-RSA-AES128-GCM-SHA256', 'cluster.ssl.ciphers',
    [[T.SSL_CIPHER_SUITE, 'ECDHE-RSA-AES128-GCM-SHA256'], [T.CLUSTER_NAME, 'ratelimit']]],
  ['mongo.mongo_filter.op_reply', 'mongo.op_reply', [[T.MONGO_PREFIX, 'mongo_filter']]],
  ['mongo.mongo_filter.cmd.foo_cmd.reply_size', 'mongo.cmd.reply_size', [[T.MONGO_CMD, 'foo_cmd'], [T.MONGO_PREFIX, 'mongo_filter']]],
  ['mongo.mongo_filter.collection.bar_collection.callsite.baz_callsite.query.scatter_get',
    'mongo.collection.callsite.query.scatter_get',
    [[T.MONGO_CALLSITE, 'baz_callsite'], [T.MONGO_COLLECTION, 'bar_collection'], [T.MONGO_PREFIX, 'mongo_filter']]],
  ['ratelimit.foo_ratelimiter.over_limit', 'ratelimit.over_limit', [[T.RATELIMIT_PREFIX, 'foo_ratelimiter']]],
  ['foo_ratelimiter.http_local_rate_limit.ok', 'http_local_rate_limit.ok', [[T.LOCAL_HTTP_RATELIMIT_PREFIX, 'foo_ratelimiter']]],
  ['http.egress_dynamodb_iad.dynamodb.table.bar_table.capacity.Query.__partition_id=ABC1234', 'http.dynamodb.table.capacity',
    [[T.DYNAMO_PARTITION_ID, 'ABC1234'], [T.DYNAMO_OPERATION, 'Query'], [T.DYNAMO_TABLE, 'bar_table'],
      [T.HTTP_CONN_MANAGER_PREFIX, 'egress_dynamodb_iad']]],
  ['cluster.grpc_cluster.grpc.grpc_service_1.grpc_method_1.success', 'cluster.grpc.success',
    [[T.GRPC_BRIDGE_METHOD, 'grpc_method_1'], [T.GRPC_BRIDGE_SERVICE, 'grpc_service_1'], [T.CLUSTER_NAME, 'grpc_cluster']]],
  ['vhost.vhost_1.vcluster.vcluster_1.upstream_rq_2xx', 'vhost.vcluster.upstream_rq_xx',
    [[T.RESPONSE_CODE_CLASS, '2'], [T.VIRTUAL_CLUSTER, 'vcluster_1'], [T.VIRTUAL_HOST, 'vhost_1']]],
  ['http.egress_dynamodb_iad.user_agent.ios.downstream_cx_total', 'http.user_agent.downstream_cx_total',
    [[T.HTTP_USER_AGENT, 'ios'], [T.HTTP_CONN_MANAGER_PREFIX, 'egress_dynamodb_iad']]],
  ['tcp.tcp_prefix.downstream_flow_control_resumed_reading_total', 'tcp.downstream_flow_control_resumed_reading_total',
    [[T.TCP_PREFIX, 'tcp_prefix']]],
  ['http.fault_connection_manager.fault.fault_cluster.aborts_injected', 'http.fault.aborts_injected',
    [[T.FAULT_DOWNSTREAM_CLUSTER, 'fault_cluster'], [T.HTTP_CONN_MANAGER_PREFIX, 'fault_connection_manager']]],
  ['http.rds_connection_manager.rds.agg/route_config.1-23.update_success', 'http.rds.update_success',
    [[T.RDS_ROUTE_CONFIG, 'agg/route_config.1-23'], [T.HTTP_CONN_MANAGER_PREFIX, 'rds_connection_manager']]],
  ['listener_manager.worker_123.dispatcher.loop_duration_us', 'listener_manager.worker_dispatcher.loop_duration_us',
    [[T.WORKER_ID, '123']]],
  ['listener.127.0.0.1_3012.worker_123.downstream_cx_active', 'listener.worker_downstream_cx_active',
    [[T.WORKER_ID, '123'], [T.LISTENER_ADDRESS, '127.0.0.1_3012']]],
  ['server.worker_123.watchdog_miss', 'server.worker_watchdog_miss', [[T.WORKER_ID, '123']]],
  ['http.hcm_prefix.rbac.prefix.allowed', 'http.rbac.allowed', [[T.RBAC_HTTP_PREFIX, 'prefix'], [T.HTTP_CONN_MANAGER_PREFIX, 'hcm_prefix']]],
  ['server.uptime', 'server.uptime', []],
  ['cluster_manager.active_clusters', 'cluster_manager.active_clusters', []],
];

test('default tag extraction matches Envoy', () => {
  const p = defaultTagProducer();
  for (const [name, extracted, tags] of CASES) {
    const r = p.produceTags(name);
    assert.equal(r.tagExtractedName, extracted, name);
    assert.deepEqual(r.tags, tags, name);
  }
});

test('use_all_default_tags false extracts nothing', () => {
  const p = TagProducer.create({ useAllDefaultTags: false });
  assert.deepEqual(p.produceTags('cluster.x.upstream_rq_200'), { tagExtractedName: 'cluster.x.upstream_rq_200', tags: [] });
});

test('custom stats_tags: regex, fixed value, and a default re-enabled by name', () => {
  const p = TagProducer.create({
    useAllDefaultTags: false,
    statsTags: [
      { tagName: T.CLUSTER_NAME },
      { tagName: 'service', regex: String.raw`^cluster\.[^.]+\.(svc_(\w+)\.)` },
      { tagName: 'region', fixedValue: 'eu' },
    ],
  });
  const r = p.produceTags('cluster.x.svc_billing.upstream_rq_total');
  assert.equal(r.tagExtractedName, 'cluster.upstream_rq_total');
  assert.deepEqual(r.tags, [['region', 'eu'], [T.CLUSTER_NAME, 'x'], ['service', 'billing']]);
  // The fixed tag applies to every stat.
  assert.deepEqual(p.produceTags('server.uptime').tags, [['region', 'eu']]);
});

test('bad stats_tags are rejected with Envoy messages', () => {
  assert.throws(() => TagProducer.create({ statsTags: [{ tagName: 'no_such_default' }] }),
    /No regex specified for tag specifier and no default regex for name: 'no_such_default'/);
  assert.throws(() => TagProducer.create({ statsTags: [{ tagName: '', regex: 'x' }] }), /tag_name cannot be empty/);
  assert.throws(() => TagProducer.create({ statsTags: [{ tagName: 't', regex: '(' }] }), /Invalid regex/);
});

test('regex prefix extraction', () => {
  assert.equal(extractRegexPrefix(String.raw`^cluster\.((.+?)\.)`), 'cluster');
  assert.equal(extractRegexPrefix(String.raw`^listener(?=\.).*`), 'listener');
  assert.equal(extractRegexPrefix(String.raw`_rq(_(\d{3}))$`), '');
  assert.equal(extractRegexPrefix(String.raw`^(?:listener|cluster)\..*`), '');
  assert.equal(extractRegexPrefix('^server$'), 'server');
});
