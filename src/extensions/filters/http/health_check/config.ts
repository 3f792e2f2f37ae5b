/**
 * Factory for `envoy.filters.http.health_check`
 * (envoy.extensions.filters.http.health_check.v3.HealthCheck), after Envoy's
 * HealthCheckFilterConfig: `pass_through_mode` is required, and `cache_time`
 * only makes sense with it.
 */
import type { Message } from '@bufbuild/protobuf';
import type { HealthCheck } from '../../../../generated/envoy/extensions/filters/http/health_check/v3/health_check_pb.js';
import type { NamedHttpFilterConfigFactory } from '../../../../envoy/config/typed_config.js';
import type { FilterFactoryCb } from '../../../../envoy/http/filter.js';
import type { FactoryContext } from '../../../../envoy/server/factory_context.js';
import { ConfigError } from '../../../../config/config_error.js';
import { durationToMs } from '../../../../config/well_known.js';
import { compileHeaderMatchers } from '../../../../common/matchers/header_matcher.js';
import { MatcherConfigError } from '../../../../common/matchers/errors.js';
import { realTimeSource } from '../../../../common/real_time_source.js';
import { createHealthCheckFilterStats } from '../../../../stats/health_checker_stats.js';
import { HealthCheckCache, HealthCheckFilter, type HealthCheckFilterConfig } from './health_check_filter.js';

export const healthCheckFilterFactory: NamedHttpFilterConfigFactory = {
  category: 'envoy.filters.http',
  name: 'envoy.filters.http.health_check',
  configTypes: ['envoy.extensions.filters.http.health_check.v3.HealthCheck'],
  legacyNames: ['envoy.health_check'],
  createFilterFactory(config: Message, statPrefix: string, context: FactoryContext): FilterFactoryCb {
    const proto = config as HealthCheck;
    if (proto.passThroughMode === undefined) throw new ConfigError('pass_through_mode', 'is required');
    const cacheTimeMs = durationToMs(proto.cacheTime, 0);
    if (cacheTimeMs < 0) throw new ConfigError('cache_time', 'must not be negative');
    if (!proto.passThroughMode && cacheTimeMs > 0) {
      throw new ConfigError('cache_time', 'cache_time must not be set when pass_through_mode is disabled');
    }
    let headers;
    try {
      headers = compileHeaderMatchers(proto.headers, 'headers');
    } catch (e) {
      if (e instanceof MatcherConfigError) throw new ConfigError(e.field, e.detail);
      throw e;
    }
    const percentages = new Map<string, number>();
    for (const [name, p] of Object.entries(proto.clusterMinHealthyPercentages)) {
      if (!(p.value >= 0 && p.value <= 100)) {
        throw new ConfigError(`cluster_min_healthy_percentages[${JSON.stringify(name)}].value`, `must be within [0, 100], got ${p.value}`);
      }
      percentages.set(name, p.value);
    }
    const compiled: HealthCheckFilterConfig = {
      passThroughMode: proto.passThroughMode,
      headers,
      cache: cacheTimeMs > 0 ? new HealthCheckCache(cacheTimeMs, () => realTimeSource.monotonicMs()) : null,
      clusterMinHealthyPercentages: percentages,
      clusterManager: context.clusterManager,
      localClusterName: context.localInfo.clusterName,
      healthCheckFailed: () => context.healthCheckFailed?.() ?? false,
      stats: createHealthCheckFilterStats(context.scope, statPrefix),
    };
    return (callbacks) => callbacks.addStreamFilter(new HealthCheckFilter(compiled));
  },
};
