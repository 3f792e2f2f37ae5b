/**
 * The compiled HttpConnectionManager config: everything the manager reads per
 * request, built once from the HCM proto by the network filter factory.
 */
import type { AccessLogInstance } from '../envoy/access_log/access_log.js';
import type { FilterFactoryCb } from '../envoy/http/filter.js';
import type { ServerConnection, ServerConnectionCallbacks } from '../envoy/http/codec.js';
import type { RouteTable } from '../envoy/router/router.js';
import type { Connection } from '../envoy/network/connection.js';
import type { ForwardClientCertConfig } from './forward_client_cert.js';
import type { HttpConnManagerListenerStats, HttpConnManagerStats } from '../stats/http_conn_manager_stats.js';

export const enum ServerHeaderTransformation { Overwrite, AppendIfAbsent, PassThrough }

export interface UpgradeSetting {
  /** Lower-cased upgrade token, e.g. `websocket`, or `connect` for CONNECT. */
  readonly upgradeType: string;
  readonly enabled: boolean;
  /** Filters for this upgrade type (null: the HCM's chain). */
  readonly filterFactories: ReadonlyArray<FilterFactoryCb> | null;
}

/** The codec a downstream connection speaks. */
export type DownstreamCodecProtocol = 'http1' | 'http2';

/** HCM codec_type: a fixed codec, or AUTO (ALPN, else the HTTP/2 preface). */
export type CodecType = DownstreamCodecProtocol | 'auto';

export interface ConnectionManagerConfig {
  readonly statPrefix: string;
  readonly stats: HttpConnManagerStats;
  /** Per-listener copies of the response-code stats (`listener.<addr>.http.<prefix>.`), or null. */
  readonly listenerStats: HttpConnManagerListenerStats | null;
  readonly codecType: CodecType;
  /** Builds the server codec for a downstream connection once its protocol is known. */
  createCodec(protocol: DownstreamCodecProtocol, connection: Connection, callbacks: ServerConnectionCallbacks): ServerConnection;
  /** The current route table (static, or the latest RDS version). */
  routeTable(): RouteTable | null;
  readonly filterFactories: ReadonlyArray<FilterFactoryCb>;
  readonly upgrades: ReadonlyArray<UpgradeSetting>;
  readonly accessLogs: ReadonlyArray<AccessLogInstance>;
  readonly serverName: string;
  readonly serverHeaderTransformation: ServerHeaderTransformation;
  readonly useRemoteAddress: boolean;
  readonly xffNumTrustedHops: number;
  readonly skipXffAppend: boolean;
  /** `via` header value to append, or '' for none. */
  readonly via: string;
  readonly generateRequestId: boolean;
  readonly preserveExternalRequestId: boolean;
  readonly alwaysSetRequestIdInResponse: boolean;
  /** Connection idle timeout with no active streams (ms; 0 = none). Default 1h. */
  readonly idleTimeoutMs: number;
  /** Whole-request receive timeout (ms; 0 = none). */
  readonly requestTimeoutMs: number;
  /** Time to receive the request headers (ms; 0 = none). */
  readonly requestHeadersTimeoutMs: number;
  /** Per-stream inactivity timeout (ms; 0 = none). Default 5 min. */
  readonly streamIdleTimeoutMs: number;
  /** Max connection lifetime (ms; 0 = none). */
  readonly maxConnectionDurationMs: number;
  readonly proxy100Continue: boolean;
  readonly stripMatchingHostPort: boolean;
  readonly stripAnyHostPort: boolean;
  /** Strip trailing dot from host (strip_trailing_host_dot). */
  readonly stripTrailingHostDot: boolean;
  readonly normalizePath: boolean;
  readonly mergeSlashes: boolean;
  /** Soft per-stream buffer limit (per_connection_buffer_limit_bytes of the listener). */
  readonly bufferLimit: number;
  /** forward_client_cert_details + set_current_client_cert_details. */
  readonly forwardClientCert: ForwardClientCertConfig;
}
