/**
 * Throttles one direction of a stream's body to a fixed KiB/s, after Envoy's
 * `source/extensions/filters/http/common/stream_rate_limiter.cc` (used by the
 * fault filter's response_rate_limit). Data handed to writeData() is buffered
 * and released by a timer in slices:
 *
 * - a token bucket holds one second of budget in 20 tokens (one per 50 ms
 *   fill interval) and starts full, so the first second's worth goes at once;
 *   each token releases `kbps * 1024 / 20` bytes;
 * - past `maxBufferedBytes` the writer is told to pause (above the high
 *   watermark) and resumes below half of it;
 * - trailers wait until the buffer is empty (onTrailers() returns true while
 *   data is still queued, and `onContinue` releases them).
 *
 * Timers come from a TimeSource so tests can drive time.
 */
import type { TimeSource, Timer } from '../../../../envoy/common/time.js';

const FILL_INTERVAL_MS = 50;
const SECOND_DIVISOR = 1000 / FILL_INTERVAL_MS;

/** Envoy's TokenBucketImpl: `maxTokens` capacity, refilled continuously at `fillRate` tokens/s, starting full. */
class TokenBucket {
  private tokens: number;
  private lastFillMs: number;

  constructor(private readonly maxTokens: number, private readonly fillRate: number, private readonly time: TimeSource) {
    this.tokens = maxTokens;
    this.lastFillMs = time.monotonicMs();
  }

  private refill(): void {
    const now = this.time.monotonicMs();
    this.tokens = Math.min(this.maxTokens, this.tokens + ((now - this.lastFillMs) / 1000) * this.fillRate);
    this.lastFillMs = now;
  }

  /** Takes up to `wanted` whole tokens (fewer when fewer are available); returns how many. */
  consume(wanted: number): number {
    this.refill();
    const got = Math.min(wanted, Math.floor(this.tokens));
    this.tokens -= got;
    return got;
  }

  /** Milliseconds until one whole token is available (0: now). */
  nextTokenAvailableMs(): number {
    this.refill();
    if (this.tokens >= 1) return 0;
    return Math.ceil(((1 - this.tokens) / this.fillRate) * 1000);
  }
}

export interface StreamRateLimiterCallbacks {
  /** Buffered data passed the limit: stop the producer. */
  pause(): void;
  /** Buffered data fell below half the limit: let the producer go on. */
  resume(): void;
  /** Releases a slice downstream. */
  write(data: Buffer, endStream: boolean): void;
  /** The buffer drained after trailers arrived: release them. */
  continueWithTrailers(): void;
}

export class StreamRateLimiter {
  private readonly bytesPerSlice: number;
  private readonly bucket: TokenBucket;
  private readonly lowWatermark: number;
  private buffer: Buffer[] = [];
  private bufferedBytes = 0;
  private sawEndStream = false;
  private sawTrailers = false;
  private paused = false;
  private timer: Timer | null = null;
  private destroyedFlag = false;

  constructor(
    maxKbps: number,
    private readonly maxBufferedBytes: number,
    private readonly callbacks: StreamRateLimiterCallbacks,
    private readonly time: TimeSource,
  ) {
    this.bytesPerSlice = Math.max(1, Math.floor((maxKbps * 1024) / SECOND_DIVISOR));
    this.bucket = new TokenBucket(SECOND_DIVISOR, SECOND_DIVISOR, time);
    this.lowWatermark = Math.floor(maxBufferedBytes / 2);
  }

  /** Queues `data`; it leaves through `callbacks.write` as the budget allows (never synchronously). */
  writeData(data: Buffer, endStream: boolean): void {
    if (this.destroyedFlag) return;
    if (data.length > 0) {
      this.buffer.push(data);
      this.bufferedBytes += data.length;
    }
    this.sawEndStream = endStream;
    if (!this.paused && this.bufferedBytes > this.maxBufferedBytes) {
      this.paused = true;
      this.callbacks.pause();
    }
    // Released from a timer, never inline: the filter API cannot hand on part of this data and hold the rest.
    if (this.timer === null) this.timer = this.time.schedule(0, () => this.onTokenTimer());
  }

  /** Trailers arrived; true when they must wait for queued data (continueWithTrailers releases them). */
  onTrailers(): boolean {
    this.sawEndStream = true;
    this.sawTrailers = true;
    return this.bufferedBytes > 0 || this.timer !== null;
  }

  destroy(): void {
    this.destroyedFlag = true;
    this.timer?.cancel();
    this.timer = null;
    this.buffer = [];
    this.bufferedBytes = 0;
  }

  destroyed(): boolean { return this.destroyedFlag; }

  private onTokenTimer(): void {
    this.timer = null;
    if (this.destroyedFlag) return;
    const slicesWanted = Math.ceil(this.bufferedBytes / this.bytesPerSlice);
    const slices = this.bucket.consume(slicesWanted);
    const out = this.take(Math.min(slices * this.bytesPerSlice, this.bufferedBytes));
    if (this.bufferedBytes > 0) {
      const wait = this.bucket.nextTokenAvailableMs();
      this.timer = this.time.schedule(wait > 0 ? wait : FILL_INTERVAL_MS, () => this.onTokenTimer());
    }
    if (this.paused && this.bufferedBytes <= this.lowWatermark) {
      this.paused = false;
      this.callbacks.resume();
      if (this.destroyedFlag) return;
    }
    // End the stream with the last slice unless trailers follow.
    const drained = this.bufferedBytes === 0;
    if (out.length > 0 || (drained && this.sawEndStream && !this.sawTrailers)) {
      this.callbacks.write(out, this.sawEndStream && drained && !this.sawTrailers);
      if (this.destroyedFlag) return;
    }
    if (this.sawTrailers && drained) this.callbacks.continueWithTrailers();
  }

  private take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const all = this.buffer.length === 1 ? this.buffer[0]! : Buffer.concat(this.buffer);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.buffer = rest.length > 0 ? [rest] : [];
    this.bufferedBytes = rest.length;
    return out;
  }
}
