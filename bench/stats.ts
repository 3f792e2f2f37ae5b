// Pure helpers: run ordering, medians, summaries, ratios, table formatting.

export interface RunRecord {
  round: number;
  /** Position in the round's order (0-based). */
  slot: number;
  /** 0 for the first try; retries of a noisy run count up. */
  attempt: number;
  /** A noisy try that another try of the same run replaces: kept in the JSON, left out of the statistics. */
  superseded?: boolean;
  peer: string;
  size: string;
  valid: boolean;
  invalidReasons: string[];
  rps?: number;
  p50Ms?: number;
  p99Ms?: number;
  p90Ms?: number;
  requests?: number;
  /** CPU used by the peer process tree during the measured run, % of one core. */
  peerCpuPct?: number;
  /** CPU used by the origin during the measured run, % of one core. */
  originCpuPct?: number;
  /** Busy % of the proxy core and the load core (wrk + origin) over the run. */
  proxyCoreBusyPct?: number;
  loadCoreBusyPct?: number;
  /** CPU used by wrk during the measured run, % of one core. */
  wrkCpuPct?: number;
  /** Time the hypervisor took from the proxy / load core (steal), %. */
  proxyCoreStealPct?: number;
  loadCoreStealPct?: number;
  /** Share of the proxy core that went to anything but the peer (other processes + steal), %. */
  proxyNoisePct?: number;
  /** Share of the load core that went to anything but wrk and the origin, %. */
  loadNoisePct?: number;
  /** rps / (peerCpuPct/100): requests per CPU-second the proxy spent. */
  rpsPerCpu?: number;
  warmup?: { rps?: number; invalidReasons: string[] };
  /** Seconds spent waiting for the cores to go quiet before the run. */
  quietWaitS?: number;
  /** Set when they never did: the worst core's busy % at the start. */
  busyBeforePct?: number;
  wrkText?: string;
  /** h2 suites: h2load's mean and max "time for request", ms (h2load has no percentiles). */
  meanMs?: number;
  maxMs?: number;
  /** h2 suites: h2load's raw output, negotiated protocol and TLS cipher. */
  h2loadText?: string;
  protocol?: string;
  cipher?: string;
  startedAt: string;
  /** Legate runs: newest mtime under dist/src when the run started (spots rebuilds mid-bench). */
  buildMtime?: string;
}

/**
 * Every (peer, size) once per round, in an order that changes round to round:
 * rows of a balanced Latin square (Williams design). Over n rounds (2n when n
 * is odd) every combo runs once in every slot, and every combo directly
 * follows every other combo equally often, so neither slot effects (first run
 * after start-up, machine drift within a round) nor carry-over from the
 * previous run favour one peer.
 */
export function roundOrder<T>(combos: readonly T[], round: number): T[] {
  const n = combos.length;
  if (n === 0) return [];
  // First row: 0, 1, n-1, 2, n-2, 3, ...
  const base: number[] = [0];
  for (let lo = 1, hi = n - 1; base.length < n; ) {
    base.push(lo++);
    if (base.length < n) base.push(hi--);
  }
  const shift = n % 2 === 0 ? round % n : Math.floor(round / 2) % n;
  const row = base.map((x) => combos[(x + shift) % n]!);
  return n % 2 === 1 && round % 2 === 1 ? row.reverse() : row;
}

export function median(xs: readonly number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function defined(xs: Array<number | undefined>): number[] {
  return xs.filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
}

export interface Summary {
  peer: string;
  size: string;
  runs: number;
  validRuns: number;
  rpsMedian?: number;
  rpsMin?: number;
  rpsMax?: number;
  /** (max - min) / median, percent. */
  spreadPct?: number;
  p50MsMedian?: number;
  p99MsMedian?: number;
  peerCpuPctMedian?: number;
  loadCoreBusyPctMedian?: number;
  proxyNoisePctMedian?: number;
  loadNoisePctMedian?: number;
  rpsPerCpuMedian?: number;
  /** Counted runs that stayed above the noise limit. */
  noisyRuns: number;
  /** Valid runs where the load core was saturated while the proxy was not. */
  loadBoundRuns: number;
}

export const LOAD_BOUND_LOAD_CORE_PCT = 95;
export const LOAD_BOUND_PEER_CPU_PCT = 90;

/** More than maxNoisePct of the proxy core or the load core went to others. */
export function isNoisy(r: RunRecord, maxNoisePct: number): boolean {
  return (r.proxyNoisePct ?? 0) > maxNoisePct || (r.loadNoisePct ?? 0) > maxNoisePct;
}

/**
 * The load core (wrk + origin, not noise) was saturated while the proxy had
 * CPU to spare: the req/s is the machine's limit, not the proxy's.
 */
export function isLoadBound(r: RunRecord, maxNoisePct = Infinity): boolean {
  return (
    r.loadCoreBusyPct !== undefined &&
    r.peerCpuPct !== undefined &&
    r.loadCoreBusyPct >= LOAD_BOUND_LOAD_CORE_PCT &&
    r.peerCpuPct < LOAD_BOUND_PEER_CPU_PCT &&
    (r.loadNoisePct ?? 0) <= maxNoisePct
  );
}

/** The runs that count: one try per (round, peer, size). */
export function counted(runs: readonly RunRecord[]): RunRecord[] {
  return runs.filter((r) => !r.superseded);
}

export function summarize(runs: readonly RunRecord[], peer: string, size: string, maxNoisePct = Infinity): Summary {
  const all = counted(runs).filter((r) => r.peer === peer && r.size === size);
  const ok = all.filter((r) => r.valid);
  const rps = defined(ok.map((r) => r.rps));
  const s: Summary = {
    peer,
    size,
    runs: all.length,
    validRuns: ok.length,
    loadBoundRuns: ok.filter((r) => isLoadBound(r, maxNoisePct)).length,
    noisyRuns: ok.filter((r) => isNoisy(r, maxNoisePct)).length,
  };
  if (rps.length > 0) {
    s.rpsMedian = median(rps)!;
    s.rpsMin = Math.min(...rps);
    s.rpsMax = Math.max(...rps);
    s.spreadPct = ((s.rpsMax - s.rpsMin) / s.rpsMedian) * 100;
  }
  const set = (k: keyof Summary, xs: Array<number | undefined>): void => {
    const m = median(defined(xs));
    if (m !== undefined) (s as unknown as Record<string, number>)[k] = m;
  };
  set('p50MsMedian', ok.map((r) => r.p50Ms));
  set('p99MsMedian', ok.map((r) => r.p99Ms));
  set('peerCpuPctMedian', ok.map((r) => r.peerCpuPct));
  set('loadCoreBusyPctMedian', ok.map((r) => r.loadCoreBusyPct));
  set('proxyNoisePctMedian', ok.map((r) => r.proxyNoisePct));
  set('loadNoisePctMedian', ok.map((r) => r.loadNoisePct));
  set('rpsPerCpuMedian', ok.map((r) => r.rpsPerCpu));
  return s;
}

export const RATIO_PAIRS: ReadonlyArray<readonly [string, string]> = [
  ['legate', 'undici'],
  ['legate', 'nginx'],
  ['legate', 'node-http'],
  ['undici', 'nginx'],
];

export interface Ratio {
  name: string;
  size: string;
  /** median(a rps) / median(b rps) */
  rps?: number;
  /** Per-round paired ratios (both runs valid in the same round). */
  pairedMedian?: number;
  pairedMin?: number;
  pairedMax?: number;
  pairedRounds: number;
  /** median(a rps per proxy CPU-s) / median(b ...) */
  rpsPerCpu?: number;
  /** median(a p99) / median(b p99); < 1 means a has the lower tail. */
  p99?: number;
}

export function ratios(
  runs: readonly RunRecord[],
  summaries: readonly Summary[],
  sizes: readonly string[],
  pairs: ReadonlyArray<readonly [string, string]> = RATIO_PAIRS,
): Ratio[] {
  const out: Ratio[] = [];
  const find = (p: string, z: string): Summary | undefined => summaries.find((s) => s.peer === p && s.size === z);
  for (const size of sizes) {
    for (const [a, b] of pairs) {
      const sa = find(a, size);
      const sb = find(b, size);
      if (!sa || !sb) continue;
      const r: Ratio = { name: `${a}/${b}`, size, pairedRounds: 0 };
      if (sa.rpsMedian && sb.rpsMedian) r.rps = sa.rpsMedian / sb.rpsMedian;
      if (sa.rpsPerCpuMedian && sb.rpsPerCpuMedian) r.rpsPerCpu = sa.rpsPerCpuMedian / sb.rpsPerCpuMedian;
      if (sa.p99MsMedian && sb.p99MsMedian) r.p99 = sa.p99MsMedian / sb.p99MsMedian;
      const paired: number[] = [];
      const use = counted(runs);
      const rounds = new Set(use.map((x) => x.round));
      for (const round of rounds) {
        const ra = use.find((x) => x.round === round && x.peer === a && x.size === size && x.valid);
        const rb = use.find((x) => x.round === round && x.peer === b && x.size === size && x.valid);
        if (ra?.rps && rb?.rps) paired.push(ra.rps / rb.rps);
      }
      if (paired.length) {
        r.pairedRounds = paired.length;
        r.pairedMedian = median(paired)!;
        r.pairedMin = Math.min(...paired);
        r.pairedMax = Math.max(...paired);
      }
      out.push(r);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// formatting

export function fmtInt(x: number | undefined): string {
  return x === undefined ? '-' : Math.round(x).toLocaleString('en-US');
}

export function fmtNum(x: number | undefined, digits = 2): string {
  return x === undefined ? '-' : x.toFixed(digits);
}

export function fmtPct(x: number | undefined): string {
  return x === undefined ? '-' : `${Math.round(x)}%`;
}

/** Render rows as an aligned text table; columns whose header starts with '<' are left-aligned. */
export function table(headers: string[], rows: string[][]): string {
  const left = headers.map((h) => h.startsWith('<'));
  const hs = headers.map((h) => (h.startsWith('<') ? h.slice(1) : h));
  const widths = hs.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (left[i] ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(hs), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
