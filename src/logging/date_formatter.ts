/**
 * strftime-style time formatting in UTC, after Envoy's `DateFormatter`
 * (source/common/common/utility.cc) as used by `%START_TIME(...)%`.
 *
 * Supported, all in UTC and the C locale:
 * - the POSIX/glibc conversions `%a %A %b %h %B %c %C %d %D %e %F %g %G %H %I
 *   %j %k %l %m %M %p %P %r %R %S %t %T %u %U %V %w %W %x %X %y %Y %z %Z %%`,
 *   with the glibc flags `-` (no padding), `_` (space padding), `0` (zero
 *   padding), `^` (upper case) and a field width;
 * - Envoy's own `%s` (seconds since the epoch) and `%f` / `%1f`..`%9f`
 *   (fractional seconds, 9 digits by default, truncated);
 * - absl's `%E#S` / `%E*S` (seconds with # or all fractional digits),
 *   `%E#f` / `%E*f`, `%Ez` (`+00:00`), `%E*z` (`+00:00:00`), `%E4Y`, and the
 *   `E`/`O` modifiers on other conversions (ignored).
 * Unknown conversions are copied through unchanged.
 *
 * Time comes in as milliseconds since the epoch; a fractional part (if the
 * caller has one) gives microsecond digits, otherwise they are zeros.
 *
 * The format is compiled once into a list of parts; formatting computes the
 * UTC calendar fields once per call and caches the last result (per second,
 * or per millisecond when the format prints fractions).
 */

const DAYS_SHORT = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const DAYS_LONG = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS_SHORT = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const MONTHS_LONG = [
  'January', 'February', 'March', 'April', 'May', 'June',
  'July', 'August', 'September', 'October', 'November', 'December',
];

/** Calendar fields of one instant, computed once per format call. */
interface Fields {
  year: number;
  month: number; // 0-11
  day: number; // 1-31
  hour: number;
  minute: number;
  second: number;
  weekday: number; // 0 = Sunday
  yday: number; // 0-365
  epochSeconds: number;
  /** Nanoseconds within the second. */
  nanos: number;
}

type Part = string | ((f: Fields) => string);

/** Matches the conversions Envoy rejects in time formats: they would put a newline in a header. */
const NEWLINE_SPECIFIER = /%[-_0^#]*[1-9]*(E|O)?n/;

/** True when `format` contains `%n` (in any flag/width form); Envoy rejects those. */
export function timeFormatHasNewline(format: string): boolean {
  return NEWLINE_SPECIFIER.test(format);
}

function pad(n: number, width: number, padChar: string): string {
  let s = String(n);
  while (s.length < width) s = padChar + s;
  return s;
}

/** Fractional digits of the second, truncated to `digits` (1-9). */
function fraction(f: Fields, digits: number): string {
  const s = pad(f.nanos, 9, '0');
  return s.slice(0, digits);
}

/** ISO 8601 week-based year and week number. */
function isoWeek(f: Fields): { year: number; week: number } {
  const wdayMon = (f.weekday + 6) % 7; // 0 = Monday
  // Thursday of this week decides the year.
  const thursdayYday = f.yday - wdayMon + 3;
  let year = f.year;
  let yday = thursdayYday;
  const daysInYear = (y: number): number => ((y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 366 : 365);
  if (yday < 0) {
    year -= 1;
    yday += daysInYear(year);
  } else if (yday >= daysInYear(year)) {
    yday -= daysInYear(year);
    year += 1;
  }
  return { year, week: Math.floor(yday / 7) + 1 };
}

interface Spec {
  flag: string; // '', '-', '_', '0', '^', '#'
  width: number; // 0 when not given
  /** For %E#S / %E#f: the digit count, -1 for '*', undefined otherwise. */
  eDigits: number | undefined;
  modifier: string; // '', 'E' or 'O'
  conv: string;
}

function numeric(value: number, defWidth: number, defPad: string, spec: Spec): string {
  if (spec.flag === '-') return String(value);
  const width = spec.width > 0 ? spec.width : defWidth;
  const padChar = spec.flag === '_' ? ' ' : spec.flag === '0' ? '0' : defPad;
  return pad(value, width, padChar);
}

function text(value: string, spec: Spec): string {
  const v = spec.flag === '^' ? value.toUpperCase() : value;
  if (spec.width > v.length) return ' '.repeat(spec.width - v.length) + v;
  return v;
}

/** Seconds with fractional digits, as absl's %E#S / %E*S. */
function secondsWithFraction(f: Fields, digits: number): string {
  const whole = pad(f.second, 2, '0');
  if (digits === 0) return whole;
  if (digits > 0) return `${whole}.${fraction(f, Math.min(digits, 9))}`;
  // '*': every significant digit, none when the fraction is zero.
  if (f.nanos === 0) return whole;
  return `${whole}.${pad(f.nanos, 9, '0').replace(/0+$/, '')}`;
}

function fractionOnly(f: Fields, digits: number): string {
  if (digits > 0) return fraction(f, Math.min(digits, 9));
  if (f.nanos === 0) return '0';
  return pad(f.nanos, 9, '0').replace(/0+$/, '');
}

/** Compiles one conversion into a part; returns null for unknown conversions. */
function compileSpec(spec: Spec, raw: string): Part {
  const s = spec;
  switch (s.conv) {
    case 'a': return (f) => text(DAYS_SHORT[f.weekday]!, s);
    case 'A': return (f) => text(DAYS_LONG[f.weekday]!, s);
    case 'b':
    case 'h': return (f) => text(MONTHS_SHORT[f.month]!, s);
    case 'B': return (f) => text(MONTHS_LONG[f.month]!, s);
    case 'c': {
      const parts = compileParts('%a %b %e %H:%M:%S %Y');
      return (f) => render(parts, f);
    }
    case 'C': return (f) => numeric(Math.floor(f.year / 100), 2, '0', s);
    case 'd': return (f) => numeric(f.day, 2, '0', s);
    case 'D':
    case 'x': {
      const parts = compileParts('%m/%d/%y');
      return (f) => render(parts, f);
    }
    case 'e': return (f) => numeric(f.day, 2, ' ', s);
    case 'F': {
      const parts = compileParts('%Y-%m-%d');
      return (f) => render(parts, f);
    }
    case 'G': return (f) => numeric(isoWeek(f).year, 4, '0', s);
    case 'g': return (f) => numeric(isoWeek(f).year % 100, 2, '0', s);
    case 'H': return (f) => numeric(f.hour, 2, '0', s);
    case 'I': return (f) => numeric(f.hour % 12 === 0 ? 12 : f.hour % 12, 2, '0', s);
    case 'j': return (f) => numeric(f.yday + 1, 3, '0', s);
    case 'k': return (f) => numeric(f.hour, 2, ' ', s);
    case 'l': return (f) => numeric(f.hour % 12 === 0 ? 12 : f.hour % 12, 2, ' ', s);
    case 'm': return (f) => numeric(f.month + 1, 2, '0', s);
    case 'M': return (f) => numeric(f.minute, 2, '0', s);
    case 'n': return '\n';
    case 'p': return (f) => text(f.hour < 12 ? 'AM' : 'PM', s);
    case 'P': return (f) => text(f.hour < 12 ? 'am' : 'pm', s);
    case 'r': {
      const parts = compileParts('%I:%M:%S %p');
      return (f) => render(parts, f);
    }
    case 'R': {
      const parts = compileParts('%H:%M');
      return (f) => render(parts, f);
    }
    case 's': return (f) => String(f.epochSeconds);
    case 'S':
      if (s.eDigits !== undefined) {
        const digits = s.eDigits;
        return (f) => secondsWithFraction(f, digits);
      }
      return (f) => numeric(f.second, 2, '0', s);
    case 'f': {
      if (s.eDigits !== undefined) {
        const digits = s.eDigits;
        return (f) => fractionOnly(f, digits);
      }
      // Envoy: %f is 9 digits, %Nf is N digits (1-9).
      const digits = s.width >= 1 && s.width <= 9 ? s.width : 9;
      return (f) => fraction(f, digits);
    }
    case 't': return '\t';
    case 'T':
    case 'X': {
      const parts = compileParts('%H:%M:%S');
      return (f) => render(parts, f);
    }
    case 'u': return (f) => numeric(f.weekday === 0 ? 7 : f.weekday, 1, '0', s);
    case 'U': return (f) => numeric(Math.floor((f.yday + 7 - f.weekday) / 7), 2, '0', s);
    case 'V': return (f) => numeric(isoWeek(f).week, 2, '0', s);
    case 'w': return (f) => numeric(f.weekday, 1, '0', s);
    case 'W': return (f) => numeric(Math.floor((f.yday + 7 - ((f.weekday + 6) % 7)) / 7), 2, '0', s);
    case 'y': return (f) => numeric(f.year % 100, 2, '0', s);
    case 'Y':
      if (s.modifier === 'E' && s.eDigits !== undefined && s.eDigits > 0) {
        const w = s.eDigits;
        return (f) => pad(f.year, w, '0');
      }
      return (f) => numeric(f.year, 1, '0', s);
    case 'z':
      if (s.modifier === 'E') return s.eDigits === -1 ? '+00:00:00' : '+00:00';
      return '+0000';
    case 'Z': return 'UTC';
    case '%': return '%';
    default:
      return raw;
  }
}

/** Splits a format into literal and conversion parts. */
function compileParts(format: string): Part[] {
  const parts: Part[] = [];
  let literal = '';
  let i = 0;
  while (i < format.length) {
    const c = format[i]!;
    if (c !== '%' || i + 1 >= format.length) {
      literal += c;
      i++;
      continue;
    }
    const start = i;
    i++;
    let flag = '';
    while (i < format.length && '-_0^#'.includes(format[i]!)) flag = format[i++]!;
    let widthStr = '';
    while (i < format.length && format[i]! >= '0' && format[i]! <= '9') widthStr += format[i++];
    let modifier = '';
    let eDigits: number | undefined;
    if (format[i] === 'E' || format[i] === 'O') {
      modifier = format[i]!;
      i++;
      if (modifier === 'E') {
        if (format[i] === '*') {
          eDigits = -1;
          i++;
        } else {
          let d = '';
          while (i < format.length && format[i]! >= '0' && format[i]! <= '9') d += format[i++];
          if (d !== '') eDigits = Number(d);
        }
      }
    }
    if (i >= format.length) {
      literal += format.slice(start);
      break;
    }
    const conv = format[i]!;
    i++;
    const raw = format.slice(start, i);
    // absl only gives E# meaning to S, f, z and Y; elsewhere treat as a plain conversion.
    if (eDigits !== undefined && !'SfzY'.includes(conv)) eDigits = undefined;
    const part = compileSpec({ flag, width: widthStr === '' ? 0 : Number(widthStr), eDigits, modifier, conv }, raw);
    if (typeof part === 'string') {
      literal += part;
    } else {
      if (literal !== '') parts.push(literal);
      literal = '';
      parts.push(part);
    }
  }
  if (literal !== '') parts.push(literal);
  return parts;
}

function render(parts: ReadonlyArray<Part>, f: Fields): string {
  let out = '';
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    out += typeof p === 'string' ? p : p(f);
  }
  return out;
}

function fieldsOf(epochMs: number): Fields {
  const wholeMs = Math.floor(epochMs);
  const d = new Date(wholeMs);
  const year = d.getUTCFullYear();
  const month = d.getUTCMonth();
  const day = d.getUTCDate();
  const yday = Math.floor((Date.UTC(year, month, day) - Date.UTC(year, 0, 1)) / 86_400_000);
  const msInSecond = ((wholeMs % 1000) + 1000) % 1000;
  // A double holds an epoch in ms to about 0.1 us: keep whole microseconds.
  const subMsNanos = Math.min(999, Math.round((epochMs - wholeMs) * 1e3)) * 1e3;
  return {
    year,
    month,
    day,
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
    weekday: d.getUTCDay(),
    yday,
    epochSeconds: Math.floor(wholeMs / 1000),
    nanos: msInSecond * 1_000_000 + subMsNanos,
  };
}

export class DateFormatter {
  private readonly parts: ReadonlyArray<Part>;
  /** True when the output changes within a second (fractions). */
  private readonly subSecond: boolean;
  private lastKey = Number.NaN;
  private lastValue = '';

  constructor(readonly formatString: string) {
    this.parts = compileParts(formatString);
    this.subSecond = /%[-_0^#]*[0-9]*(E[0-9*]*)?f|%E[0-9*]+S/.test(formatString);
  }

  /** Formats `epochMs` (milliseconds since the epoch, UTC). */
  fromTime(epochMs: number): string {
    const key = this.subSecond ? epochMs : Math.floor(epochMs / 1000);
    if (key === this.lastKey) return this.lastValue;
    const value = render(this.parts, fieldsOf(epochMs));
    this.lastKey = key;
    this.lastValue = value;
    return value;
  }
}

/**
 * Envoy's default access-log time, `%Y-%m-%dT%H:%M:%E3SZ` in UTC
 * (AccessLogDateTimeFormatter), e.g. `2016-04-15T20:17:00.310Z`.
 */
export function formatDefaultTime(epochMs: number): string {
  const ms = Math.floor(epochMs);
  if (ms === lastDefaultMs) return lastDefaultValue;
  const d = new Date(ms);
  const year = d.getUTCFullYear();
  // toISOString matches the default format byte for byte for years 0000-9999.
  const value = year >= 0 && year <= 9999 ? d.toISOString() : render(DEFAULT_PARTS, fieldsOf(epochMs));
  lastDefaultMs = ms;
  lastDefaultValue = value;
  return value;
}

let lastDefaultMs = Number.NaN;
let lastDefaultValue = '';

const DEFAULT_PARTS = compileParts('%Y-%m-%dT%H:%M:%E3SZ');
