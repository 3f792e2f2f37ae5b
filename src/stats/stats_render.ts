/**
 * `/stats` in text and JSON, as Envoy's `source/server/admin/stats_render.cc`
 * and `stats_request.cc` produce them.
 *
 * Text, sorted by full name (plain byte order), counters and gauges mixed,
 * then histograms:
 *
 *   cluster.x.upstream_rq_total: 3
 *   cluster.x.upstream_rq_time: P0(nan,200) P25(nan,202.5) ... P100(nan,210)
 *   cluster.y.upstream_rq_time: No recorded values
 *
 * Each histogram quantile prints as P<q>(interval,cumulative): "interval" is
 * the last completed flush interval (nan when it had no samples),
 * "cumulative" everything recorded so far. `histogram_buckets=cumulative`,
 * `disjoint` and `detailed` switch to bucket views.
 *
 * JSON (compact, as Envoy's streaming JSON writer emits it):
 *
 *   {"stats":[{"name":"c","value":1},...,{"histograms":{"supported_quantiles":[0,25,...,100],
 *     "computed_quantiles":[{"name":"h","values":[{"cumulative":200,"interval":200},...]}]}}]}
 */
import type { CounterImpl, GaugeImpl, HistogramImpl, StatsStore } from './stats_impl.js';
import { compareBytes } from './stats_impl.js';
import { DEFAULT_BUCKETS, SUPPORTED_QUANTILES, type HistogramBin, type HistogramStatistics } from './histogram_statistics.js';
import { formatG, formatShortest, jsonDouble } from './fmt.js';
import { shouldShowMetric, type StatsParams } from './stats_params.js';

type NumericStat = CounterImpl | GaugeImpl;

/** Counters and gauges to show, merged in name order. */
function numericStats(store: StatsStore, params: StatsParams): NumericStat[] {
  const out: NumericStat[] = [];
  if (params.type === 'Histograms' || params.type === 'TextReadouts') return out;
  const counters = params.type === 'Gauges' ? [] : store.sortedCounters();
  const gauges = params.type === 'Counters' ? [] : store.sortedGauges();
  let i = 0;
  let j = 0;
  while (i < counters.length || j < gauges.length) {
    const c = counters[i];
    const g = gauges[j];
    let next: NumericStat;
    if (g === undefined || (c !== undefined && compareBytes(c.name, g.name) <= 0)) {
      next = c!;
      i++;
    } else {
      next = g;
      j++;
    }
    if (shouldShowMetric(params, next)) out.push(next);
  }
  return out;
}

function histogramsToShow(store: StatsStore, params: StatsParams): HistogramImpl[] {
  if (params.type !== 'All' && params.type !== 'Histograms') return [];
  return store.sortedHistograms().filter((h) => shouldShowMetric(params, h));
}

const QUANTILE_LABELS = SUPPORTED_QUANTILES.map((q) => `P${formatG(100 * q)}`);
const BUCKET_LABELS = DEFAULT_BUCKETS.map((b) => `B${formatG(b)}`);

/** ParentHistogram::quantileSummary(). */
export function quantileSummary(h: HistogramImpl): string {
  if (!h.used) return 'No recorded values';
  const interval = h.lastInterval.computedQuantiles();
  const cumulative = h.cumulative.computedQuantiles();
  return QUANTILE_LABELS.map(
    (label, i) => `${label}(${formatShortest(interval[i]!)},${formatShortest(cumulative[i]!)})`,
  ).join(' ');
}

function bucketSummary(h: HistogramImpl, disjoint: boolean): string {
  const interval = disjoint ? h.lastInterval.disjointBucketCounts() : h.lastInterval.cumulativeBucketCounts();
  const cumulative = disjoint ? h.cumulative.disjointBucketCounts() : h.cumulative.cumulativeBucketCounts();
  return BUCKET_LABELS.map((label, i) => `${label}(${interval[i]},${cumulative[i]})`).join(' ');
}

function detailText(bins: readonly HistogramBin[]): string {
  return bins.map((b) => `${formatG(b.lowerBound)},${formatG(b.width)}:${b.count}`).join(', ');
}

/** The `/stats` text body. */
export function renderStatsText(store: StatsStore, params: StatsParams): string {
  const out: string[] = [];
  for (const s of numericStats(store, params)) out.push(`${s.name}: ${s.value()}\n`);
  for (const h of histogramsToShow(store, params)) {
    if (!h.used) {
      out.push(`${h.name}: No recorded values\n`);
      continue;
    }
    switch (params.histogramBuckets) {
      case 'summary':
        out.push(`${h.name}: ${quantileSummary(h)}\n`);
        break;
      case 'cumulative':
        out.push(`${h.name}: ${bucketSummary(h, false)}\n`);
        break;
      case 'disjoint':
        out.push(`${h.name}: ${bucketSummary(h, true)}\n`);
        break;
      case 'detailed':
        out.push(`${h.name}:\n  totals=${detailText(h.cumulative.detailedBins())}`);
        out.push(`\n  intervals=${detailText(h.lastInterval.detailedBins())}`);
        out.push(`\n  summary=${quantileSummary(h)}\n`);
        break;
    }
  }
  return out.join('');
}

const SUPPORTED_PERCENTILES_JSON = `[${SUPPORTED_QUANTILES.map((q) => jsonDouble(q * 100)).join(',')}]`;

/**
 * Quantiles for JSON. A histogram that never recorded anything has never
 * been computed in Envoy and shows zeros; an empty interval shows null.
 */
function jsonQuantiles(h: HistogramImpl, stats: HistogramStatistics): number[] {
  if (!h.used) return SUPPORTED_QUANTILES.map(() => 0);
  return stats.computedQuantiles();
}

function percentilesJson(h: HistogramImpl): string {
  const cumulative = jsonQuantiles(h, h.cumulative);
  const interval = jsonQuantiles(h, h.lastInterval);
  return `[${cumulative.map((c, i) => `{"cumulative":${jsonDouble(c)},"interval":${jsonDouble(interval[i]!)}}`).join(',')}]`;
}

function bucketsJson(h: HistogramImpl, disjoint: boolean): string {
  const interval = disjoint ? h.lastInterval.disjointBucketCounts() : h.lastInterval.cumulativeBucketCounts();
  const cumulative = disjoint ? h.cumulative.disjointBucketCounts() : h.cumulative.cumulativeBucketCounts();
  const entries = DEFAULT_BUCKETS.map(
    (b, i) => `{"upper_bound":${jsonDouble(b)},"interval":${interval[i]},"cumulative":${cumulative[i]}}`,
  );
  return `{"name":${JSON.stringify(h.name)},"buckets":[${entries.join(',')}]}`;
}

function binsJson(bins: readonly HistogramBin[]): string {
  return `[${bins.map((b) => `{"lower_bound":${jsonDouble(b.lowerBound)},"width":${jsonDouble(b.width)},"count":${b.count}}`).join(',')}]`;
}

/** The `/stats?format=json` body. */
export function renderStatsJson(store: StatsStore, params: StatsParams): string {
  const entries: string[] = [];
  for (const s of numericStats(store, params)) entries.push(`{"name":${JSON.stringify(s.name)},"value":${s.value()}}`);
  const hists = histogramsToShow(store, params);
  if (hists.length > 0) {
    switch (params.histogramBuckets) {
      case 'summary': {
        const computed = hists.map((h) => `{"name":${JSON.stringify(h.name)},"values":${percentilesJson(h)}}`);
        entries.push(`{"histograms":{"supported_quantiles":${SUPPORTED_PERCENTILES_JSON},"computed_quantiles":[${computed.join(',')}]}}`);
        break;
      }
      case 'cumulative':
      case 'disjoint': {
        const disjoint = params.histogramBuckets === 'disjoint';
        entries.push(`{"histograms":[${hists.map((h) => bucketsJson(h, disjoint)).join(',')}]}`);
        break;
      }
      case 'detailed': {
        const details = hists.map((h) =>
          `{"name":${JSON.stringify(h.name)},"totals":${binsJson(h.cumulative.detailedBins())},` +
          `"intervals":${binsJson(h.lastInterval.detailedBins())},"percentiles":${percentilesJson(h)}}`);
        entries.push(`{"histograms":{"supported_percentiles":${SUPPORTED_PERCENTILES_JSON},"details":[${details.join(',')}]}}`);
        break;
      }
    }
  }
  return `{"stats":[${entries.join(',')}]}`;
}
