// Legate macro benchmark: Legate and its peers behind the same origin, under
// the same wrk load, alternated over several rounds. See bench/README.md.
//
//   npm run bench -- [--rounds 5] [--duration 10] [--warmup 3] [--connections 50]
//                    [--peers legate,undici,node-http,nginx] [--sizes small,large] [--quick]
//   npm run bench -- --suite h2|grpc|h2,grpc [...]   HTTP/2 and gRPC suites (bench/run_h2.ts)

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { LARGE_BODY, SMALL_BODY } from './origin.js';
import { DEFAULT_PEERS, PEERS, type PeerHandle } from './peers/index.js';
import { findNginx } from './peers/nginx.js';
import { loadUndici } from './peers/undici_load.js';
import {
  commandExists,
  haveTaskset,
  httpGet,
  installCleanupHandlers,
  onCleanup,
  spawnTracked,
  stopTracked,
  waitForListening,
  waitForQuiet,
  type Tracked,
} from './proc.js';
import {
  counted,
  fmtInt,
  fmtNum,
  fmtPct,
  isLoadBound,
  isNoisy,
  ratios,
  roundOrder,
  summarize,
  table,
  type RunRecord,
  type Summary,
} from './stats.js';
import { repoRoot } from './util.js';
import { startCpuWindow } from './cpu_window.js';
import { runH2Suites } from './run_h2.js';
import type { H2Suite } from './peers/h2_peers.js';
import { invalidReasons, parseWrkOutput, startWrk, type WrkResult } from './wrk.js';

const SIZES: Record<string, { path: string; bytes: number; body: Buffer }> = {
  small: { path: '/small', bytes: SMALL_BODY.length, body: SMALL_BODY },
  large: { path: '/large', bytes: LARGE_BODY.length, body: LARGE_BODY },
};

const HELP = `Legate macro benchmark (bench/README.md)

usage: npm run bench -- [flags]        (or: node dist/bench/run.js [flags])

  --suite h1|h2|grpc   h1 (default): wrk over HTTP/1.1, the flags below;
                       h2, grpc or h2,grpc: h2load over h2c/TLS (see --suite h2 --help)

  --rounds N           rounds; each runs every peer x size once (default 5)
  --duration S         measured seconds per run (default 10)
  --warmup S           discarded warm-up seconds before each run (default 5)
  --connections N      wrk connections; also the proxies' upstream pool size (default 50)
  --threads N          wrk threads (default 1: wrk has one core)
  --peers a,b,...      of: ${Object.keys(PEERS).join(', ')} (default ${DEFAULT_PEERS.join(',')})
  --sizes a,b          of: small (2 B), large (16 KiB) (default small,large)
  --quick              smoke run: 1 round, 3 s runs, 2 s warm-up (explicit flags win)
  --proxy-cpu LIST     taskset CPU list for the peer (default 0)
  --load-cpu LIST      taskset CPU list for wrk (default 1)
  --origin-cpu LIST    taskset CPU list for the origin (default: the load CPU)
  --origin net|http    origin implementation (default net: raw sockets, cheapest)
  --no-pin             do not use taskset at all
  --no-setup           do not run bench/setup.sh when wrk/nginx are missing
  --max-noise PCT      a run where more than PCT % of the proxy core or the load
                       core went to other processes or steal is NOISY (default 15)
  --retries N          re-run a NOISY run up to N times; the first quiet try counts,
                       else the least noisy one (default 1)
  --quiet-wait S       before each run, wait up to S seconds for the pinned cores to
                       be at most --max-noise % busy (default 30; 0 = don't wait)
  --startup-timeout S  seconds to wait for a peer to answer (default 30)
  --out DIR            results folder (default bench/results)
  -h, --help
`;

interface Options {
  rounds: number;
  durationS: number;
  warmupS: number;
  connections: number;
  threads: number;
  peers: string[];
  sizes: string[];
  proxyCpu?: string;
  loadCpu?: string;
  originCpu?: string;
  originImpl: 'net' | 'http';
  setup: boolean;
  startupTimeoutMs: number;
  outDir: string;
  maxNoisePct: number;
  retries: number;
  quietWaitMs: number;
}

function parseOptions(root: string): Options {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string' },
      threads: { type: 'string' },
      peers: { type: 'string' },
      sizes: { type: 'string' },
      quick: { type: 'boolean', default: false },
      'proxy-cpu': { type: 'string' },
      'load-cpu': { type: 'string' },
      'origin-cpu': { type: 'string' },
      origin: { type: 'string' },
      'no-pin': { type: 'boolean', default: false },
      'no-setup': { type: 'boolean', default: false },
      'startup-timeout': { type: 'string' },
      out: { type: 'string' },
      'max-noise': { type: 'string' },
      retries: { type: 'string' },
      'quiet-wait': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const num = (v: string | undefined, dflt: number, name: string, min = 1): number => {
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) throw new Error(`--${name} must be a number >= ${min}, got ${v}`);
    return n;
  };
  const q = values.quick;
  const list = (v: string | undefined, dflt: string[], known: string[], name: string): string[] => {
    const xs = v === undefined ? dflt : v.split(',').map((s) => s.trim()).filter(Boolean);
    for (const x of xs) if (!known.includes(x)) throw new Error(`--${name}: unknown ${x} (known: ${known.join(', ')})`);
    if (xs.length === 0) throw new Error(`--${name} is empty`);
    return [...new Set(xs)];
  };
  const pin = !values['no-pin'];
  const loadCpu = pin ? (values['load-cpu'] ?? '1') : undefined;
  return {
    rounds: num(values.rounds, q ? 1 : 5, 'rounds'),
    durationS: num(values.duration, q ? 3 : 10, 'duration'),
    warmupS: num(values.warmup, q ? 2 : 5, 'warmup', 0),
    connections: num(values.connections, 50, 'connections'),
    threads: num(values.threads, 1, 'threads'),
    peers: list(values.peers, DEFAULT_PEERS, Object.keys(PEERS), 'peers'),
    sizes: list(values.sizes, ['small', 'large'], Object.keys(SIZES), 'sizes'),
    proxyCpu: pin ? (values['proxy-cpu'] ?? '0') : undefined,
    loadCpu,
    originCpu: pin ? (values['origin-cpu'] ?? loadCpu) : undefined,
    originImpl: values.origin === 'http' ? 'http' : 'net',
    setup: !values['no-setup'],
    startupTimeoutMs: num(values['startup-timeout'], 30, 'startup-timeout') * 1000,
    outDir: values.out ?? join(root, 'bench', 'results'),
    maxNoisePct: num(values['max-noise'], 15, 'max-noise', 0),
    retries: num(values.retries, 1, 'retries', 0),
    quietWaitMs: num(values['quiet-wait'], 30, 'quiet-wait', 0) * 1000,
  };
}

// ---------------------------------------------------------------------------
// preflight

function missingTools(opts: Options): string[] {
  const miss: string[] = [];
  if (!commandExists('wrk')) miss.push('wrk');
  if (opts.peers.includes('nginx') && !findNginx()) miss.push('nginx');
  if (opts.proxyCpu !== undefined && !haveTaskset()) miss.push('taskset');
  return miss;
}

function preflight(root: string, opts: Options, notes: string[]): void {
  let miss = missingTools(opts);
  if (miss.length && opts.setup) {
    console.log(`missing: ${miss.join(', ')} -> running bench/setup.sh (pass --no-setup to skip)`);
    const r = spawnSync('bash', [join(root, 'bench', 'setup.sh')], { stdio: 'inherit' });
    if (r.status !== 0) console.log(`bench/setup.sh exited with ${r.status}`);
    miss = missingTools(opts);
  }
  if (miss.includes('wrk')) {
    throw new Error('wrk is not installed. Install it with:  sudo bash bench/setup.sh  (Debian/Ubuntu: apt-get install wrk)');
  }
  if (miss.includes('taskset')) {
    notes.push('taskset not found: processes are NOT pinned (install util-linux)');
    opts.proxyCpu = opts.loadCpu = opts.originCpu = undefined;
  }
  if (miss.includes('nginx')) {
    notes.push('nginx not installed (sudo bash bench/setup.sh): nginx skipped');
    opts.peers = opts.peers.filter((p) => p !== 'nginx');
  }
  const cores = os.availableParallelism();
  if (opts.proxyCpu !== undefined && cores < 2) {
    notes.push(`only ${cores} CPU: processes are NOT pinned, proxy and load share the core`);
    opts.proxyCpu = opts.loadCpu = opts.originCpu = undefined;
  }
  if (cores > 2) notes.push(`${cores} CPUs: the bench only uses the pinned ones; others may run unrelated work`);
}

function toolVersion(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  const text = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n')[0] ?? '';
  return text || 'unknown';
}

function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    return m?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  } catch {
    return os.cpus()[0]?.model ?? 'unknown';
  }
}

/** Newest modification time under dir (ms), to tell Legate builds apart. */
function newestMtime(dir: string): number {
  let newest = 0;
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.js')) newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  try {
    walk(dir);
  } catch {
    // not built
  }
  return newest;
}

function gitDescribe(root: string): string {
  const head = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' });
  if (head.status !== 0) return 'unknown';
  const dirty = spawnSync('git', ['status', '--porcelain'], { cwd: root, encoding: 'utf8' });
  return `${head.stdout.trim()}${dirty.stdout?.trim() ? ' (uncommitted changes)' : ''}`;
}

function timestamp(): string {
  return new Date().toISOString().replace(/[:]/g, '-').replace(/\.\d+Z$/, 'Z');
}

// ---------------------------------------------------------------------------
// one measured run

async function checkBodies(port: number, peer: string): Promise<string[]> {
  const why: string[] = [];
  for (const [name, s] of Object.entries(SIZES)) {
    try {
      const r = await httpGet(port, s.path, 5000);
      if (r.status !== 200) why.push(`${peer} ${s.path}: status ${r.status}`);
      else if (!r.body.equals(s.body)) why.push(`${peer} ${s.path}: body differs (${r.body.length} bytes, want ${s.bytes})`);
    } catch (e) {
      why.push(`${peer} ${name}: ${(e as Error).message}`);
    }
  }
  return why;
}

async function runWrkOnce(
  opts: Options,
  port: number,
  size: string,
  durationS: number,
  measure?: { peer: Tracked; origin: Tracked },
): Promise<{ wrk?: WrkResult; text: string; reasons: string[]; cpu?: Partial<RunRecord> }> {
  const s = SIZES[size]!;
  const run = startWrk({
    url: `http://127.0.0.1:${port}${s.path}`,
    connections: opts.connections,
    threads: opts.threads,
    durationS,
    cpu: opts.loadCpu,
    expectBodyBytes: s.bytes,
  });
  // CPU of peer, origin and wrk (origin = peer for the direct baseline).
  const window = measure
    ? startCpuWindow({ peer: measure.peer.pid, origin: measure.origin.pid, load: run.child.pid }, durationS, opts)
    : undefined;
  const { stdout, code } = await run.result;
  const cpu: Partial<RunRecord> | undefined = window?.finish();
  let wrk: WrkResult | undefined;
  const reasons: string[] = [];
  try {
    wrk = parseWrkOutput(stdout);
    reasons.push(...invalidReasons(wrk));
  } catch (e) {
    reasons.push(`could not parse wrk output (exit ${code}): ${(e as Error).message.split('\n')[0]}`);
  }
  if (code !== 0) reasons.push(`wrk exited with ${code}: ${run.child.tail().split('\n').slice(-3).join(' | ')}`);
  return { wrk, text: stdout, reasons, cpu };
}

// ---------------------------------------------------------------------------

/** Take `--suite X` / `--suite=X` out of argv; the h2 suites have their own flags. */
function takeSuite(argv: string[]): { suites: string[]; rest: string[] } {
  const rest: string[] = [];
  let value: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--suite') value = argv[++i];
    else if (a.startsWith('--suite=')) value = a.slice('--suite='.length);
    else rest.push(a);
  }
  const suites = (value ?? 'h1').split(',').map((s) => s.trim()).filter(Boolean);
  for (const s of suites) if (!['h1', 'h2', 'grpc'].includes(s)) throw new Error(`--suite: unknown ${s} (known: h1, h2, grpc)`);
  if (suites.includes('h1') && suites.length > 1) throw new Error('--suite h1 runs alone (its flags differ from the h2 suites)');
  return { suites, rest };
}

async function main(): Promise<void> {
  const { suites, rest } = takeSuite(process.argv.slice(2));
  if (!suites.includes('h1')) {
    await runH2Suites(suites as H2Suite[], rest);
    return;
  }
  process.argv.splice(2, process.argv.length - 2, ...rest);
  const root = repoRoot();
  const opts = parseOptions(root);
  installCleanupHandlers();
  const notes: string[] = [];
  preflight(root, opts, notes);

  const skipped: Record<string, string> = {};
  const peers: string[] = [];
  for (const p of opts.peers) {
    const why = PEERS[p]!.unavailable(root);
    if (why) skipped[p] = why;
    else peers.push(p);
  }
  if (peers.length === 0) throw new Error(`no peer can run: ${JSON.stringify(skipped)}`);

  const undici = peers.includes('undici') ? loadUndici() : undefined;
  const meta = {
    startedAt: new Date().toISOString(),
    host: os.hostname(),
    cpuModel: cpuModel(),
    cpus: os.availableParallelism(),
    loadavgAtStart: os.loadavg(),
    node: process.version,
    git: gitDescribe(root),
    wrk: toolVersion('wrk', ['-v']).replace(/\s*Copyright.*$/, ''),
    nginx: findNginx() ? toolVersion(findNginx()!, ['-v']) : 'not installed',
    undici: undici ? undici.version : 'not used',
    pinned: opts.proxyCpu !== undefined,
  };

  const tmpDir = mkdtempSync(join(os.tmpdir(), 'legate-bench-'));
  onCleanup(() => rmSync(tmpDir, { recursive: true, force: true }));
  mkdirSync(opts.outDir, { recursive: true });
  const outFile = join(opts.outDir, `${timestamp()}.json`);

  const combos = peers.flatMap((p) => opts.sizes.map((size) => ({ peer: p, size })));
  const summarizeAll = (): Summary[] => combos.map((c) => summarize(runs, c.peer, c.size, opts.maxNoisePct));
  const perRun = opts.warmupS + opts.durationS + 1.5;
  console.log('Legate macro bench');
  console.log(`  peers: ${peers.join(', ')}   sizes: ${opts.sizes.join(', ')}`);
  for (const [p, why] of Object.entries(skipped)) console.log(`  skipped ${p}: ${why}`);
  console.log(
    `  ${opts.rounds} round(s) x ${combos.length} runs, wrk -t${opts.threads} -c${opts.connections} -d${opts.durationS}s after ${opts.warmupS}s warm-up` +
      ` (~${Math.ceil((opts.rounds * combos.length * perRun) / 60)} min)`,
  );
  console.log(
    opts.proxyCpu !== undefined
      ? `  pinning: proxy cpu ${opts.proxyCpu}, wrk cpu ${opts.loadCpu}, origin (${opts.originImpl}) cpu ${opts.originCpu}`
      : `  pinning: none`,
  );
  console.log(`  ${meta.cpuModel}, ${meta.cpus} CPUs, ${meta.node}, ${meta.wrk}, ${meta.nginx}, undici ${meta.undici}`);
  for (const n of notes) console.log(`  note: ${n}`);
  console.log('');

  // The origin lives for the whole bench.
  const origin = spawnTracked(
    'origin',
    process.execPath,
    [join(root, 'dist', 'bench', 'origin.js'), '--impl', opts.originImpl, '--exit-with-stdin'],
    { cpu: opts.originCpu, cwd: root, stdinPipe: true },
  );
  const originPort = await waitForListening(origin);
  const originProblems = await checkBodies(originPort, 'origin');
  if (originProblems.length) throw new Error(`origin is broken: ${originProblems.join('; ')}`);

  const runs: RunRecord[] = [];
  const startFailures: Record<string, number> = {};
  const startErrors: Record<string, string> = {};
  let seq = 0;

  const writeResults = (summaries?: Summary[]): void => {
    const summary = summaries ?? summarizeAll();
    const doc = {
      meta: { ...meta, finishedAt: new Date().toISOString() },
      config: { ...opts, outDir: relative(root, opts.outDir) || '.' },
      skipped,
      startErrors,
      notes,
      summary,
      ratios: ratios(runs, summary, opts.sizes),
      runs,
    };
    writeFileSync(outFile, JSON.stringify(doc, null, 2) + '\n');
  };

  const pinnedCores = [opts.proxyCpu, opts.loadCpu, opts.originCpu]
    .filter((c): c is string => c !== undefined && /^\d+$/.test(c))
    .map((c) => `cpu${c}`)
    .filter((c, i, a) => a.indexOf(c) === i);
  /** Start the peer, check it, warm it up, measure once, stop it. */
  const measureOnce = async (peer: string, size: string, round: number, slot: number, attempt: number): Promise<RunRecord> => {
    const rec: RunRecord = { round, slot, attempt, peer, size, valid: false, invalidReasons: [], startedAt: new Date().toISOString() };
    if (peer === 'legate') rec.buildMtime = new Date(newestMtime(join(root, 'dist', 'src'))).toISOString();
    if ((startFailures[peer] ?? 0) >= 2) {
      rec.invalidReasons.push('not started: failed to start twice');
      return rec;
    }
    // Don't start while someone else is using the cores we are about to use.
    if (opts.quietWaitMs > 0 && pinnedCores.length) {
      const q = await waitForQuiet(pinnedCores, opts.maxNoisePct, opts.quietWaitMs);
      rec.quietWaitS = Math.round(q.waitedMs / 100) / 10;
      if (!q.quiet) rec.busyBeforePct = Math.round(q.busyPct);
    }
    let handle: PeerHandle;
    try {
      handle = await PEERS[peer]!.start({
        root,
        tmpDir,
        originPort,
        origin,
        connections: opts.connections,
        cpu: opts.proxyCpu,
        startupTimeoutMs: opts.startupTimeoutMs,
        seq: seq++,
      });
    } catch (e) {
      startFailures[peer] = (startFailures[peer] ?? 0) + 1;
      const msg = (e as Error).message;
      startErrors[peer] = msg.slice(0, 4000);
      rec.invalidReasons.push(`start failed: ${msg.split('\n')[0]}`);
      return rec;
    }
    try {
      const bodyProblems = await checkBodies(handle.port, peer);
      if (bodyProblems.length) {
        rec.invalidReasons.push(...bodyProblems);
        return rec;
      }
      if (opts.warmupS > 0) {
        const w = await runWrkOnce(opts, handle.port, size, opts.warmupS);
        rec.warmup = { rps: w.wrk?.rps, invalidReasons: w.reasons };
      }
      const m = await runWrkOnce(opts, handle.port, size, opts.durationS, { peer: handle.child, origin });
      rec.wrkText = m.text;
      rec.invalidReasons.push(...m.reasons);
      if (handle.child.hasExited()) rec.invalidReasons.push(`${peer} exited during the run`);
      if (origin.hasExited()) throw new Error(`origin exited: ${origin.tail()}`);
      if (m.wrk) {
        rec.rps = m.wrk.rps;
        rec.p50Ms = m.wrk.p50Ms;
        rec.p99Ms = m.wrk.p99Ms;
        if (m.wrk.p90Ms !== undefined) rec.p90Ms = m.wrk.p90Ms;
        rec.requests = m.wrk.requests;
      }
      if (m.cpu) {
        Object.assign(rec, m.cpu);
        if (rec.rps && rec.peerCpuPct && rec.peerCpuPct > 1) rec.rpsPerCpu = rec.rps / (rec.peerCpuPct / 100);
      }
    } finally {
      await handle.stop();
      rec.valid = rec.invalidReasons.length === 0;
    }
    return rec;
  };

  for (let round = 0; round < opts.rounds; round++) {
    const order = roundOrder(combos, round);
    for (let slot = 0; slot < order.length; slot++) {
      const { peer, size } = order[slot]!;
      const label = `[round ${round + 1}/${opts.rounds} ${slot + 1}/${order.length}] ${peer.padEnd(9)} ${size.padEnd(5)}`;
      const attempts: RunRecord[] = [];
      for (let attempt = 0; ; attempt++) {
        const rec = await measureOnce(peer, size, round, slot, attempt);
        const noisy = rec.valid && isNoisy(rec, opts.maxNoisePct);
        const retry = noisy && attempt < opts.retries;
        attempts.push(rec);
        runs.push(rec);
        if (retry) rec.superseded = true;
        else if (noisy) {
          // Every try was noisy: the least disturbed one counts.
          const noise = (r: RunRecord): number => Math.max(r.proxyNoisePct ?? 0, r.loadNoisePct ?? 0);
          const best = attempts.filter((r) => r.valid).reduce((a, b) => (noise(b) < noise(a) ? b : a));
          for (const r of attempts) r.superseded = r !== best;
        }
        const flag = !rec.valid
          ? `INVALID: ${rec.invalidReasons.join('; ')}`
          : noisy
            ? retry
              ? 'NOISY, retrying'
              : rec.superseded
                ? 'NOISY, an earlier try counts'
                : 'ok, NOISY'
            : isLoadBound(rec, opts.maxNoisePct)
              ? 'ok, LOAD-BOUND'
              : 'ok';
        console.log(
          `${label}${attempt ? ` (retry ${attempt})` : ''}  ${fmtInt(rec.rps).padStart(7)} req/s` +
            `  p50 ${fmtNum(rec.p50Ms)} ms  p99 ${fmtNum(rec.p99Ms)} ms` +
            `  proxy cpu ${fmtPct(rec.peerCpuPct)}  load core ${fmtPct(rec.loadCoreBusyPct)}` +
            `  noise ${fmtPct(rec.proxyNoisePct)}/${fmtPct(rec.loadNoisePct)}  ${flag}` +
            (rec.quietWaitS && rec.quietWaitS > 1.5
              ? ` (waited ${rec.quietWaitS}s for quiet cores${rec.busyBeforePct !== undefined ? `, still ${rec.busyBeforePct}% busy` : ''})`
              : ''),
        );
        writeResults();
        if (!retry) break;
      }
    }
  }

  await stopTracked(origin);

  const summaries = summarizeAll();
  writeResults(summaries);
  printReport(summaries, runs, opts);
  console.log(`\nresults: ${relative(process.cwd(), outFile) || outFile}`);
  if (existsSync(outFile) && summaries.every((s) => s.validRuns === 0)) process.exitCode = 1;
}

function printReport(summaries: Summary[], runs: RunRecord[], opts: Options): void {
  console.log('\n== per peer and body size (valid runs only; medians over rounds) ==\n');
  const rows = summaries.map((s) => [
    s.peer,
    s.size,
    `${s.validRuns}/${s.runs}`,
    fmtInt(s.rpsMedian),
    s.rpsMin === undefined ? '-' : `${fmtInt(s.rpsMin)}-${fmtInt(s.rpsMax)}`,
    fmtPct(s.spreadPct),
    fmtNum(s.p50MsMedian),
    fmtNum(s.p99MsMedian),
    fmtPct(s.peerCpuPctMedian),
    fmtPct(s.loadCoreBusyPctMedian) + (s.loadBoundRuns > 0 ? ` !${s.loadBoundRuns}` : ''),
    fmtInt(s.rpsPerCpuMedian),
    `${fmtPct(s.proxyNoisePctMedian)}/${fmtPct(s.loadNoisePctMedian)}` + (s.noisyRuns > 0 ? ` ~${s.noisyRuns}` : ''),
  ]);
  console.log(
    table(
      ['<peer', '<size', 'valid', 'req/s', 'min-max', 'spread', 'p50 ms', 'p99 ms', 'proxy cpu', 'load core', 'req/cpu-s', 'noise p/l'],
      rows,
    ),
  );
  const rs = ratios(runs, summaries, opts.sizes);
  if (rs.length) {
    console.log('\n== ratios (>1 = first is faster; p99 <1 = first has the lower tail) ==\n');
    console.log(
      table(
        ['<ratio', '<size', 'req/s', 'per-round med', 'per-round min-max', 'req/cpu-s', 'p99'],
        rs.map((r) => [
          r.name,
          r.size,
          fmtNum(r.rps),
          fmtNum(r.pairedMedian),
          r.pairedMin === undefined ? '-' : `${fmtNum(r.pairedMin)}-${fmtNum(r.pairedMax)} (${r.pairedRounds})`,
          fmtNum(r.rpsPerCpu),
          fmtNum(r.p99),
        ]),
      ),
    );
  }
  const retried = runs.filter((r) => r.superseded);
  if (retried.length) {
    console.log(`\n${retried.length} noisy run(s) were re-run and left out (all tries are in the JSON, "superseded").`);
  }
  const invalid = runs.filter((r) => !r.valid);
  if (invalid.length) {
    console.log(`\n${invalid.length} invalid run(s), not averaged in:`);
    for (const r of invalid) console.log(`  round ${r.round + 1} ${r.peer} ${r.size}: ${r.invalidReasons.join('; ')}`);
  }
  const builds = new Set(counted(runs).filter((r) => r.peer === 'legate' && r.valid).map((r) => r.buildMtime));
  if (builds.size > 1) {
    console.log(
      `\n! dist/src changed while the bench ran (${builds.size} different Legate builds measured): Legate's numbers mix builds.`,
    );
  }
  const lb = summaries.filter((s) => s.loadBoundRuns > 0);
  if (lb.length) {
    console.log(
      `\n! load-bound: in ${lb.map((s) => `${s.peer}/${s.size} (${s.loadBoundRuns})`).join(', ')} the load core (wrk + origin)` +
        ` was >=95% busy (with wrk + origin, not noise) while the proxy used <90% of its core: those req/s are lower bounds set by this 2-core machine;` +
        ` compare req/cpu-s (requests per CPU-second the proxy spent) instead.`,
    );
  }
  console.log(
    '\ncolumns: proxy cpu = CPU of the peer process tree (% of one core); load core = busy % of the wrk/origin core;' +
      ' req/cpu-s = req/s divided by proxy cpu;\nnoise p/l = share of the proxy / load core taken by other processes + hypervisor steal' +
      ` (~N = runs still above --max-noise ${opts.maxNoisePct}% after retries).`,
  );
}

main().catch((e: unknown) => {
  console.error(`bench failed: ${(e as Error).stack ?? e}`);
  process.exit(1);
});
