// Process management for the bench: spawn tracked children (optionally pinned
// with taskset), wait for readiness, stop them, clean up on exit/Ctrl-C, and
// read CPU accounting from /proc.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';

export interface Tracked {
  name: string;
  proc: ChildProcess;
  pid: number;
  /** Last ~8 KiB of stdout+stderr, for error messages. */
  tail(): string;
  /** Resolves when the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  hasExited(): boolean;
}

const live = new Set<Tracked>();
const cleanups: Array<() => void> = [];

let tasksetAvailable: boolean | undefined;
export function haveTaskset(): boolean {
  if (tasksetAvailable === undefined) tasksetAvailable = commandExists('taskset');
  return tasksetAvailable;
}

export function commandExists(cmd: string): boolean {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
  return r.status === 0;
}

/**
 * Spawn a child. With `cpu` set (and taskset present) it runs as
 * `taskset -c <cpu> cmd args...`; taskset execs, so the pid is the command's.
 */
export function spawnTracked(
  name: string,
  cmd: string,
  args: string[],
  opts: { cpu?: string; cwd?: string; env?: NodeJS.ProcessEnv; stdinPipe?: boolean } = {},
): Tracked {
  let file = cmd;
  let argv = args;
  if (opts.cpu !== undefined && haveTaskset()) {
    file = 'taskset';
    argv = ['-c', opts.cpu, cmd, ...args];
  }
  const proc = spawn(file, argv, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: [opts.stdinPipe ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  let buf = '';
  const add = (d: Buffer): void => {
    buf += d.toString();
    if (buf.length > 16384) buf = buf.slice(-8192);
  };
  proc.stdout!.on('data', add);
  proc.stderr!.on('data', add);
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.on('exit', (code, signal) => {
      done = true;
      live.delete(t);
      resolve({ code, signal });
    });
    proc.on('error', (err) => {
      add(Buffer.from(`spawn error: ${err.message}\n`));
      done = true;
      live.delete(t);
      resolve({ code: -1, signal: null });
    });
  });
  const t: Tracked = {
    name,
    proc,
    pid: proc.pid ?? -1,
    tail: () => buf.slice(-4000),
    exited,
    hasExited: () => done,
  };
  live.add(t);
  return t;
}

/** Wait until a child prints "LISTENING <port>" and return the port. */
export function waitForListening(t: Tracked, timeoutMs = 10_000): Promise<number> {
  return new Promise((resolve, reject) => {
    let acc = '';
    const timer = setTimeout(() => finish(new Error(`${t.name}: no LISTENING line within ${timeoutMs} ms\n${t.tail()}`)), timeoutMs);
    const onData = (d: Buffer): void => {
      acc += d.toString();
      const m = /LISTENING (\d+)/.exec(acc);
      if (m) finish(null, Number(m[1]));
    };
    const onExit = (): void => finish(new Error(`${t.name} exited before listening\n${t.tail()}`));
    function finish(err: Error | null, port?: number): void {
      clearTimeout(timer);
      t.proc.stdout!.off('data', onData);
      t.proc.off('exit', onExit);
      if (err) reject(err);
      else resolve(port!);
    }
    t.proc.stdout!.on('data', onData);
    t.proc.on('exit', onExit);
  });
}

/** One GET; resolves with status and body, rejects on socket errors. */
export function httpGet(port: number, path: string, timeoutMs = 2000): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/**
 * Poll until GET <path> through the port answers 200 (listener up and
 * routing to the origin), the child exits, or the timeout passes.
 */
export async function waitHttpReady(t: Tracked, port: number, path: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (t.hasExited()) throw new Error(`${t.name} exited during startup\n${t.tail()}`);
    try {
      const r = await httpGet(port, path, 1000);
      if (r.status === 200) return;
      last = `status ${r.status}`;
    } catch (e) {
      last = (e as Error).message;
    }
    await sleep(100);
  }
  throw new Error(`${t.name} not ready on port ${port} within ${timeoutMs} ms (last: ${last})\n${t.tail()}`);
}

export async function stopTracked(t: Tracked, graceMs = 3000): Promise<void> {
  if (t.hasExited()) return;
  try {
    t.proc.kill('SIGTERM');
  } catch {
    // already gone
  }
  const timer = setTimeout(() => {
    try {
      t.proc.kill('SIGKILL');
    } catch {
      // already gone
    }
  }, graceMs);
  await t.exited;
  clearTimeout(timer);
}

/** Register a synchronous cleanup (e.g. removing a temp dir) for exit. */
export function onCleanup(fn: () => void): void {
  cleanups.push(fn);
}

function killAllSync(): void {
  for (const t of live) {
    // The whole tree: an nginx master killed alone leaves its worker running.
    for (const pid of [...descendants(t.pid), t.pid]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  live.clear();
  while (cleanups.length) {
    try {
      cleanups.pop()!();
    } catch {
      // ignore
    }
  }
}

let installed = false;
/** Make sure every child dies with us: normal exit, Ctrl-C, SIGTERM, crashes. */
export function installCleanupHandlers(): void {
  if (installed) return;
  installed = true;
  process.on('exit', killAllSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      process.stderr.write(`\n${sig}: stopping ${live.size} child process(es)\n`);
      killAllSync();
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  }
  process.on('uncaughtException', (err) => {
    process.stderr.write(`uncaught: ${err.stack ?? err}\n`);
    killAllSync();
    process.exit(1);
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A free TCP port on 127.0.0.1 (bind port 0, read it, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------------------
// CPU accounting

let clkTck: number | undefined;
function ticksPerSecond(): number {
  if (clkTck === undefined) {
    const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
    const n = Number(r.stdout?.trim());
    clkTck = n > 0 ? n : 100;
  }
  return clkTck;
}

function procStat(pid: number): { ppid: number; ticks: number } | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm may contain spaces/parens: fields start after the last ')'.
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // f[0]=state(3) f[1]=ppid(4) ... utime(14)=f[11] stime(15)=f[12]
    return { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) };
  } catch {
    return undefined;
  }
}

/** Live descendants of pid (children first found, then theirs); one scan of /proc. */
export function descendants(pid: number): number[] {
  const kids = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    const p = Number(name);
    if (!Number.isInteger(p) || p <= 0) continue;
    const st = procStat(p);
    if (!st) continue;
    const arr = kids.get(st.ppid);
    if (arr) arr.push(p);
    else kids.set(st.ppid, [p]);
  }
  const out: number[] = [];
  const stack = [...(kids.get(pid) ?? [])];
  while (stack.length) {
    const p = stack.pop()!;
    out.push(p);
    stack.push(...(kids.get(p) ?? []));
  }
  return out;
}

/** CPU seconds used so far by each pid together with its (live) descendants; one scan of /proc. */
export function treesCpuSeconds(pids: readonly number[]): number[] {
  const kids = new Map<number, number[]>();
  const ticks = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    const p = Number(name);
    if (!Number.isInteger(p) || p <= 0) continue;
    const st = procStat(p);
    if (!st) continue;
    ticks.set(p, st.ticks);
    const arr = kids.get(st.ppid);
    if (arr) arr.push(p);
    else kids.set(st.ppid, [p]);
  }
  return pids.map((pid) => {
    let total = 0;
    const stack = [pid];
    while (stack.length) {
      const p = stack.pop()!;
      total += ticks.get(p) ?? 0;
      for (const k of kids.get(p) ?? []) stack.push(k);
    }
    return total / ticksPerSecond();
  });
}

export function treeCpuSeconds(pid: number): number {
  return treesCpuSeconds([pid])[0]!;
}

export interface CoreSample {
  /** per core: [busy ticks, total ticks, steal ticks] */
  cores: Map<string, [number, number, number]>;
}

export function sampleCores(): CoreSample {
  const cores = new Map<string, [number, number, number]>();
  for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
    const m = /^(cpu\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const v = m[2]!.split(/\s+/).map(Number);
    // user nice system idle iowait irq softirq steal guest guest_nice
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    const steal = v[7] ?? 0;
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    cores.set(m[1]!, [total - idle - steal, total, steal]);
  }
  return { cores };
}

/** Busy% and steal% of a core between two samples. */
export function coreUsage(a: CoreSample, b: CoreSample, core: string): { busyPct: number; stealPct: number } | undefined {
  const x = a.cores.get(core);
  const y = b.cores.get(core);
  if (!x || !y) return undefined;
  const total = y[1] - x[1];
  if (total <= 0) return undefined;
  return { busyPct: ((y[0] - x[0]) / total) * 100, stealPct: ((y[2] - x[2]) / total) * 100 };
}

/**
 * Wait until the given cores are quiet: over a 1 s sample, each one's busy +
 * steal stays at or under maxBusyPct. Gives up after maxWaitMs. Returns how
 * long it waited and the last sample's worst busy %.
 */
export async function waitForQuiet(
  cores: string[],
  maxBusyPct: number,
  maxWaitMs: number,
): Promise<{ waitedMs: number; quiet: boolean; busyPct: number }> {
  const t0 = Date.now();
  for (;;) {
    const a = sampleCores();
    await sleep(1000);
    const b = sampleCores();
    let worst = 0;
    for (const c of cores) {
      const u = coreUsage(a, b, c);
      if (u) worst = Math.max(worst, u.busyPct + u.stealPct);
    }
    const waitedMs = Date.now() - t0;
    if (worst <= maxBusyPct) return { waitedMs, quiet: true, busyPct: worst };
    if (waitedMs >= maxWaitMs) return { waitedMs, quiet: false, busyPct: worst };
  }
}
