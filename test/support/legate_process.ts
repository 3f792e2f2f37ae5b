/**
 * Starts the real `bin/legate` CLI on a bootstrap written to a temp file and
 * learns the bound listener and admin ports from its start-up log, so tests
 * use port 0 everywhere and can run side by side.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const LEGATE_BIN = join(REPO_ROOT, 'bin/legate');

export interface LegateProcess {
  readonly proc: ChildProcess;
  /** Listener name → bound port. */
  readonly ports: Map<string, number>;
  readonly adminPort: number | null;
  /** Everything written to stdout/stderr so far. */
  output(): string;
  /** Waits until the output matches. */
  waitForOutput(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** SIGTERM and wait for exit; returns the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  readonly configPath: string;
}

export function writeTempConfig(yaml: string, name = 'bootstrap.yaml'): string {
  const dir = mkdtempSync(join(tmpdir(), 'legate-test-'));
  const p = join(dir, name);
  writeFileSync(p, yaml);
  return p;
}

/** Runs `legate` with args and resolves when it exits (for --mode validate, --help...). */
export function runLegate(args: string[], timeoutMs = 15000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const p = spawn(process.execPath, [LEGATE_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    const t = setTimeout(() => { p.kill('SIGKILL'); reject(new Error(`legate ${args.join(' ')} timed out:\n${stdout}\n${stderr}`)); }, timeoutMs);
    p.on('exit', (code) => { clearTimeout(t); resolvePromise({ code, stdout, stderr }); });
  });
}

/**
 * Starts Legate with `yaml` and waits for every listener named in
 * `expectListeners` (and admin, when configured) to report its address.
 */
export async function startLegate(yaml: string, opts: { args?: string[]; expectListeners: string[]; expectAdmin?: boolean; timeoutMs?: number }): Promise<LegateProcess> {
  const configPath = writeTempConfig(yaml);
  const proc = spawn(process.execPath, [LEGATE_BIN, '-c', configPath, ...(opts.args ?? [])], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const waiters: Array<() => void> = [];
  const onData = (d: Buffer): void => {
    out += d.toString();
    for (const w of waiters.slice()) w();
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  let exited = false;
  let exitCode: number | null = null;
  const exitPromise = new Promise<number | null>((r) => proc.on('exit', (code) => { exited = true; exitCode = code; for (const w of waiters.slice()) w(); r(code); }));

  const waitForOutput = (re: RegExp, timeoutMs = opts.timeoutMs ?? 15000): Promise<RegExpMatchArray> =>
    new Promise((res, rej) => {
      const check = (): boolean => {
        const m = out.match(re);
        if (m) { cleanup(); res(m); return true; }
        if (exited) { cleanup(); rej(new Error(`legate exited (${exitCode}) before ${re}:\n${out}`)); return true; }
        return false;
      };
      const t = setTimeout(() => { cleanup(); rej(new Error(`timed out waiting for ${re}:\n${out}`)); }, timeoutMs);
      const waiter = (): void => { check(); };
      const cleanup = (): void => { clearTimeout(t); const i = waiters.indexOf(waiter); if (i !== -1) waiters.splice(i, 1); };
      waiters.push(waiter);
      check();
    });

  const ports = new Map<string, number>();
  try {
    for (const name of opts.expectListeners) {
      const m = await waitForOutput(new RegExp(`listener '${name}' listening on (\\S+)`));
      ports.set(name, Number(m[1]!.slice(m[1]!.lastIndexOf(':') + 1)));
    }
    let adminPort: number | null = null;
    if (opts.expectAdmin) {
      const m = await waitForOutput(/admin address: (\S+)/);
      adminPort = Number(m[1]!.slice(m[1]!.lastIndexOf(':') + 1));
    }
    return {
      proc, ports, adminPort, configPath,
      output: () => out,
      waitForOutput,
      stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
        if (!exited) proc.kill(signal);
        const t = setTimeout(() => proc.kill('SIGKILL'), 10000);
        const code = await exitPromise;
        clearTimeout(t);
        return code;
      },
    };
  } catch (e) {
    proc.kill('SIGKILL');
    throw e;
  }
}
