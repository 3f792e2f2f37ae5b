/**
 * HTTP/1 codec settings, after Envoy's Http1Settings
 * (source/common/http/http1/settings.cc) plus the HCM and cluster limits the
 * codec enforces. Defaults are Envoy's.
 */
import type { Connection } from '../../../envoy/network/connection.js';

/** `headers_with_underscores_action` (HttpProtocolOptions); Envoy's default is ALLOW. */
export type HeadersWithUnderscoresAction = 'allow' | 'reject_request' | 'drop_header';

export interface Http1ServerSettings {
  /** `max_request_headers_kb`: raw size of the request head (431 when exceeded). Default 60. */
  maxRequestHeadersKb: number;
  /** `common_http_protocol_options.max_headers_count` (431 when exceeded). Default 100. */
  maxRequestHeadersCount: number;
  /** `http_protocol_options.accept_http_10` (false: HTTP/1.0 gets 426). */
  acceptHttp10: boolean;
  /** `http_protocol_options.default_host_for_http_10` ('' for none). */
  defaultHostForHttp10: string;
  /** `http_protocol_options.allow_absolute_url` (default true). */
  allowAbsoluteUrl: boolean;
  /** `http_protocol_options.enable_trailers` (default false, as Envoy: trailers are parsed and dropped). */
  enableTrailers: boolean;
  /** `per_connection_buffer_limit_bytes`: write-buffer high watermark. Default 1 MiB. */
  bufferLimit: number;
  headersWithUnderscoresAction: HeadersWithUnderscoresAction;
  /** How long a connection closing after its last response waits for the peer to close (`delayed_close_timeout`, 1 s). */
  delayedCloseTimeoutMs: number;
  /**
   * True (default): the codec reads the socket itself. False: the caller feeds
   * `dispatch(data)` (implied when `connection` is given).
   */
  readFromSocket: boolean;
}

/**
 * Constructor options: any settings (Envoy defaults for the rest), plus the
 * Network::Connection that owns the socket, if any. With `connection` the
 * codec reads nothing itself (the owner calls dispatch()), and it closes and
 * read-disables through the connection, so the owner's counted read-disable
 * and local/remote close accounting stay right.
 */
export type Http1ServerOptions = Partial<Http1ServerSettings> & { connection?: Connection };

export const DEFAULT_SERVER_SETTINGS: Readonly<Http1ServerSettings> = Object.freeze({
  maxRequestHeadersKb: 60,
  maxRequestHeadersCount: 100,
  acceptHttp10: false,
  defaultHostForHttp10: '',
  allowAbsoluteUrl: true,
  enableTrailers: false,
  bufferLimit: 1024 * 1024,
  headersWithUnderscoresAction: 'allow',
  delayedCloseTimeoutMs: 1000,
  readFromSocket: true,
});

export interface Http1ClientSettings {
  /** Envoy's MAX_RESPONSE_HEADERS_KB for HTTP/1 upstreams: 80. */
  maxResponseHeadersKb: number;
  /** Cluster `common_http_protocol_options.max_headers_count`. Default 100. */
  maxResponseHeadersCount: number;
  /** Encode request trailers and deliver response trailers (default false, as Envoy). */
  enableTrailers: boolean;
  /** Cluster `per_connection_buffer_limit_bytes`. Default 1 MiB. */
  bufferLimit: number;
  /** True (default): the codec reads the socket itself; false: the owner feeds `dispatch(data)`. */
  readFromSocket: boolean;
}

export const DEFAULT_CLIENT_SETTINGS: Readonly<Http1ClientSettings> = Object.freeze({
  maxResponseHeadersKb: 80,
  maxResponseHeadersCount: 100,
  enableTrailers: false,
  bufferLimit: 1024 * 1024,
  readFromSocket: true,
});
