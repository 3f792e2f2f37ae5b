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

/**
 * What a TLS transport socket learned about a connection, after Envoy's
 * `Ssl::ConnectionInfo`. Read by the HCM (scheme, XFCC), access-log
 * operators (%DOWNSTREAM_TLS_VERSION%, %DOWNSTREAM_PEER_URI_SAN%...) and the
 * codec choice (ALPN).
 */
export interface SslConnectionInfo {
  /** 'TLSv1.2', 'TLSv1.3'. */
  readonly tlsVersion: string;
  /** Negotiated cipher suite, OpenSSL name (e.g. 'TLS_AES_128_GCM_SHA256'). */
  readonly cipherSuite: string;
  /** Negotiated ALPN protocol ('' when none). */
  readonly alpn: string;
  /** SNI the client sent ('' when none). */
  readonly sni: string;
  /** Whether the peer presented a certificate. */
  readonly peerCertificatePresented: boolean;
  /** Whether the peer certificate was validated against the trusted CA and SAN matchers. */
  readonly peerCertificateValidated: boolean;
  readonly uriSanPeerCertificate: ReadonlyArray<string>;
  readonly dnsSansPeerCertificate: ReadonlyArray<string>;
  /** RFC 2253-style subject of the peer certificate ('' when none). */
  readonly subjectPeerCertificate: string;
  /** Lower-case hex SHA-256 of the peer certificate DER ('' when none). */
  readonly sha256PeerCertificateDigest: string;
  /** The peer certificate, PEM ('' when none). */
  readonly pemEncodedPeerCertificate: string;
  /** The peer's chain as sent, leaf first, PEM ('' when none). */
  readonly pemEncodedPeerCertificateChain: string;
  readonly uriSanLocalCertificate: ReadonlyArray<string>;
  readonly subjectLocalCertificate: string;
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
  /** TLS facts, or null for a plaintext connection. */
  readonly ssl: SslConnectionInfo | null;
  /** ALPN protocol chosen for the connection ('' when none, e.g. plaintext). */
  readonly nextProtocol: string;
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
