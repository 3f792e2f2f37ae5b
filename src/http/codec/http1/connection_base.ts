/**
 * What the HTTP/1 server and client codecs share, after Envoy's
 * Http1::ConnectionImpl: input buffering, the parse loop, body framing
 * (content-length, chunked with trailers, raw bytes) and write-buffer
 * watermarks. Subclasses parse their own head (request line or status line)
 * and decide what a finished message means.
 */
import type { Socket } from 'node:net';
import type { StreamDecoder } from '../../../envoy/http/codec.js';
import type { HeaderMap } from '../../../envoy/http/header_map.js';
import { HeaderMapImpl } from '../header_map_impl.js';
import { Http1Details } from './codes.js';
import {
  CR, CRLFCRLF, EMPTY, FieldError, LF, LFLF, fieldInfo, latin1, parseChunkSize, parseFields,
  type Http1StreamBase,
} from './parser.js';

/** Where a codec's parser is. */
export const enum PState {
  /** Waiting for (the rest of) a message head. */
  Head,
  /** Content-Length body. */
  Body,
  ChunkSize,
  ChunkData,
  /** The CRLF that ends a chunk's data. */
  ChunkEnd,
  Trailers,
  /** A response body that ends when the upstream closes. */
  BodyUntilClose,
  /** After an upgrade / CONNECT: bytes pass through raw. */
  Upgrade,
  /** No message in progress (server: the request is complete, its response is not). */
  Idle,
  /** Closing or closed: input is ignored. */
  Closed,
}

/** Longest chunk-size line (digits + extensions) buffered before it is called malformed. */
const MAX_CHUNK_LINE = 4096;

export abstract class Http1ConnectionBase {
  protected buf: Buffer = EMPTY;
  protected pos = 0;
  /** Bytes of the pending head already searched for CRLFCRLF. */
  protected headScanned = 0;
  protected state = PState.Idle;
  protected bodyRemaining = 0;
  protected dispatching = false;
  private aboveHighWatermark = false;

  /**
   * @param maxHeadBytes limit for a head or a trailer block.
   * @param maxFieldCount limit for header or trailer lines.
   */
  constructor(
    readonly socket: Socket,
    protected readonly maxHeadBytes: number,
    protected readonly maxFieldCount: number,
    protected readonly enableTrailers: boolean,
    private readonly highWatermark: number,
  ) {
    socket.on('drain', () => this.onDrain());
  }

  /** A complete head is `buf[start, headEnd)`; its header block ends at `blockEnd`. Returns true to keep going. */
  protected abstract onHead(buf: Buffer, start: number, blockEnd: number, headEnd: number): boolean;
  /** The decoder of the message whose body is being parsed. */
  protected abstract bodyDecoder(): StreamDecoder;
  /** The last of the body: `data` with end of stream, or `trailers`. Delivers it and leaves the body states. */
  protected abstract finishBody(data: Buffer, trailers: HeaderMap | null): void;
  /** Malformed framing. Returns false (parse loops stop). */
  protected abstract framingError(status: number, details: string): false;
  /** The stream that hears about watermarks. */
  protected abstract watermarkStream(): Http1StreamBase | null;
  /** Called after each parse loop. */
  protected afterProcess(): void {}
  /** True when the partial head `buf[start, len)` can already be rejected (bad first bytes). */
  protected rejectPartialHead(_buf: Buffer, _start: number, _len: number): boolean { return false; }

  /** Appends read bytes to what is still unparsed (no copy when nothing is). */
  protected append(data: Buffer): void {
    if (this.pos >= this.buf.length) {
      this.buf = data;
      this.pos = 0;
    } else {
      this.buf = Buffer.concat([this.pos === 0 ? this.buf : this.buf.subarray(this.pos), data]);
      this.pos = 0;
    }
  }

  protected process(): void {
    this.dispatching = true;
    let more = true;
    while (more) {
      switch (this.state) {
        case PState.Head: more = this.parseHead(); break;
        case PState.Body: more = this.onBodyBytes(); break;
        case PState.ChunkSize: more = this.parseChunkLine(); break;
        case PState.ChunkData: more = this.onChunkData(); break;
        case PState.ChunkEnd: more = this.parseChunkEnd(); break;
        case PState.Trailers: more = this.parseTrailers(); break;
        case PState.BodyUntilClose:
        case PState.Upgrade: more = this.onRawBytes(); break;
        default: more = false; break; // Idle, Closed
      }
    }
    this.dispatching = false;
    if (this.pos >= this.buf.length) {
      this.buf = EMPTY;
      this.pos = 0;
    }
    this.afterProcess();
  }

  /** State Head: finds a complete head at `pos` (one native CRLFCRLF search) and hands it to onHead. */
  protected parseHead(): boolean {
    const buf = this.buf;
    const start = this.pos;
    const len = buf.length;
    if (start >= len) return false;
    const from = start + (this.headScanned > 3 ? this.headScanned - 3 : 0);
    const idx = buf.indexOf(CRLFCRLF, from);
    if (idx === -1) {
      const have = len - start;
      if (have > this.maxHeadBytes) return this.framingError(431, Http1Details.HeadersTooLarge);
      // A bare-LF head can never complete, nor can one whose first bytes are
      // already wrong: say so now rather than at the size limit.
      if (buf.indexOf(LFLF, from) !== -1 || (this.headScanned === 0 && this.rejectPartialHead(buf, start, len))) {
        return this.framingError(400, Http1Details.CodecError);
      }
      this.headScanned = have;
      return false;
    }
    this.headScanned = 0;
    const headEnd = idx + 4;
    if (headEnd - start > this.maxHeadBytes) return this.framingError(431, Http1Details.HeadersTooLarge);
    this.pos = headEnd;
    return this.onHead(buf, start, idx + 2, headEnd);
  }

  private onBodyBytes(): boolean {
    const buf = this.buf;
    const avail = buf.length - this.pos;
    if (avail === 0) return false;
    const n = avail < this.bodyRemaining ? avail : this.bodyRemaining;
    const chunk = this.pos === 0 && n === buf.length ? buf : buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    this.bodyRemaining -= n;
    if (this.bodyRemaining === 0) this.finishBody(chunk, null);
    else this.bodyDecoder().decodeData(chunk, false);
    return true;
  }

  private parseChunkLine(): boolean {
    const buf = this.buf;
    const cr = buf.indexOf(CR, this.pos);
    if (cr === -1 || cr + 1 >= buf.length) {
      if (buf.length - this.pos > MAX_CHUNK_LINE) return this.framingError(400, Http1Details.CodecError);
      return false;
    }
    if (buf[cr + 1] !== LF) return this.framingError(400, Http1Details.CodecError);
    const size = parseChunkSize(buf, this.pos, cr);
    if (size < 0) return this.framingError(400, Http1Details.CodecError);
    this.pos = cr + 2;
    if (size === 0) {
      this.state = PState.Trailers;
    } else {
      this.bodyRemaining = size;
      this.state = PState.ChunkData;
    }
    return true;
  }

  private onChunkData(): boolean {
    const buf = this.buf;
    const avail = buf.length - this.pos;
    if (avail === 0) return false;
    const n = avail < this.bodyRemaining ? avail : this.bodyRemaining;
    const chunk = this.pos === 0 && n === buf.length ? buf : buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    this.bodyRemaining -= n;
    if (this.bodyRemaining === 0) this.state = PState.ChunkEnd;
    this.bodyDecoder().decodeData(chunk, false);
    return true;
  }

  private parseChunkEnd(): boolean {
    const buf = this.buf;
    if (buf.length - this.pos < 2) return false;
    if (buf[this.pos] !== CR || buf[this.pos + 1] !== LF) return this.framingError(400, Http1Details.CodecError);
    this.pos += 2;
    this.state = PState.ChunkSize;
    return true;
  }

  /** After the last chunk: an empty line, or trailer fields then an empty line. */
  private parseTrailers(): boolean {
    const buf = this.buf;
    const p = this.pos;
    if (buf.length - p < 2) return false;
    if (buf[p] === CR && buf[p + 1] === LF) {
      this.pos = p + 2;
      this.finishBody(EMPTY, null);
      return true;
    }
    const idx = buf.indexOf(CRLFCRLF, p);
    if (idx === -1) {
      if (buf.length - p > this.maxHeadBytes) return this.framingError(431, Http1Details.HeadersTooLarge);
      if (buf.indexOf(LFLF, p) !== -1) return this.framingError(400, Http1Details.CodecError);
      return false;
    }
    const end = idx + 4;
    if (end - p > this.maxHeadBytes) return this.framingError(431, Http1Details.HeadersTooLarge);
    const names: string[] = [];
    const values: string[] = [];
    const f = fieldInfo;
    f.reset();
    const err = parseFields(buf, latin1(buf, p, end), p, p, idx + 2, names, values, f, this.maxFieldCount, false, false, 'allow');
    if (err !== FieldError.None) {
      if (err === FieldError.TooManyHeaders) return this.framingError(431, Http1Details.TooManyHeaders);
      return this.framingError(400, err === FieldError.InvalidCharacters ? Http1Details.InvalidCharacters : Http1Details.CodecError);
    }
    this.pos = end;
    // Without enable_trailers (Envoy's default) trailers are parsed, then dropped.
    if (this.enableTrailers && names.length > 0) this.finishBody(EMPTY, new HeaderMapImpl(names, values));
    else this.finishBody(EMPTY, null);
    return true;
  }

  /** Raw states: whatever is buffered goes to the decoder as is. */
  private onRawBytes(): boolean {
    if (this.pos < this.buf.length) {
      const rest = this.pos === 0 ? this.buf : this.buf.subarray(this.pos);
      this.buf = EMPTY;
      this.pos = 0;
      this.bodyDecoder().decodeData(rest, false);
    }
    return false;
  }

  // ---- write-buffer watermarks (per_connection_buffer_limit_bytes) ----

  /** After a write: fire the high watermark once the socket's buffer passed the limit. */
  checkHighWatermark(): void {
    const limit = this.highWatermark;
    if (!this.aboveHighWatermark && limit > 0 && this.socket.writableLength > limit) {
      this.aboveHighWatermark = true;
      this.watermarkStream()?.runHighWatermarkCallbacks();
    }
  }

  /** A new stream starts above the high watermark: it hears about it (replayed to its callbacks). */
  protected inheritWatermark(s: Http1StreamBase): void {
    if (this.aboveHighWatermark) s.runHighWatermarkCallbacks();
  }

  /** Node's 'drain' (buffer flushed) stands for Envoy's low watermark (half the limit). */
  private onDrain(): void {
    if (this.aboveHighWatermark && this.socket.writableLength <= this.highWatermark / 2) {
      this.aboveHighWatermark = false;
      this.watermarkStream()?.runLowWatermarkCallbacks();
    }
  }
}
