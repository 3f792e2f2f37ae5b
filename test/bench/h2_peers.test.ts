// Smoke test for the h2 bench's Node pieces: the h2c origin, the gRPC origin
// and the node:http2 proxy peer (h2c and TLS, plain GETs and gRPC with
// trailers), and the fail-fast HTTP/2 handshake check. No h2load, no nginx,
// no timing.

import * as grpc from '@grpc/grpc-js';
import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { GRPC_UNARY_PATH, checkUnary, grpcFrame, startGrpcOrigin } from '../../bench/grpc_origin.js';
import { NotHttp2Error, h2Get, openH2 } from '../../bench/h2_client.js';
import { startH2Origin } from '../../bench/h2_origin.js';
import { LARGE_BODY, SMALL_BODY, startOrigin, type RunningServer } from '../../bench/origin.js';
import { startNodeH2Proxy } from '../../bench/peers/node_h2_proxy.js';
import { freePort } from '../../bench/proc.js';
import { makeBenchCert } from '../../bench/tls_certs.js';

describe('h2 bench: node pieces', () => {
  let dir: string;
  let ca: Buffer;
  const servers: RunningServer[] = [];
  let h2Origin: RunningServer;
  let grpcOrigin: RunningServer;
  let h2cProxy: RunningServer;
  let tlsProxy: RunningServer;
  let grpcProxy: RunningServer;

  before(async () => {
    dir = mkdtempSync(join(os.tmpdir(), 'legate-h2-bench-test-'));
    const cert = makeBenchCert(dir);
    ca = readFileSync(cert.certFile);
    const tls = { cert: ca, key: readFileSync(cert.keyFile) };
    h2Origin = await startH2Origin();
    grpcOrigin = await startGrpcOrigin();
    h2cProxy = await startNodeH2Proxy({ upstreamPort: h2Origin.port });
    tlsProxy = await startNodeH2Proxy({ upstreamPort: h2Origin.port, tls, sessions: 2 });
    grpcProxy = await startNodeH2Proxy({ upstreamPort: grpcOrigin.port });
    servers.push(h2Origin, grpcOrigin, h2cProxy, tlsProxy, grpcProxy);
  });

  after(async () => {
    for (const s of servers.reverse()) await s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the h2c origin serves both bodies', async () => {
    const s = await h2Get({ port: h2Origin.port, transport: 'h2c' }, '/small');
    assert.equal(s.status, 200);
    assert.deepEqual(s.body, SMALL_BODY);
    const l = await h2Get({ port: h2Origin.port, transport: 'h2c' }, '/large');
    assert.deepEqual(l.body, LARGE_BODY);
  });

  it('the node-h2 proxy forwards over h2c and over TLS (ALPN h2), many streams at once', async () => {
    for (const [port, transport] of [
      [h2cProxy.port, 'h2c'],
      [tlsProxy.port, 'tls'],
    ] as const) {
      const rs = await Promise.all(
        Array.from({ length: 20 }, (_, i) => h2Get({ port, transport, ca }, i % 2 ? '/large' : '/small')),
      );
      rs.forEach((r, i) => {
        assert.equal(r.status, 200);
        assert.equal(r.alpn, transport === 'tls' ? 'h2' : 'h2c');
        assert.deepEqual(r.body, i % 2 ? LARGE_BODY : SMALL_BODY);
      });
    }
  });

  it('gRPC unary calls succeed directly and through the proxy', async () => {
    await checkUnary(grpcOrigin.port);
    await checkUnary(grpcProxy.port);
  });

  it('the proxy forwards gRPC trailers: an error status reaches the client', async () => {
    const client = new grpc.Client(`127.0.0.1:${grpcProxy.port}`, grpc.credentials.createInsecure());
    try {
      const err = await new Promise<grpc.ServiceError | null>((resolve) => {
        const id = (b: Buffer): Buffer => b;
        client.makeUnaryRequest<Buffer, Buffer>(GRPC_UNARY_PATH, id, id, Buffer.from('not the bench request'), (e) => resolve(e));
      });
      assert.ok(err);
      assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
      assert.equal(err.details, 'unexpected request message');
    } finally {
      client.close();
    }
  });

  it('grpcFrame prefixes a message with flag 0 and its big-endian length', () => {
    assert.deepEqual(grpcFrame(Buffer.from('abc')), Buffer.from([0, 0, 0, 0, 3, 0x61, 0x62, 0x63]));
  });

  it('a peer that accepts connections but does not speak HTTP/2 fails at once (NotHttp2Error)', async () => {
    const h1 = await startOrigin();
    servers.push(h1);
    await assert.rejects(openH2({ port: h1.port, transport: 'h2c' }), NotHttp2Error);
    // TLS client against a plaintext listener: the handshake fails, same error.
    await assert.rejects(openH2({ port: h1.port, transport: 'tls', ca }), NotHttp2Error);
    // h2c client against a TLS-only listener.
    await assert.rejects(openH2({ port: tlsProxy.port, transport: 'h2c' }), NotHttp2Error);
  });

  it('nothing listening is a plain error (retried by the bench), not NotHttp2Error', async () => {
    const port = await freePort();
    await assert.rejects(openH2({ port, transport: 'h2c' }), (e: Error) => !(e instanceof NotHttp2Error) && /ECONNREFUSED/.test(e.message));
  });
});
