/** The per-request (or per-TCP-connection) record read by access logs and stats. */
import type { Protocol } from '../envoy/http/protocol.js';
import type { StreamInfo } from '../envoy/stream_info/stream_info.js';
import type { HostDescription } from '../envoy/upstream/host.js';
import type { SslConnectionInfo } from '../envoy/network/connection.js';

export class StreamInfoImpl implements StreamInfo {
  readonly startTime = Date.now();
  readonly startTimeMonotonic = performance.now();
  responseCode: number | null = null;
  responseCodeDetails: string | null = null;
  responseFlags = 0;
  bytesReceived = 0;
  bytesSent = 0;
  lastDownstreamRxByteReceived: number | null = null;
  firstUpstreamRxByteReceived: number | null = null;
  lastUpstreamRxByteReceived: number | null = null;
  firstDownstreamTxByteSent: number | null = null;
  lastDownstreamTxByteSent: number | null = null;
  upstreamHost: HostDescription | null = null;
  upstreamClusterName: string | null = null;
  upstreamLocalAddress: string | null = null;
  upstreamTransportFailureReason: string | null = null;
  requestedServerName = '';
  downstreamSslConnection: SslConnectionInfo | null = null;
  routeName: string | null = null;
  virtualClusterName: string | null = null;
  requestId: string | null = null;
  attemptCount = 0;
  private fs: Map<string, unknown> | null = null;
  private dm: Map<string, Record<string, unknown>> | null = null;
  /** Set when the stream finished (for %DURATION% of completed requests). */
  completedMonotonic: number | null = null;

  constructor(
    public protocol: Protocol | null,
    public downstreamRemoteAddress: string,
    public downstreamDirectRemoteAddress: string,
    public downstreamLocalAddress: string,
  ) {}

  get filterState(): Map<string, unknown> { return (this.fs ??= new Map()); }
  get dynamicMetadata(): Map<string, Record<string, unknown>> { return (this.dm ??= new Map()); }

  setResponseFlag(flag: number): void { this.responseFlags |= flag; }
  hasResponseFlag(flag: number): boolean { return (this.responseFlags & flag) !== 0; }

  duration(): number | null {
    const end = this.completedMonotonic ?? this.lastDownstreamTxByteSent;
    return end === null ? null : end - this.startTimeMonotonic;
  }

  /** Marks the stream complete now. */
  onComplete(): void {
    if (this.completedMonotonic === null) this.completedMonotonic = performance.now();
  }
}
