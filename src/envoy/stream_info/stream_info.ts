/**
 * StreamInfo: everything known about one request (or one TCP connection) that
 * access logs, stats and filters read, after Envoy's `envoy/stream_info`.
 * The connection manager creates one per stream; the router and filters fill it.
 */
import type { Protocol } from '../http/protocol.js';
import type { HostDescription } from '../upstream/host.js';
import type { SslConnectionInfo } from '../network/connection.js';

export interface StreamInfo {
  /** Wall-clock start, ms since the epoch (%START_TIME%). */
  readonly startTime: number;
  /** Monotonic start, ms (performance.now()); durations are measured from it. */
  readonly startTimeMonotonic: number;
  protocol: Protocol | null;
  responseCode: number | null;
  /** Why the response is what it is (`%RESPONSE_CODE_DETAILS%`), e.g. `via_upstream`, `route_not_found`. */
  responseCodeDetails: string | null;
  /** Bit set of ResponseFlag. */
  responseFlags: number;
  /** Request body bytes received from downstream. */
  bytesReceived: number;
  /** Response body bytes sent to downstream. */
  bytesSent: number;
  /** Monotonic ms at which the last downstream request byte arrived (null until then). */
  lastDownstreamRxByteReceived: number | null;
  /** Monotonic ms of the first upstream response byte. */
  firstUpstreamRxByteReceived: number | null;
  /** Monotonic ms of the last upstream response byte. */
  lastUpstreamRxByteReceived: number | null;
  /** Monotonic ms of the first byte sent downstream. */
  firstDownstreamTxByteSent: number | null;
  /** Monotonic ms of the last byte sent downstream; the request is complete then. */
  lastDownstreamTxByteSent: number | null;
  upstreamHost: HostDescription | null;
  upstreamClusterName: string | null;
  /** `ip:port` of the local side of the upstream connection. */
  upstreamLocalAddress: string | null;
  upstreamTransportFailureReason: string | null;
  /** Peer address after XFF processing (`%DOWNSTREAM_REMOTE_ADDRESS%`), `ip:port`. */
  downstreamRemoteAddress: string;
  /** Address of the socket peer, before XFF (`%DOWNSTREAM_DIRECT_REMOTE_ADDRESS%`). */
  downstreamDirectRemoteAddress: string;
  downstreamLocalAddress: string;
  requestedServerName: string;
  /** TLS facts of the downstream connection (null: plaintext). */
  downstreamSslConnection: SslConnectionInfo | null;
  routeName: string | null;
  virtualClusterName: string | null;
  requestId: string | null;
  /** Number of upstream attempts made (1 + retries). */
  attemptCount: number;
  /** Free-form per-stream data shared by filters (Envoy's FilterState), keyed by name. */
  readonly filterState: Map<string, unknown>;
  /** Dynamic metadata by filter namespace. */
  readonly dynamicMetadata: Map<string, Record<string, unknown>>;
  setResponseFlag(flag: number): void;
  hasResponseFlag(flag: number): boolean;
  /** Total duration in ms once complete (%DURATION%), else null. */
  duration(): number | null;
}
