/**
 * Query parameters of `/stats` and `/stats/prometheus`, parsed and checked
 * as Envoy's `source/server/admin/stats_params.cc` does, with the same 400
 * messages. The `filter` regex is compiled with re2js (linear time), so an
 * admin query cannot stall the event loop.
 */
import { RE2JS } from 're2js';
import type { CounterImpl, GaugeImpl, HistogramImpl } from './stats_impl.js';

export type StatsFormat = 'text' | 'json' | 'prometheus';
export type StatsType = 'All' | 'Counters' | 'Gauges' | 'Histograms' | 'TextReadouts';
/** `histogram_buckets=`: absent/`summary`/`none` print quantiles. */
export type HistogramBucketsMode = 'summary' | 'cumulative' | 'disjoint' | 'detailed';

export interface StatsParams {
  readonly format: StatsFormat;
  readonly type: StatsType;
  readonly usedOnly: boolean;
  /** `hidden=only` shows nothing here: Legate has no hidden stats. */
  readonly hiddenOnly: boolean;
  readonly filter: RE2JS | undefined;
  /** RE2 partial match of `filter` on a stat name (a plain substring test when the filter has no metacharacters). */
  readonly filterMatches: ((name: string) => boolean) | undefined;
  readonly histogramBuckets: HistogramBucketsMode;
  /** Whether `histogram_buckets` was given (Prometheus defaults to cumulative buckets). */
  readonly histogramBucketsGiven: boolean;
  readonly textReadouts: boolean;
}

export type StatsParamsResult =
  | { readonly ok: true; readonly params: StatsParams }
  | { readonly ok: false; readonly status: 400; readonly body: string };

const TYPES: readonly StatsType[] = ['All', 'Counters', 'Gauges', 'Histograms', 'TextReadouts'];

function bad(body: string): StatsParamsResult {
  return { ok: false, status: 400, body };
}

/** Parses the query string of a stats request. */
export function parseStatsParams(query: URLSearchParams): StatsParamsResult {
  const usedOnly = query.has('usedonly');
  const textReadouts = query.has('text_readouts');

  let filter: RE2JS | undefined;
  let filterMatches: ((name: string) => boolean) | undefined;
  const filterString = query.get('filter');
  if (filterString !== null) {
    try {
      filter = RE2JS.compile(filterString);
    } catch {
      return bad('Invalid re2 regex');
    }
    const re = filter;
    filterMatches = /[\\^$.|?*+()[\]{}]/.test(filterString)
      ? (name: string) => re.test(name)
      : (name: string) => name.includes(filterString);
  }

  let histogramBuckets: HistogramBucketsMode = 'summary';
  const hb = query.get('histogram_buckets');
  if (hb !== null && hb !== '') {
    if (hb === 'cumulative' || hb === 'disjoint' || hb === 'detailed') histogramBuckets = hb;
    else if (hb === 'summary' || hb === 'none') histogramBuckets = 'summary';
    else return bad('usage: /stats?histogram_buckets=(cumulative|disjoint|detailed|summary)\n');
  }

  let type: StatsType = 'All';
  const t = query.get('type');
  if (t !== null) {
    if (!(TYPES as readonly string[]).includes(t)) return bad('invalid &type= param');
    type = t as StatsType;
  }

  let hiddenOnly = false;
  const hidden = query.get('hidden');
  if (hidden !== null && hidden !== '') {
    if (hidden === 'only') hiddenOnly = true;
    else if (hidden !== 'include' && hidden !== 'exclude') return bad('usage: /stats?hidden=(include|only|exclude)\n\n');
  }

  let format: StatsFormat = 'text';
  const f = query.get('format');
  if (f !== null && f !== '') {
    if (f === 'prometheus' || f === 'json' || f === 'text') format = f;
    else if (f === 'html') return bad('HTML output was disabled by building with --define=admin_html=disabled');
    else if (f === 'active-html') return bad('Active HTML output was disabled by building with --define=admin_html=disabled');
    else return bad('usage: /stats?format=(html|active-html|json|prometheus|text)\n\n');
  }

  return {
    ok: true,
    params: {
      format, type, usedOnly, hiddenOnly, filter, filterMatches, histogramBuckets,
      histogramBucketsGiven: hb !== null && hb !== '', textReadouts,
    },
  };
}

/** Envoy's StatsParams::shouldShowMetric: used-only, hidden, then the regex on the full name. */
export function shouldShowMetric(params: StatsParams, stat: CounterImpl | GaugeImpl | HistogramImpl): boolean {
  if (params.usedOnly && !stat.used) return false;
  if (params.hiddenOnly) return false;
  if (params.filterMatches !== undefined && !params.filterMatches(stat.name)) return false;
  return true;
}
