/**
 * Walks config JSON against the message descriptors before it is handed to
 * protobuf-es `fromJson`, so that every problem is reported with its field
 * path and source line instead of fromJson's first, position-less message.
 * It plays the part of Envoy's `ProtobufMessage::ValidationVisitor`
 * (unknown and deprecated fields) plus the proto3 JSON type checks of
 * `JsonStringToMessage`.
 *
 * Along the way it:
 * - accepts both proto field names and lowerCamelCase JSON names, and
 *   rewrites keys to the proto names (the merge and error paths rely on it);
 * - runs the v2 shims of legacy_v2.ts on each message it enters;
 * - descends into every `Any` by its `"@type"` (an HCM inside a listener
 *   filter, a Router inside the HCM), and into a TypedStruct's `value` by its
 *   `type_url`;
 * - reports deprecated fields and enum values as warnings, as Envoy does.
 */
import { ScalarType, type DescEnum, type DescField, type DescMessage, type DescOneof, type Registry } from '@bufbuild/protobuf';
import { ConfigError, ConfigWarning, type SourcePosition } from './config_error.js';
import { fieldChild, indexChild, mapKeyChild } from './field_path.js';
import {
  deprecatedFieldHint,
  legacyEnumName,
  shimMessage,
  unknownFieldHint,
  upgradeV2TypeName,
  type ShimHost,
} from './legacy_v2.js';
import {
  deleteEntry,
  isJsonObject,
  keyPosition,
  locationOf,
  moveEntry,
  valuePosition,
  type JsonObject,
  type JsonValue,
} from './source_positions.js';
import { isTypedStruct, nameToTypeUrl, typeRegistry, typeUrlToName } from './type_registry.js';

export interface CheckOptions {
  /** Envoy's `--allow-unknown-static-fields`: unknown fields become warnings and are dropped. */
  readonly allowUnknownFields?: boolean;
  /** Stop collecting after this many errors (default 20). */
  readonly maxErrors?: number;
}

/** Wrapper messages and the scalar each one carries (a bare value in proto3 JSON). */
const WRAPPERS: Readonly<Record<string, ScalarType>> = {
  'google.protobuf.DoubleValue': ScalarType.DOUBLE,
  'google.protobuf.FloatValue': ScalarType.FLOAT,
  'google.protobuf.Int64Value': ScalarType.INT64,
  'google.protobuf.UInt64Value': ScalarType.UINT64,
  'google.protobuf.Int32Value': ScalarType.INT32,
  'google.protobuf.UInt32Value': ScalarType.UINT32,
  'google.protobuf.BoolValue': ScalarType.BOOL,
  'google.protobuf.StringValue': ScalarType.STRING,
  'google.protobuf.BytesValue': ScalarType.BYTES,
};

/** Well-known types whose JSON form is not an object of fields; inside an Any they sit under `value`. */
const SPECIAL_JSON_TYPES = new Set([
  ...Object.keys(WRAPPERS),
  'google.protobuf.Duration',
  'google.protobuf.Timestamp',
  'google.protobuf.FieldMask',
  'google.protobuf.Struct',
  'google.protobuf.Value',
  'google.protobuf.ListValue',
]);

const DURATION_RE = /^(-)?(\d+)(?:\.(\d{1,9}))?s$/;
/** proto3 JSON Duration range: ±10000 years. */
const MAX_DURATION_SECONDS = 315_576_000_000;
const TIMESTAMP_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
const BASE64_RE = /^[A-Za-z0-9+/\-_]*={0,2}$/;
const INT_STRING_RE = /^-?\d+$/;

interface FieldIndex {
  readonly byKey: Map<string, DescField>;
  readonly names: string[];
}

const FIELD_INDEX = new WeakMap<DescMessage, FieldIndex>();

/** Fields by proto name and by JSON name. */
function fieldIndex(desc: DescMessage): FieldIndex {
  let idx = FIELD_INDEX.get(desc);
  if (idx === undefined) {
    const byKey = new Map<string, DescField>();
    for (const f of desc.fields) {
      byKey.set(f.name, f);
      if (f.jsonName !== f.name) byKey.set(f.jsonName, f);
    }
    idx = { byKey, names: desc.fields.map((f) => f.name) };
    FIELD_INDEX.set(desc, idx);
  }
  return idx;
}

/** Edit distance counting a swap of two neighbours as one edit (optimal string alignment). */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 0; j <= b.length; j++) (d[0] as number[])[j] = j;
  for (let i = 1; i <= a.length; i++) {
    const row = d[i] as number[];
    const prev = d[i - 1] as number[];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, ((d[i - 2] as number[])[j - 2] ?? 0) + 1);
      row[j] = v;
    }
  }
  return (d[a.length] as number[])[b.length] ?? 0;
}

/** The closest candidate to `word`, if it is close enough to be a plausible typo. */
export function suggestName(word: string, candidates: Iterable<string>): string | undefined {
  const squash = (s: string): string => s.toLowerCase().replace(/[_-]/g, '');
  const w = squash(word);
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = squash(c) === w ? 0 : editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      bestDistance = d;
      best = c;
    }
  }
  const limit = Math.max(1, Math.floor(word.length / 4));
  return bestDistance <= limit ? best : undefined;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return JSON.stringify(value);
  return `${typeof value} ${String(value)}`;
}

let simpleNameIndex: Map<string, string[]> | undefined;

/** Message full names by their last component, to suggest a fix for an unknown `@type`. */
function typesBySimpleName(): Map<string, string[]> {
  if (simpleNameIndex === undefined) {
    simpleNameIndex = new Map();
    for (const full of typeRegistry().typeNames()) {
      const simple = full.slice(full.lastIndexOf('.') + 1);
      const list = simpleNameIndex.get(simple) ?? [];
      list.push(full);
      simpleNameIndex.set(simple, list);
    }
  }
  return simpleNameIndex;
}

export class ProtoJsonChecker implements ShimHost {
  readonly errors: ConfigError[] = [];
  readonly warnings: ConfigWarning[] = [];
  private readonly maxErrors: number;

  constructor(
    readonly registry: Registry,
    /** File name for positions that are not known (e.g. made-up values). */
    readonly file: string,
    readonly options: CheckOptions = {},
  ) {
    this.maxErrors = options.maxErrors ?? 20;
  }

  /** Checks (and canonicalises) `root` as a `desc` message. */
  check(root: JsonValue, desc: DescMessage): void {
    if (!isJsonObject(root)) {
      this.errors.push(new ConfigError('', `the top level must be a mapping of ${desc.typeName} fields, got ${describe(root)}`, { file: this.file }));
      return;
    }
    this.checkMessageObject(root, desc, '', false);
  }

  // ShimHost --------------------------------------------------------------

  warn(container: object, key: string | number | undefined, path: string, message: string): void {
    this.warnings.push(new ConfigWarning(path, message, this.pos(container, key, 'key')));
  }

  /** A warning about a value (an enum spelling), positioned at the value. */
  private warnValue(container: object, key: string | number, path: string, message: string): void {
    this.warnings.push(new ConfigWarning(path, message, this.pos(container, key, 'value')));
  }

  error(container: object, key: string | number | undefined, path: string, message: string): void {
    this.fail(path, message, this.pos(container, key, 'key'));
  }

  // -----------------------------------------------------------------------

  private pos(container: object, key: string | number | undefined, prefer: 'key' | 'value'): SourcePosition | { file: string } {
    let p: SourcePosition | undefined;
    if (key === undefined) p = locationOf(container)?.self;
    else if (typeof key === 'string' && prefer === 'key') p = keyPosition(container, key);
    else p = valuePosition(container, key);
    return p ?? { file: this.file };
  }

  private fail(path: string, detail: string, pos: SourcePosition | { file: string }): void {
    if (this.errors.length < this.maxErrors) this.errors.push(new ConfigError(path, detail, pos));
  }

  private valueError(container: object, key: string | number, path: string, detail: string): void {
    this.fail(path, detail, this.pos(container, key, 'value'));
  }

  private checkMessageObject(obj: JsonObject, desc: DescMessage, path: string, anyBody: boolean): void {
    shimMessage(desc, obj, path, this);
    const idx = fieldIndex(desc);
    const oneofs = new Map<DescOneof, string>();
    for (const key of Object.keys(obj)) {
      if (anyBody && key === '@type') continue;
      const field = idx.byKey.get(key);
      const childPath = fieldChild(path, field?.name ?? key);
      if (field === undefined) {
        this.unknownField(obj, key, childPath, desc, idx);
        continue;
      }
      if (key !== field.name) {
        if (field.name in obj) {
          this.error(obj, key, childPath, `field "${field.name}" is set twice (as "${field.name}" and "${key}")`);
          continue;
        }
        moveEntry(obj, key, obj, field.name);
      }
      const value = obj[field.name] as JsonValue;
      if (value === null && field.message?.typeName !== 'google.protobuf.Value') continue; // null = not set
      if (field.oneof !== undefined) {
        const other = oneofs.get(field.oneof);
        if (other !== undefined) {
          this.error(
            obj,
            field.name,
            childPath,
            `only one of "${other}" and "${field.name}" may be set (both belong to oneof "${field.oneof.name}" of ${desc.typeName})`,
          );
        }
        oneofs.set(field.oneof, field.name);
      }
      if (field.deprecated) {
        const fullName = `${desc.typeName}.${field.name}`;
        const hint = deprecatedFieldHint(fullName);
        this.warn(obj, field.name, childPath, `deprecated option '${fullName}'${hint !== undefined ? `; ${hint}` : ' (see the Envoy API docs for its replacement)'}`);
      }
      const checked = this.checkField(value, field, childPath, obj, field.name);
      if (checked !== value) obj[field.name] = checked;
    }
  }

  private unknownField(obj: JsonObject, key: string, path: string, desc: DescMessage, idx: FieldIndex): void {
    let detail: string;
    if (key === '@type') {
      detail = `"@type" is only allowed where the field is a google.protobuf.Any (e.g. typed_config); ${desc.typeName} is not`;
    } else {
      const suggestion = suggestName(key, idx.names);
      const hint = unknownFieldHint(key);
      detail = `unknown field "${key}"`;
      if (suggestion !== undefined) detail += ` (did you mean "${suggestion}"?)`;
      else detail += ` (${desc.typeName} has no such field)`;
      if (hint !== undefined) detail += `; ${hint}`;
    }
    if (this.options.allowUnknownFields) {
      this.warn(obj, key, path, `${detail}; ignored (--allow-unknown-static-fields)`);
      deleteEntry(obj, key);
    } else {
      this.error(obj, key, path, detail);
    }
  }

  private checkField(value: JsonValue, field: DescField, path: string, container: object, key: string | number): JsonValue {
    switch (field.fieldKind) {
      case 'list': {
        if (!Array.isArray(value)) {
          this.valueError(container, key, path, `expected a list for repeated field ${field.name}, got ${describe(value)} (write [value] or "- value" items)`);
          return value;
        }
        for (let i = 0; i < value.length; i++) {
          const p = indexChild(path, i);
          const elem = value[i] as JsonValue;
          if (elem === null) {
            this.valueError(value, i, p, 'list elements cannot be null');
            continue;
          }
          let checked: JsonValue = elem;
          if (field.listKind === 'scalar') checked = this.checkScalar(elem, field.scalar, p, value, i);
          else if (field.listKind === 'enum') checked = this.checkEnum(elem, field.enum, p, value, i);
          else checked = this.checkMessageValue(elem, field.message, p, value, i);
          if (checked !== elem) value[i] = checked;
        }
        return value;
      }
      case 'map': {
        if (!isJsonObject(value)) {
          this.valueError(container, key, path, `expected a mapping for map field ${field.name}, got ${describe(value)}`);
          return value;
        }
        for (const k of Object.keys(value)) {
          const p = mapKeyChild(path, k);
          this.checkMapKey(k, field.mapKey, p, value);
          const v = value[k] as JsonValue;
          let checked: JsonValue = v;
          if (field.mapKind === 'scalar') checked = this.checkScalar(v, field.scalar, p, value, k);
          else if (field.mapKind === 'enum') checked = this.checkEnum(v, field.enum, p, value, k);
          else checked = this.checkMessageValue(v, field.message, p, value, k);
          if (checked !== v) value[k] = checked;
        }
        return value;
      }
      case 'scalar':
        return this.checkScalar(value, field.scalar, path, container, key);
      case 'enum':
        return this.checkEnum(value, field.enum, path, container, key);
      case 'message':
        return this.checkMessageValue(value, field.message, path, container, key);
    }
  }

  private checkMapKey(k: string, type: ScalarType, path: string, map: JsonObject): void {
    switch (type) {
      case ScalarType.BOOL:
        if (k !== 'true' && k !== 'false') this.error(map, k, path, `map key must be true or false, got "${k}"`);
        return;
      case ScalarType.STRING:
        return;
      default:
        if (!INT_STRING_RE.test(k)) this.error(map, k, path, `map key must be an integer, got "${k}"`);
    }
  }

  private checkScalar(value: JsonValue, type: ScalarType, path: string, container: object, key: string | number): JsonValue {
    const bad = (expected: string, hint = ''): JsonValue => {
      this.valueError(container, key, path, `expected ${expected}, got ${describe(value)}${hint}`);
      return value;
    };
    switch (type) {
      case ScalarType.STRING:
        if (typeof value === 'string') return value;
        return typeof value === 'number' || typeof value === 'boolean'
          ? bad('a string', ` (quote it: "${String(value)}")`)
          : bad('a string');
      case ScalarType.BOOL:
        if (typeof value === 'boolean') return value;
        return bad('true or false');
      case ScalarType.BYTES:
        if (typeof value === 'string' && BASE64_RE.test(value)) return value;
        return bad('base64-encoded bytes');
      case ScalarType.FLOAT:
      case ScalarType.DOUBLE:
        if (typeof value === 'number') return value;
        if (typeof value === 'string' && (/^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(value) || ['NaN', 'Infinity', '-Infinity'].includes(value))) {
          return value;
        }
        return bad('a number');
      default:
        return this.checkInteger(value, type, bad);
    }
  }

  private checkInteger(value: JsonValue, type: ScalarType, bad: (expected: string, hint?: string) => JsonValue): JsonValue {
    let min: bigint;
    let max: bigint;
    let label: string;
    switch (type) {
      case ScalarType.INT32:
      case ScalarType.SINT32:
      case ScalarType.SFIXED32:
        [min, max, label] = [-(2n ** 31n), 2n ** 31n - 1n, 'int32'];
        break;
      case ScalarType.UINT32:
      case ScalarType.FIXED32:
        [min, max, label] = [0n, 2n ** 32n - 1n, 'uint32'];
        break;
      case ScalarType.UINT64:
      case ScalarType.FIXED64:
        [min, max, label] = [0n, 2n ** 64n - 1n, 'uint64'];
        break;
      default:
        [min, max, label] = [-(2n ** 63n), 2n ** 63n - 1n, 'int64'];
    }
    let n: bigint;
    if (typeof value === 'number' && Number.isInteger(value)) n = BigInt(value);
    else if (typeof value === 'string' && INT_STRING_RE.test(value)) n = BigInt(value);
    else return bad(`an integer (${label})`);
    if (n < min || n > max) return bad(`an integer in the ${label} range [${min}, ${max}]`);
    return value;
  }

  private checkEnum(value: JsonValue, desc: DescEnum, path: string, container: object, key: string | number): JsonValue {
    if (desc.typeName === 'google.protobuf.NullValue' && (value === null || value === 'NULL_VALUE')) return value;
    if (typeof value === 'number') {
      if (Number.isInteger(value) && value >= -(2 ** 31) && value < 2 ** 31) return value;
      this.valueError(container, key, path, `expected an enum value of ${desc.typeName}, got ${describe(value)}`);
      return value;
    }
    const names = desc.values.map((v) => v.name);
    if (typeof value !== 'string') {
      this.valueError(container, key, path, `expected a ${desc.typeName} value name (${names.join(', ')}), got ${describe(value)}`);
      return value;
    }
    const known = desc.values.find((v) => v.name === value);
    if (known !== undefined) {
      if (known.deprecated) this.warnValue(container, key, path, `deprecated enum value ${desc.typeName}.${value} (see the Envoy API docs for its replacement)`);
      return value;
    }
    const legacy = legacyEnumName(desc, value);
    if (legacy !== undefined) {
      this.warnValue(container, key, path, `"${value}" is the v1/v2 spelling; write ${legacy}`);
      return legacy;
    }
    const suggestion = suggestName(value, names);
    this.valueError(
      container,
      key,
      path,
      `unknown value "${value}" for enum ${desc.typeName}` +
        (suggestion !== undefined ? ` (did you mean ${suggestion}?)` : ` (expected one of ${names.join(', ')})`),
    );
    return value;
  }

  private checkMessageValue(value: JsonValue, desc: DescMessage, path: string, container: object, key: string | number): JsonValue {
    const wrapped = WRAPPERS[desc.typeName];
    if (wrapped !== undefined) {
      if (isJsonObject(value) && 'value' in value) {
        this.valueError(container, key, path, `${desc.typeName} is written as the bare value in proto3 JSON/YAML: write ${JSON.stringify(value['value'])}, not {value: ...}`);
        return value;
      }
      return this.checkScalar(value, wrapped, path, container, key);
    }
    switch (desc.typeName) {
      case 'google.protobuf.Any':
        this.checkAny(value, path, container, key);
        return value;
      case 'google.protobuf.Duration':
        this.checkDuration(value, path, container, key);
        return value;
      case 'google.protobuf.Timestamp':
        if (typeof value !== 'string' || !TIMESTAMP_RE.test(value)) {
          this.valueError(container, key, path, `expected an RFC 3339 timestamp such as "2024-01-31T12:00:00Z", got ${describe(value)}`);
        }
        return value;
      case 'google.protobuf.FieldMask':
        if (typeof value !== 'string') this.valueError(container, key, path, `expected a field mask string ("a.b,c"), got ${describe(value)}`);
        return value;
      case 'google.protobuf.Struct':
        if (!isJsonObject(value)) this.valueError(container, key, path, `expected a mapping (google.protobuf.Struct), got ${describe(value)}`);
        return value;
      case 'google.protobuf.ListValue':
        if (!Array.isArray(value)) this.valueError(container, key, path, `expected a list (google.protobuf.ListValue), got ${describe(value)}`);
        return value;
      case 'google.protobuf.Value':
        return value;
    }
    if (!isJsonObject(value)) {
      this.valueError(container, key, path, `expected a mapping of ${desc.typeName} fields, got ${describe(value)}`);
      return value;
    }
    this.checkMessageObject(value, desc, path, false);
    return value;
  }

  private checkDuration(value: JsonValue, path: string, container: object, key: string | number): void {
    const m = typeof value === 'string' ? value.match(DURATION_RE) : null;
    if (m === null) {
      this.valueError(
        container,
        key,
        path,
        `invalid Duration ${describe(value)}: write seconds with an "s" suffix and at most 9 decimals, e.g. "0.25s", "5s", "3600s"`,
      );
      return;
    }
    if (Number(m[2]) > MAX_DURATION_SECONDS) {
      this.valueError(container, key, path, `Duration ${describe(value)} is out of range (at most ${MAX_DURATION_SECONDS}s)`);
    }
  }

  private checkAny(value: JsonValue, path: string, container: object, key: string | number): void {
    if (!isJsonObject(value)) {
      this.valueError(container, key, path, `expected a mapping with "@type" (google.protobuf.Any), got ${describe(value)}`);
      return;
    }
    if (Object.keys(value).length === 0) return; // an empty Any
    const typeUrl = value['@type'];
    if (typeUrl === undefined) {
      this.error(
        container,
        typeof key === 'string' ? key : undefined,
        path,
        'missing "@type": a google.protobuf.Any (typed_config) needs "@type": type.googleapis.com/<message name> before its fields',
      );
      return;
    }
    const typePath = fieldChild(path, '@type');
    if (typeof typeUrl !== 'string' || !typeUrl.includes('/')) {
      this.valueError(value, '@type', typePath, `"@type" must be a type URL such as "type.googleapis.com/${typeof typeUrl === 'string' ? typeUrl : '<message name>'}", got ${describe(typeUrl)}`);
      return;
    }
    let name = typeUrlToName(typeUrl);
    let desc = this.registry.getMessage(name);
    if (desc === undefined) {
      const upgraded = upgradeV2TypeName(name);
      if (upgraded !== undefined) {
        this.warn(value, '@type', typePath, `"${name}" is a v2 type; write "@type": type.googleapis.com/${upgraded}`);
        value['@type'] = nameToTypeUrl(upgraded);
        name = upgraded;
        desc = this.registry.getMessage(upgraded);
      }
    }
    if (desc === undefined) {
      const simple = name.slice(name.lastIndexOf('.') + 1);
      const same = typesBySimpleName().get(simple)?.filter((t) => this.registry.getMessage(t) !== undefined);
      const hint = same !== undefined && same.length > 0 ? `; did you mean ${same.slice(0, 3).map((s) => `"${s}"`).join(' or ')}?` : '';
      this.valueError(value, '@type', typePath, `unknown type "${name}" in "@type" (it is not in Envoy's v3 API${hint === '' ? ')' : `)${hint}`}`);
      return;
    }
    if (SPECIAL_JSON_TYPES.has(desc.typeName)) {
      for (const k of Object.keys(value)) {
        if (k !== '@type' && k !== 'value') this.error(value, k, fieldChild(path, k), `unknown field "${k}" (an Any holding ${desc.typeName} has only "value")`);
      }
      if ('value' in value) this.checkMessageValue(value['value'] as JsonValue, desc, fieldChild(path, 'value'), value, 'value');
      return;
    }
    this.checkMessageObject(value, desc, path, true);
    if (isTypedStruct(desc.typeName)) {
      const inner = value['type_url'];
      const body = value['value'];
      if (typeof inner !== 'string' || inner === '') {
        this.error(value, undefined, path, `${desc.typeName} needs a type_url naming the message in its value`);
        return;
      }
      const innerDesc = this.registry.getMessage(typeUrlToName(inner));
      // An unknown inner type is left to the extension registry: a TypedStruct may
      // carry config for an extension whose schema Legate does not have.
      if (innerDesc !== undefined && isJsonObject(body)) this.checkMessageObject(body, innerDesc, fieldChild(path, 'value'), false);
    }
  }
}
