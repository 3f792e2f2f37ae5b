/**
 * Enforces the protoc-gen-validate (PGV) constraints that Envoy's protos
 * carry as `(validate.rules)` field options, read generically from the
 * descriptors. Envoy runs the generated `Validate()` of each message
 * (`MessageUtil::validate`) and reports e.g.
 *
 *   Proto constraint validation failed (ClusterValidationError.Name: value length must be at least 1 characters)
 *
 * We report the same constraint with the field path and source line:
 *
 *   envoy.yaml:14:7: static_resources.clusters[0].name: value length must be at least 1 characters (validate rule on envoy.config.cluster.v3.Cluster.name)
 *
 * Covered: message `required`/`skip`, oneof `(validate.required)`, message
 * `(validate.disabled)`/`(validate.ignored)`, all numeric rules (`const`,
 * `lt`/`lte`/`gt`/`gte` including exclusive ranges, `in`/`not_in`), bool
 * `const`, string (`const`, lengths in characters and bytes, `pattern` (RE2),
 * `prefix`/`suffix`/`contains`/`not_contains`, `in`/`not_in`, the HTTP header
 * `well_known_regex` and the basic well-known formats), bytes lengths, enum
 * `defined_only`/`const`/`in`/`not_in`, repeated `min_items`/`max_items`/
 * `unique`/`items`, map pairs/keys/values, Any `required`/`in`/`not_in`,
 * Duration and Timestamp `required`/`const`/ranges, and `ignore_empty`.
 * Not covered: timestamp `lt_now`/`gt_now`/`within`.
 *
 * Validation descends into `Any` values (and TypedStruct) so that nested
 * extension configs are checked where they are written.
 */
import {
  fromJson,
  getOption,
  isFieldSet,
  type DescEnum,
  type DescExtension,
  type DescField,
  type DescMessage,
  type DescOneof,
  type FileRegistry,
  type JsonObject,
  type Message,
} from '@bufbuild/protobuf';
import { anyUnpack, type Any, type Duration, type Timestamp } from '@bufbuild/protobuf/wkt';
import { RE2JS } from 're2js';
import type {
  AnyRules,
  BytesRules,
  DurationRules,
  EnumRules,
  FieldRules,
  MapRules,
  RepeatedRules,
  StringRules,
  TimestampRules,
} from '../generated/validate/validate_pb.js';
import { ConfigError, type PositionLookup } from './config_error.js';
import { fieldChild, indexChild, mapKeyChild } from './field_path.js';
import { isTypedStruct, typeRegistry, typeUrlToName } from './type_registry.js';

interface MessagePlan {
  readonly skipAll: boolean;
  /** Only the fields that can matter: those with rules, and those holding messages (to descend into). */
  readonly fields: ReadonlyArray<{ readonly field: DescField; readonly rules: FieldRules | undefined; readonly owner: string }>;
  readonly requiredOneofs: ReadonlyArray<DescOneof>;
  readonly desc: DescMessage;
}

interface Extensions {
  readonly rules: DescExtension;
  readonly required: DescExtension;
  readonly disabled: DescExtension;
  /** `(validate.ignored)` exists only in newer PGV; our validate.proto may predate it. */
  readonly ignored: DescExtension | undefined;
}

let extensions: Extensions | undefined;
const PLANS = new WeakMap<DescMessage, MessagePlan>();
const PLANS_BY_NAME = new Map<string, MessagePlan | null>();
const REGEX_CACHE = new Map<string, RE2JS | null>();

function pgvExtensions(registry: FileRegistry): Extensions {
  if (extensions === undefined) {
    const get = (name: string): DescExtension => {
      const ext = registry.getExtension(name);
      if (ext === undefined) throw new Error(`PGV extension ${name} is missing from the descriptor set`);
      return ext;
    };
    extensions = {
      rules: get('validate.rules'),
      required: get('validate.required'),
      disabled: get('validate.disabled'),
      ignored: registry.getExtension('validate.ignored'),
    };
  }
  return extensions;
}

function hasOptions(el: { proto: { options?: { $unknown?: unknown[] } } }): boolean {
  const unknown = el.proto.options?.$unknown;
  return unknown !== undefined && unknown.length > 0;
}

/** What to check for each message type, read once from the descriptors. */
function planFor(desc: DescMessage, registry: FileRegistry): MessagePlan {
  let plan = PLANS.get(desc);
  if (plan !== undefined) return plan;
  const ext = pgvExtensions(registry);
  let skipAll = false;
  if (hasOptions(desc)) {
    skipAll = getOption(desc, ext.disabled) === true || (ext.ignored !== undefined && getOption(desc, ext.ignored) === true);
  }
  const fields = desc.fields
    .map((field) => ({
      field,
      rules: hasOptions(field) ? (getOption(field, ext.rules) as unknown as FieldRules) : undefined,
      owner: `${desc.typeName}.${field.name}`,
    }))
    // A scalar field without rules can never produce a violation: skip it for good
    // (a 10,000-endpoint EDS update walks ~40,000 messages).
    .filter(({ field, rules }) => rules !== undefined || holdsMessages(field));
  const requiredOneofs = desc.oneofs.filter((o) => hasOptions(o) && getOption(o, ext.required) === true);
  plan = { skipAll, fields, requiredOneofs, desc };
  PLANS.set(desc, plan);
  return plan;
}

function holdsMessages(field: DescField): boolean {
  return field.fieldKind === 'message' ||
    (field.fieldKind === 'list' && field.listKind === 'message') ||
    (field.fieldKind === 'map' && field.mapKind === 'message');
}

/**
 * `ignore_empty`: newer PGV has it on bytes, repeated and map rules too; our
 * generated types come from an older validate.proto, so read it by name.
 */
function ignoreEmpty(rules: Message): boolean {
  return (rules as unknown as { ignoreEmpty?: boolean }).ignoreEmpty === true;
}

/**
 * Every field of a rules message → whether it is explicitly set (proto2
 * presence), computed once per rules object: rules come from descriptors and
 * never change, and a big EDS update asks the same questions 10,000s of times.
 */
const SET_FIELDS_CACHE = new WeakMap<Message, Record<string, boolean>>();

function setFields(rules: Message): Readonly<Record<string, boolean>> {
  let answers = SET_FIELDS_CACHE.get(rules);
  if (answers === undefined) {
    answers = Object.create(null) as Record<string, boolean>;
    const desc = typeRegistry().getMessage(rules.$typeName);
    for (const f of desc?.fields ?? []) answers[f.localName] = isFieldSet(rules, f);
    SET_FIELDS_CACHE.set(rules, answers);
  }
  return answers;
}

/** True when field `name` of a rules message is explicitly set. */
function has(rules: Message, name: string): boolean {
  return setFields(rules)[name] === true;
}

type Num = number | bigint;

function cmp(a: Num, b: Num): number {
  if (typeof a === 'bigint' || typeof b === 'bigint') {
    const x = typeof a === 'bigint' ? a : Number.isInteger(a) ? BigInt(a) : undefined;
    const y = typeof b === 'bigint' ? b : Number.isInteger(b) ? BigInt(b) : undefined;
    if (x !== undefined && y !== undefined) return x < y ? -1 : x > y ? 1 : 0;
    return Number(a) - Number(b);
  }
  return a - b;
}

function durationToNanos(d: Duration): bigint {
  return d.seconds * 1_000_000_000n + BigInt(d.nanos);
}

function formatDuration(d: Duration): string {
  const n = durationToNanos(d);
  const neg = n < 0n;
  const abs = neg ? -n : n;
  const s = abs / 1_000_000_000n;
  const frac = abs % 1_000_000_000n;
  return `${neg ? '-' : ''}${s}${frac === 0n ? '' : `.${frac.toString().padStart(9, '0').replace(/0+$/, '')}`}s`;
}

function timestampToNanos(t: Timestamp): bigint {
  return t.seconds * 1_000_000_000n + BigInt(t.nanos);
}

/** Characters (code points), as PGV counts string lengths. */
function runeLength(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

function compileRegex(pattern: string): RE2JS | null {
  let re = REGEX_CACHE.get(pattern);
  if (re === undefined) {
    try {
      re = RE2JS.compile(pattern);
    } catch {
      re = null;
    }
    REGEX_CACHE.set(pattern, re);
  }
  return re;
}

const HEADER_NAME_RE = /^:?[0-9a-zA-Z!#$%&'*+\-.^_|~`]+$/;
const HEADER_VALUE_RE = /^[^\u0000-\u0008\u000A-\u001F\u007F]*$/;
const LOOSE_HEADER_RE = /^[^\u0000\u000A\u000D]*$/;
const HOSTNAME_RE = /^(?=.{1,253}$)([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;
const IPV4_RE = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

function isIpv6(s: string): boolean {
  if (!/^[0-9a-fA-F:.]+$/.test(s) || !s.includes(':')) return false;
  const parts = s.split('::');
  if (parts.length > 2) return false;
  const groups = parts.flatMap((p) => (p === '' ? [] : p.split(':')));
  let count = 0;
  for (const [i, g] of groups.entries()) {
    if (i === groups.length - 1 && g.includes('.')) {
      if (!IPV4_RE.test(g)) return false;
      count += 2;
    } else if (/^[0-9a-fA-F]{1,4}$/.test(g)) count++;
    else return false;
  }
  return parts.length === 2 ? count < 8 : count === 8;
}

export interface ValidateOptions {
  /** Descend into `Any` values (default true). */
  readonly descendIntoAny?: boolean;
  /** Stop after this many violations (default 20). */
  readonly maxErrors?: number;
}

class Validator {
  readonly errors: ConfigError[] = [];
  private readonly registry = typeRegistry();
  private readonly maxErrors: number;

  constructor(
    private readonly positions: PositionLookup | undefined,
    private readonly options: ValidateOptions,
  ) {
    this.maxErrors = options.maxErrors ?? 20;
  }

  /** The plan for a type name (a Map lookup instead of the registry's on every message). */
  private planByTypeName(typeName: string): MessagePlan | null {
    let plan = PLANS_BY_NAME.get(typeName);
    if (plan === undefined) {
      const desc = this.registry.getMessage(typeName);
      plan = desc === undefined ? null : planFor(desc, this.registry);
      PLANS_BY_NAME.set(typeName, plan);
    }
    return plan;
  }

  private violation(path: string, owner: string, detail: string, prefer: 'key' | 'value' = 'value'): void {
    if (this.errors.length >= this.maxErrors) return;
    const pos = this.positions?.lookup(path, prefer);
    this.errors.push(new ConfigError(path, `${detail} (validate rule on ${owner})`, pos));
  }

  message(msg: Message, path: string): void {
    const plan = this.planByTypeName(msg.$typeName);
    if (plan === null) return;
    const desc = plan.desc;
    if (plan.skipAll) return;
    const record = msg as unknown as Record<string, unknown>;
    for (const oneof of plan.requiredOneofs) {
      const o = record[oneof.localName] as { case: string | undefined } | undefined;
      if (o?.case === undefined) {
        this.violation(
          fieldChild(path, oneof.name),
          `${desc.typeName}.${oneof.name}`,
          `value is required: set one of ${oneof.fields.map((f) => f.name).join(', ')}`,
          'key',
        );
      }
    }
    for (const { field, rules, owner } of plan.fields) {
      let value: unknown;
      if (field.oneof !== undefined) {
        const o = record[field.oneof.localName] as { case: string | undefined; value?: unknown } | undefined;
        if (o?.case !== field.localName) continue; // rules on oneof members apply only when set
        value = o.value;
      } else {
        value = record[field.localName];
      }
      // Nothing to check and nothing to descend into: no path string to build.
      if (rules === undefined && (value === undefined || (Array.isArray(value) && value.length === 0))) continue;
      const fpath = fieldChild(path, field.name);
      if (rules !== undefined) this.fieldRules(field, rules, value, fpath, owner);
      if (rules?.message?.skip === true) continue;
      this.descend(field, value, fpath);
    }
  }

  /** Validates nested messages (list elements, map values, Any content). */
  private descend(field: DescField, value: unknown, path: string): void {
    if (value === undefined || value === null) return;
    if (field.fieldKind === 'message') this.nested(field.message, value, path);
    else if (field.fieldKind === 'list' && field.listKind === 'message') {
      (value as unknown[]).forEach((v, i) => this.nested(field.message, v, indexChild(path, i)));
    } else if (field.fieldKind === 'map' && field.mapKind === 'message') {
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) this.nested(field.message, v, mapKeyChild(path, k));
    }
  }

  private nested(desc: DescMessage, value: unknown, path: string): void {
    if (typeof value !== 'object' || value === null || !('$typeName' in value)) return; // wrappers, Struct (JSON)
    if (desc.typeName === 'google.protobuf.Any') {
      if (this.options.descendIntoAny !== false) this.any(value as Any, path);
      return;
    }
    if (desc.typeName.startsWith('google.protobuf.')) return;
    this.message(value as Message, path);
  }

  private any(any: Any, path: string): void {
    if (any.typeUrl === '') return;
    const name = typeUrlToName(any.typeUrl);
    let inner: Message | undefined;
    try {
      inner = anyUnpack(any, this.registry);
    } catch {
      return; // undecodable content is reported by whoever unpacks it for use
    }
    if (inner === undefined) return; // a type we have no schema for: left to the extension registry
    if (isTypedStruct(name)) {
      const ts = inner as unknown as { typeUrl: string; value?: JsonObject };
      const schema = this.registry.getMessage(typeUrlToName(ts.typeUrl));
      if (schema === undefined) return;
      try {
        inner = fromJson(schema, ts.value ?? {}, { registry: this.registry });
      } catch {
        return;
      }
      this.message(inner, fieldChild(path, 'value'));
      return;
    }
    if (inner.$typeName.startsWith('google.protobuf.')) return;
    this.message(inner, path);
  }

  // ---------------------------------------------------------------------

  private fieldRules(field: DescField, rules: FieldRules, value: unknown, path: string, owner: string): void {
    const isWrapper = field.fieldKind === 'message' && field.message.typeName.startsWith('google.protobuf.') && field.message.typeName.endsWith('Value') && field.message.typeName !== 'google.protobuf.Value';
    const present = value !== undefined && value !== null;
    if (rules.message?.required === true && !present) {
      this.violation(path, owner, 'value is required', 'key');
      return;
    }
    const t = rules.type;
    switch (t.case) {
      case undefined:
        return;
      case 'repeated':
        if (field.fieldKind === 'list') this.repeated(field, t.value, value as unknown[], path, owner);
        return;
      case 'map':
        if (field.fieldKind === 'map') this.map(field, t.value, value as Record<string, unknown>, path, owner);
        return;
      case 'any':
        this.anyRules(t.value, value as Any | undefined, path, owner);
        return;
      case 'duration':
        this.duration(t.value, value as Duration | undefined, path, owner);
        return;
      case 'timestamp':
        this.timestamp(t.value, value as Timestamp | undefined, path, owner);
        return;
    }
    // Scalar-like rules: on a wrapper they apply only when it is set.
    if (isWrapper && !present) return;
    this.scalarRules(rules, value, path, owner, field.fieldKind === 'enum' ? field.enum : undefined);
  }

  /** Rules that apply to one scalar value: numbers, bool, string, bytes, enum. */
  private scalarRules(rules: FieldRules, value: unknown, path: string, owner: string, enumDesc: DescEnum | undefined): void {
    const t = rules.type;
    switch (t.case) {
      case 'string':
        if (typeof value === 'string') this.string(t.value, value, path, owner);
        return;
      case 'bytes':
        if (value instanceof Uint8Array) this.bytes(t.value, value, path, owner);
        return;
      case 'bool':
        if (has(t.value, 'const') && value !== t.value.const) this.violation(path, owner, `value must equal ${String(t.value.const)}`);
        return;
      case 'enum':
        if (typeof value === 'number') this.enumRules(t.value, value, path, owner, enumDesc);
        return;
      case 'float':
      case 'double':
      case 'int32':
      case 'int64':
      case 'uint32':
      case 'uint64':
      case 'sint32':
      case 'sint64':
      case 'fixed32':
      case 'fixed64':
      case 'sfixed32':
      case 'sfixed64':
        if (typeof value === 'number' || typeof value === 'bigint') {
          this.numeric(t.value as unknown as NumericRules, value, path, owner);
        }
        return;
      default:
        return;
    }
  }

  private numeric(r: NumericRules, v: Num, path: string, owner: string): void {
    const set = setFields(r);
    if (r.ignoreEmpty && cmp(v, 0) === 0) return;
    if (set['const'] && cmp(v, r.const) !== 0) {
      this.violation(path, owner, `value must equal ${r.const}`);
      return;
    }
    this.range(
      v,
      set['gt'] ? { v: r.gt, inclusive: false } : set['gte'] ? { v: r.gte, inclusive: true } : undefined,
      set['lt'] ? { v: r.lt, inclusive: false } : set['lte'] ? { v: r.lte, inclusive: true } : undefined,
      cmp,
      String,
      path,
      owner,
    );
    if (r.in.length > 0 && !r.in.some((x) => cmp(v, x) === 0)) this.violation(path, owner, `value must be in list [${r.in.join(', ')}]`);
    if (r.notIn.some((x) => cmp(v, x) === 0)) this.violation(path, owner, `value must not be in list [${r.notIn.join(', ')}]`);
  }

  /**
   * PGV range semantics: with only one bound, a plain comparison; with both,
   * `lower < upper` means "inside", and `lower >= upper` means "outside".
   */
  private range<T>(
    v: T,
    lower: { v: T; inclusive: boolean } | undefined,
    upper: { v: T; inclusive: boolean } | undefined,
    compare: (a: T, b: T) => number,
    show: (x: T) => string,
    path: string,
    owner: string,
  ): void {
    const aboveLower = lower === undefined || (lower.inclusive ? compare(v, lower.v) >= 0 : compare(v, lower.v) > 0);
    const belowUpper = upper === undefined || (upper.inclusive ? compare(v, upper.v) <= 0 : compare(v, upper.v) < 0);
    if (lower !== undefined && upper !== undefined) {
      const lo = `${lower.inclusive ? '[' : '('}${show(lower.v)}`;
      const hi = `${show(upper.v)}${upper.inclusive ? ']' : ')'}`;
      if (compare(upper.v, lower.v) > 0) {
        if (!(aboveLower && belowUpper)) this.violation(path, owner, `value must be inside range ${lo}, ${hi}`);
      } else if (!(aboveLower || belowUpper)) {
        // The forbidden interval lies between upper and lower; an inclusive bound is allowed, so excluded from it.
        const forbidden = `${upper.inclusive ? '(' : '['}${show(upper.v)}, ${show(lower.v)}${lower.inclusive ? ')' : ']'}`;
        this.violation(path, owner, `value must be outside range ${forbidden}`);
      }
      return;
    }
    if (!aboveLower && lower !== undefined) {
      this.violation(path, owner, `value must be greater than ${lower.inclusive ? 'or equal to ' : ''}${show(lower.v)}`);
    }
    if (!belowUpper && upper !== undefined) {
      this.violation(path, owner, `value must be less than ${upper.inclusive ? 'or equal to ' : ''}${show(upper.v)}`);
    }
  }

  private string(r: StringRules, v: string, path: string, owner: string): void {
    const set = setFields(r);
    if (r.ignoreEmpty && v === '') return;
    const fail = (d: string): void => this.violation(path, owner, d);
    if (set['const'] && v !== r.const) return fail(`value must equal ${JSON.stringify(r.const)}`);
    if (set['len'] || set['minLen'] || set['maxLen']) {
      // Lengths are far below 2^53: compare as numbers (no BigInt per value).
      const n = runeLength(v);
      if (set['len'] && n !== Number(r.len)) return fail(`value length must be ${r.len} characters`);
      if (set['minLen'] && n < Number(r.minLen)) return fail(`value length must be at least ${r.minLen} characters`);
      if (set['maxLen'] && n > Number(r.maxLen)) return fail(`value length must be at most ${r.maxLen} characters`);
    }
    if (set['lenBytes'] || set['minBytes'] || set['maxBytes']) {
      const n = BigInt(Buffer.byteLength(v, 'utf8'));
      if (set['lenBytes'] && n !== r.lenBytes) return fail(`value length must be ${r.lenBytes} bytes`);
      if (set['minBytes'] && n < r.minBytes) return fail(`value length must be at least ${r.minBytes} bytes`);
      if (set['maxBytes'] && n > r.maxBytes) return fail(`value length must be at most ${r.maxBytes} bytes`);
    }
    if (set['pattern']) {
      const re = compileRegex(r.pattern);
      if (re !== null && !re.matcher(v).find()) return fail(`value does not match regex pattern ${JSON.stringify(r.pattern)}`);
    }
    if (set['prefix'] && !v.startsWith(r.prefix)) return fail(`value does not have prefix ${JSON.stringify(r.prefix)}`);
    if (set['suffix'] && !v.endsWith(r.suffix)) return fail(`value does not have suffix ${JSON.stringify(r.suffix)}`);
    if (set['contains'] && !v.includes(r.contains)) return fail(`value does not contain substring ${JSON.stringify(r.contains)}`);
    if (set['notContains'] && v.includes(r.notContains)) return fail(`value contains substring ${JSON.stringify(r.notContains)}`);
    if (r.in.length > 0 && !r.in.includes(v)) return fail(`value must be in list [${r.in.map((x) => JSON.stringify(x)).join(', ')}]`);
    if (r.notIn.includes(v)) return fail(`value must not be in list [${r.notIn.map((x) => JSON.stringify(x)).join(', ')}]`);
    const wk = r.wellKnown;
    switch (wk.case) {
      case 'wellKnownRegex': {
        // KnownRegex: 1 = HTTP_HEADER_NAME, 2 = HTTP_HEADER_VALUE. `strict` defaults to true.
        const strict = r.strict !== false;
        if (wk.value === 1) {
          if (!(strict ? HEADER_NAME_RE : LOOSE_HEADER_RE).test(v)) fail('value must be a valid HTTP header name');
        } else if (wk.value === 2) {
          if (!(strict ? HEADER_VALUE_RE : LOOSE_HEADER_RE).test(v)) fail('value must be a valid HTTP header value');
        }
        return;
      }
      case 'hostname':
        if (wk.value && !HOSTNAME_RE.test(v)) fail('value must be a valid hostname');
        return;
      case 'ip':
        if (wk.value && !IPV4_RE.test(v) && !isIpv6(v)) fail('value must be a valid IP address');
        return;
      case 'ipv4':
        if (wk.value && !IPV4_RE.test(v)) fail('value must be a valid IPv4 address');
        return;
      case 'ipv6':
        if (wk.value && !isIpv6(v)) fail('value must be a valid IPv6 address');
        return;
      case 'address':
        if (wk.value && !IPV4_RE.test(v) && !isIpv6(v) && !HOSTNAME_RE.test(v)) fail('value must be a valid hostname, or ip address');
        return;
      case 'uuid':
        if (wk.value && !UUID_RE.test(v)) fail('value must be a valid UUID');
        return;
      case 'uri':
        if (wk.value && !/^[A-Za-z][A-Za-z0-9+.-]*:/.test(v)) fail('value must be a valid URI');
        return;
      case 'email':
        if (wk.value && !/^[^@\s]+@[^@\s]+$/.test(v)) fail('value must be a valid email address');
        return;
      default:
        return;
    }
  }

  private bytes(r: BytesRules, v: Uint8Array, path: string, owner: string): void {
    if (ignoreEmpty(r) && v.length === 0) return;
    const n = BigInt(v.length);
    if (has(r, 'len') && n !== r.len) this.violation(path, owner, `value length must be ${r.len} bytes`);
    else if (has(r, 'minLen') && n < r.minLen) this.violation(path, owner, `value length must be at least ${r.minLen} bytes`);
    else if (has(r, 'maxLen') && n > r.maxLen) this.violation(path, owner, `value length must be at most ${r.maxLen} bytes`);
  }

  private enumRules(r: EnumRules, v: number, path: string, owner: string, desc: DescEnum | undefined): void {
    if (has(r, 'const') && v !== r.const) {
      this.violation(path, owner, `value must equal ${desc?.values.find((x) => x.number === r.const)?.name ?? r.const}`);
      return;
    }
    if (r.definedOnly && desc !== undefined && !desc.values.some((x) => x.number === v)) {
      this.violation(path, owner, `value must be one of the defined enum values (${desc.values.map((x) => x.name).join(', ')}), got ${v}`);
      return;
    }
    const show = (n: number): string => desc?.values.find((x) => x.number === n)?.name ?? String(n);
    if (r.in.length > 0 && !r.in.includes(v)) this.violation(path, owner, `value must be in list [${r.in.map(show).join(', ')}]`);
    if (r.notIn.includes(v)) this.violation(path, owner, `value must not be in list [${r.notIn.map(show).join(', ')}]`);
  }

  private repeated(field: DescField & { fieldKind: 'list' }, r: RepeatedRules, list: unknown[], path: string, owner: string): void {
    if (ignoreEmpty(r) && list.length === 0) return;
    const n = BigInt(list.length);
    if (has(r, 'minItems') && n < r.minItems) {
      this.violation(path, owner, `value must contain at least ${r.minItems} item(s)`, 'key');
    }
    if (has(r, 'maxItems') && n > r.maxItems) this.violation(path, owner, `value must contain no more than ${r.maxItems} item(s)`, 'key');
    if (r.unique) {
      const seen = new Set<string>();
      for (const [i, v] of list.entries()) {
        const key = typeof v === 'bigint' ? `${v}n` : v instanceof Uint8Array ? Buffer.from(v).toString('base64') : JSON.stringify(v);
        if (seen.has(key)) {
          this.violation(indexChild(path, i), owner, 'repeated value must contain unique items');
          break;
        }
        seen.add(key);
      }
    }
    const items = r.items;
    if (items === undefined) return;
    for (const [i, v] of list.entries()) {
      const p = indexChild(path, i);
      if (items.message?.required === true && (v === undefined || v === null)) this.violation(p, owner, 'value is required');
      const t = items.type;
      if (t.case === 'any') this.anyRules(t.value, v as Any, p, owner);
      else if (t.case === 'duration') this.duration(t.value, v as Duration, p, owner);
      else if (t.case === 'timestamp') this.timestamp(t.value, v as Timestamp, p, owner);
      else this.scalarRules(items, v, p, owner, field.listKind === 'enum' ? field.enum : undefined);
    }
  }

  private map(field: DescField & { fieldKind: 'map' }, r: MapRules, map: Record<string, unknown>, path: string, owner: string): void {
    const keys = Object.keys(map);
    if (ignoreEmpty(r) && keys.length === 0) return;
    const n = BigInt(keys.length);
    if (has(r, 'minPairs') && n < r.minPairs) this.violation(path, owner, `value must contain at least ${r.minPairs} pair(s)`, 'key');
    if (has(r, 'maxPairs') && n > r.maxPairs) this.violation(path, owner, `value must contain no more than ${r.maxPairs} pair(s)`, 'key');
    for (const k of keys) {
      const p = mapKeyChild(path, k);
      if (r.keys !== undefined) this.scalarRules(r.keys, this.mapKeyValue(field, k), p, `${owner} keys`, undefined);
      const v = map[k];
      if (r.values !== undefined) {
        const t = r.values.type;
        if (t.case === 'any') this.anyRules(t.value, v as Any, p, owner);
        else if (t.case === 'duration') this.duration(t.value, v as Duration, p, owner);
        else if (t.case === 'timestamp') this.timestamp(t.value, v as Timestamp, p, owner);
        else if (r.values.message?.required === true && (v === undefined || v === null)) this.violation(p, owner, 'value is required');
        else this.scalarRules(r.values, v, p, owner, field.mapKind === 'enum' ? field.enum : undefined);
      }
    }
  }

  private mapKeyValue(field: DescField & { fieldKind: 'map' }, k: string): unknown {
    // Map keys arrive as strings; numeric rules need numbers.
    if (field.mapKey === 9 /* STRING */) return k;
    if (field.mapKey === 8 /* BOOL */) return k === 'true';
    return /^-?\d+$/.test(k) ? BigInt(k) : k;
  }

  private anyRules(r: AnyRules, v: Any | undefined, path: string, owner: string): void {
    if (v === undefined || v === null) {
      if (r.required) this.violation(path, owner, 'value is required', 'key');
      return;
    }
    if (r.in.length > 0 && !r.in.includes(v.typeUrl)) this.violation(path, owner, `type URL must be in list [${r.in.join(', ')}]`);
    if (r.notIn.includes(v.typeUrl)) this.violation(path, owner, `type URL must not be in list [${r.notIn.join(', ')}]`);
  }

  private duration(r: DurationRules, v: Duration | undefined, path: string, owner: string): void {
    if (v === undefined || v === null) {
      if (r.required) this.violation(path, owner, 'value is required', 'key');
      return;
    }
    const n = durationToNanos(v);
    const cmpD = (a: Duration, b: Duration): number => {
      const x = durationToNanos(a);
      const y = durationToNanos(b);
      return x < y ? -1 : x > y ? 1 : 0;
    };
    if (r.const !== undefined && durationToNanos(r.const) !== n) {
      this.violation(path, owner, `value must equal ${formatDuration(r.const)}`);
      return;
    }
    this.range(
      v,
      r.gt !== undefined ? { v: r.gt, inclusive: false } : r.gte !== undefined ? { v: r.gte, inclusive: true } : undefined,
      r.lt !== undefined ? { v: r.lt, inclusive: false } : r.lte !== undefined ? { v: r.lte, inclusive: true } : undefined,
      cmpD,
      formatDuration,
      path,
      owner,
    );
    if (r.in.length > 0 && !r.in.some((d) => durationToNanos(d) === n)) {
      this.violation(path, owner, `value must be in list [${r.in.map(formatDuration).join(', ')}]`);
    }
    if (r.notIn.some((d) => durationToNanos(d) === n)) {
      this.violation(path, owner, `value must not be in list [${r.notIn.map(formatDuration).join(', ')}]`);
    }
  }

  private timestamp(r: TimestampRules, v: Timestamp | undefined, path: string, owner: string): void {
    if (v === undefined || v === null) {
      if (r.required) this.violation(path, owner, 'value is required', 'key');
      return;
    }
    const show = (t: Timestamp): string => new Date(Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6)).toISOString();
    const cmpT = (a: Timestamp, b: Timestamp): number => {
      const x = timestampToNanos(a);
      const y = timestampToNanos(b);
      return x < y ? -1 : x > y ? 1 : 0;
    };
    if (r.const !== undefined && cmpT(v, r.const) !== 0) {
      this.violation(path, owner, `value must equal ${show(r.const)}`);
      return;
    }
    this.range(
      v,
      r.gt !== undefined ? { v: r.gt, inclusive: false } : r.gte !== undefined ? { v: r.gte, inclusive: true } : undefined,
      r.lt !== undefined ? { v: r.lt, inclusive: false } : r.lte !== undefined ? { v: r.lte, inclusive: true } : undefined,
      cmpT,
      show,
      path,
      owner,
    );
  }
}

/** The shape shared by all numeric rule messages (Int32Rules, DoubleRules, ...). */
interface NumericRules extends Message {
  const: Num;
  lt: Num;
  lte: Num;
  gt: Num;
  gte: Num;
  in: Num[];
  notIn: Num[];
  ignoreEmpty: boolean;
}

/**
 * Every PGV violation in `msg` (and nested messages, including `Any`
 * contents), as ConfigErrors naming the field path under `path` and, when
 * `positions` is given, the source line.
 */
export function collectViolations(
  msg: Message,
  path = '',
  positions?: PositionLookup,
  options: ValidateOptions = {},
): ConfigError[] {
  const v = new Validator(positions, options);
  v.message(msg, path);
  return v.errors;
}

/**
 * Validates `msg` against its PGV rules; throws a ConfigError for the first
 * violation (listing the others). For the bootstrap, typed extension configs
 * and, later, xDS resources (a violation there is a NACK).
 */
export function validateMessage(msg: Message, path = '', positions?: PositionLookup, options: ValidateOptions = {}): void {
  const errors = collectViolations(msg, path, positions, options);
  if (errors.length > 0) throw ConfigError.combine(errors);
}
