/**
 * RetryStateImpl on its own, with a real ClusterInfoImpl (stats, circuit
 * breakers), a compiled route retry_policy and the simulated clock: which
 * failures are retried, how the x-envoy-retry-* headers merge in, the
 * jittered exponential back-off and its bounds, the retry circuit breaker
 * (max_retries, retry_budget), the rate-limited back-off and previous_hosts.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { StreamResetReason } from '../../src/envoy/http/codec.js';
import { HeaderMapImpl } from '../../src/http/codec/header_map_impl.js';
import type { RetryPolicy } from '../../src/envoy/router/router.js';
import type { RouteEntryImpl } from '../../src/router/route_entry_impl.js';
import { RetryStateImpl, RetryStatus } from '../../src/router/retry_state_impl.js';
import { StatsStore } from '../../src/stats/stats_impl.js';
import { ClusterInfoImpl } from '../../src/upstream/cluster_info_impl.js';
import type { Host } from '../../src/envoy/upstream/host.js';
import type { RandomGenerator } from '../../src/common/random.js';
import { SimulatedTimeSource } from '../support/simulated_time.js';
import { clusterFromYaml } from '../upstream/helpers.js';
import { req, streamInfo, table } from './test_util.js';

function policy(yaml: string): RetryPolicy {
  const t = table(`
virtual_hosts:
- name: vh
  domains: ["*"]
  routes:
  - match: {prefix: /}
    route: {cluster: c, retry_policy: ${yaml}}`);
  return (t.route(req('h', '/'), streamInfo(), 0)!.routeEntry as RouteEntryImpl).retryPolicy!;
}

/** A fixed "random" value that is -1 modulo every range used here (25, 10, 30, 70, 100): back-offs hit their upper bound - 1. */
const maxRandom: RandomGenerator = { random: () => 2_100_000 - 1 };

class Fixture {
  readonly store = new StatsStore();
  readonly clock = new SimulatedTimeSource();
  readonly cluster: ClusterInfoImpl;
  constructor(clusterYaml = 'name: c') {
    this.cluster = new ClusterInfoImpl(clusterFromYaml(clusterYaml), { statsScope: this.store.rootScope, addedViaApi: false });
  }
  state(p: RetryPolicy | null, headers: Array<[string, string]> = [], random: RandomGenerator = maxRandom): { state: RetryStateImpl | null; headers: HeaderMapImpl } {
    const h = req('h', '/', headers);
    return { state: RetryStateImpl.create(p, h, this.cluster, this.clock, random), headers: h };
  }
  counter(name: string): number { return this.store.counters.get(`cluster.c.${name}`)?.value() ?? 0; }
  get retries(): number { return this.cluster.resourceManager(0).retries.count; }
}

const resp = (status: number, extra: Array<[string, string]> = []): HeaderMapImpl => HeaderMapImpl.fromPairs([[':status', String(status)], ...extra]);

describe('RetryStateImpl', () => {
  it('no condition from the route or the request: no state; every retry header is consumed anyway', () => {
    const f = new Fixture();
    const { state, headers } = f.state(null, [['x-envoy-max-retries', '3'], ['x-envoy-retriable-status-codes', '418'], ['x-envoy-retriable-header-names', 'a']]);
    assert.equal(state, null);
    assert.equal(headers.has('x-envoy-max-retries'), false);
    assert.equal(headers.has('x-envoy-retriable-status-codes'), false);
    assert.equal(headers.has('x-envoy-retriable-header-names'), false);
    assert.equal(f.state(policy('{num_retries: 3}')).state, null, 'num_retries without retry_on');
  });

  it('5xx: retried after a back-off on the clock, holding a retry circuit-breaker slot until the next decision', () => {
    const f = new Fixture();
    const { state } = f.state(policy('{retry_on: 5xx, num_retries: 2}'));
    let fired = 0;
    assert.equal(state!.shouldRetryHeaders(resp(503), () => fired++), RetryStatus.Yes);
    assert.equal(f.retries, 1);
    assert.equal(f.counter('upstream_rq_retry'), 1);
    assert.equal(f.counter('upstream_rq_retry_backoff_exponential'), 1);
    // First back-off: [0, 25) ms with the default base.
    f.clock.advance(23);
    assert.equal(fired, 0);
    f.clock.advance(1);
    assert.equal(fired, 1);
    assert.equal(f.retries, 1, 'the slot stays while the retry runs');
    assert.equal(state!.shouldRetryHeaders(resp(200), () => fired++), RetryStatus.No);
    assert.equal(f.counter('upstream_rq_retry_success'), 1);
    assert.equal(f.retries, 0);
  });

  it('the back-off grows as [0, (2^n - 1) x base) and is capped at max_interval (default 10 x base)', () => {
    const f = new Fixture('name: c\ncircuit_breakers: { thresholds: [{ max_retries: 100 }] }');
    const { state } = f.state(policy('{retry_on: 5xx, num_retries: 10, retry_back_off: {base_interval: 0.01s}}'));
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) {
      let fired = false;
      assert.equal(state!.shouldRetryReset(StreamResetReason.RemoteReset, true, () => { fired = true; }), RetryStatus.Yes);
      let waited = 0;
      while (!fired) { f.clock.advance(1); waited++; }
      delays.push(waited);
    }
    // maxRandom gives the top of each range: 10-1, 30-1, 70-1, then the 100 ms cap - 1.
    assert.deepEqual(delays, [9, 29, 69, 99, 99, 99]);
  });

  it('retries run out: NoRetryLimitExceeded and upstream_rq_retry_limit_exceeded', () => {
    const f = new Fixture();
    const { state } = f.state(policy('{retry_on: gateway-error}'));
    assert.equal(state!.shouldRetryHeaders(resp(502), () => {}), RetryStatus.Yes);
    assert.equal(state!.shouldRetryHeaders(resp(504), () => {}), RetryStatus.NoRetryLimitExceeded);
    assert.equal(f.counter('upstream_rq_retry_limit_exceeded'), 1);
    assert.equal(f.retries, 0);
    assert.equal(f.clock.pendingCount(), 0, 'no back-off timer left');
  });

  it('max_retries and retry_budget bound the retries in flight (NoOverflow)', () => {
    const f = new Fixture('name: c\ncircuit_breakers: { thresholds: [{ max_retries: 1 }] }');
    const a = f.state(policy('{retry_on: 5xx}')).state!;
    const b = f.state(policy('{retry_on: 5xx}')).state!;
    assert.equal(a.shouldRetryHeaders(resp(500), () => {}), RetryStatus.Yes);
    assert.equal(b.shouldRetryHeaders(resp(500), () => {}), RetryStatus.NoOverflow);
    assert.equal(f.counter('upstream_rq_retry_overflow'), 1);
    a.cleanup();
    assert.equal(f.retries, 0);

    // Budget 50 % of 4 active requests = 2, above min_retry_concurrency 1.
    const g = new Fixture('name: c\ncircuit_breakers: { thresholds: [{ max_retries: 0, retry_budget: { budget_percent: { value: 50 }, min_retry_concurrency: 1 } }] }');
    const rq = g.cluster.resourceManager(0).requests;
    for (let i = 0; i < 4; i++) rq.inc();
    const states = [0, 1, 2].map(() => g.state(policy('{retry_on: 5xx}')).state!);
    assert.deepEqual(states.map((s) => s.shouldRetryHeaders(resp(503), () => {})), [RetryStatus.Yes, RetryStatus.Yes, RetryStatus.NoOverflow]);
  });

  it('which responses and resets are retriable, per condition', () => {
    const f = new Fixture();
    const s = (p: string, hdrs: Array<[string, string]> = []) => f.state(policy(p), hdrs).state!;
    assert.equal(s('{retry_on: 5xx}').wouldRetryFromHeaders(resp(500)), true);
    assert.equal(s('{retry_on: 5xx}').wouldRetryFromHeaders(resp(429)), false);
    assert.equal(s('{retry_on: gateway-error}').wouldRetryFromHeaders(resp(500)), false);
    assert.equal(s('{retry_on: gateway-error}').wouldRetryFromHeaders(resp(503)), true);
    assert.equal(s('{retry_on: retriable-4xx}').wouldRetryFromHeaders(resp(409)), true);
    assert.equal(s('{retry_on: retriable-4xx}').wouldRetryFromHeaders(resp(400)), false);
    // An upstream Envoy's rate limit is only retried under envoy-ratelimited, whatever the status.
    assert.equal(s('{retry_on: 5xx}').wouldRetryFromHeaders(resp(503, [['x-envoy-ratelimited', 'true']])), false);
    assert.equal(s('{retry_on: envoy-ratelimited}').wouldRetryFromHeaders(resp(429, [['x-envoy-ratelimited', 'true']])), true);
    assert.equal(s('{retry_on: cancelled}').wouldRetryFromHeaders(resp(200, [['grpc-status', '1']])), true);
    assert.equal(s('{retry_on: deadline-exceeded}').wouldRetryFromHeaders(resp(200, [['grpc-status', '4']])), true);
    assert.equal(s('{retry_on: resource-exhausted}').wouldRetryFromHeaders(resp(200, [['grpc-status', '8']])), true);
    assert.equal(s('{retry_on: internal}').wouldRetryFromHeaders(resp(200, [['grpc-status', '14']])), false);
    assert.equal(s('{retry_on: unavailable}').wouldRetryFromHeaders(resp(200, [['grpc-status', 'x14']])), false);

    assert.equal(s('{retry_on: 5xx}').wouldRetryFromReset(StreamResetReason.ConnectionTermination, true), true);
    assert.equal(s('{retry_on: 5xx}').wouldRetryFromReset(StreamResetReason.Overflow, false), false, 'never on overflow');
    assert.equal(s('{retry_on: reset}').wouldRetryFromReset(StreamResetReason.LocalReset, true), true);
    assert.equal(s('{retry_on: connect-failure}').wouldRetryFromReset(StreamResetReason.ConnectionFailure, false), true);
    assert.equal(s('{retry_on: connect-failure}').wouldRetryFromReset(StreamResetReason.ConnectionTimeout, false), true);
    assert.equal(s('{retry_on: connect-failure}').wouldRetryFromReset(StreamResetReason.RemoteReset, true), false);
    assert.equal(s('{retry_on: refused-stream}').wouldRetryFromReset(StreamResetReason.RemoteRefusedStreamReset, true), true);
    assert.equal(s('{retry_on: refused-stream}').wouldRetryFromReset(StreamResetReason.RemoteReset, true), false);
    assert.equal(s('{retry_on: reset-before-request}').wouldRetryFromReset(StreamResetReason.RemoteReset, false), true);
    assert.equal(s('{retry_on: reset-before-request}').wouldRetryFromReset(StreamResetReason.RemoteReset, true), false);
  });

  it('request headers: x-envoy-retry-on / -grpc-on add conditions, x-envoy-max-retries overrides num_retries (when valid)', () => {
    const f = new Fixture();
    const { state, headers } = f.state(null, [['x-envoy-retry-on', ' retriable-status-codes , nonsense'], ['x-envoy-retry-grpc-on', 'internal'],
      ['x-envoy-max-retries', '0'], ['x-envoy-retriable-status-codes', '418, 420 ,abc']]);
    assert.ok(state !== null && state.enabled());
    for (const h of ['x-envoy-retry-on', 'x-envoy-retry-grpc-on', 'x-envoy-max-retries', 'x-envoy-retriable-status-codes']) assert.equal(headers.has(h), false);
    assert.equal(state.wouldRetryFromHeaders(resp(418)), true);
    assert.equal(state.wouldRetryFromHeaders(resp(420)), true);
    assert.equal(state.wouldRetryFromHeaders(resp(200, [['grpc-status', '13']])), true);
    // x-envoy-max-retries: 0 → nothing left.
    assert.equal(state.shouldRetryHeaders(resp(418), () => {}), RetryStatus.NoRetryLimitExceeded);

    const bad = f.state(policy('{retry_on: 5xx, num_retries: 2}'), [['x-envoy-max-retries', '-1']]).state!;
    assert.equal(bad.shouldRetryHeaders(resp(500), () => {}), RetryStatus.Yes);
    assert.equal(bad.shouldRetryHeaders(resp(500), () => {}), RetryStatus.Yes, 'num_retries 2 still applies');
    bad.cleanup();
  });

  it('retriable_request_headers: a request matching none is never retried', () => {
    const f = new Fixture();
    const p = policy('{retry_on: 5xx, retriable_request_headers: [{name: ":method", string_match: {exact: GET}}]}');
    const get = f.state(p).state!;
    assert.equal(get.enabled(), true);
    const post = f.state(p, [[':method', 'POST']]).state!;
    assert.equal(post.enabled(), false);
    assert.equal(post.shouldRetryHeaders(resp(503), () => {}), RetryStatus.No);
  });

  it('rate_limited_retry_back_off: the reset header sets the back-off (1x to 1.5x), counted as ratelimited', () => {
    const f = new Fixture();
    const p = policy(`{retry_on: retriable-status-codes, retriable_status_codes: [429], num_retries: 3,
      rate_limited_retry_back_off: {reset_headers: [{name: Retry-After}, {name: X-RateLimit-Reset, format: UNIX_TIMESTAMP}], max_interval: 5s}}`);
    const { state } = f.state(p, [], { random: () => 0 });
    let fired = 0;
    assert.equal(state!.shouldRetryHeaders(resp(429, [['retry-after', '2']]), () => fired++), RetryStatus.Yes);
    f.clock.advance(1999);
    assert.equal(fired, 0);
    f.clock.advance(1);
    assert.equal(fired, 1);
    assert.equal(f.counter('upstream_rq_retry_backoff_ratelimited'), 1);
    // A UNIX timestamp 3 s ahead of the (simulated) wall clock.
    const at = Math.floor(f.clock.systemMs() / 1000) + 3;
    assert.equal(state!.shouldRetryHeaders(resp(429, [['x-ratelimit-reset', String(at)]]), () => fired++), RetryStatus.Yes);
    f.clock.advance(2999);
    assert.equal(fired, 1);
    f.clock.advance(1);
    assert.equal(fired, 2);
    // Beyond max_interval (5 s): the exponential back-off instead.
    assert.equal(state!.shouldRetryHeaders(resp(429, [['retry-after', '60']]), () => fired++), RetryStatus.Yes);
    assert.equal(f.counter('upstream_rq_retry_backoff_exponential'), 1);
  });

  it('previous_hosts: hosts already attempted are to be avoided; x-envoy-retriable-header-names adds presence matchers', () => {
    const f = new Fixture();
    const p = policy(`{retry_on: retriable-headers, host_selection_retry_max_attempts: 4,
      retry_host_predicate: [{name: envoy.retry_host_predicates.previous_hosts}]}`);
    const { state } = f.state(p, [['x-envoy-retriable-header-names', 'x-a, X-B']]);
    const h1 = { address: '127.0.0.1' } as Host;
    const h2 = { address: '127.0.0.2' } as Host;
    assert.equal(state!.hostSelectionMaxAttempts, 4);
    assert.equal(state!.shouldSelectAnotherHost(h1), false);
    state!.onHostAttempted(h1);
    assert.equal(state!.shouldSelectAnotherHost(h1), true);
    assert.equal(state!.shouldSelectAnotherHost(h2), false);
    // A second request starts with no attempted hosts.
    assert.equal(f.state(p).state!.shouldSelectAnotherHost(h1), false);
    assert.equal(state!.wouldRetryFromHeaders(resp(200, [['x-b', '']])), true);
    assert.equal(state!.wouldRetryFromHeaders(resp(200, [['x-c', '1']])), false);
  });
});

describe('retry_policy config errors', () => {
  it('retry_back_off without base_interval, and max_interval below base_interval, are rejected', () => {
    assert.throws(() => policy('{retry_on: 5xx, retry_back_off: {max_interval: 1s}}'),
      /retry_policy\.retry_back_off\.base_interval: base_interval is required/);
    assert.throws(() => policy('{retry_on: 5xx, retry_back_off: {base_interval: 1s, max_interval: 0.5s}}'),
      /retry_policy\.retry_back_off\.max_interval: retry_policy\.max_interval must greater than or equal to the base_interval/);
  });

  it('unsupported retry host predicates and retry priorities are rejected, not ignored', () => {
    assert.throws(() => policy('{retry_on: 5xx, retry_host_predicate: [{name: envoy.retry_host_predicates.omit_canary_hosts}]}'),
      /retry_policy\.retry_host_predicate\[0\]: retry host predicate 'envoy\.retry_host_predicates\.omit_canary_hosts' is not supported/);
    assert.throws(() => policy(`{retry_on: 5xx, retry_host_predicate: [{name: x, typed_config: {"@type": type.googleapis.com/envoy.extensions.retry.host.omit_host_metadata.v3.OmitHostMetadataConfig}}]}`),
      /retry_host_predicate\[0\]: retry host predicate 'x' \(type envoy\.extensions\.retry\.host\.omit_host_metadata\.v3\.OmitHostMetadataConfig\) is not supported/);
    assert.throws(() => policy('{retry_on: 5xx, retry_priority: {name: envoy.retry_priorities.previous_priorities}}'),
      /retry_policy\.retry_priority: retry priority 'envoy\.retry_priorities\.previous_priorities' is not supported/);
    // The typed_config form of previous_hosts is accepted.
    const p = policy(`{retry_on: 5xx, retry_host_predicate: [{name: any, typed_config: {"@type": type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate}}]}`);
    assert.equal(p.retryHostPredicates().length, 1);
  });

  it('rate_limited_retry_back_off needs reset headers', () => {
    assert.throws(() => policy('{retry_on: 5xx, rate_limited_retry_back_off: {reset_headers: []}}'),
      /rate_limited_retry_back_off\.reset_headers/);
  });
});
