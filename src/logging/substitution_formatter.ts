/**
 * Envoy's substitution formatter: the `%COMMAND(ARG):LEN%` language of access
 * logs, local-reply bodies and header values (`request_headers_to_add`),
 * after `source/common/formatter/` (substitution_formatter, stream_info_formatter,
 * http_specific_formatter).
 *
 * A format string is compiled once into an array of literal strings and
 * operator providers; formatting walks that array and concatenates, so the
 * per-request cost is one string build and no parsing. Compiling rejects what
 * Envoy rejects (unknown operators, bad syntax, wrong arguments) with a
 * LoggingConfigError that names the operator.
 *
 * Syntax, exactly as Envoy parses it:
 *   %COMMAND%  %COMMAND(SUBCOMMAND)%  %COMMAND(SUBCOMMAND):LENGTH%  and `%%` for `%`.
 * COMMAND is [A-Z0-9_]+; SUBCOMMAND may not contain ')'; LENGTH truncates.
 *
 * A value that is not available formats as `-` (or as the empty string with
 * `omitEmptyValues`), and as `null` in typed JSON (see json_formatter.ts).
 */
import { hostname as osHostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { JsonValue } from '@bufbuild/protobuf';
import type { HeaderMap } from '../envoy/http/header_map.js';
import type { StreamInfo } from '../envoy/stream_info/stream_info.js';
import type { SslConnectionInfo } from '../envoy/network/connection.js';
import { responseFlagsToLongString, responseFlagsToShortString } from '../envoy/stream_info/response_flags.js';
import { DateFormatter, formatDefaultTime, timeFormatHasNewline } from './date_formatter.js';
import { LoggingConfigError } from './errors.js';

/**
 * What a format is evaluated against. Access logs pass all four; header
 * formatting on the request path passes the request headers and leaves the
 * response maps null. Keep this shape: the route table builds one per request.
 */
export interface FormatterContext {
  readonly requestHeaders: HeaderMap | null;
  readonly responseHeaders: HeaderMap | null;
  readonly responseTrailers: HeaderMap | null;
  readonly streamInfo: StreamInfo;
  /** Body of a local reply (`%LOCAL_REPLY_BODY%`). */
  readonly localReplyBody?: string;
  /** Downstream connection id (`%CONNECTION_ID%`), when the caller knows it. */
  readonly connectionId?: number;
}

/** One compiled operator. */
export interface FormatterProvider {
  /** The value as text, or null when not available (printed as `-`). */
  format(ctx: FormatterContext): string | null;
  /** The value for typed JSON: numbers stay numbers, missing is null. */
  formatValue(ctx: FormatterContext): JsonValue;
}

/** A compiled format. */
export interface Formatter {
  format(ctx: FormatterContext): string;
}

/**
 * A parser for extra operators (Envoy's `CommandParser`, used by formatter
 * extensions). Returns null when it does not know `command`.
 */
export interface CommandParser {
  parse(command: string, subcommand: string, maxLength: number | null): FormatterProvider | null;
}

export interface FormatOptions {
  /** Print missing values as '' instead of '-' (Envoy's `omit_empty_values`). */
  readonly omitEmptyValues?: boolean;
  /** Tried, in order, for operators that are not built in. */
  readonly commandParsers?: ReadonlyArray<CommandParser>;
}

/** Envoy's default access-log format (SubstitutionFormatUtils::DEFAULT_FORMAT). */
export const DEFAULT_FORMAT =
  '[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" ' +
  '%RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% ' +
  '%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% ' +
  '"%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" ' +
  '"%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%"\n';

/** Filter-state key under which the connection manager may store the downstream connection id. */
export const CONNECTION_ID_FILTER_STATE_KEY = 'envoy.network.connection_id';

const UNSPECIFIED = '-';

// ---------------------------------------------------------------------------
// Parsing

/** One piece of a compiled format: a literal or an operator. */
export type FormatPart = string | FormatterProvider;

/** Syntax rules of an operator, as Envoy's CommandSyntaxChecker flags. */
const enum Syntax {
  CommandOnly = 0,
  ParamsRequired = 1,
  ParamsOptional = 2,
  LengthAllowed = 4,
}

interface CommandDef {
  readonly syntax: number;
  create(subcommand: string, maxLength: number | null): FormatterProvider;
}

// %COMMAND(SUBCOMMAND):LENGTH%, anchored at the position being parsed.
const COMMAND_RE = /%([A-Z0-9_]+)(?:\(([^)]*)\))?(?::([0-9]+))?%/y;

function verifySyntax(flags: number, command: string, subcommand: string, maxLength: number | null): void {
  if (flags === Syntax.CommandOnly && (subcommand !== '' || maxLength !== null)) {
    throw new LoggingConfigError(`${command} does not take any parameters or length`);
  }
  if ((flags & Syntax.ParamsRequired) !== 0 && subcommand === '') {
    throw new LoggingConfigError(`${command} requires parameters`);
  }
  if ((flags & Syntax.LengthAllowed) === 0 && maxLength !== null) {
    throw new LoggingConfigError(`${command} does not allow length to be specified.`);
  }
}

/**
 * Parses `format` into literal strings and operator providers. Throws
 * LoggingConfigError on anything Envoy would reject.
 */
export function parseFormat(format: string, commandParsers: ReadonlyArray<CommandParser> = []): FormatPart[] {
  const parts: FormatPart[] = [];
  let literal = '';
  for (let pos = 0; pos < format.length; pos++) {
    const c = format[pos]!;
    if (c !== '%') {
      literal += c;
      continue;
    }
    if (format[pos + 1] === '%') {
      literal += '%';
      pos++;
      continue;
    }
    if (literal !== '') {
      parts.push(literal);
      literal = '';
    }
    COMMAND_RE.lastIndex = pos;
    const m = COMMAND_RE.exec(format);
    if (m === null) {
      throw new LoggingConfigError(
        `Incorrect configuration: ${format}. Couldn't find valid command at position ${pos}`);
    }
    const command = m[1]!;
    const subcommand = m[2] ?? '';
    const maxLength = m[3] !== undefined ? Number(m[3]) : null;
    parts.push(createProvider(command, subcommand, maxLength, commandParsers));
    pos += m[0].length - 1;
  }
  if (literal !== '') parts.push(literal);
  return parts;
}

function createProvider(command: string, subcommand: string, maxLength: number | null,
                        commandParsers: ReadonlyArray<CommandParser>): FormatterProvider {
  const def = BUILTIN_COMMANDS.get(command);
  if (def !== undefined) {
    verifySyntax(def.syntax, command, subcommand, maxLength);
    return def.create(subcommand, maxLength);
  }
  for (const parser of commandParsers) {
    const p = parser.parse(command, subcommand, maxLength);
    if (p !== null) return p;
  }
  throw new LoggingConfigError(
    `unknown command operator %${command}% (Envoy: "Not supported field in StreamInfo")`,
    'LEGATE_ERR_UNKNOWN_FORMAT_OPERATOR');
}

// ---------------------------------------------------------------------------
// Formatters

/** A compiled text format, with its parts exposed for the JSON formatter and callers that want a fast path. */
export interface CompiledFormat extends Formatter {
  /** The format's value when it has no operators (e.g. a plain header value), else null. */
  readonly constant: string | null;
  readonly parts: ReadonlyArray<FormatPart>;
}

class TextFormatter implements CompiledFormat {
  readonly constant = null;
  constructor(readonly parts: ReadonlyArray<FormatPart>, private readonly empty: string) {}

  format(ctx: FormatterContext): string {
    const parts = this.parts;
    let out = '';
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (typeof p === 'string') out += p;
      else out += p.format(ctx) ?? this.empty;
    }
    return out;
  }
}

class ConstantFormatter implements CompiledFormat {
  constructor(readonly constant: string, readonly parts: ReadonlyArray<FormatPart>) {}
  format(): string { return this.constant; }
}

/**
 * Compiles a text format string. Throws LoggingConfigError on an unknown
 * operator or bad syntax; the result is immutable and shared by every request.
 *
 * For header values (`request_headers_to_add`) pass `{ omitEmptyValues: true }`:
 * Envoy's header formatter prints missing values as '' there, not '-'.
 */
export function compileFormat(format: string, opts: FormatOptions = {}): CompiledFormat {
  const parts = parseFormat(format, opts.commandParsers);
  if (parts.every((p) => typeof p === 'string')) return new ConstantFormatter(parts.join(''), parts);
  return new TextFormatter(parts, opts.omitEmptyValues === true ? '' : UNSPECIFIED);
}

/** Envoy's default formatter (used when an access log has no format). */
export function defaultFormatter(): CompiledFormat {
  return compileFormat(DEFAULT_FORMAT);
}

// ---------------------------------------------------------------------------
// Provider building blocks

/**
 * Whole `unit`s (1 = ms, 1e3 = us, 1e6 = ns) in `ms` milliseconds, truncated
 * like std::chrono::duration_cast; rounded to the nanosecond first so float
 * noise (4.8 ms = 4799.9999 us) does not lose a unit.
 */
function wholeUnits(ms: number, unit: number): number {
  const ns = Math.round(ms * 1e6);
  return Math.floor(ns / (1e6 / unit));
}

function truncate(s: string, maxLength: number | null): string {
  return maxLength === null || s.length <= maxLength ? s : s.slice(0, maxLength);
}

/** A text field; typed JSON gets the same string (or null). */
function stringField(get: (ctx: FormatterContext) => string | null | undefined): FormatterProvider {
  return {
    format: (ctx) => get(ctx) ?? null,
    formatValue: (ctx) => get(ctx) ?? null,
  };
}

/** A counter that always has a value (Envoy's UInt64 extractors). */
function numberField(get: (ctx: FormatterContext) => number): FormatterProvider {
  return {
    format: (ctx) => String(get(ctx)),
    formatValue: (ctx) => get(ctx),
  };
}

/** A duration in whole milliseconds, or null when the end point is unknown. */
function durationField(get: (si: StreamInfo) => number | null): FormatterProvider {
  const millis = (ctx: FormatterContext): number | null => {
    const d = get(ctx.streamInfo);
    return d === null || d < 0 ? null : wholeUnits(d, 1);
  };
  return {
    format: (ctx) => {
      const v = millis(ctx);
      return v === null ? null : String(v);
    },
    formatValue: (ctx) => millis(ctx),
  };
}

/** Always missing: operators Envoy knows but Legate has no data for yet (TLS details...). */
const NOT_AVAILABLE: FormatterProvider = { format: () => null, formatValue: () => null };

function since(si: StreamInfo, t: number | null): number | null {
  return t === null ? null : t - si.startTimeMonotonic;
}

/** Current duration: complete duration when known, else elapsed so far (Envoy's currentDuration()). */
function currentDuration(si: StreamInfo): number {
  const d = si.duration();
  return d !== null ? d : performance.now() - si.startTimeMonotonic;
}

// ----- addresses ("ip:port", "[v6]:port", or a pipe path)

const enum AddressPart { WithPort, WithoutPort, JustPort }

/** Splits "1.2.3.4:80" / "[::1]:80"; returns null for addresses without a port (pipes). */
function splitHostPort(addr: string): [string, string] | null {
  if (addr.charCodeAt(0) === 91 /* [ */) {
    const close = addr.indexOf(']');
    if (close < 0) return null;
    const rest = addr.slice(close + 1);
    if (!rest.startsWith(':')) return null;
    return [addr.slice(1, close), rest.slice(1)];
  }
  const colon = addr.lastIndexOf(':');
  if (colon < 0 || addr.indexOf(':') !== colon) return null; // none, or a bare IPv6
  const port = addr.slice(colon + 1);
  if (port === '' || !/^[0-9]+$/.test(port)) return null;
  return [addr.slice(0, colon), port];
}

function addressField(get: (si: StreamInfo) => string | null | undefined, part: AddressPart): FormatterProvider {
  const text = (ctx: FormatterContext): string | null => {
    const addr = get(ctx.streamInfo);
    if (addr === null || addr === undefined || addr === '') return null;
    if (part === AddressPart.WithPort) return addr;
    const hp = splitHostPort(addr);
    if (part === AddressPart.WithoutPort) return hp === null ? addr : hp[0];
    // Envoy prints "" (not "-") for the port of a non-IP address.
    return hp === null ? '' : hp[1];
  };
  return {
    format: text,
    formatValue: (ctx) => {
      const v = text(ctx);
      if (v === null) return null;
      if (part === AddressPart.JustPort) return v === '' ? null : Number(v);
      return v;
    },
  };
}

// ----- headers

function parseHeaderNames(command: string, subcommand: string): [string, string] {
  const names = subcommand.split('?');
  if (names.length > 2) {
    throw new LoggingConfigError(`More than 1 alternative header specified in token: ${subcommand}`);
  }
  const main = names[0]!;
  const alt = names[1] ?? '';
  if (/[\n\r\0]/.test(main) || /[\n\r\0]/.test(alt)) {
    throw new LoggingConfigError('Invalid header configuration. Format string contains newline.');
  }
  if (main === '') throw new LoggingConfigError(`${command} requires parameters`);
  return [main.toLowerCase(), alt.toLowerCase()];
}

function lookupHeader(headers: HeaderMap | null, name: string): string | undefined {
  if (headers === null) return undefined;
  const v = headers.get(name);
  // HTTP/1 codecs store Host as :authority; let %REQ(HOST)% find it.
  if (v === undefined && name === 'host') return headers.get(':authority');
  return v;
}

function headerField(which: (ctx: FormatterContext) => HeaderMap | null, subcommand: string, command: string,
                     maxLength: number | null, transform?: (v: string) => string): FormatterProvider {
  const [main, alt] = parseHeaderNames(command, subcommand);
  const text = (ctx: FormatterContext): string | null => {
    const headers = which(ctx);
    let v = lookupHeader(headers, main);
    if (v === undefined && alt !== '') v = lookupHeader(headers, alt);
    if (v === undefined) return null;
    if (transform !== undefined) v = transform(v);
    return truncate(v, maxLength);
  };
  return { format: text, formatValue: text };
}

const reqHeaders = (ctx: FormatterContext): HeaderMap | null => ctx.requestHeaders;
const respHeaders = (ctx: FormatterContext): HeaderMap | null => ctx.responseHeaders;
const respTrailers = (ctx: FormatterContext): HeaderMap | null => ctx.responseTrailers;

function stripQuery(v: string): string {
  const q = v.indexOf('?');
  return q < 0 ? v : v.slice(0, q);
}

// ----- gRPC status

const GRPC_CAMEL = [
  'OK', 'Canceled', 'Unknown', 'InvalidArgument', 'DeadlineExceeded', 'NotFound', 'AlreadyExists',
  'PermissionDenied', 'ResourceExhausted', 'FailedPrecondition', 'Aborted', 'OutOfRange',
  'Unimplemented', 'Internal', 'Unavailable', 'DataLoss', 'Unauthenticated',
];
const GRPC_SNAKE = [
  'OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS',
  'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE',
  'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED',
];

/** gRPC status of HTTP status `code`, as Envoy's Grpc::Utility::httpToGrpcStatus. */
export function httpToGrpcStatus(code: number): number {
  switch (code) {
    case 400: return 13; // Internal
    case 401: return 16; // Unauthenticated
    case 403: return 7; // PermissionDenied
    case 404: return 12; // Unimplemented
    case 429:
    case 502:
    case 503:
    case 504: return 14; // Unavailable
    default: return 2; // Unknown
  }
}

/**
 * The gRPC status of a finished stream, as Envoy's Grpc::Common::getGrpcStatus:
 * `grpc-status` from the trailers, then the headers (trailers-only), else
 * mapped from the HTTP status; null when there is no response at all.
 */
export function grpcStatusOf(ctx: FormatterContext): number | null {
  const raw = ctx.responseTrailers?.get('grpc-status') ?? ctx.responseHeaders?.get('grpc-status');
  if (raw !== undefined) {
    if (!/^[0-9]+$/.test(raw)) return 2; // Unknown
    return Number(raw);
  }
  const code = ctx.streamInfo.responseCode;
  return code === null || code === 0 ? null : httpToGrpcStatus(code);
}

function grpcStatusField(mode: 'CAMEL_STRING' | 'SNAKE_STRING' | 'NUMBER'): FormatterProvider {
  const text = (ctx: FormatterContext): string | null => {
    const s = grpcStatusOf(ctx);
    if (s === null) return null;
    if (mode === 'NUMBER') return String(s);
    const names = mode === 'CAMEL_STRING' ? GRPC_CAMEL : GRPC_SNAKE;
    return names[s] ?? String(s);
  };
  return {
    format: text,
    formatValue: (ctx) => {
      if (mode === 'NUMBER') return grpcStatusOf(ctx);
      return text(ctx);
    },
  };
}

// ----- metadata and filter state

function lookupPath(root: unknown, path: ReadonlyArray<string>): unknown {
  let v: unknown = root;
  for (const key of path) {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
    v = (v as Record<string, unknown>)[key];
    if (v === undefined) return undefined;
  }
  return v;
}

/** Plain JSON view of a value (drops functions/undefined, turns bigints into numbers). */
function toJsonValue(v: unknown): JsonValue {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'bigint') return Number(v);
  try {
    return JSON.parse(JSON.stringify(v)) as JsonValue;
  } catch {
    return null;
  }
}

function metadataField(getRoot: (si: StreamInfo, ns: string) => unknown, subcommand: string,
                       maxLength: number | null): FormatterProvider {
  const [ns, ...path] = subcommand.split(':');
  const value = (ctx: FormatterContext): unknown => {
    const root = getRoot(ctx.streamInfo, ns!);
    if (root === undefined || root === null) return undefined;
    return path.length === 0 ? root : lookupPath(root, path);
  };
  return {
    format: (ctx) => {
      const v = value(ctx);
      if (v === undefined || v === null) return null;
      const s = typeof v === 'string' ? v : JSON.stringify(toJsonValue(v));
      return truncate(s, maxLength);
    },
    formatValue: (ctx) => {
      const v = value(ctx);
      return v === undefined ? null : toJsonValue(v);
    },
  };
}

/** Filter-state objects may offer Envoy-style serializers; plain values are used as they are. */
interface SerializableState {
  serializeAsString?(): string | null | undefined;
  serializeAsJson?(): unknown;
}

function filterStateField(subcommand: string, maxLength: number | null, upstream: boolean): FormatterProvider {
  const pieces = subcommand.split(':');
  const key = pieces[0] ?? '';
  const mode = pieces[1] === undefined || pieces[1] === '' ? 'TYPED' : pieces[1];
  const field = pieces[2] ?? '';
  if (key === '') throw new LoggingConfigError('Invalid filter state configuration, key cannot be empty.');
  if (mode !== 'PLAIN' && mode !== 'TYPED' && mode !== 'FIELD') {
    throw new LoggingConfigError('Invalid filter state serialize type, only support PLAIN/TYPED/FIELD.');
  }
  if ((mode === 'FIELD') !== (field !== '')) {
    throw new LoggingConfigError('Invalid filter state serialize type, FIELD should be used with the field name.');
  }
  if (upstream) return NOT_AVAILABLE; // upstream filter state: not tracked yet.

  const plain = (v: unknown): string | null => {
    const s = v as SerializableState;
    if (v !== null && typeof v === 'object' && typeof s.serializeAsString === 'function') {
      return s.serializeAsString() ?? null;
    }
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
    return JSON.stringify(toJsonValue(v));
  };
  const typed = (v: unknown): JsonValue => {
    const s = v as SerializableState;
    if (v !== null && typeof v === 'object' && typeof s.serializeAsJson === 'function') {
      return toJsonValue(s.serializeAsJson());
    }
    return toJsonValue(v);
  };
  const fieldOf = (v: unknown): string | null => {
    const f = lookupPath(v, [field]);
    if (typeof f === 'string') return f;
    if (typeof f === 'number' || typeof f === 'bigint') return String(f);
    return null;
  };
  const get = (ctx: FormatterContext): unknown => ctx.streamInfo.filterState.get(key);
  return {
    format: (ctx) => {
      const v = get(ctx);
      if (v === undefined) return null;
      let s: string | null;
      if (mode === 'PLAIN') s = plain(v);
      else if (mode === 'FIELD') s = fieldOf(v);
      else s = JSON.stringify(typed(v));
      return s === null ? null : truncate(s, maxLength);
    },
    formatValue: (ctx) => {
      const v = get(ctx);
      if (v === undefined) return null;
      if (mode === 'PLAIN') {
        const s = plain(v);
        return s === null ? null : truncate(s, maxLength);
      }
      if (mode === 'FIELD') {
        const s = fieldOf(v);
        return s === null ? null : truncate(s, maxLength);
      }
      return typed(v);
    },
  };
}

// ----- time

function timeField(subcommand: string, get: (ctx: FormatterContext) => number | null): FormatterProvider {
  if (timeFormatHasNewline(subcommand)) {
    throw new LoggingConfigError('Invalid header configuration. Format string contains newline.');
  }
  const df = subcommand === '' ? null : new DateFormatter(subcommand);
  const text = (ctx: FormatterContext): string | null => {
    const t = get(ctx);
    if (t === null) return null;
    return df === null ? formatDefaultTime(t) : df.fromTime(t);
  };
  return { format: text, formatValue: text };
}

// ----- COMMON_DURATION

const TIME_POINTS: Record<string, (si: StreamInfo) => number | null> = {
  DS_RX_BEG: (si) => si.startTimeMonotonic,
  DS_RX_END: (si) => si.lastDownstreamRxByteReceived,
  US_RX_BEG: (si) => si.firstUpstreamRxByteReceived,
  US_RX_END: (si) => si.lastUpstreamRxByteReceived,
  DS_TX_BEG: (si) => si.firstDownstreamTxByteSent,
  DS_TX_END: (si) => si.lastDownstreamTxByteSent,
};

function commonDurationField(subcommand: string): FormatterProvider {
  const pieces = subcommand.split(':');
  if (pieces.length < 2 || pieces.length > 3) {
    throw new LoggingConfigError(`Invalid common duration configuration: ${subcommand}.`);
  }
  const precision = pieces[2] ?? 'ms';
  const scale = precision === 'ms' ? 1 : precision === 'us' ? 1e3 : precision === 'ns' ? 1e6 : -1;
  if (scale < 0) throw new LoggingConfigError(`Invalid common duration precision: ${precision}.`);
  // Points Legate does not record yet (US_CX_BEG, US_TX_END, custom points...) are always missing.
  const begin = TIME_POINTS[pieces[0]!] ?? ((): null => null);
  const end = TIME_POINTS[pieces[1]!] ?? ((): null => null);
  const count = (ctx: FormatterContext): number | null => {
    const b = begin(ctx.streamInfo);
    const e = end(ctx.streamInfo);
    if (b === null || e === null || e < b) return null;
    return wholeUnits(e - b, scale);
  };
  return {
    format: (ctx) => {
      const v = count(ctx);
      return v === null ? null : String(v);
    },
    formatValue: count,
  };
}

// ----- query parameters

function queryParamField(subcommand: string, maxLength: number | null): FormatterProvider {
  const name = subcommand;
  const text = (ctx: FormatterContext): string | null => {
    const path = ctx.requestHeaders?.get(':path');
    if (path === undefined) return null;
    const q = path.indexOf('?');
    if (q < 0) return null;
    const query = path.slice(q + 1);
    for (const pair of query.split('&')) {
      const eq = pair.indexOf('=');
      const k = eq < 0 ? pair : pair.slice(0, eq);
      if (safeDecode(k) !== name) continue;
      return truncate(eq < 0 ? '' : safeDecode(pair.slice(eq + 1)), maxLength);
    }
    return null;
  };
  return { format: text, formatValue: text };
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

// ---------------------------------------------------------------------------
// The built-in operator table (Envoy's getKnownFormatters + getKnownStreamInfoFormatterProviders)

const BUILTIN_COMMANDS = new Map<string, CommandDef>();

function def(name: string, syntax: number, create: CommandDef['create']): void {
  BUILTIN_COMMANDS.set(name, { syntax, create });
}

/** Registers a command-only operator whose provider does not depend on arguments. */
function field(name: string, provider: FormatterProvider): void {
  def(name, Syntax.CommandOnly, () => provider);
}

const HEADER_SYNTAX = Syntax.ParamsRequired | Syntax.LengthAllowed;

// Headers.
def('REQ', HEADER_SYNTAX, (sub, len) => headerField(reqHeaders, sub, 'REQ', len));
def('RESP', HEADER_SYNTAX, (sub, len) => headerField(respHeaders, sub, 'RESP', len));
def('TRAILER', HEADER_SYNTAX, (sub, len) => headerField(respTrailers, sub, 'TRAILER', len));
// Envoy ships this as the envoy.formatter.req_without_query extension; built in here.
def('REQ_WITHOUT_QUERY', HEADER_SYNTAX,
  (sub, len) => headerField(reqHeaders, sub, 'REQ_WITHOUT_QUERY', len, stripQuery));
def('QUERY_PARAM', HEADER_SYNTAX, (sub, len) => queryParamField(sub, len));
def('REQUEST_HEADERS_BYTES', Syntax.CommandOnly,
  () => numberField((ctx) => ctx.requestHeaders?.byteSize() ?? 0));
def('RESPONSE_HEADERS_BYTES', Syntax.CommandOnly,
  () => numberField((ctx) => ctx.responseHeaders?.byteSize() ?? 0));
def('RESPONSE_TRAILERS_BYTES', Syntax.CommandOnly,
  () => numberField((ctx) => ctx.responseTrailers?.byteSize() ?? 0));
field('LOCAL_REPLY_BODY', stringField((ctx) => ctx.localReplyBody ?? ''));

// gRPC.
def('GRPC_STATUS', Syntax.ParamsOptional, (sub) => {
  if (sub === '' || sub === 'CAMEL_STRING') return grpcStatusField('CAMEL_STRING');
  if (sub === 'SNAKE_STRING' || sub === 'NUMBER') return grpcStatusField(sub);
  throw new LoggingConfigError('GrpcStatusFormatter only supports CAMEL_STRING, SNAKE_STRING or NUMBER.');
});
field('GRPC_STATUS_NUMBER', grpcStatusField('NUMBER'));

// Times.
def('START_TIME', Syntax.ParamsOptional, (sub) => timeField(sub, (ctx) => ctx.streamInfo.startTime));
def('EMIT_TIME', Syntax.ParamsOptional, (sub) => timeField(sub, () => Date.now()));
for (const name of ['DOWNSTREAM_PEER_CERT_V_START', 'DOWNSTREAM_PEER_CERT_V_END',
  'UPSTREAM_PEER_CERT_V_START', 'UPSTREAM_PEER_CERT_V_END']) {
  def(name, Syntax.ParamsOptional, (sub) => timeField(sub, () => null));
}

// Durations.
field('DURATION', durationField(currentDuration));
field('REQUEST_DURATION', durationField((si) => since(si, si.lastDownstreamRxByteReceived)));
field('RESPONSE_DURATION', durationField((si) => since(si, si.firstUpstreamRxByteReceived)));
field('RESPONSE_TX_DURATION', durationField((si) =>
  si.lastDownstreamTxByteSent === null || si.firstUpstreamRxByteReceived === null
    ? null : si.lastDownstreamTxByteSent - si.firstUpstreamRxByteReceived));
def('COMMON_DURATION', Syntax.ParamsRequired, (sub) => commonDurationField(sub));
for (const name of ['REQUEST_TX_DURATION', 'DOWNSTREAM_HANDSHAKE_DURATION', 'ROUNDTRIP_DURATION',
  'UPSTREAM_CONNECTION_POOL_READY_DURATION']) {
  field(name, NOT_AVAILABLE);
}

// Bytes and counts.
field('BYTES_RECEIVED', numberField((ctx) => ctx.streamInfo.bytesReceived));
field('BYTES_SENT', numberField((ctx) => ctx.streamInfo.bytesSent));
field('UPSTREAM_REQUEST_ATTEMPT_COUNT', numberField((ctx) => ctx.streamInfo.attemptCount));
field('CONNECTION_ID', numberField((ctx) => {
  if (ctx.connectionId !== undefined) return ctx.connectionId;
  const v = ctx.streamInfo.filterState.get(CONNECTION_ID_FILTER_STATE_KEY);
  return typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : 0;
}));
// Wire/header byte meters are not tracked by StreamInfo yet.
for (const name of ['UPSTREAM_WIRE_BYTES_SENT', 'UPSTREAM_WIRE_BYTES_RECEIVED', 'UPSTREAM_HEADER_BYTES_SENT',
  'UPSTREAM_HEADER_BYTES_RECEIVED', 'DOWNSTREAM_WIRE_BYTES_SENT', 'DOWNSTREAM_WIRE_BYTES_RECEIVED',
  'DOWNSTREAM_HEADER_BYTES_SENT', 'DOWNSTREAM_HEADER_BYTES_RECEIVED', 'UPSTREAM_DECOMPRESSED_HEADER_BYTES_SENT',
  'UPSTREAM_DECOMPRESSED_HEADER_BYTES_RECEIVED', 'DOWNSTREAM_DECOMPRESSED_HEADER_BYTES_SENT',
  'DOWNSTREAM_DECOMPRESSED_HEADER_BYTES_RECEIVED', 'BYTES_RETRANSMITTED', 'PACKETS_RETRANSMITTED',
  'UPSTREAM_CONNECTION_ID']) {
  field(name, NOT_AVAILABLE);
}

// Response.
field('RESPONSE_CODE', numberField((ctx) => ctx.streamInfo.responseCode ?? 0));
def('RESPONSE_CODE_DETAILS', Syntax.ParamsOptional, (sub) => {
  const allowWhitespace = sub === 'ALLOW_WHITESPACES';
  return stringField((ctx) => {
    const d = ctx.streamInfo.responseCodeDetails;
    if (d === null) return null;
    return allowWhitespace ? d : d.replace(/\s/g, '_');
  });
});
field('RESPONSE_FLAGS', stringField((ctx) => responseFlagsToShortString(ctx.streamInfo.responseFlags)));
field('RESPONSE_FLAGS_LONG', stringField((ctx) => responseFlagsToLongString(ctx.streamInfo.responseFlags)));
field('PROTOCOL', stringField((ctx) => ctx.streamInfo.protocol));
field('UPSTREAM_PROTOCOL', stringField((ctx) => {
  const p = ctx.streamInfo.upstreamHost?.cluster.upstreamProtocol;
  return p === 'http1' ? 'HTTP/1.1' : p === 'http2' ? 'HTTP/2' : null;
}));
field('CONNECTION_TERMINATION_DETAILS', NOT_AVAILABLE);

// Upstream.
field('UPSTREAM_HOST', stringField((ctx) => ctx.streamInfo.upstreamHost?.addressString || null));
field('UPSTREAM_HOST_NAME', stringField((ctx) => {
  const h = ctx.streamInfo.upstreamHost;
  if (!h) return null;
  return h.hostname || h.addressString || null;
}));
field('UPSTREAM_HOST_NAME_WITHOUT_PORT', stringField((ctx) => {
  const h = ctx.streamInfo.upstreamHost;
  if (!h) return null;
  if (h.hostname) return splitHostPort(h.hostname)?.[0] ?? h.hostname;
  return h.address || null;
}));
field('UPSTREAM_CLUSTER', stringField((ctx) =>
  ctx.streamInfo.upstreamHost?.cluster.statName || ctx.streamInfo.upstreamClusterName || null));
field('UPSTREAM_CLUSTER_RAW', stringField((ctx) => ctx.streamInfo.upstreamClusterName || null));
field('UPSTREAM_LOCAL_ADDRESS', addressField((si) => si.upstreamLocalAddress, AddressPart.WithPort));
field('UPSTREAM_LOCAL_ADDRESS_WITHOUT_PORT', addressField((si) => si.upstreamLocalAddress, AddressPart.WithoutPort));
field('UPSTREAM_LOCAL_PORT', addressField((si) => si.upstreamLocalAddress, AddressPart.JustPort));
field('UPSTREAM_REMOTE_ADDRESS', addressField((si) => si.upstreamHost?.addressString, AddressPart.WithPort));
field('UPSTREAM_REMOTE_ADDRESS_WITHOUT_PORT',
  addressField((si) => si.upstreamHost?.addressString, AddressPart.WithoutPort));
field('UPSTREAM_REMOTE_PORT', addressField((si) => si.upstreamHost?.addressString, AddressPart.JustPort));
field('UPSTREAM_TRANSPORT_FAILURE_REASON', stringField((ctx) => {
  const r = ctx.streamInfo.upstreamTransportFailureReason;
  return r ? r.replace(/ /g, '_') : null;
}));

// Downstream.
field('DOWNSTREAM_REMOTE_ADDRESS', addressField((si) => si.downstreamRemoteAddress, AddressPart.WithPort));
field('DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT',
  addressField((si) => si.downstreamRemoteAddress, AddressPart.WithoutPort));
field('DOWNSTREAM_REMOTE_PORT', addressField((si) => si.downstreamRemoteAddress, AddressPart.JustPort));
field('DOWNSTREAM_DIRECT_REMOTE_ADDRESS',
  addressField((si) => si.downstreamDirectRemoteAddress, AddressPart.WithPort));
field('DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT',
  addressField((si) => si.downstreamDirectRemoteAddress, AddressPart.WithoutPort));
field('DOWNSTREAM_DIRECT_REMOTE_PORT', addressField((si) => si.downstreamDirectRemoteAddress, AddressPart.JustPort));
field('DOWNSTREAM_LOCAL_ADDRESS', addressField((si) => si.downstreamLocalAddress, AddressPart.WithPort));
field('DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT',
  addressField((si) => si.downstreamLocalAddress, AddressPart.WithoutPort));
field('DOWNSTREAM_LOCAL_PORT', addressField((si) => si.downstreamLocalAddress, AddressPart.JustPort));
// Legate does not distinguish the direct local address (original_dst) yet.
field('DOWNSTREAM_DIRECT_LOCAL_ADDRESS', addressField((si) => si.downstreamLocalAddress, AddressPart.WithPort));
field('DOWNSTREAM_DIRECT_LOCAL_ADDRESS_WITHOUT_PORT',
  addressField((si) => si.downstreamLocalAddress, AddressPart.WithoutPort));
field('DOWNSTREAM_DIRECT_LOCAL_PORT', addressField((si) => si.downstreamLocalAddress, AddressPart.JustPort));
field('REQUESTED_SERVER_NAME', stringField((ctx) => ctx.streamInfo.requestedServerName || null));

// Routing and identity.
field('ROUTE_NAME', stringField((ctx) => ctx.streamInfo.routeName || null));
field('VIRTUAL_CLUSTER_NAME', stringField((ctx) => ctx.streamInfo.virtualClusterName || null));
field('STREAM_ID', stringField((ctx) => ctx.streamInfo.requestId || null));
field('UNIQUE_ID', stringField(() => randomUUID()));
def('HOSTNAME', Syntax.CommandOnly, () => {
  let name: string | null;
  try {
    name = osHostname();
  } catch {
    name = null;
  }
  return stringField(() => name);
});
def('ENVIRONMENT', Syntax.ParamsRequired | Syntax.LengthAllowed, (key, len) => {
  // Read once at config time, as Envoy does; a missing variable prints "-" even in typed JSON.
  const env = process.env[key];
  const value = env === undefined ? UNSPECIFIED : truncate(env, len);
  return stringField(() => value);
});
for (const name of ['FILTER_CHAIN_NAME', 'TLS_JA3_FINGERPRINT', 'TLS_JA4_FINGERPRINT', 'CUSTOM_FLAGS',
  'DOWNSTREAM_TRANSPORT_FAILURE_REASON']) {
  field(name, NOT_AVAILABLE);
}

// Metadata and filter state.
const METADATA_SYNTAX = Syntax.ParamsRequired | Syntax.LengthAllowed;
def('DYNAMIC_METADATA', METADATA_SYNTAX,
  (sub, len) => metadataField((si, ns) => si.dynamicMetadata.get(ns), sub, len));
def('UPSTREAM_METADATA', METADATA_SYNTAX,
  (sub, len) => metadataField((si, ns) => si.upstreamHost?.metadata[ns], sub, len));
def('CLUSTER_METADATA', METADATA_SYNTAX, (sub, len) => metadataField((si, ns) => {
  // ClusterInfo carries the raw cluster config; read metadata.filterMetadata from it when present.
  const cfg = si.upstreamHost?.cluster.config as { metadata?: { filterMetadata?: Record<string, unknown> } } | undefined;
  return cfg?.metadata?.filterMetadata?.[ns];
}, sub, len));
def('FILTER_STATE', Syntax.ParamsOptional | Syntax.LengthAllowed, (sub, len) => filterStateField(sub, len, false));
def('UPSTREAM_FILTER_STATE', Syntax.ParamsOptional | Syntax.LengthAllowed,
  (sub, len) => filterStateField(sub, len, true));

// TLS details of the downstream connection (Envoy prints "-" without TLS or without the value).
function sslField(get: (ssl: SslConnectionInfo) => string | ReadonlyArray<string>): FormatterProvider {
  return stringField((ctx) => {
    const ssl = ctx.streamInfo.downstreamSslConnection;
    if (ssl === null) return null;
    const v = get(ssl);
    const s = typeof v === 'string' ? v : v.join(',');
    return s === '' ? null : s;
  });
}
field('DOWNSTREAM_TLS_VERSION', sslField((s) => s.tlsVersion));
field('DOWNSTREAM_TLS_CIPHER', sslField((s) => s.cipherSuite));
field('DOWNSTREAM_PEER_URI_SAN', sslField((s) => s.uriSanPeerCertificate));
field('DOWNSTREAM_PEER_DNS_SAN', sslField((s) => s.dnsSansPeerCertificate));
field('DOWNSTREAM_LOCAL_URI_SAN', sslField((s) => s.uriSanLocalCertificate));
field('DOWNSTREAM_PEER_SUBJECT', sslField((s) => s.subjectPeerCertificate));
field('DOWNSTREAM_LOCAL_SUBJECT', sslField((s) => s.subjectLocalCertificate));
field('DOWNSTREAM_PEER_FINGERPRINT_256', sslField((s) => s.sha256PeerCertificateDigest));
// URL-encoded PEM, as Envoy's urlEncodedPemEncodedPeerCertificate().
field('DOWNSTREAM_PEER_CERT', sslField((s) => s.pemEncodedPeerCertificate === '' ? '' : encodeURIComponent(s.pemEncodedPeerCertificate)));

// Not reported yet: parse, print "-".
for (const name of [
  'DOWNSTREAM_PEER_IP_SAN', 'DOWNSTREAM_PEER_EMAIL_SAN',
  'DOWNSTREAM_PEER_OTHERNAME_SAN', 'DOWNSTREAM_LOCAL_DNS_SAN', 'DOWNSTREAM_LOCAL_IP_SAN',
  'DOWNSTREAM_LOCAL_EMAIL_SAN', 'DOWNSTREAM_LOCAL_OTHERNAME_SAN',
  'DOWNSTREAM_PEER_ISSUER', 'DOWNSTREAM_TLS_SESSION_ID',
  'DOWNSTREAM_PEER_FINGERPRINT_1',
  'DOWNSTREAM_PEER_SERIAL', 'DOWNSTREAM_PEER_CHAIN_FINGERPRINTS_256',
  'DOWNSTREAM_PEER_CHAIN_FINGERPRINTS_1', 'DOWNSTREAM_PEER_CHAIN_SERIALS',
  'UPSTREAM_PEER_URI_SAN', 'UPSTREAM_PEER_DNS_SAN', 'UPSTREAM_PEER_IP_SAN', 'UPSTREAM_LOCAL_URI_SAN',
  'UPSTREAM_LOCAL_DNS_SAN', 'UPSTREAM_LOCAL_IP_SAN', 'UPSTREAM_PEER_SUBJECT', 'UPSTREAM_PEER_ISSUER',
  'UPSTREAM_TLS_SESSION_ID', 'UPSTREAM_TLS_CIPHER', 'UPSTREAM_TLS_VERSION', 'UPSTREAM_PEER_CERT',
]) {
  field(name, NOT_AVAILABLE);
}

/** Names of every built-in operator (for docs and tests). */
export function builtinOperatorNames(): string[] {
  return [...BUILTIN_COMMANDS.keys()].sort();
}
