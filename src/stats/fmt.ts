/**
 * Number formatting that reproduces, byte for byte, what Envoy's C++ prints
 * in admin output. Each C++ formatter differs in small ways (exponent form,
 * trailing zeros, when to switch to scientific notation), and dashboards and
 * golden tests compare the text, so each one gets its own function:
 *
 *   formatG(x, p)      printf / fmt "{:.pg}" / "{:g}" (p = 6), absl::StrCat(double)
 *   formatShortest(x)  fmt "{}" for a double: shortest round-trip digits,
 *                      fixed notation for exponents in [-4, 16)
 *   formatToChars(x)   std::to_chars(double) (libc++): shortest digits, fixed or
 *                      scientific, whichever text is shorter (ties go to fixed)
 *
 * NaN prints as "nan" and infinities as "inf"/"-inf", as in C.
 */

function nonFinite(x: number): string | undefined {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  return undefined;
}

/** Splits toExponential() output into sign, digit string (no dot) and decimal exponent. */
function decompose(exp: string): { neg: boolean; digits: string; e: number } {
  let s = exp;
  let neg = false;
  if (s.startsWith('-')) { neg = true; s = s.slice(1); }
  const ei = s.indexOf('e');
  const mant = s.slice(0, ei);
  const e = Number(s.slice(ei + 1));
  return { neg, digits: mant.replace('.', ''), e };
}

function stripZeros(digits: string): string {
  let end = digits.length;
  while (end > 1 && digits.charCodeAt(end - 1) === 48 /* 0 */) end--;
  return digits.slice(0, end);
}

/** C-style exponent suffix: sign always, at least two digits ("e+06", "e-105"). */
function expSuffix(e: number): string {
  const a = Math.abs(e);
  return `e${e < 0 ? '-' : '+'}${a < 10 ? '0' : ''}${a}`;
}

/** Places a decimal point in `digits` (d.ddd × 10^e) for fixed notation. */
function fixedFrom(digits: string, e: number): string {
  if (e < 0) return `0.${'0'.repeat(-e - 1)}${digits}`;
  if (digits.length <= e + 1) return digits + '0'.repeat(e + 1 - digits.length);
  return `${digits.slice(0, e + 1)}.${digits.slice(e + 1)}`;
}

function sciFrom(digits: string, e: number): string {
  return digits.length === 1 ? `${digits}${expSuffix(e)}` : `${digits[0]}.${digits.slice(1)}${expSuffix(e)}`;
}

/** printf("%.<precision>g", x). JS toExponential/toFixed are exact, like glibc. */
export function formatG(x: number, precision = 6): string {
  const nf = nonFinite(x);
  if (nf !== undefined) return nf;
  const p = precision === 0 ? 1 : precision;
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  const { neg, digits, e } = decompose(x.toExponential(p - 1));
  const sign = neg ? '-' : '';
  if (e < -4 || e >= p) return sign + sciFrom(stripZeros(digits), e);
  return sign + fixedFrom(stripZeros(digits), e);
}

/** fmt::format("{}", double). */
export function formatShortest(x: number): string {
  const nf = nonFinite(x);
  if (nf !== undefined) return nf;
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  const { neg, digits, e } = decompose(x.toExponential());
  const sign = neg ? '-' : '';
  if (e >= -4 && e < 16) return sign + fixedFrom(digits, e);
  return sign + sciFrom(digits, e);
}

/** std::to_chars(double) with no format argument (libc++), as Envoy's JSON serializer uses. */
export function formatToChars(x: number): string {
  const nf = nonFinite(x);
  if (nf !== undefined) return nf;
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  const { neg, digits, e } = decompose(x.toExponential());
  const sign = neg ? '-' : '';
  const fixed = fixedFrom(digits, e);
  const sci = sciFrom(digits, e);
  return sign + (sci.length < fixed.length ? sci : fixed);
}

/**
 * A double as Envoy's JSON streamer writes it: null for NaN, std::to_chars
 * otherwise (so 100000.0 is "1e+05"). Integers (counter values) are written
 * with String() by the callers instead, as Envoy writes uint64 with StrCat.
 */
export function jsonDouble(x: number): string {
  if (Number.isNaN(x)) return 'null';
  return formatToChars(x);
}
