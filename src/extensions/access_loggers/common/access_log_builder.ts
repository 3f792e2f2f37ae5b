/**
 * Builds AccessLogInstances from `access_log` config entries (HCM, tcp_proxy,
 * listeners), after Envoy's AccessLogFactory::fromProto
 * (source/common/access_log/access_log_impl.cc): compile the entry's
 * `filter`, find the logger factory by the `typed_config` type (then by
 * `name`), and combine the two so that `log()` only writes entries that pass.
 *
 * Factories come from the extension registry (category envoy.access_loggers).
 */
import type { AccessLogInstance } from '../../../envoy/access_log/access_log.js';
import type { AccessLogInstanceFactory } from '../../../envoy/config/typed_config.js';
import type { FactoryContext } from '../../../envoy/server/factory_context.js';
import type { AccessLog } from '../../../generated/envoy/config/accesslog/v3/accesslog_pb.js';
import {
  compileAccessLogFilter,
  type AccessLogFilterOptions,
} from '../../../logging/access_log_filter.js';
import { ConfigError } from '../../../config/config_error.js';
import { LoggingConfigError } from '../../../logging/errors.js';
import { resolveTypedConfig } from '../../../config/registry.js';

function prefixed<T>(prefix: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof LoggingConfigError) {
      const full = e.fieldPath === '' ? prefix : `${prefix}.${e.fieldPath}`;
      throw new LoggingConfigError(e.detail, e.code, full);
    }
    throw e;
  }
}

/** Builds one `access_log` entry; `path` is its field path (e.g. `...access_log[0]`). */
export function createAccessLog(config: AccessLog, path: string, context: FactoryContext,
                                opts: AccessLogFilterOptions = {}): AccessLogInstance {
  const filter = prefixed(path, () => compileAccessLogFilter(config.filter, opts));
  const any = config.configType.case === 'typedConfig' ? config.configType.value : undefined;
  const resolved = resolveTypedConfig<AccessLogInstanceFactory>('envoy.access_loggers', { name: config.name, typedConfig: any }, path, context);
  if (resolved === null) throw new ConfigError(path, `unknown access logger '${config.name}'`);
  return prefixed(`${path}.typed_config`, () => resolved.factory.createAccessLogInstance(resolved.config, context, filter));
}

/** Builds every entry of an `access_log` list (HCM, tcp_proxy, listener). */
export function createAccessLogs(configs: ReadonlyArray<AccessLog>, path: string, context: FactoryContext,
                                 opts: AccessLogFilterOptions = {}): AccessLogInstance[] {
  return configs.map((c, i) => createAccessLog(c, `${path}[${i}]`, context, opts));
}
