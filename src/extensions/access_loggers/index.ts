/**
 * The built-in access loggers. Nothing registers itself on import: the
 * extension index (or a test) calls registerAccessLoggers() with the
 * registry's register function.
 */
import type { AccessLogInstanceFactory } from '../../envoy/config/typed_config.js';
import type { AccessLogManager } from '../../logging/access_log_file.js';
import { FileAccessLogFactory, fileAccessLogFactory } from './file/config.js';
import {
  StderrAccessLogFactory,
  StdoutAccessLogFactory,
  stderrAccessLogFactory,
  stdoutAccessLogFactory,
} from './stream/config.js';

export { FileAccessLogFactory, fileAccessLogFactory } from './file/config.js';
export {
  StderrAccessLogFactory,
  StdoutAccessLogFactory,
  stderrAccessLogFactory,
  stdoutAccessLogFactory,
} from './stream/config.js';

export interface RegisterAccessLoggersOptions {
  /** Manager the factories write through; default: the process-wide one. */
  readonly manager?: AccessLogManager;
}

/** Registers envoy.access_loggers.file, .stdout and .stderr. */
export function registerAccessLoggers(register: (factory: AccessLogInstanceFactory) => void,
                                      opts: RegisterAccessLoggersOptions = {}): void {
  if (opts.manager !== undefined) {
    register(new FileAccessLogFactory(opts.manager));
    register(new StdoutAccessLogFactory(opts.manager));
    register(new StderrAccessLogFactory(opts.manager));
    return;
  }
  register(fileAccessLogFactory);
  register(stdoutAccessLogFactory);
  register(stderrAccessLogFactory);
}
