/**
 * gRPC deadlines through the router, end to end: a gRPC request (HTTP/1.1,
 * application/grpc, raw framing) → Legate → an h2c upstream that records the
 * headers it gets and never answers /slow. Legacy max_grpc_timeout: the
 * upstream sees grpc-timeout rewritten, expiry is 504 UT → UNAVAILABLE (as
 * Envoy's router). max_stream_duration + grpc_timeout_header_max: expiry is
 * "downstream duration timeout" with DEADLINE_EXCEEDED.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { startLegate, type LegateProcess } from '../support/legate_process.js';
import { readStats } from '../support/http_util.js';
import { grpcFrame, grpcProxyConfig } from '../support/grpc_util.js';

interface GrpcReply { status: number; headers: http.IncomingHttpHeaders; trailers: NodeJS.Dict<string>; body: Buffer }

function grpcOverHttp1(port: number, path: string, headers: Record<string, string>): Promise<GrpcReply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path, agent: false, headers: { 'content-type': 'application/grpc', te: 'trailers', ...headers } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, trailers: res.trailers, body: Buffer.concat(parts) }));
    });
    req.on('error', reject);
    req.end(grpcFrame(Buffer.from('ping')));
  });
}

describe('gRPC deadlines in the router', () => {
  let h2: http2.Http2Server;
  let h2port: number;
  const seen = new Map<string, http2.IncomingHttpHeaders>();
  const legates: LegateProcess[] = [];

  before(async () => {
    h2 = http2.createServer();
    h2.on('stream', (stream, headers) => {
      seen.set(String(headers[':path']), headers);
      stream.on('error', () => {});
      if (String(headers[':path']).startsWith('/slow')) return; // never answers
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(grpcFrame(Buffer.from('pong')));
    });
    await new Promise<void>((r) => h2.listen(0, '127.0.0.1', r));
    h2port = (h2.address() as AddressInfo).port;
  });
  after(async () => {
    for (const l of legates) await l.stop();
    await new Promise<void>((r) => h2.close(() => r()));
  });

  async function legate(routeExtra: string): Promise<LegateProcess> {
    const l = await startLegate(grpcProxyConfig({ upstreamPort: h2port, routeExtra }), { expectListeners: ['ingress'], expectAdmin: true });
    legates.push(l);
    return l;
  }

  it('max_grpc_timeout: grpc-timeout is capped and rewritten upstream; expiry is 504 UT, UNAVAILABLE for gRPC', async () => {
    const l = await legate('max_grpc_timeout: 0.3s\ngrpc_timeout_offset: 0.01s');
    const port = l.ports.get('ingress')!;
    const ok = await grpcOverHttp1(port, '/fast/a', { 'grpc-timeout': '10S' });
    assert.equal(ok.status, 200);
    assert.equal(seen.get('/fast/a')!['grpc-timeout'], '300m');
    assert.equal(seen.get('/fast/a')!['x-envoy-expected-rq-timeout-ms'], '300');
    await grpcOverHttp1(port, '/fast/b', { 'grpc-timeout': '100m' });
    assert.equal(seen.get('/fast/b')!['grpc-timeout'], '90m', 'minus grpc_timeout_offset');

    const slow = await grpcOverHttp1(port, '/slow/a', { 'grpc-timeout': '200m' });
    assert.equal(slow.status, 200);
    assert.equal(slow.headers['grpc-status'], '14');
    assert.equal(slow.headers['grpc-message'], 'upstream request timeout', 'spaces stay as they are (Envoy encodes only non-printable characters and %)');
    const s = await readStats(l.adminPort!);
    assert.equal(s.get('cluster.grpc_backend.upstream_rq_timeout'), 1);
  });

  it('max_stream_duration with grpc_timeout_header_max: DEADLINE_EXCEEDED, grpc-timeout upstream, counter', async () => {
    const l = await legate('max_stream_duration: { max_stream_duration: 5s, grpc_timeout_header_max: 1s, grpc_timeout_header_offset: 0.05s }');
    const port = l.ports.get('ingress')!;
    await grpcOverHttp1(port, '/fast/c', { 'grpc-timeout': '1H' });
    assert.equal(seen.get('/fast/c')!['grpc-timeout'], '950m');
    assert.equal(seen.get('/fast/c')!['x-envoy-expected-rq-timeout-ms'], undefined, 'no route timeout under max_stream_duration');

    const slow = await grpcOverHttp1(port, '/slow/b', { 'grpc-timeout': '250m' });
    assert.equal(slow.headers['grpc-status'], '4');
    assert.equal(decodeURIComponent(String(slow.headers['grpc-message'])), 'downstream duration timeout');
    assert.equal(seen.get('/slow/b')!['grpc-timeout'], '200m');
    const s = await readStats(l.adminPort!);
    assert.equal(s.get('http.ingress_http.downstream_rq_max_duration_reached'), 1);
  });

  it('max_stream_duration for plain HTTP: 504 "downstream duration timeout" once the request is in', async () => {
    const l = await legate('max_stream_duration: { max_stream_duration: 0.2s }');
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: l.ports.get('ingress')!, path: '/slow/c', agent: false }, (r) => {
        let b = '';
        r.on('data', (d) => { b += d; });
        r.on('end', () => resolve({ status: r.statusCode ?? 0, body: b }));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(res.status, 504);
    assert.equal(res.body, 'downstream duration timeout');
  });
});
