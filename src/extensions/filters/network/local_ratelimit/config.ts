/**
 * Factory for `envoy.filters.network.local_ratelimit`
 * (envoy.extensions.filters.network.local_ratelimit.v3.LocalRateLimit): one
 * token bucket per filter config, shared by the connections of its chain.
 */
import type { Message } from '@bufbuild/protobuf';
import type { LocalRateLimit } from '../../../../generated/envoy/extensions/filters/network/local_ratelimit/v3/local_rate_limit_pb.js';
import type { NamedNetworkFilterConfigFactory } from '../../../../envoy/config/typed_config.js';
import type { NetworkFilterFactoryCb } from '../../../../envoy/network/filter.js';
import type { FactoryContext } from '../../../../envoy/server/factory_context.js';
import { ConfigError } from '../../../../config/config_error.js';
import { realTimeSource } from '../../../../common/real_time_source.js';
import { LocalRateLimitConfigError, LocalRateLimiterImpl, tokenBucketSettings } from '../../common/local_ratelimit/local_rate_limiter_impl.js';
import { NetworkLocalRateLimitFilter, type NetworkLocalRateLimitConfig } from './local_ratelimit_filter.js';

export const networkLocalRateLimitFactory: NamedNetworkFilterConfigFactory = {
  category: 'envoy.filters.network',
  name: 'envoy.filters.network.local_ratelimit',
  configTypes: ['envoy.extensions.filters.network.local_ratelimit.v3.LocalRateLimit'],
  createFilterFactory(config: Message, context: FactoryContext): NetworkFilterFactoryCb {
    const proto = config as LocalRateLimit;
    if (proto.statPrefix.length === 0) throw new ConfigError('stat_prefix', 'stat_prefix must not be empty');
    if (proto.tokenBucket === undefined) throw new ConfigError('token_bucket', 'token_bucket is required');
    let limiter: LocalRateLimiterImpl;
    try {
      limiter = new LocalRateLimiterImpl(tokenBucketSettings(proto.tokenBucket), [], true, context.timeSource ?? realTimeSource);
    } catch (e) {
      if (e instanceof LocalRateLimitConfigError) throw new ConfigError(e.field, e.message);
      throw e;
    }
    const compiled: NetworkLocalRateLimitConfig = {
      limiter,
      enabled: proto.runtimeEnabled?.defaultValue ?? true,
      rateLimited: context.scope.createScope(`local_ratelimit.${proto.statPrefix}`).counter('rate_limited'),
    };
    return (manager) => manager.addReadFilter(new NetworkLocalRateLimitFilter(compiled));
  },
};
