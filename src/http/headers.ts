import { hasGrpcContentType } from '../common/grpc/common.js';

/** Header names the connection manager and router use, lower-cased once (Envoy's Http::Headers). */
export const Headers = {
  Method: ':method',
  Path: ':path',
  Authority: ':authority',
  Scheme: ':scheme',
  Status: ':status',
  Protocol: ':protocol',
  Host: 'host',
  Connection: 'connection',
  KeepAlive: 'keep-alive',
  ProxyConnection: 'proxy-connection',
  TransferEncoding: 'transfer-encoding',
  Upgrade: 'upgrade',
  TE: 'te',
  Expect: 'expect',
  ContentLength: 'content-length',
  ContentType: 'content-type',
  Date: 'date',
  Server: 'server',
  Via: 'via',
  XForwardedFor: 'x-forwarded-for',
  XForwardedProto: 'x-forwarded-proto',
  XForwardedHost: 'x-forwarded-host',
  XRequestId: 'x-request-id',
  XEnvoyInternal: 'x-envoy-internal',
  XEnvoyExternalAddress: 'x-envoy-external-address',
  XEnvoyOriginalPath: 'x-envoy-original-path',
  XEnvoyUpstreamServiceTime: 'x-envoy-upstream-service-time',
  XEnvoyExpectedRqTimeoutMs: 'x-envoy-expected-rq-timeout-ms',
  XEnvoyUpstreamRqTimeoutMs: 'x-envoy-upstream-rq-timeout-ms',
  XEnvoyOverloaded: 'x-envoy-overloaded',
  XEnvoyImmediateHealthCheckFail: 'x-envoy-immediate-health-check-fail',
  GrpcStatus: 'grpc-status',
  GrpcMessage: 'grpc-message',
} as const;

/** HTTP status → gRPC status, as Envoy's Grpc::Utility::httpToGrpcStatus. */
export function httpToGrpcStatus(code: number): number {
  switch (code) {
    case 400: return 13; // INTERNAL
    case 401: return 16; // UNAUTHENTICATED
    case 403: return 7; // PERMISSION_DENIED
    case 404: return 12; // UNIMPLEMENTED
    case 429: case 502: case 503: case 504: return 14; // UNAVAILABLE
    default: return 2; // UNKNOWN
  }
}

/** Envoy's Grpc::Common::hasGrpcContentType: application/grpc or application/grpc+... (grpc-web is not gRPC). */
export function isGrpcRequest(contentType: string | undefined): boolean {
  return hasGrpcContentType(contentType);
}
