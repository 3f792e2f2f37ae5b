/**
 * Access log instance interface, after Envoy's `envoy/access_log`. An
 * instance formats and writes one line per finished request or connection.
 * Writing never blocks the request path.
 */
import type { HeaderMap } from '../http/header_map.js';
import type { StreamInfo } from '../stream_info/stream_info.js';

export interface AccessLogInstance {
  log(requestHeaders: HeaderMap | null, responseHeaders: HeaderMap | null,
      responseTrailers: HeaderMap | null, streamInfo: StreamInfo): void;
}

/** What an access-log filter sees. */
export interface AccessLogFilterContext {
  readonly requestHeaders: HeaderMap | null;
  readonly responseHeaders: HeaderMap | null;
  readonly responseTrailers: HeaderMap | null;
  readonly streamInfo: StreamInfo;
}

/** A compiled `AccessLog.filter` (status_code_filter, and_filter, ...). */
export interface AccessLogFilter {
  evaluate(ctx: AccessLogFilterContext): boolean;
}
