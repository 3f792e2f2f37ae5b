/**
 * HTTP/1.1 server codec over a net.Socket, after Envoy's
 * Http1::ServerConnectionImpl (source/common/http/http1/codec_impl.cc).
 *
 * One request is processed at a time. Bytes of a pipelined next request stay
 * buffered (and reading pauses) until the current response is complete.
 *
 *   bytes -> dispatch() -> head parsed and validated -> callbacks.newStream(encoder)
 *         -> decoder.decodeHeaders / decodeData (streamed) / decodeTrailers
 *   encoder.encodeHeaders / encodeData / encodeTrailers -> one coalesced write
 *         -> response complete -> next buffered request, or close
 *
 * Protocol errors never reach a stream: the codec writes Envoy's codec-error
 * reply itself (`HTTP/1.1 <code> <reason>\r\ncontent-length: 0\r\nconnection:
 * close\r\n\r\n`), reports it through `callbacks.onCodecError(code, details)`
 * and closes. An error inside a request body also resets that stream with
 * ProtocolError.
 */
import type { Socket } from 'node:net';
import {
  StreamResetReason,
  type RequestDecoder,
  type ResponseEncoder,
  type ServerConnection,
  type ServerConnectionCallbacks,
} from '../../../envoy/http/codec.js';
import type { HeaderMap } from '../../../envoy/http/header_map.js';
import { Protocol } from '../../../envoy/http/protocol.js';
import { ConnectionCloseType, type Connection } from '../../../envoy/network/connection.js';
import { HeaderMapImpl } from '../header_map_impl.js';
import { AUTHORITY, NAME, TARGET, authorityIsValid, equalsLowerAscii, hasToken } from './char_tables.js';
import { Http1Details, reasonPhrase, statusLine } from './codes.js';
import { Http1ConnectionBase, PState } from './connection_base.js';
import {
  CR, EMPTY, FieldError, Http1StreamBase, LF, asMap, fieldInfo, latin1, parseFields, lastChunk, parseStatus, writeFrame,
} from './parser.js';
import { DEFAULT_SERVER_SETTINGS, type Http1ServerOptions, type Http1ServerSettings } from './settings.js';

/** Methods balsa accepts when allow_custom_methods is off (Envoy's default), interned. */
const KNOWN_METHODS = new Map<string, string>();
for (const m of [
  'ACL', 'BIND', 'CHECKOUT', 'CONNECT', 'COPY', 'DELETE', 'GET', 'HEAD', 'LINK', 'LOCK', 'MERGE',
  'MKACTIVITY', 'MKCALENDAR', 'MKCOL', 'MOVE', 'MSEARCH', 'NOTIFY', 'OPTIONS', 'PATCH', 'POST',
  'PROPFIND', 'PROPPATCH', 'PURGE', 'PUT', 'REBIND', 'REPORT', 'SEARCH', 'SOURCE', 'SUBSCRIBE',
  'TRACE', 'UNBIND', 'UNLINK', 'UNLOCK', 'UNSUBSCRIBE',
]) KNOWN_METHODS.set(m, m);

/** The method token `buf[s, e)`, interned, or null when it is not a known method. */
function methodOf(buf: Buffer, s: number, e: number, head: string, base: number): string | null {
  const n = e - s;
  const c0 = buf[s];
  if (n === 3) {
    if (c0 === 0x47 && buf[s + 1] === 0x45 && buf[s + 2] === 0x54) return 'GET';
    if (c0 === 0x50 && buf[s + 1] === 0x55 && buf[s + 2] === 0x54) return 'PUT';
  } else if (n === 4) {
    if (c0 === 0x50 && buf[s + 1] === 0x4f && buf[s + 2] === 0x53 && buf[s + 3] === 0x54) return 'POST';
    if (c0 === 0x48 && buf[s + 1] === 0x45 && buf[s + 2] === 0x41 && buf[s + 3] === 0x44) return 'HEAD';
  }
  return KNOWN_METHODS.get(head.slice(s - base, e - base)) ?? null;
}

/** Longest known method (UNSUBSCRIBE). */
const MAX_METHOD = 11;

/** False when the bytes so far cannot start a valid request line (bad method byte, or too long a method). */
function methodPrefixOk(buf: Buffer, start: number, len: number): boolean {
  const end = Math.min(len, start + MAX_METHOD + 1);
  for (let p = start; p < end; p++) {
    const c = buf[p]!;
    if (c === 0x20) return p > start;
    if (NAME[c] === 0) return false;
  }
  return end - start <= MAX_METHOD;
}

/**
 * An absolute-form request-target split for :scheme, :authority and :path;
 * null when it is not `scheme://authority[/path][?query]` (balsa's URL check,
 * http1.codec_error).
 */
interface AbsoluteUrl { scheme: string; authority: string; path: string }

function parseAbsoluteUrl(url: string): AbsoluteUrl | null {
  let i = 0;
  const n = url.length;
  const a = url.charCodeAt(0) | 0x20;
  if (a < 0x61 || a > 0x7a) return null;
  for (i = 1; i < n; i++) {
    const c = url.charCodeAt(i);
    const l = c | 0x20;
    if (!((l >= 0x61 && l <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2d || c === 0x2e)) break;
  }
  if (url.charCodeAt(i) !== 0x3a || url.charCodeAt(i + 1) !== 0x2f || url.charCodeAt(i + 2) !== 0x2f) return null;
  const scheme = url.slice(0, i).toLowerCase();
  const hs = i + 3;
  let he = hs;
  while (he < n) {
    const c = url.charCodeAt(he);
    if (c === 0x2f || c === 0x3f) break;
    if (AUTHORITY[c] === 0) return null;
    he++;
  }
  // An empty authority passes the syntax check; the caller rejects it as http1.invalid_url.
  const authority = url.slice(hs, he);
  if (authority.indexOf('@@') !== -1) return null;
  let path = url.slice(he);
  if (path.length === 0) path = '/';
  else if (path.charCodeAt(0) === 0x3f) path = '/' + path;
  return { scheme, authority, path };
}

export class Http1ServerConnection extends Http1ConnectionBase implements ServerConnection {
  readonly protocol = Protocol.Http11;
  readonly settings: Readonly<Http1ServerSettings>;
  private readonly owner: Connection | null;
  /** The stream being served (request parsing, or its response pending). */
  private active: Http1ResponseEncoder | null = null;
  private resumeScheduled = false;
  /** The peer half-closed (FIN). */
  private remoteEnded = false;
  private draining = false;
  /** Set once closing starts (locally or by the peer); nothing is written or parsed after. */
  closed = false;
  private readDisableCount = 0;
  private pipelinePaused = false;
  private readPaused = false;
  private closeTimer: NodeJS.Timeout | null = null;

  /**
   * @param socket the accepted downstream socket.
   * @param callbacks the connection manager.
   * @param options codec settings (Envoy defaults for anything left out). Pass
   *   `connection` when a Network::Connection owns the socket: the codec then
   *   reads nothing itself (feed it with dispatch()) and closes and
   *   read-disables through the connection.
   */
  constructor(socket: Socket, private readonly callbacks: ServerConnectionCallbacks, options: Http1ServerOptions = {}) {
    const settings: Http1ServerSettings = { ...DEFAULT_SERVER_SETTINGS, ...options };
    super(socket, settings.maxRequestHeadersKb * 1024, settings.maxRequestHeadersCount, settings.enableTrailers, settings.bufferLimit);
    this.settings = settings;
    this.owner = options.connection ?? null;
    this.state = PState.Head;
    if (this.owner === null && settings.readFromSocket) socket.on('data', (d: Buffer) => this.dispatch(d));
    socket.on('end', () => this.onRemoteEnd());
    socket.on('close', () => this.onSocketClose());
    socket.on('error', noop);
  }

  // ---- ServerConnection ----

  dispatch(data: Buffer): void {
    if (this.closed) return;
    if (this.state === PState.Upgrade && this.pos >= this.buf.length) {
      // Raw bytes pass straight through (nothing buffered may be overtaken).
      if (data.length > 0) this.active!.decoder.decodeData(data, false);
      return;
    }
    if (data.length === 0) return;
    this.append(data);
    if (!this.dispatching) this.process();
  }

  shutdownNotice(): void {
    this.draining = true;
    if (this.active === null && !this.closed) this.closeConnection();
  }

  wantsToWrite(): boolean {
    return this.active !== null;
  }

  // ---- parsing (Http1ConnectionBase hooks) ----

  protected override parseHead(): boolean {
    // RFC 9112 §2.2: ignore empty lines before a request line.
    const buf = this.buf;
    let start = this.pos;
    while (start + 1 < buf.length && buf[start] === CR && buf[start + 1] === LF) start += 2;
    this.pos = start;
    return super.parseHead();
  }

  protected override rejectPartialHead(buf: Buffer, start: number, len: number): boolean {
    // Envoy rejects a bad method from its first bytes.
    return !methodPrefixOk(buf, start, len);
  }

  protected override afterProcess(): void {
    if (this.pos < this.buf.length && this.state === PState.Idle && !this.pipelinePaused) {
      // A pipelined request is waiting: stop reading until this response is out (Envoy does the same).
      this.pipelinePaused = true;
      this.updateReadState();
    }
  }

  protected bodyDecoder(): RequestDecoder {
    return this.active!.decoder;
  }

  protected finishBody(data: Buffer, trailers: HeaderMap | null): void {
    const enc = this.active!;
    enc.remoteComplete = true;
    this.state = PState.Idle;
    if (trailers !== null) enc.decoder.decodeTrailers(trailers);
    else enc.decoder.decodeData(data, true);
  }

  protected framingError(status: number, details: string): false {
    return this.protocolError(status, details);
  }

  protected watermarkStream(): Http1ResponseEncoder | null {
    return this.active;
  }

  protected onHead(buf: Buffer, start: number, blockEnd: number, headEnd: number): boolean {
    const head = latin1(buf, start, headEnd);
    const codecError = Http1Details.CodecError;

    // Request line: method SP request-target SP HTTP-version CRLF.
    let p = start;
    let c = buf[p]!;
    while (NAME[c] !== 0) c = buf[++p]!;
    if (c !== 0x20 || p === start) return this.protocolError(400, codecError);
    const method = methodOf(buf, start, p, head, start);
    if (method === null) return this.protocolError(400, codecError);
    const ts = ++p;
    c = buf[p]!;
    while (TARGET[c] === 1) c = buf[++p]!;
    if (p === ts) return this.protocolError(400, codecError);
    const target = head.slice(ts - start, p - start);
    let http11: boolean;
    if (c === 0x20) {
      if (buf[p + 1] === 0x48 && buf[p + 2] === 0x54 && buf[p + 3] === 0x54 && buf[p + 4] === 0x50 && buf[p + 5] === 0x2f
        && buf[p + 7] === 0x2e && buf[p + 9] === CR && buf[p + 10] === LF) {
        const major = buf[p + 6]! - 0x30, minor = buf[p + 8]! - 0x30;
        if (major < 0 || major > 9 || minor < 0 || minor > 9) return this.protocolError(400, codecError);
        // Like Envoy, anything but HTTP/1.1 is treated as HTTP/1.0.
        http11 = major === 1 && minor === 1;
      } else {
        return this.protocolError(400, codecError);
      }
      p += 11;
    } else if (c === CR && buf[p + 1] === LF) {
      http11 = false; // HTTP/0.9 form: no version.
      p += 2;
    } else {
      return this.protocolError(400, codecError);
    }

    // Header fields. Pseudo headers take the first slots.
    const names = [':method', ':path', ':authority'];
    const values = [method, '', ''];
    const f = fieldInfo;
    f.reset();
    const err = parseFields(buf, head, start, p, blockEnd, names, values, f,
      this.settings.maxRequestHeadersCount, true, true, this.settings.headersWithUnderscoresAction);
    if (err !== FieldError.None) {
      switch (err) {
        case FieldError.InvalidCharacters: return this.protocolError(400, Http1Details.InvalidCharacters);
        case FieldError.TooManyHeaders: return this.protocolError(431, Http1Details.TooManyHeaders);
        case FieldError.InvalidUnderscore: return this.protocolError(400, Http1Details.InvalidUnderscore);
        default: return this.protocolError(400, codecError);
      }
    }
    const host = f.host;
    const connection = f.connection;
    const te = f.te;
    let contentLength = f.contentLength;
    const isConnect = method === 'CONNECT';
    let upgrade = f.upgrade !== null && hasToken(connection, 'upgrade');
    let h2cUpgrade = false;
    if (upgrade && equalsLowerAscii(f.upgrade!, 'h2c')) {
      // Envoy ignores h2c upgrades (envoyproxy/envoy#7161): strip them and serve HTTP/1.1.
      upgrade = false;
      h2cUpgrade = true;
    }

    // Framing checks, in Envoy's order (onHeadersCompleteImpl).
    if (isConnect && contentLength > 0) return this.protocolError(400, Http1Details.BodyDisallowed);
    if (te !== null && contentLength !== -1) return this.protocolError(400, Http1Details.ChunkedContentLength);
    if (te !== null && (isConnect || !equalsLowerAscii(te, 'chunked'))) {
      return this.protocolError(501, Http1Details.InvalidTransferEncoding);
    }
    if (isConnect && contentLength === 0) {
      contentLength = -1;
      removeAll(names, values, 'content-length');
    }

    // :path and :authority (handlePath).
    let authority = host;
    let scheme: string | null = null;
    const t0 = target.charCodeAt(0);
    if (isConnect) {
      if (!authorityIsValid(target)) return this.protocolError(400, Http1Details.InvalidUrl);
      authority = target;
    } else if (t0 === 0x2f || (t0 === 0x2a && target.length === 1 && method === 'OPTIONS')) {
      values[1] = target;
    } else if (this.settings.allowAbsoluteUrl) {
      const u = parseAbsoluteUrl(target);
      if (u === null) return this.protocolError(400, codecError);
      if (u.authority === '') return this.protocolError(400, Http1Details.InvalidUrl);
      if (u.scheme !== 'http' && u.scheme !== 'https') return this.protocolError(400, Http1Details.InvalidScheme);
      // RFC 9112 §3.2.2: the target's authority replaces Host.
      authority = u.authority;
      scheme = u.scheme;
      values[1] = u.path;
    } else {
      values[1] = target;
    }

    // Protocol version (checkProtocolVersion).
    if (!http11) {
      if (!this.settings.acceptHttp10) return this.protocolError(426, Http1Details.LowVersion);
      if (authority === null && this.settings.defaultHostForHttp10 !== '') authority = this.settings.defaultHostForHttp10;
    }
    if (authority !== null && !authorityIsValid(authority)) return this.protocolError(400, Http1Details.InvalidAuthority);
    if (authority === null && http11) return this.protocolError(400, Http1Details.MissingHost);

    if (authority === null) {
      names.splice(2, 1);
      values.splice(2, 1);
    } else {
      values[2] = authority;
    }
    if (isConnect) {
      names.splice(1, 1);
      values.splice(1, 1);
    } else if (scheme !== null) {
      names.splice(1, 0, ':scheme');
      values.splice(1, 0, scheme);
    }
    const headers = new HeaderMapImpl(names, values);
    if (h2cUpgrade) stripH2cUpgrade(headers);

    const keepAlive = http11 ? !hasToken(connection, 'close') : hasToken(connection, 'keep-alive');
    const enc = new Http1ResponseEncoder(this, http11 ? Protocol.Http11 : Protocol.Http10,
      method === 'HEAD', isConnect, upgrade, keepAlive);
    this.inheritWatermark(enc);
    this.active = enc;
    const decoder = this.callbacks.newStream(enc);
    enc.decoder = decoder;
    if (this.active !== enc || this.closed) return false;

    if (upgrade || isConnect) {
      this.state = PState.Upgrade;
      // A tunnel carries half-closes: the client's FIN ends the request side
      // only, and the answer still flows until the upstream ends its side.
      (this.socket as { allowHalfOpen: boolean }).allowHalfOpen = true;
      decoder.decodeHeaders(headers, false);
    } else if (te !== null) {
      this.state = PState.ChunkSize;
      decoder.decodeHeaders(headers, false);
    } else if (contentLength > 0) {
      this.state = PState.Body;
      this.bodyRemaining = contentLength;
      decoder.decodeHeaders(headers, false);
    } else {
      enc.remoteComplete = true;
      this.state = PState.Idle;
      decoder.decodeHeaders(headers, true);
    }
    return true;
  }

  /**
   * Writes the codec-error reply (unless a response already started), reports
   * it, resets the stream in progress (if any) and closes. Returns false so
   * parse loops stop.
   */
  private protocolError(status: number, details: string): false {
    if (this.closed) return false;
    const enc = this.active;
    if (enc === null || !enc.responseStarted) {
      this.socket.write(`HTTP/1.1 ${status} ${reasonPhrase(status)}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`, 'latin1');
    }
    this.state = PState.Closed;
    this.callbacks.onCodecError?.(status, details);
    if (enc !== null) {
      this.active = null;
      enc.runResetCallbacks(StreamResetReason.ProtocolError, '');
    }
    this.closeConnection();
    return false;
  }

  // ---- called by the encoder ----

  /** @internal The response of `enc` is complete. */
  onEncodeComplete(enc: Http1ResponseEncoder): void {
    if (enc !== this.active || this.closed) return;
    enc.releaseReadDisables();
    if (enc.closeAfter || this.draining || this.remoteEnded || !enc.remoteComplete || this.state === PState.Upgrade) {
      // An unfinished request body, an upgrade, or `connection: close`: this connection is done.
      this.active = null;
      this.closeConnection();
      return;
    }
    this.active = null;
    this.state = PState.Head;
    if (this.pipelinePaused) {
      this.pipelinePaused = false;
      this.updateReadState();
    }
    // Serve a buffered pipelined request after the caller's stack unwinds, so
    // the manager never sees a new stream from inside the previous one.
    if (!this.dispatching && this.pos < this.buf.length && !this.resumeScheduled) {
      this.resumeScheduled = true;
      queueMicrotask(() => {
        this.resumeScheduled = false;
        if (!this.closed && !this.dispatching && this.state === PState.Head) this.process();
      });
    }
  }

  /** @internal A stream was reset locally: HTTP/1 has no stream reset, so the connection goes. */
  onStreamReset(enc: Http1ResponseEncoder): void {
    if (enc !== this.active) return;
    enc.releaseReadDisables();
    this.active = null;
    this.closeConnection();
  }

  /** @internal Counted read-disable from a stream. */
  readDisable(disable: boolean): void {
    if (disable) this.readDisableCount++;
    else if (this.readDisableCount > 0) this.readDisableCount--;
    this.updateReadState();
  }

  isDraining(): boolean {
    return this.draining;
  }

  private updateReadState(): void {
    const pause = (this.readDisableCount > 0 || this.pipelinePaused) && !this.closed;
    if (pause === this.readPaused) return;
    this.readPaused = pause;
    if (this.owner !== null) this.owner.readDisable(pause);
    else if (pause) this.socket.pause();
    else this.socket.resume();
  }

  // ---- connection lifecycle ----

  /** Flushes what was written, then closes (with a bounded wait for the peer). */
  private closeConnection(): void {
    if (this.closed) return;
    this.closed = true;
    this.state = PState.Closed;
    this.buf = EMPTY;
    this.pos = 0;
    // Keep reading (and discarding) so the peer's FIN is seen.
    if (this.readPaused) {
      this.readPaused = false;
      if (this.owner !== null) this.owner.readDisable(false);
      else this.socket.resume();
    }
    if (this.owner !== null) {
      this.owner.close(ConnectionCloseType.FlushWrite);
      return;
    }
    this.socket.end();
    const t = setTimeout(() => this.socket.destroy(), this.settings.delayedCloseTimeoutMs);
    t.unref();
    this.closeTimer = t;
  }

  private onRemoteEnd(): void {
    this.remoteEnded = true;
    const enc = this.active;
    if (enc === null || this.closed) return;
    if (this.state === PState.Upgrade && !enc.remoteComplete) {
      enc.remoteComplete = true;
      enc.decoder.decodeData(EMPTY, true);
      return;
    }
    // A request cut short by the client's FIN cannot be answered.
    if (!enc.remoteComplete && !enc.responseComplete) {
      this.active = null;
      this.state = PState.Closed;
      enc.runResetCallbacks(StreamResetReason.ConnectionTermination, '');
    }
  }

  private onSocketClose(): void {
    if (this.closeTimer !== null) clearTimeout(this.closeTimer);
    this.closed = true;
    this.state = PState.Closed;
    this.buf = EMPTY;
    this.pos = 0;
    const enc = this.active;
    this.active = null;
    if (enc !== null && !enc.responseComplete) enc.runResetCallbacks(StreamResetReason.ConnectionTermination, '');
  }
}

function noop(): void { /* 'close' follows every 'error' */ }

function removeAll(names: string[], values: string[], name: string): void {
  for (let i = names.length - 1; i >= 0; i--) {
    if (names[i] === name) { names.splice(i, 1); values.splice(i, 1); }
  }
}

/** Drops an h2c upgrade offer: the Upgrade and HTTP2-Settings headers and their Connection tokens. */
function stripH2cUpgrade(headers: HeaderMapImpl): void {
  headers.remove('upgrade');
  headers.remove('http2-settings');
  const conn = headers.get('connection');
  if (conn === undefined) return;
  const kept: string[] = [];
  for (const part of conn.split(',')) {
    const t = part.trim();
    const l = t.toLowerCase();
    if (t !== '' && l !== 'upgrade' && l !== 'http2-settings') kept.push(t);
  }
  if (kept.length === 0) headers.remove('connection');
  else headers.set('connection', kept.join(','));
}

function flushPendingHead(enc: Http1ResponseEncoder): void {
  enc.flushPendingHead();
}

/**
 * The response side of one request: Envoy's ResponseEncoderImpl. Also the
 * request's Stream (callbacks, reset, read-disable, buffer limit).
 */
export class Http1ResponseEncoder extends Http1StreamBase implements ResponseEncoder {
  /** The manager's decoder for the request (set right after newStream). */
  decoder!: RequestDecoder;
  /** The whole request has been decoded. */
  remoteComplete = false;
  /** Final (non-1xx) response headers were encoded. */
  responseStarted = false;
  responseComplete = false;
  /** Close the connection after this response. */
  closeAfter = false;
  private chunked = false;
  private noBody = false;
  private pendingHead = '';
  private flushScheduled = false;

  constructor(
    private readonly conn: Http1ServerConnection,
    readonly protocol: Protocol,
    readonly isHeadRequest: boolean,
    readonly isConnectRequest: boolean,
    readonly isUpgradeRequest: boolean,
    private readonly keepAlive: boolean,
  ) {
    super();
  }

  getStream(): this {
    return this;
  }

  encode1xxHeaders(headers: HeaderMap): void {
    if (this.responseStarted || this.responseComplete || this.conn.closed) return;
    // RFC 9110 §15.2: no 1xx to an HTTP/1.0 client.
    if (this.protocol === Protocol.Http10) return;
    const status = parseStatus(headers.get(':status'));
    let s = statusLine(status, false);
    const hm = asMap(headers);
    const names = hm.rawNames(), values = hm.rawValues();
    for (let i = 0; i < names.length; i++) {
      const n = names[i]!;
      if (n.charCodeAt(0) === 0x3a) continue;
      s += n + ': ' + values[i]! + '\r\n';
    }
    this.conn.socket.write(s + '\r\n', 'latin1');
    this.conn.checkHighWatermark();
  }

  encodeHeaders(headers: HeaderMap, endStream: boolean): void {
    if (this.responseStarted || this.responseComplete || this.conn.closed) return;
    const status = parseStatus(headers.get(':status'));
    if (status < 200 && status !== 101) {
      this.encode1xxHeaders(headers);
      return;
    }
    this.responseStarted = true;
    const http10 = this.protocol === Protocol.Http10 && this.conn.settings.acceptHttp10;
    let s = statusLine(status, http10);
    let hasContentLength = false;
    let connection: string | null = null;
    const hm = asMap(headers);
    const names = hm.rawNames(), values = hm.rawValues();
    for (let i = 0; i < names.length; i++) {
      const n = names[i]!;
      if (n.charCodeAt(0) === 0x3a) continue;
      const len = n.length;
      if (len === 14) {
        if (n === 'content-length') hasContentLength = true;
      } else if (len === 10) {
        if (n === 'connection') connection = values[i]!;
      } else if (len === 17 && n === 'transfer-encoding') {
        continue; // The codec chooses the framing.
      }
      s += n + ': ' + values[i]! + '\r\n';
    }

    // Framing, as Envoy's StreamEncoderImpl::encodeHeadersBase decides it.
    const connectEstablished = this.isConnectRequest && status >= 200 && status < 300;
    let closeDelimited = false;
    if (hasContentLength) {
      this.chunked = false;
    } else if (status < 200 || status === 204 || status === 304) {
      this.chunked = false;
    } else if (endStream && !this.isHeadRequest) {
      s += 'content-length: 0\r\n';
    } else if (this.protocol === Protocol.Http10) {
      closeDelimited = !this.isHeadRequest;
    } else {
      if (!connectEstablished) s += 'transfer-encoding: chunked\r\n';
      this.chunked = status !== 101 && !this.isHeadRequest && !connectEstablished;
    }

    const close = this.closeAfter || !this.keepAlive || closeDelimited || this.conn.isDraining()
      || (this.isUpgradeRequest && status !== 101) || (this.isConnectRequest && !connectEstablished)
      || hasToken(connection, 'close');
    if (close) {
      this.closeAfter = true;
      if (!hasToken(connection, 'close')) s += 'connection: close\r\n';
    } else if (this.protocol === Protocol.Http10 && connection === null) {
      s += 'connection: keep-alive\r\n';
    }
    s += '\r\n';
    this.noBody = this.isHeadRequest || status === 204 || status === 304;

    if (endStream) {
      this.conn.socket.write(s, 'latin1');
      this.conn.checkHighWatermark();
      this.endEncode();
      return;
    }
    // Hold the head for the first body chunk: one write per small response.
    this.pendingHead = s;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      process.nextTick(flushPendingHead, this);
    }
  }

  encodeData(data: Buffer, endStream: boolean): void {
    if (!this.responseStarted || this.responseComplete || this.conn.closed) return;
    const prefix = this.pendingHead;
    this.pendingHead = '';
    const n = this.noBody ? 0 : data.length;
    if (this.chunked) {
      if (n > 0) {
        writeFrame(this.conn.socket, prefix + n.toString(16) + '\r\n', data, endStream ? '\r\n0\r\n\r\n' : '\r\n');
      } else {
        writeFrame(this.conn.socket, prefix, null, endStream ? '0\r\n\r\n' : '');
      }
    } else {
      writeFrame(this.conn.socket, prefix, n > 0 ? data : null, '');
    }
    this.conn.checkHighWatermark();
    if (endStream) this.endEncode();
  }

  encodeTrailers(trailers: HeaderMap): void {
    if (!this.responseStarted || this.responseComplete || this.conn.closed) return;
    let s = this.pendingHead;
    this.pendingHead = '';
    if (this.chunked) s += lastChunk(trailers, this.conn.settings.enableTrailers);
    if (s.length > 0) this.conn.socket.write(s, 'latin1');
    this.conn.checkHighWatermark();
    this.endEncode();
  }

  /** @internal nextTick flush of a head that no body chunk picked up. */
  flushPendingHead(): void {
    this.flushScheduled = false;
    if (this.pendingHead === '' || this.conn.closed) return;
    const s = this.pendingHead;
    this.pendingHead = '';
    this.conn.socket.write(s, 'latin1');
    this.conn.checkHighWatermark();
  }

  private endEncode(): void {
    this.responseComplete = true;
    this.conn.onEncodeComplete(this);
  }

  // ---- Stream ----

  resetStream(reason: StreamResetReason): void {
    if (this.resetCalled) return;
    this.runResetCallbacks(reason, '');
    this.conn.onStreamReset(this);
  }

  protected get owner(): Http1ServerConnection { return this.conn; }
}
