/**
 * Time, after Envoy's `envoy/common/time.h` and `envoy/event/timer.h`: code
 * that waits (health-check intervals, ejection times, retry back-off, token
 * buckets) takes a TimeSource instead of calling Date/setTimeout directly, so
 * tests can drive it with a simulated clock instead of sleeping real seconds.
 */

/** A scheduled callback; `cancel()` is safe to call more than once. */
export interface Timer {
  cancel(): void;
  /** Whether the callback is still pending. */
  enabled(): boolean;
}

export interface TimeSource {
  /** Monotonic milliseconds (performance.now() in production). */
  monotonicMs(): number;
  /** Wall-clock milliseconds since the epoch (Date.now() in production). */
  systemMs(): number;
  /**
   * Runs `callback` once after `ms` milliseconds. Production timers are
   * unref'd: a pending health check never keeps the process alive.
   */
  schedule(ms: number, callback: () => void): Timer;
}
