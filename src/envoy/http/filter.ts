/**
 * HTTP filter API, after Envoy's `envoy/http/filter.h`.
 *
 * The connection manager runs decoder filters in config order on the request and
 * encoder filters in reverse order on the response. Every callback returns a
 * status synchronously; a filter that must wait (an auth call, a fault delay)
 * returns a Stop status and later calls `continueDecoding()` /
 * `continueEncoding()` or `sendLocalReply()`. There is no promise per filter.
 */
import type { HeaderMap } from './header_map.js';
import type { StreamInfo } from '../stream_info/stream_info.js';
import type { Route } from '../router/router.js';

export enum FilterHeadersStatus {
  /** Pass the headers to the next filter. */
  Continue = 0,
  /**
   * Do not pass the headers on yet. Data and trailers still reach this filter
   * (and are passed on only when it continues). The filter must call
   * continueDecoding()/continueEncoding() or send a local reply.
   */
  StopIteration = 1,
  /**
   * Stop, and buffer all following data and trailers in the manager until the
   * filter continues (subject to the buffer limit: over it, 413 on decode and
   * 500 on encode).
   */
  StopAllIterationAndBuffer = 2,
  /** As StopAllIterationAndBuffer, but apply back-pressure instead of failing past the limit. */
  StopAllIterationAndWatermark = 3,
}

export enum FilterDataStatus {
  /** Pass this data (and any buffered before it) to the next filter. */
  Continue = 0,
  /**
   * Keep this data in the manager's buffer and stop; the next Continue passes the
   * whole buffer on. Over the buffer limit the stream fails (413 / 500).
   */
  StopIterationAndBuffer = 1,
  /** As StopIterationAndBuffer, with back-pressure instead of failure past the limit. */
  StopIterationAndWatermark = 2,
  /** Drop this data from iteration (the filter has consumed or will re-inject it). */
  StopIterationNoBuffer = 3,
}

export enum FilterTrailersStatus {
  Continue = 0,
  StopIteration = 1,
}

/** Options of a local reply (Envoy's sendLocalReply arguments). */
export interface LocalReplyOptions {
  /** Extra response headers to set on the reply. */
  modifyHeaders?: (headers: HeaderMap) => void;
  /** For gRPC requests: the grpc-status to send (otherwise mapped from the HTTP code). */
  grpcStatus?: number;
  /** `%RESPONSE_CODE_DETAILS%`, e.g. `direct_response`, `upstream_reset_before_response_started{...}`. */
  details: string;
}

/** Callbacks common to decoder and encoder filters. */
export interface StreamFilterCallbacks {
  readonly streamInfo: StreamInfo;
  /** The route for this stream, computed lazily and cached (null: no route). */
  route(): Route | null;
  /** Drops the cached route so the next route() recomputes it (after header changes). */
  clearRouteCache(): void;
  /** Resets the stream in both directions. */
  resetStream(): void;
  /** Unique id of the stream within this process. */
  readonly streamId: number;
  /** The downstream connection's id (%CONNECTION_ID%). */
  readonly connectionId: number;
  /** The HCM's stat prefix scope name (e.g. `http.ingress_http.`). */
  readonly statPrefix: string;
  /**
   * The route's most specific `typed_per_filter_config` for this filter
   * (weighted cluster > route > virtual host > route configuration), as its
   * factory's createRouteSpecificFilterConfig compiled it; looked up by the
   * filter's config name (HttpFilter.name), then by its factory's canonical
   * name. Undefined when there is none or no route (Envoy's
   * mostSpecificPerFilterConfig()).
   */
  mostSpecificPerFilterConfig(): unknown;
}

export interface StreamDecoderFilterCallbacks extends StreamFilterCallbacks {
  /** Resumes decoding after a Stop status, from the next filter on. */
  continueDecoding(): void;
  /** Sends a response generated here; it runs through the encoder filters not yet passed. */
  sendLocalReply(code: number, body: string, options: LocalReplyOptions): void;
  /** The request headers (null before decodeHeaders). */
  requestHeaders(): HeaderMap | null;
  /** Starts the response from a decoder filter (the router does this). */
  encode1xxHeaders(headers: HeaderMap): void;
  encodeHeaders(headers: HeaderMap, endStream: boolean, details: string): void;
  encodeData(data: Buffer, endStream: boolean): void;
  encodeTrailers(trailers: HeaderMap): void;
  /** Request body buffered by StopIterationAndBuffer so far, or null. */
  decodingBuffer(): Buffer | null;
  /** Adds to the buffered request body (for a filter that re-injects data). */
  addDecodedData(data: Buffer, streamingFilter: boolean): void;
  /**
   * Passes `data` to the filters after this one (a filter that transforms the
   * body calls this, then returns StopIterationNoBuffer). Releases headers this
   * filter still holds first.
   */
  injectDecodedDataToFilterChain(data: Buffer, endStream: boolean): void;
  /** Inserts trailers during decodeData(endStream) processing. */
  addDecodedTrailers(): HeaderMap;
  /** Back-pressure from upstream: the filter asks the manager to stop reading downstream. */
  onDecoderFilterAboveWriteBufferHighWatermark(): void;
  onDecoderFilterBelowWriteBufferLowWatermark(): void;
  /** The router registers to learn when the downstream can take more response data. */
  addDownstreamWatermarkCallbacks(cb: DownstreamWatermarkCallbacks): void;
  removeDownstreamWatermarkCallbacks(cb: DownstreamWatermarkCallbacks): void;
  /** Soft limit in bytes for buffering (per_connection_buffer_limit_bytes). */
  decoderBufferLimit(): number;
  /** True when the downstream request is a protocol upgrade (WebSocket) the route allowed. */
  readonly upgradeType: string | null;
}

export interface StreamEncoderFilterCallbacks extends StreamFilterCallbacks {
  continueEncoding(): void;
  /** The response headers (null before encodeHeaders). */
  responseHeaders(): HeaderMap | null;
  encodingBuffer(): Buffer | null;
  /** Buffers response data; called from encodeTrailers it goes on at once, ahead of the trailers. */
  addEncodedData(data: Buffer, streamingFilter: boolean): void;
  /** As injectDecodedDataToFilterChain, toward the codec (releasing held response headers first). */
  injectEncodedDataToFilterChain(data: Buffer, endStream: boolean): void;
  addEncodedTrailers(): HeaderMap;
  /** Back-pressure from downstream into the encoder chain. */
  onEncoderFilterAboveWriteBufferHighWatermark(): void;
  onEncoderFilterBelowWriteBufferLowWatermark(): void;
  encoderBufferLimit(): number;
  sendLocalReply(code: number, body: string, options: LocalReplyOptions): void;
}

export interface DownstreamWatermarkCallbacks {
  onAboveWriteBufferHighWatermark(): void;
  onBelowWriteBufferLowWatermark(): void;
}

export interface StreamFilterBase {
  /**
   * The stream is going away (complete or reset). Release timers and upstream
   * work here; no callbacks may be used after this returns.
   */
  onDestroy(): void;
}

export interface StreamDecoderFilter extends StreamFilterBase {
  setDecoderFilterCallbacks(callbacks: StreamDecoderFilterCallbacks): void;
  decodeHeaders(headers: HeaderMap, endStream: boolean): FilterHeadersStatus;
  decodeData(data: Buffer, endStream: boolean): FilterDataStatus;
  decodeTrailers(trailers: HeaderMap): FilterTrailersStatus;
}

export interface StreamEncoderFilter extends StreamFilterBase {
  setEncoderFilterCallbacks(callbacks: StreamEncoderFilterCallbacks): void;
  encode1xxHeaders?(headers: HeaderMap): FilterHeadersStatus;
  encodeHeaders(headers: HeaderMap, endStream: boolean): FilterHeadersStatus;
  encodeData(data: Buffer, endStream: boolean): FilterDataStatus;
  encodeTrailers(trailers: HeaderMap): FilterTrailersStatus;
}

export interface StreamFilter extends StreamDecoderFilter, StreamEncoderFilter {}

/** Called when a stream completes, for access loggers. */
export interface AccessLogHandler {
  log(requestHeaders: HeaderMap | null, responseHeaders: HeaderMap | null,
      responseTrailers: HeaderMap | null, streamInfo: StreamInfo): void;
}

/** What a filter factory uses to install its filters on a new stream. */
export interface FilterChainFactoryCallbacks {
  addStreamDecoderFilter(filter: StreamDecoderFilter): void;
  addStreamEncoderFilter(filter: StreamEncoderFilter): void;
  addStreamFilter(filter: StreamFilter): void;
  addAccessLogHandler(handler: AccessLogHandler): void;
  /**
   * Names the filters the next factory adds: `configName` is the HttpFilter
   * `name` from the config, `filterName` the factory's canonical name (Envoy's
   * setFilterConfigName). The HCM calls it before each factory.
   */
  setFilterConfigName(configName: string, filterName: string): void;
}

/** Built once per filter config; called once per stream. */
export type FilterFactoryCb = (callbacks: FilterChainFactoryCallbacks) => void;

/**
 * Pass-through bases (Envoy's PassThroughFilter): extend and override only
 * the callbacks you need.
 */
export class PassThroughDecoderFilter implements StreamDecoderFilter {
  protected decoderCallbacks!: StreamDecoderFilterCallbacks;
  setDecoderFilterCallbacks(callbacks: StreamDecoderFilterCallbacks): void { this.decoderCallbacks = callbacks; }
  decodeHeaders(_headers: HeaderMap, _endStream: boolean): FilterHeadersStatus { return FilterHeadersStatus.Continue; }
  decodeData(_data: Buffer, _endStream: boolean): FilterDataStatus { return FilterDataStatus.Continue; }
  decodeTrailers(_trailers: HeaderMap): FilterTrailersStatus { return FilterTrailersStatus.Continue; }
  onDestroy(): void {}
}

export class PassThroughEncoderFilter implements StreamEncoderFilter {
  protected encoderCallbacks!: StreamEncoderFilterCallbacks;
  setEncoderFilterCallbacks(callbacks: StreamEncoderFilterCallbacks): void { this.encoderCallbacks = callbacks; }
  encodeHeaders(_headers: HeaderMap, _endStream: boolean): FilterHeadersStatus { return FilterHeadersStatus.Continue; }
  encodeData(_data: Buffer, _endStream: boolean): FilterDataStatus { return FilterDataStatus.Continue; }
  encodeTrailers(_trailers: HeaderMap): FilterTrailersStatus { return FilterTrailersStatus.Continue; }
  onDestroy(): void {}
}

export class PassThroughFilter implements StreamFilter {
  protected decoderCallbacks!: StreamDecoderFilterCallbacks;
  protected encoderCallbacks!: StreamEncoderFilterCallbacks;
  setDecoderFilterCallbacks(callbacks: StreamDecoderFilterCallbacks): void { this.decoderCallbacks = callbacks; }
  setEncoderFilterCallbacks(callbacks: StreamEncoderFilterCallbacks): void { this.encoderCallbacks = callbacks; }
  decodeHeaders(_headers: HeaderMap, _endStream: boolean): FilterHeadersStatus { return FilterHeadersStatus.Continue; }
  decodeData(_data: Buffer, _endStream: boolean): FilterDataStatus { return FilterDataStatus.Continue; }
  decodeTrailers(_trailers: HeaderMap): FilterTrailersStatus { return FilterTrailersStatus.Continue; }
  encodeHeaders(_headers: HeaderMap, _endStream: boolean): FilterHeadersStatus { return FilterHeadersStatus.Continue; }
  encodeData(_data: Buffer, _endStream: boolean): FilterDataStatus { return FilterDataStatus.Continue; }
  encodeTrailers(_trailers: HeaderMap): FilterTrailersStatus { return FilterTrailersStatus.Continue; }
  onDestroy(): void {}
}
