/**
 * Outlier detection (passive health checking), after Envoy's
 * `Outlier::DetectorImpl` / `DetectorHostMonitorImpl`
 * (source/common/upstream/outlier_detection_impl.cc).
 *
 * The data path reports each upstream result into the host's monitor
 * (`host.outlierDetector`): the router an HTTP status (putHttpResponseCode)
 * and connect failures, resets and timeouts (putResult), the TCP proxy its
 * connects. The detector ejects a host — sets HealthFlag.FailedOutlierCheck
 * and re-partitions the priority set so the load balancers skip it — when:
 *
 *   - consecutive 5xx reach `consecutive_5xx` (counted exactly at the
 *     threshold, then reset);
 *   - consecutive gateway failures (502/503/504) reach
 *     `consecutive_gateway_failure`;
 *   - with `split_external_local_origin_errors`, consecutive local-origin
 *     failures (connect failure, timeout, reset) reach
 *     `consecutive_local_origin_failure`. Without the split, local-origin
 *     results count as HTTP codes: connect failure/reset 503, timeout 504
 *     (or the code the caller gives);
 *   - at each `interval`: a host's success rate of the last interval is
 *     below `mean - stdev_factor * stdev` of the hosts with enough volume
 *     (success rate), or its failure percentage reaches
 *     `failure_percentage_threshold` (failure percentage); per origin when split.
 *
 * A detected ejection is enforced with probability `enforcing_*` percent
 * (ejections_detected_* always count, ejections_enforced_* only when enforced)
 * and only while ejected hosts stay within `max_ejection_percent` of the
 * cluster's hosts (else ejections_overflow); with `always_eject_one_host` the
 * first ejection is always allowed. An ejected host returns at the first
 * interval after `min(base_ejection_time * backoff, max_ejection_time) +
 * jitter`; backoff grows by one per ejection (bounded) and shrinks by one per
 * interval the host spends in service.
 *
 * Stats under `cluster.<name>.outlier_detection.` are Envoy's
 * (ALL_OUTLIER_DETECTION_STATS). Every timer and clock reading goes through
 * the TimeSource, so tests drive it with a simulated clock.
 */
import type { TimeSource, Timer } from '../envoy/common/time.js';
import type { Counter, Gauge, Scope } from '../envoy/stats/stats.js';
import { HealthFlag, type Host } from '../envoy/upstream/host.js';
import {
  OutlierResult,
  type DetectorHostMonitor,
  type SuccessRateMonitorType,
} from '../envoy/upstream/outlier_detection.js';
import type { RandomGenerator } from '../common/random.js';
import { makeStatsBlock, prefixedScope } from '../stats/stats_impl.js';
import type { OutlierDetectorConfig } from './outlier_detection_config.js';
import { SuccessRateAccumulator, successRateEjectionThreshold } from './outlier_success_rate.js';
import type { PrioritySetImpl } from './priority_set_impl.js';

/** Why a host is ejected (envoy.data.cluster.v3.OutlierEjectionType names). */
export type OutlierEjectionType =
  | 'CONSECUTIVE_5XX'
  | 'CONSECUTIVE_GATEWAY_FAILURE'
  | 'SUCCESS_RATE'
  | 'CONSECUTIVE_LOCAL_ORIGIN_FAILURE'
  | 'SUCCESS_RATE_LOCAL_ORIGIN'
  | 'FAILURE_PERCENTAGE'
  | 'FAILURE_PERCENTAGE_LOCAL_ORIGIN';

/** Where eject/uneject events go (`event_log_path`); see outlier_event_logger.ts. */
export interface OutlierEventLogger {
  logEject(host: Host, detector: DetectorImpl, type: OutlierEjectionType, enforced: boolean): void;
  logUneject(host: Host): void;
}

const COUNTERS = [
  'ejections_consecutive_5xx', // deprecated in Envoy, still emitted
  'ejections_detected_consecutive_5xx',
  'ejections_detected_consecutive_gateway_failure',
  'ejections_detected_success_rate',
  'ejections_detected_consecutive_local_origin_failure',
  'ejections_detected_local_origin_success_rate',
  'ejections_detected_failure_percentage',
  'ejections_detected_local_origin_failure_percentage',
  'ejections_enforced_consecutive_5xx',
  'ejections_enforced_consecutive_gateway_failure',
  'ejections_enforced_success_rate',
  'ejections_enforced_consecutive_local_origin_failure',
  'ejections_enforced_local_origin_success_rate',
  'ejections_enforced_failure_percentage',
  'ejections_enforced_local_origin_failure_percentage',
  'ejections_enforced_total',
  'ejections_overflow',
  'ejections_success_rate', // deprecated
  'ejections_total', // deprecated
] as const;

type OutlierStats = Readonly<Record<(typeof COUNTERS)[number], Counter>> & { readonly ejections_active: Gauge };

/** The ejections_detected_* / ejections_enforced_* stat suffix of each type. */
const STAT_SUFFIX: Record<OutlierEjectionType, string> = {
  CONSECUTIVE_5XX: 'consecutive_5xx',
  CONSECUTIVE_GATEWAY_FAILURE: 'consecutive_gateway_failure',
  SUCCESS_RATE: 'success_rate',
  CONSECUTIVE_LOCAL_ORIGIN_FAILURE: 'consecutive_local_origin_failure',
  SUCCESS_RATE_LOCAL_ORIGIN: 'local_origin_success_rate',
  FAILURE_PERCENTAGE: 'failure_percentage',
  FAILURE_PERCENTAGE_LOCAL_ORIGIN: 'local_origin_failure_percentage',
};

const isGatewayError = (code: number): boolean => code === 502 || code === 503 || code === 504;

/** Per-host counters and success-rate buckets; what `host.outlierDetector` is. */
export class DetectorHostMonitorImpl implements DetectorHostMonitor {
  consecutive5xx = 0;
  consecutiveGatewayFailure = 0;
  consecutiveLocalOriginFailure = 0;
  numEjections = 0;
  lastEjectionTimeMs: number | null = null;
  lastUnejectionTimeMs: number | null = null;
  /** Multiplier of base_ejection_time for the current/next ejection. */
  ejectTimeBackoff = 0;
  jitterMs = 0;
  readonly externalOrigin = new SuccessRateAccumulator();
  readonly localOrigin = new SuccessRateAccumulator();
  private readonly successRates = { external: -1, local: -1 };

  constructor(private readonly detector: DetectorImpl, readonly host: Host) {}

  putHttpResponseCode(code: number): void {
    this.externalOrigin.incTotal();
    if (code >= 500 && code < 600) {
      const cfg = this.detector.config;
      if (isGatewayError(code)) {
        if (++this.consecutiveGatewayFailure === cfg.consecutiveGatewayFailure) {
          this.detector.onConsecutiveError(this, 'CONSECUTIVE_GATEWAY_FAILURE');
        }
      } else {
        this.consecutiveGatewayFailure = 0;
      }
      if (++this.consecutive5xx === cfg.consecutive5xx) this.detector.onConsecutiveError(this, 'CONSECUTIVE_5XX');
    } else {
      this.externalOrigin.incSuccess();
      this.consecutive5xx = 0;
      this.consecutiveGatewayFailure = 0;
    }
  }

  putResult(result: OutlierResult, code?: number): void {
    if (this.detector.config.splitExternalLocalOriginErrors) this.putResultSplit(result);
    else if (code !== undefined) this.putHttpResponseCode(code);
    else {
      const mapped = resultToHttpCode(result);
      if (mapped !== null) this.putHttpResponseCode(mapped);
    }
  }

  successRate(type: SuccessRateMonitorType): number {
    return this.successRates[type];
  }

  /** @internal */
  setSuccessRate(type: SuccessRateMonitorType, rate: number): void {
    this.successRates[type] = rate;
  }

  accumulator(type: SuccessRateMonitorType): SuccessRateAccumulator {
    return type === 'external' ? this.externalOrigin : this.localOrigin;
  }

  resetConsecutive(): void {
    this.consecutive5xx = 0;
    this.consecutiveGatewayFailure = 0;
    this.consecutiveLocalOriginFailure = 0;
  }

  private putResultSplit(result: OutlierResult): void {
    switch (result) {
      case OutlierResult.LocalOriginConnectSuccess:
      case OutlierResult.LocalOriginConnectSuccessFinal:
        this.localOriginNoFailure();
        return;
      case OutlierResult.LocalOriginTimeout:
      case OutlierResult.LocalOriginConnectFailed:
        this.localOriginFailure();
        return;
      case OutlierResult.ExtOriginRequestFailed:
        this.putHttpResponseCode(503);
        return;
      case OutlierResult.ExtOriginRequestSuccess:
        this.putHttpResponseCode(200);
        this.localOriginNoFailure();
        return;
    }
  }

  private localOriginFailure(): void {
    this.localOrigin.incTotal();
    if (++this.consecutiveLocalOriginFailure === this.detector.config.consecutiveLocalOriginFailure) {
      this.detector.onConsecutiveError(this, 'CONSECUTIVE_LOCAL_ORIGIN_FAILURE');
    }
  }

  private localOriginNoFailure(): void {
    this.localOrigin.incTotal();
    this.localOrigin.incSuccess();
    this.consecutiveLocalOriginFailure = 0;
  }
}

/** The HTTP code a result counts as when errors are not split (Envoy's resultToHttpCode); null: nothing to count. */
export function resultToHttpCode(result: OutlierResult): number | null {
  switch (result) {
    case OutlierResult.ExtOriginRequestSuccess:
    case OutlierResult.LocalOriginConnectSuccessFinal:
      return 200;
    case OutlierResult.LocalOriginTimeout:
      return 504;
    case OutlierResult.LocalOriginConnectFailed:
      return 503;
    case OutlierResult.ExtOriginRequestFailed:
      return 500;
    case OutlierResult.LocalOriginConnectSuccess:
      // HTTP reports its own status afterwards; counting here would count twice.
      return null;
  }
}

export interface DetectorOptions {
  /** The cluster's scope (`cluster.<name>.`). */
  readonly scope: Scope;
  readonly timeSource: TimeSource;
  readonly random: RandomGenerator;
  readonly eventLogger?: OutlierEventLogger | null;
}

export class DetectorImpl {
  readonly stats: OutlierStats;
  private readonly monitors = new Map<Host, DetectorHostMonitorImpl>();
  private readonly changedStateCbs: Array<(host: Host) => void> = [];
  private readonly timeSource: TimeSource;
  private readonly random: RandomGenerator;
  private readonly eventLogger: OutlierEventLogger | null;
  private readonly unsubscribe: () => void;
  private timer: Timer | null = null;
  private ejectionsActive = 0;
  private destroyed = false;
  private readonly srNums: Record<SuccessRateMonitorType, { average: number; threshold: number }> = {
    external: { average: -1, threshold: -1 },
    local: { average: -1, threshold: -1 },
  };

  constructor(readonly config: OutlierDetectorConfig, private readonly prioritySet: PrioritySetImpl, options: DetectorOptions) {
    const scope = prefixedScope(options.scope, 'outlier_detection.');
    this.stats = { ...makeStatsBlock(scope, { counters: COUNTERS }), ejections_active: scope.gauge('ejections_active') };
    this.timeSource = options.timeSource;
    this.random = options.random;
    this.eventLogger = options.eventLogger ?? null;
    for (const hs of prioritySet.hostSetsPerPriority) for (const h of hs.hosts) this.addHostMonitor(h);
    this.unsubscribe = prioritySet.addMemberUpdateCb((_p, added, removed) => {
      for (const h of added) this.addHostMonitor(h);
      for (const h of removed) this.removeHostMonitor(h);
    });
    this.armIntervalTimer();
  }

  /** `cb` runs after a host is ejected or returned (the cluster re-partitions its hosts). */
  addChangedStateCb(cb: (host: Host) => void): void {
    this.changedStateCbs.push(cb);
  }

  /** The host's monitor while the host belongs to the cluster. */
  monitorOf(host: Host): DetectorHostMonitorImpl | undefined {
    return this.monitors.get(host);
  }

  /** Cluster mean success rate of the last interval, -1 when not computed. */
  successRateAverage(type: SuccessRateMonitorType): number {
    return this.srNums[type].average;
  }

  /** The last success-rate ejection threshold, -1 when not computed. */
  successRateEjectionThreshold(type: SuccessRateMonitorType): number {
    return this.srNums[type].threshold;
  }

  /**
   * An active health check passed for `host` (Envoy's host-check-complete
   * callback): with `successful_active_health_check_uneject_host` (default
   * true) an ejected host returns at once.
   */
  onActiveHealthCheckSuccess(host: Host): void {
    if (!this.config.successfulActiveHealthCheckUnejectHost) return;
    if ((host.healthFlags & HealthFlag.FailedActiveHc) !== 0) return;
    if ((host.healthFlags & HealthFlag.FailedOutlierCheck) === 0 || !this.monitors.has(host)) return;
    this.unejectHost(host);
  }

  /** Stops the interval timer and the host tracking (cluster removed or replaced). */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.timer?.cancel();
    this.timer = null;
    this.unsubscribe();
    this.stats.ejections_active.sub(this.ejectionsActive);
    this.ejectionsActive = 0;
    this.monitors.clear();
  }

  /** @internal A monitor's consecutive counter hit its threshold. */
  onConsecutiveError(monitor: DetectorHostMonitorImpl, type: OutlierEjectionType): void {
    const host = monitor.host;
    // A host no longer in the cluster, or already ejected, is left alone.
    if (this.monitors.get(host) !== monitor) return;
    if ((host.healthFlags & HealthFlag.FailedOutlierCheck) !== 0) return;
    this.updateDetectedStats(type);
    this.ejectHost(monitor, type);
    // Reset the counter that fired, so another bout of errors is needed.
    if (type === 'CONSECUTIVE_5XX') {
      this.stats.ejections_consecutive_5xx.inc();
      monitor.consecutive5xx = 0;
    } else if (type === 'CONSECUTIVE_GATEWAY_FAILURE') {
      monitor.consecutiveGatewayFailure = 0;
    } else {
      monitor.consecutiveLocalOriginFailure = 0;
    }
  }

  private addHostMonitor(host: Host): void {
    if (this.monitors.has(host)) return; // moved between priorities: same host, same state
    const m = new DetectorHostMonitorImpl(this, host);
    this.monitors.set(host, m);
    host.outlierDetector = m;
  }

  private removeHostMonitor(host: Host): void {
    if (!this.monitors.delete(host)) return;
    if ((host.healthFlags & HealthFlag.FailedOutlierCheck) !== 0) this.setEjectionsActive(this.ejectionsActive - 1);
  }

  private armIntervalTimer(): void {
    if (this.destroyed) return;
    this.timer = this.timeSource.schedule(this.config.intervalMs, () => this.onIntervalTimer());
  }

  private setEjectionsActive(n: number): void {
    const delta = n - this.ejectionsActive;
    if (delta >= 0) this.stats.ejections_active.add(delta);
    else this.stats.ejections_active.sub(-delta);
    this.ejectionsActive = n;
  }

  private enforced(type: OutlierEjectionType): boolean {
    const c = this.config;
    const percent = {
      CONSECUTIVE_5XX: c.enforcingConsecutive5xx,
      CONSECUTIVE_GATEWAY_FAILURE: c.enforcingConsecutiveGatewayFailure,
      SUCCESS_RATE: c.enforcingSuccessRate,
      CONSECUTIVE_LOCAL_ORIGIN_FAILURE: c.enforcingConsecutiveLocalOriginFailure,
      SUCCESS_RATE_LOCAL_ORIGIN: c.enforcingLocalOriginSuccessRate,
      FAILURE_PERCENTAGE: c.enforcingFailurePercentage,
      FAILURE_PERCENTAGE_LOCAL_ORIGIN: c.enforcingFailurePercentageLocalOrigin,
    }[type];
    // Envoy's runtime featureEnabled(): random % 100 < percent.
    return percent >= 100 || (percent > 0 && this.random.random() % 100 < percent);
  }

  private updateDetectedStats(type: OutlierEjectionType): void {
    (this.stats as unknown as Record<string, Counter>)[`ejections_detected_${STAT_SUFFIX[type]}`]!.inc();
  }

  private ejectHost(monitor: DetectorHostMonitorImpl, type: OutlierEjectionType): void {
    const c = this.config;
    const ejectedPercent = (100 * (this.ejectionsActive + 1)) / this.monitors.size;
    let shouldEject = ejectedPercent <= Math.min(100, c.maxEjectionPercent);
    if (c.alwaysEjectOneHost) shouldEject ||= this.ejectionsActive === 0;
    if (!shouldEject) {
      this.stats.ejections_overflow.inc();
      return;
    }
    if (type === 'CONSECUTIVE_5XX' || type === 'SUCCESS_RATE') this.stats.ejections_total.inc();
    const host = monitor.host;
    if (!this.enforced(type)) {
      this.eventLogger?.logEject(host, this, type, false);
      return;
    }
    this.setEjectionsActive(this.ejectionsActive + 1);
    this.stats.ejections_enforced_total.inc();
    (this.stats as unknown as Record<string, Counter>)[`ejections_enforced_${STAT_SUFFIX[type]}`]!.inc();
    host.healthFlags |= HealthFlag.FailedOutlierCheck;
    monitor.numEjections++;
    monitor.lastEjectionTimeMs = this.timeSource.monotonicMs();
    // Random jitter so hosts ejected together do not all return together.
    monitor.jitterMs = this.random.random() % (c.maxEjectionTimeJitterMs + 1);
    if (monitor.ejectTimeBackoff * c.baseEjectionTimeMs < c.maxEjectionTimeMs + c.baseEjectionTimeMs) monitor.ejectTimeBackoff++;
    this.runCallbacks(host);
    this.eventLogger?.logEject(host, this, type, true);
  }

  private unejectHost(host: Host): void {
    const monitor = this.monitors.get(host)!;
    this.setEjectionsActive(this.ejectionsActive - 1);
    host.healthFlags &= ~HealthFlag.FailedOutlierCheck;
    // A counter close to its threshold would re-eject on very few new errors.
    monitor.resetConsecutive();
    monitor.lastUnejectionTimeMs = this.timeSource.monotonicMs();
    this.runCallbacks(host);
    this.eventLogger?.logUneject(host);
  }

  private checkHostForUneject(monitor: DetectorHostMonitorImpl, now: number): void {
    const host = monitor.host;
    if ((host.healthFlags & HealthFlag.FailedOutlierCheck) === 0 || monitor.lastEjectionTimeMs === null) return;
    const c = this.config;
    const ejectFor = Math.min(c.baseEjectionTimeMs * monitor.ejectTimeBackoff, c.maxEjectionTimeMs) + monitor.jitterMs;
    if (ejectFor <= now - monitor.lastEjectionTimeMs) this.unejectHost(host);
  }

  private onIntervalTimer(): void {
    this.timer = null;
    const now = this.timeSource.monotonicMs();
    for (const m of [...this.monitors.values()]) {
      this.checkHostForUneject(m, now);
      m.externalOrigin.swap();
      m.localOrigin.swap();
      m.setSuccessRate('external', -1);
      m.setSuccessRate('local', -1);
    }
    this.processSuccessRateEjections('external');
    this.processSuccessRateEjections('local');
    // A host in service for a whole interval since its return earns back one step of backoff.
    for (const m of this.monitors.values()) {
      if ((m.host.healthFlags & HealthFlag.FailedOutlierCheck) !== 0) continue;
      if (m.lastUnejectionTimeMs !== null && now - m.lastUnejectionTimeMs >= this.config.intervalMs && m.ejectTimeBackoff > 0) {
        m.ejectTimeBackoff--;
      }
    }
    this.armIntervalTimer();
  }

  private processSuccessRateEjections(type: SuccessRateMonitorType): void {
    const c = this.config;
    this.srNums[type] = { average: -1, threshold: -1 };
    if (this.monitors.size < c.successRateMinimumHosts && this.monitors.size < c.failurePercentageMinimumHosts) return;
    const srHosts: Array<{ m: DetectorHostMonitorImpl; rate: number }> = [];
    const fpHosts: Array<{ m: DetectorHostMonitorImpl; rate: number }> = [];
    for (const m of this.monitors.values()) {
      if ((m.host.healthFlags & HealthFlag.FailedOutlierCheck) !== 0) continue;
      const sv = m.accumulator(type).successRateAndVolume();
      if (sv === null) continue;
      if (sv.volume >= Math.min(c.successRateRequestVolume, c.failurePercentageRequestVolume)) m.setSuccessRate(type, sv.successRate);
      if (sv.volume >= c.successRateRequestVolume) srHosts.push({ m, rate: sv.successRate });
      if (sv.volume >= c.failurePercentageRequestVolume) fpHosts.push({ m, rate: sv.successRate });
    }
    if (srHosts.length > 0 && srHosts.length >= c.successRateMinimumHosts) {
      const { mean, threshold } = successRateEjectionThreshold(srHosts.map((h) => h.rate), c.successRateStdevFactor);
      this.srNums[type] = { average: mean, threshold };
      const ejectionType: OutlierEjectionType = type === 'external' ? 'SUCCESS_RATE' : 'SUCCESS_RATE_LOCAL_ORIGIN';
      for (const { m, rate } of srHosts) {
        if (rate < threshold) {
          this.stats.ejections_success_rate.inc();
          this.updateDetectedStats(ejectionType);
          this.ejectHost(m, ejectionType);
        }
      }
    }
    if (fpHosts.length > 0 && fpHosts.length >= c.failurePercentageMinimumHosts) {
      const ejectionType: OutlierEjectionType = type === 'external' ? 'FAILURE_PERCENTAGE' : 'FAILURE_PERCENTAGE_LOCAL_ORIGIN';
      for (const { m, rate } of fpHosts) {
        // A host the success-rate pass just ejected is not ejected twice.
        if ((m.host.healthFlags & HealthFlag.FailedOutlierCheck) !== 0) continue;
        if (100 - rate >= c.failurePercentageThreshold) {
          this.updateDetectedStats(ejectionType);
          this.ejectHost(m, ejectionType);
        }
      }
    }
  }

  private runCallbacks(host: Host): void {
    for (const cb of this.changedStateCbs) cb(host);
  }
}
