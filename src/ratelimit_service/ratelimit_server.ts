/**
 * Legate's Rate Limit Service: `envoy.service.ratelimit.v3.RateLimitService`
 * (unary ShouldRateLimit) on a @grpc/grpc-js server, answering from a
 * RateLimiter. The service definition is written by hand, with messages
 * encoded by the type registry's schemas (as the control plane's xDS services).
 */
import * as grpc from '@grpc/grpc-js';
import { create, fromBinary, toBinary, type DescMessage } from '@bufbuild/protobuf';
import type { RateLimitRequest, RateLimitResponse } from '../generated/envoy/service/ratelimit/v3/rls_pb.js';
import { messageSchema } from '../config/type_registry.js';
import { getLogger } from '../common/logger.js';
import { InvalidRequestError, type LimitRequest, type RateLimiter } from './rate_limiter.js';

export const RATE_LIMIT_SERVICE_NAME = 'envoy.service.ratelimit.v3.RateLimitService';
const REQUEST = 'envoy.service.ratelimit.v3.RateLimitRequest';
const RESPONSE = 'envoy.service.ratelimit.v3.RateLimitResponse';

function codec<T>(name: string): { serialize: (m: T) => Buffer; deserialize: (b: Buffer) => T } {
  let schema: DescMessage | undefined;
  const s = (): DescMessage => (schema ??= messageSchema(name));
  return {
    serialize: (m: T) => {
      const bytes = toBinary(s(), m as never);
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    },
    deserialize: (b: Buffer) => fromBinary(s(), b) as unknown as T,
  };
}

const requestCodec = codec<RateLimitRequest>(REQUEST);
const responseCodec = codec<RateLimitResponse>(RESPONSE);

/** `envoy.service.ratelimit.v3.RateLimitService` for grpc-js (server and client side). */
export const RATE_LIMIT_SERVICE = {
  ShouldRateLimit: {
    path: `/${RATE_LIMIT_SERVICE_NAME}/ShouldRateLimit`,
    requestStream: false,
    responseStream: false,
    requestSerialize: requestCodec.serialize,
    requestDeserialize: requestCodec.deserialize,
    responseSerialize: responseCodec.serialize,
    responseDeserialize: responseCodec.deserialize,
    originalName: 'ShouldRateLimit',
  } satisfies grpc.MethodDefinition<RateLimitRequest, RateLimitResponse>,
} satisfies grpc.ServiceDefinition;

export interface RateLimitServerOptions {
  /** Called with every request before it is answered (tests record what arrived). */
  onRequest?(request: LimitRequest): void;
}

export class RateLimitServer {
  private readonly server = new grpc.Server();
  private readonly log = getLogger('ratelimit');
  private boundPort = 0;

  constructor(private readonly limiter: RateLimiter, private readonly options: RateLimitServerOptions = {}) {
    this.server.addService(RATE_LIMIT_SERVICE, {
      ShouldRateLimit: (call: grpc.ServerUnaryCall<RateLimitRequest, RateLimitResponse>, cb: grpc.sendUnaryData<RateLimitResponse>) =>
        this.shouldRateLimit(call.request, cb),
    });
  }

  get port(): number { return this.boundPort; }

  /** Binds `address:port` (0: any free port); resolves to the bound port. */
  listen(address: string, port: number): Promise<number> {
    const target = address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
    return new Promise((resolve, reject) => {
      this.server.bindAsync(target, grpc.ServerCredentials.createInsecure(), (err, bound) => {
        if (err !== null) return reject(err);
        this.boundPort = bound;
        resolve(bound);
      });
    });
  }

  /** Stops at once: open calls are cancelled. */
  stop(): Promise<void> {
    this.server.forceShutdown();
    return Promise.resolve();
  }

  private shouldRateLimit(req: RateLimitRequest, cb: grpc.sendUnaryData<RateLimitResponse>): void {
    const request: LimitRequest = {
      domain: req.domain,
      descriptors: req.descriptors.map((d) => ({ entries: d.entries.map((e) => ({ key: e.key, value: e.value })) })),
      hitsAddend: req.hitsAddend,
    };
    this.options.onRequest?.(request);
    let decision;
    try {
      decision = this.limiter.shouldRateLimit(request);
    } catch (e) {
      if (e instanceof InvalidRequestError) return cb({ code: grpc.status.INVALID_ARGUMENT, details: e.message });
      throw e;
    }
    this.log.debug(`${request.domain} ${JSON.stringify(request.descriptors.map((d) => d.entries))} -> ${decision.overallCode === 2 ? 'OVER_LIMIT' : 'OK'}`);
    const response = create(messageSchema(RESPONSE), {
      overallCode: decision.overallCode,
      statuses: decision.statuses.map((s) => ({
        code: s.code,
        ...(s.currentLimit === null ? {} : { currentLimit: s.currentLimit }),
        limitRemaining: s.limitRemaining,
        ...(s.currentLimit === null ? {} : { durationUntilReset: { seconds: BigInt(s.durationUntilResetSeconds), nanos: 0 } }),
      })),
    }) as RateLimitResponse;
    cb(null, response);
  }
}
