/**
 * Back-off between DNS re-resolutions after a failure, after Envoy's
 * `Config::Utility::prepareDnsRefreshStrategy`:
 * - without `dns_failure_refresh_rate`: a fixed interval equal to `dns_refresh_rate`;
 * - with it: jittered exponential back-off from `base_interval`, capped at
 *   `max_interval` (default 10 x base).
 */
import type { Cluster } from '../generated/envoy/config/cluster/v3/cluster_pb.js';
import type { RandomGenerator } from './load_balancer_impl.js';
import { ConfigError } from './proto_util.js';
import { durationToMs } from '../config/well_known.js';

export interface BackOffStrategy {
  /** Milliseconds to wait before the next attempt. */
  nextBackOffMs(): number;
  /** Called after a success. */
  reset(): void;
}

export class FixedBackOffStrategy implements BackOffStrategy {
  constructor(private readonly intervalMs: number) {}
  nextBackOffMs(): number {
    return this.intervalMs;
  }
  reset(): void {}
}

/**
 * Attempt n waits a random time in [0, min(base * (2^n - 1), max)) ms (at
 * least 1 ms), like Envoy's JitteredExponentialBackOffStrategy.
 */
export class JitteredExponentialBackOffStrategy implements BackOffStrategy {
  private attempt = 0;
  constructor(
    private readonly baseMs: number,
    private readonly maxMs: number,
    private readonly random: RandomGenerator,
  ) {}
  nextBackOffMs(): number {
    this.attempt = Math.min(this.attempt + 1, 52);
    const ceiling = Math.min(this.baseMs * (2 ** this.attempt - 1), this.maxMs);
    return Math.max(1, this.random.random() % Math.max(1, Math.floor(ceiling)));
  }
  reset(): void {
    this.attempt = 0;
  }
}

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
