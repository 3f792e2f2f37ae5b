/** Factory for `envoy.filters.http.grpc_web` (config: the empty GrpcWeb message). */
import type { Message } from '@bufbuild/protobuf';
import type { NamedHttpFilterConfigFactory } from '../../../../envoy/config/typed_config.js';
import type { FilterFactoryCb } from '../../../../envoy/http/filter.js';
import type { FactoryContext } from '../../../../envoy/server/factory_context.js';
import { GrpcContextImpl } from '../../../../common/grpc/context_impl.js';
import { GrpcWebFilter } from './grpc_web_filter.js';

export const grpcWebFactory: NamedHttpFilterConfigFactory = {
  category: 'envoy.filters.http',
  name: 'envoy.filters.http.grpc_web',
  configTypes: ['envoy.extensions.filters.http.grpc_web.v3.GrpcWeb'],
  legacyNames: ['envoy.grpc_web'],
  createFilterFactory(_config: Message, _statPrefix: string, context: FactoryContext): FilterFactoryCb {
    const grpcContext = new GrpcContextImpl(context.scope, context.clusterManager);
    return (callbacks) => callbacks.addStreamFilter(new GrpcWebFilter(grpcContext));
  },
};
