/**
 * HTTP/1.1 client codec over a connected net.Socket, after Envoy's
 * Http1::ClientConnectionImpl plus the HTTP/1 parts of CodecClient. One stream
 * at a time (no pipelining), as Envoy's HTTP/1 connection pool uses it.
 *
 *   newStream(decoder) -> encoder.encodeHeaders/Data/Trailers -> one coalesced write
 *   response bytes -> decoder.decode1xxHeaders* -> decodeHeaders -> decodeData... (streamed)
 *   response complete -> callbacks.onStreamComplete (the pool reuses the connection if `reusable`)
 *
 * A connection that closes under a stream resets it with ConnectionTermination.
 * When that happens before any response byte on a connection that already
 * served a request (the keep-alive race: the upstream closed an idle
 * connection just as we reused it), the transport failure reason is
 * KEEPALIVE_RACE_DETAIL so the router can tell that case apart and retry.
 * A malformed response resets the stream with ProtocolError.
 */
import type { Socket } from 'node:net';
import {
  StreamResetReason,
  type RequestEncoder,
  type ResponseDecoder,
} from '../../../envoy/http/codec.js';
import type { HeaderMap } from '../../../envoy/http/header_map.js';
import { Protocol } from '../../../envoy/http/protocol.js';
import { HeaderMapImpl } from '../header_map_impl.js';
import { REASON, equalsLowerAscii, hasToken } from './char_tables.js';
import { Http1ConnectionBase, PState } from './connection_base.js';
import {
  CR, EMPTY, FieldError, Http1StreamBase, LF, asMap, fieldInfo, latin1, lastChunk, parseFields, writeFrame,
} from './parser.js';
import { DEFAULT_CLIENT_SETTINGS, type Http1ClientSettings } from './settings.js';

/**
 * Transport failure reason of a ConnectionTermination reset that happened
 * before any response byte on a reused keep-alive connection. The request may
 * or may not have reached the upstream; Envoy's router retries such resets
 * under `retry_on: reset`.
 */
export const KEEPALIVE_RACE_DETAIL = 'upstream closed reused keep-alive connection before response';

/** What the connection pool hears from the client codec. */
export interface Http1ClientConnectionCallbacks {
  /** The response is complete (and delivered). The stream is over; see `reusable` and `encodeComplete`. */
  onStreamComplete(stream: Http1RequestEncoder): void;
  /** The active stream was reset (before its own callbacks run). */
  onStreamReset(stream: Http1RequestEncoder, reason: StreamResetReason): void;
  /** The response announced the connection will close (`upstream_cx_close_notify`). */
  onCloseNotify(): void;
  /** The upstream sent something that is not HTTP/1 (`upstream_cx_protocol_error`). */
  onProtocolError(): void;
}

/** Methods whose requests never carry a body (HeaderUtility::requestShouldHaveNoBody). */
function bodilessMethod(m: string): boolean {
  return m === 'GET' || m === 'HEAD' || m === 'DELETE' || m === 'TRACE' || m === 'CONNECT';
}

export class Http1ClientConnection extends Http1ConnectionBase {
  readonly protocol = Protocol.Http11;
  readonly settings: Readonly<Http1ClientSettings>;
  private active: Http1RequestEncoder | null = null;
  private streamCount = 0;
  private readDisableCount = 0;
  private readPaused = false;
  /** Another request may follow on this connection. */
  reusable = true;
  /** Closing or closed. */
  closed = false;
  /** True when this side closed the connection (pool stats: destroy_local vs destroy_remote). */
  localClose = false;

  constructor(
    socket: Socket,
    private readonly callbacks: Http1ClientConnectionCallbacks,
    options: Partial<Http1ClientSettings> = {},
  ) {
    const settings: Http1ClientSettings = { ...DEFAULT_CLIENT_SETTINGS, ...options };
    super(socket, settings.maxResponseHeadersKb * 1024, settings.maxResponseHeadersCount, settings.enableTrailers, settings.bufferLimit);
    this.settings = settings;
    if (settings.readFromSocket) socket.on('data', (d: Buffer) => this.dispatch(d));
    socket.on('end', () => this.onRemoteEnd());
    socket.on('close', () => this.onSocketClose());
    socket.on('error', noop);
  }

  /** Streams started on this connection so far. */
  get streamsStarted(): number {
    return this.streamCount;
  }

  /** The stream in progress, if any. */
  get activeStream(): Http1RequestEncoder | null {
    return this.active;
  }

  /** Starts the next request. Only valid when no stream is active and the connection is `reusable`. */
  newStream(decoder: ResponseDecoder): Http1RequestEncoder {
    if (this.active !== null || this.closed) throw new Error('Http1ClientConnection: newStream while busy or closed');
    const s = new Http1RequestEncoder(this, decoder, this.streamCount > 0);
    this.streamCount++;
    this.active = s;
    this.state = PState.Head;
    this.headScanned = 0;
    this.inheritWatermark(s);
    return s;
  }

  /**
   * Closes the connection now (Envoy's CodecClient::close, NoFlush). A stream
   * in progress is reset with ConnectionTermination.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.localClose = true;
    this.reusable = false;
    this.state = PState.Closed;
    this.terminateActive(StreamResetReason.ConnectionTermination);
    this.socket.destroy();
  }

  dispatch(data: Buffer): void {
    if (this.closed) return;
    const s = this.active;
    if (s !== null) s.responseBytes += data.length;
    if (this.state === PState.Upgrade && this.pos >= this.buf.length) {
      if (data.length > 0) s!.decoder.decodeData(data, false);
      return;
    }
    if (data.length === 0) return;
    if (this.state === PState.Idle) {
      // Nothing was asked: extraneous or unsolicited bytes (Envoy: protocol error, close).
      this.protocolError();
      return;
    }
    this.append(data);
    if (!this.dispatching) this.process();
  }

  // ---- Http1ConnectionBase hooks ----

  protected bodyDecoder(): ResponseDecoder {
    return this.active!.decoder;
  }

  protected finishBody(data: Buffer, trailers: HeaderMap | null): void {
    const s = this.active!;
    this.completeResponse(s);
    if (trailers !== null) s.decoder.decodeTrailers(trailers);
    else s.decoder.decodeData(data, true);
    this.afterResponse(s);
  }

  protected framingError(_status: number, _details: string): false {
    return this.protocolError();
  }

  protected watermarkStream(): Http1RequestEncoder | null {
    return this.active;
  }

  protected onHead(buf: Buffer, start: number, blockEnd: number, headEnd: number): boolean {
    const s = this.active!;
    // Status line: HTTP/1.x SP 3DIGIT [SP reason] CRLF.
    let p = start;
    if (buf[p] !== 0x48 || buf[p + 1] !== 0x54 || buf[p + 2] !== 0x54 || buf[p + 3] !== 0x50 || buf[p + 4] !== 0x2f
      || buf[p + 5] !== 0x31 || buf[p + 6] !== 0x2e || (buf[p + 7] !== 0x31 && buf[p + 7] !== 0x30) || buf[p + 8] !== 0x20) {
      return this.protocolError();
    }
    const http10 = buf[p + 7] === 0x30;
    const d0 = buf[p + 9]! - 0x30, d1 = buf[p + 10]! - 0x30, d2 = buf[p + 11]! - 0x30;
    if (d0 < 1 || d0 > 5 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) return this.protocolError();
    const status = d0 * 100 + d1 * 10 + d2;
    p += 12;
    if (buf[p] === 0x20) {
      p++;
      while (REASON[buf[p]!] === 1) p++;
    }
    if (buf[p] !== CR || buf[p + 1] !== LF) return this.protocolError();
    p += 2;

    const head = latin1(buf, start, headEnd);
    const names = [':status'];
    const values = [head.slice(9, 12)];
    const f = fieldInfo;
    f.reset();
    const err = parseFields(buf, head, start, p, blockEnd, names, values, f,
      this.settings.maxResponseHeadersCount, true, false, 'allow');
    if (err !== FieldError.None) return this.protocolError();
    const te = f.te;
    let contentLength = f.contentLength;
    const connection = f.connection;
    const closeNotify = http10 ? !hasToken(connection, 'keep-alive') : hasToken(connection, 'close');
    const proxyClose = hasToken(f.proxyConnection, 'close');

    if (te !== null && contentLength !== -1) return this.protocolError();
    if (te !== null && !equalsLowerAscii(te, 'chunked')) return this.protocolError();
    if (status < 200 || status === 204) {
      // RFC 9110 §8.6, §6.1: no framing headers on 1xx and 204 (Envoy papers over `content-length: 0`).
      if (te !== null || contentLength > 0) return this.protocolError();
      if (contentLength === 0) {
        contentLength = -1;
        for (let i = names.length - 1; i > 0; i--) {
          if (names[i] === 'content-length') { names.splice(i, 1); values.splice(i, 1); }
        }
      }
    }
    const headers = new HeaderMapImpl(names, values);

    if (status < 200) {
      if (status === 101) {
        if (!s.isUpgradeRequest) return this.protocolError();
        this.reusable = false;
        this.state = PState.Upgrade;
        s.decoder.decodeHeaders(headers, false);
        return true;
      }
      // Informational: deliver and keep waiting for the final response.
      s.decoder.decode1xxHeaders(headers);
      return true;
    }

    if (closeNotify || proxyClose) {
      this.reusable = false;
      this.callbacks.onCloseNotify();
    }
    if (s.isConnectRequest && status < 300) {
      this.reusable = false;
      this.state = PState.Upgrade;
      s.decoder.decodeHeaders(headers, false);
      return true;
    }
    if (s.isHeadRequest || status === 204 || status === 304 || (contentLength === 0 && te === null)) {
      this.completeResponse(s);
      s.decoder.decodeHeaders(headers, true);
      this.afterResponse(s);
      return true;
    }
    if (te !== null) {
      this.state = PState.ChunkSize;
    } else if (contentLength > 0) {
      this.state = PState.Body;
      this.bodyRemaining = contentLength;
    } else {
      this.state = PState.BodyUntilClose;
      this.reusable = false;
    }
    s.decoder.decodeHeaders(headers, false);
    return true;
  }

  /** Marks the response done before its last decode call (a finished response can no longer be reset). */
  private completeResponse(s: Http1RequestEncoder): void {
    s.responseComplete = true;
    this.active = null;
    this.state = PState.Idle;
    // A response that beat its request (e.g. an early 413) leaves the request half-sent.
    if (!s.encodeComplete) this.reusable = false;
  }

  /** After the last decode call: release the stream to the pool. */
  private afterResponse(s: Http1RequestEncoder): void {
    s.releaseReadDisables();
    if (this.closed) return;
    // Bytes after a complete response: Envoy's "extraneous data after response complete".
    const extraneous = this.pos < this.buf.length;
    if (extraneous) {
      this.reusable = false;
      this.callbacks.onProtocolError();
    }
    this.callbacks.onStreamComplete(s);
    if (extraneous) this.close();
  }

  /** A malformed response (or unsolicited bytes): reset the stream with ProtocolError and close. */
  private protocolError(): false {
    if (this.closed) return false;
    this.reusable = false;
    this.callbacks.onProtocolError();
    this.terminateActive(StreamResetReason.ProtocolError);
    this.close();
    return false;
  }

  /** Resets the active stream (if any) for a connection-level reason. */
  private terminateActive(reason: StreamResetReason): void {
    const s = this.active;
    if (s === null) return;
    this.active = null;
    this.state = this.closed ? PState.Closed : PState.Idle;
    s.releaseReadDisables();
    let detail = '';
    if (reason === StreamResetReason.ConnectionTermination && s.reusedConnection && s.responseBytes === 0) {
      detail = KEEPALIVE_RACE_DETAIL;
    }
    this.callbacks.onStreamReset(s, reason);
    s.runResetCallbacks(reason, detail);
  }

  private onRemoteEnd(): void {
    this.reusable = false;
    if (this.closed) return;
    if (this.state === PState.BodyUntilClose) {
      // The close delimits the body: the response is complete.
      const s = this.active!;
      this.completeResponse(s);
      s.decoder.decodeData(EMPTY, true);
      this.afterResponse(s);
      return;
    }
    if (this.state === PState.Upgrade && this.active !== null) {
      const s = this.active;
      this.completeResponse(s);
      s.decoder.decodeData(EMPTY, true);
      this.afterResponse(s);
      return;
    }
    this.terminateActive(StreamResetReason.ConnectionTermination);
  }

  private onSocketClose(): void {
    this.reusable = false;
    this.closed = true;
    this.state = PState.Closed;
    this.buf = EMPTY;
    this.pos = 0;
    this.terminateActive(StreamResetReason.ConnectionTermination);
  }

  // ---- called by the encoder ----

  /** @internal */
  onLocalReset(s: Http1RequestEncoder, reason: StreamResetReason): void {
    if (s !== this.active) {
      s.runResetCallbacks(reason, '');
      return;
    }
    this.active = null;
    this.reusable = false;
    s.releaseReadDisables();
    this.callbacks.onStreamReset(s, reason);
    s.runResetCallbacks(reason, '');
    this.close();
  }

  /** @internal */
  readDisable(disable: boolean): void {
    if (disable) this.readDisableCount++;
    else if (this.readDisableCount > 0) this.readDisableCount--;
    const pause = this.readDisableCount > 0 && !this.closed;
    if (pause === this.readPaused) return;
    this.readPaused = pause;
    if (pause) this.socket.pause();
    else this.socket.resume();
  }
}

function noop(): void { /* 'close' follows every 'error' */ }

function flushPendingHead(s: Http1RequestEncoder): void {
  s.flushPendingHead();
}

/** The request side of one upstream stream (Envoy's RequestEncoderImpl) and its Stream. */
export class Http1RequestEncoder extends Http1StreamBase implements RequestEncoder {
  /** All of the request has been written. */
  encodeComplete = false;
  /** All of the response has been decoded. */
  responseComplete = false;
  /** Response bytes received for this stream (0: the upstream has said nothing yet). */
  responseBytes = 0;
  isHeadRequest = false;
  isConnectRequest = false;
  isUpgradeRequest = false;
  private headersEncoded = false;
  private chunked = false;
  private pendingHead = '';
  private flushScheduled = false;

  constructor(
    private readonly conn: Http1ClientConnection,
    readonly decoder: ResponseDecoder,
    /** The connection served an earlier request (a reset before any response byte is the keep-alive race). */
    readonly reusedConnection: boolean,
  ) {
    super();
  }

  getStream(): this {
    return this;
  }

  private writable(): boolean {
    return this.conn.activeStream === this && !this.encodeComplete && !this.resetCalled;
  }

  encodeHeaders(headers: HeaderMap, endStream: boolean): void {
    if (this.headersEncoded || !this.writable()) return;
    this.headersEncoded = true;
    const hm = asMap(headers);
    const names = hm.rawNames(), values = hm.rawValues();
    let method: string | undefined, path: string | undefined, authority: string | undefined;
    let upgrade = false;
    let connection: string | undefined;
    let i = 0;
    for (; i < names.length; i++) {
      const n = names[i]!;
      if (n.charCodeAt(0) !== 0x3a) break;
      if (n === ':method') method = values[i];
      else if (n === ':path') path = values[i];
      else if (n === ':authority') authority = values[i];
    }
    const isConnect = method === 'CONNECT';
    if (method === undefined || (path === undefined && !isConnect) || (isConnect && authority === undefined)) {
      // Envoy: "missing required header" — the request cannot be written.
      this.resetStream(StreamResetReason.LocalReset);
      return;
    }
    this.isHeadRequest = method === 'HEAD';
    this.isConnectRequest = isConnect;

    let s = method + ' ' + (isConnect ? authority! : path!) + ' HTTP/1.1\r\n';
    if (authority !== undefined) s += 'host: ' + authority + '\r\n';
    let hasContentLength = false;
    for (; i < names.length; i++) {
      const n = names[i]!;
      const len = n.length;
      if (len === 4) {
        if (n === 'host' && authority !== undefined) continue;
      } else if (len === 14) {
        if (n === 'content-length') hasContentLength = true;
      } else if (len === 17) {
        if (n === 'transfer-encoding') continue;
      } else if (len === 7) {
        if (n === 'upgrade') upgrade = true;
      } else if (len === 10) {
        if (n === 'connection') connection = values[i];
      } else if (n.charCodeAt(0) === 0x3a) {
        continue;
      }
      s += n + ': ' + values[i]! + '\r\n';
    }
    this.isUpgradeRequest = upgrade && hasToken(connection, 'upgrade');

    if (hasContentLength || this.isUpgradeRequest || isConnect) {
      this.chunked = false;
    } else if (endStream) {
      if (!bodilessMethod(method)) s += 'content-length: 0\r\n';
    } else {
      s += 'transfer-encoding: chunked\r\n';
      this.chunked = true;
    }
    s += '\r\n';
    const socket = this.conn.socket;
    if (endStream) {
      socket.write(s, 'latin1');
      this.encodeComplete = true;
      this.conn.checkHighWatermark();
      return;
    }
    this.pendingHead = s;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      process.nextTick(flushPendingHead, this);
    }
  }

  encodeData(data: Buffer, endStream: boolean): void {
    if (!this.headersEncoded || !this.writable()) return;
    const prefix = this.pendingHead;
    this.pendingHead = '';
    const n = data.length;
    const socket = this.conn.socket;
    if (this.chunked) {
      if (n > 0) writeFrame(socket, prefix + n.toString(16) + '\r\n', data, endStream ? '\r\n0\r\n\r\n' : '\r\n');
      else writeFrame(socket, prefix, null, endStream ? '0\r\n\r\n' : '');
    } else {
      writeFrame(socket, prefix, n > 0 ? data : null, '');
    }
    if (endStream) {
      this.encodeComplete = true;
      // A tunnel (CONNECT, upgrade) has no framing: the end of the client's bytes is our FIN.
      if (this.isConnectRequest || this.isUpgradeRequest) socket.end();
    }
    this.conn.checkHighWatermark();
  }

  encodeTrailers(trailers: HeaderMap): void {
    if (!this.headersEncoded || !this.writable()) return;
    let s = this.pendingHead;
    this.pendingHead = '';
    if (this.chunked) s += lastChunk(trailers, this.conn.settings.enableTrailers);
    if (s.length > 0) this.conn.socket.write(s, 'latin1');
    this.encodeComplete = true;
    this.conn.checkHighWatermark();
  }

  /** @internal */
  flushPendingHead(): void {
    this.flushScheduled = false;
    if (this.pendingHead === '' || this.conn.closed) return;
    const s = this.pendingHead;
    this.pendingHead = '';
    this.conn.socket.write(s, 'latin1');
    this.conn.checkHighWatermark();
  }

  // ---- Stream ----

  /** HTTP/1 cannot cancel one request: the connection is closed. */
  resetStream(reason: StreamResetReason): void {
    if (this.resetCalled || this.responseComplete) return;
    this.conn.onLocalReset(this, reason);
  }

  protected get owner(): Http1ClientConnection { return this.conn; }

  override readDisable(disable: boolean): void {
    // A finished or reset stream no longer owns the (reusable) connection's reads.
    if (this.responseComplete || this.resetCalled) return;
    super.readDisable(disable);
  }
}
