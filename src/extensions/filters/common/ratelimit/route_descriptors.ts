/**
 * The descriptors a request carries to the rate limit filters: its route's
 * `rate_limits` of the filter's stage, and its virtual host's per the
 * `vh_rate_limits` option, after Envoy's `populateDescriptors` in the HTTP
 * local_ratelimit and ratelimit filters.
 *
 *   OVERRIDE (default)  the virtual host's only when the route has none
 *   INCLUDE             both (also when the route sets include_vh_rate_limits)
 *   IGNORE              the route's only
 */
import type { HeaderMap } from '../../../../envoy/http/header_map.js';
import type { RateLimitDescriptor } from '../../../../envoy/ratelimit/ratelimit.js';
import type { RateLimitPolicy, Route, RouteEntry } from '../../../../envoy/router/router.js';
import type { StreamInfo } from '../../../../envoy/stream_info/stream_info.js';

/** envoy.extensions.common.ratelimit.v3.VhRateLimitsOptions (same numbers as RateLimitPerRoute's). */
export const enum VhRateLimits { Override = 0, Include = 1, Ignore = 2 }

export interface DescriptorRequest {
  readonly stage: number;
  readonly vhRateLimits: VhRateLimits;
  /**
   * Whether entries with a `disable_key` are left out. The local filter always
   * does; the global one asks the runtime key `ratelimit.<disable_key>.http_filter_enabled`,
   * which defaults to enabled (no runtime here), so it keeps them.
   */
  readonly skipEntriesWithDisableKey: boolean;
  readonly localServiceCluster: string;
}

function fromPolicy(
  out: RateLimitDescriptor[], policy: RateLimitPolicy, entry: RouteEntry, req: DescriptorRequest, headers: HeaderMap, streamInfo: StreamInfo,
): void {
  for (const rl of policy.getApplicableRateLimit(req.stage)) {
    if (req.skipEntriesWithDisableKey && rl.disableKey.length > 0) continue;
    rl.populateDescriptors(out, entry, req.localServiceCluster, headers, streamInfo);
  }
}

/** The descriptors for a request; empty without a route entry. */
export function populateRouteDescriptors(
  route: Route | null, req: DescriptorRequest, headers: HeaderMap, streamInfo: StreamInfo,
): RateLimitDescriptor[] {
  const out: RateLimitDescriptor[] = [];
  const entry = route?.routeEntry ?? null;
  if (route === null || entry === null) return out;
  fromPolicy(out, entry.rateLimitPolicy, entry, req, headers, streamInfo);
  const option = entry.includeVirtualHostRateLimits ? VhRateLimits.Include : req.vhRateLimits;
  if (option === VhRateLimits.Include || (option === VhRateLimits.Override && entry.rateLimitPolicy.empty)) {
    fromPolicy(out, route.virtualHost.rateLimitPolicy, entry, req, headers, streamInfo);
  }
  return out;
}
