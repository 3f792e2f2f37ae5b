/**
 * Route table interfaces, after Envoy's `envoy/router/router.h`. A
 * RouteConfiguration is compiled once into a `RouteTable`; a request only
 * walks the compiled objects.
 */
import type { HeaderMap } from '../http/header_map.js';
import type { StreamInfo } from '../stream_info/stream_info.js';
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

export interface RetryPolicy {
  /** Bit set of retry-on conditions. */
  readonly retryOn: number;
  readonly numRetries: number;
  /** 0 = none. */
  readonly perTryTimeoutMs: number;
  readonly retriableStatusCodes: ReadonlySet<number>;
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
  readonly retryPolicy: RetryPolicy | null;
  readonly upgradeConfigs: ReadonlyArray<UpgradeConfig>;
  /** The CONNECT upgrade's connect_config, when the route terminates CONNECT (null: CONNECT is proxied as HTTP). */
  readonly connectConfig: ConnectConfig | null;
  /** The route action's `rate_limits`. */
  readonly rateLimitPolicy: RateLimitPolicy;
  /** Deprecated `include_vh_rate_limits`: the virtual host's rate limits apply as well. */
  readonly includeVirtualHostRateLimits: boolean;
  /** Weighted cluster entries may add their own header mutations; the router calls this with the chosen cluster. */
  clusterHeaderMutations(clusterName: string): HeaderMutations | null;
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
