/**
 * `envoy.filters.http.ratelimit`: global rate limiting against a Rate Limit
 * Service, after Envoy's `source/extensions/filters/http/ratelimit/ratelimit.cc`.
 *
 * decodeHeaders builds the descriptors from the route's (and virtual host's)
 * `rate_limits` of the filter's stage; none: the request goes on untouched.
 * Otherwise the request waits for ShouldRateLimit(domain, descriptors):
 *
 *   OK          `cluster.<c>.ratelimit.ok`; the service's request_headers_to_add
 *               go on the request, its response_headers_to_add on the response
 *   OVER_LIMIT  `...over_limit`; local reply <rate_limited_status> (429), flag RL,
 *               `x-envoy-ratelimited: true` (unless disable_x_envoy_ratelimited_header),
 *               the service's headers and the filter's response_headers_to_add
 *   error/timeout `...error`; failure_mode_deny false (default): `...failure_mode_allowed`,
 *               the request goes on; true: local reply <status_on_error> (500), flag RLSE
 *
 * `<c>` is the route's cluster (its stat name); `ratelimit.` becomes
 * `ratelimit.<stat_prefix>.` with a stat_prefix.
 */
import {
  FilterDataStatus, FilterHeadersStatus, FilterTrailersStatus, PassThroughFilter,
} from '../../../../envoy/http/filter.js';
import type { HeaderMap } from '../../../../envoy/http/header_map.js';
import type { GrpcAsyncClient } from '../../../../envoy/grpc/async_client.js';
import type { TimeSource } from '../../../../envoy/common/time.js';
import type { Counter, Scope } from '../../../../envoy/stats/stats.js';
import type { ClusterManager } from '../../../../envoy/upstream/cluster_manager.js';
import { ResponseFlag } from '../../../../envoy/stream_info/response_flags.js';
import type { HeaderParser } from '../../../../router/header_parser.js';
import { populateRouteDescriptors, VhRateLimits } from '../../common/ratelimit/route_descriptors.js';
import { LimitStatus, RateLimitClient, type LimitResult } from '../../common/ratelimit/ratelimit_client_impl.js';
import { xRateLimitHeaders } from './ratelimit_headers.js';

export const RATELIMIT_FILTER_NAME = 'envoy.filters.http.ratelimit';

export const enum RequestType { Both = 0, Internal = 1, External = 2 }

/** A compiled RateLimitPerRoute (typed_per_filter_config). */
export class RateLimitPerRouteConfig {
  constructor(readonly domain: string, readonly vhRateLimits: VhRateLimits) {}
}

interface ClusterRateLimitStats {
  readonly ok: Counter;
  readonly error: Counter;
  readonly over_limit: Counter;
  readonly failure_mode_allowed: Counter;
}

export class RateLimitFilterConfig {
  private readonly clusterStats = new Map<string, ClusterRateLimitStats>();
  private readonly statPath: string;

  constructor(
    readonly domain: string,
    readonly stage: number,
    readonly requestType: RequestType,
    readonly timeoutMs: number,
    readonly failureModeDeny: boolean,
    readonly rateLimitedStatus: number,
    readonly statusOnError: number,
    readonly rateLimitedGrpcStatus: number | undefined,
    readonly enableXRateLimitHeaders: boolean,
    readonly disableXEnvoyRateLimitedHeader: boolean,
    readonly responseHeadersParser: HeaderParser | null,
    readonly localServiceCluster: string,
    readonly grpcClient: GrpcAsyncClient,
    readonly initialMetadata: ReadonlyArray<readonly [string, string]>,
    readonly timeSource: TimeSource,
    private readonly clusterManager: ClusterManager,
    private readonly root: Scope,
    statPrefix: string,
  ) {
    this.statPath = statPrefix.length > 0 ? `ratelimit.${statPrefix}.` : 'ratelimit.';
  }

  /** The cluster's stats, or null when the cluster does not exist (Envoy: no clusterInfo, no call). */
  statsFor(clusterName: string): ClusterRateLimitStats | null {
    const info = this.clusterManager.getThreadLocalCluster(clusterName)?.info;
    if (info === undefined) return null;
    let s = this.clusterStats.get(info.statName);
    if (s === undefined) {
      const scope = this.root.createScope(`cluster.${info.statName}`);
      const c = (n: string): Counter => scope.counter(this.statPath + n);
      s = { ok: c('ok'), error: c('error'), over_limit: c('over_limit'), failure_mode_allowed: c('failure_mode_allowed') };
      this.clusterStats.set(info.statName, s);
    }
    return s;
  }
}

const enum State { NotStarted, Calling, Complete, Responded }

export class RateLimitFilter extends PassThroughFilter {
  private state = State.NotStarted;
  private initiatingCall = false;
  private client: RateLimitClient | null = null;
  private requestHeaders: HeaderMap | null = null;
  private stats: ClusterRateLimitStats | null = null;
  /** Headers for the response (the service's, x-envoy-ratelimited, x-ratelimit-*), added once. */
  private responseHeadersToAdd: Array<readonly [string, string]> | null = null;

  constructor(private readonly config: RateLimitFilterConfig) { super(); }

  override decodeHeaders(headers: HeaderMap, _endStream: boolean): FilterHeadersStatus {
    this.requestHeaders = headers;
    const config = this.config;
    const internal = headers.get('x-envoy-internal') === 'true';
    if ((internal && config.requestType === RequestType.External) || (!internal && config.requestType === RequestType.Internal)) {
      return FilterHeadersStatus.Continue;
    }
    const route = this.decoderCallbacks.route();
    const entry = route?.routeEntry ?? null;
    if (route === null || entry === null) return FilterHeadersStatus.Continue;
    const cluster = entry.clusterName(headers, 0);
    this.stats = cluster === null ? null : config.statsFor(cluster);
    if (this.stats === null) return FilterHeadersStatus.Continue;
    const perRoute = this.decoderCallbacks.mostSpecificPerFilterConfig();
    const routeConfig = perRoute instanceof RateLimitPerRouteConfig ? perRoute : null;
    const descriptors = populateRouteDescriptors(route, {
      stage: config.stage,
      vhRateLimits: routeConfig?.vhRateLimits ?? VhRateLimits.Override,
      skipEntriesWithDisableKey: false,
      localServiceCluster: config.localServiceCluster,
    }, headers, this.decoderCallbacks.streamInfo);
    if (descriptors.length === 0) return FilterHeadersStatus.Continue;
    const domain = routeConfig !== null && routeConfig.domain.length > 0 ? routeConfig.domain : config.domain;
    this.state = State.Calling;
    this.initiatingCall = true;
    this.client = new RateLimitClient(config.grpcClient, config.timeoutMs, config.timeSource, config.initialMetadata);
    this.client.limit(domain, descriptors, (r) => this.complete(r));
    this.initiatingCall = false;
    return this.state === State.Calling || this.state === State.Responded ? FilterHeadersStatus.StopIteration : FilterHeadersStatus.Continue;
  }

  override decodeData(_data: Buffer, _endStream: boolean): FilterDataStatus {
    // Held (with back-pressure) until the service answers.
    return this.state === State.Calling ? FilterDataStatus.StopIterationAndWatermark : FilterDataStatus.Continue;
  }

  override decodeTrailers(_trailers: HeaderMap): FilterTrailersStatus {
    return this.state === State.Calling ? FilterTrailersStatus.StopIteration : FilterTrailersStatus.Continue;
  }

  override encodeHeaders(headers: HeaderMap, _endStream: boolean): FilterHeadersStatus {
    this.addResponseHeaders(headers, false);
    return FilterHeadersStatus.Continue;
  }

  override onDestroy(): void {
    if (this.state === State.Calling) {
      this.state = State.Complete;
      this.client?.cancel();
    }
  }

  private complete(r: LimitResult): void {
    this.state = State.Complete;
    const config = this.config;
    const stats = this.stats!;
    const si = this.decoderCallbacks.streamInfo;
    let add: Array<readonly [string, string]> = [...r.responseHeadersToAdd];
    switch (r.status) {
      case LimitStatus.OK:
        stats.ok.inc();
        break;
      case LimitStatus.Error:
        stats.error.inc();
        break;
      case LimitStatus.OverLimit:
        stats.over_limit.inc();
        if (!config.disableXEnvoyRateLimitedHeader) add.push(['x-envoy-ratelimited', 'true']);
        break;
    }
    if (config.enableXRateLimitHeaders) add = add.concat(xRateLimitHeaders(r.statuses));
    this.responseHeadersToAdd = add.length > 0 ? add : null;

    if (r.status === LimitStatus.OverLimit) {
      this.state = State.Responded;
      si.setResponseFlag(ResponseFlag.RateLimited);
      const requestHeaders = this.requestHeaders;
      const parser = config.responseHeadersParser;
      this.decoderCallbacks.sendLocalReply(config.rateLimitedStatus, r.responseBody, {
        modifyHeaders: (h) => {
          this.addResponseHeaders(h, true);
          parser?.evaluate(h, { requestHeaders, responseHeaders: h, streamInfo: si });
        },
        grpcStatus: config.rateLimitedGrpcStatus,
        details: 'request_rate_limited',
      });
    } else if (r.status === LimitStatus.Error && config.failureModeDeny) {
      this.state = State.Responded;
      si.setResponseFlag(ResponseFlag.RateLimitServiceError);
      this.decoderCallbacks.sendLocalReply(config.statusOnError, r.responseBody, { details: 'rate_limiter_error' });
    } else {
      if (r.status === LimitStatus.Error) stats.failure_mode_allowed.inc();
      if (this.requestHeaders !== null) for (const [k, v] of r.requestHeadersToAdd) this.requestHeaders.add(k, v);
      if (!this.initiatingCall) this.decoderCallbacks.continueDecoding();
    }
  }

  /**
   * Adds the pending response headers once. On a local reply a content-type
   * from the service replaces the reply's text/plain (Envoy does the same).
   */
  private addResponseHeaders(headers: HeaderMap, fromLocalReply: boolean): void {
    const add = this.responseHeadersToAdd;
    if (add === null) return;
    this.responseHeadersToAdd = null;
    if (fromLocalReply && add.some(([k]) => k === 'content-type')) headers.remove('content-type');
    for (const [k, v] of add) headers.add(k, v);
  }
}
