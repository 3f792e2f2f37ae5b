/**
 * Http2ServerStream: one downstream HTTP/2 request, seen by the connection
 * manager as a ResponseEncoder + Stream (the server stream of Envoy's
 * `source/common/http/http2/codec_impl.cc`, over a node:http2 server stream).
 *
 *   'stream' (HEADERS)  ─► decoder.decodeHeaders(h, END_STREAM?)
 *   'data'              ─► decodeData(chunk, false)          (never buffered whole)
 *   'trailers'          ─► held until 'end', so paused body chunks go first
 *   'end'               ─► decodeTrailers(t) | decodeData(empty, true)
 *   encodeHeaders       ─► respond(h, { endStream, waitForTrailers: !endStream })
 *   encodeData/Trailers ─► write() / end(); 'wantTrailers' ─► sendTrailers(t | {})
 *   'close' before both sides completed ─► onResetStream(RemoteReset | ConnectionTermination)
 *
 * A response that completes while the request body is still arriving ends the
 * stream with RST_STREAM(NO_ERROR) once the response is flushed (RFC 9113
 * §8.1), so the client stops sending. A local reset (timeout, upstream reset
 * mid-response) is RST_STREAM(INTERNAL_ERROR): Envoy sends NO_ERROR there, but
 * common clients (node, curl) then take a truncated body for a complete one.
 *
 * Flow control: readDisable() is counted; the first disable pauses the node
 * stream, which stops returning window credit to the client once node's
 * buffer fills, so the client stops at its window. The write side reports
 * watermarks from the stream's queued bytes.
 */
import http2, { type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import {
  StreamResetReason,
  type RequestDecoder,
  type ResponseEncoder,
  type ServerConnectionCallbacks,
  type Stream,
  type StreamCallbacks,
} from '../../../envoy/http/codec.js';
import type { HeaderMap } from '../../../envoy/http/header_map.js';
import { Protocol } from '../../../envoy/http/protocol.js';
import type { HeaderMapImpl } from '../header_map_impl.js';
import { fromHttp2Headers, requestHeadersFromHttp2, toHttp2ResponseHeaders, toHttp2Trailers } from './header_conversion.js';
import type { Http2ServerConnection } from './server_connection.js';

const { NGHTTP2_NO_ERROR, NGHTTP2_INTERNAL_ERROR, NGHTTP2_FLAG_END_STREAM } = http2.constants;
const EMPTY = Buffer.alloc(0);

export class Http2ServerStream implements ResponseEncoder, Stream {
  readonly protocol = Protocol.Http2;
  private decoder: RequestDecoder | null = null;
  private callbacks: StreamCallbacks[] = [];
  private readDisableCount = 0;
  private aboveHighWatermark = false;
  /** The decoder saw the end of the request. */
  private remoteComplete = false;
  /** Our END_STREAM is queued. */
  private localComplete = false;
  private responseStarted = false;
  /** A reset was delivered or sent: nothing more goes to the decoder. */
  private resetDone = false;
  private requestTrailers: HeaderMapImpl | null = null;
  private responseTrailers: HeaderMap | null = null;

  constructor(private readonly conn: Http2ServerConnection, private readonly stream: ServerHttp2Stream) {}

  /** Wires node's events and hands the request headers to a new decoder. */
  start(callbacks: ServerConnectionCallbacks, flags: number, raw: string[]): void {
    const stream = this.stream;
    const endStream = (flags & NGHTTP2_FLAG_END_STREAM) !== 0;
    stream.on('data', (chunk: Buffer) => this.onData(chunk));
    stream.on('end', () => this.onEnd());
    stream.on('trailers', (h: IncomingHttpHeaders, _flags: number, rawTrailers?: string[]) => {
      this.conn.stats.trailers.inc();
      this.requestTrailers = fromHttp2Headers(rawTrailers, h as Record<string, unknown>);
    });
    stream.on('wantTrailers', () => this.onWantTrailers());
    stream.on('drain', () => this.onDrain());
    stream.on('error', () => { /* 'close' follows and reports the reset */ });
    stream.on('close', () => this.onClose());
    const headers = requestHeadersFromHttp2(raw);
    this.decoder = callbacks.newStream(this);
    if (endStream) this.remoteComplete = true;
    this.decoder.decodeHeaders(headers, endStream);
  }

  // ---- StreamEncoder ----

  encodeHeaders(headers: HeaderMap, endStream: boolean): void {
    const stream = this.stream;
    if (this.resetDone || this.responseStarted || stream.destroyed) return;
    this.responseStarted = true;
    try {
      stream.respond(toHttp2ResponseHeaders(headers), { endStream, waitForTrailers: !endStream });
    } catch (err) {
      this.localReset(StreamResetReason.LocalReset, (err as Error).message);
      return;
    }
    if (endStream) this.onLocalComplete();
  }

  encodeData(data: Buffer, endStream: boolean): void {
    const stream = this.stream;
    if (this.resetDone || this.localComplete || stream.destroyed) return;
    if (data.length > 0 && !stream.write(data) && !this.aboveHighWatermark && stream.writableLength >= this.conn.settings.bufferLimit) {
      this.aboveHighWatermark = true;
      for (const cb of this.callbacks.slice()) cb.onAboveWriteBufferHighWatermark();
    }
    if (endStream) {
      stream.end();
      this.onLocalComplete();
    }
  }

  encodeTrailers(trailers: HeaderMap): void {
    const stream = this.stream;
    if (this.resetDone || this.localComplete || stream.destroyed) return;
    this.responseTrailers = trailers;
    stream.end();
    this.onLocalComplete();
  }

  encode1xxHeaders(headers: HeaderMap): void {
    if (this.resetDone || this.responseStarted || this.stream.destroyed) return;
    try { this.stream.additionalHeaders(toHttp2ResponseHeaders(headers)); } catch { /* stream closing */ }
  }

  getStream(): Stream {
    return this;
  }

  // ---- Stream ----

  addCallbacks(cb: StreamCallbacks): void {
    this.callbacks.push(cb);
  }

  removeCallbacks(cb: StreamCallbacks): void {
    const i = this.callbacks.indexOf(cb);
    if (i !== -1) this.callbacks.splice(i, 1);
  }

  resetStream(reason: StreamResetReason): void {
    this.localReset(reason, '');
  }

  readDisable(disable: boolean): void {
    if (disable) {
      if (this.readDisableCount++ === 0) this.stream.pause();
    } else if (this.readDisableCount > 0 && --this.readDisableCount === 0) {
      this.stream.resume();
    }
  }

  bufferLimit(): number {
    return this.conn.settings.bufferLimit;
  }

  // ---- node:http2 events ----

  private onData(chunk: Buffer): void {
    if (this.resetDone || this.remoteComplete) return;
    this.decoder!.decodeData(chunk, false);
  }

  private onEnd(): void {
    if (this.resetDone || this.remoteComplete) return;
    this.remoteComplete = true;
    const trailers = this.requestTrailers;
    this.requestTrailers = null;
    if (trailers !== null) this.decoder!.decodeTrailers(trailers);
    else this.decoder!.decodeData(EMPTY, true);
  }

  private onWantTrailers(): void {
    const trailers = this.responseTrailers;
    this.responseTrailers = null;
    try {
      // No trailers: node ends the stream with an empty DATA frame instead.
      this.stream.sendTrailers(trailers === null ? {} : toHttp2Trailers(trailers));
    } catch (err) {
      this.localReset(StreamResetReason.LocalReset, (err as Error).message);
    }
  }

  private onDrain(): void {
    if (!this.aboveHighWatermark) return;
    this.aboveHighWatermark = false;
    if (this.resetDone) return;
    for (const cb of this.callbacks.slice()) cb.onBelowWriteBufferLowWatermark();
  }

  private onClose(): void {
    this.conn.onStreamClosed(this);
    if (this.resetDone || (this.localComplete && this.remoteComplete)) return;
    const code = this.stream.rstCode;
    if (code !== undefined && code !== NGHTTP2_NO_ERROR) this.conn.stats.rx_reset.inc();
    const sessionGone = this.stream.session === undefined || this.stream.session.destroyed;
    this.deliverReset(sessionGone ? StreamResetReason.ConnectionTermination : StreamResetReason.RemoteReset, '');
  }

  // ---- internals ----

  /** The response is fully queued. An unfinished request is cut with NO_ERROR after the flush. */
  private onLocalComplete(): void {
    this.localComplete = true;
    if (!this.remoteComplete && !this.stream.destroyed) {
      this.resetDone = true; // the decoder is done with this stream
      this.stream.close(NGHTTP2_NO_ERROR);
    }
  }

  private localReset(reason: StreamResetReason, details: string): void {
    if (this.resetDone) return;
    this.deliverReset(reason, details);
    if (!this.stream.destroyed) {
      this.conn.stats.tx_reset.inc();
      this.stream.close(NGHTTP2_INTERNAL_ERROR);
    }
  }

  private deliverReset(reason: StreamResetReason, details: string): void {
    if (this.resetDone) return;
    this.resetDone = true;
    for (const cb of this.callbacks.slice()) cb.onResetStream(reason, details);
  }
}
