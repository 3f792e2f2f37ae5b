/**
 * Rate limit descriptors, after Envoy's `envoy/ratelimit/ratelimit.h`: what a
 * route's `rate_limits` actions produce for a request and what both the local
 * token buckets and a Rate Limit Service are asked about. A descriptor is an
 * ordered list of (key, value) entries, e.g.
 * `[("generic_key", "api"), ("remote_address", "10.0.0.1")]`.
 */

export interface RateLimitDescriptorEntry {
  readonly key: string;
  readonly value: string;
}

export interface RateLimitDescriptor {
  readonly entries: ReadonlyArray<RateLimitDescriptorEntry>;
}

/** `k1=v1,k2=v2`: a descriptor's identity (two descriptors match when their keys are equal). */
export function descriptorKey(entries: ReadonlyArray<RateLimitDescriptorEntry>): string {
  // JSON keeps keys and values containing '=' or ',' apart.
  return JSON.stringify(entries.map((e) => [e.key, e.value]));
}
