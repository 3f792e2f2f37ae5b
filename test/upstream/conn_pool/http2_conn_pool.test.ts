/**
 * Http2ConnPool against real node:http2 h2c servers on 127.0.0.1:0 (and, for
 * protocol errors, a raw TCP server speaking hand-made frames). Each test
 * builds a Host/ClusterInfo from plain objects over a real StatsStore, drives
 * the pool the way src/router/upstream_request.ts does, and stops what it
 * starts. Waits are for events, never for elapsed time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2, {
  type IncomingHttpHeaders,
  type ServerHttp2Session,
  type ServerHttp2Stream,
  type ServerOptions,
} from 'node:http2';
import net from 'node:net';
import {
  StreamResetReason,
  type RequestEncoder,
  type ResponseDecoder,
  type StreamCallbacks,
} from '../../../src/envoy/http/codec.js';
import type { HeaderMap } from '../../../src/envoy/http/header_map.js';
import {
  PoolFailureReason,
  type Cancellable,
  type ConnectionPoolCallbacks,
} from '../../../src/envoy/upstream/cluster_manager.js';
import type { ClusterInfo, Host } from '../../../src/envoy/upstream/host.js';
import type { ClusterStats, HostStats } from '../../../src/envoy/upstream/stats.js';
import { HeaderMapImpl } from '../../../src/http/codec/header_map_impl.js';
import { createClusterStats } from '../../../src/stats/cluster_stats.js';
import { StatsStore } from '../../../src/stats/stats_impl.js';
import { Http2ConnPool, createHttp2ConnPool } from '../../../src/upstream/conn_pool/http2_conn_pool.js';
import {
  ResourceManagerImpl,
  defaultThresholds,
  type CircuitBreakerThresholds,
} from '../../../src/upstream/resource_manager_impl.js';

const { NGHTTP2_REFUSED_STREAM, NGHTTP2_INTERNAL_ERROR } = http2.constants;
const T = { timeout: 20000 }; // a guard against hangs, not an assertion

// ---------------------------------------------------------------------------
// Host / cluster fixtures

interface ClusterOpts {
  connectTimeoutMs?: number;
  idleTimeoutMs?: number;
  perConnectionBufferLimitBytes?: number;
  maxRequestsPerConnection?: number;
  thresholds?: Partial<CircuitBreakerThresholds>;
}

interface Fixture {
  host: Host;
  stats: ClusterStats;
  store: StatsStore;
  rm: ResourceManagerImpl;
}

function makeHost(port: number, o: ClusterOpts = {}): Fixture {
  const store = new StatsStore();
  const scope = store.rootScope.createScope('cluster.h2_upstream');
  const stats = createClusterStats(scope);
  const rm = new ResourceManagerImpl(scope, 'default', { ...defaultThresholds(), ...o.thresholds });
  const cluster: ClusterInfo = {
    name: 'h2_upstream',
    statName: 'h2_upstream',
    connectTimeoutMs: o.connectTimeoutMs ?? 5000,
    idleTimeoutMs: o.idleTimeoutMs ?? 0,
    perConnectionBufferLimitBytes: o.perConnectionBufferLimitBytes ?? 1024 * 1024,
    maxRequestsPerConnection: o.maxRequestsPerConnection ?? 0,
    upstreamProtocol: 'http2',
    useDownstreamProtocol: false,
    alpnAutoConfig: false,
    maxStreamDurationMs: 0,
    maxConnectionDurationMs: 0,
    maxHeadersCount: 0,
    stats,
    resourceManager: () => rm,
    config: {},
  };
  const hostStats: HostStats = {
    cx_total: 0, cx_active: 0, cx_connect_fail: 0, rq_total: 0,
    rq_active: 0, rq_error: 0, rq_success: 0, rq_timeout: 0,
  };
  const host: Host = {
    addressString: `127.0.0.1:${port}`,
    address: '127.0.0.1',
    port,
    hostname: '',
    cluster,
    stats: hostStats,
    priority: 0,
    locality: { region: '', zone: '', subZone: '' },
    metadata: {},
    weight: 1,
    healthFlags: 0,
    healthy: () => true,
    activeRequests: 0,
  };
  return { host, stats, store, rm };
}

// ---------------------------------------------------------------------------
// Upstream servers

interface Upstream {
  port: number;
  sessions: ServerHttp2Session[];
  sockets: net.Socket[];
  close(): Promise<void>;
}

type StreamHandler = (s: ServerHttp2Stream, h: IncomingHttpHeaders, raw: string[]) => void;

async function h2cServer(onStream: StreamHandler, options: ServerOptions = {}): Promise<Upstream> {
  const server = http2.createServer(options);
  const sessions: ServerHttp2Session[] = [];
  const sockets: net.Socket[] = [];
  server.on('connection', (sock: net.Socket) => sockets.push(sock));
  server.on('session', (s) => { sessions.push(s); s.on('error', () => {}); });
  server.on('stream', (s: ServerHttp2Stream, h: IncomingHttpHeaders, _flags: number, raw: string[]) => { s.on('error', () => {}); onStream(s, h, raw); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    sessions,
    sockets,
    close: () => new Promise<void>((r) => {
      for (const s of sessions) s.destroy();
      for (const s of sockets) s.destroy();
      server.close(() => r());
    }),
  };
}

/** A TCP server that runs `onConn` for each connection (hand-made HTTP/2, or silence). */
async function rawServer(onConn: (c: net.Socket) => void): Promise<Upstream> {
  const sockets: net.Socket[] = [];
  const server = net.createServer((c) => { sockets.push(c); c.on('error', () => {}); onConn(c); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    sessions: [],
    sockets,
    close: () => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
  };
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Resolves once `cond()` holds, checking after every turn of the event loop. */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setImmediate(r));
}

function deferred<V = void>(): { promise: Promise<V>; resolve: (v: V) => void } {
  let resolve!: (v: V) => void;
  const promise = new Promise<V>((r) => { resolve = r; });
  return { promise, resolve };
}

// ---------------------------------------------------------------------------
// A recording request, wired like UpstreamRequest

function reqHeaders(method: string, path: string, extra: Array<[string, string]> = []): HeaderMapImpl {
  return HeaderMapImpl.fromPairs([[':method', method], [':path', path], [':authority', 'upstream.test'], ...extra]);
}

class Exchange implements ResponseDecoder, StreamCallbacks, ConnectionPoolCallbacks {
  encoder: RequestEncoder | null = null;
  localAddress = '';
  handle: Cancellable | null = null;
  headers: HeaderMap | null = null;
  informational: HeaderMap[] = [];
  chunks: Buffer[] = [];
  dataCalls = 0;
  trailers: HeaderMap | null = null;
  bytesAtTrailers = -1;
  ended = false;
  reset: { reason: StreamResetReason; detail: string } | null = null;
  failure: { reason: PoolFailureReason; detail: string } | null = null;
  above = 0;
  below = 0;
  /** Called on onPoolReady; the default sends `GET <path>` with no body. */
  send: (enc: RequestEncoder) => void;
  onChunk: ((chunk: Buffer) => void) | null = null;
  onBelow: (() => void) | null = null;
  private readonly finished = deferred();
  readonly done = this.finished.promise;
  private readonly readyD = deferred<RequestEncoder>();
  readonly ready = this.readyD.promise;

  constructor(path = '/') {
    this.send = (enc) => enc.encodeHeaders(reqHeaders('GET', path), true);
  }

  start(pool: { newStream(d: ResponseDecoder, c: ConnectionPoolCallbacks): Cancellable | null }): this {
    this.handle = pool.newStream(this, this);
    return this;
  }

  get body(): string { return Buffer.concat(this.chunks).toString(); }
  get bytes(): number { return this.chunks.reduce((n, c) => n + c.length, 0); }

  onPoolReady(encoder: RequestEncoder, _host: Host, upstreamLocalAddress: string): void {
    this.encoder = encoder;
    this.localAddress = upstreamLocalAddress;
    encoder.getStream().addCallbacks(this);
    this.readyD.resolve(encoder);
    this.send(encoder);
  }
  onPoolFailure(reason: PoolFailureReason, transportFailureReason: string): void {
    this.failure = { reason, detail: transportFailureReason };
    this.finished.resolve();
  }
  decode1xxHeaders(headers: HeaderMap): void { this.informational.push(headers); }
  decodeHeaders(headers: HeaderMap, endStream: boolean): void {
    this.headers = headers;
    if (endStream) { this.ended = true; this.finished.resolve(); }
  }
  decodeData(data: Buffer, endStream: boolean): void {
    this.dataCalls++;
    if (data.length > 0) this.chunks.push(data);
    if (data.length > 0) this.onChunk?.(data);
    if (endStream) { this.ended = true; this.finished.resolve(); }
  }
  decodeTrailers(trailers: HeaderMap): void {
    this.trailers = trailers;
    this.bytesAtTrailers = this.bytes;
    this.ended = true;
    this.finished.resolve();
  }
  onResetStream(reason: StreamResetReason, transportFailureReason: string): void {
    this.reset = { reason, detail: transportFailureReason };
    this.finished.resolve();
  }
  onAboveWriteBufferHighWatermark(): void { this.above++; }
  onBelowWriteBufferLowWatermark(): void { this.below++; this.onBelow?.(); }
}

// ---------------------------------------------------------------------------

test('GET round trip: request headers converted, response headers, body and trailers decoded', T, async () => {
  const seen = deferred<{ h: IncomingHttpHeaders; raw: string[] }>();
  const up = await h2cServer((s, h, raw) => {
    seen.resolve({ h, raw });
    s.respond({ ':status': 200, 'content-type': 'text/plain', 'set-cookie': ['a=1', 'b=2'], 'x-multi': ['1', '2'] }, { waitForTrailers: true });
    s.on('wantTrailers', () => s.sendTrailers({ 'x-checksum': 'abc' }));
    s.end('hello');
  });
  const { host, stats, store } = makeHost(up.port);
  const pool = createHttp2ConnPool(host);
  try {
    const ex = new Exchange();
    ex.send = (enc) => enc.encodeHeaders(reqHeaders('GET', '/get', [
      ['connection', 'keep-alive'],
      ['keep-alive', 'timeout=5'],
      ['transfer-encoding', 'chunked'],
      ['te', 'trailers, deflate'],
      ['x-req', 'one'],
      ['x-req', 'two'],
    ]), true);
    ex.start(pool);
    assert.ok(ex.handle !== null, 'the first stream waits for the session');
    await ex.done;

    const { h, raw } = await seen.promise;
    assert.equal(h[':method'], 'GET');
    assert.equal(h[':path'], '/get');
    assert.equal(h[':authority'], 'upstream.test');
    assert.equal(h[':scheme'], 'http');
    assert.equal(h.te, 'trailers');
    for (const name of ['connection', 'keep-alive', 'transfer-encoding']) assert.equal(h[name], undefined, name);
    assert.deepEqual(raw.filter((_, i) => raw[i - 1] === 'x-req'), ['one', 'two']);

    assert.equal(ex.reset, null);
    assert.equal(ex.headers!.get(':status'), '200');
    assert.equal(ex.headers!.get('content-type'), 'text/plain');
    assert.deepEqual(ex.headers!.getAll('set-cookie'), ['a=1', 'b=2']);
    assert.deepEqual(ex.headers!.getAll('x-multi'), ['1', '2']);
    assert.equal(ex.body, 'hello');
    assert.equal(ex.trailers!.get('x-checksum'), 'abc');
    assert.equal(ex.bytesAtTrailers, 5, 'trailers come after the whole body');
    assert.match(ex.localAddress, /^127\.0\.0\.1:\d+$/);

    await until(() => pool.isIdle());
    assert.equal(stats.upstream_cx_total.value(), 1);
    assert.equal(stats.upstream_cx_http2_total.value(), 1);
    assert.equal(stats.upstream_cx_http1_total.value(), 0);
    assert.equal(stats.upstream_cx_active.value(), 1);
    assert.equal(stats.upstream_rq_total.value(), 1);
    assert.equal(stats.upstream_rq_active.value(), 0, 'the router owns upstream_rq_active');
    assert.equal(stats.upstream_rq_pending_total.value(), 1);
    assert.equal(stats.upstream_rq_pending_active.value(), 0);
    assert.ok(stats.upstream_cx_rx_bytes_total.value() > 0);
    assert.ok(stats.upstream_cx_tx_bytes_total.value() > 0);
    assert.equal(store.counters.get('cluster.h2_upstream.upstream_cx_http2_total')?.value(), 1);
    assert.equal(host.stats.cx_total, 1);
    assert.equal(host.stats.cx_active, 1);

    // A second request reuses the ready session synchronously.
    const ex2 = new Exchange('/again').start(pool);
    assert.equal(ex2.handle, null, 'attached at once: no Cancellable');
    await ex2.done;
    assert.equal(ex2.body, 'hello');
    assert.equal(stats.upstream_cx_total.value(), 1);
    assert.equal(stats.upstream_rq_total.value(), 2);
    assert.equal(stats.upstream_rq_pending_total.value(), 1);
  } finally {
    pool.destroy();
    await up.close();
  }
});

test('POST: request body streamed chunk by chunk both ways, trailers both ways', T, async () => {
  const up = await h2cServer((s) => {
    s.respond({ ':status': 200 }, { waitForTrailers: true });
    let reqTrailer = '';
    s.on('trailers', (t: IncomingHttpHeaders) => { reqTrailer = String(t['x-parts']); });
    s.on('data', (d: Buffer) => s.write(d.toString().toUpperCase()));
    s.on('end', () => s.end());
    s.on('wantTrailers', () => s.sendTrailers({ 'x-echoed-parts': reqTrailer }));
  });
  const { host } = makeHost(up.port);
  const pool = createHttp2ConnPool(host);
  try {
    const ex = new Exchange();
    ex.send = (enc) => {
      enc.encodeHeaders(reqHeaders('POST', '/echo', [['content-type', 'text/plain']]), false);
      enc.encodeData(Buffer.from('one'), false);
    };
    // Ping-pong: each chunk goes up only after the previous one came back, so
    // the exchange completes only if both directions stream.
    ex.onChunk = () => {
      if (ex.body === 'ONE') ex.encoder!.encodeData(Buffer.from('two'), false);
      else if (ex.body === 'ONETWO') ex.encoder!.encodeTrailers(HeaderMapImpl.fromPairs([['x-parts', '2']]));
    };
    ex.start(pool);
    await ex.done;
    assert.equal(ex.reset, null);
    assert.equal(ex.body, 'ONETWO');
    assert.ok(ex.chunks.length >= 2, 'chunks were delivered as they arrived');
    assert.equal(ex.trailers!.get('x-echoed-parts'), '2');
  } finally {
    pool.destroy();
    await up.close();
  }
});

test('POST with a body and no trailers ends with END_STREAM; HEAD/204 end at the headers', T, async () => {
  const up = await h2cServer((s, h) => {
    if (h[':method'] === 'HEAD') { s.respond({ ':status': 200, 'content-length': '10' }, { endStream: true }); return; }
    let n = 0;
    s.on('data', (d: Buffer) => { n += d.length; });
    s.on('end', () => { s.respond({ ':status': 200 }); s.end(String(n)); });
  });
  const { host } = makeHost(up.port);
  const pool = createHttp2ConnPool(host);
  try {
    const post = new Exchange();
    post.send = (enc) => {
      enc.encodeHeaders(reqHeaders('POST', '/count'), false);
      enc.encodeData(Buffer.alloc(1000, 1), false);
      enc.encodeData(Buffer.alloc(24, 2), true);
    };
    post.start(pool);
    await post.done;
    assert.equal(post.body, '1024');
    assert.equal(post.trailers, null);

    const head = new Exchange();
    head.send = (enc) => enc.encodeHeaders(reqHeaders('HEAD', '/'), true);
    head.start(pool);
    await head.done;
    assert.equal(head.reset, null);
    assert.ok(head.ended);
    assert.equal(head.dataCalls, 0, 'END_STREAM on the headers: no body call at all');
    await until(() => pool.isIdle());
  } finally {
    pool.destroy();
    await up.close();
  }
});

test('informational 1xx headers reach decode1xxHeaders before the final headers', T, async () => {
  const up = await h2cServer((s) => {
    s.additionalHeaders({ ':status': 103, link: '</style.css>; rel=preload' });
    s.respond({ ':status': 200 });
    s.end('ok');
  });
  const { host } = makeHost(up.port);
  const pool = createHttp2ConnPool(host);
  try {
    const ex = new Exchange().start(pool);
    await ex.done;
    assert.equal(ex.informational.length, 1);
    assert.equal(ex.informational[0]!.get(':status'), '103');
    assert.equal(ex.informational[0]!.get('link'), '</style.css>; rel=preload');
    assert.equal(ex.headers!.get(':status'), '200');
  } finally {
    pool.destroy();
    await up.close();
  }
});

/** Holds every stream until `n` have arrived, then answers them all. */
function holdUntil(n: number): { handler: StreamHandler; all: Promise<void> } {
  const held: ServerHttp2Stream[] = [];
  const all = deferred();
  return {
    all: all.promise,
    handler: (s) => {
      held.push(s);
      if (held.length === n) {
        all.resolve();
        for (const x of held) { x.respond({ ':status': 200 }); x.end(`#${x.id}`); }
      }
    },
  };
}

test('50 concurrent streams share one session when the server allows 100', T, async () => {
  const hold = holdUntil(50);
  const up = await h2cServer(hold.handler, { settings: { maxConcurrentStreams: 100 } });
  const { host, stats } = makeHost(up.port);
  const pool = new Http2ConnPool(host);
  try {
    const xs = Array.from({ length: 50 }, (_, i) => new Exchange(`/${i}`).start(pool));
    assert.equal(pool.connectionCount, 1, 'one session is enough for 50 streams (100 assumed)');
    await Promise.all(xs.map((x) => x.done));
    for (const x of xs) assert.equal(x.headers?.get(':status'), '200');
    assert.equal(up.sessions.length, 1);
    assert.equal(stats.upstream_cx_total.value(), 1);
    assert.equal(stats.upstream_rq_total.value(), 50);
    assert.equal(stats.upstream_rq_pending_total.value(), 50);
  } finally {
    pool.destroy();
    await up.close();
  }
});

test('SETTINGS_MAX_CONCURRENT_STREAMS=10: 50 concurrent streams spread over 5 sessions', T, async () => {
  const hold = holdUntil(50);
  const up = await h2cServer(hold.handler, { settings: { maxConcurrentStreams: 10 } });
  const { host, stats } = makeHost(up.port);
  const pool = new Http2ConnPool(host);
  try {
    const xs = Array.from({ length: 50 }, (_, i) => new Exchange(`/${i}`).start(pool));
    await hold.all; // all 50 are open upstream at the same time
    await Promise.all(xs.map((x) => x.done));
    for (const x of xs) assert.equal(x.headers?.get(':status'), '200');
    assert.equal(up.sessions.length, 5);
    assert.equal(stats.upstream_cx_total.value(), 5);
    assert.equal(stats.upstream_cx_http2_total.value(), 5);
    assert.equal(stats.upstream_cx_connect_fail.value(), 0);
    assert.equal(host.stats.cx_active, 5);
  } finally {
    pool.destroy();
    await up.close();
  }
});

test('max_connections: streams queue for the one session the breaker allows', T, async () => {
  const up = await h2cServer((s) => { s.respond({ ':status': 200 }); s.end('x'); }, { settings: { maxConcurrentStreams: 2 } });
  const { host, stats, rm } = makeHost(up.port, { thresholds: { maxConnections: 1 } });
  const pool = new Http2ConnPool(host);
  try {
    const xs = Array.from({ length: 6 }, (_, i) => new Exchange(`/${i}`).start(pool));
    await Promise.all(xs.map((x) => x.done));
    for (const x of xs) assert.equal(x.headers?.get(':status'), '200');
    assert.equal(up.sessions.length, 1);
    assert.equal(stats.upstream_cx_total.value(), 1);
    assert.ok(stats.upstream_cx_overflow.value() >= 1, 'the breaker stopped a second session');
    assert.equal(rm.connections.count, 1);
  } finally {
    pool.destroy();
    await up.close();
  }
  assert.equal(rm.connections.count, 0);
});

test('RST_STREAM from the server: RemoteReset, REFUSED_STREAM: RemoteRefusedStreamReset; the session survives', T, async () => {
  const up = await h2cServer((s, h) => {
    switch (h[':path']) {
      case '/refuse': s.close(NGHTTP2_REFUSED_STREAM); break;
      case '/rst': s.close(NGHTTP2_INTERNAL_ERROR); break;
      case '/mid-body':
        s.respond({ ':status': 200 });
        s.write('partial', () => s.destroy(new Error('upstream gave up')));
        break;
      default: s.respond({ ':status': 200 }); s.end('fine');
    }
  });
  const { host, stats } = makeHost(up.port);
  const pool = new Http2ConnPool(host);
  try {
    const refused = new Exchange('/refuse').start(pool);
    await refused.done;
    assert.equal(refused.reset?.reason, StreamResetReason.RemoteRefusedStreamReset);
    assert.equal(refused.headers, null);

    const rst = new Exchange('/rst').start(pool);
    await rst.done;
    assert.equal(rst.reset?.reason, StreamResetReason.RemoteReset);

    const mid = new Exchange('/mid-body').start(pool);
    await mid.done;
    assert.equal(mid.headers?.get(':status'), '200');
    assert.equal(mid.body, 'partial');
    assert.equal(mid.ended, false);
    assert.equal(mid.reset?.reason, StreamResetReason.RemoteReset);

    const ok = new Exchange('/ok').start(pool);
    await ok.done;
    assert.equal(ok.body, 'fine');
    assert.equal(stats.upstream_cx_total.value(), 1, 'stream resets leave the session up');
    assert.equal(stats.upstream_cx_destroy.value(), 0);
    await until(() => pool.isIdle());
  } finally {
    pool.destroy();
    await up.close();
  }
});

test('GOAWAY mid-flight: streams above last-stream-id refused, in-flight one finishes, new streams use a new session', T, async () => {
  const held: ServerHttp2Stream[] = [];
  const clientSockets: net.Socket[] = [];
  const up = await h2cServer((s) => {
    if (s.session === up.sessions[0]) {
      held.push(s);
      if (held.length === 3) {
        const first = held[0]!;
        first.session!.goaway(0, first.id!);
        setImmediate(() => { first.respond({ ':status': 200 }); first.end('finished after GOAWAY'); });
      }
      return;
    }
    s.respond({ ':status': 200 });
    s.end('new session');
  });
  const { host, stats } = makeHost(up.port);
  const pool = new Http2ConnPool(host, {
    createConnection: (h) => {
      const sock = net.connect({ host: h.address, port: h.port });
      clientSockets.push(sock);
      return sock;
    },
  });
  try {
    const xs = [0, 1, 2].map((i) => new Exchange(`/${i}`).start(pool));
    await Promise.all(xs.map((x) => x.done));
    assert.equal(xs[0]!.body, 'finished after GOAWAY');
    assert.equal(xs[0]!.reset, null);
    for (const x of xs.slice(1)) {
      assert.equal(x.reset?.reason, StreamResetReason.RemoteRefusedStreamReset, 'retriable: never processed');
      assert.equal(x.headers, null);
    }
    assert.equal(stats.upstream_cx_close_notify.value(), 1);

    const after = new Exchange('/after').start(pool);
    await after.done;
    assert.equal(after.body, 'new session');
    assert.equal(up.sessions.length, 2);
    assert.equal(stats.upstream_cx_total.value(), 2);

    // The drained session closed once empty, socket included (a node server
    // stops reading after its own GOAWAY, so it is up to the client).
    await until(() => clientSockets[0]!.destroyed);
    assert.equal(pool.connectionCount, 1);
    assert.equal(stats.upstream_cx_destroy_local.value(), 1);
    assert.equal(stats.upstream_cx_destroy_with_active_rq.value(), 0);
    assert.equal(stats.upstream_cx_active.value(), 1);
  } finally {
    pool.destroy();
    await up.close();
  }
});

test('connection closed under an active stream: ConnectionTermination, destroy_remote_with_active_rq', T, async () => {
  const up = await h2cServer((s) => {
    s.respond({ ':status': 200 });
    s.write('partial', () => { for (const sock of up.sockets) sock.destroy(); });
  });
  const { host, stats } = makeHost(up.port);
  const pool = new Http2ConnPool(host);
  try {
    const ex = new Exchange().start(pool);
    await ex.done;
    assert.equal(ex.headers?.get(':status'), '200');
    assert.equal(ex.ended, false);
    assert.equal(ex.reset?.reason, StreamResetReason.ConnectionTermination);
    await until(() => pool.connectionCount === 0);
    assert.equal(stats.upstream_cx_destroy.value(), 1);
    assert.equal(stats.upstream_cx_destroy_remote.value(), 1);
    assert.equal(stats.upstream_cx_destroy_remote_with_active_rq.value(), 1);
    assert.equal(stats.upstream_cx_destroy_with_active_rq.value(), 1);
    assert.equal(stats.upstream_cx_active.value(), 0);
    assert.equal(host.stats.cx_active, 0);
    assert.ok(pool.isIdle());
  } finally {
    pool.destroy();
    await up.close();
  }
});

test('malformed response headers: ProtocolError', T, async () => {
  const frame = (type: number, flags: number, stream: number, payload: Buffer): Buffer => {
    const h = Buffer.alloc(9);
    h.writeUIntBE(payload.length, 0, 3);
    h[3] = type;
    h[4] = flags;
    h.writeUInt32BE(stream, 5);
    return Buffer.concat([h, payload]);
  };
  const up = await rawServer((c) => {
    c.write(frame(4, 0, 0, Buffer.alloc(0))); // SETTINGS
    let got = 0;
    let answered = false;
    c.on('data', (d: Buffer) => {
      got += d.length;
      // Client preface (24) + SETTINGS + ... + the request HEADERS: answer stream 1
      // with `:status: 200` and an upper-case header name (invalid in HTTP/2).
      if (!answered && got > 24 + 9 + 9) {
        answered = true;
        c.write(frame(4, 1, 0, Buffer.alloc(0))); // SETTINGS ACK
        c.write(frame(1, 0x5, 1, Buffer.from([0x88, 0x00, 3, 0x58, 0x2d, 0x41, 1, 0x62])));
      }
    });
  });
  const { host } = makeHost(up.port);
  const pool = new Http2ConnPool(host);
  try {
    const ex = new Exchange().start(pool);
    await ex.done;
    assert.equal(ex.headers, null);
    assert.equal(ex.reset?.reason, StreamResetReason.ProtocolError);
  } finally {
    pool.destroy();
    await up.close();
  }
});

test('connection refused: onPoolFailure(RemoteConnectionFailure) with the errno text', T, async () => {
  const { host, stats } = makeHost(await freePort());
  const pool = new Http2ConnPool(host);
  try {
    const a = new Exchange().start(pool);
    const b = new Exchange().start(pool);
    await Promise.all([a.done, b.done]);
    for (const x of [a, b]) {
      assert.equal(x.failure?.reason, PoolFailureReason.RemoteConnectionFailure);
      assert.equal(x.failure?.detail, 'delayed connect error: Connection refused');
      assert.equal(x.encoder, null);
    }
    assert.equal(stats.upstream_cx_total.value(), 1, 'one session was enough for both');
    assert.equal(stats.upstream_cx_connect_fail.value(), 1);
    assert.equal(stats.upstream_cx_connect_timeout.value(), 0);
    assert.equal(stats.upstream_rq_pending_failure_eject.value(), 2);
    assert.equal(stats.upstream_rq_pending_active.value(), 0);
    assert.equal(stats.upstream_cx_active.value(), 0);
    assert.equal(host.stats.cx_connect_fail, 1);
    assert.equal(host.stats.cx_active, 0);
    assert.ok(pool.isIdle());
  } finally {
    pool.destroy();
  }
});

test('a transport that cannot even be created: LocalConnectionFailure, nothing left open', T, async () => {
  const { host, stats, rm } = makeHost(70000); // not a port: net.connect throws
  const pool = new Http2ConnPool(host);
  const ex = new Exchange().start(pool);
  assert.equal(ex.handle, null, 'failed before newStream returned');
  assert.equal(ex.failure?.reason, PoolFailureReason.LocalConnectionFailure);
  assert.match(ex.failure!.detail, /port/i);
  assert.equal(stats.upstream_cx_connect_fail.value(), 1);
  assert.equal(stats.upstream_cx_total.value(), 0);
  assert.equal(stats.upstream_cx_active.value(), 0);
  assert.equal(rm.connections.count, 0);
  assert.equal(rm.pendingRequests.count, 0);
  assert.ok(pool.isIdle());
  pool.destroy();
});

test('connect timeout (server never sends SETTINGS): onPoolFailure(Timeout)', T, async () => {
  const up = await rawServer(() => {}); // accepts, says nothing
  const { host, stats } = makeHost(up.port, { connectTimeoutMs: 50 });
  const pool = new Http2ConnPool(host);
  try {
    const ex = new Exchange().start(pool);
    await ex.done;
    assert.equal(ex.failure?.reason, PoolFailureReason.Timeout);
    assert.equal(stats.upstream_cx_connect_timeout.value(), 1);
    assert.equal(stats.upstream_cx_connect_fail.value(), 1);
    assert.equal(stats.upstream_cx_destroy_local.value(), 1);
    assert.equal(host.stats.cx_connect_fail, 1);
    assert.equal(pool.connectionCount, 0);
  } finally {
    pool.destroy();
    await up.close();
  }
});

test('max_pending_requests: overflow fails at once with Overflow', T, async () => {
  const up = await h2cServer((s) => { s.respond({ ':status': 200 }); s.end('ok'); });
  const { host, stats, rm } = makeHost(up.port, { thresholds: { maxPendingRequests: 1 } });
  const pool = new Http2ConnPool(host);
  try {
    const first = new Exchange().start(pool);
    const second = new Exchange().start(pool);
    assert.ok(first.handle !== null);
    assert.equal(second.handle, null);
    assert.equal(second.failure?.reason, PoolFailureReason.Overflow, 'synchronously');
    assert.equal(stats.upstream_rq_pending_overflow.value(), 1);
    assert.equal(rm.pendingRequests.count, 1);
    await first.done;
    assert.equal(first.body, 'ok');
    assert.equal(rm.pendingRequests.count, 0);
  } finally {
    pool.destroy();
    await up.close();
  }
});

test('cancelling a pending stream: no callback, queue released, the unneeded session closed', T, async () => {
  const up = await h2cServer((s) => { s.respond({ ':status': 200 }); s.end('ok'); });
  const { host, stats, rm } = makeHost(up.port);
  const pool = new Http2ConnPool(host);
  try {
    const ex = new Exchange().start(pool);
    assert.equal(pool.connectionCount, 1);
    ex.handle!.cancel();
    assert.equal(pool.pendingCount, 0);
    assert.equal(rm.pendingRequests.count, 0);
    assert.equal(stats.upstream_rq_pending_active.value(), 0);
    assert.equal(pool.connectionCount, 0, 'CloseExcess');
    assert.equal(stats.upstream_cx_connect_fail.value(), 0, 'closing an excess session is not a connect failure');
    await new Promise((r) => setImmediate(r));
    assert.equal(ex.failure, null);
    assert.equal(ex.encoder, null);
  } finally {
    pool.destroy();
    await up.close();
  }
});

test('readDisable (counted) pauses the response; trailers wait for the paused body', T, async () => {
  const TOTAL = 256 * 1024;
  const bigSent = deferred();
  const up = await h2cServer((s, h) => {
    if (h[':path'] !== '/big') { s.respond({ ':status': 200 }); s.end('barrier'); return; }
    s.respond({ ':status': 200, 'content-length': String(TOTAL) }, { waitForTrailers: true });
    s.on('wantTrailers', () => { s.sendTrailers({ 'x-done': '1' }); bigSent.resolve(); });
    for (let i = 0; i < TOTAL / 16384; i++) s.write(Buffer.alloc(16384, 0x61));
    s.end();
  });
  const { host } = makeHost(up.port);
  const pool = new Http2ConnPool(host);
  try {
    const big = new Exchange('/big');
    let callsAtPause = -1;
    big.onChunk = () => {
      if (callsAtPause !== -1) return;
      callsAtPause = big.dataCalls;
      big.encoder!.getStream().readDisable(true);
      big.encoder!.getStream().readDisable(true);
    };
    big.start(pool);
    await bigSent.promise; // the upstream wrote the whole body and its trailers
    // A second stream's response, sent by the upstream after all of /big, has
    // arrived: /big's bytes are in, yet none reached the decoder.
    await new Exchange('/barrier1').start(pool).done;
    assert.equal(big.dataCalls, callsAtPause);
    assert.equal(big.trailers, null);

    big.encoder!.getStream().readDisable(false); // one of two: still paused
    await new Exchange('/barrier2').start(pool).done;
    assert.equal(big.dataCalls, callsAtPause);

    big.encoder!.getStream().readDisable(false);
    await big.done;
    assert.equal(big.reset, null);
    assert.equal(big.bytes, TOTAL);
    assert.equal((big.trailers as HeaderMap | null)?.get('x-done'), '1');
    assert.equal(big.bytesAtTrailers, TOTAL);
  } finally {
    pool.destroy();
    await up.close();
  }
});

test('write side: write() over the buffer limit fires the high watermark, drain the low one', T, async () => {
  const BODY = 1024 * 1024;
  const upstreamStream = deferred<ServerHttp2Stream>();
  const up = await h2cServer((s) => upstreamStream.resolve(s)); // does not read until told
  const { host } = makeHost(up.port, { perConnectionBufferLimitBytes: 64 * 1024 });
  const pool = new Http2ConnPool(host);
  try {
    const ex = new Exchange();
    ex.send = (enc) => {
      enc.encodeHeaders(reqHeaders('POST', '/upload'), false);
      enc.encodeData(Buffer.alloc(BODY, 0x62), false);
    };
    ex.onBelow = () => ex.encoder!.encodeData(Buffer.alloc(0), true);
    ex.start(pool);
    const s = await upstreamStream.promise;
    await ex.ready;
    assert.equal(ex.above, 1, 'more than the buffer limit is queued behind HTTP/2 flow control');
    assert.equal(ex.below, 0);
    let received = 0;
    s.on('data', (d: Buffer) => { received += d.length; });
    s.on('end', () => { s.respond({ ':status': 200 }); s.end(String(received)); });
    await ex.done;
    assert.equal(ex.below, 1);
    assert.equal(ex.body, String(BODY));
  } finally {
    pool.destroy();
    await up.close();
  }
});

test('early response: an unfinished upload is cancelled so the stream slot frees', T, async () => {
  const upstreamClosed = deferred();
  const up = await h2cServer((s) => {
    s.on('close', () => upstreamClosed.resolve());
    s.respond({ ':status': 413 });
    s.end('too big');
  });
  const { host } = makeHost(up.port);
  const pool = new Http2ConnPool(host);
  try {
    const ex = new Exchange();
    ex.send = (enc) => {
      enc.encodeHeaders(reqHeaders('POST', '/upload'), false);
      enc.encodeData(Buffer.from('first part'), false);
    };
    ex.start(pool);
    await ex.done;
    assert.equal(ex.headers?.get(':status'), '413');
    assert.equal(ex.body, 'too big');
    assert.equal(ex.reset, null, 'a completed response is not reported as reset');
    await upstreamClosed.promise;
    await until(() => pool.isIdle());
    assert.equal(pool.activeStreamCount, 0);
  } finally {
    pool.destroy();
    await up.close();
  }
});

test('resetStream(LocalReset) before and after the headers frees the slot; the upstream sees the cancel', T, async () => {
  const upstreamReset = deferred<number>();
  const up = await h2cServer((s) => { s.on('close', () => upstreamReset.resolve(s.rstCode)); }); // never answers
  const { host } = makeHost(up.port);
  const pool = new Http2ConnPool(host);
  try {
    // Abandoned in onPoolReady, before any header was sent (UpstreamRequest does this).
    const early = new Exchange();
    early.send = (enc) => enc.getStream().resetStream(StreamResetReason.LocalReset);
    early.start(pool);
    await early.ready;
    assert.equal(early.reset?.reason, StreamResetReason.LocalReset);
    assert.equal(pool.activeStreamCount, 0);

    const sent = new Exchange();
    sent.start(pool);
    await sent.ready;
    assert.equal(pool.activeStreamCount, 1);
    sent.encoder!.getStream().removeCallbacks(sent);
    sent.encoder!.getStream().resetStream(StreamResetReason.LocalReset);
    assert.equal(sent.reset, null, 'removed callbacks hear nothing');
    assert.equal(await upstreamReset.promise, http2.constants.NGHTTP2_CANCEL);
    await until(() => pool.isIdle());
  } finally {
    pool.destroy();
    await up.close();
  }
});

test('drainConnections closes idle sessions now and busy ones when their streams end; idle callback fires', T, async () => {
  const held: ServerHttp2Stream[] = [];
  const gotHeld = deferred();
  const up = await h2cServer((s, h) => {
    if (h[':path'] === '/hold') { held.push(s); gotHeld.resolve(); return; }
    s.respond({ ':status': 200 });
    s.end('ok');
  });
  const { host, stats } = makeHost(up.port);
  const pool = new Http2ConnPool(host);
  try {
    await new Exchange('/warm').start(pool).done;
    await until(() => pool.isIdle());
    let idleCalls = 0;
    pool.addIdleCallback(() => idleCalls++);
    pool.drainConnections();
    assert.equal(pool.connectionCount, 0, 'the idle session closed at once');
    assert.equal(idleCalls, 1);
    assert.equal(stats.upstream_cx_destroy_local.value(), 1);

    const busy = new Exchange('/hold').start(pool);
    await gotHeld.promise;
    pool.drainConnections();
    assert.equal(pool.connectionCount, 1, 'the busy session drains');
    const next = new Exchange('/next').start(pool);
    await next.done;
    assert.equal(next.body, 'ok');
    assert.equal(stats.upstream_cx_total.value(), 3, 'a draining session takes no new stream');
    held[0]!.respond({ ':status': 200 });
    held[0]!.end('released');
    await busy.done;
    assert.equal(busy.body, 'released');
    await until(() => pool.connectionCount === 1);
    assert.equal(stats.upstream_cx_destroy_with_active_rq.value(), 0);
  } finally {
    pool.destroy();
    await up.close();
  }
});

test('destroy: active streams reset with ConnectionTermination, pending ones fail, later ones fail at once', T, async () => {
  const gotStream = deferred();
  const up = await h2cServer(() => gotStream.resolve(), { settings: { maxConcurrentStreams: 1 } });
  const { host, stats, rm } = makeHost(up.port, { thresholds: { maxConnections: 1 } });
  const pool = new Http2ConnPool(host);
  const active = new Exchange().start(pool);
  await gotStream.promise;
  const queued = new Exchange().start(pool);
  assert.equal(pool.pendingCount, 1);
  pool.destroy();
  await Promise.all([active.done, queued.done]);
  assert.equal(active.reset?.reason, StreamResetReason.ConnectionTermination);
  assert.equal(queued.failure?.reason, PoolFailureReason.LocalConnectionFailure);
  assert.equal(stats.upstream_cx_destroy_local_with_active_rq.value(), 1);
  assert.equal(stats.upstream_cx_active.value(), 0);
  assert.equal(rm.connections.count, 0);
  assert.equal(rm.pendingRequests.count, 0);
  await until(() => pool.isIdle());
  const late = new Exchange().start(pool);
  assert.equal(late.failure?.reason, PoolFailureReason.LocalConnectionFailure);
  await up.close();
});

test('idle timeout closes a session with no streams', T, async () => {
  const up = await h2cServer((s) => { s.respond({ ':status': 200 }); s.end('ok'); });
  const { host, stats } = makeHost(up.port, { idleTimeoutMs: 20 });
  const pool = new Http2ConnPool(host);
  try {
    await new Exchange().start(pool).done;
    await until(() => pool.connectionCount === 0);
    assert.equal(stats.upstream_cx_idle_timeout.value(), 1);
    assert.equal(stats.upstream_cx_destroy_local.value(), 1);
    assert.equal(stats.upstream_cx_destroy_with_active_rq.value(), 0);
  } finally {
    pool.destroy();
    await up.close();
  }
});

test('max_requests_per_connection: a session drains after its last allowed stream', T, async () => {
  const up = await h2cServer((s) => { s.respond({ ':status': 200 }); s.end('ok'); });
  const { host, stats } = makeHost(up.port, { maxRequestsPerConnection: 2 });
  const pool = new Http2ConnPool(host);
  try {
    const xs = [0, 1, 2].map((i) => new Exchange(`/${i}`).start(pool));
    await Promise.all(xs.map((x) => x.done));
    for (const x of xs) assert.equal(x.body, 'ok');
    assert.equal(stats.upstream_cx_total.value(), 2);
    assert.equal(stats.upstream_cx_max_requests.value(), 1);
    await until(() => pool.connectionCount === 1);
  } finally {
    pool.destroy();
    await up.close();
  }
});
