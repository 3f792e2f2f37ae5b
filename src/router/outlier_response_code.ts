/**
 * The status the router reports to outlier detection for an upstream
 * response, as Envoy's router does in onUpstreamHeaders: for a gRPC request
 * whose response headers carry `grpc-status` (trailers-only), that status
 * mapped to HTTP; otherwise `:status`.
 */
import type { HeaderMap } from '../envoy/http/header_map.js';
import { isGrpcRequestHeaders } from '../common/grpc/common.js';
import { grpcToHttpStatus } from '../common/grpc/grpc_to_http_status.js';

export function outlierResponseCode(responseHeaders: HeaderMap, requestHeaders: HeaderMap): number {
  const grpcStatus = responseHeaders.get('grpc-status');
  if (grpcStatus !== undefined && isGrpcRequestHeaders(requestHeaders)) {
    const n = Number(grpcStatus);
    if (Number.isInteger(n) && n >= 0) return grpcToHttpStatus(n);
  }
  return Number(responseHeaders.get(':status'));
}
