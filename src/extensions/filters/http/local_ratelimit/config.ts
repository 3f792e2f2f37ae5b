/**
 * Factory for `envoy.filters.http.local_ratelimit`
 * (envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit), after
 * Envoy's `local_ratelimit/config.cc` and `FilterConfig`: the same message
 * configures the listener's filter and, in `typed_per_filter_config`, a
 * route's or virtual host's own bucket (which then must have a token_bucket).
 */
import type { Message } from '@bufbuild/protobuf';
import type { LocalRateLimit } from '../../../../generated/envoy/extensions/filters/http/local_ratelimit/v3/local_rate_limit_pb.js';
import type { RuntimeFractionalPercent } from '../../../../generated/envoy/config/core/v3/base_pb.js';
import type { NamedHttpFilterConfigFactory } from '../../../../envoy/config/typed_config.js';
import type { FilterFactoryCb } from '../../../../envoy/http/filter.js';
import type { FactoryContext } from '../../../../envoy/server/factory_context.js';
import { ConfigError } from '../../../../config/config_error.js';
import { defaultRandom } from '../../../../common/random.js';
import { realTimeSource } from '../../../../common/real_time_source.js';
import { prefixedScope } from '../../../../stats/stats_impl.js';
import { HeaderParser } from '../../../../router/header_parser.js';
import { compileFormat } from '../../../../logging/substitution_formatter.js';
import {
  LocalRateLimitConfigError, LocalRateLimiterImpl, tokenBucketSettings,
} from '../../common/local_ratelimit/local_rate_limiter_impl.js';
import type { VhRateLimits } from '../../common/ratelimit/route_descriptors.js';
import { LOCAL_RATELIMIT_FILTER_NAME, LocalRateLimitConfig, LocalRateLimitFilter, type FractionalPercent } from './local_ratelimit_filter.js';

const DENOMINATORS = [100, 10_000, 1_000_000] as const;
/** envoy.extensions.common.ratelimit.v3.XRateLimitHeadersRFCVersion.DRAFT_VERSION_03. */
const DRAFT_VERSION_03 = 1;
const GRPC_RESOURCE_EXHAUSTED = 8;

function fraction(p: RuntimeFractionalPercent | undefined): FractionalPercent | null {
  const d = p?.defaultValue;
  if (p === undefined) return null;
  if (d === undefined) return { numerator: 0, denominator: 100 };
  return { numerator: d.numerator, denominator: DENOMINATORS[d.denominator] ?? 100 };
}

/** Envoy's toErrorCode: a configured status below 400 means 429. */
function replyStatus(code: number | undefined): number {
  return code === undefined || code < 400 ? 429 : code;
}

/** Compiles one LocalRateLimit; `perRoute` demands a token bucket. Throws ConfigError (field paths relative to the message). */
export function compileLocalRateLimit(proto: LocalRateLimit, context: FactoryContext, perRoute: boolean): LocalRateLimitConfig {
  if (proto.statPrefix.length === 0) throw new ConfigError('stat_prefix', 'stat_prefix must not be empty');
  if (perRoute && proto.tokenBucket === undefined) {
    throw new ConfigError('token_bucket', 'local rate limit token bucket must be set for per filter configs');
  }
  if (proto.localRateLimitPerDownstreamConnection) {
    throw new ConfigError('local_rate_limit_per_downstream_connection', 'per-connection local rate limits are not supported');
  }
  if (proto.localClusterRateLimit !== undefined) {
    throw new ConfigError('local_cluster_rate_limit', 'local_cluster_rate_limit is not supported');
  }
  let limiter: LocalRateLimiterImpl | null = null;
  if (proto.tokenBucket !== undefined) {
    const descriptors = proto.descriptors.map((d, i) => {
      if (d.tokenBucket === undefined) throw new ConfigError(`descriptors[${i}].token_bucket`, 'token_bucket is required');
      if (d.entries.length === 0) throw new ConfigError(`descriptors[${i}].entries`, 'at least one entry is required');
      return { entries: d.entries.map((e) => ({ key: e.key, value: e.value })), bucket: tokenBucketSettings(d.tokenBucket) };
    });
    try {
      limiter = new LocalRateLimiterImpl(tokenBucketSettings(proto.tokenBucket), descriptors,
        proto.alwaysConsumeDefaultTokenBucket ?? true, context.timeSource ?? realTimeSource);
    } catch (e) {
      if (e instanceof LocalRateLimitConfigError) throw new ConfigError(e.field, e.message);
      throw e;
    }
  } else if (proto.descriptors.length > 0) {
    throw new ConfigError('descriptors', 'descriptors need a token_bucket as well');
  }
  const ff = (fmt: string) => compileFormat(fmt, { omitEmptyValues: true });
  const scope = prefixedScope(context.scope, `${proto.statPrefix}.http_local_rate_limit.`);
  return new LocalRateLimitConfig(
    {
      enabled: scope.counter('enabled'),
      ok: scope.counter('ok'),
      rate_limited: scope.counter('rate_limited'),
      enforced: scope.counter('enforced'),
    },
    replyStatus(proto.status?.code),
    limiter,
    fraction(proto.filterEnabled),
    fraction(proto.filterEnforced),
    HeaderParser.configure(proto.responseHeadersToAdd, [], ff, 'response_headers_to_add', ''),
    HeaderParser.configure(proto.requestHeadersToAddWhenNotEnforced, [], ff, 'request_headers_to_add_when_not_enforced', ''),
    proto.stage,
    proto.descriptors.length > 0,
    (proto.enableXRatelimitHeaders as number) === DRAFT_VERSION_03,
    proto.vhRateLimits as number as VhRateLimits,
    proto.rateLimitedAsResourceExhausted ? GRPC_RESOURCE_EXHAUSTED : undefined,
    context.localInfo.clusterName,
    defaultRandom,
  );
}

export const localRateLimitFactory: NamedHttpFilterConfigFactory = {
  category: 'envoy.filters.http',
  name: LOCAL_RATELIMIT_FILTER_NAME,
  configTypes: ['envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit'],
  createFilterFactory(config: Message, _statPrefix: string, context: FactoryContext): FilterFactoryCb {
    const compiled = compileLocalRateLimit(config as LocalRateLimit, context, false);
    return (callbacks) => callbacks.addStreamFilter(new LocalRateLimitFilter(compiled));
  },
  createRouteSpecificFilterConfig(config: Message, context: FactoryContext): unknown {
    return compileLocalRateLimit(config as LocalRateLimit, context, true);
  },
};
