/**
 * Component loggers with Envoy's levels and line format
 * (`[%Y-%m-%d %T.%e][%t][%l][%n] %v`). Levels are per component and can be
 * changed at run time (admin `/logging`). Disabled levels cost one compare.
 */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warning', 'error', 'critical', 'off'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export function parseLogLevel(s: string): LogLevel | null {
  const l = s.toLowerCase();
  if (l === 'warn') return 'warning';
  return (LOG_LEVELS as readonly string[]).includes(l) ? (l as LogLevel) : null;
}

const loggers = new Map<string, Logger>();
let sink: (line: string) => void = (line) => process.stderr.write(line);

function pad(n: number, w = 2): string { return String(n).padStart(w, '0'); }

export class Logger {
  private levelIndex: number;
  constructor(readonly name: string, level: LogLevel) {
    this.levelIndex = LOG_LEVELS.indexOf(level);
  }
  get level(): LogLevel { return LOG_LEVELS[this.levelIndex]!; }
  setLevel(level: LogLevel): void { this.levelIndex = LOG_LEVELS.indexOf(level); }
  enabled(level: LogLevel): boolean { return LOG_LEVELS.indexOf(level) >= this.levelIndex && this.levelIndex < 6; }
  private write(level: LogLevel, idx: number, msg: string): void {
    if (idx < this.levelIndex || this.levelIndex === 6) return;
    const d = new Date();
    const ts = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
    sink(`[${ts}][${process.pid}][${level}][${this.name}] ${msg}\n`);
  }
  trace(msg: string): void { this.write('trace', 0, msg); }
  debug(msg: string): void { this.write('debug', 1, msg); }
  info(msg: string): void { this.write('info', 2, msg); }
  warn(msg: string): void { this.write('warning', 3, msg); }
  error(msg: string): void { this.write('error', 4, msg); }
  critical(msg: string): void { this.write('critical', 5, msg); }
}

let defaultLevel: LogLevel = 'info';

/** The logger of a component (Envoy's names: main, config, upstream, router, http, admin, ...). */
export function getLogger(name: string): Logger {
  let l = loggers.get(name);
  if (l === undefined) {
    l = new Logger(name, defaultLevel);
    loggers.set(name, l);
  }
  return l;
}

export function setAllLogLevels(level: LogLevel): void {
  defaultLevel = level;
  for (const l of loggers.values()) l.setLevel(level);
}

export function allLoggers(): Logger[] {
  return [...loggers.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** Redirects log output (tests, --log-path). */
export function setLogSink(fn: (line: string) => void): void { sink = fn; }
