/** gRPC status → HTTP status, after Envoy's `Grpc::Utility::grpcToHttpStatus` (source/common/grpc/status.cc). */
import { GrpcStatus } from './common.js';

export function grpcToHttpStatus(status: number): number {
  switch (status) {
    case GrpcStatus.Ok: return 200;
    case GrpcStatus.Canceled: return 499; // client closed request (nginx's code)
    case GrpcStatus.Unknown: return 500;
    case GrpcStatus.InvalidArgument: return 400;
    case GrpcStatus.DeadlineExceeded: return 504;
    case GrpcStatus.NotFound: return 404;
    case GrpcStatus.AlreadyExists: return 409;
    case GrpcStatus.PermissionDenied: return 403;
    case GrpcStatus.ResourceExhausted: return 429;
    case GrpcStatus.FailedPrecondition: return 400;
    case GrpcStatus.Aborted: return 409;
    case GrpcStatus.OutOfRange: return 400;
    case GrpcStatus.Unimplemented: return 501;
    case GrpcStatus.Internal: return 500;
    case GrpcStatus.Unavailable: return 503;
    case GrpcStatus.DataLoss: return 500;
    case GrpcStatus.Unauthenticated: return 401;
    default: return 500;
  }
}
