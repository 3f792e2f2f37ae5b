// The HTTP/2 suites of the macro bench (bench/README.md, "HTTP/2 and gRPC"):
//
//   --suite h2    h2load GET /small|/large over h2c and over TLS (ALPN h2)
//                 through Legate (HTTP/1.1 and HTTP/2 upstream), a minimal
//                 node:http2 proxy and nginx
//   --suite grpc  h2load gRPC unary calls/s straight to a grpc-js server and
//                 through Legate (HTTP/2 upstream), the node:http2 proxy and
//                 nginx (grpc_pass)
//
// Same procedure as the HTTP/1 suite (bench/run.ts): pinned processes,
// Williams-design round order, warm-up, noise checks and retries, medians
// and per-round ratios. Every run is checked: h2load must report no failed,
// errored or timed-out request, only 2xx, the expected protocol (h2c / h2),
// and exactly the expected DATA bytes per response; the peer is checked with
// a real client before and after.

import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { startCpuWindow } from './cpu_window.js';
import { GRPC_REQUEST_FRAME, GRPC_RESPONSE_FRAME_BYTES, GRPC_UNARY_PATH, checkUnary } from './grpc_origin.js';
import { NotHttp2Error, h2Get, openH2, type Transport } from './h2_client.js';
import { BENCH_TLS13_CIPHER, h2loadInvalidReasons, parseH2loadOutput, startH2load, writeDataFile } from './h2load.js';
import { LARGE_BODY, SMALL_BODY } from './origin.js';
import { DEFAULT_H2_PEERS, H2_PEERS, H2_RATIO_PAIRS, type H2PeerHandle, type H2Suite, type OriginRef } from './peers/h2_peers.js';
import { findNginx, hasHttp2Directive, nginxH2OriginConf, nginxVersion } from './peers/nginx.js';
import {
  commandExists,
  freePort,
  haveTaskset,
  httpGet,
  installCleanupHandlers,
  onCleanup,
  sleep,
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
  median,
  ratios,
  roundOrder,
  summarize,
  table,
  type RunRecord,
  type Summary,
} from './stats.js';
import { makeBenchCert, type BenchCert } from './tls_certs.js';
import { repoRoot } from './util.js';

const SIZES: Record<string, { path: string; body: Buffer }> = {
  small: { path: '/small', body: SMALL_BODY },
  large: { path: '/large', body: LARGE_BODY },
};

export const H2_HELP = `HTTP/2 suites: npm run bench -- --suite h2|grpc|h2,grpc [flags]

  --rounds N           rounds; each runs every peer x transport x size once (default 5)
  --duration S         measured seconds per run (default 10)
  --warmup S           discarded warm-up seconds before each run (default 5)
  --clients N          h2load connections (-c, default 10)
  --streams N          concurrent streams per connection (-m, default 10)
  --peers a,b,...      of: ${Object.keys(H2_PEERS).join(', ')}
                       (default h2: ${DEFAULT_H2_PEERS.h2.join(',')}; grpc: ${DEFAULT_H2_PEERS.grpc.join(',')})
  --transports a,b     of: h2c, tls (default h2: h2c,tls; grpc: h2c)
  --sizes a,b          h2 suite: small (2 B), large (16 KiB) (default small,large)
  --upstream-sessions N  node-h2 peer: client sessions to the origin (default 1)
  --h2-origin nginx|node h2c origin of the HTTP/2-upstream peers (default nginx when installed)
  --quick, --proxy-cpu, --load-cpu, --origin-cpu, --no-pin, --no-setup, --max-noise,
  --retries, --quiet-wait, --startup-timeout, --out: as in the HTTP/1 suite
`;

interface H2Options {
  suites: H2Suite[];
  rounds: number;
  durationS: number;
  warmupS: number;
  clients: number;
  streams: number;
  peers?: string[];
  transports?: Transport[];
  sizes: string[];
  upstreamSessions: number;
  h2Origin: 'nginx' | 'node';
  proxyCpu?: string;
  loadCpu?: string;
  originCpu?: string;
  setup: boolean;
  startupTimeoutMs: number;
  outDir: string;
  maxNoisePct: number;
  retries: number;
  quietWaitMs: number;
}

function parseH2Options(root: string, suites: H2Suite[], argv: string[]): H2Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      rounds: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      clients: { type: 'string' },
      streams: { type: 'string' },
      peers: { type: 'string' },
      transports: { type: 'string' },
      sizes: { type: 'string' },
      'upstream-sessions': { type: 'string' },
      'h2-origin': { type: 'string' },
      quick: { type: 'boolean', default: false },
      'proxy-cpu': { type: 'string' },
      'load-cpu': { type: 'string' },
      'origin-cpu': { type: 'string' },
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
    process.stdout.write(H2_HELP);
    process.exit(0);
  }
  const num = (v: string | undefined, dflt: number, name: string, min = 1): number => {
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) throw new Error(`--${name} must be a number >= ${min}, got ${v}`);
    return n;
  };
  const list = <T extends string>(v: string | undefined, known: readonly string[], name: string): T[] | undefined => {
    if (v === undefined) return undefined;
    const xs = v.split(',').map((s) => s.trim()).filter(Boolean);
    for (const x of xs) if (!known.includes(x)) throw new Error(`--${name}: unknown ${x} (known: ${known.join(', ')})`);
    if (xs.length === 0) throw new Error(`--${name} is empty`);
    return [...new Set(xs)] as T[];
  };
  const q = values.quick;
  const pin = !values['no-pin'];
  const loadCpu = pin ? (values['load-cpu'] ?? '1') : undefined;
  const h2o = values['h2-origin'];
  if (h2o !== undefined && h2o !== 'nginx' && h2o !== 'node') throw new Error(`--h2-origin: nginx or node, got ${h2o}`);
  return {
    suites,
    rounds: num(values.rounds, q ? 1 : 5, 'rounds'),
    durationS: num(values.duration, q ? 3 : 10, 'duration'),
    warmupS: num(values.warmup, q ? 2 : 5, 'warmup', 0),
    clients: num(values.clients, 10, 'clients'),
    streams: num(values.streams, 10, 'streams'),
    peers: list(values.peers, Object.keys(H2_PEERS), 'peers'),
    transports: list<Transport>(values.transports, ['h2c', 'tls'], 'transports'),
    sizes: list(values.sizes, Object.keys(SIZES), 'sizes') ?? ['small', 'large'],
    upstreamSessions: num(values['upstream-sessions'], 1, 'upstream-sessions'),
    h2Origin: h2o === 'node' || (h2o === undefined && !findNginx()) ? 'node' : 'nginx',
    proxyCpu: pin ? (values['proxy-cpu'] ?? '0') : undefined,
    loadCpu,
    originCpu: pin ? (values['origin-cpu'] ?? loadCpu) : undefined,
    setup: !values['no-setup'],
    startupTimeoutMs: num(values['startup-timeout'], 30, 'startup-timeout') * 1000,
    outDir: values.out ?? join(root, 'bench', 'results'),
    maxNoisePct: num(values['max-noise'], 15, 'max-noise', 0),
    retries: num(values.retries, 1, 'retries', 0),
    quietWaitMs: num(values['quiet-wait'], 30, 'quiet-wait', 0) * 1000,
  };
}

function preflight(root: string, opts: H2Options, notes: string[]): void {
  const missing = (): string[] => {
    const m: string[] = [];
    if (!commandExists('h2load')) m.push('h2load');
    if (!commandExists('openssl')) m.push('openssl');
    if (!findNginx()) m.push('nginx');
    if (opts.proxyCpu !== undefined && !haveTaskset()) m.push('taskset');
    return m;
  };
  let miss = missing();
  if (miss.length && opts.setup) {
    console.log(`missing: ${miss.join(', ')} -> running bench/setup.sh (pass --no-setup to skip)`);
    const r = spawnSync('bash', [join(root, 'bench', 'setup.sh')], { stdio: 'inherit' });
    if (r.status !== 0) console.log(`bench/setup.sh exited with ${r.status}`);
    miss = missing();
  }
  if (miss.includes('h2load')) throw new Error('h2load is not installed: sudo bash bench/setup.sh  (Debian/Ubuntu: apt-get install nghttp2-client)');
  if (miss.includes('openssl')) throw new Error('openssl is not installed (the TLS runs need a certificate): apt-get install openssl');
  if (miss.includes('nginx')) notes.push('nginx not installed: nginx peer skipped, node:http2 h2c origin used');
  if (miss.includes('taskset') || (opts.proxyCpu !== undefined && os.availableParallelism() < 2)) {
    notes.push('processes are NOT pinned (no taskset or a single CPU)');
    opts.proxyCpu = opts.loadCpu = opts.originCpu = undefined;
  }
}

// ---------------------------------------------------------------------------
// origins

async function startNodeScript(root: string, name: string, script: string, args: string[], cpu?: string): Promise<OriginRef> {
  const proc = spawnTracked(name, process.execPath, [join(root, 'dist', 'bench', script), '--exit-with-stdin', ...args], {
    cpu,
    cwd: root,
    stdinPipe: true,
  });
  return { proc, port: await waitForListening(proc) };
}

async function startNginxH2Origin(tmpDir: string, cpu?: string): Promise<OriginRef> {
  const bin = findNginx()!;
  const prefix = join(tmpDir, 'nginx-h2-origin');
  mkdirSync(join(prefix, 'html'), { recursive: true });
  chmodSync(prefix, 0o755);
  chmodSync(join(prefix, 'html'), 0o755);
  for (const [name, s] of Object.entries(SIZES)) writeFileSync(join(prefix, 'html', name), s.body, { mode: 0o644 });
  const port = await freePort();
  const conf = join(prefix, 'nginx.conf');
  writeFileSync(conf, nginxH2OriginConf({ prefix, listenPort: port, http2Directive: hasHttp2Directive(nginxVersion(bin)) }));
  const proc = spawnTracked('h2-origin', bin, ['-p', prefix, '-c', conf, '-e', join(prefix, 'error.log')], { cpu, cwd: prefix });
  return { proc, port };
}

// ---------------------------------------------------------------------------
// checks

async function checkH2Bodies(port: number, transport: Transport, ca: Buffer, sizes: string[]): Promise<void> {
  for (const size of sizes) {
    const s = SIZES[size]!;
    const r = await h2Get({ port, transport, ca }, s.path);
    if (r.status !== 200) throw new Error(`${s.path}: status ${r.status}`);
    if (!r.body.equals(s.body)) throw new Error(`${s.path}: body differs (${r.body.length} bytes, want ${s.body.length})`);
  }
}

function checkPeer(suite: H2Suite, port: number, transport: Transport, ca: Buffer, sizes: string[]): Promise<void> {
  return suite === 'grpc'
    ? checkUnary(port, { ca: transport === 'tls' ? ca : undefined })
    : checkH2Bodies(port, transport, ca, sizes);
}

/**
 * Ready = an HTTP/2 handshake succeeds, then correct responses. A refused
 * connection is retried until the timeout; a peer that accepts connections
 * but does not speak HTTP/2 on them (NotHttp2Error) fails at once.
 */
async function waitReady(
  child: Tracked,
  port: number,
  suite: H2Suite,
  transport: Transport,
  ca: Buffer,
  sizes: string[],
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  let handshaken = false;
  while (Date.now() < deadline) {
    if (child.hasExited()) throw new Error(`${child.name} exited during startup\n${child.tail()}`);
    try {
      if (!handshaken) {
        (await openH2({ port, transport, ca }, 3000)).close();
        handshaken = true;
      }
      await checkPeer(suite, port, transport, ca, sizes);
      return;
    } catch (e) {
      if (e instanceof NotHttp2Error) throw new Error(`${child.name} on ${transport}: ${e.message}\n${child.tail()}`);
      last = (e as Error).message;
    }
    await sleep(100);
  }
  throw new Error(`${child.name} not ready on port ${port} (${transport}) within ${timeoutMs} ms (last: ${last})\n${child.tail()}`);
}

// ---------------------------------------------------------------------------

interface Combo {
  peer: string;
  transport: Transport;
  size: string;
  /** RunRecord.size: "<size>/<transport>", e.g. small/h2c, unary/tls. */
  key: string;
}

function timestamp(): string {
  return new Date().toISOString().replace(/[:]/g, '-').replace(/\.\d+Z$/, 'Z');
}

function toolVersion(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n')[0] ?? 'unknown';
}

async function runSuite(root: string, suite: H2Suite, opts: H2Options, notes: string[]): Promise<void> {
  const transports = opts.transports ?? (suite === 'h2' ? (['h2c', 'tls'] as Transport[]) : (['h2c'] as Transport[]));
  const sizes = suite === 'h2' ? opts.sizes : ['unary'];
  const wanted = opts.peers ?? DEFAULT_H2_PEERS[suite];
  const skipped: Record<string, string> = {};
  const combos: Combo[] = [];
  for (const peer of wanted) {
    for (const transport of transports) {
      const why = H2_PEERS[peer]!.unavailable(root, suite, transport);
      if (why) {
        skipped[`${peer}/${transport}`] = why;
        continue;
      }
      for (const size of sizes) combos.push({ peer, transport, size, key: `${size}/${transport}` });
    }
  }
  if (combos.length === 0) throw new Error(`${suite}: no peer can run: ${JSON.stringify(skipped)}`);
  const keys = [...new Set(combos.map((c) => c.key))];

  const tmpDir = mkdtempSync(join(os.tmpdir(), `legate-bench-${suite}-`));
  onCleanup(() => rmSync(tmpDir, { recursive: true, force: true }));
  chmodSync(tmpDir, 0o755); // nginx workers (unprivileged) read the certificate and files under it
  const cert: BenchCert = makeBenchCert(tmpDir);
  chmodSync(cert.keyFile, 0o644);
  const ca = readFileSync(cert.certFile);
  mkdirSync(opts.outDir, { recursive: true });
  const outFile = join(opts.outDir, `${timestamp()}-${suite}.json`);

  // Origins live for the whole suite, pinned next to h2load.
  const origins: { http1?: OriginRef; h2?: OriginRef; grpc?: OriginRef } = {};
  let dataFile: string | undefined;
  if (suite === 'h2') {
    origins.http1 = await startNodeScript(root, 'origin', 'origin.js', ['--impl', 'net'], opts.originCpu);
    for (const [name, s] of Object.entries(SIZES)) {
      const r = await httpGet(origins.http1.port, s.path, 5000);
      if (r.status !== 200 || !r.body.equals(s.body)) throw new Error(`HTTP/1.1 origin is broken on ${name}`);
    }
    origins.h2 =
      opts.h2Origin === 'nginx'
        ? await startNginxH2Origin(tmpDir, opts.originCpu)
        : await startNodeScript(root, 'h2-origin', 'h2_origin.js', [], opts.originCpu);
    await waitReady(origins.h2.proc, origins.h2.port, 'h2', 'h2c', ca, sizes, opts.startupTimeoutMs);
  } else {
    origins.grpc = await startNodeScript(root, 'grpc-origin', 'grpc_origin.js', [], opts.originCpu);
    await checkUnary(origins.grpc.port);
    dataFile = writeDataFile(join(tmpDir, 'grpc-request.bin'), GRPC_REQUEST_FRAME);
  }

  const meta = {
    suite,
    startedAt: new Date().toISOString(),
    host: os.hostname(),
    cpus: os.availableParallelism(),
    loadavgAtStart: os.loadavg(),
    node: process.version,
    h2load: toolVersion('h2load', ['--version']),
    nginx: findNginx() ? toolVersion(findNginx()!, ['-v']) : 'not installed',
    h2Origin: suite === 'h2' ? opts.h2Origin : undefined,
    pinned: opts.proxyCpu !== undefined,
  };
  const perRun = opts.warmupS + opts.durationS + 2;
  console.log(`Legate macro bench, suite ${suite}`);
  console.log(`  peers: ${[...new Set(combos.map((c) => c.peer))].join(', ')}   transports: ${transports.join(', ')}   ${suite === 'h2' ? `sizes: ${sizes.join(', ')}` : `gRPC unary ${GRPC_UNARY_PATH}`}`);
  for (const [p, why] of Object.entries(skipped)) console.log(`  skipped ${p}: ${why}`);
  console.log(
    `  ${opts.rounds} round(s) x ${combos.length} runs, h2load -t1 -c${opts.clients} -m${opts.streams} -D ${opts.durationS} after ${opts.warmupS}s warm-up` +
      ` (~${Math.ceil((opts.rounds * combos.length * perRun) / 60)} min)`,
  );
  console.log(
    opts.proxyCpu !== undefined
      ? `  pinning: proxy cpu ${opts.proxyCpu}, h2load cpu ${opts.loadCpu}, origins cpu ${opts.originCpu}`
      : '  pinning: none',
  );
  if (suite === 'h2') {
    console.log(`  origins: HTTP/1.1 net origin (legate, nginx); h2c ${opts.h2Origin} origin (legate-h2up, node-h2)`);
    console.log('  nginx proxies to its upstream over HTTP/1.1 keep-alive (nginx has no HTTP/2 upstream except grpc_pass)');
  }
  console.log(`  ${meta.node}, ${meta.h2load}, ${meta.nginx}`);
  for (const n of notes) console.log(`  note: ${n}`);
  console.log('');

  const runs: RunRecord[] = [];
  const startFailures: Record<string, number> = {};
  const startErrors: Record<string, string> = {};
  let seq = 0;
  const summarizeAll = (): Summary[] => combos.map((c) => summarize(runs, c.peer, c.key, opts.maxNoisePct));
  const writeResults = (summaries?: Summary[]): void => {
    const summary = summaries ?? summarizeAll();
    const doc = {
      meta: { ...meta, finishedAt: new Date().toISOString() },
      config: { ...opts, outDir: relative(root, opts.outDir) || '.' },
      skipped,
      startErrors,
      notes,
      summary,
      ratios: ratios(runs, summary, keys, H2_RATIO_PAIRS[suite]),
      runs,
    };
    writeFileSync(outFile, JSON.stringify(doc, null, 2) + '\n');
  };
  const pinnedCores = [opts.proxyCpu, opts.loadCpu, opts.originCpu]
    .filter((c): c is string => c !== undefined && /^\d+$/.test(c))
    .map((c) => `cpu${c}`)
    .filter((c, i, a) => a.indexOf(c) === i);

  const runH2load = (port: number, c: Combo, durationS: number) => {
    const scheme = c.transport === 'tls' ? 'https' : 'http';
    return startH2load({
      url: `${scheme}://127.0.0.1:${port}${suite === 'grpc' ? GRPC_UNARY_PATH : SIZES[c.size]!.path}`,
      clients: opts.clients,
      streams: opts.streams,
      durationS,
      cpu: opts.loadCpu,
      dataFile,
      headers: suite === 'grpc' ? ['content-type: application/grpc', 'te: trailers'] : [],
      tls13Ciphers: c.transport === 'tls' ? BENCH_TLS13_CIPHER : undefined,
    });
  };
  const expect = (c: Combo) => ({
    protocol: c.transport === 'tls' ? 'h2' : 'h2c',
    bodyBytes: suite === 'grpc' ? GRPC_RESPONSE_FRAME_BYTES : SIZES[c.size]!.body.length,
    cipher: c.transport === 'tls' ? BENCH_TLS13_CIPHER : undefined,
  });

  const measureOnce = async (c: Combo, round: number, slot: number, attempt: number): Promise<RunRecord> => {
    const rec: RunRecord = { round, slot, attempt, peer: c.peer, size: c.key, valid: false, invalidReasons: [], startedAt: new Date().toISOString() };
    const failKey = `${c.peer}/${c.transport}`;
    if ((startFailures[failKey] ?? 0) >= 2) {
      rec.invalidReasons.push('not started: failed to start twice');
      return rec;
    }
    if (opts.quietWaitMs > 0 && pinnedCores.length) {
      const q = await waitForQuiet(pinnedCores, opts.maxNoisePct, opts.quietWaitMs);
      rec.quietWaitS = Math.round(q.waitedMs / 100) / 10;
      if (!q.quiet) rec.busyBeforePct = Math.round(q.busyPct);
    }
    let handle: H2PeerHandle;
    try {
      handle = await H2_PEERS[c.peer]!.start({
        root,
        tmpDir,
        suite,
        transport: c.transport,
        cert,
        origins,
        upstreamSessions: opts.upstreamSessions,
        cpu: opts.proxyCpu,
        seq: seq++,
        waitReady: (child, port) => waitReady(child, port, suite, c.transport, ca, sizes.filter((s) => s in SIZES), opts.startupTimeoutMs),
      });
    } catch (e) {
      startFailures[failKey] = (startFailures[failKey] ?? 0) + 1;
      const msg = (e as Error).message;
      startErrors[failKey] = msg.slice(0, 4000);
      rec.invalidReasons.push(`start failed: ${msg.split('\n')[0]}`);
      return rec;
    }
    try {
      if (opts.warmupS > 0) {
        const w = await runH2load(handle.port, c, opts.warmupS).result;
        try {
          const p = parseH2loadOutput(w.stdout);
          rec.warmup = { rps: p.rps, invalidReasons: h2loadInvalidReasons(p, expect(c)) };
        } catch (e) {
          rec.warmup = { invalidReasons: [(e as Error).message.split('\n')[0]!] };
        }
      }
      const run = runH2load(handle.port, c, opts.durationS);
      const window = startCpuWindow({ peer: handle.child.pid, origin: handle.origin.pid, load: run.child.pid }, opts.durationS, opts);
      const { stdout, code } = await run.result;
      const cpu = window.finish();
      rec.h2loadText = stdout;
      try {
        const r = parseH2loadOutput(stdout);
        rec.invalidReasons.push(...h2loadInvalidReasons(r, expect(c)));
        rec.rps = r.rps;
        rec.requests = r.done;
        if (r.meanMs !== undefined) rec.meanMs = r.meanMs;
        if (r.maxMs !== undefined) rec.maxMs = r.maxMs;
        if (r.protocol) rec.protocol = r.protocol;
        if (r.cipher) rec.cipher = r.cipher;
      } catch (e) {
        rec.invalidReasons.push(`could not parse h2load output (exit ${code}): ${(e as Error).message.split('\n')[0]}`);
      }
      if (code !== 0) rec.invalidReasons.push(`h2load exited with ${code}: ${stdout.trim().split('\n').slice(-2).join(' | ')}`);
      if (cpu) {
        Object.assign(rec, cpu);
        if (rec.rps && rec.peerCpuPct && rec.peerCpuPct > 1) rec.rpsPerCpu = rec.rps / (rec.peerCpuPct / 100);
      }
      if (handle.child.hasExited()) rec.invalidReasons.push(`${c.peer} exited during the run`);
      else {
        // Still correct after the load (a real client, not h2load).
        try {
          await checkPeer(suite, handle.port, c.transport, ca, suite === 'h2' ? [c.size] : []);
        } catch (e) {
          rec.invalidReasons.push(`after the run: ${(e as Error).message}`);
        }
      }
      for (const o of Object.values(origins)) if (o?.proc.hasExited()) throw new Error(`${o.proc.name} exited: ${o.proc.tail()}`);
    } finally {
      await handle.stop();
      rec.valid = rec.invalidReasons.length === 0;
    }
    return rec;
  };

  for (let round = 0; round < opts.rounds; round++) {
    const order = roundOrder(combos, round);
    for (let slot = 0; slot < order.length; slot++) {
      const c = order[slot]!;
      const label = `[${suite} round ${round + 1}/${opts.rounds} ${slot + 1}/${order.length}] ${c.peer.padEnd(11)} ${c.key.padEnd(11)}`;
      const attempts: RunRecord[] = [];
      for (let attempt = 0; ; attempt++) {
        const rec = await measureOnce(c, round, slot, attempt);
        const noisy = rec.valid && isNoisy(rec, opts.maxNoisePct);
        const retry = noisy && attempt < opts.retries;
        attempts.push(rec);
        runs.push(rec);
        if (retry) rec.superseded = true;
        else if (noisy) {
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
          `${label}${attempt ? ` (retry ${attempt})` : ''}  ${fmtInt(rec.rps).padStart(7)} req/s  mean ${fmtNum(rec.meanMs)} ms` +
            `  proxy cpu ${fmtPct(rec.peerCpuPct)}  load core ${fmtPct(rec.loadCoreBusyPct)}` +
            `  noise ${fmtPct(rec.proxyNoisePct)}/${fmtPct(rec.loadNoisePct)}  ${flag}`,
        );
        writeResults();
        if (!retry) break;
      }
    }
  }

  for (const o of Object.values(origins)) if (o) await stopTracked(o.proc);
  const summaries = summarizeAll();
  writeResults(summaries);
  printReport(suite, summaries, runs, keys, opts.maxNoisePct);
  for (const [k, e] of Object.entries(startErrors)) console.log(`\nstart error ${k}: ${e.split('\n').slice(0, 6).join('\n  ')}`);
  console.log(`\nresults: ${relative(process.cwd(), outFile) || outFile}`);
  if (summaries.every((s) => s.validRuns === 0)) process.exitCode = 1;
}

function printReport(suite: H2Suite, summaries: Summary[], runs: RunRecord[], keys: string[], maxNoisePct: number): void {
  const unit = suite === 'grpc' ? 'calls/s' : 'req/s';
  console.log(`\n== ${suite}: per peer, ${suite === 'grpc' ? 'transport' : 'size/transport'} (valid runs only; medians over rounds) ==\n`);
  const meanOf = (s: Summary, k: 'meanMs' | 'maxMs'): number | undefined =>
    median(counted(runs).filter((r) => r.valid && r.peer === s.peer && r.size === s.size && r[k] !== undefined).map((r) => r[k]!));
  console.log(
    table(
      ['<peer', '<case', 'valid', unit, 'min-max', 'spread', 'mean ms', 'max ms', 'proxy cpu', 'load core', `${unit}/cpu`, 'noise p/l'],
      summaries.map((s) => [
        s.peer,
        s.size,
        `${s.validRuns}/${s.runs}`,
        fmtInt(s.rpsMedian),
        s.rpsMin === undefined ? '-' : `${fmtInt(s.rpsMin)}-${fmtInt(s.rpsMax)}`,
        fmtPct(s.spreadPct),
        fmtNum(meanOf(s, 'meanMs')),
        fmtNum(meanOf(s, 'maxMs'), 1),
        fmtPct(s.peerCpuPctMedian),
        fmtPct(s.loadCoreBusyPctMedian) + (s.loadBoundRuns > 0 ? ` !${s.loadBoundRuns}` : ''),
        fmtInt(s.rpsPerCpuMedian),
        `${fmtPct(s.proxyNoisePctMedian)}/${fmtPct(s.loadNoisePctMedian)}` + (s.noisyRuns > 0 ? ` ~${s.noisyRuns}` : ''),
      ]),
    ),
  );
  const rs = ratios(runs, summaries, keys, H2_RATIO_PAIRS[suite]);
  if (rs.length) {
    console.log('\n== ratios (>1 = first is faster) ==\n');
    console.log(
      table(
        ['<ratio', '<case', unit, 'per-round med', 'per-round min-max', `${unit}/cpu`],
        rs.map((r) => [
          r.name,
          r.size,
          fmtNum(r.rps),
          fmtNum(r.pairedMedian),
          r.pairedMin === undefined ? '-' : `${fmtNum(r.pairedMin)}-${fmtNum(r.pairedMax)} (${r.pairedRounds})`,
          fmtNum(r.rpsPerCpu),
        ]),
      ),
    );
  }
  const invalid = runs.filter((r) => !r.valid);
  if (invalid.length) {
    console.log(`\n${invalid.length} invalid run(s), not averaged in:`);
    for (const r of invalid) console.log(`  round ${r.round + 1} ${r.peer} ${r.size}: ${r.invalidReasons.join('; ')}`);
  }
  const lb = summaries.filter((s) => s.loadBoundRuns > 0);
  if (lb.length) {
    console.log(
      `\n! load-bound: ${lb.map((s) => `${s.peer}/${s.size} (${s.loadBoundRuns})`).join(', ')}: the load core (h2load + origin) was saturated` +
        ` while the proxy was not; compare ${unit}/cpu there.`,
    );
  }
  console.log(
    `\ncolumns: mean/max ms = h2load's "time for request" (it reports no percentiles); proxy cpu = CPU of the peer (% of one core);` +
      ` load core = busy % of the h2load/origin core; ${unit}/cpu = ${unit} per CPU-second of the peer;` +
      ` noise p/l = other processes + steal on the proxy / load core (~N = runs above ${maxNoisePct}%).`,
  );
}

/** Entry from bench/run.ts for --suite h2|grpc|h2,grpc. */
export async function runH2Suites(suites: H2Suite[], argv: string[]): Promise<void> {
  const root = repoRoot();
  const opts = parseH2Options(root, suites, argv);
  installCleanupHandlers();
  const notes: string[] = [];
  preflight(root, opts, notes);
  for (const suite of suites) await runSuite(root, suite, opts, notes);
}
