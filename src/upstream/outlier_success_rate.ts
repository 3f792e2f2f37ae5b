/**
 * Success-rate bookkeeping for outlier detection, after Envoy's
 * `SuccessRateAccumulator` / `SuccessRateMonitor` and
 * `DetectorImpl::successRateEjectionThreshold`
 * (source/common/upstream/outlier_detection_impl.{h,cc}).
 *
 * Each host counts requests in a "current" bucket; at every interval the
 * buckets swap, so detection always reads one complete interval (the
 * "backup" bucket) while the next one fills.
 */

export class SuccessRateAccumulator {
  private currentTotal = 0;
  private currentSuccess = 0;
  private backupTotal = 0;
  private backupSuccess = 0;

  incTotal(): void { this.currentTotal++; }
  incSuccess(): void { this.currentSuccess++; }

  /** Interval boundary: the bucket just filled becomes the one read; a fresh one starts. */
  swap(): void {
    this.backupTotal = this.currentTotal;
    this.backupSuccess = this.currentSuccess;
    this.currentTotal = 0;
    this.currentSuccess = 0;
  }

  /** Success rate (percent) and request volume of the last complete interval; null without requests. */
  successRateAndVolume(): { successRate: number; volume: number } | null {
    if (this.backupTotal === 0) return null;
    return { successRate: (this.backupSuccess * 100) / this.backupTotal, volume: this.backupTotal };
  }
}

/**
 * The cluster-wide mean success rate and the ejection threshold
 * `mean - factor * stdev` (population standard deviation), as Envoy computes
 * them. E.g. rates {50, 100, 100, 100, 100} and factor 1.9: mean 90, stdev
 * 20, threshold 52.
 */
export function successRateEjectionThreshold(rates: ReadonlyArray<number>, stdevFactor: number): { mean: number; threshold: number } {
  let sum = 0;
  for (const r of rates) sum += r;
  const mean = sum / rates.length;
  let variance = 0;
  for (const r of rates) variance += (r - mean) ** 2;
  variance /= rates.length;
  return { mean, threshold: mean - stdevFactor * Math.sqrt(variance) };
}
