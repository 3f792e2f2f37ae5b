/**
 * Flag walking for the side commands (`legate control-plane`,
 * `legate ratelimit-service`): `--flag value`, `--flag=value` and bare
 * flags, with usage errors the commands print before their --help hint.
 */
import { parseLogLevel, setAllLogLevels } from './logger.js';

/** A mistake on the command line (printed with a pointer to --help, exit 2). */
export class UsageError extends Error {}

export interface CliFlag {
  /** The flag as written, without any `=value`. */
  readonly flag: string;
  /** The whole argument (for "unknown argument" messages). */
  readonly arg: string;
  /** The flag's value: after `=`, else the next argument (a UsageError when there is none). */
  value(): string;
}

/** Yields each flag of `argv`; calling `value()` consumes the flag's value. */
export function* cliFlags(argv: readonly string[]): Generator<CliFlag> {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const eq = arg.indexOf('=');
    const flag = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    const inline = arg.startsWith('--') && eq > 0 ? arg.slice(eq + 1) : undefined;
    yield {
      flag,
      arg,
      value: (): string => {
        if (inline !== undefined) return inline;
        const v = argv[++i];
        if (v === undefined) throw new UsageError(`${flag} needs a value`);
        return v;
      },
    };
  }
}

/** A port number 0-65535 (or -1 = none, when allowed) for `flag`. */
export function parsePortFlag(flag: string, v: string, allowNone = false): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n > 65535 || n < (allowNone ? -1 : 0)) throw new UsageError(`${flag}: not a port number: ${v}`);
  return n;
}

/** `-l` / `--log-level <level>`: sets every logger's level (a UsageError for an unknown level). */
export function applyLogLevelFlag(flag: string, v: string): void {
  const level = parseLogLevel(v);
  if (level === null) throw new UsageError(`${flag}: unknown log level "${v}"`);
  setAllLogLevels(level);
}
