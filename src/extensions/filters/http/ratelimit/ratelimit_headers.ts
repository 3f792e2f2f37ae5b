/**
 * The x-ratelimit-* response headers of the global rate limit filter
 * (`enable_x_ratelimit_headers: DRAFT_VERSION_03`), after Envoy's
 * `XRateLimitHeaderUtils::create`
 * (source/extensions/filters/http/ratelimit/ratelimit_headers.cc), from the
 * service's descriptor statuses: the status with the fewest requests
 * remaining decides; the limit lists every status's quota policy.
 *
 *   x-ratelimit-limit: 10, 10;w=60, 1000;w=3600;name="per-day"
 *   x-ratelimit-remaining: 3
 *   x-ratelimit-reset: 42
 */
import type { RateLimitResponse } from '../../../../generated/envoy/service/ratelimit/v3/rls_pb.js';

/** RateLimitResponse.RateLimit.Unit → window seconds (UNKNOWN: 0, no policy entry). */
const UNIT_SECONDS = [0, 1, 60, 3600, 86400, 2_592_000, 31_536_000] as const;

export function xRateLimitHeaders(statuses: RateLimitResponse['statuses']): Array<readonly [string, string]> {
  let min: RateLimitResponse['statuses'][number] | null = null;
  let quotaPolicy = '';
  for (const s of statuses) {
    const limit = s.currentLimit;
    if (limit === undefined) continue;
    if (min === null || s.limitRemaining < min.limitRemaining) min = s;
    const window = UNIT_SECONDS[limit.unit] ?? 0;
    if (window > 0) {
      quotaPolicy += `, ${limit.requestsPerUnit};w=${window}`;
      if (limit.name.length > 0) quotaPolicy += `;name="${limit.name}"`;
    }
  }
  if (min === null) return [];
  return [
    ['x-ratelimit-limit', `${min.currentLimit!.requestsPerUnit}${quotaPolicy}`],
    ['x-ratelimit-remaining', String(min.limitRemaining)],
    ['x-ratelimit-reset', String(Number(min.durationUntilReset?.seconds ?? 0n))],
  ];
}
