/**
 * Http2UpstreamStream: one request/response exchange on a pooled HTTP/2
 * connection, seen by the router as a RequestEncoder + Stream (the client
 * stream of Envoy's `source/common/http/http2/codec_impl.cc`), over Legate's
 * own HTTP/2 client codec (src/http/codec/http2/client_connection.ts).
 *
 * Life of a stream:
 *
 *   pool attaches it to a connection ─► onPoolReady(encoder)
 *   encodeHeaders(h, end)   ─► HEADERS (the stream id is taken now)
 *   encodeData / encodeTrailers ─► DATA / trailing HEADERS, held back by flow control
 *   1xx HEADERS             ─► decode1xxHeaders
 *   response HEADERS        ─► decodeHeaders(h, END_STREAM?)
 *   DATA                    ─► decodeData(chunk, END_STREAM?)   (never buffered whole)
 *   trailing HEADERS        ─► decodeTrailers(t)
 *   reset by the peer, the connection, or a malformed response ─► onResetStream(reason)
 *   closed on the connection ─► owner.onStreamDone()   (the slot is free again)
 *
 * Response checks on top of the codec's: more than max_headers_count fields,
 * and a body that does not match its content-length, are protocol errors
 * (RST_STREAM, reset reason ProtocolError, which the router answers 502 UPE).
 *
 * Flow control: readDisable() is counted; while disabled the codec holds the
 * response data back and returns no window credit, so the upstream stops
 * sending. A body held back by the peer's window beyond the connection's
 * buffer limit fires onAboveWriteBufferHighWatermark, and its draining
 * onBelowWriteBufferLowWatermark.
 */
import {
  StreamResetReason,
  type RequestEncoder,
  type ResponseDecoder,
  type Stream,
} from '../../envoy/http/codec.js';
import { StreamCallbackHelper } from '../../http/codec/stream_callback_helper.js';
import type { HeaderMap } from '../../envoy/http/header_map.js';
import type { Http2ClientConnection, Http2ClientStream, Http2ClientStreamCallbacks } from '../../http/codec/http2/client_connection.js';
import { ErrorCode } from '../../http/codec/http2/frames.js';
import {
  fromHttp2Fields,
  http1UpgradeOf,
  toHttp1UpgradeResponse,
  toHttp2RequestFields,
  toHttp2TrailerFields,
} from '../../http/codec/http2/header_conversion.js';

const EMPTY = Buffer.alloc(0);

/** What a stream needs from the connection that carries it (the pool's active client). */
export interface Http2StreamOwner {
  readonly connection: Http2ClientConnection;
  /** `:scheme` for requests that carry none. */
  readonly scheme: string;
  /** Most header fields (pseudo-headers included) a response may carry: `max_headers_count`, default 100. */
  readonly maxResponseHeadersCount: number;
  /** The stream is finished for the connection: closed, or reset before it was sent. */
  onStreamDone(stream: Http2UpstreamStream, cutByConnection: boolean): void;
  /** Brings the cluster's rx/tx byte counters up to date. */
  countBytes(): void;
}

export class Http2UpstreamStream extends StreamCallbackHelper implements RequestEncoder, Stream, Http2ClientStreamCallbacks {
  private stream: Http2ClientStream | null = null;
  private readDisableCount = 0;
  /** Our END_STREAM is sent or queued (no more encode* calls are accepted). */
  private localEnded = false;
  /** The decoder got the whole response. */
  private remoteComplete = false;
  /** A reset was delivered (or the stream was reset locally): nothing more goes to the decoder. */
  private resetDone = false;
  private released = false;
  /** The connection cut this stream (for upstream_cx_destroy_with_active_rq). */
  private cut = false;
  private isHead = false;
  /** content-length of the response, or -1. */
  private expectedLength = -1;
  private receivedLength = 0;
  /** The HTTP/1 upgrade this stream carries as an extended CONNECT (null: none). */
  private upgrade: string | null = null;

  constructor(private readonly owner: Http2StreamOwner, private readonly decoder: ResponseDecoder) {
    super();
  }

  // ---- StreamEncoder ----

  encodeHeaders(headers: HeaderMap, endStream: boolean): void {
    if (this.stream !== null || this.resetDone) return;
    const conn = this.owner.connection;
    if (!conn.canOpenStream) {
      // The connection went away between onPoolReady and now: never sent, so safe to retry.
      this.deliverReset(conn.destroyed ? StreamResetReason.ConnectionTermination : StreamResetReason.RemoteRefusedStreamReset, '');
      this.release();
      return;
    }
    let fields: string[];
    try {
      fields = toHttp2RequestFields(headers, this.owner.scheme);
    } catch (err) {
      this.deliverReset(StreamResetReason.LocalReset, (err as Error).message);
      this.release();
      return;
    }
    this.upgrade = http1UpgradeOf(headers);
    this.isHead = headers.get(':method') === 'HEAD';
    const stream = conn.openStream(this);
    this.stream = stream;
    this.localEnded = endStream;
    stream.sendHeaders(fields, endStream);
    if (this.readDisableCount > 0) stream.setReadPaused(true);
  }

  encodeData(data: Buffer, endStream: boolean): void {
    const stream = this.stream;
    if (stream === null || this.resetDone || this.localEnded) return;
    if (endStream) this.localEnded = true;
    stream.sendData(data, endStream);
  }

  encodeTrailers(trailers: HeaderMap): void {
    const stream = this.stream;
    if (stream === null || this.resetDone || this.localEnded) return;
    this.localEnded = true;
    let fields: string[];
    try {
      fields = toHttp2TrailerFields(trailers);
    } catch (err) {
      this.deliverReset(StreamResetReason.LocalReset, (err as Error).message);
      stream.reset(ErrorCode.Cancel);
      return;
    }
    stream.sendTrailers(fields);
  }

  getStream(): Stream {
    return this;
  }

  // ---- Stream ----

  /**
   * Resets the stream: RST_STREAM(CANCEL) goes to the upstream when it was sent
   * (CANCEL rather than Envoy's NO_ERROR, because node:http2 servers read a
   * RST_STREAM(NO_ERROR) as the normal end of the request body).
   */
  resetStream(reason: StreamResetReason): void {
    if (this.resetDone) return;
    if (this.remoteComplete && this.localEnded && this.stream !== null) return; // already complete both ways
    this.deliverReset(reason, '');
    if (this.stream === null) this.release();
    else this.stream.reset(ErrorCode.Cancel); // onStreamClosed releases the slot
  }

  readDisable(disable: boolean): void {
    if (disable) {
      if (this.readDisableCount++ === 0) this.stream?.setReadPaused(true);
    } else if (this.readDisableCount > 0) {
      if (--this.readDisableCount === 0) this.stream?.setReadPaused(false);
    }
  }

  bufferLimit(): number {
    return this.owner.connection.options.highWatermark;
  }

  // ---- Http2ClientStreamCallbacks (the codec) ----

  onInformationalHeaders(fields: string[]): void {
    if (!this.resetDone) this.decoder.decode1xxHeaders(fromHttp2Fields(fields));
  }

  onResponseHeaders(fields: string[], endStream: boolean): void {
    if (this.resetDone) return;
    this.owner.countBytes();
    if (fields.length / 2 > this.owner.maxResponseHeadersCount) {
      // Envoy's codec refuses the header block (too_many_headers): a protocol error, 502 UPE.
      this.protocolError();
      return;
    }
    const map = fromHttp2Fields(fields);
    const status = fields[1]!;
    const cl = map.get('content-length');
    if (cl !== undefined && !this.isHead && status !== '204' && status !== '304') {
      const n = Number(cl);
      if (Number.isSafeInteger(n) && n >= 0) this.expectedLength = n;
    }
    if (endStream) {
      if (this.expectedLength > 0) return this.protocolError();
      this.remoteComplete = true;
    }
    if (this.upgrade !== null) toHttp1UpgradeResponse(map, this.upgrade);
    this.decoder.decodeHeaders(map, endStream);
    if (endStream) this.afterRemoteComplete();
  }

  onResponseData(data: Buffer, endStream: boolean): void {
    if (this.resetDone || this.remoteComplete) return;
    this.receivedLength += data.length;
    const expected = this.expectedLength;
    if (expected >= 0 && (this.receivedLength > expected || (endStream && this.receivedLength !== expected))) {
      // The body does not match its content-length (RFC 9113 §8.1.1): malformed.
      this.protocolError();
      return;
    }
    if (endStream) this.remoteComplete = true;
    this.decoder.decodeData(data, endStream);
    if (endStream) this.afterRemoteComplete();
  }

  onResponseTrailers(fields: string[]): void {
    if (this.resetDone || this.remoteComplete) return;
    if (this.expectedLength >= 0 && this.receivedLength !== this.expectedLength) {
      this.protocolError();
      return;
    }
    this.remoteComplete = true;
    this.decoder.decodeTrailers(fromHttp2Fields(fields));
    this.afterRemoteComplete();
  }

  onStreamReset(reason: StreamResetReason, _detail: string): void {
    this.cut = reason === StreamResetReason.ConnectionTermination ||
      (reason === StreamResetReason.ProtocolError && this.owner.connection.destroyed);
    if (!this.remoteComplete) this.deliverReset(reason, '');
  }

  onStreamClosed(): void {
    this.owner.countBytes();
    this.release();
  }

  onSendBufferAboveHighWatermark(): void {
    if (!this.resetDone) this.runHighWatermarkCallbacks();
  }

  onSendBufferBelowLowWatermark(): void {
    if (!this.resetDone) this.runLowWatermarkCallbacks();
  }

  // ---- internals ----

  /** A malformed response: RST_STREAM(PROTOCOL_ERROR) and a ProtocolError reset (502 UPE). */
  private protocolError(): void {
    this.deliverReset(StreamResetReason.ProtocolError, '');
    this.stream!.reset(ErrorCode.ProtocolError);
  }

  /**
   * The response is complete. If the request is not (an early response), the
   * caller will not finish it: the router drops its upstream request once the
   * response is done, as Envoy's router resets it. Cancel the rest of the
   * upload so the stream closes and frees its connection slot.
   */
  private afterRemoteComplete(): void {
    if (this.localEnded || this.resetDone) return;
    this.resetDone = true;
    this.stream!.reset(ErrorCode.Cancel);
  }

  private deliverReset(reason: StreamResetReason, transportFailureReason: string): void {
    if (this.resetDone) return;
    this.resetDone = true;
    this.runResetCallbacks(reason, transportFailureReason);
  }

  private release(): void {
    if (this.released) return;
    this.released = true;
    this.owner.onStreamDone(this, this.cut);
  }
}
