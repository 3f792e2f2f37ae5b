/**
 * Request deadlines, after Envoy's FilterUtility::finalTimeout
 * (source/common/router/router.cc) and the connection manager's
 * refreshDurationTimeout (source/common/http/conn_manager_impl.cc).
 *
 * Two regimes, chosen by the route:
 * - legacy (no `max_stream_duration`): the router's global timeout is the
 *   route `timeout`; for a gRPC request with `max_grpc_timeout` it is the
 *   grpc-timeout header minus `grpc_timeout_offset`, capped at the max (0 =
 *   infinite), and grpc-timeout is rewritten to it upstream. Expiry: 504 UT.
 * - `max_stream_duration` set: the router has no global timeout; the stream
 *   is bounded by max_stream_duration, or for gRPC with
 *   `grpc_timeout_header_max` by grpc-timeout (capped, minus the offset),
 *   which is then rewritten upstream. Expiry: 408/504 "downstream duration
 *   timeout" (gRPC: DEADLINE_EXCEEDED).
 */
import type { HeaderMap } from '../envoy/http/header_map.js';
import type { RouteEntry } from '../envoy/router/router.js';
import { getGrpcTimeout, toGrpcTimeout } from '../common/grpc/common.js';

/** The router's global (response) timeout in ms, 0 = none (before x-envoy-upstream-rq-timeout-ms). */
export function routeGlobalTimeoutMs(entry: RouteEntry, headers: HeaderMap, grpcRequest: boolean): number {
  if (entry.usingNewTimeouts) return 0;
  const max = entry.maxGrpcTimeoutMs;
  if (!grpcRequest || max === null) return entry.timeoutMs;
  let t = getGrpcTimeout(headers) ?? 0;
  const offset = entry.grpcTimeoutOffsetMs;
  // The offset applies only when it leaves something: 0 would mean infinite.
  if (offset !== null && offset < t) t -= offset;
  if (max !== 0 && (t === 0 || t > max)) t = max;
  return t;
}

/** Legacy regime: tell the upstream gRPC server the deadline the router enforces. */
export function setGrpcTimeoutHeader(entry: RouteEntry, headers: HeaderMap, grpcRequest: boolean, expectedTimeoutMs: number): void {
  if (grpcRequest && !entry.usingNewTimeouts && entry.maxGrpcTimeoutMs !== null && expectedTimeoutMs > 0) {
    headers.set('grpc-timeout', toGrpcTimeout(expectedTimeoutMs));
  }
}

/**
 * The stream's max duration in ms from the stream start (null = none), and
 * for gRPC under max_stream_duration the grpc-timeout header is set to it.
 * `hcmMaxStreamDurationMs` is the HCM's common_http_protocol_options
 * max_stream_duration (used when the route sets none; not wired yet).
 */
export function streamDurationTimeoutMs(entry: RouteEntry, headers: HeaderMap, grpcRequest: boolean, hcmMaxStreamDurationMs: number | null = null): number | null {
  const grpcTimeout = getGrpcTimeout(headers);
  const headerMax = entry.grpcTimeoutHeaderMaxMs;
  let timeout: number;
  if (grpcTimeout === null || headerMax === null) {
    const msd = entry.maxStreamDurationMs;
    if (msd !== null) {
      if (msd === 0) return null; // explicitly no limit
      timeout = msd;
    } else if (hcmMaxStreamDurationMs !== null && hcmMaxStreamDurationMs > 0) {
      timeout = hcmMaxStreamDurationMs;
    } else {
      return null;
    }
  } else {
    timeout = grpcTimeout;
    if (headerMax !== 0 && timeout > headerMax) timeout = headerMax;
    const offset = entry.grpcTimeoutHeaderOffsetMs;
    if (timeout !== 0 && offset !== null) timeout = offset < timeout ? timeout - offset : 0;
  }
  if (grpcRequest && entry.usingNewTimeouts) headers.set('grpc-timeout', toGrpcTimeout(timeout));
  return timeout;
}
