/**
 * gRPC health checks, after Envoy's GrpcHealthCheckerImpl
 * (source/extensions/health_checkers/grpc/health_checker_impl.cc): a unary
 * `grpc.health.v1.Health/Check` call with `service: <service_name>` over
 * HTTP/2 (`:authority` = `authority`, else the cluster name). The host passes
 * when the call ends with grpc-status 0 and exactly one HealthCheckResponse
 * whose status is SERVING; any other answer (NOT_SERVING, UNKNOWN,
 * SERVICE_UNKNOWN, an error status, a non-200 or non-gRPC response) fails the
 * host at once; a reset or refused connection is a network failure.
 */
import type http2 from 'node:http2';
import type { Host } from '../envoy/upstream/host.js';
import { GrpcFrameDecoder, GRPC_FRAME_HEADER_SIZE } from '../common/grpc/codec.js';
import { ActiveHealthCheckSession, HealthCheckerImplBase, type HealthCheckerContext } from './health_checker_base_impl.js';
import type { GrpcCheckSettings, HealthCheckSettings } from './health_check_config.js';
import { connectHttp2, schemeOf } from './health_check_connection.js';
import { applyHeadersToAdd } from './http_health_checker.js';

export const HEALTH_CHECK_PATH = '/grpc.health.v1.Health/Check';
/** grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING */
const SERVING = 1;

export class GrpcHealthCheckerImpl extends HealthCheckerImplBase {
  readonly checkerType = 'GRPC' as const;
  readonly grpc: GrpcCheckSettings;
  /** The framed HealthCheckRequest, the same for every check. */
  readonly requestFrame: Buffer;

  constructor(settings: HealthCheckSettings, context: HealthCheckerContext) {
    super(settings, context);
    this.grpc = settings.checker as GrpcCheckSettings;
    this.requestFrame = frame(encodeHealthCheckRequest(this.grpc.serviceName));
  }

  protected makeSession(host: Host): ActiveHealthCheckSession {
    return new GrpcActiveHealthCheckSession(this, host);
  }
}

/** grpc.health.v1.HealthCheckRequest { string service = 1; } */
export function encodeHealthCheckRequest(service: string): Buffer {
  if (service === '') return Buffer.alloc(0);
  const s = Buffer.from(service, 'utf8');
  return Buffer.concat([Buffer.from([0x0a]), varint(s.length), s]);
}

/** The `status` of a grpc.health.v1.HealthCheckResponse, or null when it is malformed. */
export function decodeServingStatus(msg: Buffer): number | null {
  let status = 0; // absent = UNKNOWN
  let off = 0;
  while (off < msg.length) {
    const [tag, a] = readVarint(msg, off);
    if (a < 0) return null;
    off = a;
    const wire = tag & 7;
    if (wire === 0) {
      const [v, b] = readVarint(msg, off);
      if (b < 0) return null;
      off = b;
      if (tag >> 3 === 1) status = v;
    } else if (wire === 2) {
      const [len, b] = readVarint(msg, off);
      if (b < 0 || b + len > msg.length) return null;
      off = b + len;
    } else if (wire === 1) {
      off += 8;
    } else if (wire === 5) {
      off += 4;
    } else {
      return null;
    }
  }
  return off === msg.length ? status : null;
}

function frame(payload: Buffer): Buffer {
  const header = Buffer.alloc(GRPC_FRAME_HEADER_SIZE);
  header.writeUInt32BE(payload.length, 1);
  return Buffer.concat([header, payload]);
}

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Buffer.from(out);
}

/** [value, next offset]; next is -1 when the buffer ends inside the varint. */
function readVarint(buf: Buffer, off: number): [number, number] {
  let v = 0;
  let mul = 1;
  for (let i = off; i < buf.length && i < off + 10; i++) {
    const b = buf[i]!;
    v += (b & 0x7f) * mul;
    mul *= 128;
    if ((b & 0x80) === 0) return [v, i + 1];
  }
  return [0, -1];
}

class GrpcActiveHealthCheckSession extends ActiveHealthCheckSession {
  private h2: http2.ClientHttp2Session | null = null;
  private h2Reusable = true;
  private stream: http2.ClientHttp2Stream | null = null;
  private checkId = 0;

  constructor(private readonly checker: GrpcHealthCheckerImpl, host: Host) {
    super(checker, host);
  }

  protected onInterval(): void {
    const id = ++this.checkId;
    const ts = this.parent.context.transportSocket;
    if (this.h2 === null || this.h2.closed || this.h2.destroyed || !this.h2Reusable) {
      this.h2?.destroy();
      const session = connectHttp2(this.host, ts);
      session.on('goaway', () => {
        if (this.h2 === session) this.h2Reusable = false;
      });
      this.h2 = session;
      this.h2Reusable = true;
    }
    const metadata = new Map<string, string[]>();
    applyHeadersToAdd(metadata, this.checker.grpc.initialMetadata);
    const headers: http2.OutgoingHttpHeaders = {
      ':method': 'POST',
      ':path': HEALTH_CHECK_PATH,
      ':scheme': schemeOf(ts),
      ':authority': this.checker.grpc.authority !== '' ? this.checker.grpc.authority : this.parent.context.clusterName,
      'content-type': 'application/grpc',
      te: 'trailers',
      'user-agent': 'Envoy/HC',
    };
    for (const [k, v] of metadata) headers[k] = v.length === 1 ? v[0]! : v;
    const stream = this.h2.request(headers, { endStream: false });
    this.stream = stream;
    let httpStatus = 0;
    let grpcStatus: string | undefined;
    let contentType = '';
    let ended = false;
    const decoder = new GrpcFrameDecoder();
    const messages: Buffer[] = [];
    stream.on('response', (h) => {
      httpStatus = Number(h[':status']);
      contentType = String(h['content-type'] ?? '');
      if (h['grpc-status'] !== undefined) grpcStatus = String(h['grpc-status']); // trailers-only
    });
    stream.on('data', (d: Buffer) => {
      for (const f of decoder.decode(d)) messages.push(f.wire.subarray(GRPC_FRAME_HEADER_SIZE));
    });
    stream.on('trailers', (t) => {
      if (t['grpc-status'] !== undefined) grpcStatus = String(t['grpc-status']);
    });
    stream.on('end', () => {
      ended = true;
      this.onComplete(id, httpStatus === 200 && contentType.startsWith('application/grpc') && grpcStatus === '0' && messages.length === 1
        ? decodeServingStatus(messages[0]!) === SERVING : false);
    });
    stream.on('error', () => this.onNetworkFailure(id));
    stream.on('close', () => {
      if (!ended) this.onNetworkFailure(id);
    });
    stream.end(this.checker.requestFrame);
  }

  protected onTimeout(): void {
    this.checkId++;
    this.closeConnection();
  }

  protected onDestroy(): void {
    this.checkId++;
    this.closeConnection();
  }

  private onComplete(id: number, serving: boolean): void {
    if (id !== this.checkId || this.destroyed) return;
    this.checkId++;
    this.stream = null;
    if (serving) this.handleSuccess(false);
    else this.handleFailure('ACTIVE');
    if (this.destroyed) return;
    if (!this.parent.settings.reuseConnection || !this.h2Reusable) this.closeConnection();
  }

  private onNetworkFailure(id: number): void {
    if (id !== this.checkId || this.destroyed) return;
    this.checkId++;
    this.closeConnection();
    this.handleFailure('NETWORK');
  }

  private closeConnection(): void {
    const s = this.stream;
    this.stream = null;
    if (s !== null && !s.destroyed) s.destroy();
    this.h2?.destroy();
    this.h2 = null;
  }
}
