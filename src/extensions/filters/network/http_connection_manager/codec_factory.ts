/** Builds the downstream codec for a connection (HTTP/1.1 today; HTTP/2 and AUTO sniffing come next). */
import type { ServerConnection, ServerConnectionCallbacks } from '../../../../envoy/http/codec.js';
import type { Connection } from '../../../../envoy/network/connection.js';
import { Http1ServerConnection, type Http1ServerSettings } from '../../../../http/codec/http1/index.js';
import type { ConnectionImpl } from '../../../../network/connection_impl.js';

export function createHttp1ServerCodec(
  connection: Connection, callbacks: ServerConnectionCallbacks, settings: Partial<Http1ServerSettings>,
): ServerConnection {
  // The connection owns the socket; the codec writes to it and is fed through dispatch().
  return new Http1ServerConnection((connection as ConnectionImpl).socket, callbacks, { ...settings, connection });
}
