/**
 * Route path specifiers, after Envoy's `PrefixRouteEntryImpl`,
 * `PathRouteEntryImpl`, `RegexRouteEntryImpl`,
 * `PathSeparatedPrefixRouteEntryImpl` and `ConnectRouteEntryImpl`
 * (`source/common/router/config_impl.cc`) with `Matchers::PathMatcher`.
 *
 * Envoy matches the path with the query string and fragment removed (from the
 * first `?` or `#`). The matchers below get the same results on the raw
 * `:path` without copying it: for a configured prefix/path that has no `?`/`#`,
 * "stripped path starts with p" is "raw path starts with p", and "stripped
 * path equals p" is "raw path starts with p and continues with end, `?` or `#`".
 * Only `safe_regex` (full match of the stripped path) copies.
 *
 * `case_sensitive: false` folds ASCII letters (prefix, path,
 * path_separated_prefix); it does not apply to `safe_regex`.
 */
import { startsWithIgnoreCase } from '../common/matchers/ascii.js';
import type { CompiledRegex } from '../common/matchers/regex.js';

/** Index of the first `?` or `#`, or the length. */
export function pathEnd(path: string): number {
  const n = path.length;
  for (let i = 0; i < n; i++) {
    const c = path.charCodeAt(i);
    if (c === 63 /* ? */ || c === 35 /* # */) return i;
  }
  return n;
}

/** The path without query string and fragment (Envoy's PathUtil::removeQueryAndFragment). */
export function removeQueryAndFragment(path: string): string {
  const e = pathEnd(path);
  return e === path.length ? path : path.slice(0, e);
}

function hasQueryOrFragmentChar(s: string): boolean {
  return s.includes('?') || s.includes('#');
}

function isPathBoundary(path: string, i: number): boolean {
  if (i === path.length) return true;
  const c = path.charCodeAt(i);
  return c === 63 || c === 35;
}

export type PathSpecifierKind = 'prefix' | 'path' | 'safe_regex' | 'path_separated_prefix' | 'connect_matcher';

export interface PathMatcher {
  readonly kind: PathSpecifierKind;
  /** The configured prefix / path / pattern ('' for connect_matcher). */
  readonly value: string;
  /**
   * For a case-sensitive prefix / path / path_separated_prefix that can
   * match: the string a matching path must start with (the route index keys
   * on it). Null otherwise.
   */
  readonly indexKey: string | null;
  /** Whether `path` (raw `:path`, possibly already cut at `;`) matches. */
  match(path: string): boolean;
  /**
   * How many leading characters of `path` a `prefix_rewrite` replaces: the
   * configured prefix or path, or the whole path without the query for
   * safe_regex and connect_matcher (Envoy's "matched path").
   */
  matchedLength(path: string): number;
}

class PrefixMatcher implements PathMatcher {
  readonly kind = 'prefix';
  readonly indexKey: string | null;
  private readonly never: boolean;
  constructor(readonly value: string, private readonly ignoreCase: boolean) {
    this.never = hasQueryOrFragmentChar(value);
    this.indexKey = this.never || ignoreCase ? null : value;
  }
  match(path: string): boolean {
    if (this.never) return false;
    return this.ignoreCase ? startsWithIgnoreCase(path, this.value) : path.startsWith(this.value);
  }
  matchedLength(): number { return this.value.length; }
}

class ExactMatcher implements PathMatcher {
  readonly kind = 'path';
  readonly indexKey: string | null;
  private readonly never: boolean;
  constructor(readonly value: string, private readonly ignoreCase: boolean) {
    this.never = hasQueryOrFragmentChar(value);
    this.indexKey = this.never || ignoreCase ? null : value;
  }
  match(path: string): boolean {
    if (this.never) return false;
    const v = this.value;
    if (!(this.ignoreCase ? startsWithIgnoreCase(path, v) : path.startsWith(v))) return false;
    return isPathBoundary(path, v.length);
  }
  matchedLength(): number { return this.value.length; }
}

class PathSeparatedPrefixMatcher implements PathMatcher {
  readonly kind = 'path_separated_prefix';
  readonly indexKey: string | null;
  constructor(readonly value: string, private readonly ignoreCase: boolean) {
    this.indexKey = ignoreCase ? null : value;
  }
  match(path: string): boolean {
    const v = this.value;
    if (!(this.ignoreCase ? startsWithIgnoreCase(path, v) : path.startsWith(v))) return false;
    return isPathBoundary(path, v.length) || path.charCodeAt(v.length) === 47 /* / */;
  }
  matchedLength(): number { return this.value.length; }
}

class RegexPathMatcher implements PathMatcher {
  readonly kind = 'safe_regex';
  readonly indexKey = null;
  readonly value: string;
  constructor(private readonly regex: CompiledRegex) {
    this.value = regex.pattern;
  }
  match(path: string): boolean {
    return this.regex.fullMatch(removeQueryAndFragment(path));
  }
  matchedLength(path: string): number { return pathEnd(path); }
}

class ConnectPathMatcher implements PathMatcher {
  readonly kind = 'connect_matcher';
  readonly indexKey = null;
  readonly value = '';
  match(): boolean { return true; }
  matchedLength(path: string): number { return pathEnd(path); }
}

export function prefixPathMatcher(prefix: string, ignoreCase: boolean): PathMatcher {
  return new PrefixMatcher(prefix, ignoreCase);
}
export function exactPathMatcher(path: string, ignoreCase: boolean): PathMatcher {
  return new ExactMatcher(path, ignoreCase);
}
export function pathSeparatedPrefixMatcher(prefix: string, ignoreCase: boolean): PathMatcher {
  return new PathSeparatedPrefixMatcher(prefix, ignoreCase);
}
export function regexPathMatcher(regex: CompiledRegex): PathMatcher {
  return new RegexPathMatcher(regex);
}
export const CONNECT_PATH_MATCHER: PathMatcher = new ConnectPathMatcher();
