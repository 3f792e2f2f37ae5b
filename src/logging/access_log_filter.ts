/**
 * Access-log filters (`AccessLog.filter`), compiled once into a predicate,
 * after Envoy's `source/common/access_log/access_log_impl.cc`.
 *
 * Supported: status_code_filter, duration_filter, not_health_check_filter,
 * traceable_filter (Legate has no tracing yet, so it never matches),
 * runtime_filter (percent sampling; a runtime override when a lookup is
 * given), and_filter, or_filter, header_filter, response_flag_filter,
 * grpc_status_filter, metadata_filter (string, double, bool, null and present
 * value matchers). extension_filter and log_type_filter are rejected with an
 * error naming them.
 */
import { RE2JS } from 're2js';
import type {
  AccessLogFilter as AccessLogFilterConfig,
  ComparisonFilter,
  MetadataFilter,
  RuntimeFilter,
} from '../generated/envoy/config/accesslog/v3/accesslog_pb.js';
import type { HeaderMatcher } from '../generated/envoy/config/route/v3/route_components_pb.js';
import type { StringMatcher } from '../generated/envoy/type/matcher/v3/string_pb.js';
import type { ValueMatcher } from '../generated/envoy/type/matcher/v3/value_pb.js';
import type { HeaderMap } from '../envoy/http/header_map.js';
import type { StreamInfo } from '../envoy/stream_info/stream_info.js';
import { RESPONSE_FLAG_NAMES } from '../envoy/stream_info/response_flags.js';
import { LoggingConfigError } from './errors.js';
import { grpcStatusOf, type FormatterContext } from './substitution_formatter.js';

/** A compiled filter: true means "write this entry". */
export interface AccessLogFilter {
  evaluate(ctx: FormatterContext): boolean;
}

export interface AccessLogFilterOptions {
  /** Uniform random in [0, 1); defaults to Math.random. */
  readonly random?: () => number;
  /** Runtime lookup for `runtime_key`s (comparison values, sampling numerators); undefined = not set. */
  readonly runtime?: (key: string) => number | undefined;
}

type Predicate = (ctx: FormatterContext) => boolean;

function bad(fieldPath: string, detail: string, code = 'LEGATE_ERR_ACCESS_LOG_FILTER'): LoggingConfigError {
  return new LoggingConfigError(detail, code, fieldPath);
}

/**
 * StreamInfo does not carry Envoy's `healthCheck()` bit yet; the health_check
 * filter can set this optional field on its StreamInfo implementation.
 */
interface MaybeHealthCheck {
  readonly healthCheck?: boolean;
}

// ---------------------------------------------------------------------------

/** Compiles `AccessLog.filter`; null (no filter) means log everything. */
export function compileAccessLogFilter(config: AccessLogFilterConfig | undefined,
                                       opts: AccessLogFilterOptions = {}): AccessLogFilter | null {
  if (config === undefined) return null;
  const evaluate = compile(config, 'filter', opts);
  return { evaluate };
}

function compile(config: AccessLogFilterConfig, path: string, opts: AccessLogFilterOptions): Predicate {
  const spec = config.filterSpecifier;
  switch (spec.case) {
    case 'statusCodeFilter': {
      const cmp = comparison(spec.value.comparison, `${path}.status_code_filter`, opts);
      return (ctx) => cmp(ctx.streamInfo.responseCode ?? 0);
    }
    case 'durationFilter': {
      const cmp = comparison(spec.value.comparison, `${path}.duration_filter`, opts);
      return (ctx) => {
        const si = ctx.streamInfo;
        const d = si.duration() ?? performance.now() - si.startTimeMonotonic;
        return cmp(Math.floor(d));
      };
    }
    case 'notHealthCheckFilter':
      return (ctx) => (ctx.streamInfo as StreamInfo & MaybeHealthCheck).healthCheck !== true;
    case 'traceableFilter':
      // No tracing in Legate yet: no request is traced.
      return () => false;
    case 'runtimeFilter':
      return runtimeFilter(spec.value, `${path}.runtime_filter`, opts);
    case 'andFilter': {
      const subs = spec.value.filters.map((f, i) => compile(f, `${path}.and_filter.filters[${i}]`, opts));
      if (subs.length < 2) throw bad(`${path}.and_filter.filters`, 'at least 2 filters are required');
      return (ctx) => {
        for (const s of subs) if (!s(ctx)) return false;
        return true;
      };
    }
    case 'orFilter': {
      const subs = spec.value.filters.map((f, i) => compile(f, `${path}.or_filter.filters[${i}]`, opts));
      if (subs.length < 2) throw bad(`${path}.or_filter.filters`, 'at least 2 filters are required');
      return (ctx) => {
        for (const s of subs) if (s(ctx)) return true;
        return false;
      };
    }
    case 'headerFilter': {
      if (spec.value.header === undefined) throw bad(`${path}.header_filter.header`, 'value is required');
      const m = compileHeaderMatcher(spec.value.header, `${path}.header_filter.header`);
      return (ctx) => m(ctx.requestHeaders);
    }
    case 'responseFlagFilter': {
      let mask = 0;
      for (const name of spec.value.flags) {
        const entry = RESPONSE_FLAG_NAMES.find(([, short]) => short === name);
        if (entry === undefined) {
          throw bad(`${path}.response_flag_filter.flags`, `unknown response flag '${name}'`);
        }
        mask |= entry[0];
      }
      if (mask === 0) return (ctx) => ctx.streamInfo.responseFlags !== 0;
      return (ctx) => (ctx.streamInfo.responseFlags & mask) !== 0;
    }
    case 'grpcStatusFilter': {
      const statuses = new Set<number>(spec.value.statuses);
      const exclude = spec.value.exclude;
      return (ctx) => {
        const found = statuses.has(grpcStatusOf(ctx) ?? 2 /* Unknown */);
        return exclude ? !found : found;
      };
    }
    case 'metadataFilter':
      return metadataFilter(spec.value, `${path}.metadata_filter`);
    case 'extensionFilter':
      throw bad(`${path}.extension_filter`, `extension filter '${spec.value.name}' is not supported by Legate`,
        'LEGATE_ERR_UNSUPPORTED_FILTER');
    case 'logTypeFilter':
      throw bad(`${path}.log_type_filter`, 'log_type_filter is not supported by Legate yet',
        'LEGATE_ERR_UNSUPPORTED_FILTER');
    default:
      throw bad(path, 'one of the filter_specifier fields is required');
  }
}

// ----- comparison / runtime

function comparison(c: ComparisonFilter | undefined, path: string,
                    opts: AccessLogFilterOptions): (v: number) => boolean {
  if (c === undefined || c.value === undefined) throw bad(`${path}.comparison.value`, 'value is required');
  const def = c.value.defaultValue;
  const key = c.value.runtimeKey;
  const runtime = opts.runtime;
  const threshold = (): number => (runtime !== undefined && key !== '' ? runtime(key) ?? def : def);
  switch (c.op) {
    case 0: return (v) => v === threshold(); // EQ
    case 1: return (v) => v >= threshold(); // GE
    case 2: return (v) => v <= threshold(); // LE
    default: throw bad(`${path}.comparison.op`, `unknown operator ${String(c.op)}`);
  }
}

const DENOMINATORS = [100, 10_000, 1_000_000];

/** Stable integer from a UUID request id (its first 8 hex digits), for per-request sampling. */
function requestIdInteger(id: string | null): number | null {
  if (id === null) return null;
  const hex = id.replace(/-/g, '').slice(0, 8);
  if (!/^[0-9a-fA-F]{8}$/.test(hex)) return null;
  return Number.parseInt(hex, 16);
}

function runtimeFilter(cfg: RuntimeFilter, path: string, opts: AccessLogFilterOptions): Predicate {
  const denominator = DENOMINATORS[cfg.percentSampled?.denominator ?? 0];
  if (denominator === undefined) throw bad(`${path}.percent_sampled.denominator`, 'invalid denominator');
  const numerator = cfg.percentSampled?.numerator ?? 0;
  const random = opts.random ?? Math.random;
  const runtime = opts.runtime;
  const key = cfg.runtimeKey;
  const independent = cfg.useIndependentRandomness;
  return (ctx) => {
    const n = runtime !== undefined && key !== '' ? runtime(key) ?? numerator : numerator;
    const fromId = independent ? null : requestIdInteger(ctx.streamInfo.requestId);
    const r = fromId !== null ? fromId % denominator : Math.floor(random() * denominator);
    return r < n;
  };
}

// ----- string / header / metadata matchers

function compileStringMatcher(m: StringMatcher, path: string): (v: string) => boolean {
  const ignoreCase = m.ignoreCase;
  const norm = (s: string): string => (ignoreCase ? s.toLowerCase() : s);
  const p = m.matchPattern;
  switch (p.case) {
    case 'exact': {
      const want = norm(p.value);
      return (v) => norm(v) === want;
    }
    case 'prefix': {
      const want = norm(p.value);
      return (v) => norm(v).startsWith(want);
    }
    case 'suffix': {
      const want = norm(p.value);
      return (v) => norm(v).endsWith(want);
    }
    case 'contains': {
      const want = norm(p.value);
      return (v) => norm(v).includes(want);
    }
    case 'safeRegex':
      return compileRegex(p.value.regex, path);
    case 'custom':
      throw bad(path, 'custom string matchers are not supported');
    default:
      throw bad(path, 'match_pattern is required');
  }
}

function compileRegex(regex: string, path: string): (v: string) => boolean {
  let re: RE2JS;
  try {
    re = RE2JS.compile(regex);
  } catch (e) {
    throw bad(path, `invalid regex '${regex}': ${(e as Error).message}`);
  }
  // Envoy's safe_regex matches the whole value.
  return (v) => re.matches(v);
}

/** Compiles a route HeaderMatcher (Envoy's HeaderUtility::matchHeaders) against one header map. */
export function compileHeaderMatcher(m: HeaderMatcher, path: string): (headers: HeaderMap | null) => boolean {
  const name = m.name.toLowerCase();
  const invert = m.invertMatch;
  const missingAsEmpty = m.treatMissingHeaderAsEmpty;
  const spec = m.headerMatchSpecifier;
  let presentWanted = true;
  let isPresentMatch = false;
  let match: (v: string) => boolean;
  switch (spec.case) {
    case 'exactMatch': {
      const want = spec.value;
      match = (v) => want === '' || v === want;
      break;
    }
    case 'safeRegexMatch':
      match = compileRegex(spec.value.regex, `${path}.safe_regex_match`);
      break;
    case 'rangeMatch': {
      const start = spec.value.start;
      const end = spec.value.end;
      match = (v) => {
        if (!/^[-+]?[0-9]+$/.test(v)) return false;
        const n = BigInt(v);
        return n >= start && n < end;
      };
      break;
    }
    case 'presentMatch':
      isPresentMatch = true;
      presentWanted = spec.value;
      match = () => presentWanted;
      break;
    case 'prefixMatch': {
      const want = spec.value;
      match = (v) => v.startsWith(want);
      break;
    }
    case 'suffixMatch': {
      const want = spec.value;
      match = (v) => v.endsWith(want);
      break;
    }
    case 'containsMatch': {
      const want = spec.value;
      match = (v) => v.includes(want);
      break;
    }
    case 'stringMatch':
      match = compileStringMatcher(spec.value, `${path}.string_match`);
      break;
    default:
      // No specifier: the header must be present.
      isPresentMatch = true;
      match = () => true;
  }
  return (headers) => {
    const values = headers === null ? [] : headers.getAll(name);
    if (values.length === 0 && !missingAsEmpty) {
      // Absent header: only a present_match can say something about it.
      return isPresentMatch && (invert ? presentWanted : !presentWanted);
    }
    const value = values.length === 0 ? '' : values.join(',');
    return match(value) !== invert;
  };
}

type MetaValue = unknown;

function compileValueMatcher(m: ValueMatcher, path: string): (v: MetaValue) => boolean {
  const p = m.matchPattern;
  switch (p.case) {
    case 'nullMatch':
      return (v) => v === null;
    case 'doubleMatch': {
      const d = p.value.matchPattern;
      if (d.case === 'exact') {
        const want = d.value;
        return (v) => typeof v === 'number' && v === want;
      }
      if (d.case === 'range') {
        const { start, end } = d.value;
        return (v) => typeof v === 'number' && v >= start && v < end;
      }
      throw bad(`${path}.double_match`, 'match_pattern is required');
    }
    case 'stringMatch': {
      const sm = compileStringMatcher(p.value, `${path}.string_match`);
      return (v) => typeof v === 'string' && sm(v);
    }
    case 'boolMatch': {
      const want = p.value;
      return (v) => typeof v === 'boolean' && v === want;
    }
    case 'presentMatch': {
      const want = p.value;
      return (v) => (v !== undefined) === want;
    }
    case 'listMatch': {
      const inner = p.value.matchPattern;
      if (inner.case !== 'oneOf') throw bad(`${path}.list_match.one_of`, 'value is required');
      const one = compileValueMatcher(inner.value, `${path}.list_match.one_of`);
      return (v) => Array.isArray(v) && v.some(one);
    }
    case 'orMatch': {
      const subs = p.value.valueMatchers.map((s, i) => compileValueMatcher(s, `${path}.or_match[${i}]`));
      return (v) => subs.some((s) => s(v));
    }
    default:
      throw bad(path, 'match_pattern is required');
  }
}

function metadataFilter(cfg: MetadataFilter, path: string): Predicate {
  // Envoy: an unset match_if_key_not_found means "log".
  const defaultMatch = cfg.matchIfKeyNotFound ?? true;
  const matcher = cfg.matcher;
  if (matcher === undefined) {
    return () => defaultMatch;
  }
  const ns = matcher.filter;
  const keys = matcher.path.map((seg, i) => {
    if (seg.segment.case !== 'key') throw bad(`${path}.matcher.path[${i}].key`, 'value is required');
    return seg.segment.value;
  });
  const valueMatch = matcher.value !== undefined ? compileValueMatcher(matcher.value, `${path}.matcher.value`) : null;
  const invert = matcher.invert;
  return (ctx) => {
    let v: unknown = ctx.streamInfo.dynamicMetadata.get(ns);
    for (const k of keys) {
      if (v === null || typeof v !== 'object' || Array.isArray(v)) {
        v = undefined;
        break;
      }
      v = (v as Record<string, unknown>)[k];
    }
    if (v === undefined) return defaultMatch;
    if (valueMatch === null) return false;
    return valueMatch(v) !== invert;
  };
}
