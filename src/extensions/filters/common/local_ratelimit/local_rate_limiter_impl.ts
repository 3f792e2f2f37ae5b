/**
 * The token buckets of the local rate limit filters (HTTP and network),
 * after Envoy's `LocalRateLimiterImpl`
 * (source/extensions/filters/common/local_ratelimit/local_ratelimit_impl.cc).
 *
 * A bucket starts full (`max_tokens`); every `fill_interval` it gains
 * `tokens_per_fill` (capped at `max_tokens`); each request or connection
 * takes one token, and none left means rate limited. Descriptor buckets
 * (`descriptors`) refill every N-th interval of the default bucket, their
 * fill_interval being N times the default one.
 *
 * Envoy fills on a timer. Here a bucket applies the fills that fell due since
 * it was last looked at, counted on the TimeSource's monotonic clock from the
 * same start: the token counts are those of Envoy's timer at every instant,
 * and no timer outlives a listener or route table that is replaced.
 */
import type { TokenBucket as TokenBucketProto } from '../../../../generated/envoy/type/v3/token_bucket_pb.js';
import type { TimeSource } from '../../../../envoy/common/time.js';
import { durationToMs } from '../../../../config/well_known.js';
import { descriptorKey, type RateLimitDescriptor, type RateLimitDescriptorEntry } from '../../../../envoy/ratelimit/ratelimit.js';

/** Envoy refuses fill intervals under 50 ms. */
export const MIN_FILL_INTERVAL_MS = 50;

export interface TokenBucketSettings {
  readonly maxTokens: number;
  readonly tokensPerFill: number;
  readonly fillIntervalMs: number;
}

/** An `envoy.type.v3.TokenBucket` (tokens_per_fill defaults to 1). */
export function tokenBucketSettings(b: TokenBucketProto): TokenBucketSettings {
  return { maxTokens: b.maxTokens, tokensPerFill: b.tokensPerFill ?? 1, fillIntervalMs: durationToMs(b.fillInterval, 0) };
}

/** A descriptor of the filter's `descriptors` list with its own bucket. */
export interface LocalDescriptorSettings {
  readonly entries: ReadonlyArray<RateLimitDescriptorEntry>;
  readonly bucket: TokenBucketSettings;
}

/** Why the limiter cannot be built (the factory turns it into a ConfigError at the right field). */
export class LocalRateLimitConfigError extends Error {
  constructor(readonly field: string, message: string) { super(message); }
}

/** One bucket and its fill schedule. */
export class TokenBucket {
  private tokens: number;
  /** Monotonic ms of the last fill that was applied (the start when none yet). */
  private lastFillMs: number;

  constructor(readonly settings: TokenBucketSettings, private readonly timeSource: TimeSource, startMs: number) {
    this.tokens = settings.maxTokens;
    this.lastFillMs = startMs;
  }

  /** Applies the fills due by now. */
  private refill(): void {
    const interval = this.settings.fillIntervalMs;
    const fills = Math.floor((this.timeSource.monotonicMs() - this.lastFillMs) / interval);
    if (fills <= 0) return;
    this.tokens = Math.min(this.settings.maxTokens, this.tokens + fills * this.settings.tokensPerFill);
    this.lastFillMs += fills * interval;
  }

  /** Takes a token; false when there is none. */
  consume(): boolean {
    this.refill();
    if (this.tokens === 0) return false;
    this.tokens--;
    return true;
  }

  remaining(): number {
    this.refill();
    return this.tokens;
  }

  /**
   * Whole seconds until the next fill, as Envoy's remainingFillInterval:
   * the interval minus the whole seconds since the last fill, truncated.
   */
  resetSeconds(): number {
    this.refill();
    const elapsedWholeSeconds = Math.floor((this.timeSource.monotonicMs() - this.lastFillMs) / 1000);
    return Math.trunc((this.settings.fillIntervalMs - elapsedWholeSeconds * 1000) / 1000);
  }
}

interface LocalDescriptor {
  readonly key: string;
  readonly entries: ReadonlyArray<RateLimitDescriptorEntry>;
  readonly bucket: TokenBucket;
  /** tokens_per_fill per second, for the consumption order. */
  readonly fillPerSecond: number;
}

/** What the x-ratelimit-* headers report for one request: the bucket that decided it. */
export interface TokenBucketContext {
  maxTokens(): number;
  remainingTokens(): number;
  resetSeconds(): number;
}

export interface LimitResult {
  readonly allowed: boolean;
  readonly context: TokenBucketContext;
}

function bucketContext(bucket: TokenBucket): TokenBucketContext {
  return {
    maxTokens: () => bucket.settings.maxTokens,
    remainingTokens: () => bucket.remaining(),
    resetSeconds: () => bucket.resetSeconds(),
  };
}

function checkBucket(b: TokenBucketSettings, field: string): void {
  if (b.fillIntervalMs < MIN_FILL_INTERVAL_MS) {
    throw new LocalRateLimitConfigError(`${field}.fill_interval`,
      `local rate limit token bucket fill timer must be >= ${MIN_FILL_INTERVAL_MS}ms (got ${b.fillIntervalMs}ms)`);
  }
  if (b.tokensPerFill <= 0) throw new LocalRateLimitConfigError(`${field}.tokens_per_fill`, 'tokens_per_fill must be greater than 0');
  if (b.maxTokens <= 0) throw new LocalRateLimitConfigError(`${field}.max_tokens`, 'max_tokens must be greater than 0');
}

export class LocalRateLimiterImpl {
  private readonly defaultBucket: TokenBucket;
  private readonly defaultContext: TokenBucketContext;
  /** By descriptor key, for the first-match lookup. */
  private readonly descriptors = new Map<string, LocalDescriptor>();
  /** Strictest (fewest tokens per second) first: a request limited by one spends no token of the others. */
  private readonly sortedDescriptors: LocalDescriptor[];

  constructor(
    bucket: TokenBucketSettings,
    descriptors: ReadonlyArray<LocalDescriptorSettings>,
    private readonly alwaysConsumeDefaultTokenBucket: boolean,
    timeSource: TimeSource,
  ) {
    checkBucket(bucket, 'token_bucket');
    const start = timeSource.monotonicMs();
    this.defaultBucket = new TokenBucket(bucket, timeSource, start);
    this.defaultContext = bucketContext(this.defaultBucket);
    descriptors.forEach((d, i) => {
      const field = `descriptors[${i}]`;
      checkBucket(d.bucket, `${field}.token_bucket`);
      if (d.bucket.fillIntervalMs % bucket.fillIntervalMs !== 0) {
        throw new LocalRateLimitConfigError(`${field}.token_bucket.fill_interval`,
          'local rate descriptor limit is not a multiple of token bucket fill timer');
      }
      const key = descriptorKey(d.entries);
      if (this.descriptors.has(key)) {
        throw new LocalRateLimitConfigError(field, `duplicate descriptor in the local rate descriptor: ${d.entries.map((e) => `${e.key}=${e.value}`).join(', ')}`);
      }
      const seconds = Math.trunc(d.bucket.fillIntervalMs / 1000);
      this.descriptors.set(key, {
        key,
        entries: d.entries,
        bucket: new TokenBucket(d.bucket, timeSource, start),
        fillPerSecond: Math.trunc(d.bucket.tokensPerFill / (seconds > 0 ? seconds : 1)),
      });
    });
    this.sortedDescriptors = [...this.descriptors.values()].sort((a, b) => a.fillPerSecond - b.fillPerSecond);
  }

  /** Takes a token for a request with these descriptors (from the route's rate_limits). */
  requestAllowed(requestDescriptors: ReadonlyArray<RateLimitDescriptor>): LimitResult {
    const context = this.contextFor(requestDescriptors);
    let matched = false;
    if (this.descriptors.size > 0 && requestDescriptors.length > 0) {
      const keys = new Set(requestDescriptors.map((d) => descriptorKey(d.entries)));
      for (const d of this.sortedDescriptors) {
        if (!keys.has(d.key)) continue;
        matched = true;
        if (!d.bucket.consume()) return { allowed: false, context };
      }
    }
    if (!matched || this.alwaysConsumeDefaultTokenBucket) return { allowed: this.defaultBucket.consume(), context };
    return { allowed: true, context };
  }

  /** The bucket reported in headers: the first request descriptor that is configured, else the default. */
  private contextFor(requestDescriptors: ReadonlyArray<RateLimitDescriptor>): TokenBucketContext {
    if (this.descriptors.size > 0) {
      for (const r of requestDescriptors) {
        const d = this.descriptors.get(descriptorKey(r.entries));
        if (d !== undefined) return bucketContext(d.bucket);
      }
    }
    return this.defaultContext;
  }
}
