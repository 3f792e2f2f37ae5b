/**
 * Errors and warnings raised while loading config, each pointing at the file,
 * line, column and field path it is about. Envoy reports config problems as
 * `EnvoyException` strings such as "Proto constraint validation failed
 * (ClusterValidationError.Name: ...)"; we keep the same facts but lead with
 * where the problem is, the way compilers do:
 *
 *   configs/x.yaml:12:7: static_resources.clusters[0].conect_timeout: unknown field "conect_timeout" (did you mean "connect_timeout"?)
 *
 * Thrown only at config time (startup, or turned into a NACK over xDS); never
 * on the data plane.
 */

/** A place in a config source. Lines and columns start at 1. */
export interface SourcePosition {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

/** Where a ConfigError should point for a field path (implemented by SourcePositions). */
export interface PositionLookup {
  lookup(path: string, prefer?: 'key' | 'value'): SourcePosition | undefined;
}

function formatWhere(
  file: string | undefined,
  line: number | undefined,
  column: number | undefined,
  fieldPath: string,
): string {
  let where = '';
  if (file !== undefined) {
    where = file;
    if (line !== undefined) where += `:${line}${column !== undefined ? `:${column}` : ''}`;
    where += ': ';
  }
  if (fieldPath !== '') where += `${fieldPath}: `;
  return where;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly file: string | undefined;
  readonly line: number | undefined;
  readonly column: number | undefined;
  /** Proto field path from the bootstrap (or resource) root, e.g. `static_resources.clusters[0].name`. */
  readonly fieldPath: string;
  /** The message without the location prefix. */
  readonly detail: string;
  /** Further errors found in the same pass (the first one is this error). */
  readonly others: ConfigError[] = [];

  constructor(fieldPath: string, detail: string, pos?: SourcePosition | { file: string }) {
    const file = pos?.file;
    const line = pos !== undefined && 'line' in pos ? pos.line : undefined;
    const column = pos !== undefined && 'column' in pos ? pos.column : undefined;
    super(formatWhere(file, line, column, fieldPath) + detail);
    this.file = file;
    this.line = line;
    this.column = column;
    this.fieldPath = fieldPath;
    this.detail = detail;
  }

  /** Folds a list of errors into the first one, listing the rest in its message. */
  static combine(errors: ConfigError[]): ConfigError {
    const [first, ...rest] = errors;
    if (first === undefined) throw new Error('ConfigError.combine: no errors');
    if (rest.length === 0) return first;
    const combined = new ConfigError(
      first.fieldPath,
      `${first.detail}\n` +
        rest.map((e) => `  also: ${e.message}`).join('\n') +
        `\n(${errors.length} errors)`,
      first.file !== undefined
        ? first.line !== undefined && first.column !== undefined
          ? { file: first.file, line: first.line, column: first.column }
          : { file: first.file }
        : undefined,
    );
    combined.others.push(...rest);
    return combined;
  }
}

/** Something Envoy would accept with a log line: a deprecated field, a v2 form we rewrote, ... */
export class ConfigWarning {
  readonly file: string | undefined;
  readonly line: number | undefined;
  readonly column: number | undefined;
  readonly fieldPath: string;
  readonly message: string;

  constructor(fieldPath: string, message: string, pos?: SourcePosition | { file: string }) {
    this.file = pos?.file;
    this.line = pos !== undefined && 'line' in pos ? pos.line : undefined;
    this.column = pos !== undefined && 'column' in pos ? pos.column : undefined;
    this.fieldPath = fieldPath;
    this.message = message;
  }

  toString(): string {
    return formatWhere(this.file, this.line, this.column, this.fieldPath) + this.message;
  }
}

/** Runs `fn`, re-throwing a ConfigError with `prefix` prepended to its field path. */
export function withPathPrefix<T>(prefix: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof ConfigError) {
      const full = e.fieldPath === '' ? prefix : `${prefix}.${e.fieldPath}`;
      throw new ConfigError(full, e.detail, e.file !== undefined ? { file: e.file } : undefined);
    }
    throw e;
  }
}
