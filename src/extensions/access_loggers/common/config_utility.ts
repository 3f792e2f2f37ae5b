/**
 * Config helpers shared by the access-logger factories: checking the config
 * message type, and choosing the formatter the way Envoy's factories do.
 */
import type { Message } from '@bufbuild/protobuf';
import type { SubstitutionFormatString } from '../../../generated/envoy/config/core/v3/substitution_format_string_pb.js';
import { LoggingConfigError } from '../../../logging/errors.js';
import { compileSubstitutionFormatString } from '../../../logging/json_formatter.js';
import { defaultFormatter, type Formatter } from '../../../logging/substitution_formatter.js';

/** Checks that `config` is a `typeName` message (Envoy's downcastAndValidate, minus PGV). */
export function downcastConfig<T extends Message>(config: Message, typeName: T['$typeName']): T {
  if (config.$typeName !== typeName) {
    throw new LoggingConfigError(`expected a ${typeName} config, got ${config.$typeName}`);
  }
  return config as T;
}

/** The formatter of a `log_format` (SubstitutionFormatString), or Envoy's default format when unset. */
export function formatterFromLogFormat(logFormat: SubstitutionFormatString | undefined, configDir: string): Formatter {
  if (logFormat === undefined) return defaultFormatter();
  return compileSubstitutionFormatString(logFormat, { configDir, defaultFormat: defaultFormatter }).formatter;
}
