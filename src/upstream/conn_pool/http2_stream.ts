/**
 * Http2UpstreamStream: one request/response exchange on a pooled HTTP/2
 * session, seen by the router as a RequestEncoder + Stream (the client stream
 * of Envoy's `source/common/http/http2/codec_impl.cc`, over node:http2).
 *
 * Life of a stream:
 *
 *   pool attaches it to a session ─► onPoolReady(encoder)
 *   encodeHeaders(h, end)  ─► session.request(h, { endStream: end, waitForTrailers: !end })
 *   encodeData / encodeTrailers ─► write() / end(); 'wantTrailers' ─► sendTrailers(trailers | {})
 *   'headers' (1xx)        ─► decode1xxHeaders
 *   'response'             ─► decodeHeaders(h, END_STREAM?) and only then start reading the body
 *   'data'                 ─► decodeData(chunk, false)      (never buffered whole)
 *   'trailers'             ─► kept until 'end', so paused body chunks still go first
 *   'end'                  ─► decodeTrailers(t) | decodeData(empty, true)
 *   'close' before that    ─► onResetStream(reason)        (see closeReason())
 *   'close'                ─► owner.onStreamDone()          (the session slot is free again)
 *
 * node:http2 reports a peer's RST_STREAM(NO_ERROR) and a socket that died
 * mid-body as an ordinary readable 'end'. 'end' therefore only counts as the
 * end of the response when the stream was not closed with an error code and,
 * when the response announced a content-length, that many bytes arrived.
 *
 * Flow control: readDisable() is counted; the first disable pauses the node
 * stream (node stops returning HTTP/2 window credit once its buffer fills, so
 * the upstream stops sending) and the last enable resumes it. On the write
 * side, a write() that returns false with at least `highWatermark` bytes queued
 * fires onAboveWriteBufferHighWatermark, and the stream's 'drain' fires
 * onBelowWriteBufferLowWatermark.
 */
import http2, { type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders } from 'node:http2';
import {
  StreamResetReason,
  type RequestEncoder,
  type ResponseDecoder,
  type Stream,
  type StreamCallbacks,
} from '../../envoy/http/codec.js';
import type { HeaderMap } from '../../envoy/http/header_map.js';
import type { HeaderMapImpl } from '../../http/codec/header_map_impl.js';
import { fromHttp2Headers, toHttp2RequestHeaders, toHttp2Trailers } from '../../http/codec/http2/header_conversion.js';

const {
  NGHTTP2_NO_ERROR,
  NGHTTP2_PROTOCOL_ERROR,
  NGHTTP2_REFUSED_STREAM,
  NGHTTP2_CANCEL,
  NGHTTP2_FLAG_END_STREAM,
} = http2.constants;

const EMPTY = Buffer.alloc(0);

/** What a stream needs from the session that carries it (the pool's active client). */
export interface Http2StreamOwner {
  readonly session: ClientHttp2Session;
  /** `:scheme` for requests that carry none. */
  readonly scheme: string;
  /** Bytes queued on a stream's write side before onAboveWriteBufferHighWatermark. */
  readonly highWatermark: number;
  /** The stream is finished for the session: closed, or reset before it was sent. */
  onStreamDone(stream: Http2UpstreamStream, cutByConnection: boolean): void;
  /** Brings the cluster's rx/tx byte counters up to date. */
  countBytes(): void;
}

type ErrorWithCode = Error & { code?: string };

export class Http2UpstreamStream implements RequestEncoder, Stream {
  private req: ClientHttp2Stream | null = null;
  private callbacks: StreamCallbacks[] = [];
  private readDisableCount = 0;
  /** The response body is being read ('data' listener attached). */
  private reading = false;
  private aboveHighWatermark = false;
  /** Our END_STREAM is queued (no more encode* calls are accepted). */
  private localEnded = false;
  /** The decoder got the whole response. */
  private remoteComplete = false;
  /** A reset was delivered (or the stream was reset locally): nothing more goes to the decoder. */
  private resetDone = false;
  private released = false;
  private requestTrailers: HeaderMap | null = null;
  private responseTrailers: HeaderMapImpl | null = null;
  private isHead = false;
  /** content-length of the response, or -1. */
  private expectedLength = -1;
  private receivedLength = 0;
  private lastError: ErrorWithCode | null = null;

  constructor(private readonly owner: Http2StreamOwner, private readonly decoder: ResponseDecoder) {}

  // ---- StreamEncoder ----

  encodeHeaders(headers: HeaderMap, endStream: boolean): void {
    if (this.req !== null || this.resetDone) return;
    const h2 = toHttp2RequestHeaders(headers, this.owner.scheme);
    this.isHead = h2[':method'] === 'HEAD';
    const session = this.owner.session;
    let req: ClientHttp2Stream;
    try {
      req = session.request(h2, { endStream, waitForTrailers: !endStream });
    } catch (err) {
      // The session went away between onPoolReady and now (GOAWAY: never sent,
      // so safe to retry), or node refused the headers (invalid name or value).
      const reason = session.destroyed
        ? StreamResetReason.ConnectionTermination
        : session.closed
          ? StreamResetReason.RemoteRefusedStreamReset
          : StreamResetReason.LocalReset;
      this.deliverReset(reason, reason === StreamResetReason.LocalReset ? (err as Error).message : '');
      this.release(false);
      return;
    }
    this.req = req;
    this.localEnded = endStream;
    req.on('response', (h: IncomingHttpHeaders, flags: number, raw?: string[]) => this.onResponse(h, flags, raw));
    req.on('headers', (h: IncomingHttpHeaders, _flags: number, raw?: string[]) => {
      if (!this.resetDone) this.decoder.decode1xxHeaders(fromHttp2Headers(raw, h));
    });
    req.on('trailers', (h: IncomingHttpHeaders, _flags: number, raw?: string[]) => {
      this.responseTrailers = fromHttp2Headers(raw, h);
    });
    req.on('wantTrailers', () => this.onWantTrailers());
    req.on('drain', () => this.onDrain());
    req.on('error', (err: ErrorWithCode) => { this.lastError = err; });
    req.on('close', () => this.onClose());
  }

  encodeData(data: Buffer, endStream: boolean): void {
    const req = this.req;
    if (req === null || this.resetDone || this.localEnded) return;
    if (data.length > 0 && !req.write(data) && !this.aboveHighWatermark && req.writableLength >= this.owner.highWatermark) {
      this.aboveHighWatermark = true;
      for (const cb of this.callbacks.slice()) cb.onAboveWriteBufferHighWatermark();
    }
    if (endStream) {
      this.localEnded = true;
      req.end();
    }
  }

  encodeTrailers(trailers: HeaderMap): void {
    const req = this.req;
    if (req === null || this.resetDone || this.localEnded) return;
    this.requestTrailers = trailers;
    this.localEnded = true;
    req.end();
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

  /**
   * Resets the stream: RST_STREAM(CANCEL) goes to the upstream when it was sent
   * (CANCEL rather than Envoy's NO_ERROR, because node:http2 servers read a
   * RST_STREAM(NO_ERROR) as the normal end of the request body).
   */
  resetStream(reason: StreamResetReason): void {
    if (this.resetDone) return;
    if (this.remoteComplete && this.localEnded && this.req !== null) return; // already complete both ways
    this.deliverReset(reason, '');
    const req = this.req;
    if (req === null) this.release(false);
    else if (!req.destroyed) req.close(NGHTTP2_CANCEL); // 'close' releases the slot
  }

  readDisable(disable: boolean): void {
    if (disable) {
      if (this.readDisableCount++ === 0 && this.reading) this.req!.pause();
    } else if (this.readDisableCount > 0) {
      if (--this.readDisableCount === 0 && this.reading) this.req!.resume();
    }
  }

  bufferLimit(): number {
    return this.owner.highWatermark;
  }

  // ---- node:http2 events ----

  private onResponse(headers: IncomingHttpHeaders, flags: number, raw: string[] | undefined): void {
    const req = this.req!;
    if (this.resetDone) return;
    this.owner.countBytes();
    const status = Number(headers[':status']);
    const cl = headers['content-length'];
    if (cl !== undefined && !this.isHead && status !== 204 && status !== 304) {
      const n = Number(cl);
      if (Number.isSafeInteger(n) && n >= 0) this.expectedLength = n;
    }
    const end = (flags & NGHTTP2_FLAG_END_STREAM) !== 0;
    if (end) this.remoteComplete = true;
    this.decoder.decodeHeaders(fromHttp2Headers(raw, headers as Record<string, unknown>), end);
    if (end) this.afterRemoteComplete();
    if (this.resetDone) return;
    // The body is read only now, so no 'data' can overtake the headers. Reading
    // continues after an END_STREAM too: node ends (and closes) a stream only
    // once its readable side has been consumed.
    this.reading = true;
    req.on('data', (chunk: Buffer) => this.onData(chunk));
    req.on('end', () => this.onEnd());
    if (this.readDisableCount > 0) req.pause();
  }

  private onData(chunk: Buffer): void {
    if (this.resetDone || this.remoteComplete) return;
    this.receivedLength += chunk.length;
    this.decoder.decodeData(chunk, false);
  }

  private onEnd(): void {
    if (this.resetDone || this.remoteComplete) return;
    const req = this.req!;
    const rst = req.rstCode;
    // Closed with an error code (peer reset, session gone): 'close' reports the reset.
    if (rst !== undefined && rst !== NGHTTP2_NO_ERROR) return;
    if (this.expectedLength >= 0 && this.receivedLength !== this.expectedLength) {
      // Short body: the peer reset the stream with NO_ERROR before END_STREAM.
      this.deliverReset(StreamResetReason.RemoteReset, '');
      if (!req.destroyed) req.close(NGHTTP2_CANCEL);
      return;
    }
    this.remoteComplete = true;
    const trailers = this.responseTrailers;
    this.responseTrailers = null;
    if (trailers !== null) this.decoder.decodeTrailers(trailers);
    else this.decoder.decodeData(EMPTY, true);
    this.afterRemoteComplete();
  }

  /**
   * The response is complete. If the request is not (an early response), the
   * caller will not finish it: the router drops its upstream request once the
   * response is done, as Envoy's router resets it. Cancel the rest of the
   * upload so the stream closes and frees its session slot.
   */
  private afterRemoteComplete(): void {
    if (this.localEnded || this.resetDone) return;
    this.resetDone = true;
    const req = this.req!;
    if (!req.destroyed) req.close(NGHTTP2_CANCEL);
  }

  private onWantTrailers(): void {
    const req = this.req!;
    const trailers = this.requestTrailers;
    this.requestTrailers = null;
    try {
      // No trailers: node ends the stream with an empty DATA frame instead.
      req.sendTrailers(trailers === null ? {} : toHttp2Trailers(trailers));
    } catch (err) {
      this.lastError = err as ErrorWithCode;
      if (!this.resetDone) {
        this.deliverReset(StreamResetReason.LocalReset, (err as Error).message);
        if (!req.destroyed) req.close(NGHTTP2_CANCEL);
      }
    }
  }

  private onDrain(): void {
    if (!this.aboveHighWatermark) return;
    this.aboveHighWatermark = false;
    if (this.resetDone) return;
    for (const cb of this.callbacks.slice()) cb.onBelowWriteBufferLowWatermark();
  }

  private onClose(): void {
    this.owner.countBytes();
    let cut = false;
    if (!this.resetDone && !this.remoteComplete) {
      const reason = this.closeReason();
      cut = reason === StreamResetReason.ConnectionTermination || (reason === StreamResetReason.ProtocolError && this.owner.session.destroyed);
      this.deliverReset(reason, '');
    }
    this.release(cut);
  }

  /**
   * Why the stream closed before its response completed:
   * REFUSED_STREAM (also what streams above a GOAWAY's last-stream-id get) →
   * RemoteRefusedStreamReset; the session died → ProtocolError when node
   * reported an HTTP/2 protocol failure, else ConnectionTermination;
   * RST_STREAM(PROTOCOL_ERROR) (sent by nghttp2 for a malformed response, or by
   * the peer) → ProtocolError; any other RST_STREAM → RemoteReset.
   */
  private closeReason(): StreamResetReason {
    const code = this.req!.rstCode;
    if (code === NGHTTP2_REFUSED_STREAM) return StreamResetReason.RemoteRefusedStreamReset;
    if (this.owner.session.destroyed) {
      return this.lastError?.code === 'ERR_HTTP2_ERROR' ? StreamResetReason.ProtocolError : StreamResetReason.ConnectionTermination;
    }
    if (code === NGHTTP2_PROTOCOL_ERROR) return StreamResetReason.ProtocolError;
    return StreamResetReason.RemoteReset;
  }

  // ---- internals ----

  private deliverReset(reason: StreamResetReason, transportFailureReason: string): void {
    if (this.resetDone) return;
    this.resetDone = true;
    for (const cb of this.callbacks.slice()) cb.onResetStream(reason, transportFailureReason);
  }

  private release(cutByConnection: boolean): void {
    if (this.released) return;
    this.released = true;
    this.owner.onStreamDone(this, cutByConnection);
  }
}
