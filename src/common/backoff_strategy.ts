/**
 * Back-off between retries (DNS re-resolution, xDS reconnects), after Envoy's
 * `BackOffStrategy` (source/common/common/backoff_strategy.h).
 */
import type { RandomGenerator } from './random.js';

export interface BackOffStrategy {
  /** Milliseconds to wait before the next attempt. */
  nextBackOffMs(): number;
  /** Called after a success. */
  reset(): void;
}

export class FixedBackOffStrategy implements BackOffStrategy {
  constructor(private readonly intervalMs: number) {}
  nextBackOffMs(): number {
    return this.intervalMs;
  }
  reset(): void {}
}

/**
 * Attempt n waits a random time in [0, min(base * (2^n - 1), max)) ms (at
 * least 1 ms), like Envoy's JitteredExponentialBackOffStrategy.
 */
export class JitteredExponentialBackOffStrategy implements BackOffStrategy {
  private attempt = 0;
  constructor(
    private readonly baseMs: number,
    private readonly maxMs: number,
    private readonly random: RandomGenerator,
  ) {}
  nextBackOffMs(): number {
    this.attempt = Math.min(this.attempt + 1, 52);
    const ceiling = Math.min(this.baseMs * (2 ** this.attempt - 1), this.maxMs);
    return Math.max(1, this.random.random() % Math.max(1, Math.floor(ceiling)));
  }
  reset(): void {
    this.attempt = 0;
  }
}
