/**
 * Route table interfaces, after Envoy's `envoy/router/router.h`. A
 * RouteConfiguration is compiled once into a `RouteTable`; a request only
 * walks the compiled objects.
 */
import type { HeaderMap } from '../http/header_map.js';
import type { StreamInfo } from '../stream_info/stream_info.js';
import type { HostDescription } from '../upstream/host.js';
import type { ShadowPolicy } from './shadow_writer.js';
import type { RateLimitDescriptor } from '../ratelimit/ratelimit.js';

/** A compiled RouteConfiguration. */
export interface RouteTable {
  readonly name: string;
  /**
   * The route for a request: picks the virtual host by `:authority` (exact,
   * longest `*.suffix`, longest `prefix.*`, then `*`), then the first matching
   * route. `random` is a uniformly random non-negative integer used for
   * runtime_fraction and weighted_clusters picks. Null when nothing matches.
   */
  route(headers: HeaderMap, streamInfo: StreamInfo, random: number): Route | null;
  /** Names of every cluster a route can send to (for load-time validation). */
  referencedClusters(): ReadonlySet<string>;
  /** Whether the HCM should strip the port from :authority before matching (already applied inside route()). */
}

/** One matched route. Exactly one of the three entries is set. */
export interface Route {
  readonly name: string;
  readonly virtualHost: VirtualHost;
  /** Set when the route forwards to a cluster. */
  readonly routeEntry: RouteEntry | null;
  /** Set when the route answers itself (direct_response). */
  readonly directResponse: DirectResponseEntry | null;
  /** Set when the route redirects. */
  readonly redirect: RedirectEntry | null;
  /** typed_per_filter_config merged route > vhost > route config, by filter name. */
  perFilterConfig(filterName: string): unknown;
}

export interface VirtualHost {
  readonly name: string;
  /** The virtual host's `rate_limits`. */
  readonly rateLimitPolicy: RateLimitPolicy;
}

/** One compiled `rate_limits` entry (Envoy's RateLimitPolicyEntry). */
export interface RateLimitPolicyEntry {
  readonly stage: number;
  /** `disable_key` ('' = none). */
  readonly disableKey: string;
  /**
   * Appends this entry's descriptor to `out` — only when every action
   * produced its entry (an action that cannot, e.g. a missing header, drops
   * the whole descriptor). `localServiceCluster` is the node's cluster
   * (`source_cluster`); `route` the matched route (`destination_cluster`).
   */
  populateDescriptors(
    out: RateLimitDescriptor[], route: RouteEntry, localServiceCluster: string, headers: HeaderMap, streamInfo: StreamInfo,
  ): void;
}

/** A route's or virtual host's `rate_limits` (Envoy's RateLimitPolicy). */
export interface RateLimitPolicy {
  /** No entries at all. */
  readonly empty: boolean;
  /** The entries of `stage`, in config order. */
  getApplicableRateLimit(stage: number): ReadonlyArray<RateLimitPolicyEntry>;
}

/** Header mutations of route, virtual host and route configuration, in Envoy's order. */
export interface HeaderMutations {
  /** Applies request_headers_to_add/remove (route, then vhost, then config — most specific wins for append semantics as Envoy documents). */
  finalizeRequestHeaders(headers: HeaderMap, streamInfo: StreamInfo): void;
  /** `requestHeaders` feed `%REQ(x)%` in response header values. */
  finalizeResponseHeaders(headers: HeaderMap, streamInfo: StreamInfo, requestHeaders?: HeaderMap | null): void;
}

/** A compiled header condition (a HeaderMatcher). */
export interface HeaderPredicate {
  match(headers: HeaderMap): boolean;
}

/**
 * A `retry_host_predicate` (Envoy's Upstream::RetryHostPredicate): one
 * instance per request, told of every host attempted, asked whether a host the
 * load balancer picked for a retry should be picked again.
 */
export interface RetryHostPredicate {
  shouldSelectAnotherHost(host: HostDescription): boolean;
  onHostAttempted(host: HostDescription): void;
}

/** `rate_limited_retry_back_off.reset_headers[]`: reads a back-off interval from a response header. */
export interface ResetHeaderParser {
  /** The interval in ms the header asks for, or null when absent / unparsable / in the past. */
  parseIntervalMs(headers: HeaderMap, systemNowMs: number): number | null;
}

export interface RetryPolicy {
  /** Bit set of retry-on conditions. */
  readonly retryOn: number;
  readonly numRetries: number;
  /** 0 = none. */
  readonly perTryTimeoutMs: number;
  /** 0 = none. */
  readonly perTryIdleTimeoutMs: number;
  readonly retriableStatusCodes: ReadonlySet<number>;
  /** Response header conditions for `retriable-headers`. */
  readonly retriableHeaders: readonly HeaderPredicate[];
  /** A request is retried only if one of these matches (none configured = every request). */
  readonly retriableRequestHeaders: readonly HeaderPredicate[];
  /** `retry_back_off.base_interval` in ms, or null for the default (25 ms). */
  readonly baseIntervalMs: number | null;
  /** `retry_back_off.max_interval` in ms, or null for the default (10 x base). */
  readonly maxIntervalMs: number | null;
  /** `host_selection_retry_max_attempts` (default 1). */
  readonly hostSelectionMaxAttempts: number;
  /** Fresh `retry_host_predicate` instances for one request. */
  retryHostPredicates(): RetryHostPredicate[];
  /** `rate_limited_retry_back_off.reset_headers` (empty when unset). */
  readonly resetHeaders: readonly ResetHeaderParser[];
  /** `rate_limited_retry_back_off.max_interval` in ms (default 300 s). */
  readonly resetMaxIntervalMs: number;
}

export interface UpgradeConfig {
  readonly upgradeType: string;
  readonly enabled: boolean;
}

/** `RouteAction.upgrade_configs[CONNECT].connect_config`: the router terminates CONNECT to raw TCP. */
export interface ConnectConfig {
  /** `allow_post`: a POST is tunnelled as well (its body is the TCP payload). */
  readonly allowPost: boolean;
}

/** A cookie attribute added to a generated hash cookie (`hash_policy.cookie.attributes`). */
export interface CookieAttribute {
  readonly name: string;
  readonly value: string;
}

/**
 * Asked by a cookie hash policy whose cookie is missing and that has a ttl:
 * returns the value to hash and arranges a `Set-Cookie` for it on the response.
 */
export type AddCookieCallback = (name: string, path: string, ttlSeconds: number, attributes: ReadonlyArray<CookieAttribute>) => string;

/** The route's `hash_policy` list (Envoy's Http::HashPolicy). */
export interface HashPolicy {
  /** The request's hash for ring hash / Maglev, or null when no policy produced one. */
  generateHash(headers: HeaderMap, streamInfo: StreamInfo, addCookie: AddCookieCallback): bigint | null;
}

export interface RouteEntry extends HeaderMutations {
  /**
   * The cluster for this request. For weighted_clusters the pick uses
   * `random`; for cluster_header it reads the header (null if absent).
   */
  clusterName(headers: HeaderMap, random: number): string | null;
  /** 503 status to use when the cluster is not found (cluster_not_found_response_code). */
  readonly clusterNotFoundResponseCode: number;
  /** Route timeout in ms; 0 disables it. Default 15000. */
  readonly timeoutMs: number;
  /** 0 = none. */
  readonly idleTimeoutMs: number;
  /**
   * The route has `max_stream_duration` (Envoy's usingNewTimeouts): the stream
   * is bounded by it (and by grpc-timeout), and `timeout`/`max_grpc_timeout` no longer apply.
   */
  readonly usingNewTimeouts: boolean;
  /** `max_stream_duration.max_stream_duration` in ms (0 = none), or null when unset. */
  readonly maxStreamDurationMs: number | null;
  /** `max_stream_duration.grpc_timeout_header_max` in ms (0 = uncapped), or null: grpc-timeout ignored. */
  readonly grpcTimeoutHeaderMaxMs: number | null;
  readonly grpcTimeoutHeaderOffsetMs: number | null;
  /** Legacy `max_grpc_timeout` in ms (0 = infinite), or null when unset. */
  readonly maxGrpcTimeoutMs: number | null;
  /** Legacy `grpc_timeout_offset` in ms, or null. */
  readonly grpcTimeoutOffsetMs: number | null;
  /**
   * Rewrites `:path` (prefix_rewrite / regex_rewrite) and `:authority`
   * (host_rewrite_literal), keeping the original in x-envoy-original-path when
   * asked. Called by the router before the request goes upstream.
   */
  rewriteRequest(headers: HeaderMap, insertEnvoyOriginalPath: boolean): void;
  /** auto_host_rewrite: the router replaces :authority with the chosen host's hostname. */
  readonly autoHostRewrite: boolean;
  /** Route `priority`: which circuit breakers and pools the request uses (0 DEFAULT, 1 HIGH). */
  readonly priority: number;
  readonly retryPolicy: RetryPolicy | null;
  /** `hedge_policy.hedge_on_per_try_timeout` (the route's hedge_policy, else the virtual host's). */
  readonly hedgeOnPerTryTimeout: boolean;
  /**
   * `per_request_buffer_limit_bytes` (the route's, else the virtual host's):
   * how much request body is kept for retries; null = the connection's buffer limit.
   */
  readonly retryShadowBufferLimit: number | null;
  /** The virtual host's `include_request_attempt_count`: x-envoy-attempt-count upstream. */
  readonly includeAttemptCountInRequest: boolean;
  /** The virtual host's `include_attempt_count_in_response`: x-envoy-attempt-count downstream. */
  readonly includeAttemptCountInResponse: boolean;
  readonly upgradeConfigs: ReadonlyArray<UpgradeConfig>;
  /** The CONNECT upgrade's connect_config, when the route terminates CONNECT (null: CONNECT is proxied as HTTP). */
  readonly connectConfig: ConnectConfig | null;
  /** `hash_policy`, for the hashing load balancers (null when the route has none). */
  readonly hashPolicy: HashPolicy | null;
  /** The route action's `rate_limits`. */
  readonly rateLimitPolicy: RateLimitPolicy;
  /** Deprecated `include_vh_rate_limits`: the virtual host's rate limits apply as well. */
  readonly includeVirtualHostRateLimits: boolean;
  /** Weighted cluster entries may add their own header mutations; the router calls this with the chosen cluster. */
  clusterHeaderMutations(clusterName: string): HeaderMutations | null;
  /** Effective `request_mirror_policies` (route, else virtual host, else route configuration). */
  readonly shadowPolicies: ReadonlyArray<ShadowPolicy>;
  /** `max_stream_duration` etc. come later; keep the raw route for extensions. */
  readonly config: unknown;
}

export interface DirectResponseEntry extends HeaderMutations {
  readonly status: number;
  /** Body, or null for none. */
  readonly body: Buffer | null;
}

export interface RedirectEntry extends HeaderMutations {
  readonly responseCode: number;
  /** The Location for this request. */
  newLocation(headers: HeaderMap): string;
}
