/**
 * `--config-yaml` is applied over the config file the way Envoy applies it:
 * both are parsed as Bootstrap and then `bootstrap.MergeFrom(override)`
 * (server/options_impl + InstanceUtil::loadBootstrapConfig). We do the same
 * merge on the checked, canonical JSON of both documents, guided by the
 * descriptors, so that source positions survive for the merged result:
 *
 * - singular message fields merge recursively;
 * - repeated fields append;
 * - map fields merge by key, the override's entry replacing the whole value;
 * - scalars and enums replace, except that a proto3 scalar at its default
 *   value (0, "", false, the first enum value) counts as unset and does not;
 * - setting another member of a oneof clears the one set before;
 * - `Any` is replaced whole (its type_url and bytes are scalars);
 * - wrappers (`UInt32Value`...) and `Duration` are messages, so their
 *   fields merge one by one: a wrapper set to 0 does not clear a base value,
 *   and "5s" merged with "0.5s" is 5.5s. We warn when that happens. (A
 *   Timestamp, rare in a bootstrap, is simply replaced.)
 */
import type { DescField, DescMessage } from '@bufbuild/protobuf';
import { ConfigWarning } from './config_error.js';
import { fieldChild } from './field_path.js';
import {
  copyEntryPositions,
  deleteEntry,
  isJsonObject,
  keyPosition,
  locationOf,
  setEntry,
  type JsonObject,
  type JsonValue,
} from './source_positions.js';

const WRAPPER_DEFAULTS: Readonly<Record<string, (v: JsonValue) => boolean>> = {
  'google.protobuf.DoubleValue': isZero,
  'google.protobuf.FloatValue': isZero,
  'google.protobuf.Int64Value': isZero,
  'google.protobuf.UInt64Value': isZero,
  'google.protobuf.Int32Value': isZero,
  'google.protobuf.UInt32Value': isZero,
  'google.protobuf.BoolValue': (v) => v === false,
  'google.protobuf.StringValue': (v) => v === '',
  'google.protobuf.BytesValue': (v) => v === '',
};

function isZero(v: JsonValue): boolean {
  return v === 0 || v === '0' || v === '-0';
}

function isDefaultScalar(field: DescField, v: JsonValue): boolean {
  if (field.fieldKind === 'enum') return v === 0 || v === field.enum.values[0]?.name;
  return v === '' || v === false || isZero(v);
}

/** "1.5s" → [seconds, nanos] as strings of digits with a sign. */
function splitDuration(d: string): { neg: boolean; seconds: bigint; nanos: bigint } | undefined {
  const m = d.match(/^(-)?(\d+)(?:\.(\d{1,9}))?s$/);
  if (m === null) return undefined;
  return { neg: m[1] === '-', seconds: BigInt(m[2] ?? '0'), nanos: BigInt((m[3] ?? '').padEnd(9, '0') || '0') };
}

function joinDuration(seconds: bigint, nanos: bigint, neg: boolean): string {
  const frac = nanos === 0n ? '' : `.${nanos.toString().padStart(9, '0').replace(/0+$/, '')}`;
  return `${neg && (seconds !== 0n || nanos !== 0n) ? '-' : ''}${seconds}${frac}s`;
}

export class MessageMerger {
  readonly warnings: ConfigWarning[] = [];

  /** Merges `source` into `target`, both canonical JSON of message `desc`. */
  merge(target: JsonObject, source: JsonObject, desc: DescMessage, path = ''): void {
    const byName = new Map(desc.fields.map((f) => [f.name, f]));
    for (const key of Object.keys(source)) {
      const sv = source[key] as JsonValue;
      const field = byName.get(key);
      if (field === undefined || sv === null) continue; // unknown fields were dropped or reported by the checker
      const childPath = fieldChild(path, key);
      if (field.oneof !== undefined) {
        for (const member of field.oneof.fields) {
          if (member.name !== key && member.name in target) deleteEntry(target, member.name);
        }
      }
      const tv = target[key];
      switch (field.fieldKind) {
        case 'list': {
          if (!Array.isArray(sv)) break;
          if (!Array.isArray(tv)) {
            this.take(target, source, key);
            break;
          }
          const from = locationOf(sv);
          const to = locationOf(tv);
          for (const [i, v] of sv.entries()) {
            const p = from?.values.get(i);
            if (p !== undefined) to?.values.set(tv.length, p);
            tv.push(v);
          }
          break;
        }
        case 'map': {
          if (!isJsonObject(sv)) break;
          if (!isJsonObject(tv)) {
            this.take(target, source, key);
            break;
          }
          for (const k of Object.keys(sv)) {
            tv[k] = sv[k] as JsonValue;
            copyEntryPositions(sv, k, tv, k);
          }
          break;
        }
        case 'scalar':
        case 'enum':
          if (field.oneof !== undefined || !isDefaultScalar(field, sv)) this.take(target, source, key);
          break;
        case 'message':
          this.mergeMessageField(target, source, key, field.message, childPath);
          break;
      }
    }
  }

  private take(target: JsonObject, source: JsonObject, key: string): void {
    setEntry(target, key, source[key] as JsonValue, keyPosition(source, key), locationOf(source)?.values.get(key));
  }

  private mergeMessageField(target: JsonObject, source: JsonObject, key: string, desc: DescMessage, path: string): void {
    const sv = source[key] as JsonValue;
    const tv = target[key];
    if (tv === undefined || tv === null) {
      this.take(target, source, key);
      return;
    }
    const wrapperDefault = WRAPPER_DEFAULTS[desc.typeName];
    if (wrapperDefault !== undefined) {
      if (!wrapperDefault(sv)) this.take(target, source, key);
      else if (sv !== tv) {
        this.warnings.push(
          new ConfigWarning(
            path,
            `--config-yaml sets ${JSON.stringify(sv)}, which proto MergeFrom treats as unset for ${desc.typeName}; the config file's ${JSON.stringify(tv)} is kept (as in Envoy)`,
            keyPosition(source, key),
          ),
        );
      }
      return;
    }
    switch (desc.typeName) {
      case 'google.protobuf.Duration':
      case 'google.protobuf.Timestamp': {
        const a = typeof tv === 'string' ? splitDuration(tv) : undefined;
        const b = typeof sv === 'string' ? splitDuration(sv) : undefined;
        if (desc.typeName === 'google.protobuf.Timestamp' || a === undefined || b === undefined) {
          this.take(target, source, key);
          return;
        }
        const seconds = b.seconds !== 0n ? b.seconds : a.seconds;
        const nanos = b.nanos !== 0n ? b.nanos : a.nanos;
        const neg = b.seconds !== 0n || b.nanos !== 0n ? b.neg : a.neg;
        const merged = joinDuration(seconds, nanos, neg);
        this.take(target, source, key);
        if (merged !== joinDuration(b.seconds, b.nanos, b.neg)) {
          target[key] = merged;
          this.warnings.push(
            new ConfigWarning(
              path,
              `--config-yaml ${sv} merged over ${tv} gives ${merged}: proto MergeFrom merges a Duration's seconds and nanos separately (as in Envoy); write both parts to replace it`,
              keyPosition(source, key),
            ),
          );
        }
        return;
      }
      case 'google.protobuf.Any':
        // MergeFrom replaces type_url and value (bytes) when set: the whole Any.
        if (isJsonObject(sv) && Object.keys(sv).length > 0) this.take(target, source, key);
        return;
      case 'google.protobuf.Struct':
        if (isJsonObject(sv) && isJsonObject(tv)) {
          for (const k of Object.keys(sv)) {
            tv[k] = sv[k] as JsonValue;
            copyEntryPositions(sv, k, tv, k);
          }
        }
        return;
      case 'google.protobuf.ListValue':
        if (Array.isArray(sv) && Array.isArray(tv)) tv.push(...sv);
        return;
      case 'google.protobuf.Value':
      case 'google.protobuf.FieldMask':
        this.take(target, source, key);
        return;
    }
    if (isJsonObject(sv) && isJsonObject(tv)) this.merge(tv, sv, desc, path);
    else this.take(target, source, key);
  }
}
