// Running wrk and parsing what it prints.

import { join } from 'node:path';
import { repoRoot } from './util.js';
import { spawnTracked, stopTracked, type Tracked } from './proc.js';

export interface WrkJson {
  requests: number;
  duration_us: number;
  bytes: number;
  non200: number;
  first_bad_status: number;
  bad_body: number;
  connect_errors: number;
  read_errors: number;
  write_errors: number;
  status_errors: number;
  timeouts: number;
  lat_mean_us: number;
  lat_max_us: number;
  p50_us: number;
  p90_us: number;
  p99_us: number;
  p999_us: number;
}

export interface WrkResult {
  /** Requests/sec line. */
  rps: number;
  /** From the --latency distribution, in milliseconds. */
  p50Ms: number;
  p75Ms?: number;
  p90Ms?: number;
  p99Ms: number;
  requests: number;
  durationS: number;
  /** Non-2xx/3xx responses as wrk reports them (status > 399). */
  non2xx: number;
  socketErrors: { connect: number; read: number; write: number; timeout: number };
  /** From the Lua script: responses whose status was not exactly 200. */
  json?: WrkJson;
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

function toMs(value: string, unit: string): number {
  const f = UNIT_MS[unit];
  if (f === undefined) throw new Error(`unknown wrk time unit ${unit}`);
  return Number(value) * f;
}

/** Parse wrk's text output (run with --latency and our report.lua). */
export function parseWrkOutput(text: string): WrkResult {
  const rpsM = /^Requests\/sec:\s+([\d.]+)/m.exec(text);
  if (!rpsM) throw new Error(`no "Requests/sec" in wrk output:\n${text}`);
  const pct = new Map<string, number>();
  const distAt = text.indexOf('Latency Distribution');
  if (distAt >= 0) {
    const re = /^\s*(50|75|90|99)(?:\.000)?%\s+([\d.]+)(us|ms|s|m|h)\s*$/gm;
    re.lastIndex = distAt;
    let m: RegExpExecArray | null;
    while ((m = re.exec(text))) pct.set(m[1]!, toMs(m[2]!, m[3]!));
  }
  const p50 = pct.get('50');
  const p99 = pct.get('99');
  if (p50 === undefined || p99 === undefined) throw new Error(`no latency distribution in wrk output (was --latency passed?):\n${text}`);
  const reqM = /^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h)/m.exec(text);
  const non2xxM = /^\s*Non-2xx or 3xx responses:\s+(\d+)/m.exec(text);
  const sockM = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const jsonM = /^WRK_JSON (\{.*\})\s*$/m.exec(text);
  const result: WrkResult = {
    rps: Number(rpsM[1]),
    p50Ms: p50,
    p99Ms: p99,
    requests: reqM ? Number(reqM[1]) : 0,
    durationS: reqM ? toMs(reqM[2]!, reqM[3]!) / 1000 : 0,
    non2xx: non2xxM ? Number(non2xxM[1]) : 0,
    socketErrors: sockM
      ? { connect: Number(sockM[1]), read: Number(sockM[2]), write: Number(sockM[3]), timeout: Number(sockM[4]) }
      : { connect: 0, read: 0, write: 0, timeout: 0 },
  };
  if (pct.has('75')) result.p75Ms = pct.get('75')!;
  if (pct.has('90')) result.p90Ms = pct.get('90')!;
  if (jsonM) result.json = JSON.parse(jsonM[1]!) as WrkJson;
  return result;
}

/** Reasons a run can't be trusted; empty when the run is valid. */
export function invalidReasons(r: WrkResult, opts: { requireLuaCheck?: boolean } = {}): string[] {
  const why: string[] = [];
  if (r.non2xx > 0) why.push(`${r.non2xx} non-2xx/3xx responses`);
  const s = r.socketErrors;
  for (const k of ['connect', 'read', 'write', 'timeout'] as const) {
    if (s[k] > 0) why.push(`${s[k]} socket ${k} errors`);
  }
  if (r.json) {
    if (r.json.non200 > 0) why.push(`${r.json.non200} responses not 200 (e.g. ${r.json.first_bad_status})`);
    if (r.json.bad_body > 0) why.push(`${r.json.bad_body} responses with a body of the wrong length`);
  } else if (opts.requireLuaCheck ?? true) {
    why.push('status check script did not report (WRK_JSON line missing)');
  }
  if (r.requests === 0 || r.rps === 0) why.push('no requests completed');
  return why;
}

export function luaScriptPath(): string {
  return join(repoRoot(), 'bench', 'wrk', 'report.lua');
}

export interface WrkRun {
  /** The wrk process (for CPU sampling); already started. */
  child: Tracked;
  /** Resolves with wrk's stdout once it exits. */
  result: Promise<{ stdout: string; code: number | null }>;
}

export function startWrk(opts: {
  url: string;
  connections: number;
  threads: number;
  durationS: number;
  cpu?: string;
  timeoutS?: number;
  /** Expected body length; every 200 response's body is checked against it. */
  expectBodyBytes?: number;
}): WrkRun {
  const args = [
    `-t${opts.threads}`,
    `-c${opts.connections}`,
    `-d${opts.durationS}s`,
    `--timeout`,
    `${opts.timeoutS ?? 2}s`,
    '--latency',
    '-s',
    luaScriptPath(),
    opts.url,
  ];
  if (opts.expectBodyBytes !== undefined) args.push('--', String(opts.expectBodyBytes));
  const child = spawnTracked('wrk', 'wrk', args, { cpu: opts.cpu });
  let out = '';
  child.proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  // wrk stops on its own; kill it if it hangs well past its duration.
  const guard = setTimeout(() => void stopTracked(child, 1000), (opts.durationS + 15) * 1000);
  // 'close' (not 'exit') so all of stdout has been read.
  const result = new Promise<{ stdout: string; code: number | null }>((resolve) => {
    child.proc.on('close', (code) => {
      clearTimeout(guard);
      resolve({ stdout: out, code });
    });
  });
  return { child, result };
}
