/**
 * The stats store: counters, gauges and histograms by full name, after
 * Envoy's `source/common/stats/`. A stat is created once (at config time) and
 * the data path holds the handle; increments are a field update.
 */
import {
  HistogramUnit,
  type Counter,
  type Gauge,
  type Histogram,
  type Scope,
} from '../envoy/stats/stats.js';
import { HistogramStatistics } from './histogram_statistics.js';
import { defaultTagProducer, type TagExtraction, type TagProducer } from './tag_extractor.js';

/**
 * Envoy's Stats::Utility::sanitizeStatsName for scope names: strips one
 * leading and one trailing dot and replaces `://`, `:/`, `:` and NUL with
 * `_`, so a listener on `[::1]:10000` gets the scope `listener.[__1]_10000.`.
 */
export function sanitizeStatsName(name: string): string {
  let n = name;
  if (n.endsWith('.')) n = n.slice(0, -1);
  if (n.startsWith('.')) n = n.slice(1);
  return n.replace(/:\/\/|:\/|:|\0/g, '_');
}

/** Tag extraction cached on each metric (filled by StatsStore.tagsFor, once). */
interface TagCache {
  tagCache: TagExtraction | undefined;
}

export class CounterImpl implements Counter, TagCache {
  private current = 0;
  private lastLatched = 0;
  /** True once the counter has ever been incremented (for `?usedonly`). */
  used = false;
  tagCache: TagExtraction | undefined = undefined;
  constructor(readonly name: string) {}
  inc(): void { this.current++; this.used = true; }
  add(n: number): void { this.current += n; this.used = true; }
  value(): number { return this.current; }
  latch(): number {
    const d = this.current - this.lastLatched;
    this.lastLatched = this.current;
    return d;
  }
  /** Sets the value to zero (admin /reset_counters); `used` stays set. */
  reset(): void {
    this.current = 0;
    this.lastLatched = 0;
  }
}

export class GaugeImpl implements Gauge, TagCache {
  private current = 0;
  used = false;
  tagCache: TagExtraction | undefined = undefined;
  constructor(readonly name: string, readonly importMode: 'accumulate' | 'never_import') {}
  inc(): void { this.current++; this.used = true; }
  dec(): void { this.current--; this.used = true; }
  add(n: number): void { this.current += n; this.used = true; }
  sub(n: number): void { this.current -= n; this.used = true; }
  set(n: number): void { this.current = n; this.used = true; }
  value(): number { return this.current; }
}

export class HistogramImpl implements Histogram, TagCache {
  used = false;
  tagCache: TagExtraction | undefined = undefined;
  /** Everything recorded since start (Envoy's "cumulative" view). */
  readonly cumulative = new HistogramStatistics();
  /** Recorded since the last merge (Envoy's "interval" view), for sinks. */
  interval = new HistogramStatistics();
  /**
   * The last completed interval (what Envoy shows as "interval" in /stats);
   * empty until the first takeInterval().
   */
  lastInterval = new HistogramStatistics();
  constructor(readonly name: string, readonly unit: HistogramUnit) {}
  /**
   * Records a sample. Envoy's Histogram::recordValue takes a uint64, so the
   * value is truncated to an integer (a 12.7 ms duration records as 12) and
   * negatives record as 0.
   */
  recordValue(v: number): void {
    const x = v > 0 ? Math.floor(v) : 0;
    this.used = true;
    this.cumulative.record(x);
    this.interval.record(x);
  }
  /** Returns the interval statistics and starts a new interval (Envoy's merge). */
  takeInterval(): HistogramStatistics {
    const i = this.interval;
    this.interval = new HistogramStatistics();
    this.lastInterval = i;
    return i;
  }
}

/** Options for a StatsStore. */
export interface StatsStoreOptions {
  /** Tag extraction from `stats_config`; the default tags when absent. */
  tagProducer?: TagProducer;
}

/** Owns every stat. Scopes are views with a prefix. */
export class StatsStore {
  readonly counters = new Map<string, CounterImpl>();
  readonly gauges = new Map<string, GaugeImpl>();
  readonly histograms = new Map<string, HistogramImpl>();
  readonly rootScope: Scope;
  private producer: TagProducer;
  private generationValue = 0;
  private readonly sortedCache = new Map<string, { generation: number; list: unknown[] }>();

  constructor(options: StatsStoreOptions = {}) {
    this.rootScope = new ScopeImpl(this, '');
    this.producer = options.tagProducer ?? defaultTagProducer();
  }

  /**
   * Bumped whenever a stat is created or deleted or the tag producer
   * changes; renderers cache their sorted plans against it.
   */
  get generation(): number {
    return this.generationValue;
  }

  get tagProducer(): TagProducer {
    return this.producer;
  }

  /** Replaces the tag producer (bootstrap `stats_config` loaded); drops cached tags. */
  setTagProducer(producer: TagProducer): void {
    this.producer = producer;
    for (const m of [this.counters, this.gauges, this.histograms] as Map<string, TagCache>[]) {
      for (const s of m.values()) s.tagCache = undefined;
    }
    this.generationValue++;
  }

  /** The tag-extracted name and tags of a stat, computed once and cached on the stat. */
  tagsFor(stat: CounterImpl | GaugeImpl | HistogramImpl): TagExtraction {
    return (stat.tagCache ??= this.producer.produceTags(stat.name));
  }

  counterFromName(name: string): CounterImpl {
    let c = this.counters.get(name);
    if (c === undefined) {
      c = new CounterImpl(name);
      this.counters.set(name, c);
      this.generationValue++;
    }
    return c;
  }

  gaugeFromName(name: string, importMode: 'accumulate' | 'never_import' = 'accumulate'): GaugeImpl {
    let g = this.gauges.get(name);
    if (g === undefined) {
      g = new GaugeImpl(name, importMode);
      this.gauges.set(name, g);
      this.generationValue++;
    }
    return g;
  }

  histogramFromName(name: string, unit: HistogramUnit): HistogramImpl {
    let h = this.histograms.get(name);
    if (h === undefined) {
      h = new HistogramImpl(name, unit);
      this.histograms.set(name, h);
      this.generationValue++;
    }
    return h;
  }

  /**
   * Removes every stat whose name starts with `prefix` (a deleted cluster or
   * listener), except those under one of the `keep` prefixes (another
   * cluster whose name extends this one: `cluster.a.b.` under `cluster.a.`).
   */
  deleteScope(prefix: string, keep: ReadonlyArray<string> = []): void {
    for (const m of [this.counters, this.gauges, this.histograms] as Map<string, unknown>[]) {
      for (const k of m.keys()) {
        if (k.startsWith(prefix) && !keep.some((p) => k.startsWith(p))) m.delete(k);
      }
    }
    this.generationValue++;
  }

  /** Sets every counter to zero (admin `/reset_counters`). */
  resetCounters(): void {
    for (const c of this.counters.values()) c.reset();
  }

  /**
   * Ends the current histogram interval for every histogram (Envoy's
   * mergeHistograms on each stats flush); /stats then shows it as "interval".
   */
  flushHistograms(): void {
    for (const h of this.histograms.values()) h.takeInterval();
  }

  /** Counters sorted by name (cached until the next create or delete). */
  sortedCounters(): readonly CounterImpl[] {
    return this.sorted('c', this.counters);
  }

  /** Gauges sorted by name (cached until the next create or delete). */
  sortedGauges(): readonly GaugeImpl[] {
    return this.sorted('g', this.gauges);
  }

  /** Histograms sorted by name (cached until the next create or delete). */
  sortedHistograms(): readonly HistogramImpl[] {
    return this.sorted('h', this.histograms);
  }

  private sorted<T>(key: string, map: Map<string, T>): readonly T[] {
    const hit = this.sortedCache.get(key);
    if (hit !== undefined && hit.generation === this.generationValue) return hit.list as T[];
    const names = [...map.keys()].sort(compareBytes);
    const list = names.map((n) => map.get(n)!);
    this.sortedCache.set(key, { generation: this.generationValue, list });
    return list;
  }
}

/** Plain byte-wise string order (std::string's operator<), for ASCII stat names. */
export function compareBytes(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Joins a scope prefix and a name with exactly one dot between them. */
function join(prefix: string, name: string): string {
  if (prefix === '') return name;
  return prefix.endsWith('.') ? prefix + name : `${prefix}.${name}`;
}

export class ScopeImpl implements Scope {
  constructor(private readonly store: StatsStore, readonly prefix: string) {}
  counter(name: string): Counter { return this.store.counterFromName(join(this.prefix, name)); }
  gauge(name: string, importMode: 'accumulate' | 'never_import' = 'accumulate'): Gauge {
    return this.store.gaugeFromName(join(this.prefix, name), importMode);
  }
  histogram(name: string, unit: HistogramUnit): Histogram {
    return this.store.histogramFromName(join(this.prefix, name), unit);
  }
  /** A child scope; like Envoy, `:` in the name becomes `_` (`foo:80` → `foo_80.`). */
  createScope(name: string): Scope {
    const clean = sanitizeStatsName(name);
    if (clean === '') return new ScopeImpl(this.store, this.prefix);
    return new ScopeImpl(this.store, `${join(this.prefix, clean)}.`);
  }
}

/**
 * Declares a stats block: a list of names turned into an object of handles
 * under one scope, resolved once (Envoy's ALL_*_STATS macros).
 */
export function makeStatsBlock<C extends string, G extends string, H extends string>(
  scope: Scope,
  spec: { counters: readonly C[]; gauges?: readonly G[]; histograms?: ReadonlyArray<readonly [H, HistogramUnit]> },
): Record<C, Counter> & Record<G, Gauge> & Record<H, Histogram> {
  const out: Record<string, Counter | Gauge | Histogram> = {};
  for (const n of spec.counters) out[n] = scope.counter(n);
  for (const n of spec.gauges ?? []) out[n] = scope.gauge(n);
  for (const [n, unit] of spec.histograms ?? []) out[n] = scope.histogram(n, unit);
  return out as Record<C, Counter> & Record<G, Gauge> & Record<H, Histogram>;
}

/** The typed object makeStatsBlock returns. */
export type StatsBlock<C extends string, G extends string = never, H extends string = never> =
  Readonly<Record<C, Counter>> & Readonly<Record<G, Gauge>> & Readonly<Record<H, Histogram>>;

/**
 * A view of `parent` that prepends `rawPrefix` to stat names verbatim, like
 * Envoy's POOL_COUNTER_PREFIX(scope, prefix): no sanitizing, so
 * `prefixedScope(root, 'http.ingress_http.')` names stats exactly
 * `http.ingress_http.<name>`. Use Scope.createScope where Envoy creates a
 * scope (cluster, listener, tcp proxy), which does sanitize.
 */
export function prefixedScope(parent: Scope, rawPrefix: string): Scope {
  return {
    prefix: parent.prefix + rawPrefix,
    counter: (name: string) => parent.counter(rawPrefix + name),
    gauge: (name: string, importMode?: 'accumulate' | 'never_import') => parent.gauge(rawPrefix + name, importMode),
    histogram: (name: string, unit: HistogramUnit) => parent.histogram(rawPrefix + name, unit),
    createScope: (name: string) => parent.createScope(rawPrefix + name),
  };
}

/**
 * Ends a histogram interval every `intervalMs` (Envoy's stats_flush_interval,
 * 5 s by default), then calls `onFlush` (sinks). The timer is unref'd.
 */
export function startStatsFlushTimer(store: StatsStore, intervalMs = 5000, onFlush?: () => void): { stop(): void } {
  const timer = setInterval(() => {
    store.flushHistograms();
    onFlush?.();
  }, intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
