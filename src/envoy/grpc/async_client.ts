/**
 * gRPC client interfaces, after Envoy's `envoy/grpc/async_client.h`: what
 * Legate's own components (the xDS client today) use to talk gRPC to a
 * cluster, without knowing how the stream is carried. The implementation
 * (src/upstream/grpc/) runs over the cluster manager's HTTP/2 pools.
 */

export interface GrpcAsyncStreamCallbacks {
  /** The HTTP/2 stream to the server is open (the request headers are out). */
  onStreamReady?(): void;
  /** One whole message (the 5-byte gRPC frame header removed). */
  onReceiveMessage(payload: Buffer): void;
  /** The stream is over: grpc-status (0 = OK) and grpc-message. Called once, never after close(). */
  onRemoteClose(status: number, message: string): void;
}

export interface GrpcAsyncStream {
  /** Sends one message (queued until the stream is open). */
  sendMessage(payload: Buffer): void;
  /**
   * Half-closes: ends our side of the stream (an empty DATA frame with
   * END_STREAM, after any queued messages), as Envoy's closeStream(). A unary
   * call ends its request this way. Callbacks still arrive.
   */
  closeStream(): void;
  /** Resets the stream; no callback follows. */
  close(): void;
}

export interface GrpcStreamOptions {
  /** Extra request headers (`initial_metadata`). */
  initialMetadata?: ReadonlyArray<readonly [string, string]>;
  /** Largest message accepted (bytes); larger ends the stream with RESOURCE_EXHAUSTED. */
  maxReceiveMessageBytes?: number;
}

/** A gRPC client bound to one target (an `envoy_grpc` cluster). */
export interface GrpcAsyncClient {
  /** Starts a bidirectional stream to `/package.Service/Method`. */
  startStream(methodPath: string, callbacks: GrpcAsyncStreamCallbacks, options?: GrpcStreamOptions): GrpcAsyncStream;
}
