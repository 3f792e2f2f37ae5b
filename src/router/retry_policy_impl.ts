/**
 * Route retry policy, after Envoy's `RetryPolicyImpl`
 * (`source/common/router/config_impl.cc`) and `RetryStateImpl::parseRetryOn`
 * / `parseRetryGrpcOn` (`source/common/router/retry_state_impl.cc`).
 *
 * - `retry_on` is a comma-separated list; names are trimmed, unknown names are
 *   ignored (Envoy ignores them in route config; `parseRetryOn` also reports
 *   whether every name was known, for the `x-envoy-retry-on` header).
 * - `num_retries` defaults to 1 (but no retry happens unless `retry_on` names
 *   a condition).
 * - `per_try_timeout` / `per_try_idle_timeout`: 0 = none.
 * - `retry_back_off.base_interval` is required when `retry_back_off` is set;
 *   `max_interval` must not be below it. Sub-millisecond values round up to 1 ms.
 * - A route's `retry_policy` replaces its virtual host's entirely.
 * - `retry_host_predicate`: only `envoy.retry_host_predicates.previous_hosts`;
 *   other predicates and `retry_priority` are rejected rather than ignored.
 * - `rate_limited_retry_back_off`: reset headers in SECONDS or UNIX_TIMESTAMP,
 *   `max_interval` default 300 s.
 */
import type {
  RetryPolicy as RetryPolicyProto, RetryPolicy_RetryHostPredicate,
} from '../generated/envoy/config/route/v3/route_components_pb.js';
import type { HeaderMap } from '../envoy/http/header_map.js';
import type { ResetHeaderParser, RetryHostPredicate, RetryPolicy } from '../envoy/router/router.js';
import { asciiLower } from '../common/matchers/ascii.js';
import { PREVIOUS_HOSTS_NAME, PREVIOUS_HOSTS_TYPE, PreviousHostsPredicate } from './previous_hosts_predicate.js';
import { type HeaderMatcherImpl, compileHeaderMatchers } from '../common/matchers/header_matcher.js';
import { at, fail } from './config_error.js';
import { durationToMs } from '../config/well_known.js';

/** Bits of `RetryPolicy.retryOn` (Envoy's `RetryPolicy::RETRY_ON_*`). */
export const RetryOn = {
  FiveXx: 0x1,
  GatewayError: 0x2,
  ConnectFailure: 0x4,
  Retriable4xx: 0x8,
  RefusedStream: 0x10,
  GrpcCancelled: 0x20,
  GrpcDeadlineExceeded: 0x40,
  GrpcResourceExhausted: 0x80,
  GrpcUnavailable: 0x100,
  GrpcInternal: 0x200,
  RetriableStatusCodes: 0x400,
  Reset: 0x800,
  RetriableHeaders: 0x1000,
  EnvoyRateLimited: 0x2000,
  Http3PostConnectFailure: 0x4000,
  ResetBeforeRequest: 0x8000,
} as const;

const RETRY_ON_NAMES: ReadonlyMap<string, number> = new Map([
  ['5xx', RetryOn.FiveXx],
  ['gateway-error', RetryOn.GatewayError],
  ['connect-failure', RetryOn.ConnectFailure],
  ['envoy-ratelimited', RetryOn.EnvoyRateLimited],
  ['retriable-4xx', RetryOn.Retriable4xx],
  ['refused-stream', RetryOn.RefusedStream],
  ['retriable-status-codes', RetryOn.RetriableStatusCodes],
  ['retriable-headers', RetryOn.RetriableHeaders],
  ['reset', RetryOn.Reset],
  ['reset-before-request', RetryOn.ResetBeforeRequest],
  ['http3-post-connect-failure', RetryOn.Http3PostConnectFailure],
]);

const RETRY_GRPC_ON_NAMES: ReadonlyMap<string, number> = new Map([
  ['cancelled', RetryOn.GrpcCancelled],
  ['deadline-exceeded', RetryOn.GrpcDeadlineExceeded],
  ['resource-exhausted', RetryOn.GrpcResourceExhausted],
  ['unavailable', RetryOn.GrpcUnavailable],
  ['internal', RetryOn.GrpcInternal],
]);

function parseList(value: string, names: ReadonlyMap<string, number>): { bits: number; allValid: boolean } {
  let bits = 0;
  let allValid = true;
  for (const raw of value.split(',')) {
    const token = raw.trim();
    if (token.length === 0) continue;
    const bit = names.get(token);
    if (bit === undefined) allValid = false;
    else bits |= bit;
  }
  return { bits, allValid };
}

/** Parses HTTP retry conditions (`retry_on`, `x-envoy-retry-on`). */
export function parseRetryOn(value: string): { bits: number; allValid: boolean } {
  return parseList(value, RETRY_ON_NAMES);
}

/** Parses gRPC retry conditions (`retry_on`, `x-envoy-retry-grpc-on`). */
export function parseRetryGrpcOn(value: string): { bits: number; allValid: boolean } {
  return parseList(value, RETRY_GRPC_ON_NAMES);
}

/** Default `rate_limited_retry_back_off.max_interval`. */
const DEFAULT_RESET_MAX_INTERVAL_MS = 300_000;

/** One `rate_limited_retry_back_off.reset_headers[]` entry (Envoy's ResetHeaderParserImpl). */
class ResetHeaderParserImpl implements ResetHeaderParser {
  constructor(private readonly name: string, private readonly unixTimestamp: boolean) {}

  parseIntervalMs(headers: HeaderMap, systemNowMs: number): number | null {
    const v = headers.get(this.name);
    if (v === undefined) return null;
    const m = /^\s*\+?(\d+)\s*$/.exec(v);
    if (m === null) return null;
    const n = Number(m[1]);
    if (!this.unixTimestamp) return n * 1000;
    const now = Math.floor(systemNowMs / 1000);
    return n < now ? null : (n - now) * 1000;
  }
}

/** A `retry_host_predicate` entry → a factory of per-request instances. */
function compileHostPredicate(p: RetryPolicy_RetryHostPredicate, path: string): () => RetryHostPredicate {
  const typeUrl = p.configType.case === 'typedConfig' ? p.configType.value.typeUrl : '';
  const type = typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
  // As Envoy's registry: the typed_config type first, else the name.
  if (type === PREVIOUS_HOSTS_TYPE || (type === '' && p.name === PREVIOUS_HOSTS_NAME)) return () => new PreviousHostsPredicate();
  const what = type !== '' ? `'${p.name}' (type ${type})` : `'${p.name}'`;
  fail(path, `retry host predicate ${what} is not supported; only ${PREVIOUS_HOSTS_NAME} is`);
}

export class RetryPolicyImpl implements RetryPolicy {
  readonly retryOn: number;
  readonly numRetries: number;
  readonly perTryTimeoutMs: number;
  /** 0 = none. */
  readonly perTryIdleTimeoutMs: number;
  readonly retriableStatusCodes: ReadonlySet<number>;
  /** Response header matchers for `retriable-headers`. */
  readonly retriableHeaders: readonly HeaderMatcherImpl[];
  /** Request header matchers: a request is only retried if one matches (none configured = all). */
  readonly retriableRequestHeaders: readonly HeaderMatcherImpl[];
  /** `retry_back_off.base_interval` in ms, or null for the default (25 ms). */
  readonly baseIntervalMs: number | null;
  /** `retry_back_off.max_interval` in ms, or null for the default (10 x base). */
  readonly maxIntervalMs: number | null;
  /** `host_selection_retry_max_attempts`, default 1. */
  readonly hostSelectionMaxAttempts: number;
  readonly resetHeaders: readonly ResetHeaderParser[];
  readonly resetMaxIntervalMs: number;
  /** The raw policy. */
  readonly config: RetryPolicyProto;
  private readonly hostPredicateFactories: ReadonlyArray<() => RetryHostPredicate>;

  /** `path` is the proto path of the policy, for errors. */
  constructor(config: RetryPolicyProto, path: string) {
    this.config = config;
    this.retryOn = parseRetryOn(config.retryOn).bits | parseRetryGrpcOn(config.retryOn).bits;
    this.numRetries = config.numRetries ?? 1;
    this.perTryTimeoutMs = durationToMs(config.perTryTimeout, 0);
    this.perTryIdleTimeoutMs = durationToMs(config.perTryIdleTimeout, 0);
    this.retriableStatusCodes = new Set(config.retriableStatusCodes);
    this.retriableHeaders = at(path, () => compileHeaderMatchers(config.retriableHeaders, 'retriable_headers')) ?? [];
    this.retriableRequestHeaders = at(path, () => compileHeaderMatchers(config.retriableRequestHeaders, 'retriable_request_headers')) ?? [];
    this.hostSelectionMaxAttempts = config.hostSelectionRetryMaxAttempts > 0n ? Number(config.hostSelectionRetryMaxAttempts) : 1;
    let base: number | null = null;
    let max: number | null = null;
    const backOff = config.retryBackOff;
    if (backOff !== undefined) {
      if (backOff.baseInterval === undefined) fail(`${path}.retry_back_off.base_interval`, 'base_interval is required');
      base = Math.max(1, durationToMs(backOff.baseInterval, 0));
      if (backOff.maxInterval !== undefined) {
        max = Math.max(1, durationToMs(backOff.maxInterval, 0));
        if (max < base) fail(`${path}.retry_back_off.max_interval`, 'retry_policy.max_interval must greater than or equal to the base_interval');
      }
    }
    this.baseIntervalMs = base;
    this.maxIntervalMs = max;

    this.hostPredicateFactories = config.retryHostPredicate.map((p, i) => compileHostPredicate(p, `${path}.retry_host_predicate[${i}]`));
    if (config.retryPriority !== undefined) {
      fail(`${path}.retry_priority`, `retry priority '${config.retryPriority.name}' is not supported`);
    }
    if (config.retryOptionsPredicates.length > 0) fail(`${path}.retry_options_predicates`, 'retry options predicates are not supported');
    const rl = config.rateLimitedRetryBackOff;
    if (rl !== undefined) {
      if (rl.resetHeaders.length === 0) fail(`${path}.rate_limited_retry_back_off.reset_headers`, 'at least one reset header is required');
      this.resetHeaders = rl.resetHeaders.map((h, i) => {
        if (h.name.length === 0) fail(`${path}.rate_limited_retry_back_off.reset_headers[${i}].name`, 'name must not be empty');
        // ResetHeaderFormat: SECONDS = 0, UNIX_TIMESTAMP = 1.
        return new ResetHeaderParserImpl(asciiLower(h.name), (h.format as number) === 1);
      });
      this.resetMaxIntervalMs = rl.maxInterval === undefined ? DEFAULT_RESET_MAX_INTERVAL_MS : Math.max(1, durationToMs(rl.maxInterval, 0));
    } else {
      this.resetHeaders = [];
      this.resetMaxIntervalMs = DEFAULT_RESET_MAX_INTERVAL_MS;
    }
  }

  /** Fresh `retry_host_predicate` instances for one request (they remember its attempted hosts). */
  retryHostPredicates(): RetryHostPredicate[] {
    return this.hostPredicateFactories.map((f) => f());
  }
}
