// The gRPC origin of the grpc bench suite: a @grpc/grpc-js server with one
// unary method, /legate.bench.Bench/Unary, that answers every call with a
// fixed 32-byte message (grpc-status 0). Messages are opaque bytes (identity
// serializers), so no .proto is needed; on the wire it is ordinary gRPC.
//
// The load generator is h2load with a pre-built request body (GRPC_REQUEST_FRAME).
// h2load only sees HTTP status (always 200 in gRPC), so a run is checked by
// DATA bytes: every OK call returns exactly GRPC_RESPONSE_FRAME_BYTES of DATA,
// while a failed call is trailers-only (no DATA). Before and after each run
// checkUnary() makes a real grpc-js call and checks status and bytes.
//
// Run standalone: node dist/bench/grpc_origin.js [--port 0] [--host 127.0.0.1]
// Prints "LISTENING <port>"; with --exit-with-stdin it exits when stdin closes.

import * as grpc from '@grpc/grpc-js';
import { parseArgs } from 'node:util';
import type { RunningServer } from './origin.js';
import { exitWhenStdinCloses, isMain } from './util.js';

export const GRPC_UNARY_PATH = '/legate.bench.Bench/Unary';
export const GRPC_REQUEST_MESSAGE: Buffer = Buffer.from('legate-bench-request');
export const GRPC_RESPONSE_MESSAGE: Buffer = Buffer.from('legate-bench-response-0123456789'); // 32 bytes

/** A gRPC length-prefixed message: 1 byte compressed flag (0), 4 bytes big-endian length, message. */
export function grpcFrame(message: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message]);
}

export const GRPC_REQUEST_FRAME: Buffer = grpcFrame(GRPC_REQUEST_MESSAGE);
export const GRPC_RESPONSE_FRAME_BYTES = 5 + GRPC_RESPONSE_MESSAGE.length;

const identity = (b: Buffer): Buffer => b;
const SERVICE: grpc.ServiceDefinition = {
  Unary: {
    path: GRPC_UNARY_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

export async function startGrpcOrigin(opts: { port?: number; host?: string } = {}): Promise<RunningServer> {
  const server = new grpc.Server({ 'grpc.max_concurrent_streams': 1000 });
  server.addService(SERVICE, {
    Unary: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      if (!call.request.equals(GRPC_REQUEST_MESSAGE)) {
        cb({ code: grpc.status.INVALID_ARGUMENT, details: 'unexpected request message' });
        return;
      }
      cb(null, GRPC_RESPONSE_MESSAGE);
    },
  });
  const host = opts.host ?? '127.0.0.1';
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host}:${opts.port ?? 0}`, grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    );
  });
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.forceShutdown();
        resolve();
      }),
  };
}

/**
 * One unary call through host:port with a fresh grpc-js channel (h2c, or TLS
 * trusting `ca`): resolves when it returned grpc-status 0 and the expected
 * message, rejects with what went wrong otherwise.
 */
export function checkUnary(port: number, o: { timeoutMs?: number; ca?: Buffer; host?: string } = {}): Promise<void> {
  const timeoutMs = o.timeoutMs ?? 5000;
  const client = o.ca
    ? new grpc.Client(`${o.host ?? '127.0.0.1'}:${port}`, grpc.credentials.createSsl(o.ca), {
        'grpc.ssl_target_name_override': 'localhost',
      })
    : new grpc.Client(`${o.host ?? '127.0.0.1'}:${port}`, grpc.credentials.createInsecure());
  return new Promise<void>((resolve, reject) => {
    client.makeUnaryRequest<Buffer, Buffer>(
      GRPC_UNARY_PATH,
      identity,
      identity,
      GRPC_REQUEST_MESSAGE,
      { deadline: Date.now() + timeoutMs },
      (err, res) => {
        client.close();
        if (err) reject(new Error(`gRPC call failed: ${grpc.status[err.code] ?? err.code} ${err.details}`));
        else if (!res || !res.equals(GRPC_RESPONSE_MESSAGE)) reject(new Error(`gRPC call returned the wrong message (${res?.length} bytes)`));
        else resolve();
      },
    );
  });
}

if (isMain(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      host: { type: 'string', default: '127.0.0.1' },
      'exit-with-stdin': { type: 'boolean', default: false },
    },
  });
  const srv = await startGrpcOrigin({ port: Number(values.port), host: values.host });
  process.stdout.write(`LISTENING ${srv.port}\n`);
  if (values['exit-with-stdin']) exitWhenStdinCloses();
}
