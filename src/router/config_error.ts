/**
 * Errors raised while compiling a RouteConfiguration. Every error carries the
 * proto path of the offending field, written the way the user wrote the YAML
 * (snake_case, with list indexes), e.g.
 * `virtual_hosts[0].routes[2].match.safe_regex.regex`, so the config layer can
 * report it (or NACK an RDS update with it) without guessing.
 *
 * Compiling throws; nothing here runs per request.
 */
import { ConfigError } from '../config/config_error.js';
import { MatcherConfigError } from '../common/matchers/errors.js';

export class RouteConfigError extends ConfigError {
  constructor(path: string, detail: string, options?: { cause?: unknown }) {
    super(path, detail);
    if (options?.cause !== undefined) Object.defineProperty(this, 'cause', { value: options.cause });
  }

  /** Proto path of the bad field, '' for the route configuration itself. */
  get path(): string { return this.fieldPath; }
}

/** `a` + `.b`, skipping empty parts. */
export function joinPath(base: string, field: string): string {
  if (field === '') return base;
  if (base === '') return field;
  return field.startsWith('[') ? `${base}${field}` : `${base}.${field}`;
}

/**
 * Runs `fn`; any error it throws becomes a RouteConfigError at `path` (a
 * matcher error's own relative field path is appended). A RouteConfigError
 * already carries its full path and passes through unchanged.
 */
export function at<T>(path: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof RouteConfigError) throw e;
    // A config error from an extension (a typed_per_filter_config entry) carries a path relative to `path`.
    if (e instanceof ConfigError) throw new RouteConfigError(joinPath(path, e.fieldPath), e.detail, { cause: e });
    if (e instanceof MatcherConfigError) throw new RouteConfigError(joinPath(path, e.field), e.detail, { cause: e });
    throw new RouteConfigError(path, e instanceof Error ? e.message : String(e), { cause: e });
  }
}

/** Throws a RouteConfigError at `path`. */
export function fail(path: string, detail: string): never {
  throw new RouteConfigError(path, detail);
}
