/**
 * Http2ServerConnection: the downstream HTTP/2 codec, after the server half of
 * Envoy's `source/common/http/http2/codec_impl.cc`, over a node:http2 server
 * session (nghttp2 does the framing, HPACK and flow-control accounting).
 *
 *   first dispatch(bytes) ─► the codec takes the socket over from the
 *     connection (bytes already read are put back), node:http2 handshakes
 *   'stream'     ─► callbacks.newStream(encoder) ─► decoder.decodeHeaders
 *   'data'/'end' ─► decodeData; trailers are held until 'end' (see Http2ServerStream)
 *   shutdownNotice() ─► GOAWAY; the session closes once its streams finish
 *
 * Limits enforced by nghttp2 from our SETTINGS: SETTINGS_MAX_CONCURRENT_STREAMS
 * (extra streams are refused), SETTINGS_MAX_HEADER_LIST_SIZE (a header block
 * over max_request_headers_kb resets the stream) and the flow-control windows.
 * Floods that nghttp2 catches (too many queued control frames when the peer
 * does not read, invalid frames) end the session; the HCM adds Envoy's
 * premature-reset rule (rapid reset, CVE-2023-44487).
 */
import http2, { type Http2Session, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import type { ServerConnection, ServerConnectionCallbacks } from '../../../envoy/http/codec.js';
import { Protocol } from '../../../envoy/http/protocol.js';
import type { Http2CodecStats } from './codec_stats.js';
import { Http2ServerStream } from './server_stream.js';

/** Envoy's Http2ProtocolOptions, server side. Defaults are Envoy's. */
export interface Http2ServerSettings {
  /** SETTINGS_MAX_CONCURRENT_STREAMS. Envoy default 2^31-1. */
  maxConcurrentStreams: number;
  /** SETTINGS_INITIAL_WINDOW_SIZE (per-stream receive window). Envoy default 256 MiB. */
  initialStreamWindowSize: number;
  /** Connection-level receive window. Envoy default 256 MiB. */
  initialConnectionWindowSize: number;
  /** SETTINGS_HEADER_TABLE_SIZE. Default 4096. */
  hpackTableSize: number;
  /** HCM max_request_headers_kb → SETTINGS_MAX_HEADER_LIST_SIZE. Default 60. */
  maxRequestHeadersKb: number;
  /** common_http_protocol_options.max_headers_count. Default 100. */
  maxRequestHeadersCount: number;
  /** Write-side high watermark per stream (per_connection_buffer_limit_bytes). */
  bufferLimit: number;
}

export const DEFAULT_HTTP2_SERVER_SETTINGS: Readonly<Http2ServerSettings> = Object.freeze({
  maxConcurrentStreams: 2147483647,
  initialStreamWindowSize: 268435456,
  initialConnectionWindowSize: 268435456,
  hpackTableSize: 4096,
  maxRequestHeadersKb: 60,
  maxRequestHeadersCount: 100,
  bufferLimit: 1024 * 1024,
});

/** The HTTP/2 connection preface a client sends first (RFC 9113 §3.4). */
export const HTTP2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** The socket hand-over the codec needs from its Network::Connection. */
export interface SocketOwner {
  /** Stops feeding reads to the filter chain and returns the socket (TCP or TLS). */
  detachSocket(): Socket;
}

/**
 * node:http2 keeps header tables and queued outbound data within
 * maxSessionMemory (MB) and refuses new streams beyond it; the flow-control
 * windows and stream watermarks already bound what we hold.
 */
const MAX_SESSION_MEMORY_MB = 1024;

/** nghttp2 library error numbers (nghttp2.h) that node:http2 passes on as NghttpError.errno. */
const NGHTTP2_ERR_FLOODED = -904;

/** The GOAWAY code for a session nghttp2 aborted: floods are ENHANCE_YOUR_CALM, other failures PROTOCOL_ERROR. */
function goAwayCodeFor(error: Error | null | undefined): number | undefined {
  const e = error as { errno?: number; code?: string } | null | undefined;
  if (e == null || e.code !== 'ERR_HTTP2_ERROR' || e.errno === undefined) return undefined;
  const errno = e.errno;
  return errno === NGHTTP2_ERR_FLOODED ? http2.constants.NGHTTP2_ENHANCE_YOUR_CALM : http2.constants.NGHTTP2_PROTOCOL_ERROR;
}

export class Http2ServerConnection implements ServerConnection {
  readonly protocol = Protocol.Http2;
  private session: ServerHttp2Session | null = null;
  private readonly streams = new Set<Http2ServerStream>();
  private goingAway = false;

  constructor(
    private readonly owner: SocketOwner,
    private readonly callbacks: ServerConnectionCallbacks,
    readonly settings: Http2ServerSettings,
    readonly stats: Http2CodecStats,
  ) {}

  dispatch(data: Buffer): void {
    if (this.session !== null) return; // node:http2 reads the socket itself from here on
    const socket = this.owner.detachSocket();
    socket.pause();
    if (data.length > 0) socket.unshift(data);
    this.startSession(socket);
  }

  private startSession(socket: Socket): void {
    const s = this.settings;
    const session = http2.performServerHandshake(socket, {
      settings: {
        maxConcurrentStreams: s.maxConcurrentStreams,
        initialWindowSize: s.initialStreamWindowSize,
        headerTableSize: s.hpackTableSize,
        maxHeaderListSize: s.maxRequestHeadersKb * 1024,
        enablePush: false,
      },
      // Pseudo-headers count as pairs in node; Envoy's limit is on regular headers.
      maxHeaderListPairs: s.maxRequestHeadersCount + 5,
      maxSessionMemory: MAX_SESSION_MEMORY_MB,
    });
    this.session = session;
    // node:http2 ends every session that nghttp2 gives up on with GOAWAY(INTERNAL_ERROR);
    // say what happened instead, as Envoy's codec does.
    const destroy = session.destroy.bind(session);
    session.destroy = (error?: Error | null, code?: number): void => destroy(error ?? undefined, code ?? goAwayCodeFor(error));
    if (s.initialConnectionWindowSize > 65535) {
      try { session.setLocalWindowSize(s.initialConnectionWindowSize); } catch { /* session already gone */ }
    }
    session.on('stream', (stream: ServerHttp2Stream, _headers: unknown, flags: number, raw: string[]) => this.onStream(stream, flags, raw));
    session.on('error', (err: Error & { code?: string }) => this.onSessionError(err));
    session.on('frameError', () => { this.stats.rx_messaging_error.inc(); });
    session.on('goaway', () => { this.goingAway = true; });
    if (this.goingAway) session.close();
  }

  private onStream(stream: ServerHttp2Stream, flags: number, raw: string[]): void {
    // A stream closed with an error code emits 'error'; the reset is reported through 'close'.
    stream.on('error', () => {});
    if (this.goingAway) {
      stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      return;
    }
    // SETTINGS_MAX_HEADER_LIST_SIZE is only advertised by node:http2: enforce it
    // (HPACK entry sizes, RFC 7541 §4.1) as Envoy's codec does, with RST_STREAM(INTERNAL_ERROR).
    let size = 0;
    for (let i = 0; i < raw.length; i++) size += raw[i]!.length + (i % 2 === 0 ? 32 : 0);
    if (size > this.settings.maxRequestHeadersKb * 1024) {
      this.stats.header_overflow.inc();
      this.stats.tx_reset.inc();
      stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
      return;
    }
    const s = new Http2ServerStream(this, stream);
    this.streams.add(s);
    this.stats.streams_active.inc();
    s.start(this.callbacks, flags, raw);
  }

  /** A stream is finished for the codec (closed by node:http2). */
  onStreamClosed(stream: Http2ServerStream): void {
    if (this.streams.delete(stream)) this.stats.streams_active.dec();
  }

  private onSessionError(err: Error & { code?: string }): void {
    // nghttp2 already sent GOAWAY (protocol error, flood); node destroys the session and the socket.
    // nghttp2 reports a peer that queues control-frame replies without reading them as "Flooding".
    if (/flood/i.test(err.message)) this.stats.outbound_control_flood.inc();
    else this.stats.rx_messaging_error.inc();
    this.callbacks.onCodecError?.(400, `http2.${err.code ?? 'error'}`);
  }

  /** Graceful close: GOAWAY now, the session ends when its last stream does. */
  shutdownNotice(): void {
    this.goingAway = true;
    const session = this.session as Http2Session | null;
    if (session !== null && !session.closed && !session.destroyed) {
      this.stats.goaway_sent.inc();
      session.close();
    }
  }

  wantsToWrite(): boolean {
    return this.streams.size > 0;
  }

  get activeStreams(): number {
    return this.streams.size;
  }
}
