/** Factory for `envoy.filters.http.router`: the terminal HTTP filter. */
import type { Message } from '@bufbuild/protobuf';
import type { Router } from '../../../../generated/envoy/extensions/filters/http/router/v3/router_pb.js';
import type { NamedHttpFilterConfigFactory } from '../../../../envoy/config/typed_config.js';
import type { FilterFactoryCb } from '../../../../envoy/http/filter.js';
import type { FactoryContext } from '../../../../envoy/server/factory_context.js';
import { createRouterStats } from '../../../../stats/router_stats.js';
import { RouterFilter, type RouterConfig } from '../../../../router/router_filter.js';

export const routerFactory: NamedHttpFilterConfigFactory = {
  category: 'envoy.filters.http',
  name: 'envoy.filters.http.router',
  configTypes: ['envoy.extensions.filters.http.router.v3.Router'],
  legacyNames: ['envoy.router'],
  isTerminalFilter: true,
  createFilterFactory(config: Message, statPrefix: string, context: FactoryContext): FilterFactoryCb {
    const router = config as Router;
    const routerConfig: RouterConfig = {
      clusterManager: context.clusterManager,
      suppressEnvoyHeaders: router.suppressEnvoyHeaders,
      respectRequestTimeoutHeader: true,
      // Filter factories get Envoy's `http.<stat_prefix>.`; the stats block wants the bare prefix.
      stats: createRouterStats(context.scope, statPrefix.replace(/^http\./, '').replace(/\.$/, '')),
      maxDurationReached: context.scope.counter(`${statPrefix}downstream_rq_max_duration_reached`),
    };
    return (callbacks) => callbacks.addStreamDecoderFilter(new RouterFilter(routerConfig));
  },
};
