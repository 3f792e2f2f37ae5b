/**
 * Factory for `envoy.filters.http.fault` (envoy.extensions.filters.http.fault.v3.HTTPFault),
 * after Envoy's `source/extensions/filters/http/fault/config.cc`. The same
 * message is the route-level override (typed_per_filter_config), compiled
 * once per route entry; it replaces the filter's settings for that route
 * while the stats stay the filter's.
 *
 * PGV has already checked the message (abort needs a status or header_abort,
 * http_status in [200, 600), a delay needs fixed_delay > 0 or header_delay, a
 * rate limit needs limit_kbps >= 1); the compile step repeats those checks
 * for messages built in code. Error paths are relative to the message.
 */
import type { Message } from '@bufbuild/protobuf';
import type { HTTPFault } from '../../../../generated/envoy/extensions/filters/http/fault/v3/fault_pb.js';
import type { NamedHttpFilterConfigFactory } from '../../../../envoy/config/typed_config.js';
import type { FilterFactoryCb } from '../../../../envoy/http/filter.js';
import type { FactoryContext } from '../../../../envoy/server/factory_context.js';
import { ConfigError } from '../../../../config/config_error.js';
import { realTimeSource } from '../../../../common/real_time_source.js';
import { defaultRandom } from '../../../../common/random.js';
import { MatcherConfigError } from '../../../../common/matchers/errors.js';
import { compileHeaderMatchers } from '../../../../common/matchers/header_matcher.js';
import { FaultAbortConfig, FaultDelayConfig, FaultRateLimitConfig } from '../../common/fault/fault_config.js';
import { FaultFilter, FaultFilterConfig, type FaultSettings } from './fault_filter.js';

export const FAULT_FILTER_NAME = 'envoy.filters.http.fault';
export const HTTP_FAULT_TYPE = 'envoy.extensions.filters.http.fault.v3.HTTPFault';

/** Compiles an HTTPFault into the settings a stream uses (Envoy's FaultSettings constructor). */
export function compileFaultSettings(fault: HTTPFault): FaultSettings {
  let headers;
  try {
    headers = compileHeaderMatchers(fault.headers, 'headers');
  } catch (e) {
    if (e instanceof MatcherConfigError) throw new ConfigError(e.field, e.detail);
    throw e;
  }
  return {
    kind: 'FaultSettings',
    requestAbort: fault.abort === undefined ? null : new FaultAbortConfig(fault.abort, 'abort'),
    requestDelay: fault.delay === undefined ? null : new FaultDelayConfig(fault.delay, 'delay'),
    responseRateLimit: fault.responseRateLimit === undefined ? null : new FaultRateLimitConfig(fault.responseRateLimit, 'response_rate_limit'),
    upstreamCluster: fault.upstreamCluster,
    downstreamNodes: new Set(fault.downstreamNodes),
    headers,
    maxActiveFaults: fault.maxActiveFaults,
    disableDownstreamClusterStats: fault.disableDownstreamClusterStats,
  };
}

export const faultFactory: NamedHttpFilterConfigFactory = {
  category: 'envoy.filters.http',
  name: FAULT_FILTER_NAME,
  configTypes: [HTTP_FAULT_TYPE],
  legacyNames: ['envoy.fault'],
  createFilterFactory(config: Message, statPrefix: string, context: FactoryContext): FilterFactoryCb {
    const settings = compileFaultSettings(config as HTTPFault);
    const filterConfig = new FaultFilterConfig(settings, statPrefix, context.scope, context.timeSource ?? realTimeSource, defaultRandom);
    return (callbacks) => callbacks.addStreamFilter(new FaultFilter(filterConfig));
  },
  createRouteSpecificFilterConfig(config: Message, _context: FactoryContext): unknown {
    return compileFaultSettings(config as HTTPFault);
  },
};
