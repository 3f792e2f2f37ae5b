/**
 * The health check HTTP filter, after Envoy's HealthCheckFilter
 * (source/extensions/filters/http/health_check/health_check.cc).
 *
 * A request matching `headers` is a health check:
 *   - the server is failing health checks (admin /healthcheck/fail): 503 at once;
 *   - not pass-through: answered here, 200, or 503 when a cluster of
 *     `cluster_min_healthy_percentages` is missing, empty or below its
 *     healthy (+ degraded) percentage;
 *   - pass-through: forwarded, and with `cache_time` the upstream's answer
 *     (status and x-envoy-degraded) is reused for that long.
 * Health-check responses carry `x-envoy-upstream-healthchecked-cluster: <the
 * local node's cluster>`. While the server fails health checks every response
 * (health check or not) carries `x-envoy-immediate-health-check-fail: true`,
 * so an Envoy (or Legate) upstream of it takes this host out at once.
 *
 * Stats under `http.<stat_prefix>.health_check.`: request_total, ok, failed,
 * cached_response, failed_cluster_not_found, failed_cluster_empty,
 * failed_cluster_unhealthy, degraded.
 */
import {
  FilterDataStatus,
  FilterHeadersStatus,
  FilterTrailersStatus,
  PassThroughFilter,
} from '../../../../envoy/http/filter.js';
import type { HeaderMap } from '../../../../envoy/http/header_map.js';
import type { ClusterManager } from '../../../../envoy/upstream/cluster_manager.js';
import { ResponseFlag } from '../../../../envoy/stream_info/response_flags.js';
import { matchHeaders, type HeaderMatcherImpl } from '../../../../common/matchers/header_matcher.js';
import type { HealthCheckFilterStats } from '../../../../stats/health_checker_stats.js';

/** The cached upstream answer of pass-through mode (Envoy's HealthCheckCacheManager). */
export class HealthCheckCache {
  private status = 200;
  private degraded = false;
  private validUntil = -Infinity;

  constructor(private readonly cacheTimeMs: number, private readonly now: () => number) {}

  useCachedResponse(): boolean {
    return this.now() < this.validUntil;
  }

  get(): { status: number; degraded: boolean } {
    return { status: this.status, degraded: this.degraded };
  }

  set(status: number, degraded: boolean): void {
    this.status = status;
    this.degraded = degraded;
    // Envoy clears the cache on a fixed timer; a new answer is kept until the current period ends at the latest.
    if (!this.useCachedResponse()) this.validUntil = this.now() + this.cacheTimeMs;
  }
}

export interface HealthCheckFilterConfig {
  readonly passThroughMode: boolean;
  readonly headers: HeaderMatcherImpl[] | null;
  /** Null without cache_time. */
  readonly cache: HealthCheckCache | null;
  /** cluster name -> minimum percent of healthy (+ degraded) hosts. */
  readonly clusterMinHealthyPercentages: ReadonlyMap<string, number>;
  readonly clusterManager: ClusterManager;
  readonly localClusterName: string;
  readonly healthCheckFailed: () => boolean;
  readonly stats: HealthCheckFilterStats;
}

const IMMEDIATE_HC_FAIL = 'x-envoy-immediate-health-check-fail';
const HEALTHCHECKED_CLUSTER = 'x-envoy-upstream-healthchecked-cluster';
const DEGRADED = 'x-envoy-degraded';

export class HealthCheckFilter extends PassThroughFilter {
  private healthCheckRequest = false;
  private handling = false;

  constructor(private readonly config: HealthCheckFilterConfig) {
    super();
  }

  override decodeHeaders(headers: HeaderMap, endStream: boolean): FilterHeadersStatus {
    const c = this.config;
    if (matchHeaders(headers, c.headers)) {
      this.healthCheckRequest = true;
      c.stats.request_total.inc();
      // Not pass-through: always answered here; pass-through: only when failed or cached.
      if (!c.passThroughMode || c.healthCheckFailed() || c.cache?.useCachedResponse() === true) this.handling = true;
    }
    if (endStream && this.handling) this.onComplete();
    return this.handling ? FilterHeadersStatus.StopIteration : FilterHeadersStatus.Continue;
  }

  override decodeData(_data: Buffer, endStream: boolean): FilterDataStatus {
    if (endStream && this.handling) this.onComplete();
    return this.handling ? FilterDataStatus.StopIterationNoBuffer : FilterDataStatus.Continue;
  }

  override decodeTrailers(_trailers: HeaderMap): FilterTrailersStatus {
    if (this.handling) this.onComplete();
    return this.handling ? FilterTrailersStatus.StopIteration : FilterTrailersStatus.Continue;
  }

  override encodeHeaders(headers: HeaderMap, _endStream: boolean): FilterHeadersStatus {
    const c = this.config;
    if (this.healthCheckRequest) {
      const status = Number(headers.get(':status'));
      const degraded = headers.get(DEGRADED) !== undefined;
      if (!this.handling) c.cache?.set(status, degraded);
      if (status >= 200 && status < 300) c.stats.ok.inc();
      else c.stats.failed.inc();
      if (degraded) c.stats.degraded.inc();
      headers.set(HEALTHCHECKED_CLUSTER, c.localClusterName);
    }
    // Documented: on all responses, health check or not, while the server fails health checks.
    if (c.healthCheckFailed()) headers.set(IMMEDIATE_HC_FAIL, 'true');
    return FilterHeadersStatus.Continue;
  }

  private onComplete(): void {
    const c = this.config;
    const si = this.decoderCallbacks.streamInfo;
    let status = 200;
    let degraded = false;
    let details = 'health_check_ok';
    if (c.healthCheckFailed()) {
      status = 503;
      details = 'health_check_failed';
    } else if (c.cache !== null && c.cache.useCachedResponse()) {
      ({ status, degraded } = c.cache.get());
      details = 'health_check_cached';
      c.stats.cached_response.inc();
    } else if (c.clusterMinHealthyPercentages.size > 0) {
      for (const [name, minPercent] of c.clusterMinHealthyPercentages) {
        details = 'health_check_ok_cluster_healthy';
        const cluster = c.clusterManager.getThreadLocalCluster(name);
        if (cluster === undefined) {
          status = 503;
          details = 'health_check_failed_no_cluster_found';
          c.stats.failed_cluster_not_found.inc();
          break;
        }
        const s = cluster.info.stats;
        const total = s.membership_total.value();
        if (total === 0) {
          if (minPercent === 0) continue;
          status = 503;
          details = 'health_check_failed_cluster_empty';
          c.stats.failed_cluster_empty.inc();
          break;
        }
        if (100 * (s.membership_healthy.value() + s.membership_degraded.value()) < total * minPercent) {
          status = 503;
          details = 'health_check_failed_cluster_unhealthy';
          c.stats.failed_cluster_unhealthy.inc();
          break;
        }
      }
    }
    if (status < 200 || status >= 300) si.setResponseFlag(ResponseFlag.FailedLocalHealthCheck);
    this.decoderCallbacks.sendLocalReply(status, '', {
      details,
      modifyHeaders: (h) => {
        if (degraded) h.set(DEGRADED, '');
      },
    });
  }
}
