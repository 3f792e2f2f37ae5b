import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ResponseFlag } from '../../src/envoy/stream_info/response_flags.js';
import type { AccessLogFilter as FilterConfig } from '../../src/generated/envoy/config/accesslog/v3/accesslog_pb.js';
import { compileAccessLogFilter, type AccessLogFilterOptions } from '../../src/logging/access_log_filter.js';
import { LoggingConfigError } from '../../src/logging/errors.js';
import type { FormatterContext } from '../../src/logging/substitution_formatter.js';
import { context, fromYaml, headers, TestStreamInfo } from './test_util.js';

function filter(yaml: string, opts?: AccessLogFilterOptions): (ctx: FormatterContext) => boolean {
  const f = compileAccessLogFilter(fromYaml<FilterConfig>('envoy.config.accesslog.v3.AccessLogFilter', yaml), opts);
  assert.ok(f !== null);
  return (ctx) => f.evaluate(ctx);
}

function withStatus(code: number | null, init: Partial<TestStreamInfo> = {}): FormatterContext {
  return context(new TestStreamInfo({ responseCode: code, ...init }));
}

test('no filter means log everything', () => {
  assert.equal(compileAccessLogFilter(undefined), null);
});

test('status_code_filter compares with EQ, GE and LE (missing status is 0)', () => {
  const ge = filter('status_code_filter: {comparison: {op: GE, value: {default_value: 400, runtime_key: k}}}');
  assert.equal(ge(withStatus(500)), true);
  assert.equal(ge(withStatus(400)), true);
  assert.equal(ge(withStatus(200)), false);
  assert.equal(ge(withStatus(null)), false);
  const eq = filter('status_code_filter: {comparison: {op: EQ, value: {default_value: 0, runtime_key: k}}}');
  assert.equal(eq(withStatus(null)), true);
  const le = filter('status_code_filter: {comparison: {op: LE, value: {default_value: 299, runtime_key: k}}}');
  assert.equal(le(withStatus(204)), true);
  assert.equal(le(withStatus(302)), false);
  // A runtime override replaces the default value.
  const rt = filter('status_code_filter: {comparison: {op: GE, value: {default_value: 400, runtime_key: k}}}',
    { runtime: (key) => (key === 'k' ? 500 : undefined) });
  assert.equal(rt(withStatus(404)), false);
  assert.equal(rt(withStatus(503)), true);
});

test('duration_filter uses whole milliseconds of the request duration', () => {
  const f = filter('duration_filter: {comparison: {op: GE, value: {default_value: 100, runtime_key: d}}}');
  assert.equal(f(withStatus(200, { startTimeMonotonic: 0, completeMonotonic: 100.4 })), true);
  assert.equal(f(withStatus(200, { startTimeMonotonic: 0, completeMonotonic: 99.9 })), false);
});

test('not_health_check_filter and traceable_filter', () => {
  const nhc = filter('not_health_check_filter: {}');
  assert.equal(nhc(withStatus(200)), true);
  assert.equal(nhc(withStatus(200, { healthCheck: true })), false);
  assert.equal(filter('traceable_filter: {}')(withStatus(200)), false);
});

test('runtime_filter samples by percent, by request id unless independent', () => {
  let r = 0.3;
  const opts = { random: () => r };
  const f = filter('runtime_filter: {runtime_key: sample, percent_sampled: {numerator: 50, denominator: HUNDRED}, use_independent_randomness: true}', opts);
  assert.equal(f(withStatus(200)), true);
  r = 0.7;
  assert.equal(f(withStatus(200)), false);
  // Unset percent_sampled: 0%, unless the runtime key says otherwise.
  assert.equal(filter('runtime_filter: {runtime_key: sample}', opts)(withStatus(200)), false);
  assert.equal(filter('runtime_filter: {runtime_key: sample}', { ...opts, runtime: () => 100 })(withStatus(200)), true);
  // Tied to the request id: every log of one request makes the same choice.
  const byId = filter('runtime_filter: {runtime_key: s, percent_sampled: {numerator: 50, denominator: HUNDRED}}',
    { random: () => { throw new Error('must not be called'); } });
  const low = withStatus(200, { requestId: '00000010-0000-4000-8000-000000000000' }); // 16 % 100 = 16
  const high = withStatus(200, { requestId: '0000004b-0000-4000-8000-000000000000' }); // 75 % 100 = 75
  assert.equal(byId(low), true);
  assert.equal(byId(high), false);
});

test('and_filter and or_filter combine', () => {
  const and = filter(`
and_filter:
  filters:
  - status_code_filter: {comparison: {op: GE, value: {default_value: 500, runtime_key: a}}}
  - response_flag_filter: {flags: [UH]}
`);
  const uh = new TestStreamInfo({ responseCode: 503 });
  uh.setResponseFlag(ResponseFlag.NoHealthyUpstream);
  assert.equal(and(context(uh)), true);
  assert.equal(and(withStatus(503)), false);
  const or = filter(`
or_filter:
  filters:
  - status_code_filter: {comparison: {op: GE, value: {default_value: 500, runtime_key: a}}}
  - header_filter: {header: {name: x-debug, present_match: true}}
`);
  assert.equal(or(withStatus(200)), false);
  assert.equal(or(withStatus(502)), true);
  assert.equal(or(context(new TestStreamInfo(), { requestHeaders: headers({ 'x-debug': '1' }) })), true);
  assert.throws(() => filter('and_filter: {filters: [{traceable_filter: {}}]}'), /at least 2 filters/);
});

test('header_filter matches request headers like route header matchers', () => {
  const req = (h: Record<string, string> | null): FormatterContext =>
    context(new TestStreamInfo(), { requestHeaders: h === null ? null : headers(h) });
  const exact = filter('header_filter: {header: {name: X-Env, exact_match: prod}}');
  assert.equal(exact(req({ 'x-env': 'prod' })), true);
  assert.equal(exact(req({ 'x-env': 'dev' })), false);
  assert.equal(exact(req({})), false);
  assert.equal(exact(req(null)), false);
  const regex = filter('header_filter: {header: {name: ":path", safe_regex_match: {regex: "/api/v[0-9]+/.*"}}}');
  assert.equal(regex(req({ ':path': '/api/v2/users' })), true);
  assert.equal(regex(req({ ':path': '/x/api/v2/users' })), false);
  const range = filter('header_filter: {header: {name: x-n, range_match: {start: 10, end: 20}}}');
  assert.equal(range(req({ 'x-n': '15' })), true);
  assert.equal(range(req({ 'x-n': '20' })), false);
  assert.equal(range(req({ 'x-n': 'abc' })), false);
  const absent = filter('header_filter: {header: {name: x-debug, present_match: false}}');
  assert.equal(absent(req({})), true);
  assert.equal(absent(req({ 'x-debug': '1' })), false);
  const inverted = filter('header_filter: {header: {name: x-env, prefix_match: pr, invert_match: true}}');
  assert.equal(inverted(req({ 'x-env': 'prod' })), false);
  assert.equal(inverted(req({ 'x-env': 'dev' })), true);
  assert.equal(inverted(req({})), false);
  const sm = filter('header_filter: {header: {name: ua, string_match: {suffix: BOT, ignore_case: true}}}');
  assert.equal(sm(req({ ua: 'googlebot' })), true);
  const empty = filter('header_filter: {header: {name: x-e, exact_match: "", treat_missing_header_as_empty: true}}');
  assert.equal(empty(req({})), true);
  const present = filter('header_filter: {header: {name: x-p}}');
  assert.equal(present(req({ 'x-p': '' })), true);
  assert.equal(present(req({})), false);
  assert.throws(() => filter('header_filter: {header: {name: a, safe_regex_match: {regex: "("}}}'),
    (e: unknown) => e instanceof LoggingConfigError && /invalid regex/.test(e.message)
      && e.fieldPath === 'filter.header_filter.header.safe_regex_match');
});

test('response_flag_filter: any flag, or one of the listed flags', () => {
  const any = filter('response_flag_filter: {}');
  const listed = filter('response_flag_filter: {flags: [UF, URX]}');
  const si = new TestStreamInfo();
  assert.equal(any(context(si)), false);
  si.setResponseFlag(ResponseFlag.NoRouteFound);
  assert.equal(any(context(si)), true);
  assert.equal(listed(context(si)), false);
  si.setResponseFlag(ResponseFlag.UpstreamRetryLimitExceeded);
  assert.equal(listed(context(si)), true);
});

test('grpc_status_filter reads trailers, then headers, then maps the HTTP status', () => {
  const f = filter('grpc_status_filter: {statuses: [UNAVAILABLE, UNKNOWN]}');
  const ex = filter('grpc_status_filter: {statuses: [OK], exclude: true}');
  const withTrailers = (s: string): FormatterContext =>
    context(new TestStreamInfo({ responseCode: 200 }), { responseTrailers: headers({ 'grpc-status': s }) });
  assert.equal(f(withTrailers('14')), true);
  assert.equal(f(withTrailers('0')), false);
  assert.equal(ex(withTrailers('0')), false);
  assert.equal(ex(withTrailers('5')), true);
  // Trailers-only response: grpc-status in the headers.
  assert.equal(f(context(new TestStreamInfo({ responseCode: 200 }), { responseHeaders: headers({ 'grpc-status': '14' }) })), true);
  // No grpc-status: 503 maps to UNAVAILABLE, 200 to UNKNOWN.
  assert.equal(f(withStatus(503)), true);
  assert.equal(f(withStatus(200)), true);
  assert.equal(filter('grpc_status_filter: {statuses: [UNIMPLEMENTED]}')(withStatus(404)), true);
});

test('metadata_filter matches dynamic metadata values', () => {
  const si = new TestStreamInfo();
  si.dynamicMetadata.set('envoy.filters.http.rbac', { shadow_effective_policy_id: 'deny-all', hits: 3, ok: true });
  const f = filter(`
metadata_filter:
  matcher:
    filter: envoy.filters.http.rbac
    path: [{key: shadow_effective_policy_id}]
    value: {string_match: {prefix: deny}}
`);
  assert.equal(f(context(si)), true);
  const num = filter(`
metadata_filter:
  matcher: {filter: envoy.filters.http.rbac, path: [{key: hits}], value: {double_match: {range: {start: 1, end: 5}}}}
`);
  assert.equal(num(context(si)), true);
  const missing = filter(`
metadata_filter:
  matcher: {filter: other, path: [{key: a}], value: {bool_match: true}}
  match_if_key_not_found: false
`);
  assert.equal(missing(context(si)), false);
  const missingDefault = filter('metadata_filter: {matcher: {filter: other, path: [{key: a}], value: {bool_match: true}}}');
  assert.equal(missingDefault(context(si)), true);
});

test('extension_filter and log_type_filter are rejected with a clear error', () => {
  assert.throws(() => filter('extension_filter: {name: my.filter}'),
    (e: unknown) => e instanceof LoggingConfigError && /my\.filter/.test(e.message) && e.code === 'LEGATE_ERR_UNSUPPORTED_FILTER');
  assert.throws(() => filter('log_type_filter: {types: [DownstreamEnd]}'), /log_type_filter/);
});
