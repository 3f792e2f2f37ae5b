/**
 * ASCII-only case helpers, matching absl's `AsciiStrToLower`, `EqualsIgnoreCase`,
 * `StartsWithIgnoreCase` and `EndsWithIgnoreCase`, which Envoy uses for
 * `ignore_case` string matching, case-insensitive path matching and host
 * lower-casing. Only A-Z fold; every other code unit compares exactly (JS's
 * `toLowerCase` would also fold non-ASCII letters, which Envoy does not).
 *
 * None of the comparison helpers allocate; `asciiLower` returns its argument
 * unchanged (no copy) when it has no upper-case ASCII letter.
 */

/** Lower-cases A-Z only. Returns `s` itself when nothing needs to change. */
export function asciiLower(s: string): string {
  const n = s.length;
  let upper = false;
  let nonAscii = false;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 65 && c <= 90) upper = true;
    else if (c >= 128) nonAscii = true;
  }
  if (!upper) return s;
  if (!nonAscii) return s.toLowerCase();
  let out = '';
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    out += c >= 65 && c <= 90 ? String.fromCharCode(c + 32) : s[i];
  }
  return out;
}

function foldEq(a: number, b: number): boolean {
  if (a === b) return true;
  if (a >= 65 && a <= 90) a += 32;
  if (b >= 65 && b <= 90) b += 32;
  return a === b;
}

/** `s.startsWith(prefix)` ignoring ASCII case, starting the comparison at `s[offset]`. */
function regionEqualsIgnoreCase(s: string, offset: number, other: string): boolean {
  const n = other.length;
  for (let i = 0; i < n; i++) {
    if (!foldEq(s.charCodeAt(offset + i), other.charCodeAt(i))) return false;
  }
  return true;
}

export function equalsIgnoreCase(a: string, b: string): boolean {
  return a.length === b.length && regionEqualsIgnoreCase(a, 0, b);
}

export function startsWithIgnoreCase(s: string, prefix: string): boolean {
  return s.length >= prefix.length && regionEqualsIgnoreCase(s, 0, prefix);
}

export function endsWithIgnoreCase(s: string, suffix: string): boolean {
  return s.length >= suffix.length && regionEqualsIgnoreCase(s, s.length - suffix.length, suffix);
}
