/**
 * Factory for `envoy.filters.http.ratelimit`
 * (envoy.extensions.filters.http.ratelimit.v3.RateLimit), after Envoy's
 * `ratelimit/config.cc`: the Rate Limit Service is an `envoy_grpc` cluster of
 * the cluster manager (transport_api_version V3, as Envoy requires); the
 * per-route config is a RateLimitPerRoute (domain, vh_rate_limits).
 */
import type { Message } from '@bufbuild/protobuf';
import type { RateLimit, RateLimitPerRoute } from '../../../../generated/envoy/extensions/filters/http/ratelimit/v3/rate_limit_pb.js';
import type { NamedHttpFilterConfigFactory } from '../../../../envoy/config/typed_config.js';
import type { FilterFactoryCb } from '../../../../envoy/http/filter.js';
import type { FactoryContext } from '../../../../envoy/server/factory_context.js';
import { ConfigError } from '../../../../config/config_error.js';
import { durationToMs } from '../../../../config/well_known.js';
import { realTimeSource } from '../../../../common/real_time_source.js';
import { HeaderParser } from '../../../../router/header_parser.js';
import { compileFormat } from '../../../../logging/substitution_formatter.js';
import { EnvoyGrpcAsyncClient } from '../../../../upstream/grpc/async_client_impl.js';
import type { VhRateLimits } from '../../common/ratelimit/route_descriptors.js';
import { RATELIMIT_FILTER_NAME, RateLimitFilter, RateLimitFilterConfig, RateLimitPerRouteConfig, RequestType } from './ratelimit_filter.js';

/** `timeout` when unset (Envoy: 20 ms). */
export const DEFAULT_RLS_TIMEOUT_MS = 20;
const API_V3 = 2;
/** RateLimit.XRateLimitHeadersRFCVersion.DRAFT_VERSION_03. */
const DRAFT_VERSION_03 = 1;
const GRPC_RESOURCE_EXHAUSTED = 8;

function requestType(v: string): RequestType {
  switch (v) {
    case '':
    case 'both': return RequestType.Both;
    case 'internal': return RequestType.Internal;
    case 'external': return RequestType.External;
    default: throw new ConfigError('request_type', `request_type must be internal, external or both, not "${v}"`);
  }
}

/** Envoy's toErrorCode for a configured status: below 400 means the default. */
function status(code: number | undefined, defaultCode: number): number {
  return code === undefined || code < 400 ? defaultCode : code;
}

export function compileRateLimitFilterConfig(proto: RateLimit, context: FactoryContext): RateLimitFilterConfig {
  if (proto.domain.length === 0) throw new ConfigError('domain', 'domain must not be empty');
  const rls = proto.rateLimitService;
  if (rls === undefined) throw new ConfigError('rate_limit_service', 'rate_limit_service is required');
  if (rls.transportApiVersion !== API_V3) {
    throw new ConfigError('rate_limit_service.transport_api_version', 'only transport_api_version V3 is supported (write transport_api_version: V3, as Envoy requires)');
  }
  const target = rls.grpcService?.targetSpecifier;
  if (target?.case !== 'envoyGrpc') {
    throw new ConfigError('rate_limit_service.grpc_service', target?.case === 'googleGrpc'
      ? 'google_grpc is not supported; use envoy_grpc with a cluster'
      : 'envoy_grpc (a cluster_name) is required');
  }
  const clusterName = target.value.clusterName;
  if (!context.clusterManager.clusterNames().includes(clusterName)) {
    throw new ConfigError('rate_limit_service.grpc_service.envoy_grpc.cluster_name', `unknown rate limit service cluster '${clusterName}'`);
  }
  const authority = target.value.authority.length > 0 ? target.value.authority : clusterName;
  const initialMetadata = (rls.grpcService?.initialMetadata ?? []).map((h) => [h.key.toLowerCase(), h.value] as const);
  const ff = (fmt: string) => compileFormat(fmt, { omitEmptyValues: true });
  return new RateLimitFilterConfig(
    proto.domain,
    proto.stage,
    requestType(proto.requestType),
    durationToMs(proto.timeout, DEFAULT_RLS_TIMEOUT_MS),
    proto.failureModeDeny,
    status(proto.rateLimitedStatus?.code, 429),
    status(proto.statusOnError?.code, 500),
    proto.rateLimitedAsResourceExhausted ? GRPC_RESOURCE_EXHAUSTED : undefined,
    (proto.enableXRatelimitHeaders as number) === DRAFT_VERSION_03,
    proto.disableXEnvoyRatelimitedHeader,
    HeaderParser.configure(proto.responseHeadersToAdd, [], ff, 'response_headers_to_add', ''),
    context.localInfo.clusterName,
    new EnvoyGrpcAsyncClient(context.clusterManager, clusterName, authority),
    initialMetadata,
    context.timeSource ?? realTimeSource,
    context.clusterManager,
    context.scope,
    proto.statPrefix,
  );
}

export const rateLimitFactory: NamedHttpFilterConfigFactory = {
  category: 'envoy.filters.http',
  name: RATELIMIT_FILTER_NAME,
  configTypes: ['envoy.extensions.filters.http.ratelimit.v3.RateLimit'],
  createFilterFactory(config: Message, _statPrefix: string, context: FactoryContext): FilterFactoryCb {
    const compiled = compileRateLimitFilterConfig(config as RateLimit, context);
    return (callbacks) => callbacks.addStreamFilter(new RateLimitFilter(compiled));
  },
  createRouteSpecificFilterConfig(config: Message, _context: FactoryContext): unknown {
    const proto = config as RateLimitPerRoute;
    if (proto.$typeName !== 'envoy.extensions.filters.http.ratelimit.v3.RateLimitPerRoute') {
      throw new ConfigError('', `the per-route config of ${RATELIMIT_FILTER_NAME} is a RateLimitPerRoute, not ${proto.$typeName}`);
    }
    if (proto.rateLimits.length > 0) throw new ConfigError('rate_limits', 'rate_limits in RateLimitPerRoute are not supported; put them on the route');
    return new RateLimitPerRouteConfig(proto.domain, proto.vhRateLimits as number as VhRateLimits);
  },
};
