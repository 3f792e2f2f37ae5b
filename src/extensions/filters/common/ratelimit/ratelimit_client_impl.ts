/**
 * The client of a Rate Limit Service (`envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit`),
 * after Envoy's `GrpcClientImpl`
 * (source/extensions/filters/common/ratelimit/ratelimit_impl.cc): one unary
 * call per request over an Envoy gRPC client (a cluster of the cluster
 * manager), with a timeout. Any gRPC failure, a reply that cannot be decoded
 * or the timeout is `Error`; OVER_LIMIT is `OverLimit`; anything else `OK`.
 */
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import type { RateLimitRequest, RateLimitResponse } from '../../../../generated/envoy/service/ratelimit/v3/rls_pb.js';
import type { GrpcAsyncClient, GrpcAsyncStream } from '../../../../envoy/grpc/async_client.js';
import type { TimeSource, Timer } from '../../../../envoy/common/time.js';
import type { RateLimitDescriptor } from '../../../../envoy/ratelimit/ratelimit.js';
import { messageSchema } from '../../../../config/type_registry.js';

export const SHOULD_RATE_LIMIT_PATH = '/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit';
const REQUEST_TYPE = 'envoy.service.ratelimit.v3.RateLimitRequest';
const RESPONSE_TYPE = 'envoy.service.ratelimit.v3.RateLimitResponse';
/** RateLimitResponse.Code.OVER_LIMIT. */
const OVER_LIMIT = 2;

export const enum LimitStatus { OK = 0, Error = 1, OverLimit = 2 }

export interface LimitResult {
  readonly status: LimitStatus;
  /** The service's per-descriptor statuses (empty on Error). */
  readonly statuses: RateLimitResponse['statuses'];
  readonly responseHeadersToAdd: ReadonlyArray<readonly [string, string]>;
  readonly requestHeadersToAdd: ReadonlyArray<readonly [string, string]>;
  /** `raw_body` for the local reply ('' when none). */
  readonly responseBody: string;
  /** Why it is Error (for logs). */
  readonly errorDetail: string;
}

function errorResult(detail: string): LimitResult {
  return { status: LimitStatus.Error, statuses: [], responseHeadersToAdd: [], requestHeadersToAdd: [], responseBody: '', errorDetail: detail };
}

/** One client per filter instance (per request), as Envoy's. */
export class RateLimitClient {
  private stream: GrpcAsyncStream | null = null;
  private timer: Timer | null = null;
  private callback: ((r: LimitResult) => void) | null = null;

  constructor(
    private readonly grpc: GrpcAsyncClient,
    /** 0: no timeout. */
    private readonly timeoutMs: number,
    private readonly timeSource: TimeSource,
    private readonly initialMetadata: ReadonlyArray<readonly [string, string]> = [],
  ) {}

  /** Asks the service; `done` is called once, asynchronously, unless cancel() comes first. */
  limit(domain: string, descriptors: ReadonlyArray<RateLimitDescriptor>, done: (r: LimitResult) => void): void {
    this.callback = done;
    const request: RateLimitRequest = create(messageSchema(REQUEST_TYPE), {
      domain,
      descriptors: descriptors.map((d) => ({ entries: d.entries.map((e) => ({ key: e.key, value: e.value })) })),
    }) as RateLimitRequest;
    let reply: RateLimitResponse | null = null;
    let decodeError = '';
    this.stream = this.grpc.startStream(SHOULD_RATE_LIMIT_PATH, {
      onReceiveMessage: (payload) => {
        try {
          reply = fromBinary(messageSchema(RESPONSE_TYPE), payload) as RateLimitResponse;
        } catch (e) {
          decodeError = `cannot decode the RateLimitResponse: ${(e as Error).message}`;
        }
      },
      onRemoteClose: (status, message) => {
        this.stream = null;
        if (status !== 0) return this.finish(errorResult(`grpc-status ${status}: ${message}`));
        if (reply === null) return this.finish(errorResult(decodeError !== '' ? decodeError : 'no RateLimitResponse in the reply'));
        this.finish(resultOf(reply));
      },
    }, { initialMetadata: this.initialMetadata });
    const bytes = toBinary(messageSchema(REQUEST_TYPE), request);
    this.stream.sendMessage(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    this.stream.closeStream();
    if (this.timeoutMs > 0) {
      this.timer = this.timeSource.schedule(this.timeoutMs, () => {
        this.timer = null;
        this.stream?.close();
        this.stream = null;
        this.finish(errorResult(`no answer within ${this.timeoutMs}ms`));
      });
    }
  }

  /** Drops the call (the stream is reset); no callback follows. */
  cancel(): void {
    this.callback = null;
    this.timer?.cancel();
    this.timer = null;
    this.stream?.close();
    this.stream = null;
  }

  private finish(r: LimitResult): void {
    this.timer?.cancel();
    this.timer = null;
    const cb = this.callback;
    this.callback = null;
    cb?.(r);
  }
}

function resultOf(reply: RateLimitResponse): LimitResult {
  return {
    status: reply.overallCode === OVER_LIMIT ? LimitStatus.OverLimit : LimitStatus.OK,
    statuses: reply.statuses,
    responseHeadersToAdd: reply.responseHeadersToAdd.map((h) => [h.key.toLowerCase(), h.value] as const),
    requestHeadersToAdd: reply.requestHeadersToAdd.map((h) => [h.key.toLowerCase(), h.value] as const),
    responseBody: Buffer.from(reply.rawBody).toString(),
    errorDetail: '',
  };
}
