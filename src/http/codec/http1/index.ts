/** The HTTP/1.1 codec: server and client connections over net.Socket. */
export { Http1ServerConnection, Http1ResponseEncoder } from './server_connection.js';
export {
  Http1ClientConnection,
  Http1RequestEncoder,
  KEEPALIVE_RACE_DETAIL,
  type Http1ClientConnectionCallbacks,
} from './client_connection.js';
export {
  DEFAULT_CLIENT_SETTINGS,
  DEFAULT_SERVER_SETTINGS,
  type HeadersWithUnderscoresAction,
  type Http1ClientSettings,
  type Http1ServerOptions,
  type Http1ServerSettings,
} from './settings.js';
export { Http1Details, reasonPhrase } from './codes.js';
