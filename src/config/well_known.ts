/**
 * Helpers for the well-known and common Envoy types that every extension
 * reads: Durations, wrapper values, percentages and DataSources. The
 * counterparts of Envoy's `PROTOBUF_GET_MS_OR_DEFAULT`,
 * `PROTOBUF_GET_WRAPPED_OR_DEFAULT`, `ProtobufPercentHelper` and
 * `Config::DataSource::read`.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { Duration } from '@bufbuild/protobuf/wkt';
import type { DataSource } from '../generated/envoy/config/core/v3/base_pb.js';
import type { FractionalPercent, Percent } from '../generated/envoy/type/v3/percent_pb.js';
import { ConfigError } from './config_error.js';
import { fieldChild } from './field_path.js';

/** A Duration in milliseconds, or `defaultMs` when unset (as PROTOBUF_GET_MS_OR_DEFAULT). */
export function durationToMs(d: Duration | undefined, defaultMs: number): number {
  if (d === undefined) return defaultMs;
  return Number(d.seconds) * 1000 + Math.trunc(d.nanos / 1_000_000);
}

/** A Duration in (fractional) seconds, or `defaultSeconds` when unset. */
export function durationToSeconds(d: Duration | undefined, defaultSeconds: number): number {
  if (d === undefined) return defaultSeconds;
  return Number(d.seconds) + d.nanos / 1e9;
}

/** Milliseconds → Duration (for building configs in code and tests). */
export function msToDuration(ms: number): Duration {
  const seconds = Math.trunc(ms / 1000);
  return {
    $typeName: 'google.protobuf.Duration',
    seconds: BigInt(seconds),
    nanos: Math.round((ms - seconds * 1000) * 1_000_000),
  } as Duration;
}

/**
 * The value of a wrapper field (`google.protobuf.UInt32Value` etc.), or
 * `defaultValue` when unset. protobuf-es already unboxes wrapper fields to
 * `T | undefined`; a boxed `{value}` (from other proto libraries) is accepted too.
 */
export function wrapperValue<T>(v: T | { value: T } | undefined | null, defaultValue: T): T {
  if (v === undefined || v === null) return defaultValue;
  if (typeof v === 'object' && 'value' in (v as object) && !(v instanceof Uint8Array)) return (v as { value: T }).value;
  return v as T;
}

/** FractionalPercent.DenominatorType: HUNDRED = 0, TEN_THOUSAND = 1, MILLION = 2. */
const DENOMINATORS = [100, 10_000, 1_000_000];

/**
 * A `FractionalPercent` or `Percent` as a fraction in [0, 1]. The numerator
 * is capped at the denominator and a Percent at 100, as Envoy does.
 * `defaultFraction` is returned when unset.
 */
export function percentToFraction(p: FractionalPercent | Percent | undefined, defaultFraction: number): number {
  if (p === undefined) return defaultFraction;
  if (p.$typeName === 'envoy.type.v3.Percent') {
    return Math.min(Math.max(p.value, 0), 100) / 100;
  }
  const denominator = DENOMINATORS[p.denominator] ?? 100;
  return Math.min(p.numerator, denominator) / denominator;
}

/**
 * The bytes a `DataSource` names: a file (relative names are resolved from
 * `configDir`, the bootstrap's folder), inline bytes, an inline string or an
 * environment variable. Throws a ConfigError naming `path` when it cannot be
 * read, like Envoy's `DataSource::read` (which also refuses an unset source
 * unless `allowEmpty`).
 */
export function dataSourceToBuffer(
  ds: DataSource | undefined,
  configDir: string,
  path = '',
  allowEmpty = false,
): Buffer {
  const spec = ds?.specifier;
  switch (spec?.case) {
    case 'filename': {
      const file = isAbsolute(spec.value) ? spec.value : resolve(configDir, spec.value);
      try {
        const data = readFileSync(file);
        if (data.length === 0 && !allowEmpty) throw new ConfigError(fieldChild(path, 'filename'), `file ${file} is empty`);
        return data;
      } catch (e) {
        if (e instanceof ConfigError) throw e;
        throw new ConfigError(fieldChild(path, 'filename'), `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
    }
    case 'inlineBytes':
      return Buffer.from(spec.value);
    case 'inlineString':
      return Buffer.from(spec.value, 'utf8');
    case 'environmentVariable': {
      const v = process.env[spec.value];
      if (v === undefined || (v === '' && !allowEmpty)) {
        throw new ConfigError(fieldChild(path, 'environment_variable'), `environment variable ${spec.value} is not set`);
      }
      return Buffer.from(v, 'utf8');
    }
    default:
      if (allowEmpty) return Buffer.alloc(0);
      throw new ConfigError(path, 'the data source is empty: set filename, inline_string, inline_bytes or environment_variable');
  }
}

/** As dataSourceToBuffer, decoded as UTF-8. */
export function dataSourceToString(ds: DataSource | undefined, configDir: string, path = '', allowEmpty = false): string {
  return dataSourceToBuffer(ds, configDir, path, allowEmpty).toString('utf8');
}
