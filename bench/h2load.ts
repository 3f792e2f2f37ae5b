// Running h2load (nghttp2's HTTP/2 load generator) and parsing what it prints.

import { writeFileSync } from 'node:fs';
import { spawnTracked, stopTracked, type Tracked } from './proc.js';

export interface H2loadResult {
  /** "finished in ..., N req/s": completed requests / measured time. */
  rps: number;
  durationS: number;
  total: number;
  started: number;
  done: number;
  succeeded: number;
  failed: number;
  errored: number;
  timeout: number;
  status: { '2xx': number; '3xx': number; '4xx': number; '5xx': number };
  /** Bytes of DATA frame payload received (response bodies). */
  dataBytes: number;
  headerBytes: number;
  /** "time for request" mean and max, ms. */
  meanMs?: number;
  maxMs?: number;
  /** ALPN / prior-knowledge protocol: h2c, h2, http/1.1. */
  protocol?: string;
  tlsProtocol?: string;
  cipher?: string;
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000 };

function durMs(s: string): number | undefined {
  const m = /^([\d.]+)(us|ms|s)$/.exec(s);
  return m ? Number(m[1]) * UNIT_MS[m[2]!]! : undefined;
}

/** Parse h2load's text output. Throws when the summary lines are missing. */
export function parseH2loadOutput(text: string): H2loadResult {
  const fin = /^finished in ([\d.]+)(us|ms|s), ([\d.]+) req\/s/m.exec(text);
  const req = /^requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/m.exec(text);
  const st = /^status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/m.exec(text);
  const tr = /^traffic: .*?\((\d+)\) total, .*?\((\d+)\) headers.*?, .*?\((\d+)\) data/m.exec(text);
  if (!fin || !req || !st || !tr) throw new Error(`no summary in h2load output:\n${text.slice(-2000)}`);
  const n = (m: RegExpExecArray, i: number): number => Number(m[i]);
  const r: H2loadResult = {
    rps: Number(fin[3]),
    durationS: Number(fin[1]) * UNIT_MS[fin[2]!]! / 1000,
    total: n(req, 1),
    started: n(req, 2),
    done: n(req, 3),
    succeeded: n(req, 4),
    failed: n(req, 5),
    errored: n(req, 6),
    timeout: n(req, 7),
    status: { '2xx': n(st, 1), '3xx': n(st, 2), '4xx': n(st, 3), '5xx': n(st, 4) },
    headerBytes: n(tr, 2),
    dataBytes: n(tr, 3),
  };
  const t = /^time for request:\s+(\S+)\s+(\S+)\s+(\S+)/m.exec(text);
  if (t) {
    const max = durMs(t[2]!);
    const mean = durMs(t[3]!);
    if (mean !== undefined) r.meanMs = mean;
    if (max !== undefined) r.maxMs = max;
  }
  const proto = /^Application protocol: (\S+)/m.exec(text);
  if (proto) r.protocol = proto[1]!;
  const tls = /^TLS Protocol: (\S+)/m.exec(text);
  if (tls) r.tlsProtocol = tls[1]!;
  const cipher = /^Cipher: (\S+)/m.exec(text);
  if (cipher) r.cipher = cipher[1]!;
  return r;
}

export interface H2loadExpect {
  /** 'h2c' or 'h2': anything else (e.g. http/1.1 after ALPN) makes the run invalid. */
  protocol: string;
  /** Every successful response must carry exactly this many DATA bytes. */
  bodyBytes: number;
  /** TLS runs: the cipher every peer must have agreed on. */
  cipher?: string;
}

/** Reasons a run can't be trusted; empty when the run is valid. */
export function h2loadInvalidReasons(r: H2loadResult, expect: H2loadExpect): string[] {
  const why: string[] = [];
  if (r.protocol !== expect.protocol) why.push(`protocol ${r.protocol ?? 'none negotiated'}, want ${expect.protocol}`);
  if (expect.cipher !== undefined && r.cipher !== expect.cipher) why.push(`cipher ${r.cipher ?? 'none'}, want ${expect.cipher}`);
  if (r.failed > 0) why.push(`${r.failed} failed requests`);
  if (r.errored > 0) why.push(`${r.errored} errored requests`);
  if (r.timeout > 0) why.push(`${r.timeout} timed-out requests`);
  const non2xx = r.status['3xx'] + r.status['4xx'] + r.status['5xx'];
  if (non2xx > 0) why.push(`${non2xx} responses not 2xx (${r.status['4xx']} 4xx, ${r.status['5xx']} 5xx)`);
  if (r.succeeded !== r.done) why.push(`${r.done - r.succeeded} of ${r.done} done requests did not succeed`);
  // Every completed response carries exactly bodyBytes. h2load also counts
  // DATA of the requests still in flight when -D ends (started - done), so
  // allow up to that many bodies on top; a response without its body (e.g. a
  // trailers-only gRPC error) makes the total fall short.
  const want = r.succeeded * expect.bodyBytes;
  const slack = Math.max(0, r.started - r.done) * expect.bodyBytes;
  if (r.dataBytes < want || r.dataBytes > want + slack) {
    why.push(`${r.dataBytes} body bytes for ${r.succeeded} responses, want ${want}${slack ? ` to ${want + slack}` : ''} (${expect.bodyBytes} each)`);
  }
  if (r.done === 0 || r.rps === 0) why.push('no requests completed');
  return why;
}

export interface H2loadRun {
  child: Tracked;
  result: Promise<{ stdout: string; code: number | null }>;
}

export interface H2loadOptions {
  url: string;
  /** Connections (h2load -c). */
  clients: number;
  /** Concurrent streams per connection (h2load -m). */
  streams: number;
  durationS: number;
  cpu?: string;
  /** POST this file as every request's body (gRPC request frame). */
  dataFile?: string;
  headers?: string[];
  /** TLS 1.3 cipher suites h2load offers (--tls13-ciphers). */
  tls13Ciphers?: string;
}

/**
 * What the TLS runs use: h2load offers only this suite, so every peer
 * negotiates the same one (left alone, Node prefers AES-256, nginx AES-128).
 */
export const BENCH_TLS13_CIPHER = 'TLS_AES_128_GCM_SHA256';

/** Write a request body file for h2load -d. */
export function writeDataFile(path: string, body: Buffer): string {
  writeFileSync(path, body);
  return path;
}

export function startH2load(o: H2loadOptions): H2loadRun {
  const args = ['-t1', `-c${o.clients}`, `-m${o.streams}`, '-D', String(o.durationS)];
  if (o.dataFile) args.push('-d', o.dataFile);
  if (o.tls13Ciphers) args.push(`--tls13-ciphers=${o.tls13Ciphers}`);
  for (const h of o.headers ?? []) args.push('-H', h);
  args.push(o.url);
  const child = spawnTracked('h2load', 'h2load', args, { cpu: o.cpu });
  let out = '';
  child.proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  // h2load stops on its own after -D; kill it if it hangs well past that.
  const guard = setTimeout(() => void stopTracked(child, 1000), (o.durationS + 15) * 1000);
  const result = new Promise<{ stdout: string; code: number | null }>((resolve) => {
    child.proc.on('close', (code) => {
      clearTimeout(guard);
      resolve({ stdout: out, code });
    });
  });
  return { child, result };
}
