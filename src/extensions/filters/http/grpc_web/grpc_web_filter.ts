/**
 * `envoy.filters.http.grpc_web`, after Envoy's
 * `source/extensions/filters/http/grpc_web/grpc_web_filter.cc`: lets a
 * browser (gRPC-Web over HTTP/1.1 or HTTP/2) call a gRPC server.
 *
 *   request:  application/grpc-web[+proto]      -> application/grpc, te: trailers
 *             application/grpc-web-text[+proto] -> base64-decoded body (any chunking)
 *   response: gRPC trailers -> one trailers frame in the body (flag 0x80,
 *             "name:value\r\n" lines); base64 per frame when the client
 *             accepts grpc-web-text; a non-gRPC response becomes
 *             grpc-status (from the HTTP code) and grpc-message (the body).
 *
 * CORS is not this filter's job (envoy.filters.http.cors). Stats, as Envoy:
 * `cluster.<c>.grpc-web.<service>.<method>.{<status>,success,failure,total}`.
 */
import {
  FilterDataStatus,
  FilterHeadersStatus,
  FilterTrailersStatus,
  type StreamDecoderFilterCallbacks,
  type StreamEncoderFilterCallbacks,
  type StreamFilter,
} from '../../../../envoy/http/filter.js';
import type { HeaderMap } from '../../../../envoy/http/header_map.js';
import { GRPC_FRAME_HEADER_SIZE, GRPC_WEB_TRAILER_FLAG, GrpcFrameDecoder } from '../../../../common/grpc/codec.js';
import { isGrpcResponseHeaders, percentEncodeBytes, resolveServiceAndMethod } from '../../../../common/grpc/common.js';
import { httpToGrpcStatus } from '../../../../http/headers.js';
import type { GrpcContextImpl, RequestStatNames } from '../../../../common/grpc/context_impl.js';

const GRPC_WEB = 'application/grpc-web';
const GRPC_WEB_PROTO = 'application/grpc-web+proto';
const GRPC_WEB_TEXT = 'application/grpc-web-text';
const GRPC_WEB_TEXT_PROTO = 'application/grpc-web-text+proto';
const GRPC_WEB_CONTENT_TYPES = new Set([GRPC_WEB, GRPC_WEB_PROTO, GRPC_WEB_TEXT, GRPC_WEB_TEXT_PROTO]);

/** Envoy's MAX_BUFFERED_PLAINTEXT_LENGTH: at most this much of a non-gRPC body becomes grpc-message. */
const MAX_BUFFERED_PLAINTEXT_LENGTH = 16384;

/** A strict base64 alphabet check (Envoy's Base64::decode returns "" on bad input). */
const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;

/** Envoy's Base64::decode: a multiple of 4, valid alphabet, padding only at the end; null when invalid. */
function decodeBase64(text: Buffer): Buffer | null {
  const s = text.toString('latin1');
  if (s.length % 4 !== 0 || !BASE64_RE.test(s)) return null;
  // Padding must end the input: "QQ==QQ==" decodes as one unit per 4 chars only if '=' is last.
  const decoded = Buffer.from(s, 'base64');
  return decoded.length === 0 && s.length > 0 ? null : decoded;
}

/** Envoy's isGrpcWebRequest: a :path and one of the four gRPC-Web content types (exactly). */
export function isGrpcWebRequest(headers: HeaderMap): boolean {
  const ct = headers.get('content-type');
  return headers.has(':path') && ct !== undefined && GRPC_WEB_CONTENT_TYPES.has(ct);
}

/** A response already in gRPC-Web proto form: :status 200 and application/grpc-web[+proto] (parameters ignored). */
function isProtoEncodedGrpcWebResponseHeaders(headers: HeaderMap): boolean {
  if (headers.get(':status') !== '200') return false;
  const ct = headers.get('content-type');
  if (ct === undefined) return false;
  const semi = ct.indexOf(';');
  const media = (semi === -1 ? ct : ct.slice(0, semi)).trimEnd().toLowerCase();
  return media === GRPC_WEB_PROTO || media === GRPC_WEB;
}

export class GrpcWebFilter implements StreamFilter {
  private decoderCallbacks!: StreamDecoderFilterCallbacks;
  private encoderCallbacks!: StreamEncoderFilterCallbacks;
  private isGrpcWebRequest = false;
  private isTextRequest = false;
  private isTextResponse = false;
  /** Base64 characters of the request not yet a multiple of 4. */
  private decodingRemainder: Buffer | null = null;
  private readonly responseDecoder = new GrpcFrameDecoder();
  private needsTransformationForNonProtoEncodedResponse = false;
  /** Body of a non-gRPC response, kept for grpc-message (capped). */
  private plaintext: Buffer[] = [];
  private plaintextBytes = 0;
  private statNames: RequestStatNames | null = null;
  private clusterStatName: string | null = null;

  constructor(private readonly context: GrpcContextImpl) {}

  setDecoderFilterCallbacks(callbacks: StreamDecoderFilterCallbacks): void { this.decoderCallbacks = callbacks; }
  setEncoderFilterCallbacks(callbacks: StreamEncoderFilterCallbacks): void { this.encoderCallbacks = callbacks; }

  // ---- decode path ----
  decodeHeaders(headers: HeaderMap, _endStream: boolean): FilterHeadersStatus {
    if (!isGrpcWebRequest(headers)) return FilterHeadersStatus.Continue;
    this.isGrpcWebRequest = true;
    // content-length counts the HTTP/1.1 body, not what goes upstream (text is decoded, h2 has frames).
    headers.remove('content-length');
    this.setupStatTracking(headers);
    const ct = headers.get('content-type');
    this.isTextRequest = ct === GRPC_WEB_TEXT || ct === GRPC_WEB_TEXT_PROTO;
    headers.set('content-type', 'application/grpc');
    const accept = headers.get('accept');
    this.isTextResponse = accept === GRPC_WEB_TEXT || accept === GRPC_WEB_TEXT_PROTO;
    // gRPC over HTTP/2 requires te: trailers.
    headers.set('te', 'trailers');
    if (!headers.has('grpc-accept-encoding')) headers.set('grpc-accept-encoding', 'identity,deflate,gzip');
    return FilterHeadersStatus.Continue;
  }

  decodeData(data: Buffer, endStream: boolean): FilterDataStatus {
    if (!this.isGrpcWebRequest || !this.isTextRequest) return FilterDataStatus.Continue;
    const rem = this.decodingRemainder;
    const all = rem === null ? data : Buffer.concat([rem, data]);
    if (endStream) {
      if (all.length % 4 !== 0) {
        // Base64 padding is mandatory: a body that ends mid-quantum is invalid.
        this.decoderCallbacks.sendLocalReply(400, 'Bad gRPC-web request, invalid base64 data.', { details: 'grpc_base_64_decode_failed_bad_size' });
        return FilterDataStatus.StopIterationNoBuffer;
      }
    } else if (all.length < 4) {
      this.decodingRemainder = all;
      return FilterDataStatus.StopIterationNoBuffer;
    }
    const whole = all.length - (all.length % 4);
    let decoded: Buffer = Buffer.alloc(0);
    if (whole > 0) {
      const d = decodeBase64(all.subarray(0, whole));
      if (d === null) {
        this.decoderCallbacks.sendLocalReply(400, 'Bad gRPC-web request, invalid base64 data.', { details: 'grpc_base_64_decode_failed' });
        return FilterDataStatus.StopIterationNoBuffer;
      }
      decoded = d;
    }
    this.decodingRemainder = whole < all.length ? Buffer.from(all.subarray(whole)) : null;
    this.decoderCallbacks.injectDecodedDataToFilterChain(decoded, endStream);
    return FilterDataStatus.StopIterationNoBuffer;
  }

  decodeTrailers(_trailers: HeaderMap): FilterTrailersStatus { return FilterTrailersStatus.Continue; }

  // ---- encode path ----
  encodeHeaders(headers: HeaderMap, endStream: boolean): FilterHeadersStatus {
    if (!this.isGrpcWebRequest) return FilterHeadersStatus.Continue;
    this.chargeStat(headers);
    this.needsTransformationForNonProtoEncodedResponse =
      !isGrpcResponseHeaders(headers, endStream) && !isProtoEncodedGrpcWebResponseHeaders(headers);
    // The body changes length (trailers frame, base64).
    headers.remove('content-length');
    headers.set('content-type', this.isTextResponse ? GRPC_WEB_TEXT_PROTO : GRPC_WEB_PROTO);
    if (endStream || !this.needsTransformationForNonProtoEncodedResponse) return FilterHeadersStatus.Continue;
    // Hold the headers: the body becomes grpc-message.
    return FilterHeadersStatus.StopIteration;
  }

  encodeData(data: Buffer, endStream: boolean): FilterDataStatus {
    if (!this.isGrpcWebRequest) return FilterDataStatus.Continue;
    if (this.needsTransformationForNonProtoEncodedResponse) {
      this.keepPlaintext(data);
      if (!endStream) return FilterDataStatus.StopIterationNoBuffer;
      this.needsTransformationForNonProtoEncodedResponse = false;
      this.setTransformedNonProtoEncodedResponseHeaders();
      this.encoderCallbacks.injectEncodedDataToFilterChain(Buffer.alloc(0), true);
      return FilterDataStatus.StopIterationNoBuffer;
    }
    if (!this.isTextResponse) return FilterDataStatus.Continue;
    // Text: re-encode each whole gRPC frame as its own base64 unit.
    const frames = this.responseDecoder.decode(data);
    if (frames.length === 0) {
      if (endStream) this.encoderCallbacks.injectEncodedDataToFilterChain(Buffer.alloc(0), true);
      return FilterDataStatus.StopIterationNoBuffer;
    }
    const out = frames.length === 1
      ? Buffer.from(frames[0]!.wire.toString('base64'), 'latin1')
      : Buffer.from(frames.map((f) => f.wire.toString('base64')).join(''), 'latin1');
    this.encoderCallbacks.injectEncodedDataToFilterChain(out, endStream);
    return FilterDataStatus.StopIterationNoBuffer;
  }

  encodeTrailers(trailers: HeaderMap): FilterTrailersStatus {
    if (!this.isGrpcWebRequest) return FilterTrailersStatus.Continue;
    this.chargeStat(trailers);
    if (this.needsTransformationForNonProtoEncodedResponse) {
      this.setTransformedNonProtoEncodedResponseHeaders();
      return FilterTrailersStatus.Continue;
    }
    // All trailers become one trailers frame in the body, "name:value\r\n" each.
    let text = '';
    const names: string[] = [];
    trailers.forEach((name, value) => { text += `${name}:${value}\r\n`; names.push(name); });
    for (const n of names) trailers.remove(n);
    const payload = Buffer.from(text, 'latin1');
    const frame = Buffer.allocUnsafe(GRPC_FRAME_HEADER_SIZE + payload.length);
    frame[0] = GRPC_WEB_TRAILER_FLAG;
    frame.writeUInt32BE(payload.length, 1);
    payload.copy(frame, GRPC_FRAME_HEADER_SIZE);
    this.encoderCallbacks.addEncodedData(this.isTextResponse ? Buffer.from(frame.toString('base64'), 'latin1') : frame, true);
    return FilterTrailersStatus.Continue;
  }

  onDestroy(): void {}

  private keepPlaintext(data: Buffer): void {
    const room = MAX_BUFFERED_PLAINTEXT_LENGTH - this.plaintextBytes;
    // Envoy keeps at most the cap once data was buffered; a single last chunk is kept whole.
    if (this.plaintextBytes === 0 && data.length > room) {
      this.plaintext.push(data);
      this.plaintextBytes += data.length;
      return;
    }
    if (room <= 0) return;
    const part = data.length > room ? data.subarray(0, room) : data;
    this.plaintext.push(part);
    this.plaintextBytes += part.length;
  }

  /** grpc-status from the HTTP code, grpc-message from the body, and an empty body. */
  private setTransformedNonProtoEncodedResponseHeaders(): void {
    const headers = this.encoderCallbacks.responseHeaders()!;
    const body = this.plaintext.length === 1 ? this.plaintext[0]! : Buffer.concat(this.plaintext);
    this.plaintext = [];
    headers.set('grpc-message', percentEncodeBytes(body));
    headers.set('grpc-status', String(httpToGrpcStatus(Number(headers.get(':status')))));
    headers.set('content-length', '0');
  }

  private setupStatTracking(headers: HeaderMap): void {
    const route = this.decoderCallbacks.route();
    const entry = route?.routeEntry ?? null;
    if (entry === null) return;
    // Envoy charges the route's cluster (clusterInfo()); weighted clusters use the first pick here.
    const cluster = entry.clusterName(headers, 0);
    const statName = cluster === null ? null : this.context.clusterStatName(cluster);
    if (statName === null) return;
    const names = resolveServiceAndMethod(headers.get(':path'));
    if (names === null) return;
    this.clusterStatName = statName;
    this.statNames = this.context.dynamicNames(names, false);
  }

  private chargeStat(headers: HeaderMap): void {
    if (this.statNames === null || this.clusterStatName === null) return;
    this.context.chargeStat(this.clusterStatName, 'grpc-web', this.statNames, headers.get('grpc-status'));
  }
}
