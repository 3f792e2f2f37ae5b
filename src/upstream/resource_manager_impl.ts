/**
 * Circuit breakers: one ResourceManager per routing priority (DEFAULT, HIGH),
 * after Envoy's `source/common/upstream/resource_manager_impl.h`.
 *
 * Each limit keeps an `*_open` gauge (1 while the breaker is open, i.e. the
 * count has reached the max) and, with `track_remaining`, a `remaining_*` gauge,
 * both under `cluster.<name>.circuit_breakers.<default|high>.`.
 *
 * Defaults (api/envoy/config/cluster/v3/circuit_breaker.proto): 1024
 * connections, 1024 pending requests, 1024 requests, 3 retries, unlimited
 * connection pools. With `retry_budget`, the retry limit is instead
 * `max(budget_percent% * (active + pending requests), min_retry_concurrency)`
 * (defaults 20% and 3).
 */
import type { Gauge, Scope } from '../envoy/stats/stats.js';
import type { ResourceLimit, ResourceManager } from '../envoy/upstream/host.js';

export const DEFAULT_MAX_CONNECTIONS = 1024;
export const DEFAULT_MAX_PENDING_REQUESTS = 1024;
export const DEFAULT_MAX_REQUESTS = 1024;
export const DEFAULT_MAX_RETRIES = 3;
export const DEFAULT_RETRY_BUDGET_PERCENT = 20;
export const DEFAULT_MIN_RETRY_CONCURRENCY = 3;

/** The largest value a `remaining_*` gauge shows for an unlimited resource. */
const REMAINING_CAP = Number.MAX_SAFE_INTEGER;

export class ResourceLimitImpl implements ResourceLimit {
  private current = 0;

  /**
   * @param maxFn the limit (a function so the retry budget can follow the
   *   request counts); Infinity means unlimited.
   */
  constructor(
    private readonly maxFn: () => number,
    private readonly openGauge: Gauge,
    private readonly remainingGauge: Gauge | null,
  ) {
    this.refreshGauges();
  }

  get max(): number {
    return this.maxFn();
  }

  get count(): number {
    return this.current;
  }

  set count(v: number) {
    this.current = v;
    this.refreshGauges();
  }

  canCreate(): boolean {
    return this.current < this.maxFn();
  }

  inc(): void {
    this.current++;
    this.refreshGauges();
  }

  dec(): void {
    if (this.current > 0) this.current--;
    this.refreshGauges();
  }

  /** Updates the open/remaining gauges (also called when a dependent limit moves). */
  refreshGauges(): void {
    const max = this.maxFn();
    this.openGauge.set(this.current >= max ? 1 : 0);
    if (this.remainingGauge !== null) {
      this.remainingGauge.set(Math.min(REMAINING_CAP, Math.max(0, max - this.current)));
    }
  }
}

export interface CircuitBreakerThresholds {
  maxConnections: number;
  maxPendingRequests: number;
  maxRequests: number;
  maxRetries: number;
  /** Infinity when unset. */
  maxConnectionPools: number;
  trackRemaining: boolean;
  /** When set, replaces maxRetries. */
  retryBudget?: { budgetPercent: number; minRetryConcurrency: number };
}

export function defaultThresholds(): CircuitBreakerThresholds {
  return {
    maxConnections: DEFAULT_MAX_CONNECTIONS,
    maxPendingRequests: DEFAULT_MAX_PENDING_REQUESTS,
    maxRequests: DEFAULT_MAX_REQUESTS,
    maxRetries: DEFAULT_MAX_RETRIES,
    maxConnectionPools: Infinity,
    trackRemaining: false,
  };
}

export class ResourceManagerImpl implements ResourceManager {
  readonly connections: ResourceLimitImpl;
  readonly pendingRequests: ResourceLimitImpl;
  readonly requests: ResourceLimitImpl;
  readonly retries: ResourceLimitImpl;
  /** `max_connection_pools`: pools per cluster (Legate extension of the interface). */
  readonly connectionPools: ResourceLimitImpl;

  /**
   * @param clusterScope `cluster.<stat name>.`
   * @param priorityName `default` or `high` (the stat path segment)
   */
  constructor(clusterScope: Scope, priorityName: 'default' | 'high', readonly thresholds: CircuitBreakerThresholds) {
    const scope = clusterScope.createScope(`circuit_breakers.${priorityName}`);
    const remaining = (name: string): Gauge | null => (thresholds.trackRemaining ? scope.gauge(name) : null);
    this.connections = new ResourceLimitImpl(() => thresholds.maxConnections, scope.gauge('cx_open'), remaining('remaining_cx'));
    this.requests = new ResourceLimitImpl(() => thresholds.maxRequests, scope.gauge('rq_open'), remaining('remaining_rq'));
    this.pendingRequests = new ResourceLimitImpl(
      () => thresholds.maxPendingRequests,
      scope.gauge('rq_pending_open'),
      remaining('remaining_pending'),
    );
    const budget = thresholds.retryBudget;
    const retriesMax =
      budget === undefined
        ? () => thresholds.maxRetries
        : () =>
            Math.max(
              Math.floor((budget.budgetPercent / 100) * (this.requests.count + this.pendingRequests.count)),
              budget.minRetryConcurrency,
            );
    this.retries = new ResourceLimitImpl(retriesMax, scope.gauge('rq_retry_open'), remaining('remaining_retries'));
    this.connectionPools = new ResourceLimitImpl(
      () => thresholds.maxConnectionPools,
      scope.gauge('cx_pool_open'),
      remaining('remaining_cx_pools'),
    );
    if (budget !== undefined) {
      // The retry limit moves with the request counts: keep its gauges current.
      for (const dep of [this.requests, this.pendingRequests]) {
        const inc = dep.inc.bind(dep);
        const dec = dep.dec.bind(dep);
        dep.inc = () => { inc(); this.retries.refreshGauges(); };
        dep.dec = () => { dec(); this.retries.refreshGauges(); };
      }
    }
  }
}
