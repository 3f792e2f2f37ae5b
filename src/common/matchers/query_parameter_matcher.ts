/**
 * QueryParameterMatcher, after Envoy's `ConfigUtility::QueryParameterMatcher`
 * (`source/common/router/config_utility.cc`), compiled once from an
 * `envoy.config.route.v3.QueryParameterMatcher`.
 *
 * Semantics, exactly as Envoy:
 * - The query is everything after the first `?` of `:path`, split on `&`;
 *   `k=v` gives key `k`, a bare `k` gives key `k` with value `""`. Keys and
 *   values are compared as sent (not percent-decoded).
 * - Only the FIRST value of a repeated key is considered.
 * - `string_match` matches that value; `present_match` (whatever its boolean)
 *   and an empty specifier only require the key to be present. An absent key
 *   never matches.
 *
 * The lookup scans the path in place: no map is built per request.
 */
import type { QueryParameterMatcher as QueryParameterMatcherProto } from '../../generated/envoy/config/route/v3/route_components_pb.js';
import { MatcherConfigError, withFieldPrefix } from './errors.js';
import { type StringMatcher, compileStringMatcher } from './string_matcher.js';

/**
 * The value of the first `name` parameter in the query string of `path`
 * (`""` for a bare `name`), or undefined when there is none.
 */
export function findFirstQueryParameter(path: string, name: string): string | undefined {
  let start = path.indexOf('?');
  if (start === -1) return undefined;
  start++;
  const n = path.length;
  const nameLen = name.length;
  while (start < n) {
    let end = path.indexOf('&', start);
    if (end === -1) end = n;
    // Key is [start, eq) where eq is the first '=' before `end`, or `end`.
    if (end - start >= nameLen && path.startsWith(name, start)) {
      const after = start + nameLen;
      if (after === end) return '';
      if (path.charCodeAt(after) === 61 /* = */) return path.slice(after + 1, end);
    }
    start = end + 1;
  }
  return undefined;
}

export class QueryParameterMatcherImpl {
  readonly name: string;
  /** null = presence match. */
  private readonly matcher: StringMatcher | null;
  /** A name containing `=` or `&` can never be a parsed key. */
  private readonly impossible: boolean;

  constructor(config: QueryParameterMatcherProto) {
    if (config.name.length === 0) throw new MatcherConfigError('name', 'query parameter name must not be empty');
    this.name = config.name;
    this.impossible = config.name.includes('=') || config.name.includes('&');
    const spec = config.queryParameterMatchSpecifier;
    this.matcher = spec.case === 'stringMatch'
      ? withFieldPrefix('string_match', () => compileStringMatcher(spec.value))
      : null;
  }

  /** Matches against the query string of `path` (the whole `:path` value). */
  match(path: string): boolean {
    if (this.impossible) return false;
    const value = findFirstQueryParameter(path, this.name);
    if (value === undefined) return false;
    return this.matcher === null || this.matcher.match(value);
  }
}

export function compileQueryParameterMatchers(configs: readonly QueryParameterMatcherProto[], field: string): QueryParameterMatcherImpl[] | null {
  if (configs.length === 0) return null;
  return configs.map((c, i) => withFieldPrefix(`${field}[${i}]`, () => new QueryParameterMatcherImpl(c)));
}

/** True when every matcher matches `path` (an empty list matches everything). */
export function matchQueryParameters(path: string, matchers: readonly QueryParameterMatcherImpl[] | null): boolean {
  if (matchers === null) return true;
  for (let i = 0; i < matchers.length; i++) {
    if (!matchers[i]!.match(path)) return false;
  }
  return true;
}
