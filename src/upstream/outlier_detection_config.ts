/**
 * A cluster's `outlier_detection` compiled once, after Envoy's
 * `Outlier::DetectorConfig` (source/common/upstream/outlier_detection_impl.cc).
 *
 * Defaults (api/envoy/config/cluster/v3/outlier_detection.proto): interval
 * 10 s; base_ejection_time 30 s; max_ejection_time 300 s or
 * base_ejection_time, whichever is larger; jitter 0; consecutive_5xx,
 * consecutive_gateway_failure and consecutive_local_origin_failure 5;
 * max_ejection_percent 10; success rate: 5 hosts, 100 requests, stdev factor
 * 1900 (÷1000); failure percentage: threshold 85, 5 hosts, 50 requests;
 * enforcing: consecutive_5xx 100, gateway failure 0, success rate 100,
 * local-origin consecutive and success rate 100, failure percentage (both) 0.
 *
 * Percentages above 100 are refused (PGV does too); a max_ejection_time
 * below base_ejection_time is refused with Envoy's message.
 */
import type { OutlierDetection } from '../generated/envoy/config/cluster/v3/outlier_detection_pb.js';
import { durationToMs } from '../config/well_known.js';
import { ConfigError, notSupportedYet } from './proto_util.js';

export const DEFAULT_INTERVAL_MS = 10_000;
export const DEFAULT_BASE_EJECTION_TIME_MS = 30_000;
export const DEFAULT_MAX_EJECTION_TIME_MS = 300_000;

export interface OutlierDetectorConfig {
  readonly intervalMs: number;
  readonly baseEjectionTimeMs: number;
  readonly maxEjectionTimeMs: number;
  readonly maxEjectionTimeJitterMs: number;
  readonly consecutive5xx: number;
  readonly consecutiveGatewayFailure: number;
  readonly consecutiveLocalOriginFailure: number;
  readonly maxEjectionPercent: number;
  readonly alwaysEjectOneHost: boolean;
  readonly successRateMinimumHosts: number;
  readonly successRateRequestVolume: number;
  /** success_rate_stdev_factor / 1000. */
  readonly successRateStdevFactor: number;
  readonly failurePercentageThreshold: number;
  readonly failurePercentageMinimumHosts: number;
  readonly failurePercentageRequestVolume: number;
  readonly enforcingConsecutive5xx: number;
  readonly enforcingConsecutiveGatewayFailure: number;
  readonly enforcingSuccessRate: number;
  readonly enforcingFailurePercentage: number;
  readonly enforcingFailurePercentageLocalOrigin: number;
  readonly enforcingConsecutiveLocalOriginFailure: number;
  readonly enforcingLocalOriginSuccessRate: number;
  readonly splitExternalLocalOriginErrors: boolean;
  readonly successfulActiveHealthCheckUnejectHost: boolean;
}

/** Compiles `outlier_detection` (`path` names it in errors). */
export function outlierDetectorConfigFrom(c: OutlierDetection, path: string): OutlierDetectorConfig {
  if (c.monitors.length > 0) throw notSupportedYet(`${path}.monitors`, 'outlier detection monitor extensions');
  const positiveMs = (field: string, d: Parameters<typeof durationToMs>[0], def: number): number => {
    const ms = durationToMs(d, def);
    if (ms <= 0) throw new ConfigError(`${path}.${field}`, 'must be greater than 0s');
    return ms;
  };
  const percent = (field: string, v: number | undefined, def: number): number => {
    const n = v ?? def;
    if (n > 100) throw new ConfigError(`${path}.${field}`, `must be at most 100 (a percentage), got ${n}`);
    return n;
  };
  const intervalMs = positiveMs('interval', c.interval, DEFAULT_INTERVAL_MS);
  const baseEjectionTimeMs = positiveMs('base_ejection_time', c.baseEjectionTime, DEFAULT_BASE_EJECTION_TIME_MS);
  const maxEjectionTimeMs = positiveMs('max_ejection_time', c.maxEjectionTime, Math.max(DEFAULT_MAX_EJECTION_TIME_MS, baseEjectionTimeMs));
  if (maxEjectionTimeMs < baseEjectionTimeMs) {
    throw new ConfigError(`${path}.max_ejection_time`, "outlier detector's max_ejection_time cannot be smaller than base_ejection_time");
  }
  const maxEjectionTimeJitterMs = durationToMs(c.maxEjectionTimeJitter, 0);
  if (maxEjectionTimeJitterMs < 0) throw new ConfigError(`${path}.max_ejection_time_jitter`, 'must not be negative');
  return {
    intervalMs,
    baseEjectionTimeMs,
    maxEjectionTimeMs,
    maxEjectionTimeJitterMs,
    consecutive5xx: c.consecutive5xx ?? 5,
    consecutiveGatewayFailure: c.consecutiveGatewayFailure ?? 5,
    consecutiveLocalOriginFailure: c.consecutiveLocalOriginFailure ?? 5,
    maxEjectionPercent: percent('max_ejection_percent', c.maxEjectionPercent, 10),
    alwaysEjectOneHost: c.alwaysEjectOneHost ?? false,
    successRateMinimumHosts: c.successRateMinimumHosts ?? 5,
    successRateRequestVolume: c.successRateRequestVolume ?? 100,
    successRateStdevFactor: (c.successRateStdevFactor ?? 1900) / 1000,
    failurePercentageThreshold: percent('failure_percentage_threshold', c.failurePercentageThreshold, 85),
    failurePercentageMinimumHosts: c.failurePercentageMinimumHosts ?? 5,
    failurePercentageRequestVolume: c.failurePercentageRequestVolume ?? 50,
    enforcingConsecutive5xx: percent('enforcing_consecutive_5xx', c.enforcingConsecutive5xx, 100),
    enforcingConsecutiveGatewayFailure: percent('enforcing_consecutive_gateway_failure', c.enforcingConsecutiveGatewayFailure, 0),
    enforcingSuccessRate: percent('enforcing_success_rate', c.enforcingSuccessRate, 100),
    enforcingFailurePercentage: percent('enforcing_failure_percentage', c.enforcingFailurePercentage, 0),
    enforcingFailurePercentageLocalOrigin: percent('enforcing_failure_percentage_local_origin', c.enforcingFailurePercentageLocalOrigin, 0),
    enforcingConsecutiveLocalOriginFailure: percent('enforcing_consecutive_local_origin_failure', c.enforcingConsecutiveLocalOriginFailure, 100),
    enforcingLocalOriginSuccessRate: percent('enforcing_local_origin_success_rate', c.enforcingLocalOriginSuccessRate, 100),
    splitExternalLocalOriginErrors: c.splitExternalLocalOriginErrors,
    successfulActiveHealthCheckUnejectHost: c.successfulActiveHealthCheckUnejectHost ?? true,
  };
}
