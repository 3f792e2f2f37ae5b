/**
 * StringMatcher, after Envoy's `Matchers::StringMatcherImpl`
 * (`source/common/common/matchers.h`): `exact`, `prefix`, `suffix`,
 * `contains` and `safe_regex`, each optionally `ignore_case`.
 *
 * Semantics (as Envoy):
 * - `ignore_case` folds ASCII letters only, and has no effect on `safe_regex`
 *   (write `(?i)` in the pattern instead).
 * - `safe_regex` is a full match.
 * - `prefix`, `suffix` and `contains` must be non-empty (proto validation);
 *   `exact` may be empty and then only matches the empty string.
 *
 * Each kind compiles to its own small class so `match` is one monomorphic
 * comparison with no allocation (except `contains` + `ignore_case`, which
 * lower-cases the input as Envoy does).
 */
import type { StringMatcher as StringMatcherProto } from '../../generated/envoy/type/matcher/v3/string_pb.js';
import { asciiLower, endsWithIgnoreCase, equalsIgnoreCase, startsWithIgnoreCase } from './ascii.js';
import { MatcherConfigError, withFieldPrefix } from './errors.js';
import { type CompiledRegex, compileRegexMatcher } from './regex.js';

export interface StringMatcher {
  match(value: string): boolean;
}

class ExactMatcher implements StringMatcher {
  constructor(private readonly v: string) {}
  match(value: string): boolean { return value === this.v; }
}
class ExactIgnoreCaseMatcher implements StringMatcher {
  constructor(private readonly v: string) {}
  match(value: string): boolean { return equalsIgnoreCase(value, this.v); }
}
class PrefixMatcher implements StringMatcher {
  constructor(private readonly v: string) {}
  match(value: string): boolean { return value.startsWith(this.v); }
}
class PrefixIgnoreCaseMatcher implements StringMatcher {
  constructor(private readonly v: string) {}
  match(value: string): boolean { return startsWithIgnoreCase(value, this.v); }
}
class SuffixMatcher implements StringMatcher {
  constructor(private readonly v: string) {}
  match(value: string): boolean { return value.endsWith(this.v); }
}
class SuffixIgnoreCaseMatcher implements StringMatcher {
  constructor(private readonly v: string) {}
  match(value: string): boolean { return endsWithIgnoreCase(value, this.v); }
}
class ContainsMatcher implements StringMatcher {
  constructor(private readonly v: string) {}
  match(value: string): boolean { return value.includes(this.v); }
}
class ContainsIgnoreCaseMatcher implements StringMatcher {
  private readonly lower: string;
  constructor(v: string) { this.lower = asciiLower(v); }
  match(value: string): boolean { return asciiLower(value).includes(this.lower); }
}
class RegexMatcherImpl implements StringMatcher {
  constructor(readonly regex: CompiledRegex) {}
  match(value: string): boolean { return this.regex.fullMatch(value); }
}

export type StringMatchKind = 'exact' | 'prefix' | 'suffix' | 'contains';

/** Builds a matcher from plain values (used for path matchers). */
export function createStringMatcher(kind: StringMatchKind, value: string, ignoreCase: boolean): StringMatcher {
  switch (kind) {
    case 'exact': return ignoreCase ? new ExactIgnoreCaseMatcher(value) : new ExactMatcher(value);
    case 'prefix': return ignoreCase ? new PrefixIgnoreCaseMatcher(value) : new PrefixMatcher(value);
    case 'suffix': return ignoreCase ? new SuffixIgnoreCaseMatcher(value) : new SuffixMatcher(value);
    case 'contains': return ignoreCase ? new ContainsIgnoreCaseMatcher(value) : new ContainsMatcher(value);
  }
}

/**
 * Compiles an `envoy.type.matcher.v3.StringMatcher`. Throws `MatcherConfigError`
 * (a `RegexError`, naming the pattern, for a bad `safe_regex`) on invalid config.
 */
export function compileStringMatcher(config: StringMatcherProto): StringMatcher {
  const p = config.matchPattern;
  switch (p.case) {
    case 'exact':
      return createStringMatcher('exact', p.value, config.ignoreCase);
    case 'prefix':
    case 'suffix':
    case 'contains':
      if (p.value.length === 0) throw new MatcherConfigError(p.case, 'value must not be empty');
      return createStringMatcher(p.case, p.value, config.ignoreCase);
    case 'safeRegex':
      return new RegexMatcherImpl(withFieldPrefix('safe_regex', () => compileRegexMatcher(p.value)));
    case 'custom':
      throw new MatcherConfigError('custom', 'custom string matcher extensions are not supported');
    default:
      throw new MatcherConfigError('', 'one of exact, prefix, suffix, contains or safe_regex is required');
  }
}
