/**
 * gRPC test helpers: a real @grpc/grpc-js server (h2c) with a Buffer-in,
 * Buffer-out `test.Echo` service (no .proto, no codegen), a bootstrap with
 * an h2 upstream cluster and a chosen HTTP filter list, and a hand-written
 * gRPC-Web client over Node's HTTP/1.1 client.
 */
import http from 'node:http';
import * as grpc from '@grpc/grpc-js';
import { H2_UPSTREAM, indent, staticCluster } from '../integration/fixtures.js';

const raw = {
  requestSerialize: (b: Buffer): Buffer => b,
  requestDeserialize: (b: Buffer): Buffer => b,
  responseSerialize: (b: Buffer): Buffer => b,
  responseDeserialize: (b: Buffer): Buffer => b,
};

/** `test.Echo`: Unary, ServerStream, ClientStream, Bidi — every message a raw Buffer. */
export const ECHO_SERVICE = {
  Unary: { path: '/test.Echo/Unary', requestStream: false, responseStream: false, ...raw },
  ServerStream: { path: '/test.Echo/ServerStream', requestStream: false, responseStream: true, ...raw },
  ClientStream: { path: '/test.Echo/ClientStream', requestStream: true, responseStream: false, ...raw },
  Bidi: { path: '/test.Echo/Bidi', requestStream: true, responseStream: true, ...raw },
} satisfies grpc.ServiceDefinition;

export type EchoHandlers = Partial<Record<keyof typeof ECHO_SERVICE, grpc.UntypedHandleCall>>;

export interface GrpcTestServer {
  readonly port: number;
  readonly server: grpc.Server;
  close(): Promise<void>;
}

export async function startGrpcServer(handlers: EchoHandlers): Promise<GrpcTestServer> {
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 64 << 20, 'grpc.max_send_message_length': 64 << 20 });
  const unimplemented: grpc.UntypedHandleCall = (_call: unknown, cb?: unknown) => {
    if (typeof cb === 'function') cb({ code: grpc.status.UNIMPLEMENTED });
  };
  server.addService(ECHO_SERVICE, {
    Unary: handlers.Unary ?? unimplemented,
    ServerStream: handlers.ServerStream ?? unimplemented,
    ClientStream: handlers.ClientStream ?? unimplemented,
    Bidi: handlers.Bidi ?? unimplemented,
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
  });
  return {
    port,
    server,
    close: () => new Promise<void>((r) => server.tryShutdown(() => r())),
  };
}

export interface GrpcProxyOptions {
  upstreamPort: number;
  /** HTTP filters before the router, as YAML list items. */
  httpFilters?: string;
  routeExtra?: string;
  routeMatchExtra?: string;
  hcmExtra?: string;
  /** Extra routes placed before the catch-all. */
  routesBefore?: string;
}


/** Listener `ingress` → HCM `ingress_http` → [filters] → router → h2c cluster `grpc_backend`. */
export function grpcProxyConfig(o: GrpcProxyOptions): string {
  return `
admin:
  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
static_resources:
  listeners:
  - name: ingress
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress_http
${o.hcmExtra ? indent(o.hcmExtra, 10) : ''}
          route_config:
            name: local_route
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
${o.routesBefore ? indent(o.routesBefore, 14) : ''}
              - match:
                  prefix: "/"
${o.routeMatchExtra ? indent(o.routeMatchExtra, 18) : ''}
                route:
                  cluster: grpc_backend
${o.routeExtra ? indent(o.routeExtra, 18) : ''}
          http_filters:
${o.httpFilters ? indent(o.httpFilters, 10) : ''}
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
${indent(staticCluster('grpc_backend', o.upstreamPort, { extra: H2_UPSTREAM }), 2)}`;
}

export const GRPC_WEB_FILTER = `- name: envoy.filters.http.grpc_web
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.filters.http.grpc_web.v3.GrpcWeb`;

/** One gRPC length-prefixed message. */
export function grpcFrame(payload: Buffer, flags = 0): Buffer {
  const h = Buffer.alloc(5);
  h[0] = flags;
  h.writeUInt32BE(payload.length, 1);
  return Buffer.concat([h, payload]);
}

export interface ParsedGrpcWebBody {
  messages: Buffer[];
  /** From the trailers frame (flag 0x80), lower-cased names; null when there was none. */
  trailers: Record<string, string> | null;
  /** Bytes after the last whole frame (should be 0). */
  leftover: number;
}

/** Splits a gRPC-Web (binary) body into messages and the trailers frame. */
export function parseGrpcWebBody(body: Buffer): ParsedGrpcWebBody {
  const messages: Buffer[] = [];
  let trailers: Record<string, string> | null = null;
  let off = 0;
  while (body.length - off >= 5) {
    const flags = body[off]!;
    const len = body.readUInt32BE(off + 1);
    if (off + 5 + len > body.length) break;
    const payload = body.subarray(off + 5, off + 5 + len);
    if (flags & 0x80) {
      trailers = {};
      for (const line of payload.toString('latin1').split('\r\n')) {
        if (line === '') continue;
        const i = line.indexOf(':');
        trailers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
      }
    } else {
      messages.push(Buffer.from(payload));
    }
    off += 5 + len;
  }
  return { messages, trailers, leftover: body.length - off };
}

export interface GrpcWebResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The raw body as received. */
  body: Buffer;
  /** Sizes of the body chunks as they arrived. */
  chunks: number[];
}

/**
 * A gRPC-Web call over HTTP/1.1: POST `path` with `body` (already framed;
 * base64-encoded here when `text`), sent in `split` pieces.
 */
export function grpcWebCall(port: number, path: string, body: Buffer, opts: {
  text?: boolean; acceptText?: boolean; split?: number[]; headers?: Record<string, string>; contentType?: string;
} = {}): Promise<GrpcWebResponse> {
  const wire = opts.text ? Buffer.from(body.toString('base64'), 'latin1') : body;
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1', port, method: 'POST', path,
      headers: {
        'content-type': opts.contentType ?? (opts.text ? 'application/grpc-web-text' : 'application/grpc-web+proto'),
        accept: opts.acceptText ? 'application/grpc-web-text' : 'application/grpc-web+proto',
        'x-grpc-web': '1',
        'x-user-agent': 'grpc-web-javascript/0.1',
        ...opts.headers,
      },
      agent: false,
    }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts), chunks: parts.map((p) => p.length) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    const cuts = opts.split ?? [];
    let off = 0;
    for (const n of cuts) { req.write(wire.subarray(off, off + n)); off += n; }
    req.end(wire.subarray(off));
  });
}

/** Decodes a grpc-web-text body: the concatenation of base64 units, each padded. */
export function decodeGrpcWebText(body: Buffer): Buffer {
  const s = body.toString('latin1');
  const parts: Buffer[] = [];
  // Each unit ends at padding or at a multiple of 4; decode unit by unit.
  let start = 0;
  for (let i = 0; i < s.length; i += 4) {
    const q = s.slice(i, i + 4);
    if (q.includes('=') || i + 4 >= s.length) {
      parts.push(Buffer.from(s.slice(start, i + 4), 'base64'));
      start = i + 4;
    }
  }
  return Buffer.concat(parts);
}
