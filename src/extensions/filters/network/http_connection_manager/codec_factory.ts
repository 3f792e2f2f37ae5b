/**
 * Builds the downstream codec for a connection once its protocol is known
 * (codec_type HTTP1/HTTP2, or AUTO decided by ALPN or the HTTP/2 preface in
 * the connection manager).
 */
import type { ServerConnection, ServerConnectionCallbacks } from '../../../../envoy/http/codec.js';
import type { Connection } from '../../../../envoy/network/connection.js';
import { Http1ServerConnection, type Http1ServerSettings } from '../../../../http/codec/http1/index.js';
import type { Http2CodecStats } from '../../../../http/codec/http2/codec_stats.js';
import { Http2ServerConnection, type Http2ServerSettings } from '../../../../http/codec/http2/server_connection.js';
import type { DownstreamCodecProtocol } from '../../../../http/conn_manager_config.js';
import type { ConnectionImpl } from '../../../../network/connection_impl.js';

export interface ServerCodecSettings {
  readonly http1: Partial<Http1ServerSettings>;
  readonly http2: Http2ServerSettings;
  readonly http2Stats: Http2CodecStats;
}

export function createServerCodec(
  protocol: DownstreamCodecProtocol, connection: Connection, callbacks: ServerConnectionCallbacks, settings: ServerCodecSettings,
): ServerConnection {
  // The connection owns the socket; an HTTP/1 codec writes to it and is fed
  // through dispatch(), the HTTP/2 codec takes its reads over on first dispatch.
  const impl = connection as ConnectionImpl;
  if (protocol === 'http2') return new Http2ServerConnection(impl, callbacks, settings.http2, settings.http2Stats);
  return new Http1ServerConnection(impl.socket, callbacks, { ...settings.http1, connection });
}
