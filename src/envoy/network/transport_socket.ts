/**
 * Transport sockets, after Envoy's `envoy/network/transport_socket.h`: what
 * sits between the TCP socket and the network filters (raw_buffer, tls).
 * Built once per filter chain (downstream) or per cluster (upstream) by a
 * factory registered under `envoy.transport_sockets.downstream` /
 * `envoy.transport_sockets.upstream`.
 */
import type { Socket } from 'node:net';
import type { SslConnectionInfo } from './connection.js';

/**
 * Readiness of a factory whose secrets come from SDS, for listener and
 * cluster warming (Envoy registers its SDS providers as init targets). A
 * factory without SDS secrets leaves these out (or is always ready).
 */
export interface TransportSocketReadiness {
  /** True once every secret the factory needs is there; before, it refuses connections. */
  isReady?(): boolean;
  /** Resolves when isReady() becomes true. */
  readonly ready?: Promise<void>;
  /** Resolves when warming may end: every secret arrived, or its initial fetch failed or timed out. */
  readonly initialized?: Promise<void>;
  /** Releases what the factory holds (SDS subscriptions, file watches) once its listener or cluster is gone. */
  close?(): void;
}

/** A downstream connection once its transport is up. */
export interface DownstreamTransportResult {
  /** The socket the network filters read and write (a TLSSocket for tls). */
  readonly socket: Socket;
  /** TLS facts, null for raw_buffer. */
  readonly ssl: SslConnectionInfo | null;
}

export interface DownstreamTransportSocketFactory extends TransportSocketReadiness {
  /** True for tls (the HCM then uses scheme https). */
  readonly implementsSecureTransport: boolean;
  /**
   * Takes over an accepted socket (bytes a listener filter read are already
   * unshifted back). Calls `onDone` exactly once: with the result when the
   * handshake succeeded and any post-handshake checks (client certificate,
   * SANs) passed, or with null after it closed and counted a failure.
   */
  accept(socket: Socket, serverName: string, onDone: (result: DownstreamTransportResult | null) => void): void;
}

/** An upstream connection being opened. */
export interface UpstreamTransportConnection {
  readonly socket: Socket;
  /** The event that means "ready for the codec": 'connect' (raw) or 'secureConnect' (tls). */
  readonly readyEvent: 'connect' | 'secureConnect';
}

export interface UpstreamTransportSocketFactory extends TransportSocketReadiness {
  readonly implementsSecureTransport: boolean;
  /** ALPN protocols offered (empty: none). */
  readonly alpnProtocols: ReadonlyArray<string>;
  /**
   * Opens a connection to `address:port`. `hostname` is the host's DNS name
   * (for auto SNI); `alpn` overrides the configured ALPN list.
   */
  connect(address: string, port: number, hostname: string, alpn?: ReadonlyArray<string>): UpstreamTransportConnection;
  /**
   * The transport failure reason (%UPSTREAM_TRANSPORT_FAILURE_REASON%) for an
   * error the socket emitted before it was ready, or null when it is not a
   * transport (TLS) error. Counts the failure in the cluster's ssl stats.
   */
  transportFailureReason(err: Error): string | null;
  /** TLS facts of a ready connection (null for raw). */
  connectionInfo(socket: Socket): SslConnectionInfo | null;
}
