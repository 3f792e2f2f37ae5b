/**
 * `envoy.filters.http.local_ratelimit`, after Envoy's
 * `source/extensions/filters/http/local_ratelimit/local_ratelimit.cc`: a
 * token bucket per filter config (the listener's, or a route's /
 * virtual host's `typed_per_filter_config`, the most specific winning).
 *
 *   filter_enabled  (default 0%)  the request is counted (`enabled`) and takes a token
 *   token taken                   `ok`, on it goes
 *   none left                     `rate_limited`; then
 *     filter_enforced (default 0%)  `enforced`, local reply <status> (429)
 *                                   "local_rate_limited", flag RL, response_headers_to_add
 *     not enforced                  request_headers_to_add_when_not_enforced, on it goes
 *
 * With `descriptors`, the route's `rate_limits` actions (of the filter's
 * `stage`) pick a descriptor's own bucket. `enable_x_ratelimit_headers:
 * DRAFT_VERSION_03` adds x-ratelimit-limit / -remaining / -reset to the
 * response (the local reply included) from the bucket that decided.
 * Stats: `<stat_prefix>.http_local_rate_limit.{enabled,ok,rate_limited,enforced}`.
 */
import type { RandomGenerator } from '../../../../common/random.js';
import { FilterHeadersStatus, PassThroughFilter } from '../../../../envoy/http/filter.js';
import type { HeaderMap } from '../../../../envoy/http/header_map.js';
import type { Counter } from '../../../../envoy/stats/stats.js';
import { ResponseFlag } from '../../../../envoy/stream_info/response_flags.js';
import type { HeaderParser } from '../../../../router/header_parser.js';
import type { LocalRateLimiterImpl, TokenBucketContext } from '../../common/local_ratelimit/local_rate_limiter_impl.js';
import { populateRouteDescriptors, type VhRateLimits } from '../../common/ratelimit/route_descriptors.js';

export const LOCAL_RATELIMIT_FILTER_NAME = 'envoy.filters.http.local_ratelimit';

export interface LocalRateLimitStats {
  readonly enabled: Counter;
  readonly ok: Counter;
  readonly rate_limited: Counter;
  readonly enforced: Counter;
}

/** A RuntimeFractionalPercent's default_value (there is no runtime layer): numerator out of denominator. */
export interface FractionalPercent {
  readonly numerator: number;
  readonly denominator: number;
}

/** One compiled LocalRateLimit (the listener's or a route's). */
export class LocalRateLimitConfig {
  constructor(
    readonly stats: LocalRateLimitStats,
    /** The reply status (`status`, 429 when unset or below 400). */
    readonly status: number,
    /** null: no token_bucket, nothing is limited. */
    readonly limiter: LocalRateLimiterImpl | null,
    /** null: unset, which means never (Envoy). */
    private readonly filterEnabled: FractionalPercent | null,
    private readonly filterEnforced: FractionalPercent | null,
    readonly responseHeadersParser: HeaderParser | null,
    readonly requestHeadersParser: HeaderParser | null,
    readonly stage: number,
    readonly hasDescriptors: boolean,
    readonly enableXRateLimitHeaders: boolean,
    readonly vhRateLimits: VhRateLimits,
    /** grpc-status of the reply to gRPC requests (RESOURCE_EXHAUSTED with rate_limited_as_resource_exhausted). */
    readonly rateLimitedGrpcStatus: number | undefined,
    readonly localServiceCluster: string,
    private readonly random: RandomGenerator,
  ) {}

  enabled(): boolean { return this.featureEnabled(this.filterEnabled); }
  enforced(): boolean { return this.featureEnabled(this.filterEnforced); }

  /** Envoy's featureEnabled(key, default_value) with no runtime override: random % denominator < numerator. */
  private featureEnabled(p: FractionalPercent | null): boolean {
    if (p === null || p.numerator === 0) return false;
    if (p.numerator >= p.denominator) return true;
    return this.random.random() % p.denominator < p.numerator;
  }
}

export const X_RATELIMIT_LIMIT = 'x-ratelimit-limit';
export const X_RATELIMIT_REMAINING = 'x-ratelimit-remaining';
export const X_RATELIMIT_RESET = 'x-ratelimit-reset';

export class LocalRateLimitFilter extends PassThroughFilter {
  private used: LocalRateLimitConfig;
  private bucket: TokenBucketContext | null = null;

  constructor(config: LocalRateLimitConfig) {
    super();
    this.used = config;
  }

  override decodeHeaders(headers: HeaderMap, _endStream: boolean): FilterHeadersStatus {
    const route = this.decoderCallbacks.route();
    const perRoute = this.decoderCallbacks.mostSpecificPerFilterConfig();
    // Kept for encodeHeaders: the route may change in between.
    if (perRoute instanceof LocalRateLimitConfig) this.used = perRoute;
    const config = this.used;
    if (!config.enabled()) return FilterHeadersStatus.Continue;
    config.stats.enabled.inc();

    const si = this.decoderCallbacks.streamInfo;
    const descriptors = config.hasDescriptors
      ? populateRouteDescriptors(route, {
        stage: config.stage, vhRateLimits: config.vhRateLimits, skipEntriesWithDisableKey: true, localServiceCluster: config.localServiceCluster,
      }, headers, si)
      : [];
    let allowed = true;
    if (config.limiter !== null) {
      const result = config.limiter.requestAllowed(descriptors);
      this.bucket = result.context;
      allowed = result.allowed;
    }
    if (allowed) {
      config.stats.ok.inc();
      return FilterHeadersStatus.Continue;
    }
    config.stats.rate_limited.inc();
    if (!config.enforced()) {
      config.requestHeadersParser?.evaluate(headers, { requestHeaders: headers, responseHeaders: null, streamInfo: si });
      return FilterHeadersStatus.Continue;
    }
    config.stats.enforced.inc();
    si.setResponseFlag(ResponseFlag.RateLimited);
    const parser = config.responseHeadersParser;
    this.decoderCallbacks.sendLocalReply(config.status, 'local_rate_limited', {
      modifyHeaders: parser === null ? undefined
        : (h) => parser.evaluate(h, { requestHeaders: headers, responseHeaders: h, streamInfo: si }),
      grpcStatus: config.rateLimitedGrpcStatus,
      details: 'local_rate_limited',
    });
    return FilterHeadersStatus.StopIteration;
  }

  override encodeHeaders(headers: HeaderMap, _endStream: boolean): FilterHeadersStatus {
    const b = this.bucket;
    if (b !== null && this.used.enableXRateLimitHeaders) {
      headers.add(X_RATELIMIT_LIMIT, String(b.maxTokens()));
      headers.add(X_RATELIMIT_REMAINING, String(b.remainingTokens()));
      headers.add(X_RATELIMIT_RESET, String(b.resetSeconds()));
    }
    return FilterHeadersStatus.Continue;
  }
}
