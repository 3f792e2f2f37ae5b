/**
 * Config errors raised while compiling matchers. `field` is the proto path of
 * the offending field relative to the matcher being compiled (snake_case, as
 * the user wrote it, e.g. `string_match.safe_regex.regex`); callers that know
 * more of the path prepend to it with `withFieldPrefix`, and the config layer
 * turns the full path into its error report.
 */
export class MatcherConfigError extends Error {
  /** Relative proto path of the bad field ('' when it is the matcher itself). */
  field: string;
  /** The problem, without the path. */
  readonly detail: string;
  constructor(field: string, detail: string) {
    super(field === '' ? detail : `${field}: ${detail}`);
    this.name = 'MatcherConfigError';
    this.field = field;
    this.detail = detail;
  }

  /** Prepends `prefix` to the field path (and refreshes the message). */
  addPrefix(prefix: string): void {
    this.field = this.field === '' ? prefix : `${prefix}.${this.field}`;
    this.message = `${this.field}: ${this.detail}`;
  }
}

/** Runs `fn`; a MatcherConfigError it throws gets `prefix` prepended to its field path. */
export function withFieldPrefix<T>(prefix: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof MatcherConfigError) e.addPrefix(prefix);
    throw e;
  }
}
