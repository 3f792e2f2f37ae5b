/**
 * `envoy.access_loggers.file` (legacy name `envoy.file_access_log`), after
 * Envoy's `source/extensions/access_loggers/file/config.cc`.
 *
 * Config: envoy.extensions.access_loggers.file.v3.FileAccessLog
 * - `path` (required): relative paths are resolved from the bootstrap's
 *   folder (FactoryContext.configDir); `/dev/stdout` and `/dev/stderr` write
 *   to the process streams.
 * - `log_format` (SubstitutionFormatString), or the deprecated `format`
 *   (text; empty means the default), `json_format` (every value a string) and
 *   `typed_json_format` (values keep their types). No format: Envoy's default.
 * A path that cannot be opened is a config error, as in Envoy.
 */
import { resolve } from 'node:path';
import type { Message } from '@bufbuild/protobuf';
import type { AccessLogInstance } from '../../../envoy/access_log/access_log.js';
import type { AccessLogInstanceFactory } from '../../../envoy/config/typed_config.js';
import type { FactoryContext } from '../../../envoy/server/factory_context.js';
import type { FileAccessLog as FileAccessLogConfig } from '../../../generated/envoy/extensions/access_loggers/file/v3/file_pb.js';
import type { AccessLogFilter } from '../../../logging/access_log_filter.js';
import { defaultAccessLogManager, type AccessLogManager } from '../../../logging/access_log_file.js';
import { LoggingConfigError } from '../../../logging/errors.js';
import { compileJsonFormat } from '../../../logging/json_formatter.js';
import { compileFormat, defaultFormatter, type Formatter } from '../../../logging/substitution_formatter.js';
import { downcastConfig, formatterFromLogFormat } from '../common/config_utility.js';
import { FileAccessLog } from '../common/file_access_log_impl.js';

export const FILE_ACCESS_LOG_CONFIG_TYPE = 'envoy.extensions.access_loggers.file.v3.FileAccessLog';

/** The formatter a FileAccessLog config asks for. */
export function fileAccessLogFormatter(cfg: FileAccessLogConfig, configDir: string): Formatter {
  const f = cfg.accessLogFormat;
  switch (f.case) {
    case 'format':
      return f.value === '' ? defaultFormatter() : compileFormat(f.value);
    case 'jsonFormat':
      return compileJsonFormat(f.value, { preserveTypes: false });
    case 'typedJsonFormat':
      return compileJsonFormat(f.value, { preserveTypes: true });
    case 'logFormat':
      return formatterFromLogFormat(f.value, configDir);
    default:
      return defaultFormatter();
  }
}

export class FileAccessLogFactory implements AccessLogInstanceFactory {
  readonly category = 'envoy.access_loggers' as const;
  /** Takes the compiled AccessLog.filter as a third argument (see access_log_builder.ts). */
  readonly name = 'envoy.access_loggers.file';
  readonly configTypes = [FILE_ACCESS_LOG_CONFIG_TYPE];
  readonly legacyNames = ['envoy.file_access_log'];

  /** `manager` defaults to the process-wide defaultAccessLogManager(). */
  constructor(private readonly manager?: AccessLogManager) {}

  createAccessLogInstance(config: Message, context: FactoryContext,
                          filter: AccessLogFilter | null = null): AccessLogInstance {
    const cfg = downcastConfig<FileAccessLogConfig>(config, FILE_ACCESS_LOG_CONFIG_TYPE);
    if (cfg.path === '') throw new LoggingConfigError('FileAccessLog.path: value length must be at least 1 characters');
    const formatter = fileAccessLogFormatter(cfg, context.configDir);
    const manager = this.manager ?? defaultAccessLogManager();
    manager.bindStats(context.scope);
    const path = cfg.path.startsWith('/dev/') ? cfg.path : resolve(context.configDir, cfg.path);
    const file = manager.createAccessLog(path);
    if (file.openError !== null) {
      throw new LoggingConfigError(`unable to open file '${path}': ${file.openError.message}`,
        'LEGATE_ERR_ACCESS_LOG_OPEN');
    }
    return new FileAccessLog(file, formatter, filter);
  }
}

/** The factory over the process-wide access-log manager. */
export const fileAccessLogFactory = new FileAccessLogFactory();
