/**
 * Prometheus text exposition exactly as Envoy's
 * `source/server/admin/prometheus_stats.cc` renders it:
 *
 *   # TYPE envoy_cluster_upstream_rq_total counter
 *   envoy_cluster_upstream_rq_total{envoy_cluster_name="x"} 3
 *
 * - Metric name: `envoy_` + the tag-extracted name with every character
 *   outside [a-zA-Z0-9_] replaced by `_`.
 * - Labels: the tags in extraction order, names sanitized the same way,
 *   values escaped (`\` `\n` `"`). A metric with no tags still prints `{}`.
 * - Counters, then gauges, then histograms; within each type one group per
 *   tag-extracted name (ordered token by token), one `# TYPE` line per group,
 *   members ordered by full stat name.
 * - Histograms: `_bucket{...,le="B"}` for Envoy's default buckets (printed
 *   with %.32g), `le="+Inf"`, `_sum` (%.32g) and `_count`; or, with
 *   `histogram_buckets=summary`, quantiles of the last interval.
 *
 * The grouping, sorting and label text depend only on the set of stats, so
 * they are computed once per store generation and reused by every scrape;
 * a scrape formats values only.
 */
import type { CounterImpl, GaugeImpl, HistogramImpl, StatsStore } from './stats_impl.js';
import { DEFAULT_BUCKETS, SUPPORTED_QUANTILES } from './histogram_statistics.js';
import { formatG, formatShortest } from './fmt.js';
import type { Tag } from './tag_extractor.js';
import { shouldShowMetric, type StatsParams } from './stats_params.js';

/** Prometheus name sanitizing: every code point outside [a-zA-Z0-9_] becomes `_`. */
export function sanitizePrometheusName(name: string): string {
  return name.replace(/[^a-zA-Z0-9_]/gu, '_');
}

/** Label value escaping, as the Prometheus text format (and Envoy) requires. */
export function sanitizePrometheusValue(value: string): string {
  return value.replace(/[\\\n"]/g, (c) => (c === '\\' ? '\\\\' : c === '\n' ? '\\n' : '\\"'));
}

/** `name="value",...` for a tag list. */
export function formatPrometheusTags(tags: readonly Tag[]): string {
  return tags.map(([n, v]) => `${sanitizePrometheusName(n)}="${sanitizePrometheusValue(v)}"`).join(',');
}

/** The exposed name of a tag-extracted stat name: `envoy_` + sanitized. */
export function prometheusMetricName(tagExtractedName: string): string {
  return `envoy_${sanitizePrometheusName(tagExtractedName)}`;
}

/** Envoy's SymbolTable order: token by token (split on '.'), a prefix first. */
export function compareStatNames(a: string, b: string): number {
  const ta = a.split('.');
  const tb = b.split('.');
  const n = Math.min(ta.length, tb.length);
  for (let i = 0; i < n; i++) {
    const x = ta[i]!;
    const y = tb[i]!;
    if (x !== y) return x < y ? -1 : 1;
  }
  return ta.length - tb.length;
}

interface Member<S> {
  readonly stat: S;
  /** Formatted labels, '' for none. */
  readonly labels: string;
}
interface Group<S> {
  readonly metricName: string;
  readonly members: ReadonlyArray<Member<S>>;
}
interface Plan {
  readonly generation: number;
  readonly counters: ReadonlyArray<Group<CounterImpl>>;
  readonly gauges: ReadonlyArray<Group<GaugeImpl>>;
  readonly histograms: ReadonlyArray<Group<HistogramImpl>>;
}

const plans = new WeakMap<StatsStore, Plan>();

function buildGroups<S extends CounterImpl | GaugeImpl | HistogramImpl>(
  store: StatsStore, stats: Iterable<S>,
): Array<Group<S>> {
  const byName = new Map<string, Array<Member<S>>>();
  for (const stat of stats) {
    const { tagExtractedName, tags } = store.tagsFor(stat);
    let list = byName.get(tagExtractedName);
    if (list === undefined) byName.set(tagExtractedName, (list = []));
    list.push({ stat, labels: formatPrometheusTags(tags) });
  }
  return [...byName.keys()].sort(compareStatNames).map((extracted) => ({
    metricName: prometheusMetricName(extracted),
    members: byName.get(extracted)!.sort((a, b) => compareStatNames(a.stat.name, b.stat.name)),
  }));
}

function planFor(store: StatsStore): Plan {
  const cached = plans.get(store);
  if (cached !== undefined && cached.generation === store.generation) return cached;
  const plan: Plan = {
    generation: store.generation,
    counters: buildGroups(store, store.counters.values()),
    gauges: buildGroups(store, store.gauges.values()),
    histograms: buildGroups(store, store.histograms.values()),
  };
  plans.set(store, plan);
  return plan;
}

function renderNumeric<S extends CounterImpl | GaugeImpl>(
  out: string[], groups: ReadonlyArray<Group<S>>, type: string, params: StatsParams,
): void {
  for (const g of groups) {
    let header = false;
    for (const m of g.members) {
      if (!shouldShowMetric(params, m.stat)) continue;
      if (!header) {
        out.push(`# TYPE ${g.metricName} ${type}\n`);
        header = true;
      }
      out.push(`${g.metricName}{${m.labels}} ${m.stat.value()}\n`);
    }
  }
}

function renderHistogramBuckets(out: string[], name: string, labels: string, h: HistogramImpl): void {
  const stats = h.cumulative;
  const histTags = labels === '' ? '' : `${labels},`;
  const counts = stats.cumulativeBucketCounts(DEFAULT_BUCKETS);
  for (let i = 0; i < DEFAULT_BUCKETS.length; i++) {
    out.push(`${name}_bucket{${histTags}le="${formatG(DEFAULT_BUCKETS[i]!, 32)}"} ${counts[i]}\n`);
  }
  out.push(`${name}_bucket{${histTags}le="+Inf"} ${stats.count}\n`);
  out.push(`${name}_sum{${labels}} ${formatG(stats.sum, 32)}\n`);
  out.push(`${name}_count{${labels}} ${stats.count}\n`);
}

function renderHistogramSummary(out: string[], name: string, labels: string, h: HistogramImpl): void {
  const stats = h.lastInterval;
  const histTags = labels === '' ? '' : `${labels},`;
  const values = stats.computedQuantiles();
  for (let i = 0; i < SUPPORTED_QUANTILES.length; i++) {
    out.push(`${name}{${histTags}quantile="${formatShortest(SUPPORTED_QUANTILES[i]!)}"} ${formatG(values[i]!, 32)}\n`);
  }
  out.push(`${name}_sum{${labels}} ${formatG(stats.sum, 32)}\n`);
  out.push(`${name}_count{${labels}} ${stats.count}\n`);
}

/**
 * Renders the store in Prometheus text format. `params` comes from
 * parseStatsParams; use checkPrometheusParams first to reject bucket modes
 * Prometheus cannot express.
 */
export function renderPrometheus(store: StatsStore, params: StatsParams): string {
  const plan = planFor(store);
  const out: string[] = [];
  renderNumeric(out, plan.counters, 'counter', params);
  renderNumeric(out, plan.gauges, 'gauge', params);
  const summary = params.histogramBuckets === 'summary' && params.histogramBucketsGiven;
  for (const g of plan.histograms) {
    let header = false;
    for (const m of g.members) {
      if (!shouldShowMetric(params, m.stat)) continue;
      if (!header) {
        out.push(`# TYPE ${g.metricName} ${summary ? 'summary' : 'histogram'}\n`);
        header = true;
      }
      if (summary) renderHistogramSummary(out, g.metricName, m.labels, m.stat);
      else renderHistogramBuckets(out, g.metricName, m.labels, m.stat);
    }
  }
  return out.join('');
}

/** Envoy rejects disjoint/detailed bucket modes for Prometheus; returns the 400 body, or undefined. */
export function checkPrometheusParams(params: StatsParams): string | undefined {
  if (params.histogramBuckets === 'disjoint' || params.histogramBuckets === 'detailed') {
    return 'unsupported prometheus histogram bucket mode';
  }
  return undefined;
}
