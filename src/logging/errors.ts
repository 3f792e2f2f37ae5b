/**
 * The error thrown while compiling logging config (format strings, access-log
 * filters, access-logger factories). It is a ConfigError, so callers that
 * prefix field paths (withPathPrefix) and report config errors handle it like
 * any other. Thrown only at config time: the caller turns it into a start-up
 * failure or an xDS NACK. Nothing in this folder throws on the request path.
 */
import { ConfigError } from '../config/config_error.js';

export class LoggingConfigError extends ConfigError {
  /** Stable code, for tests and for callers that map errors. */
  readonly code: string;

  /**
   * @param detail what is wrong
   * @param code stable error code
   * @param fieldPath proto field path relative to the message being compiled ('' when unknown)
   */
  constructor(detail: string, code = 'LEGATE_ERR_LOGGING_CONFIG', fieldPath = '') {
    super(fieldPath, detail);
    this.code = code;
  }
}
