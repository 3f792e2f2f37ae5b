/**
 * Parsing and writing primitives shared by the HTTP/1 server and client codecs.
 *
 * The parser works on whole header blocks: the codec finds the end of a block
 * with one native `Buffer.indexOf` (CRLFCRLF), decodes the block once as a
 * latin1 string, then walks the bytes with the lookup tables of
 * char_tables.ts. Names and values are `slice`s of that one string, so a
 * typical request costs one native decode plus a tight JS loop, with no
 * regex, closure or intermediate array per header.
 */
import type { Socket } from 'node:net';
import { StreamResetReason, type Stream } from '../../../envoy/http/codec.js';
import type { HeaderMap } from '../../../envoy/http/header_map.js';
import { HeaderMapImpl } from '../header_map_impl.js';
import { StreamCallbackHelper } from '../stream_callback_helper.js';
import { FIELD_VALUE, HEX, NAME, NAME_UNDERSCORE, NAME_UPPER, knownHeaderName } from './char_tables.js';
import type { HeadersWithUnderscoresAction } from './settings.js';

export const CR = 13;
export const LF = 10;
export const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');
export const LFLF = Buffer.from('\n\n', 'latin1');
export const EMPTY = Buffer.alloc(0);

interface FastBuffer {
  latin1Slice(start: number, end: number): string;
  latin1Write(s: string, offset: number, length: number): number;
}

/** `buf[s, e)` as a latin1 string (Node's internal fast path; bytes map 1:1 to chars). */
export function latin1(buf: Buffer, s: number, e: number): string {
  return (buf as unknown as FastBuffer).latin1Slice(s, e);
}

/** Why a field block was rejected. */
export const enum FieldError {
  None = 0,
  /** Bad name byte, missing colon, empty name or obs-fold (http1.codec_error). */
  Syntax = 1,
  /** CR, LF, NUL or another CTL in a value (http1.invalid_characters). */
  InvalidCharacters = 2,
  TooManyHeaders = 3,
  InvalidUnderscore = 4,
  /** Unparsable or conflicting Content-Length (http1.codec_error). */
  ContentLength = 5,
  /** More than one Host line (http1.codec_error). */
  DuplicateHost = 6,
}

/** What the field parser noticed about framing headers. Reused; reset per block. */
export class FieldInfo {
  count = 0;
  /** Parsed Content-Length, or -1 when absent. */
  contentLength = -1;
  /** Transfer-Encoding values joined with ',' (null when absent). */
  te: string | null = null;
  connection: string | null = null;
  upgrade: string | null = null;
  proxyConnection: string | null = null;
  /** The Host value when `extractHost` (it is then not added to the map). */
  host: string | null = null;

  reset(): void {
    this.count = 0;
    this.contentLength = -1;
    this.te = null;
    this.connection = null;
    this.upgrade = null;
    this.proxyConnection = null;
    this.host = null;
  }
}

/** The one FieldInfo the codecs use (parsing is synchronous, never re-entered). */
export const fieldInfo = new FieldInfo();

/**
 * Parses header (or trailer) lines in `buf[p, blockEnd)`, where `blockEnd` is
 * the start of the terminating empty line. `head` is `latin1(buf, base, x)`
 * for some x >= blockEnd. Lower-cased names and trimmed values are appended to
 * `names`/`values`. With `special`, framing headers are recorded in `info`
 * (Content-Length is de-duplicated; with `extractHost` the Host line goes to
 * `info.host` instead of the map). Returns a FieldError.
 *
 * Every line of the block ends in CRLF, so the scans below always stop at a CR
 * before `blockEnd` and need no bounds checks.
 */
export function parseFields(
  buf: Buffer, head: string, base: number, p: number, blockEnd: number,
  names: string[], values: string[], info: FieldInfo,
  maxCount: number, special: boolean, extractHost: boolean, underscores: HeadersWithUnderscoresAction,
): FieldError {
  while (p < blockEnd) {
    const ls = p;
    let flags = 0;
    let c = buf[p]!;
    for (;;) {
      const t = NAME[c]!;
      if (t === 0) break;
      flags |= t;
      c = buf[++p]!;
    }
    // A line starting with SP/HTAB (obs-fold), a space before the colon, a
    // missing colon or a bad name byte all land here.
    if (c !== 0x3a || p === ls) return FieldError.Syntax;
    const ne = p;
    c = buf[++p]!;
    while (c === 0x20 || c === 0x09) c = buf[++p]!;
    const vs = p;
    while (FIELD_VALUE[c] === 1) c = buf[++p]!;
    if (c !== CR || buf[p + 1] !== LF) return FieldError.InvalidCharacters;
    let ve = p;
    p += 2;
    while (ve > vs && (buf[ve - 1] === 0x20 || buf[ve - 1] === 0x09)) ve--;

    if ((flags & NAME_UNDERSCORE) !== 0 && underscores !== 'allow') {
      if (underscores === 'reject_request') return FieldError.InvalidUnderscore;
      continue; // drop_header
    }
    let name = knownHeaderName(buf, ls, ne);
    if (name === null) {
      name = head.slice(ls - base, ne - base);
      if ((flags & NAME_UPPER) !== 0) name = name.toLowerCase();
    }
    const value = ve === vs ? '' : head.slice(vs - base, ve - base);

    if (special) {
      // Framing names are interned by knownHeaderName, so these are pointer
      // compares in the common case (measured: far cheaper than a switch on length).
      if (name === 'host') {
        if (extractHost) {
          if (info.host !== null) return FieldError.DuplicateHost;
          info.host = value;
          if (++info.count > maxCount) return FieldError.TooManyHeaders;
          continue;
        }
      } else if (name === 'content-length') {
        const n = parseContentLength(buf, vs, ve);
        if (n < 0) return FieldError.ContentLength;
        if (info.contentLength !== -1) {
          // Identical repeats collapse to one (RFC 9110 §8.6); different ones are an attack.
          if (info.contentLength !== n) return FieldError.ContentLength;
          if (++info.count > maxCount) return FieldError.TooManyHeaders;
          continue;
        }
        info.contentLength = n;
      } else if (name === 'transfer-encoding') {
        info.te = info.te === null ? value : `${info.te},${value}`;
      } else if (name === 'connection') {
        info.connection = info.connection === null ? value : `${info.connection},${value}`;
      } else if (name === 'upgrade') {
        info.upgrade = value;
      } else if (name === 'proxy-connection') {
        info.proxyConnection = value;
      }
    }
    if (++info.count > maxCount) return FieldError.TooManyHeaders;
    names.push(name);
    values.push(value);
  }
  return FieldError.None;
}

/** Decimal digits only, at most 15 (< 2^53); -1 when invalid. */
function parseContentLength(buf: Buffer, s: number, e: number): number {
  const len = e - s;
  if (len === 0 || len > 15) return -1;
  let n = 0;
  for (let i = s; i < e; i++) {
    const d = buf[i]! - 0x30;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

/**
 * Parses a chunk-size line `buf[p, cr)` (cr = index of its CR): 1-13 hex
 * digits, optional BWS and a `;` chunk extension that is ignored but must not
 * hold control bytes. Returns the size, or -1 when malformed.
 */
export function parseChunkSize(buf: Buffer, p: number, cr: number): number {
  let size = 0;
  const start = p;
  while (p < cr) {
    const h = HEX[buf[p]!]!;
    if (h === 0xff) break;
    size = size * 16 + h;
    p++;
  }
  const digits = p - start;
  if (digits === 0 || digits > 13) return -1;
  while (p < cr && (buf[p] === 0x20 || buf[p] === 0x09)) p++;
  if (p < cr) {
    if (buf[p] !== 0x3b) return -1;
    for (p++; p < cr; p++) if (FIELD_VALUE[buf[p]!] === 0) return -1;
  }
  return size;
}

/** Parses `:status` (3 digits) without allocating; NaN when not 3 digits. */
export function parseStatus(s: string | undefined): number {
  if (s === undefined || s.length !== 3) return NaN;
  const a = s.charCodeAt(0) - 48, b = s.charCodeAt(1) - 48, c = s.charCodeAt(2) - 48;
  if (a < 0 || a > 9 || b < 0 || b > 9 || c < 0 || c > 9) return NaN;
  return a * 100 + b * 10 + c;
}

/**
 * Data up to this size is copied into one buffer together with the framing
 * around it (header block, chunk size, CRLF), so a small response is a single
 * write. Larger payloads go out as a corked writev without copying.
 */
const COALESCE_LIMIT = 16 * 1024;

/** Writes `prefix + data + suffix` (prefix/suffix latin1) with as few syscalls as possible. */
export function writeFrame(socket: Socket, prefix: string, data: Buffer | null, suffix: string): void {
  const n = data === null ? 0 : data.length;
  if (n === 0) {
    const s = suffix.length === 0 ? prefix : prefix + suffix;
    if (s.length > 0) socket.write(s, 'latin1');
    return;
  }
  const pl = prefix.length, sl = suffix.length;
  if (pl === 0 && sl === 0) {
    socket.write(data!);
    return;
  }
  if (n <= COALESCE_LIMIT) {
    const out = Buffer.allocUnsafe(pl + n + sl);
    const fb = out as unknown as FastBuffer;
    if (pl > 0) fb.latin1Write(prefix, 0, pl);
    data!.copy(out, pl);
    if (sl > 0) fb.latin1Write(suffix, pl + n, sl);
    socket.write(out);
    return;
  }
  socket.cork();
  if (pl > 0) socket.write(prefix, 'latin1');
  socket.write(data!);
  if (sl > 0) socket.write(suffix, 'latin1');
  socket.uncork();
}

/**
 * The last chunk of a chunked body: `0\r\n`, the trailers (only when
 * `enable_trailers`; pseudo headers never go on the wire), then the final CRLF.
 */
export function lastChunk(trailers: HeaderMap, enableTrailers: boolean): string {
  let s = '0\r\n';
  if (enableTrailers) {
    const hm = asMap(trailers);
    const names = hm.rawNames(), values = hm.rawValues();
    for (let i = 0; i < names.length; i++) {
      const n = names[i]!;
      if (n.charCodeAt(0) !== 0x3a) s += n + ': ' + values[i]! + '\r\n';
    }
  }
  return s + '\r\n';
}

/**
 * What every HTTP/1 stream shares on top of the callback bookkeeping:
 * read-disable is counted per stream and applied connection-wide.
 */
export abstract class Http1StreamBase extends StreamCallbackHelper implements Stream {
  protected readDisableCalls = 0;

  abstract resetStream(reason: StreamResetReason): void;
  /** The connection the stream lives on: HTTP/1 reads are disabled connection-wide. */
  protected abstract readonly owner: { readDisable(disable: boolean): void; readonly settings: { readonly bufferLimit: number } };

  /** Counted, as Envoy: every disable needs an enable; the connection sees each call. */
  readDisable(disable: boolean): void {
    if (disable) {
      this.readDisableCalls++;
      this.owner.readDisable(true);
    } else if (this.readDisableCalls > 0) {
      this.readDisableCalls--;
      this.owner.readDisable(false);
    }
  }

  /** @internal Gives back the read-disables the stream still holds when it ends (the connection outlives it). */
  releaseReadDisables(): void {
    while (this.readDisableCalls > 0) {
      this.readDisableCalls--;
      this.owner.readDisable(false);
    }
  }

  bufferLimit(): number {
    return this.owner.settings.bufferLimit;
  }
}

/** The map as a HeaderMapImpl (copying only a foreign HeaderMap implementation). */
export function asMap(headers: HeaderMap): HeaderMapImpl {
  if (headers instanceof HeaderMapImpl) return headers;
  const m = new HeaderMapImpl();
  headers.forEach((n, v) => m.add(n, v));
  return m;
}
