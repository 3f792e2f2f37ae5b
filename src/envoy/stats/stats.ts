/**
 * Stats primitives, after Envoy's `envoy/stats`. Handles are resolved by name
 * once, at config time; the data path only calls inc()/add()/set()/record().
 */
export interface Counter {
  readonly name: string;
  inc(): void;
  add(n: number): void;
  value(): number;
  /** Value accumulated since the last flush (for sinks); resets it. */
  latch(): number;
}

export interface Gauge {
  readonly name: string;
  inc(): void;
  dec(): void;
  add(n: number): void;
  sub(n: number): void;
  set(n: number): void;
  value(): number;
}

export const enum HistogramUnit {
  Unspecified = 0,
  Bytes = 1,
  Microseconds = 2,
  Milliseconds = 3,
  Percent = 4,
}

export interface Histogram {
  readonly name: string;
  readonly unit: HistogramUnit;
  recordValue(v: number): void;
}

/**
 * A Scope creates stats under a dotted prefix. `scope.counter('downstream_rq_total')`
 * in scope `http.ingress_http.` is the stat `http.ingress_http.downstream_rq_total`.
 * Asking twice for the same name returns the same handle.
 */
export interface Scope {
  readonly prefix: string;
  counter(name: string): Counter;
  gauge(name: string, importMode?: 'accumulate' | 'never_import'): Gauge;
  histogram(name: string, unit: HistogramUnit): Histogram;
  createScope(name: string): Scope;
}
