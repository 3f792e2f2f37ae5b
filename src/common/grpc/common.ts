/**
 * gRPC helpers shared by the router and the gRPC filters, after Envoy's
 * `source/common/grpc/common.cc` (Grpc::Common) and `envoy/grpc/status.h`.
 */
import type { HeaderMap } from '../../envoy/http/header_map.js';

/** Envoy's Grpc::Status::WellKnownGrpcStatus. */
export const enum GrpcStatus {
  Ok = 0,
  Canceled = 1,
  Unknown = 2,
  InvalidArgument = 3,
  DeadlineExceeded = 4,
  NotFound = 5,
  AlreadyExists = 6,
  PermissionDenied = 7,
  ResourceExhausted = 8,
  FailedPrecondition = 9,
  Aborted = 10,
  OutOfRange = 11,
  Unimplemented = 12,
  Internal = 13,
  Unavailable = 14,
  DataLoss = 15,
  Unauthenticated = 16,
}

const GRPC = 'application/grpc';

/**
 * Grpc::Common::hasGrpcContentType: exactly `application/grpc` or
 * `application/grpc+...` (so `application/grpc-web` is not gRPC).
 */
export function hasGrpcContentType(contentType: string | undefined): boolean {
  return contentType !== undefined && contentType.startsWith(GRPC)
    && (contentType.length === GRPC.length || contentType.charCodeAt(GRPC.length) === 43 /* + */);
}

/** Grpc::Common::isGrpcRequestHeaders: a :path and a gRPC content-type. */
export function isGrpcRequestHeaders(headers: HeaderMap): boolean {
  return headers.has(':path') && hasGrpcContentType(headers.get('content-type'));
}

/**
 * Grpc::Common::isGrpcResponseHeaders: a trailers-only response (end of
 * stream) needs only grpc-status; otherwise :status 200 and a gRPC content-type.
 */
export function isGrpcResponseHeaders(headers: HeaderMap, endStream: boolean): boolean {
  if (endStream) return headers.has('grpc-status');
  return headers.get(':status') === '200' && hasGrpcContentType(headers.get('content-type'));
}

/** TimeoutValue is at most 8 digits (gRPC over HTTP/2, "Requests"). */
export const MAX_GRPC_TIMEOUT_VALUE = 99_999_999;

/**
 * Grpc::Common::getGrpcTimeout: the `grpc-timeout` header in ms (u and n
 * round up to the next ms), or null when absent or malformed.
 */
export function getGrpcTimeout(headers: HeaderMap): number | null {
  const v = headers.get('grpc-timeout');
  if (v === undefined || v.length < 2 || v.length > 9) return null;
  const digits = v.slice(0, -1);
  if (!/^[0-9]+$/.test(digits)) return null;
  const n = Number(digits);
  switch (v.charCodeAt(v.length - 1)) {
    case 72: /* H */ return n * 3_600_000;
    case 77: /* M */ return n * 60_000;
    case 83: /* S */ return n * 1000;
    case 109: /* m */ return n;
    case 117: /* u */ return Math.ceil(n / 1000);
    case 110: /* n */ return Math.ceil(n / 1_000_000);
    default: return null;
  }
}

/**
 * Grpc::Common::toGrpcTimeout: ms as a `grpc-timeout` value, in ms while it
 * fits 8 digits, else seconds, minutes, hours (clipped at 99999999H).
 */
export function toGrpcTimeout(ms: number): string {
  let time = Math.max(0, Math.floor(ms));
  const units = 'mSMH';
  let unit = 0;
  if (time > MAX_GRPC_TIMEOUT_VALUE) {
    time = Math.floor(time / 1000);
    unit = 1;
  }
  while (time > MAX_GRPC_TIMEOUT_VALUE) {
    if (unit === 3) time = MAX_GRPC_TIMEOUT_VALUE;
    else { time = Math.floor(time / 60); unit++; }
  }
  return `${time}${units[unit]}`;
}

export interface RequestNames {
  readonly service: string;
  readonly method: string;
}

/**
 * Grpc::Common::resolveServiceAndMethod: `/pkg.Service/Method` → its two
 * parts; null unless the path has exactly two non-empty segments.
 */
export function resolveServiceAndMethod(path: string | undefined): RequestNames | null {
  if (path === undefined) return null;
  const parts = path.split('/').filter((p) => p.length > 0);
  if (parts.length !== 2) return null;
  return { service: parts[0]!, method: parts[1]! };
}

/**
 * Http::Utility::PercentEncoding::encode as gRPC wants grpc-message: bytes
 * outside ' '..'}' and '%' become %XX; everything else is kept.
 */
export function percentEncodeGrpcMessage(message: string): string {
  let plain = true;
  for (let i = 0; i < message.length; i++) {
    const c = message.charCodeAt(i);
    if (c < 0x20 || c >= 0x7e || c === 0x25) { plain = false; break; }
  }
  if (plain) return message;
  return percentEncodeBytes(Buffer.from(message, 'utf8'));
}

/** As percentEncodeGrpcMessage, for a body that may not be UTF-8. */
export function percentEncodeBytes(bytes: Buffer): string {
  let out = '';
  for (const b of bytes) {
    out += b < 0x20 || b >= 0x7e || b === 0x25 ? `%${b.toString(16).toUpperCase().padStart(2, '0')}` : String.fromCharCode(b);
  }
  return out;
}
