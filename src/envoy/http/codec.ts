/**
 * Codec interfaces, after Envoy's `envoy/http/codec.h`. A codec turns bytes on a
 * connection into streams and back. The connection manager (server side) and
 * the connection pools (client side) only see these interfaces, so HTTP/1 and
 * HTTP/2 codecs are interchangeable.
 *
 * Ownership: an encoder is owned by the codec; callers hold it for the life of
 * the stream and stop using it after `onResetStream` or after the final
 * `endStream` has been encoded in both directions.
 */
import type { HeaderMap } from './header_map.js';
import type { Protocol } from './protocol.js';

/** Why a stream ended early. Mapped to response flags by the router and HCM. */
export enum StreamResetReason {
  /** The local side reset it (timeout, filter, shutdown). */
  LocalReset = 'local reset',
  /** The peer reset it (HTTP/2 RST_STREAM). */
  RemoteReset = 'remote reset',
  /** The connection could not be made (refused, unreachable, connect timeout). */
  ConnectionFailure = 'connection failure',
  /** The connection closed under an active stream (HTTP/1: the peer closed mid-stream). */
  ConnectionTermination = 'connection termination',
  /** A resource limit (circuit breaker, pending queue) was hit. */
  Overflow = 'overflow',
  /** The peer sent something that violates the protocol. */
  ProtocolError = 'protocol error',
  /** The connect attempt timed out. */
  ConnectionTimeout = 'connection timeout',
  /** The stream was refused by the peer before processing (HTTP/2 REFUSED_STREAM). */
  RemoteRefusedStreamReset = 'remote refused stream reset',
}

/** Callbacks a stream's user registers to learn of resets and back-pressure. */
export interface StreamCallbacks {
  /** The stream is gone. `transportFailureReason` is set for TLS/connect failures. */
  onResetStream(reason: StreamResetReason, transportFailureReason: string): void;
  /** The stream's outbound buffer went over its high watermark: stop producing. */
  onAboveWriteBufferHighWatermark(): void;
  /** The outbound buffer drained below the low watermark: produce again. */
  onBelowWriteBufferLowWatermark(): void;
}

/** A single request/response exchange on a codec connection. */
export interface Stream {
  addCallbacks(cb: StreamCallbacks): void;
  removeCallbacks(cb: StreamCallbacks): void;
  /** Resets the stream (HTTP/1: closes the connection). Fires `onResetStream` on the callbacks. */
  resetStream(reason: StreamResetReason): void;
  /**
   * Stops (true) or resumes (false) reading from the peer for this stream. Calls
   * are counted: every disable needs a matching enable.
   */
  readDisable(disable: boolean): void;
  /** The soft buffer limit in bytes that drives the watermark callbacks. */
  bufferLimit(): number;
}

/** Writes one direction of a stream. */
export interface StreamEncoder {
  encodeHeaders(headers: HeaderMap, endStream: boolean): void;
  encodeData(data: Buffer, endStream: boolean): void;
  encodeTrailers(trailers: HeaderMap): void;
  getStream(): Stream;
}

/** Server side: writes the response. */
export interface ResponseEncoder extends StreamEncoder {
  /** Writes an informational (1xx, e.g. 100-continue) response header block. */
  encode1xxHeaders(headers: HeaderMap): void;
  /** The protocol the downstream spoke on this stream. */
  readonly protocol: Protocol;
}

/** Client side: writes the request. */
export type RequestEncoder = StreamEncoder;

/** Receives one direction of a stream. */
export interface StreamDecoder {
  decodeData(data: Buffer, endStream: boolean): void;
  decodeTrailers(trailers: HeaderMap): void;
}

/** Server side: receives the request. */
export interface RequestDecoder extends StreamDecoder {
  decodeHeaders(headers: HeaderMap, endStream: boolean): void;
}

/** Client side: receives the response. */
export interface ResponseDecoder extends StreamDecoder {
  decode1xxHeaders(headers: HeaderMap): void;
  decodeHeaders(headers: HeaderMap, endStream: boolean): void;
}

/** What a server codec asks of the connection manager. */
export interface ServerConnectionCallbacks {
  /**
   * A new request stream started. The manager returns the decoder that receives
   * it; `encoder` writes its response.
   */
  newStream(encoder: ResponseEncoder): RequestDecoder;
  /**
   * The codec hit a protocol error before a stream could be made (malformed
   * request line, oversize headers...). The codec has already written the
   * local reply (400/431...) and will close; this is for stats and access logs.
   */
  onCodecError?(status: number, details: string): void;
}

/** A server codec bound to one downstream connection. */
export interface ServerConnection {
  readonly protocol: Protocol;
  /** Feeds bytes read from the connection. Never throws; protocol errors become local replies. */
  dispatch(data: Buffer): void;
  /** Starts a graceful close: finish the current stream(s), then close. */
  shutdownNotice(): void;
  /** True while at least one stream is active. */
  wantsToWrite(): boolean;
}
