/**
 * Back-off between DNS re-resolutions after a failure, after Envoy's
 * `Config::Utility::prepareDnsRefreshStrategy`:
 * - without `dns_failure_refresh_rate`: a fixed interval equal to `dns_refresh_rate`;
 * - with it: jittered exponential back-off from `base_interval`, capped at
 *   `max_interval` (default 10 x base).
 */
import type { Cluster } from '../generated/envoy/config/cluster/v3/cluster_pb.js';
import type { RandomGenerator } from '../common/random.js';
import { FixedBackOffStrategy, JitteredExponentialBackOffStrategy, type BackOffStrategy } from '../common/backoff_strategy.js';
import { ConfigError } from './proto_util.js';
import { durationToMs } from '../config/well_known.js';

export { FixedBackOffStrategy, JitteredExponentialBackOffStrategy, type BackOffStrategy } from '../common/backoff_strategy.js';

export function dnsFailureBackOff(cluster: Cluster, refreshRateMs: number, random: RandomGenerator, base: string): BackOffStrategy {
  const rr = cluster.dnsFailureRefreshRate;
  if (rr === undefined) return new FixedBackOffStrategy(refreshRateMs);
  if (rr.baseInterval === undefined) {
    throw new ConfigError(`${base}.dns_failure_refresh_rate.base_interval`, 'base_interval is required');
  }
  const baseMs = durationToMs(rr.baseInterval, 0);
  if (baseMs < 1) throw new ConfigError(`${base}.dns_failure_refresh_rate.base_interval`, 'must be at least 1ms');
  const maxMs = rr.maxInterval === undefined ? baseMs * 10 : durationToMs(rr.maxInterval, 0);
  if (maxMs < baseMs) {
    throw new ConfigError(
      `${base}.dns_failure_refresh_rate.max_interval`,
      'dns_failure_refresh_rate must have max_interval greater than or equal to the base_interval',
    );
  }
  return new JitteredExponentialBackOffStrategy(baseMs, maxMs, random);
}
