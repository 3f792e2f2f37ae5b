/**
 * Histogram statistics with the same binning and the same approximations as
 * Envoy, which keeps its histograms in libcircllhist (a log-linear histogram
 * with two significant decimal digits per bin): a recorded value lands in
 * the bin [d.d × 10^e, (d.d + 0.1) × 10^e), so 200 is in [200, 210) and 1 in
 * [1, 1.1). Everything Envoy prints is computed from the bins, not from the
 * raw values, and this file reproduces those computations exactly:
 *
 *   quantiles      hist_approx_quantile: linear interpolation inside the bin
 *                  (a single value 200 gives P0 200, P50 205, P100 210)
 *   bucket counts  hist_approx_count_below: a bin counts toward `le=b` only
 *                  when its upper edge is <= b (so 25 is not in le="25")
 *   sum            hist_approx_sum: bin midpoints × counts (200 sums as 205)
 *
 * Recording is a map update; statistics are computed on demand from a
 * sorted bin array that is cached until the next record or merge.
 */

/** Envoy's default supported buckets (stats_config.histogram_bucket_settings default). */
export const DEFAULT_BUCKETS: readonly number[] = [
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000,
];

/** The quantiles Envoy prints in /stats. */
export const SUPPORTED_QUANTILES: readonly number[] = [0, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 1];

/** 10^e as the correctly rounded double (Math.pow is not always exact for large e). */
const POW10 = new Map<number, number>();
function pow10(e: number): number {
  let v = POW10.get(e);
  if (v === undefined) {
    v = Number(`1e${e}`);
    POW10.set(e, v);
  }
  return v;
}

/** Bin key: exponent × 100 + two-digit mantissa (10..99); the zero bin is ZERO_KEY. Keys sort like values. */
const ZERO_KEY = -1e9;

function keyForInteger(value: number): number {
  // int_scale_to_hist_bucket(value, 0)
  let v = value;
  let scale = 1;
  if (v < 10) {
    v *= 10;
    scale -= 1;
  }
  while (v >= 100) {
    v = Math.floor(v / 10);
    scale++;
  }
  return scale * 100 + v;
}

function keyForDouble(d: number): number {
  // double_to_hist_bucket(d) for d > 0
  let exp = Math.floor(Math.log10(d));
  if (exp < -128) return ZERO_KEY;
  if (exp > 127) exp = 127;
  let val = Math.floor((d / pow10(exp)) * 10 + 1e-13);
  if (val < 10) {
    // log10 rounded up across a power of ten; step the exponent back.
    exp--;
    val = Math.floor((d / pow10(exp)) * 10 + 1e-13);
  }
  if (val === 100) {
    val = 10;
    exp++;
  }
  if (val === 0) return ZERO_KEY;
  return exp * 100 + val;
}

function keyParts(key: number): { val: number; exp: number } {
  const exp = Math.floor(key / 100);
  return { val: key - exp * 100, exp };
}

/** hist_bucket_to_double: the lower edge of the bin. */
function binLower(key: number): number {
  if (key === ZERO_KEY) return 0;
  const { val, exp } = keyParts(key);
  return (val / 10) * pow10(exp);
}

/** hist_bucket_to_double_bin_width. */
function binWidth(key: number): number {
  if (key === ZERO_KEY) return 0;
  return pow10(keyParts(key).exp) / 10;
}

/** One bin of a histogram, as Envoy's detailed admin output shows it. */
export interface HistogramBin {
  readonly lowerBound: number;
  readonly width: number;
  readonly count: number;
}

export class HistogramStatistics {
  private readonly bins = new Map<number, number>();
  private sorted: Array<[number, number]> | null = null;
  /** Number of recorded samples. */
  count = 0;

  /**
   * Records one sample. Non-positive and NaN values go to the zero bin;
   * integers are binned as Envoy bins its uint64 samples, other values as
   * circllhist bins doubles.
   */
  record(v: number): void {
    let key: number;
    if (!(v > 0)) key = ZERO_KEY;
    else if (Number.isInteger(v) && v < Number.MAX_SAFE_INTEGER) key = keyForInteger(v);
    else if (v === Infinity) return;
    else key = keyForDouble(v);
    this.bins.set(key, (this.bins.get(key) ?? 0) + 1);
    this.count++;
    this.sorted = null;
  }

  merge(other: HistogramStatistics): void {
    for (const [k, c] of other.bins) this.bins.set(k, (this.bins.get(k) ?? 0) + c);
    this.count += other.count;
    this.sorted = null;
  }

  private sortedBins(): Array<[number, number]> {
    if (this.sorted === null) this.sorted = [...this.bins].sort((a, b) => a[0] - b[0]);
    return this.sorted;
  }

  /** hist_approx_sum: Σ midpoint × count, summed in bin order (so the double rounding matches). */
  get sum(): number {
    let s = 0;
    for (const [k, c] of this.sortedBins()) {
      if (k === ZERO_KEY) continue;
      s += (binLower(k) + binWidth(k) / 2) * c;
    }
    return s;
  }

  /** Quantile q in [0,1] (hist_approx_quantile); NaN when empty. */
  quantile(q: number): number {
    return this.computeQuantiles([q])[0]!;
  }

  /** The quantiles Envoy prints (SUPPORTED_QUANTILES order); NaN each when empty. */
  computedQuantiles(): number[] {
    return this.computeQuantiles(SUPPORTED_QUANTILES);
  }

  /** hist_approx_quantile for ascending quantiles `qs`. */
  computeQuantiles(qs: readonly number[]): number[] {
    const bins = this.sortedBins();
    let total = 0;
    for (const [, c] of bins) total += c;
    if (total === 0) return qs.map(() => NaN);
    const out = qs.map((q) => total * q);
    let ib = 0;
    let width = 0;
    let left = 0;
    let lower = 0;
    let upper = 0;
    const track = (i: number): void => {
      const k = bins[i]![0];
      width = binWidth(k);
      left = binLower(k);
      lower = upper;
      upper = lower + bins[i]![1];
    };
    for (; ib < bins.length; ib++) {
      if (bins[ib]![1] === 0) continue;
      track(ib);
      break;
    }
    for (let iq = 0; iq < out.length; iq++) {
      while (ib < bins.length - 1 && upper < out[iq]!) {
        ib++;
        track(ib);
      }
      const target = out[iq]!;
      if (lower === target) out[iq] = left;
      else if (upper === target) out[iq] = left + width;
      else if (width === 0) out[iq] = left;
      else out[iq] = left + ((target - lower) / (upper - lower)) * width;
    }
    return out;
  }

  /** Cumulative counts for Prometheus `le` buckets (hist_approx_count_below per bound). */
  cumulativeBucketCounts(bounds: readonly number[] = DEFAULT_BUCKETS): number[] {
    const bins = this.sortedBins();
    return bounds.map((b) => {
      let n = 0;
      for (const [k, c] of bins) {
        if (binLower(k) + binWidth(k) <= b) n += c;
        else break;
      }
      return n;
    });
  }

  /** Per-bucket (non-cumulative) counts, as Envoy's computeDisjointBuckets. */
  disjointBucketCounts(bounds: readonly number[] = DEFAULT_BUCKETS): number[] {
    const cum = this.cumulativeBucketCounts(bounds);
    return cum.map((c, i) => c - (i === 0 ? 0 : cum[i - 1]!));
  }

  /** The occupied bins in value order (Envoy's detailed buckets). */
  detailedBins(): HistogramBin[] {
    return this.sortedBins().map(([k, c]) => ({ lowerBound: binLower(k), width: binWidth(k), count: c }));
  }
}
