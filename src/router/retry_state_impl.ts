/**
 * The retry decisions of one request, after Envoy's `RetryStateImpl`
 * (source/common/router/retry_state_impl.cc). The router asks it after every
 * failed attempt (a response, a reset, a per-try timeout) whether to try
 * again; a "yes" takes a slot of the cluster's retry circuit breaker
 * (`max_retries` or the retry budget) and arms the back-off timer, which
 * calls the router back to start the next attempt.
 *
 * - Conditions: the route's `retry_on`, plus `x-envoy-retry-on` /
 *   `x-envoy-retry-grpc-on` from the request; none at all = no state (null).
 *   With `retriable_request_headers` and none matching, nothing is retried.
 * - Count: `num_retries`, or `x-envoy-max-retries` when some condition is set.
 *   Retriable status codes / header names may be added by
 *   `x-envoy-retriable-status-codes` / `x-envoy-retriable-header-names`.
 * - Every retry header is removed from the request, so none reaches the upstream.
 * - Back-off: fully jittered exponential, base 25 ms, max 10 x base, unless
 *   `rate_limited_retry_back_off` finds a reset header in the response.
 * - The circuit-breaker slot is held from the decision until the next
 *   decision (or the end of the request): it counts retries in flight.
 * - Stats: upstream_rq_retry, _success, _overflow, _limit_exceeded,
 *   _backoff_exponential, _backoff_ratelimited.
 */
import { StreamResetReason } from '../envoy/http/codec.js';
import type { HeaderMap } from '../envoy/http/header_map.js';
import type { TimeSource, Timer } from '../envoy/common/time.js';
import type { HeaderPredicate, RetryHostPredicate, RetryPolicy } from '../envoy/router/router.js';
import type { ClusterInfo, HostDescription } from '../envoy/upstream/host.js';
import type { RandomGenerator } from '../common/random.js';
import { JitteredExponentialBackOffStrategy, type BackOffStrategy } from '../common/backoff_strategy.js';
import { GrpcStatus } from '../common/grpc/common.js';
import { asciiLower } from '../common/matchers/ascii.js';
import { RetryOn, parseRetryGrpcOn, parseRetryOn } from './retry_policy_impl.js';

/** Envoy's RetryStatus. */
export const enum RetryStatus {
  /** Not a retriable failure (or retries disabled). */
  No = 0,
  /** Retriable, but the retry circuit breaker is open: the failure passes (flag UO). */
  NoOverflow = 1,
  /** Retriable, but no retries are left: the failure passes (flag URX). */
  NoRetryLimitExceeded = 2,
  /** A retry is scheduled: the callback runs after the back-off. */
  Yes = 3,
}

/** Default `retry_back_off.base_interval` (Envoy's runtime upstream.base_retry_backoff_ms). */
export const DEFAULT_BASE_RETRY_BACKOFF_MS = 25;

/** The retry request headers, all consumed by the router. */
export const RetryHeaders = {
  RetryOn: 'x-envoy-retry-on',
  RetryGrpcOn: 'x-envoy-retry-grpc-on',
  MaxRetries: 'x-envoy-max-retries',
  RetriableStatusCodes: 'x-envoy-retriable-status-codes',
  RetriableHeaderNames: 'x-envoy-retriable-header-names',
  HedgeOnPerTryTimeout: 'x-envoy-hedge-on-per-try-timeout',
  UpstreamRqPerTryTimeoutMs: 'x-envoy-upstream-rq-per-try-timeout-ms',
} as const;

/** absl::SimpleAtoi for unsigned values: optional surrounding whitespace and '+', digits only. */
export function parseUnsigned(value: string): number | null {
  const m = /^\s*\+?(\d+)\s*$/.exec(value);
  if (m === null) return null;
  const n = Number(m[1]);
  return Number.isSafeInteger(n) ? n : null;
}

/** A presence matcher for a header named in x-envoy-retriable-header-names. */
class HeaderPresent implements HeaderPredicate {
  constructor(private readonly name: string) {}
  match(headers: HeaderMap): boolean { return headers.has(this.name); }
}

/** Envoy's JitteredLowerBoundBackOffStrategy: a random interval in [min, 1.5 x min). */
function jitteredLowerBound(minMs: number, random: RandomGenerator): number {
  const spread = Math.floor(minMs / 2);
  return spread > 0 ? minMs + (random.random() % spread) : minMs;
}

const GRPC_RETRY_ON = RetryOn.GrpcCancelled | RetryOn.GrpcDeadlineExceeded | RetryOn.GrpcResourceExhausted
  | RetryOn.GrpcUnavailable | RetryOn.GrpcInternal;

export class RetryStateImpl {
  private retryOn: number;
  private retriesRemaining: number;
  private readonly retriableStatusCodes: number[];
  private readonly retriableHeaders: HeaderPredicate[];
  private readonly hostPredicates: RetryHostPredicate[];
  private readonly backOff: BackOffStrategy;
  /** Set by a rate-limited response for the next back-off only. */
  private rateLimitedBackOffMs: number | null = null;
  private timer: Timer | null = null;
  /** The armed retry: set from a "yes" until the next decision (holds a retry circuit-breaker slot). */
  private callback: (() => void) | null = null;
  readonly hostSelectionMaxAttempts: number;

  /**
   * The retry state for a request, or null when nothing can be retried (no
   * condition from the route or the request). Removes every retry header
   * from `headers` either way.
   */
  static create(policy: RetryPolicy | null, headers: HeaderMap, cluster: ClusterInfo,
    timeSource: TimeSource, random: RandomGenerator): RetryStateImpl | null {
    let state: RetryStateImpl | null = null;
    if (headers.has(RetryHeaders.RetryOn) || headers.has(RetryHeaders.RetryGrpcOn) || (policy !== null && policy.retryOn !== 0)) {
      state = new RetryStateImpl(policy, headers, cluster, timeSource, random);
    }
    headers.remove(RetryHeaders.RetryOn);
    headers.remove(RetryHeaders.RetryGrpcOn);
    headers.remove(RetryHeaders.MaxRetries);
    headers.remove(RetryHeaders.RetriableStatusCodes);
    headers.remove(RetryHeaders.RetriableHeaderNames);
    return state;
  }

  private constructor(
    private readonly policy: RetryPolicy | null,
    headers: HeaderMap,
    private readonly cluster: ClusterInfo,
    private readonly timeSource: TimeSource,
    private readonly random: RandomGenerator,
  ) {
    this.retryOn = policy?.retryOn ?? 0;
    this.retriesRemaining = policy?.numRetries ?? 1;
    this.retriableStatusCodes = policy === null ? [] : [...policy.retriableStatusCodes];
    this.retriableHeaders = policy === null ? [] : [...policy.retriableHeaders];
    this.hostPredicates = policy?.retryHostPredicates() ?? [];
    this.hostSelectionMaxAttempts = policy?.hostSelectionMaxAttempts ?? 1;
    const base = policy?.baseIntervalMs ?? DEFAULT_BASE_RETRY_BACKOFF_MS;
    // By default the interval is capped at 10 x base.
    const max = policy?.maxIntervalMs ?? base * 10;
    this.backOff = new JitteredExponentialBackOffStrategy(base, max, random);

    const on = headers.get(RetryHeaders.RetryOn);
    if (on !== undefined) this.retryOn |= parseRetryOn(on).bits;
    const grpcOn = headers.get(RetryHeaders.RetryGrpcOn);
    if (grpcOn !== undefined) this.retryOn |= parseRetryGrpcOn(grpcOn).bits;

    const requestHeaderMatchers = policy?.retriableRequestHeaders ?? [];
    if (requestHeaderMatchers.length > 0 && !requestHeaderMatchers.some((m) => m.match(headers))) this.retryOn = 0;

    const maxHeader = headers.get(RetryHeaders.MaxRetries);
    if (this.retryOn !== 0 && maxHeader !== undefined) {
      // The header takes precedence over num_retries.
      const n = parseUnsigned(maxHeader);
      if (n !== null) this.retriesRemaining = n;
    }
    const codes = headers.get(RetryHeaders.RetriableStatusCodes);
    if (codes !== undefined) {
      for (const c of codes.split(',')) {
        if (c.length === 0) continue;
        const n = parseUnsigned(c);
        if (n !== null) this.retriableStatusCodes.push(n);
      }
    }
    const names = headers.get(RetryHeaders.RetriableHeaderNames);
    if (names !== undefined) {
      // Only name (presence) matchers can come from a request header.
      for (const n of names.split(',')) {
        const name = n.trim();
        if (name.length > 0) this.retriableHeaders.push(new HeaderPresent(asciiLower(name)));
      }
    }
  }

  /** Whether any condition is on (the router buffers the request body only then). */
  enabled(): boolean { return this.retryOn !== 0; }

  /** A retry is armed or running (its circuit-breaker slot is held). */
  retryArmed(): boolean { return this.callback !== null; }

  // ---- decisions ----

  shouldRetryHeaders(response: HeaderMap, callback: () => void): RetryStatus {
    const would = this.wouldRetryFromHeaders(response);
    if (would && this.policy !== null && this.policy.resetHeaders.length > 0) {
      const ms = this.parseResetInterval(response);
      if (ms !== null && ms > 1) this.rateLimitedBackOffMs = jitteredLowerBound(ms, this.random);
    }
    return this.shouldRetry(would, callback);
  }

  /** `requestStarted`: some of the request reached the upstream (for `reset-before-request`). */
  shouldRetryReset(reason: StreamResetReason, requestStarted: boolean, callback: () => void): RetryStatus {
    return this.shouldRetry(this.wouldRetryFromReset(reason, requestStarted), callback);
  }

  /**
   * A hedged attempt after a per-try timeout: always wanted while retries are
   * left (the timed-out attempt is not reset, so it is no failure yet).
   */
  shouldHedgeRetryPerTryTimeout(callback: () => void): RetryStatus {
    return this.shouldRetry(true, callback);
  }

  wouldRetryFromHeaders(response: HeaderMap): boolean {
    const on = this.retryOn;
    // x-envoy-ratelimited comes from an upstream Envoy: retried only under envoy-ratelimited.
    if (response.has('x-envoy-ratelimited')) return (on & RetryOn.EnvoyRateLimited) !== 0;
    const status = Number(response.get(':status'));
    if ((on & RetryOn.FiveXx) !== 0 && status >= 500 && status < 600) return true;
    if ((on & RetryOn.GatewayError) !== 0 && status >= 502 && status <= 504) return true;
    if ((on & RetryOn.Retriable4xx) !== 0 && status === 409) return true;
    if ((on & RetryOn.RetriableStatusCodes) !== 0 && this.retriableStatusCodes.includes(status)) return true;
    if ((on & RetryOn.RetriableHeaders) !== 0 && this.retriableHeaders.some((m) => m.match(response))) return true;
    if ((on & GRPC_RETRY_ON) !== 0) {
      const v = response.get('grpc-status');
      const code = v === undefined ? null : parseUnsigned(v);
      if (code !== null) {
        if ((code === GrpcStatus.Canceled && (on & RetryOn.GrpcCancelled) !== 0)
          || (code === GrpcStatus.DeadlineExceeded && (on & RetryOn.GrpcDeadlineExceeded) !== 0)
          || (code === GrpcStatus.ResourceExhausted && (on & RetryOn.GrpcResourceExhausted) !== 0)
          || (code === GrpcStatus.Unavailable && (on & RetryOn.GrpcUnavailable) !== 0)
          || (code === GrpcStatus.Internal && (on & RetryOn.GrpcInternal) !== 0)) return true;
      }
    }
    return false;
  }

  wouldRetryFromReset(reason: StreamResetReason, requestStarted: boolean): boolean {
    const on = this.retryOn;
    // A circuit breaker said no: retrying would only make it worse.
    if (reason === StreamResetReason.Overflow) return false;
    if ((on & RetryOn.Reset) !== 0) return true;
    // A reset is counted as a 5xx (it ends in a 503).
    if ((on & (RetryOn.FiveXx | RetryOn.GatewayError)) !== 0) return true;
    if ((on & RetryOn.RefusedStream) !== 0 && reason === StreamResetReason.RemoteRefusedStreamReset) return true;
    if ((on & RetryOn.ConnectFailure) !== 0
      && (reason === StreamResetReason.ConnectionFailure || reason === StreamResetReason.ConnectionTimeout)) return true;
    if ((on & RetryOn.ResetBeforeRequest) !== 0 && !requestStarted) return true;
    return false;
  }

  private shouldRetry(would: boolean, callback: () => void): RetryStatus {
    const stats = this.cluster.stats;
    // An armed retry followed by a non-retriable outcome: that retry succeeded.
    if (this.callback !== null && !would) stats.upstream_rq_retry_success.inc();
    this.resetRetry();
    if (!would) {
      this.rateLimitedBackOffMs = null;
      return RetryStatus.No;
    }
    if (this.retriesRemaining === 0) {
      stats.upstream_rq_retry_limit_exceeded.inc();
      this.rateLimitedBackOffMs = null;
      return RetryStatus.NoRetryLimitExceeded;
    }
    this.retriesRemaining--;
    const retries = this.cluster.resourceManager(0).retries;
    if (!retries.canCreate()) {
      stats.upstream_rq_retry_overflow.inc();
      this.rateLimitedBackOffMs = null;
      return RetryStatus.NoOverflow;
    }
    this.callback = callback;
    retries.inc();
    stats.upstream_rq_retry.inc();
    this.enableBackoffTimer();
    return RetryStatus.Yes;
  }

  private enableBackoffTimer(): void {
    let ms: number;
    if (this.rateLimitedBackOffMs !== null) {
      // Valid for the response that carried the reset header only.
      ms = this.rateLimitedBackOffMs;
      this.rateLimitedBackOffMs = null;
      this.cluster.stats.upstream_rq_retry_backoff_ratelimited.inc();
    } else {
      ms = this.backOff.nextBackOffMs();
      this.cluster.stats.upstream_rq_retry_backoff_exponential.inc();
    }
    const cb = this.callback!;
    this.timer = this.timeSource.schedule(ms, () => { this.timer = null; cb(); });
  }

  private parseResetInterval(response: HeaderMap): number | null {
    const policy = this.policy!;
    for (const h of policy.resetHeaders) {
      const ms = h.parseIntervalMs(response, this.timeSource.systemMs());
      if (ms !== null && ms <= policy.resetMaxIntervalMs) return ms;
    }
    return null;
  }

  /** Releases an armed retry: its circuit-breaker slot and its timer. */
  private resetRetry(): void {
    if (this.timer !== null) { this.timer.cancel(); this.timer = null; }
    if (this.callback !== null) {
      this.cluster.resourceManager(0).retries.dec();
      this.callback = null;
    }
  }

  /** The request is over (answered, reset, or its body outgrew the retry buffer). */
  cleanup(): void {
    this.resetRetry();
  }

  // ---- host selection (retry_host_predicate) ----

  shouldSelectAnotherHost(host: HostDescription): boolean {
    return this.hostPredicates.some((p) => p.shouldSelectAnotherHost(host));
  }

  onHostAttempted(host: HostDescription): void {
    for (const p of this.hostPredicates) p.onHostAttempted(host);
  }
}
