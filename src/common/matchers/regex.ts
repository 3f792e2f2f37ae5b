/**
 * RE2 regexes for `safe_regex` matchers and regex rewrites, after Envoy's
 * `source/common/common/regex.cc` (`CompiledGoogleReMatcher`).
 *
 * The engine is `re2js`, a pure-JS port of RE2/Go regexp: RE2 syntax (no
 * look-around, no back-references) and linear-time matching, so a hostile
 * pattern or input cannot backtrack catastrophically. Every pattern is compiled
 * once, at config time; an invalid one throws a `RegexError` naming it.
 *
 * Matching is a FULL match, as Envoy's `safe_regex` requires (`RE2::FullMatch`):
 * `/api/v[0-9]+` matches `/api/v1` but not `/api/v1/x`.
 *
 * Substitution follows `RE2::GlobalReplace`: every non-overlapping match is
 * replaced; in the substitution `\0`..`\9` insert a capture group and `\\`
 * a backslash; an empty match right after the previous match is not replaced.
 */
import { RE2JS } from 're2js';
import { MatcherConfigError, withFieldPrefix } from './errors.js';
import type { RegexMatcher, RegexMatchAndSubstitute } from '../../generated/envoy/type/matcher/v3/regex_pb.js';

/**
 * An invalid regex or substitution in config. `pattern` is the offending text;
 * the message names it.
 */
export class RegexError extends MatcherConfigError {
  readonly pattern: string;
  constructor(pattern: string, detail: string, field = '') {
    super(field, `invalid regex '${pattern}': ${detail}`);
    this.name = 'RegexError';
    this.pattern = pattern;
  }
}

/** A compiled RE2 pattern. Immutable; safe to share between requests. */
export class CompiledRegex {
  readonly pattern: string;
  /** Number of capturing groups (group 0, the whole match, not counted). */
  readonly groupCount: number;
  /**
   * A literal every match must start with ('' when unknown), from RE2's
   * program analysis. A full match of a value that does not start with it is
   * impossible, so `fullMatch` rejects such values with one `startsWith`.
   */
  readonly literalPrefix: string;
  private readonly re: RE2JS;

  constructor(pattern: string) {
    let re: RE2JS;
    try {
      re = RE2JS.compile(pattern);
    } catch (e) {
      throw new RegexError(pattern, e instanceof Error ? e.message : String(e));
    }
    this.pattern = pattern;
    this.re = re;
    this.groupCount = re.groupCount();
    const prefix: unknown = (re.re2() as { prefix?: unknown }).prefix;
    this.literalPrefix = typeof prefix === 'string' ? prefix : '';
  }

  /** True when the WHOLE of `value` matches (RE2::FullMatch). */
  fullMatch(value: string): boolean {
    if (this.literalPrefix.length > 0 && !value.startsWith(this.literalPrefix)) return false;
    return this.re.testExact(value);
  }

  /** True when some part of `value` matches (RE2::PartialMatch). */
  partialMatch(value: string): boolean {
    return this.re.test(value);
  }

  /**
   * RE2::GlobalReplace of every match of this regex in `value` by `rewrite`.
   * Returns `value` itself (no copy) when nothing matched.
   */
  replaceAll(value: string, rewrite: CompiledRewrite): string {
    const m = this.re.matcher(value);
    const end = value.length;
    let p = 0;
    let lastEnd = -1;
    let count = 0;
    let out = '';
    while (p <= end) {
      if (!m.find(p)) break;
      const s = m.start();
      const e = m.end();
      if (p < s) out += value.slice(p, s);
      if (s === lastEnd && s === e) {
        // An empty match right where the previous match ended: skip one
        // character (a whole code point) instead of replacing it.
        if (p < end) {
          const n = value.codePointAt(p)! > 0xffff ? 2 : 1;
          out += value.slice(p, p + n);
          p += n;
        } else {
          p++;
        }
        continue;
      }
      out += rewrite.expand(m);
      p = e;
      lastEnd = p;
      count++;
    }
    if (count === 0) return value;
    if (p < end) out += value.slice(p);
    return out;
  }
}

type RewritePart = string | number;

/**
 * A parsed RE2 rewrite string: literal text and capture-group references.
 * Unlike RE2 (which logs and leaves the text unchanged or half-rewritten), an
 * invalid rewrite is rejected when the config is loaded.
 */
export class CompiledRewrite {
  readonly substitution: string;
  private readonly parts: readonly RewritePart[];

  constructor(substitution: string, groupCount: number) {
    const parts: RewritePart[] = [];
    let lit = '';
    for (let i = 0; i < substitution.length; i++) {
      const c = substitution[i]!;
      if (c !== '\\') {
        lit += c;
        continue;
      }
      i++;
      const next = substitution[i];
      if (next !== undefined && next >= '0' && next <= '9') {
        const n = next.charCodeAt(0) - 48;
        if (n > groupCount) {
          throw new RegexError(substitution,
            `substitution refers to group \\${n} but the pattern has ${groupCount} capturing group(s)`);
        }
        if (lit !== '') { parts.push(lit); lit = ''; }
        parts.push(n);
      } else if (next === '\\') {
        lit += '\\';
      } else {
        throw new RegexError(substitution,
          'invalid rewrite pattern: a backslash must be followed by a digit (\\0-\\9) or another backslash');
      }
    }
    if (lit !== '') parts.push(lit);
    this.substitution = substitution;
    this.parts = parts;
  }

  /** The substitution for the current match of `m`. */
  expand(m: { group(g: number): string | null }): string {
    const parts = this.parts;
    if (parts.length === 1 && typeof parts[0] === 'string') return parts[0];
    let out = '';
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      out += typeof part === 'string' ? part : (m.group(part) ?? '');
    }
    return out;
  }
}

/** Compiles a pattern, throwing `RegexError` (with the pattern) when it is not valid RE2. */
export function compileRegex(pattern: string): CompiledRegex {
  if (pattern.length === 0) throw new RegexError(pattern, 'regex must not be empty');
  return new CompiledRegex(pattern);
}

/** Compiles an `envoy.type.matcher.v3.RegexMatcher` (the engine is always RE2). */
export function compileRegexMatcher(config: RegexMatcher): CompiledRegex {
  return withFieldPrefix('regex', () => compileRegex(config.regex));
}

/** A compiled `envoy.type.matcher.v3.RegexMatchAndSubstitute`. */
export interface RegexSubstitution {
  readonly regex: CompiledRegex;
  readonly rewrite: CompiledRewrite;
  /** RE2::GlobalReplace of `value`. */
  apply(value: string): string;
}

export function compileRegexMatchAndSubstitute(config: RegexMatchAndSubstitute): RegexSubstitution {
  if (config.pattern === undefined) throw new MatcherConfigError('pattern', 'pattern is required');
  const pattern = config.pattern;
  const regex = withFieldPrefix('pattern', () => compileRegexMatcher(pattern));
  const rewrite = withFieldPrefix('substitution', () => new CompiledRewrite(config.substitution, regex.groupCount));
  return {
    regex,
    rewrite,
    apply: (value: string) => regex.replaceAll(value, rewrite),
  };
}
