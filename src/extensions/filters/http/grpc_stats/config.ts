/** Factory for `envoy.filters.http.grpc_stats` (envoy.extensions.filters.http.grpc_stats.v3.FilterConfig). */
import type { Message } from '@bufbuild/protobuf';
import type { FilterConfig } from '../../../../generated/envoy/extensions/filters/http/grpc_stats/v3/config_pb.js';
import type { NamedHttpFilterConfigFactory } from '../../../../envoy/config/typed_config.js';
import type { FilterFactoryCb } from '../../../../envoy/http/filter.js';
import type { FactoryContext } from '../../../../envoy/server/factory_context.js';
import { GrpcContextImpl, type RequestStatNames } from '../../../../common/grpc/context_impl.js';
import { GrpcStatsFilter, type GrpcStatsConfig } from './grpc_stats_filter.js';

export const grpcStatsFactory: NamedHttpFilterConfigFactory = {
  category: 'envoy.filters.http',
  name: 'envoy.filters.http.grpc_stats',
  configTypes: ['envoy.extensions.filters.http.grpc_stats.v3.FilterConfig'],
  createFilterFactory(config: Message, _statPrefix: string, context: FactoryContext): FilterFactoryCb {
    const proto = config as FilterConfig;
    const spec = proto.perMethodStatSpecifier;
    let allowlist: Map<string, Map<string, RequestStatNames>> | null = null;
    if (spec.case === 'individualMethodStatsAllowlist') {
      allowlist = new Map();
      for (const service of spec.value.services) {
        let methods = allowlist.get(service.name);
        if (methods === undefined) { methods = new Map(); allowlist.set(service.name, methods); }
        for (const m of service.methodNames) methods.set(m, { service: service.name, method: m });
      }
    }
    const compiled: GrpcStatsConfig = {
      context: new GrpcContextImpl(context.scope, context.clusterManager),
      emitFilterState: proto.emitFilterState,
      // Neither specifier set: stats_for_all_methods=false (Envoy's documented default).
      statsForAllMethods: spec.case === 'statsForAllMethods' ? spec.value.value : false,
      allowlist,
      enableUpstreamStats: proto.enableUpstreamStats,
      replaceDotsInGrpcServiceName: proto.replaceDotsInGrpcServiceName,
    };
    return (callbacks) => callbacks.addStreamFilter(new GrpcStatsFilter(compiled));
  },
};
