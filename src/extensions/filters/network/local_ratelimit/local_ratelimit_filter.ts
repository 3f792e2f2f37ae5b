/**
 * `envoy.filters.network.local_ratelimit`, after Envoy's
 * `source/extensions/filters/network/local_ratelimit/local_ratelimit.cc`:
 * every new connection takes a token from the filter's bucket; with none
 * left the connection is closed at once (no flush), before any later filter
 * sees it, and `local_ratelimit.<stat_prefix>.rate_limited` counts it.
 * `runtime_enabled.default_value` false turns the filter off (there is no
 * runtime layer, so the default is the value).
 */
import { ConnectionCloseType } from '../../../../envoy/network/connection.js';
import { FilterStatus, type ReadFilter, type ReadFilterCallbacks } from '../../../../envoy/network/filter.js';
import type { Counter } from '../../../../envoy/stats/stats.js';
import type { LocalRateLimiterImpl } from '../../common/local_ratelimit/local_rate_limiter_impl.js';

export interface NetworkLocalRateLimitConfig {
  readonly limiter: LocalRateLimiterImpl;
  readonly enabled: boolean;
  readonly rateLimited: Counter;
}

export class NetworkLocalRateLimitFilter implements ReadFilter {
  private callbacks!: ReadFilterCallbacks;

  constructor(private readonly config: NetworkLocalRateLimitConfig) {}

  initializeReadFilterCallbacks(callbacks: ReadFilterCallbacks): void { this.callbacks = callbacks; }

  onNewConnection(): FilterStatus {
    if (!this.config.enabled) return FilterStatus.Continue;
    if (!this.config.limiter.requestAllowed([]).allowed) {
      this.config.rateLimited.inc();
      this.callbacks.connection.close(ConnectionCloseType.NoFlush);
      return FilterStatus.StopIteration;
    }
    return FilterStatus.Continue;
  }

  onData(_data: Buffer, _endStream: boolean): FilterStatus { return FilterStatus.Continue; }
}
