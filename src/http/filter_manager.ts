/**
 * FilterManager: runs a stream's HTTP filters, after Envoy's
 * `source/common/http/filter_manager.cc`. Decoder filters see the request in
 * config order; encoder filters see the response in reverse order. A filter
 * that returns a Stop status holds iteration at itself until it calls
 * continueDecoding()/continueEncoding(); the manager buffers what arrives
 * meanwhile when the status asks for it.
 *
 *   codec -> decodeHeaders/Data/Trailers -> [f0 -> f1 -> ... -> router]
 *   codec <- encodeHeaders/Data/Trailers <- [e0 <- e1 <- ... <- router]
 */
import {
  FilterDataStatus,
  FilterHeadersStatus,
  FilterTrailersStatus,
  type AccessLogHandler,
  type DownstreamWatermarkCallbacks,
  type FilterChainFactoryCallbacks,
  type LocalReplyOptions,
  type StreamDecoderFilter,
  type StreamDecoderFilterCallbacks,
  type StreamEncoderFilter,
  type StreamEncoderFilterCallbacks,
  type StreamFilter,
} from '../envoy/http/filter.js';
import type { HeaderMap } from '../envoy/http/header_map.js';
import type { Route } from '../envoy/router/router.js';
import type { StreamInfo } from '../envoy/stream_info/stream_info.js';
import { HeaderMapImpl } from './codec/header_map_impl.js';

/** What the manager needs from the stream that owns it (the ActiveStream). */
export interface FilterManagerCallbacks {
  /** Final response headers, after every encoder filter. */
  encodeHeadersToCodec(headers: HeaderMap, endStream: boolean): void;
  encodeDataToCodec(data: Buffer, endStream: boolean): void;
  encodeTrailersToCodec(trailers: HeaderMap): void;
  encode1xxToCodec(headers: HeaderMap): void;
  /** Builds and sends a local reply (the manager runs it through encoder filters). */
  sendLocalReply(code: number, body: string, options: LocalReplyOptions, fromEncoder: boolean): void;
  route(): Route | null;
  clearRouteCache(): void;
  resetStream(): void;
  readDisableDownstream(disable: boolean): void;
  bufferLimit(): number;
  readonly streamId: number;
  readonly connectionId: number;
  readonly statPrefix: string;
  readonly upgradeType: string | null;
}

const enum IterationState {
  Continue,
  StopSingle,
  StopAllBuffer,
  StopAllWatermark,
}

abstract class ActiveFilterBase {
  iterationState = IterationState.Continue;
  headersContinued = false;
  /** Headers reached this filter (so data may too). */
  headersCalled = false;
  /** A data callback returned a buffering stop; the next Continue flushes the buffer. */
  dataStopped = false;
  endStreamPassed = false;

  constructor(readonly parent: FilterManager, readonly index: number) {}

  get streamInfo(): StreamInfo { return this.parent.streamInfo; }
  get streamId(): number { return this.parent.cb.streamId; }
  get connectionId(): number { return this.parent.cb.connectionId; }
  get statPrefix(): string { return this.parent.cb.statPrefix; }
  get upgradeType(): string | null { return this.parent.cb.upgradeType; }
  route(): Route | null { return this.parent.cb.route(); }
  clearRouteCache(): void { this.parent.cb.clearRouteCache(); }
  resetStream(): void { this.parent.cb.resetStream(); }
}

class ActiveDecoderFilter extends ActiveFilterBase implements StreamDecoderFilterCallbacks {
  constructor(parent: FilterManager, index: number, readonly filter: StreamDecoderFilter) {
    super(parent, index);
  }
  continueDecoding(): void { this.parent.continueDecoding(this); }
  sendLocalReply(code: number, body: string, options: LocalReplyOptions): void {
    this.parent.cb.sendLocalReply(code, body, options, false);
  }
  requestHeaders(): HeaderMap | null { return this.parent.requestHeaders; }
  encode1xxHeaders(headers: HeaderMap): void { this.parent.encode1xxHeaders(headers); }
  encodeHeaders(headers: HeaderMap, endStream: boolean, details: string): void {
    this.parent.streamInfo.responseCodeDetails ??= details;
    this.parent.encodeHeaders(this.parent.encoderFilters.length - 1, headers, endStream);
  }
  encodeData(data: Buffer, endStream: boolean): void {
    this.parent.encodeData(this.parent.encoderFilters.length - 1, data, endStream);
  }
  encodeTrailers(trailers: HeaderMap): void {
    this.parent.encodeTrailers(this.parent.encoderFilters.length - 1, trailers);
  }
  decodingBuffer(): Buffer | null { return this.parent.decodeBufferPeek(); }
  addDecodedData(data: Buffer, _streamingFilter: boolean): void { this.parent.bufferDecodeData(data); }
  injectDecodedDataToFilterChain(data: Buffer, endStream: boolean): void { this.parent.injectDecodedData(this, data, endStream); }
  addDecodedTrailers(): HeaderMap {
    const t = new HeaderMapImpl();
    this.parent.requestTrailers = t;
    return t;
  }
  onDecoderFilterAboveWriteBufferHighWatermark(): void { this.parent.cb.readDisableDownstream(true); }
  onDecoderFilterBelowWriteBufferLowWatermark(): void { this.parent.cb.readDisableDownstream(false); }
  addDownstreamWatermarkCallbacks(cb: DownstreamWatermarkCallbacks): void { this.parent.watermarkCallbacks.add(cb); }
  removeDownstreamWatermarkCallbacks(cb: DownstreamWatermarkCallbacks): void { this.parent.watermarkCallbacks.delete(cb); }
  decoderBufferLimit(): number { return this.parent.cb.bufferLimit(); }
}

class ActiveEncoderFilter extends ActiveFilterBase implements StreamEncoderFilterCallbacks {
  constructor(parent: FilterManager, index: number, readonly filter: StreamEncoderFilter) {
    super(parent, index);
  }
  continueEncoding(): void { this.parent.continueEncoding(this); }
  responseHeaders(): HeaderMap | null { return this.parent.responseHeaders; }
  encodingBuffer(): Buffer | null { return this.parent.encodeBufferPeek(); }
  addEncodedData(data: Buffer, _streamingFilter: boolean): void {
    // Added while this filter handles the trailers: it goes on at once, ahead of them (Envoy's inline dispatch).
    if (this.parent.encodingTrailersAt === this.index) this.parent.encodeData(this.index - 1, data, false);
    else this.parent.bufferEncodeData(data);
  }
  injectEncodedDataToFilterChain(data: Buffer, endStream: boolean): void { this.parent.injectEncodedData(this, data, endStream); }
  addEncodedTrailers(): HeaderMap {
    const t = new HeaderMapImpl();
    this.parent.responseTrailers = t;
    return t;
  }
  onEncoderFilterAboveWriteBufferHighWatermark(): void { this.parent.onDownstreamAboveHighWatermark(); }
  onEncoderFilterBelowWriteBufferLowWatermark(): void { this.parent.onDownstreamBelowLowWatermark(); }
  encoderBufferLimit(): number { return this.parent.cb.bufferLimit(); }
  sendLocalReply(code: number, body: string, options: LocalReplyOptions): void {
    this.parent.cb.sendLocalReply(code, body, options, true);
  }
}

export class FilterManager implements FilterChainFactoryCallbacks {
  readonly decoderFilters: ActiveDecoderFilter[] = [];
  /** In config order; iterated from the end. */
  readonly encoderFilters: ActiveEncoderFilter[] = [];
  readonly accessLogHandlers: AccessLogHandler[] = [];
  readonly watermarkCallbacks = new Set<DownstreamWatermarkCallbacks>();
  requestHeaders: HeaderMap | null = null;
  requestTrailers: HeaderMap | null = null;
  responseHeaders: HeaderMap | null = null;
  responseTrailers: HeaderMap | null = null;
  /** The whole request has arrived from downstream. */
  decodeComplete = false;
  /** The whole response has been handed to the codec. */
  encodeComplete = false;
  responseHeadersStarted = false;
  private decodeBuffer: Buffer[] | null = null;
  private decodeBufferBytes = 0;
  private encodeBuffer: Buffer[] | null = null;
  private encodeBufferBytes = 0;
  private downstreamAboveHighWatermark = 0;
  destroyed = false;

  constructor(readonly cb: FilterManagerCallbacks, readonly streamInfo: StreamInfo) {}

  // ---- FilterChainFactoryCallbacks ----
  addStreamDecoderFilter(filter: StreamDecoderFilter): void {
    const a = new ActiveDecoderFilter(this, this.decoderFilters.length, filter);
    this.decoderFilters.push(a);
    filter.setDecoderFilterCallbacks(a);
  }
  addStreamEncoderFilter(filter: StreamEncoderFilter): void {
    const a = new ActiveEncoderFilter(this, this.encoderFilters.length, filter);
    this.encoderFilters.push(a);
    filter.setEncoderFilterCallbacks(a);
  }
  addStreamFilter(filter: StreamFilter): void {
    this.addStreamDecoderFilter(filter);
    this.addStreamEncoderFilter(filter);
  }
  addAccessLogHandler(handler: AccessLogHandler): void { this.accessLogHandlers.push(handler); }

  // ---- decode path ----
  decodeHeaders(from: number, headers: HeaderMap, endStream: boolean): void {
    this.requestHeaders = headers;
    const filters = this.decoderFilters;
    for (let i = from; i < filters.length; i++) {
      const f = filters[i]!;
      f.headersCalled = true;
      // Trailers or buffered data still to come mean this is not the end for the filter.
      const end = endStream && this.decodeBuffer === null && this.requestTrailers === null;
      const status = f.filter.decodeHeaders(headers, end);
      if (this.destroyed || this.responseComplete()) return;
      if (end) f.endStreamPassed = true;
      if (status === FilterHeadersStatus.Continue) {
        f.headersContinued = true;
        continue;
      }
      f.iterationState = status === FilterHeadersStatus.StopIteration ? IterationState.StopSingle
        : status === FilterHeadersStatus.StopAllIterationAndBuffer ? IterationState.StopAllBuffer
        : IterationState.StopAllWatermark;
      return;
    }
  }

  decodeData(from: number, data: Buffer, endStream: boolean): void {
    const filters = this.decoderFilters;
    for (let i = from; i < filters.length; i++) {
      const f = filters[i]!;
      if (!f.headersCalled) return; // an earlier filter holds the headers; data was buffered there
      if (f.iterationState === IterationState.StopAllBuffer || f.iterationState === IterationState.StopAllWatermark) {
        this.bufferDecodeData(data);
        return;
      }
      const end = endStream && this.requestTrailers === null;
      const status = f.filter.decodeData(data, end);
      if (this.destroyed || this.responseComplete()) return;
      if (end) f.endStreamPassed = true;
      if (status === FilterDataStatus.Continue) {
        if (f.iterationState === IterationState.StopSingle || f.dataStopped) {
          // Continue from data also releases held headers and buffered data (Envoy semantics).
          this.bufferDecodeData(data);
          this.continueDecoding(f);
          return;
        }
        continue;
      }
      if (status === FilterDataStatus.StopIterationAndBuffer || status === FilterDataStatus.StopIterationAndWatermark) {
        f.dataStopped = true;
        this.bufferDecodeData(data);
        if (this.decodeBufferBytes > this.cb.bufferLimit()) {
          if (status === FilterDataStatus.StopIterationAndBuffer) {
            this.cb.sendLocalReply(413, 'Payload Too Large', { details: 'request_payload_too_large' }, false);
          } else {
            this.cb.readDisableDownstream(true);
          }
        }
        return;
      }
      // StopIterationNoBuffer: the filter owns the data.
      f.dataStopped = true;
      return;
    }
  }

  decodeTrailers(from: number, trailers: HeaderMap): void {
    this.requestTrailers = trailers;
    const filters = this.decoderFilters;
    for (let i = from; i < filters.length; i++) {
      const f = filters[i]!;
      // StopAll*: the filter sees its buffered data first; continueDecoding brings the trailers.
      if (!f.headersCalled || f.iterationState === IterationState.StopAllBuffer || f.iterationState === IterationState.StopAllWatermark) return;
      // A filter that stopped on headers or data still gets the trailers itself (Envoy delivers
      // them to the filter holding the stream); Continue from it resumes the iteration.
      const wasStopped = f.iterationState !== IterationState.Continue || f.dataStopped;
      const status = f.filter.decodeTrailers(trailers);
      if (this.destroyed || this.responseComplete()) return;
      f.endStreamPassed = true;
      if (status === FilterTrailersStatus.StopIteration) {
        f.iterationState = IterationState.StopSingle;
        return;
      }
      if (wasStopped) {
        this.continueDecoding(f);
        return;
      }
    }
  }

  /** A decoder filter passes (transformed) data on to the filters after it. */
  injectDecodedData(f: ActiveDecoderFilter, data: Buffer, endStream: boolean): void {
    if (this.destroyed) return;
    if (!f.headersContinued) {
      f.headersContinued = true;
      f.iterationState = IterationState.Continue;
      this.decodeHeaders(f.index + 1, this.requestHeaders!, false);
      if (this.destroyed || this.responseComplete()) return;
    }
    this.decodeData(f.index + 1, data, endStream);
  }

  /** Resumes after filter `f` stopped: headers (if held), buffered data, trailers. */
  continueDecoding(f: ActiveDecoderFilter): void {
    if (this.destroyed) return;
    // After StopAll*, the filter itself has not seen the buffered data yet (Envoy's CanStartFromCurrent).
    const dataFrom = f.iterationState === IterationState.StopAllBuffer || f.iterationState === IterationState.StopAllWatermark ? f.index : f.index + 1;
    f.iterationState = IterationState.Continue;
    f.dataStopped = false;
    const next = f.index + 1;
    if (!f.headersContinued) {
      f.headersContinued = true;
      const end = this.decodeComplete && this.decodeBuffer === null && this.requestTrailers === null;
      this.decodeHeaders(next, this.requestHeaders!, end);
      if (this.destroyed) return;
      // A later filter that stopped on the headers with StopAll* now holds everything; one that
      // returned StopIteration (the router) still gets the buffered data and trailers below.
      if (this.responseComplete() || (next < this.decoderFilters.length && this.stoppedAllAt(next))) return;
    }
    if (this.decodeBuffer !== null) {
      const data = this.takeDecodeBuffer();
      const end = this.decodeComplete && this.requestTrailers === null;
      this.decodeData(dataFrom, data, end);
      if (this.destroyed) return;
    }
    if (this.requestTrailers !== null && this.decodeComplete && next < this.decoderFilters.length) {
      if (!this.decoderFilters[next]!.endStreamPassed) this.decodeTrailers(next, this.requestTrailers);
    }
  }

  private stoppedAllAt(from: number): boolean {
    for (let i = from; i < this.decoderFilters.length; i++) {
      const state = this.decoderFilters[i]!.iterationState;
      if (state === IterationState.StopAllBuffer || state === IterationState.StopAllWatermark) return true;
    }
    return false;
  }

  bufferDecodeData(data: Buffer): void {
    if (data.length === 0) return;
    (this.decodeBuffer ??= []).push(data);
    this.decodeBufferBytes += data.length;
  }
  decodeBufferPeek(): Buffer | null {
    if (this.decodeBuffer === null) return null;
    if (this.decodeBuffer.length > 1) this.decodeBuffer = [Buffer.concat(this.decodeBuffer)];
    return this.decodeBuffer[0]!;
  }
  private takeDecodeBuffer(): Buffer {
    const b = this.decodeBuffer!;
    this.decodeBuffer = null;
    this.decodeBufferBytes = 0;
    return b.length === 1 ? b[0]! : Buffer.concat(b);
  }

  // ---- encode path (iterates from `from` down to 0) ----
  encode1xxHeaders(headers: HeaderMap): void {
    for (let i = this.encoderFilters.length - 1; i >= 0; i--) {
      const f = this.encoderFilters[i]!.filter;
      if (f.encode1xxHeaders !== undefined && f.encode1xxHeaders(headers) !== FilterHeadersStatus.Continue) return;
    }
    this.cb.encode1xxToCodec(headers);
  }

  encodeHeaders(from: number, headers: HeaderMap, endStream: boolean): void {
    this.responseHeaders = headers;
    this.responseHeadersStarted = true;
    const filters = this.encoderFilters;
    for (let i = from; i >= 0; i--) {
      const f = filters[i]!;
      f.headersCalled = true;
      const end = endStream && this.encodeBuffer === null && this.responseTrailers === null;
      const status = f.filter.encodeHeaders(headers, end);
      if (this.destroyed) return;
      if (end) f.endStreamPassed = true;
      if (status === FilterHeadersStatus.Continue) { f.headersContinued = true; continue; }
      if (endStream) this.encodeEndPending = true;
      f.iterationState = status === FilterHeadersStatus.StopIteration ? IterationState.StopSingle
        : status === FilterHeadersStatus.StopAllIterationAndBuffer ? IterationState.StopAllBuffer
        : IterationState.StopAllWatermark;
      return;
    }
    const end = endStream && this.encodeBuffer === null && this.responseTrailers === null;
    if (end) this.encodeComplete = true;
    this.cb.encodeHeadersToCodec(headers, end);
  }

  encodeData(from: number, data: Buffer, endStream: boolean): void {
    const filters = this.encoderFilters;
    for (let i = from; i >= 0; i--) {
      const f = filters[i]!;
      if (!f.headersCalled) return;
      if (f.iterationState === IterationState.StopAllBuffer || f.iterationState === IterationState.StopAllWatermark) {
        this.bufferEncodeData(data);
        if (endStream) this.encodeEndPending = true;
        return;
      }
      const end = endStream && this.responseTrailers === null;
      const status = f.filter.encodeData(data, end);
      if (this.destroyed) return;
      if (end) f.endStreamPassed = true;
      if (status === FilterDataStatus.Continue) {
        if (f.iterationState === IterationState.StopSingle || f.dataStopped) {
          this.bufferEncodeData(data);
          if (endStream) this.encodeEndPending = true;
          this.continueEncoding(f);
          return;
        }
        continue;
      }
      if (endStream) this.encodeEndPending = true;
      if (status === FilterDataStatus.StopIterationAndBuffer || status === FilterDataStatus.StopIterationAndWatermark) {
        f.dataStopped = true;
        this.bufferEncodeData(data);
        if (status === FilterDataStatus.StopIterationAndBuffer && this.encodeBufferBytes > this.cb.bufferLimit()) {
          // Envoy answers 500 when a buffering encoder filter overflows before headers went out.
          this.cb.sendLocalReply(500, 'Internal Server Error', { details: 'response_payload_too_large' }, true);
        }
        return;
      }
      f.dataStopped = true;
      return;
    }
    const end = endStream && this.responseTrailers === null;
    if (end) this.encodeComplete = true;
    this.cb.encodeDataToCodec(data, end);
  }

  private encodeEndPending = false;

  /** Index of the encoder filter inside encodeTrailers (for addEncodedData), or -1. */
  encodingTrailersAt = -1;

  encodeTrailers(from: number, trailers: HeaderMap): void {
    this.responseTrailers = trailers;
    for (let i = from; i >= 0; i--) {
      const f = this.encoderFilters[i]!;
      if (!f.headersCalled || f.iterationState === IterationState.StopAllBuffer || f.iterationState === IterationState.StopAllWatermark) return;
      this.encodingTrailersAt = i;
      const status = f.filter.encodeTrailers(trailers);
      this.encodingTrailersAt = -1;
      if (this.destroyed) return;
      f.endStreamPassed = true;
      if (status === FilterTrailersStatus.StopIteration) {
        f.iterationState = IterationState.StopSingle;
        return;
      }
      if (f.iterationState !== IterationState.Continue || f.dataStopped) {
        this.continueEncoding(f);
        return;
      }
    }
    this.encodeComplete = true;
    this.cb.encodeTrailersToCodec(trailers);
  }

  /** An encoder filter passes (transformed) data on toward the codec, releasing its held headers first. */
  injectEncodedData(f: ActiveEncoderFilter, data: Buffer, endStream: boolean): void {
    if (this.destroyed) return;
    if (!f.headersContinued) {
      f.headersContinued = true;
      f.iterationState = IterationState.Continue;
      this.encodeHeaders(f.index - 1, this.responseHeaders!, false);
      if (this.destroyed) return;
    }
    this.encodeData(f.index - 1, data, endStream);
  }

  continueEncoding(f: ActiveEncoderFilter): void {
    if (this.destroyed) return;
    const dataFrom = f.iterationState === IterationState.StopAllBuffer || f.iterationState === IterationState.StopAllWatermark ? f.index : f.index - 1;
    f.iterationState = IterationState.Continue;
    f.dataStopped = false;
    const next = f.index - 1;
    const endAfterData = this.encodeEndPending;
    if (!f.headersContinued) {
      f.headersContinued = true;
      const end = endAfterData && this.encodeBuffer === null && this.responseTrailers === null;
      this.encodeHeaders(next, this.responseHeaders!, end);
      if (this.destroyed) return;
      for (let i = next; i >= 0; i--) if (this.encoderFilters[i]!.iterationState !== IterationState.Continue) return;
    }
    if (this.encodeBuffer !== null) {
      const b = this.encodeBuffer;
      this.encodeBuffer = null;
      this.encodeBufferBytes = 0;
      const data = b.length === 1 ? b[0]! : Buffer.concat(b);
      this.encodeData(dataFrom, data, endAfterData && this.responseTrailers === null);
      if (this.destroyed) return;
    }
    if (this.responseTrailers !== null && !this.encodeComplete) this.encodeTrailers(next, this.responseTrailers);
  }

  bufferEncodeData(data: Buffer): void {
    if (data.length === 0) return;
    (this.encodeBuffer ??= []).push(data);
    this.encodeBufferBytes += data.length;
  }
  encodeBufferPeek(): Buffer | null {
    if (this.encodeBuffer === null) return null;
    if (this.encodeBuffer.length > 1) this.encodeBuffer = [Buffer.concat(this.encodeBuffer)];
    return this.encodeBuffer[0]!;
  }

  // ---- watermarks from the downstream connection ----
  onDownstreamAboveHighWatermark(): void {
    if (this.downstreamAboveHighWatermark++ === 0) {
      for (const cb of this.watermarkCallbacks) cb.onAboveWriteBufferHighWatermark();
    }
  }
  onDownstreamBelowLowWatermark(): void {
    if (this.downstreamAboveHighWatermark > 0 && --this.downstreamAboveHighWatermark === 0) {
      for (const cb of this.watermarkCallbacks) cb.onBelowWriteBufferLowWatermark();
    }
  }

  /** True once a complete response went to the codec (a local reply ends decoding). */
  responseComplete(): boolean { return this.encodeComplete; }

  /** Clears state for a local reply that replaces whatever the encoder filters held. */
  resetEncodeState(): void {
    this.encodeBuffer = null;
    this.encodeBufferBytes = 0;
    this.responseTrailers = null;
    this.encodeEndPending = false;
    for (const f of this.encoderFilters) {
      f.iterationState = IterationState.Continue;
      f.headersCalled = false;
      f.headersContinued = false;
      f.dataStopped = false;
    }
  }

  destroyFilters(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    const seen = new Set<object>();
    for (const f of this.decoderFilters) { seen.add(f.filter); f.filter.onDestroy(); }
    for (const f of this.encoderFilters) if (!seen.has(f.filter)) f.filter.onDestroy();
  }
}
