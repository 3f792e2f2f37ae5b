/**
 * gRPC end to end: a real @grpc/grpc-js client → Legate (HCM codec_type AUTO,
 * h2c) → a real @grpc/grpc-js server (h2c cluster). All four call shapes,
 * metadata both ways (incl. -bin), trailers-only errors, deadlines,
 * cancellation without leaks, 5 MiB messages both ways, the route `grpc: {}`
 * match, and Envoy's status mapping for local replies (404 → UNIMPLEMENTED,
 * 503 → UNAVAILABLE).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import * as grpc from '@grpc/grpc-js';
import { startLegate, type LegateProcess } from '../support/legate_process.js';
import { eventually, readStats } from '../support/http_util.js';
import { ECHO_SERVICE, grpcProxyConfig, startGrpcServer, type GrpcTestServer } from '../support/grpc_util.js';

const EchoClient = grpc.makeGenericClientConstructor(ECHO_SERVICE, 'Echo');
type Client = InstanceType<typeof EchoClient> & Record<string, (...args: unknown[]) => unknown>;

const BIG = 5 * 1024 * 1024;

describe('gRPC end to end through Legate (grpc-js client and server)', () => {
  let upstream: GrpcTestServer;
  let legate: LegateProcess;
  let client: Client;
  const cancelled = new Set<string>();
  const deadlines = new Map<string, number>();

  before(async () => {
    upstream = await startGrpcServer({
      Unary: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
        const text = call.request.length > 64 ? 'big' : call.request.toString();
        const d = call.getDeadline();
        deadlines.set(text, d instanceof Date ? d.getTime() - Date.now() : typeof d === 'number' ? d - Date.now() : Infinity);
        if (text === 'fail') { cb({ code: grpc.status.FAILED_PRECONDITION, details: 'not now' }); return; }
        if (text.startsWith('slow')) {
          call.on('cancelled', () => cancelled.add(text));
          setTimeout(() => { if (!call.cancelled) cb(null, Buffer.from('late')); }, 3000).unref();
          return;
        }
        const initial = new grpc.Metadata();
        initial.set('x-echo', String(call.metadata.get('x-md')[0] ?? ''));
        const bin = call.metadata.get('x-trace-bin')[0];
        if (bin !== undefined) initial.set('x-trace-bin', bin as Buffer);
        call.sendMetadata(initial);
        const trailing = new grpc.Metadata();
        trailing.set('x-trailer', 'bye');
        if (bin !== undefined) trailing.set('x-trailer-bin', Buffer.from([9, 8, 7]));
        cb(null, text === 'big' ? Buffer.alloc(call.request.length + 1, 7) : Buffer.from(`echo:${text}`), trailing);
      },
      ServerStream: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
        const n = Number(call.request.toString());
        for (let i = 0; i < n; i++) call.write(Buffer.from(`m${i}`));
        call.end();
      },
      ClientStream: (call: grpc.ServerReadableStream<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
        const parts: Buffer[] = [];
        call.on('data', (d: Buffer) => parts.push(d));
        call.on('end', () => cb(null, Buffer.from(parts.map(String).join('+'))));
      },
      Bidi: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
        call.on('data', (d: Buffer) => call.write(Buffer.from(`re:${d}`)));
        call.on('end', () => call.end());
      },
    });
    const yaml = grpcProxyConfig({
      upstreamPort: upstream.port,
      hcmExtra: 'codec_type: AUTO',
      routesBefore: `- match: { prefix: "/test.Other/", grpc: {} }
  route: { cluster_header: x-cluster }`,
      routeMatchExtra: 'grpc: {}',
      routeExtra: 'max_stream_duration: { grpc_timeout_header_max: 1s }',
    }).replace('prefix: "/"\n', 'prefix: "/test.Echo/"\n');
    legate = await startLegate(yaml, { expectListeners: ['ingress'], expectAdmin: true });
    client = new EchoClient(`127.0.0.1:${legate.ports.get('ingress')}`, grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': 64 << 20, 'grpc.max_send_message_length': 64 << 20,
    }) as Client;
  });
  after(async () => {
    client?.close();
    await legate?.stop();
    await upstream?.close();
  });

  function unary(payload: Buffer, md = new grpc.Metadata(), opts: grpc.CallOptions = {}): Promise<{ err: grpc.ServiceError | null; res?: Buffer; initial?: grpc.Metadata; status?: grpc.StatusObject }> {
    return new Promise((resolve) => {
      let initial: grpc.Metadata | undefined;
      let status: grpc.StatusObject | undefined;
      let out: { err: grpc.ServiceError | null; res?: Buffer } | undefined;
      const done = (): void => { if (out !== undefined && status !== undefined) resolve({ ...out, initial, status }); };
      const call = client.Unary(payload, md, opts, (err: grpc.ServiceError | null, res?: Buffer) => { out = { err, res }; done(); }) as grpc.ClientUnaryCall;
      call.on('metadata', (m: grpc.Metadata) => { initial = m; });
      call.on('status', (s: grpc.StatusObject) => { status = s; done(); });
    });
  }

  it('unary with metadata both ways, -bin included', async () => {
    const md = new grpc.Metadata();
    md.set('x-md', 'hello');
    md.set('x-trace-bin', Buffer.from([0, 1, 2, 255]));
    const r = await unary(Buffer.from('hi'), md);
    assert.equal(r.err, null);
    assert.equal(String(r.res), 'echo:hi');
    assert.equal(r.initial?.get('x-echo')[0], 'hello');
    assert.deepEqual(r.initial?.get('x-trace-bin')[0], Buffer.from([0, 1, 2, 255]));
    assert.equal(r.status?.metadata.get('x-trailer')[0], 'bye');
    assert.deepEqual(r.status?.metadata.get('x-trailer-bin')[0], Buffer.from([9, 8, 7]));
  });

  it('server streaming', async () => {
    const got: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const call = client.ServerStream(Buffer.from('50')) as grpc.ClientReadableStream<Buffer>;
      call.on('data', (d: Buffer) => got.push(String(d)));
      call.on('end', () => resolve());
      call.on('error', reject);
    });
    assert.equal(got.length, 50);
    assert.equal(got[49], 'm49');
  });

  it('client streaming', async () => {
    const res = await new Promise<Buffer>((resolve, reject) => {
      const call = client.ClientStream((err: grpc.ServiceError | null, r?: Buffer) => (err ? reject(err) : resolve(r!))) as grpc.ClientWritableStream<Buffer>;
      for (const p of ['a', 'b', 'c']) call.write(Buffer.from(p));
      call.end();
    });
    assert.equal(String(res), 'a+b+c');
  });

  it('bidi streaming: replies interleave with requests', async () => {
    const call = client.Bidi() as grpc.ClientDuplexStream<Buffer, Buffer>;
    const replies: string[] = [];
    for (let i = 0; i < 5; i++) {
      const next = new Promise<string>((r) => call.once('data', (d: Buffer) => r(String(d))));
      call.write(Buffer.from(`q${i}`));
      replies.push(await next); // the reply to q<i> arrives before q<i+1> is sent
    }
    call.end();
    await new Promise<void>((r) => call.on('end', () => r()).resume?.());
    assert.deepEqual(replies, ['re:q0', 're:q1', 're:q2', 're:q3', 're:q4']);
  });

  it('a trailers-only error reaches the client with status, message and no message', async () => {
    const r = await unary(Buffer.from('fail'));
    assert.equal(r.err?.code, grpc.status.FAILED_PRECONDITION);
    assert.equal(r.err?.details, 'not now');
  });

  it('5 MiB messages both ways', async () => {
    const r = await unary(Buffer.alloc(BIG, 1));
    assert.equal(r.err, null);
    assert.equal(r.res?.length, BIG + 1);
    assert.equal(r.res?.[BIG], 7);
  });

  it('deadline: a slow handler gives DEADLINE_EXCEEDED; the upstream saw the deadline (grpc-timeout)', async () => {
    const r = await unary(Buffer.from('slow-deadline'), new grpc.Metadata(), { deadline: Date.now() + 300 });
    assert.equal(r.err?.code, grpc.status.DEADLINE_EXCEEDED);
    const left = deadlines.get('slow-deadline');
    assert.ok(left !== undefined && left > 0 && left <= 300, `upstream deadline ${left}`);
    await eventually(() => cancelled.has('slow-deadline'), 5000, 'upstream call cancelled after the deadline');
  });

  it('deadline capped by grpc_timeout_header_max: the upstream gets the capped grpc-timeout and the call ends DEADLINE_EXCEEDED', async () => {
    const r = await unary(Buffer.from('slow-capped'), new grpc.Metadata(), { deadline: Date.now() + 30_000 });
    assert.equal(r.err?.code, grpc.status.DEADLINE_EXCEEDED);
    // Legate's timer and the upstream's own deadline (the same grpc-timeout) race: either may answer.
    assert.ok(['downstream duration timeout', 'Deadline exceeded'].includes(r.err?.details ?? ''), r.err?.details);
    const left = deadlines.get('slow-capped');
    assert.ok(left !== undefined && left > 0 && left <= 1000, `upstream deadline ${left}`);
  });

  it('cancellation: the server sees the call cancelled, and no stream is left active', async () => {
    const call = client.Unary(Buffer.from('slow-cancel'), () => {}) as grpc.ClientUnaryCall;
    await eventually(() => deadlines.has('slow-cancel'), 5000, 'call reached the server');
    call.cancel();
    await eventually(() => cancelled.has('slow-cancel'), 5000, 'server saw the cancel');
    await eventually(async () => (await readStats(legate.adminPort!)).get('http.ingress_http.downstream_rq_active') === 0, 5000, 'downstream_rq_active back to 0');
  });

  it('no route: UNIMPLEMENTED (404); unknown cluster: UNAVAILABLE (503)', async () => {
    const noRoute = await new Promise<grpc.ServiceError>((resolve) => {
      client.makeUnaryRequest('/test.NoRoute/X', (b: Buffer) => b, (b: Buffer) => b, Buffer.from('x'), (err) => resolve(err!));
    });
    assert.equal(noRoute.code, grpc.status.UNIMPLEMENTED);
    const md = new grpc.Metadata();
    md.set('x-cluster', 'no_such_cluster');
    const noCluster = await new Promise<grpc.ServiceError>((resolve) => {
      client.makeUnaryRequest('/test.Other/X', (b: Buffer) => b, (b: Buffer) => b, Buffer.from('x'), md, (err) => resolve(err!));
    });
    assert.equal(noCluster.code, grpc.status.UNAVAILABLE);
    const s = await readStats(legate.adminPort!);
    assert.equal(s.get('http.ingress_http.no_route'), 1);
    assert.equal(s.get('http.ingress_http.no_cluster'), 1);
  });

  it('route grpc: {} matches only gRPC: a plain HTTP request to the same path finds no route', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: legate.ports.get('ingress')!, method: 'POST', path: '/test.Echo/Unary', agent: false }, (r) => { r.resume(); resolve(r.statusCode ?? 0); });
      req.on('error', reject);
      req.end('x');
    });
    assert.equal(status, 404);
  });
});
