/**
 * `envoy.access_loggers.stdout` and `envoy.access_loggers.stderr`, after
 * Envoy's `source/extensions/access_loggers/stream/config.cc`.
 *
 * Config: envoy.extensions.access_loggers.stream.v3.StdoutAccessLog /
 * StderrAccessLog, with an optional `log_format` (SubstitutionFormatString);
 * without one, Envoy's default format. Lines are buffered and flushed like
 * file logs (same manager, same `filesystem.*` stats).
 */
import type { Message } from '@bufbuild/protobuf';
import type { AccessLogInstance } from '../../../envoy/access_log/access_log.js';
import type { AccessLogInstanceFactory } from '../../../envoy/config/typed_config.js';
import type { FactoryContext } from '../../../envoy/server/factory_context.js';
import type {
  StderrAccessLog as StderrAccessLogConfig,
  StdoutAccessLog as StdoutAccessLogConfig,
} from '../../../generated/envoy/extensions/access_loggers/stream/v3/stream_pb.js';
import type { AccessLogFilter } from '../../../logging/access_log_filter.js';
import { defaultAccessLogManager, type AccessLogManager } from '../../../logging/access_log_file.js';
import { downcastConfig, formatterFromLogFormat } from '../common/config_utility.js';
import { FileAccessLog } from '../common/file_access_log_impl.js';

export const STDOUT_ACCESS_LOG_CONFIG_TYPE = 'envoy.extensions.access_loggers.stream.v3.StdoutAccessLog';
export const STDERR_ACCESS_LOG_CONFIG_TYPE = 'envoy.extensions.access_loggers.stream.v3.StderrAccessLog';

type StreamConfig = StdoutAccessLogConfig | StderrAccessLogConfig;

abstract class StreamAccessLogFactory implements AccessLogInstanceFactory {
  readonly category = 'envoy.access_loggers' as const;
  /** Takes the compiled AccessLog.filter as a third argument (see access_log_builder.ts). */
  abstract readonly name: string;
  abstract readonly configTypes: ReadonlyArray<string>;
  protected abstract readonly device: '/dev/stdout' | '/dev/stderr';

  /** `manager` defaults to the process-wide defaultAccessLogManager(). */
  constructor(private readonly manager?: AccessLogManager) {}

  createAccessLogInstance(config: Message, context: FactoryContext,
                          filter: AccessLogFilter | null = null): AccessLogInstance {
    const cfg = downcastConfig<StreamConfig>(config, this.configTypes[0] as StreamConfig['$typeName']);
    const logFormat = cfg.accessLogFormat.case === 'logFormat' ? cfg.accessLogFormat.value : undefined;
    const formatter = formatterFromLogFormat(logFormat, context.configDir);
    const manager = this.manager ?? defaultAccessLogManager();
    manager.bindStats(context.scope);
    return new FileAccessLog(manager.createAccessLog(this.device), formatter, filter);
  }
}

export class StdoutAccessLogFactory extends StreamAccessLogFactory {
  readonly name = 'envoy.access_loggers.stdout';
  readonly configTypes = [STDOUT_ACCESS_LOG_CONFIG_TYPE];
  protected readonly device = '/dev/stdout';
}

export class StderrAccessLogFactory extends StreamAccessLogFactory {
  readonly name = 'envoy.access_loggers.stderr';
  readonly configTypes = [STDERR_ACCESS_LOG_CONFIG_TYPE];
  protected readonly device = '/dev/stderr';
}

export const stdoutAccessLogFactory = new StdoutAccessLogFactory();
export const stderrAccessLogFactory = new StderrAccessLogFactory();
