/**
 * HeaderMatcher, after Envoy's `Http::HeaderUtility::HeaderData` and
 * `matchHeaders` (`source/common/http/header_utility.cc`), compiled once from
 * an `envoy.config.route.v3.HeaderMatcher`.
 *
 * Semantics, exactly as Envoy:
 * - Several values of the header are joined with `,` (no spaces) and matched
 *   as one string: `x: a` + `x: b` is `a,b`, so `safe_regex: "(a|b)"` no longer
 *   matches while `exact: "a,b"` does.
 * - No specifier (only `name`) means `present_match: true`.
 * - A missing header: only a `present_match` can match it (`present_match:
 *   false` matches an absent header; with `invert_match` the result flips).
 *   Every other specifier fails on a missing header, inverted or not — unless
 *   `treat_missing_header_as_empty`, which matches the missing header as the
 *   empty string (and so as *present*).
 * - A present header: the specifier's result, flipped by `invert_match`.
 * - Legacy `exact_match: ""` matches any value (a presence match), as Envoy.
 * - `range_match` parses the value as a base-10 int64 (surrounding ASCII
 *   whitespace and a leading `+` allowed, as `absl::SimpleAtoi`) and tests
 *   `start <= v < end`.
 */
import type { HeaderMap } from '../../envoy/http/header_map.js';
import type { HeaderMatcher as HeaderMatcherProto } from '../../generated/envoy/config/route/v3/route_components_pb.js';
import { asciiLower } from './ascii.js';
import { MatcherConfigError, withFieldPrefix } from './errors.js';
import { compileRegexMatcher } from './regex.js';
import { type StringMatcher, compileStringMatcher, createStringMatcher } from './string_matcher.js';

/** A map that exposes its storage (HeaderMapImpl does) lets us join without building arrays. */
interface RawHeaderMap {
  rawNames(): readonly string[];
  rawValues(): readonly string[];
}

function isRaw(h: HeaderMap): h is HeaderMap & RawHeaderMap {
  return typeof (h as Partial<RawHeaderMap>).rawNames === 'function';
}

/**
 * All values of `name` joined with `,` (Envoy's `getAllOfHeaderAsString`), or
 * undefined when the header is absent. A single value is returned as is, with
 * no allocation.
 */
export function getAllOfHeaderAsString(headers: HeaderMap, name: string): string | undefined {
  if (isRaw(headers)) {
    const names = headers.rawNames();
    const values = headers.rawValues();
    let out: string | undefined;
    for (let i = 0; i < names.length; i++) {
      if (names[i] === name) out = out === undefined ? values[i] : `${out},${values[i]}`;
    }
    return out;
  }
  const first = headers.get(name);
  if (first === undefined) return undefined;
  const all = headers.getAll(name);
  return all.length === 1 ? first : all.join(',');
}

const enum Kind { Present, Value, Prefix, Suffix, Contains, Regex, Range, StringMatch }

/** Parses like absl::SimpleAtoi into an int64 (bigint), or null. */
function parseInt64(value: string): bigint | null {
  let s = 0;
  let e = value.length;
  const ws = (c: number) => c === 32 || (c >= 9 && c <= 13);
  while (s < e && ws(value.charCodeAt(s))) s++;
  while (e > s && ws(value.charCodeAt(e - 1))) e--;
  let i = s;
  if (i < e && (value[i] === '+' || value[i] === '-')) i++;
  if (i === e) return null;
  for (let j = i; j < e; j++) {
    const c = value.charCodeAt(j);
    if (c < 48 || c > 57) return null;
  }
  const text = value[s] === '+' ? value.slice(s + 1, e) : value.slice(s, e);
  const v = BigInt(text);
  if (v > 0x7fffffffffffffffn || v < -0x8000000000000000n) return null;
  return v;
}

/** One compiled header matcher. */
export class HeaderMatcherImpl {
  /** Lower-cased header name. */
  readonly name: string;
  readonly invertMatch: boolean;
  readonly treatMissingHeaderAsEmpty: boolean;
  private readonly kind: Kind;
  private readonly present: boolean;
  private readonly value: string;
  private readonly matcher: StringMatcher | null;
  private readonly rangeStart: bigint;
  private readonly rangeEnd: bigint;

  constructor(config: HeaderMatcherProto) {
    if (config.name.length === 0) throw new MatcherConfigError('name', 'header name must not be empty');
    this.name = asciiLower(config.name);
    this.invertMatch = config.invertMatch;
    this.treatMissingHeaderAsEmpty = config.treatMissingHeaderAsEmpty;
    let kind = Kind.Present;
    let present = true;
    let value = '';
    let matcher: StringMatcher | null = null;
    let rangeStart = 0n;
    let rangeEnd = 0n;
    const spec = config.headerMatchSpecifier;
    switch (spec.case) {
      case 'exactMatch':
        kind = Kind.Value;
        value = spec.value;
        break;
      case 'prefixMatch':
      case 'suffixMatch':
      case 'containsMatch': {
        const field = spec.case === 'prefixMatch' ? 'prefix_match' : spec.case === 'suffixMatch' ? 'suffix_match' : 'contains_match';
        if (spec.value.length === 0) throw new MatcherConfigError(field, 'value must not be empty');
        kind = spec.case === 'prefixMatch' ? Kind.Prefix : spec.case === 'suffixMatch' ? Kind.Suffix : Kind.Contains;
        matcher = createStringMatcher(kind === Kind.Prefix ? 'prefix' : kind === Kind.Suffix ? 'suffix' : 'contains', spec.value, false);
        break;
      }
      case 'safeRegexMatch': {
        kind = Kind.Regex;
        const regex = withFieldPrefix('safe_regex_match', () => compileRegexMatcher(spec.value));
        matcher = { match: (v: string) => regex.fullMatch(v) };
        break;
      }
      case 'rangeMatch':
        kind = Kind.Range;
        rangeStart = spec.value.start;
        rangeEnd = spec.value.end;
        break;
      case 'presentMatch':
        kind = Kind.Present;
        present = spec.value;
        break;
      case 'stringMatch':
        kind = Kind.StringMatch;
        matcher = withFieldPrefix('string_match', () => compileStringMatcher(spec.value));
        break;
      default:
        kind = Kind.Present;
        present = true;
    }
    this.kind = kind;
    this.present = present;
    this.value = value;
    this.matcher = matcher;
    this.rangeStart = rangeStart;
    this.rangeEnd = rangeEnd;
  }

  match(headers: HeaderMap): boolean {
    let value = getAllOfHeaderAsString(headers, this.name);
    if (value === undefined) {
      if (!this.treatMissingHeaderAsEmpty) {
        if (this.kind !== Kind.Present) return false;
        return this.invertMatch ? this.present : !this.present;
      }
      value = '';
    }
    let match: boolean;
    switch (this.kind) {
      case Kind.Present:
        match = this.present;
        break;
      case Kind.Value:
        match = this.value.length === 0 || value === this.value;
        break;
      case Kind.Range: {
        const v = parseInt64(value);
        match = v !== null && v >= this.rangeStart && v < this.rangeEnd;
        break;
      }
      default:
        match = this.matcher!.match(value);
    }
    return match !== this.invertMatch;
  }
}

/** Compiles an `envoy.config.route.v3.HeaderMatcher`. */
export function compileHeaderMatcher(config: HeaderMatcherProto): HeaderMatcherImpl {
  return new HeaderMatcherImpl(config);
}

/** Compiles a list; the field path of an error gets `[i]`. Returns null for an empty list. */
export function compileHeaderMatchers(configs: readonly HeaderMatcherProto[], field: string): HeaderMatcherImpl[] | null {
  if (configs.length === 0) return null;
  return configs.map((c, i) => withFieldPrefix(`${field}[${i}]`, () => compileHeaderMatcher(c)));
}

/** True when every matcher matches (an empty list matches everything). */
export function matchHeaders(headers: HeaderMap, matchers: readonly HeaderMatcherImpl[] | null): boolean {
  if (matchers === null) return true;
  for (let i = 0; i < matchers.length; i++) {
    if (!matchers[i]!.match(headers)) return false;
  }
  return true;
}
