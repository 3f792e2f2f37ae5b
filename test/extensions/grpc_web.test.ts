/**
 * envoy.filters.http.grpc_web end to end: a hand-written gRPC-Web client over
 * Node's HTTP/1.1 client → Legate (grpc_web → router) → a real @grpc/grpc-js
 * server over h2c. Binary and text (base64, odd chunk boundaries), server
 * streaming, a status in trailers and a trailers-only error, non-gRPC
 * responses turned into grpc-status/grpc-message, and a non-gRPC-Web request
 * left alone.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { startLegate, type LegateProcess } from '../support/legate_process.js';
import { readStats } from '../support/http_util.js';
import {
  GRPC_WEB_FILTER, decodeGrpcWebText, grpcFrame, grpcProxyConfig, grpcWebCall, parseGrpcWebBody, startGrpcServer,
  type GrpcTestServer,
} from '../support/grpc_util.js';

describe('envoy.filters.http.grpc_web', () => {
  let upstream: GrpcTestServer;
  let legate: LegateProcess;
  let port: number;
  const seen: Array<Record<string, string>> = [];

  before(async () => {
    upstream = await startGrpcServer({
      Unary: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
        const md = call.metadata.getMap();
        seen.push(Object.fromEntries(Object.entries(md).map(([k, v]) => [k, String(v)])));
        const text = call.request.toString();
        if (text === 'fail') {
          cb({ code: grpc.status.NOT_FOUND, details: 'no such thing: 100%' });
          return;
        }
        const out = new grpc.Metadata();
        out.set('x-echo-initial', 'yes');
        call.sendMetadata(out);
        const trailer = new grpc.Metadata();
        trailer.set('x-echo-trailer', 'done');
        cb(null, Buffer.from(`echo:${text}`), trailer);
      },
      ServerStream: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
        const n = Number(call.request.toString());
        for (let i = 0; i < n; i++) call.write(Buffer.from(`m${i}`));
        if (n === 2) {
          // A status in real trailers, after messages.
          call.emit('error', { code: grpc.status.RESOURCE_EXHAUSTED, details: 'enough' });
          return;
        }
        call.end();
      },
    });
    const yaml = grpcProxyConfig({
      upstreamPort: upstream.port,
      httpFilters: GRPC_WEB_FILTER,
      routesBefore: `- match: { prefix: "/test.Down/" }
  direct_response: { status: 503, body: { inline_string: "backend down" } }`,
    });
    legate = await startLegate(yaml, { expectListeners: ['ingress'], expectAdmin: true });
    port = legate.ports.get('ingress')!;
  });
  after(async () => {
    await legate?.stop();
    await upstream?.close();
  });

  it('unary, binary: request rewritten to application/grpc with te: trailers; trailers come back as a trailers frame', async () => {
    const res = await grpcWebCall(port, '/test.Echo/Unary', grpcFrame(Buffer.from('hello')));
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'application/grpc-web+proto');
    assert.equal(res.headers['x-echo-initial'], 'yes');
    assert.equal(res.headers['content-length'], undefined);
    const body = parseGrpcWebBody(res.body);
    assert.deepEqual(body.messages.map(String), ['echo:hello']);
    assert.equal(body.trailers?.['grpc-status'], '0');
    assert.equal(body.trailers?.['x-echo-trailer'], 'done');
    assert.equal(body.leftover, 0);
    // The trailers frame is the last thing in the body: flag 0x80, "name:value\r\n" lines.
    const tf = res.body.subarray(5 + 'echo:hello'.length + 5);
    assert.equal(res.body[5 + 'echo:hello'.length], 0x80);
    assert.match(tf.toString('latin1'), /^grpc-status:0\r\n/);
    const up = seen.at(-1)!;
    assert.equal(up['content-type'], undefined, 'grpc-js hides content-type from metadata');
    assert.equal(up['x-grpc-web'], '1');
  });

  it('unary, text: base64 in (split at boundaries that are not multiples of 4), base64 frames out', async () => {
    const req = grpcFrame(Buffer.from('text mode payload'));
    const res = await grpcWebCall(port, '/test.Echo/Unary', req, { text: true, acceptText: true, split: [1, 2, 6, 3] });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'application/grpc-web-text+proto');
    assert.match(res.body.toString('latin1'), /^[A-Za-z0-9+/=]+$/);
    const body = parseGrpcWebBody(decodeGrpcWebText(res.body));
    assert.deepEqual(body.messages.map(String), ['echo:text mode payload']);
    assert.equal(body.trailers?.['grpc-status'], '0');
  });

  it('text request, binary response when the client accepts binary', async () => {
    const res = await grpcWebCall(port, '/test.Echo/Unary', grpcFrame(Buffer.from('mixed')), { text: true, acceptText: false });
    assert.equal(res.headers['content-type'], 'application/grpc-web+proto');
    assert.deepEqual(parseGrpcWebBody(res.body).messages.map(String), ['echo:mixed']);
  });

  it('server streaming: every message in order, then the trailers frame', async () => {
    const res = await grpcWebCall(port, '/test.Echo/ServerStream', grpcFrame(Buffer.from('5')));
    const body = parseGrpcWebBody(res.body);
    assert.deepEqual(body.messages.map(String), ['m0', 'm1', 'm2', 'm3', 'm4']);
    assert.equal(body.trailers?.['grpc-status'], '0');
  });

  it('server streaming, text: each frame its own base64 unit', async () => {
    const res = await grpcWebCall(port, '/test.Echo/ServerStream', grpcFrame(Buffer.from('3')), { acceptText: true });
    const body = parseGrpcWebBody(decodeGrpcWebText(res.body));
    assert.deepEqual(body.messages.map(String), ['m0', 'm1', 'm2']);
    assert.equal(body.trailers?.['grpc-status'], '0');
  });

  it('an error status after messages arrives in the trailers frame', async () => {
    const res = await grpcWebCall(port, '/test.Echo/ServerStream', grpcFrame(Buffer.from('2')));
    const body = parseGrpcWebBody(res.body);
    assert.deepEqual(body.messages.map(String), ['m0', 'm1']);
    assert.equal(body.trailers?.['grpc-status'], String(grpc.status.RESOURCE_EXHAUSTED));
    assert.equal(body.trailers?.['grpc-message'], 'enough');
  });

  it('a trailers-only error keeps grpc-status in the response headers', async () => {
    const res = await grpcWebCall(port, '/test.Echo/Unary', grpcFrame(Buffer.from('fail')));
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'application/grpc-web+proto');
    assert.equal(res.headers['grpc-status'], String(grpc.status.NOT_FOUND));
    // grpc-js percent-encodes it; the filter passes it on as is.
    assert.equal(decodeURIComponent(String(res.headers['grpc-message'])), 'no such thing: 100%');
    assert.equal(res.body.length, 0);
  });

  it('a non-gRPC response becomes grpc-status (from the HTTP code) and grpc-message (the body)', async () => {
    const res = await grpcWebCall(port, '/test.Down/X', grpcFrame(Buffer.from('x')));
    assert.equal(res.status, 503);
    assert.equal(res.headers['grpc-status'], '14');
    assert.equal(res.headers['grpc-message'], 'backend down');
    assert.equal(res.headers['content-type'], 'application/grpc-web+proto');
    assert.equal(res.body.length, 0);
  });

  it('invalid base64 is a 400 with grpc-status INTERNAL', async () => {
    const res = await grpcWebCall(port, '/test.Echo/Unary', Buffer.from('AAA'), { contentType: 'application/grpc-web-text' });
    assert.equal(res.status, 400);
    assert.equal(res.headers['grpc-status'], '13');
    assert.equal(res.headers['grpc-message'], 'Bad gRPC-web request, invalid base64 data.');
  });

  it('cluster stats as Envoy: cluster.<c>.grpc-web.<service>.<method>.<status>/success/failure/total', async () => {
    const stats = await readStats(legate.adminPort!);
    assert.ok((stats.get('cluster.grpc_backend.grpc-web.test.Echo.Unary.0') ?? 0) >= 3);
    assert.ok((stats.get('cluster.grpc_backend.grpc-web.test.Echo.Unary.success') ?? 0) >= 3);
    assert.equal(stats.get('cluster.grpc_backend.grpc-web.test.Echo.Unary.5'), 1);
    assert.ok((stats.get('cluster.grpc_backend.grpc-web.test.Echo.Unary.failure') ?? 0) >= 1);
    assert.equal(stats.get('cluster.grpc_backend.grpc-web.test.Echo.ServerStream.8'), 1);
    assert.equal(
      stats.get('cluster.grpc_backend.grpc-web.test.Echo.Unary.total'),
      (stats.get('cluster.grpc_backend.grpc-web.test.Echo.Unary.success') ?? 0) + (stats.get('cluster.grpc_backend.grpc-web.test.Echo.Unary.failure') ?? 0),
    );
  });

  it('a request that is not gRPC-Web passes through untouched', async () => {
    const res = await new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/test.Echo/Unary', headers: { 'content-type': 'application/json' }, agent: false }, (r) => {
        let b = '';
        r.on('data', (d) => { b += d; });
        r.on('end', () => resolve({ status: r.statusCode ?? 0, headers: r.headers, body: b }));
      });
      req.on('error', reject);
      req.end('{"x":1}');
    });
    // grpc-js answers a non-gRPC content-type with 415 itself; the filter adds and changes nothing.
    assert.equal(res.status, 415);
    assert.notEqual(res.headers['content-type'], 'application/grpc-web+proto');
    assert.equal(res.headers['grpc-status'], undefined);
  });

  it('gRPC-Web over an HTTP/2 downstream: the trailers frame ends the body, no HTTP trailers are left', async () => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    try {
      const result = await new Promise<{ headers: http2.IncomingHttpHeaders; body: Buffer; trailers: http2.IncomingHttpHeaders | null }>((resolve, reject) => {
        const req = session.request({ ':method': 'POST', ':path': '/test.Echo/Unary', 'content-type': 'application/grpc-web+proto', 'x-grpc-web': '1' });
        let headers: http2.IncomingHttpHeaders = {};
        let trailers: http2.IncomingHttpHeaders | null = null;
        const parts: Buffer[] = [];
        req.on('response', (h) => { headers = h; });
        req.on('trailers', (t) => { trailers = t; });
        req.on('data', (d: Buffer) => parts.push(d));
        req.on('end', () => resolve({ headers, body: Buffer.concat(parts), trailers }));
        req.on('error', reject);
        req.end(grpcFrame(Buffer.from('over h2')));
      });
      assert.equal(result.headers['content-type'], 'application/grpc-web+proto');
      const body = parseGrpcWebBody(result.body);
      assert.deepEqual(body.messages.map(String), ['echo:over h2']);
      assert.equal(body.trailers?.['grpc-status'], '0');
      assert.equal(result.trailers === null || Object.keys(result.trailers).filter((k) => !k.startsWith(':')).length === 0, true);
    } finally {
      session.close();
    }
  });

  it('upstream request headers: application/grpc, te: trailers, grpc-accept-encoding, no content-length', async () => {
    let seenHeaders: http2.IncomingHttpHeaders | null = null;
    const h2 = http2.createServer();
    h2.on('stream', (stream, headers) => {
      seenHeaders = headers;
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '0' }, { endStream: true });
    });
    await new Promise<void>((r) => h2.listen(0, '127.0.0.1', r));
    const l = await startLegate(grpcProxyConfig({ upstreamPort: (h2.address() as AddressInfo).port, httpFilters: GRPC_WEB_FILTER }), { expectListeners: ['ingress'] });
    try {
      const res = await grpcWebCall(l.ports.get('ingress')!, '/test.Echo/Unary', grpcFrame(Buffer.from('x')), { headers: { 'content-length': '6' } });
      assert.equal(res.headers['grpc-status'], '0');
      const h = seenHeaders as http2.IncomingHttpHeaders | null;
      assert.equal(h?.['content-type'], 'application/grpc');
      assert.equal(h?.te, 'trailers');
      assert.equal(h?.['grpc-accept-encoding'], 'identity,deflate,gzip');
      assert.equal(h?.['content-length'], undefined);
      assert.equal(h?.['x-grpc-web'], '1');
    } finally {
      await l.stop();
      await new Promise<void>((r) => h2.close(() => r()));
    }
  });
});
