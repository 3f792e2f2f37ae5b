/**
 * A downstream or upstream connection, after Envoy's `Network::Connection`.
 * Wraps a Node socket with Envoy's semantics: counted read-disable, watermark
 * callbacks from the write buffer, close types, and connection events.
 */
export enum ConnectionEvent {
  RemoteClose = 'RemoteClose',
  LocalClose = 'LocalClose',
  Connected = 'Connected',
}

export enum ConnectionCloseType {
  /** Write out what is buffered, then close. */
  FlushWrite = 'FlushWrite',
  /** Close at once, dropping buffered data. */
  NoFlush = 'NoFlush',
}

export interface ConnectionCallbacks {
  onEvent(event: ConnectionEvent): void;
  onAboveWriteBufferHighWatermark(): void;
  onBelowWriteBufferLowWatermark(): void;
}

export interface Connection {
  /** Process-unique id (%CONNECTION_ID%). */
  readonly id: number;
  /** `ip:port` of the peer. */
  readonly remoteAddress: string;
  /** `ip:port` of the local side. */
  readonly localAddress: string;
  /** SNI the client asked for ('' when none or plaintext). */
  readonly requestedServerName: string;
  /** True once close() was called or the peer closed. */
  readonly closed: boolean;
  write(data: Buffer | string, endStream: boolean): void;
  close(type: ConnectionCloseType): void;
  /** Counted: every readDisable(true) needs a readDisable(false). */
  readDisable(disable: boolean): void;
  addConnectionCallbacks(cb: ConnectionCallbacks): void;
  /** Soft buffer limit driving watermark callbacks. */
  bufferLimit(): number;
  /** Bytes read / written so far. */
  readonly bytesReceived: number;
  readonly bytesSent: number;
}
