/**
 * Http1ConnPool against real upstreams on 127.0.0.1 (node:http as an
 * independent server, raw sockets where bytes matter): reuse, circuit
 * breakers, connect failures, idle timeout, max requests per connection,
 * upstream closes, cancel, drain and destroy, with Envoy's stat names.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import { StreamResetReason } from '../../../src/envoy/http/codec.js';
import { PoolFailureReason } from '../../../src/envoy/upstream/cluster_manager.js';
import { HeaderMapImpl } from '../../../src/http/codec/header_map_impl.js';
import { KEEPALIVE_RACE_DETAIL } from '../../../src/http/codec/http1/client_connection.js';
import { Http1ConnPool } from '../../../src/upstream/conn_pool/http1_conn_pool.js';
import { Waiter, startRawUpstream } from '../../http/codec/http1_test_util.js';
import { PoolRequest, makeHost, type TestClusterOptions, type TestHistogram, type TestHost } from './pool_test_util.js';

interface HttpUpstream {
  port: number;
  connections: net.Socket[];
  closed: number;
  requests: http.IncomingMessage[];
  waiter: Waiter;
  close(): Promise<void>;
}

/** node:http upstream; `handler` answers (default: 200 with the path as body). */
async function startHttpUpstream(handler?: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<HttpUpstream> {
  const waiter = new Waiter();
  const server = http.createServer((req, res) => {
    up.requests.push(req);
    waiter.notify();
    if (handler) handler(req, res);
    else {
      req.resume();
      req.on('end', () => res.end(`path=${req.url}`));
    }
  });
  const up: HttpUpstream = {
    port: 0, connections: [], closed: 0, requests: [], waiter,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  server.on('connection', (s: net.Socket) => {
    up.connections.push(s);
    s.on('close', () => { up.closed++; waiter.notify(); });
    waiter.notify();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  up.port = (server.address() as net.AddressInfo).port;
  return up;
}

const GET = (path = '/'): HeaderMapImpl => HeaderMapImpl.fromPairs([[':method', 'GET'], [':path', path], [':authority', 'up'], [':scheme', 'http']]);

/** Asks the pool for a stream, sends a GET when ready, and waits for the response (or failure). */
async function get(pool: Http1ConnPool, path = '/'): Promise<PoolRequest> {
  const r = new PoolRequest();
  pool.newStream(r.response, r);
  await r.untilSettled();
  if (r.encoder !== null) {
    r.encoder.encodeHeaders(GET(path), true);
    await r.response.untilEnded();
  }
  return r;
}

/** Polls a condition on the event loop (no time-based assertion: it waits for state, however long). */
async function until(pred: () => boolean): Promise<void> {
  while (!pred()) await new Promise((r) => setImmediate(r));
}

function stat(host: TestHost, name: string): number {
  const s = host.cluster.stats.all.get(name);
  assert.ok(s, `no stat ${name}`);
  return s.value();
}

function setup(port: number, o: TestClusterOptions = {}): { host: TestHost; pool: Http1ConnPool } {
  const host = makeHost(port, o);
  return { host, pool: new Http1ConnPool(host) };
}

test('keep-alive reuse: sequential requests share one connection; Envoy stats and host stats', async () => {
  const up = await startHttpUpstream();
  const { host, pool } = setup(up.port);
  try {
    for (let i = 0; i < 5; i++) {
      const r = await get(pool, `/r${i}`);
      assert.equal(r.response.status, '200');
      assert.equal(r.response.body, `path=/r${i}`);
      assert.match(r.upstreamLocalAddress, /^127\.0\.0\.1:\d+$/);
    }
    assert.equal(up.connections.length, 1);
    assert.equal(stat(host, 'upstream_cx_total'), 1);
    assert.equal(stat(host, 'upstream_cx_http1_total'), 1);
    assert.equal(stat(host, 'upstream_cx_active'), 1);
    assert.equal(stat(host, 'upstream_rq_total'), 5);
    assert.equal(stat(host, 'upstream_rq_pending_total'), 1, 'only the first request waited for a connection');
    assert.equal(stat(host, 'upstream_rq_pending_active'), 0);
    assert.equal((host.cluster.stats.upstream_cx_connect_ms as TestHistogram).values.length, 1);
    assert.ok(stat(host, 'upstream_cx_rx_bytes_total') > 0);
    assert.ok(stat(host, 'upstream_cx_tx_bytes_total') > 0);
    assert.equal(host.stats.cx_total, 1);
    assert.equal(host.stats.cx_active, 1);
    assert.equal(host.resources.connections.count, 1);
    assert.equal(pool.readyCount, 1);
    assert.equal(pool.isIdle(), true);
  } finally {
    pool.destroy();
    await up.close();
  }
  assert.equal(stat(host, 'upstream_cx_active'), 0);
  assert.equal(stat(host, 'upstream_cx_destroy_local'), 1);
  assert.equal(host.resources.connections.count, 0);
});

test('concurrent streams open one connection each; idle connections are reused LIFO', async () => {
  const held: http.ServerResponse[] = [];
  const up = await startHttpUpstream((req, res) => { req.resume(); held.push(res); up.waiter.notify(); });
  const { host, pool } = setup(up.port);
  try {
    const rs = [new PoolRequest(), new PoolRequest(), new PoolRequest()];
    for (const r of rs) assert.notEqual(pool.newStream(r.response, r), null, 'pending while connecting');
    assert.equal(pool.pendingCount, 3);
    assert.equal(pool.isIdle(), false);
    for (const r of rs) { await r.untilSettled(); r.encoder!.encodeHeaders(GET(), true); }
    await up.waiter.until(() => held.length === 3);
    assert.equal(stat(host, 'upstream_cx_total'), 3);
    // Answer in order 0, 2, 1: the connection of request 1 is the most recently idle.
    for (const i of [0, 2, 1]) {
      held[i]!.end('x');
      await rs[i]!.response.untilEnded();
    }
    assert.equal(pool.readyCount, 3);
    const next = new PoolRequest();
    assert.equal(pool.newStream(next.response, next), null, 'an idle connection is attached synchronously');
    assert.equal(next.upstreamLocalAddress, rs[1]!.upstreamLocalAddress);
    next.encoder!.encodeHeaders(GET(), true);
    await up.waiter.until(() => held.length === 4);
    held[3]!.end('y');
    await next.response.untilEnded();
    assert.equal(stat(host, 'upstream_cx_total'), 3);
  } finally {
    pool.destroy();
    await up.close();
  }
});

test('max_pending_requests: overflow fails fast with Overflow and upstream_rq_pending_overflow', async () => {
  const up = await startHttpUpstream();
  const { host, pool } = setup(up.port, { maxPendingRequests: 1 });
  try {
    const first = new PoolRequest();
    assert.notEqual(pool.newStream(first.response, first), null);
    const second = new PoolRequest();
    assert.equal(pool.newStream(second.response, second), null);
    assert.deepEqual(second.failure, [PoolFailureReason.Overflow, '']);
    assert.equal(stat(host, 'upstream_rq_pending_overflow'), 1);
    await first.untilSettled();
    first.encoder!.encodeHeaders(GET(), true);
    await first.response.untilEnded();
    assert.equal(first.response.status, '200');
    assert.equal(host.resources.pendingRequests.count, 0);
  } finally {
    pool.destroy();
    await up.close();
  }
});

test('max_connections: no new connection past the limit (upstream_cx_overflow); the queued stream reuses the connection', async () => {
  let release: (() => void) | null = null;
  const up = await startHttpUpstream((req, res) => {
    req.resume();
    if (release === null) release = () => res.end('first');
    else res.end('second');
    up.waiter.notify();
  });
  const { host, pool } = setup(up.port, { maxConnections: 1 });
  try {
    const a = new PoolRequest();
    pool.newStream(a.response, a);
    const b = new PoolRequest();
    pool.newStream(b.response, b);
    assert.equal(stat(host, 'upstream_cx_total'), 1);
    assert.equal(stat(host, 'upstream_cx_overflow'), 1);
    await a.untilSettled();
    a.encoder!.encodeHeaders(GET('/a'), true);
    await up.waiter.until(() => release !== null);
    assert.equal(b.encoder, null, 'b waits for a connection');
    release!();
    await a.response.untilEnded();
    await b.untilSettled();
    b.encoder!.encodeHeaders(GET('/b'), true);
    await b.response.untilEnded();
    assert.equal(b.response.body, 'second');
    assert.equal(up.connections.length, 1);
    assert.equal(stat(host, 'upstream_cx_total'), 1);
  } finally {
    pool.destroy();
    await up.close();
  }
});

test('connection refused: RemoteConnectionFailure with the errno text; every pending stream fails', async () => {
  // A port that was just free: nothing listens there.
  const probe = net.createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const { host, pool } = setup(port);
  const a = new PoolRequest();
  const b = new PoolRequest();
  pool.newStream(a.response, a);
  pool.newStream(b.response, b);
  await a.untilSettled();
  await b.untilSettled();
  assert.deepEqual(a.failure, [PoolFailureReason.RemoteConnectionFailure, 'delayed connect error: Connection refused']);
  assert.deepEqual(b.failure, [PoolFailureReason.RemoteConnectionFailure, 'delayed connect error: Connection refused']);
  // Two pending streams opened two connections. As in Envoy, the first connect
  // failure already failed both pending streams; the second connection fails later.
  await until(() => pool.connectionCount === 0);
  assert.equal(stat(host, 'upstream_cx_connect_fail'), 2);
  assert.equal(host.stats.cx_connect_fail, 2);
  assert.equal(stat(host, 'upstream_rq_pending_failure_eject'), 2);
  assert.equal(stat(host, 'upstream_rq_pending_active'), 0);
  assert.equal(stat(host, 'upstream_cx_destroy_remote'), 2);
  assert.equal(stat(host, 'upstream_cx_active'), 0);
  assert.equal(stat(host, 'upstream_cx_connect_timeout'), 0);
  assert.equal(host.resources.connections.count, 0);
  assert.equal(host.resources.pendingRequests.count, 0);
  assert.equal(pool.connectionCount, 0);
});

test('connect timeout: Timeout, upstream_cx_connect_timeout and upstream_cx_connect_fail (timer path, with a socket that never connects)', async () => {
  // Honest scope: the socket is never asked to connect, so this proves the
  // pool's timer and failure accounting, not kernel SYN timing.
  const host = makeHost(1, { connectTimeoutMs: 1 });
  const pool = new Http1ConnPool(host, { createSocket: () => new net.Socket() });
  const r = new PoolRequest();
  assert.notEqual(pool.newStream(r.response, r), null);
  await r.untilSettled();
  assert.deepEqual(r.failure, [PoolFailureReason.Timeout, '']);
  assert.equal(stat(host, 'upstream_cx_connect_timeout'), 1);
  assert.equal(stat(host, 'upstream_cx_connect_fail'), 1);
  assert.equal(stat(host, 'upstream_cx_destroy_local'), 1);
  assert.equal(stat(host, 'upstream_rq_pending_failure_eject'), 1);
  assert.equal(stat(host, 'upstream_cx_active'), 0);
});

test('upstream idle timeout closes an idle connection (upstream_cx_idle_timeout)', async () => {
  const up = await startHttpUpstream();
  const { host, pool } = setup(up.port, { idleTimeoutMs: 30 });
  try {
    await get(pool);
    await up.waiter.until(() => up.closed === 1);
    assert.equal(stat(host, 'upstream_cx_idle_timeout'), 1);
    assert.equal(stat(host, 'upstream_cx_destroy_local'), 1);
    assert.equal(pool.readyCount, 0);
    assert.equal(pool.connectionCount, 0);
    // The pool keeps working with a new connection.
    const r = await get(pool);
    assert.equal(r.response.status, '200');
    assert.equal(stat(host, 'upstream_cx_total'), 2);
  } finally {
    pool.destroy();
    await up.close();
  }
});

test('max_requests_per_connection: the connection closes after its last request (upstream_cx_max_requests)', async () => {
  const up = await startHttpUpstream();
  const { host, pool } = setup(up.port, { maxRequestsPerConnection: 2 });
  try {
    for (let i = 0; i < 5; i++) await get(pool);
    assert.equal(stat(host, 'upstream_cx_total'), 3);
    assert.equal(stat(host, 'upstream_cx_max_requests'), 2);
    await up.waiter.until(() => up.closed === 2);
    assert.equal(stat(host, 'upstream_cx_destroy_local'), 2);
    assert.equal(stat(host, 'upstream_cx_destroy_with_active_rq'), 0);
  } finally {
    pool.destroy();
    await up.close();
  }
});

test('upstream connection: close: the response is delivered, the connection is not reused (upstream_cx_close_notify)', async () => {
  const up = await startHttpUpstream((req, res) => { req.resume(); res.setHeader('connection', 'close'); res.end('bye'); });
  const { host, pool } = setup(up.port);
  try {
    const a = await get(pool);
    assert.equal(a.response.body, 'bye');
    const b = await get(pool);
    assert.equal(b.response.body, 'bye');
    assert.equal(stat(host, 'upstream_cx_close_notify'), 2);
    assert.equal(stat(host, 'upstream_cx_total'), 2);
    assert.equal(up.connections.length, 2);
  } finally {
    pool.destroy();
    await up.close();
  }
});

test('upstream closes an idle keep-alive connection: it leaves the pool and the next stream gets a new one', async () => {
  const up = await startHttpUpstream();
  const { host, pool } = setup(up.port);
  try {
    await get(pool);
    assert.equal(pool.readyCount, 1);
    up.connections[0]!.end();
    await until(() => pool.connectionCount === 0);
    assert.equal(pool.readyCount, 0);
    assert.equal(stat(host, 'upstream_cx_destroy_remote'), 1);
    const r = await get(pool);
    assert.equal(r.response.status, '200');
    assert.equal(stat(host, 'upstream_cx_total'), 2);
  } finally {
    pool.destroy();
    await up.close();
  }
});

test('keep-alive race: the upstream closes a reused connection instead of answering -> ConnectionTermination with the race detail', async () => {
  let n = 0;
  const up = await startRawUpstream((sock, _i, all) => {
    if (!all.endsWith('\r\n\r\n')) return;
    if (++n === 1) sock.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    else sock.destroy(); // read the second request, then vanish
  });
  const { host, pool } = setup(up.port);
  try {
    const a = await get(pool);
    assert.equal(a.response.body, 'ok');
    const b = await get(pool);
    assert.deepEqual(b.response.resets, [[StreamResetReason.ConnectionTermination, KEEPALIVE_RACE_DETAIL]]);
    await until(() => pool.connectionCount === 0);
    assert.equal(stat(host, 'upstream_cx_destroy_remote_with_active_rq'), 1);
    assert.equal(stat(host, 'upstream_cx_destroy_with_active_rq'), 1);
    assert.equal(pool.isIdle(), true);
    // A retry gets a fresh connection.
    n = 0;
    const c = await get(pool);
    assert.equal(c.response.body, 'ok');
  } finally {
    pool.destroy();
    await up.close();
  }
});

test('a malformed upstream response: ProtocolError reset, upstream_cx_protocol_error, connection closed', async () => {
  const up = await startRawUpstream((sock, _i, all) => { if (all.endsWith('\r\n\r\n')) sock.write('NOT HTTP\r\n\r\n'); });
  const { host, pool } = setup(up.port);
  try {
    const r = await get(pool);
    assert.deepEqual(r.response.resets, [[StreamResetReason.ProtocolError, '']]);
    await up.waiter.until(() => up.closedCount === 1);
    assert.equal(stat(host, 'upstream_cx_protocol_error'), 1);
    assert.equal(stat(host, 'upstream_cx_destroy_local_with_active_rq'), 1);
  } finally {
    pool.destroy();
    await up.close();
  }
});

test('bytes after a complete response: the response is delivered, then upstream_cx_protocol_error and the connection closes', async () => {
  const up = await startRawUpstream((sock, _i, all) => {
    if (all.endsWith('\r\n\r\n')) sock.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokGARBAGE');
  });
  const { host, pool } = setup(up.port);
  try {
    const r = await get(pool);
    assert.equal(r.response.body, 'ok');
    assert.deepEqual(r.response.resets, []);
    await until(() => pool.connectionCount === 0);
    assert.equal(stat(host, 'upstream_cx_protocol_error'), 1);
    assert.equal(stat(host, 'upstream_cx_destroy_local'), 1);
    assert.equal(stat(host, 'upstream_cx_destroy_with_active_rq'), 0);
  } finally {
    pool.destroy();
    await up.close();
  }
});

test('cancel a pending stream: no callback fires; the connection it caused becomes idle', async () => {
  const up = await startHttpUpstream();
  const { host, pool } = setup(up.port);
  try {
    const r = new PoolRequest();
    const handle = pool.newStream(r.response, r);
    assert.notEqual(handle, null);
    handle!.cancel();
    handle!.cancel();
    assert.equal(stat(host, 'upstream_rq_pending_active'), 0);
    assert.equal(host.resources.pendingRequests.count, 0);
    assert.equal(pool.isIdle(), true);
    await up.waiter.until(() => up.connections.length === 1);
    await new Promise((res) => setTimeout(res, 0));
    assert.equal(r.encoder, null);
    assert.equal(r.failure, null);
    const again = await get(pool);
    assert.equal(again.response.status, '200');
    assert.equal(stat(host, 'upstream_cx_total'), 1);
  } finally {
    pool.destroy();
    await up.close();
  }
});

test('drainConnections closes idle connections now and busy ones after their stream; the idle callback fires once fully idle', async () => {
  let hold: http.ServerResponse | null = null;
  const up = await startHttpUpstream((req, res) => {
    req.resume();
    if (req.url === '/hold') { hold = res; up.waiter.notify(); } else res.end('ok');
  });
  const { host, pool } = setup(up.port);
  let idle = 0;
  pool.addIdleCallback(() => idle++);
  try {
    // Two connections: one idle, one busy.
    const busy = new PoolRequest();
    pool.newStream(busy.response, busy);
    const quick = new PoolRequest();
    pool.newStream(quick.response, quick);
    await busy.untilSettled();
    await quick.untilSettled();
    busy.encoder!.encodeHeaders(GET('/hold'), true);
    quick.encoder!.encodeHeaders(GET('/quick'), true);
    await quick.response.untilEnded();
    await up.waiter.until(() => hold !== null);
    pool.drainConnections();
    assert.equal(pool.readyCount, 0);
    assert.equal(pool.connectionCount, 1);
    assert.equal(idle, 0);
    hold!.end('done');
    await busy.response.untilEnded();
    assert.equal(busy.response.body, 'done');
    assert.equal(pool.connectionCount, 0);
    assert.equal(idle, 1);
    await up.waiter.until(() => up.closed === 2);
    assert.equal(stat(host, 'upstream_cx_destroy_local'), 2);
  } finally {
    pool.destroy();
    await up.close();
  }
});

test('destroy resets active streams (ConnectionTermination) and fails pending ones', async () => {
  const up = await startHttpUpstream((req) => { req.resume(); /* never answers */ });
  const { host, pool } = setup(up.port, { maxConnections: 1 });
  try {
    const a = new PoolRequest();
    pool.newStream(a.response, a);
    await a.untilSettled();
    a.encoder!.encodeHeaders(GET(), true);
    await up.waiter.until(() => up.requests.length === 1);
    const b = new PoolRequest();
    assert.notEqual(pool.newStream(b.response, b), null);
    pool.destroy();
    assert.deepEqual(a.response.resets, [[StreamResetReason.ConnectionTermination, '']]);
    assert.deepEqual(b.failure, [PoolFailureReason.LocalConnectionFailure, 'connection pool destroyed']);
    assert.equal(stat(host, 'upstream_cx_destroy_local_with_active_rq'), 1);
    assert.equal(stat(host, 'upstream_cx_active'), 0);
    const c = new PoolRequest();
    assert.equal(pool.newStream(c.response, c), null);
    assert.equal(c.failure![0], PoolFailureReason.LocalConnectionFailure);
  } finally {
    await up.close();
  }
});

test('a local reset of an attached stream closes its connection (HTTP/1 cannot cancel a request)', async () => {
  const up = await startHttpUpstream((req) => { req.resume(); });
  const { host, pool } = setup(up.port);
  try {
    const r = new PoolRequest();
    pool.newStream(r.response, r);
    await r.untilSettled();
    r.encoder!.encodeHeaders(GET(), true);
    await up.waiter.until(() => up.requests.length === 1);
    r.encoder!.getStream().resetStream(StreamResetReason.LocalReset);
    await until(() => pool.connectionCount === 0);
    assert.deepEqual(r.response.resets, [[StreamResetReason.LocalReset, '']]);
    assert.equal(stat(host, 'upstream_cx_destroy_local_with_active_rq'), 1);
    assert.equal(pool.isIdle(), true);
    assert.equal(pool.connectionCount, 0);
  } finally {
    pool.destroy();
    await up.close();
  }
});

test('pending streams queued behind a busy connection are attached FIFO when it frees up', async () => {
  const order: string[] = [];
  const up = await startHttpUpstream((req, res) => { req.resume(); order.push(req.url!); res.end(req.url); });
  const { pool } = setup(up.port, { maxConnections: 1 });
  try {
    const rs = ['/1', '/2', '/3', '/4'].map((p) => ({ p, r: new PoolRequest() }));
    for (const { r } of rs) pool.newStream(r.response, r);
    // Each request is sent as soon as its stream is ready.
    await Promise.all(rs.map(async ({ p, r }) => {
      await r.untilSettled();
      r.encoder!.encodeHeaders(GET(p), true);
      await r.response.untilEnded();
    }));
    assert.deepEqual(order, ['/1', '/2', '/3', '/4']);
    assert.equal(up.connections.length, 1);
  } finally {
    pool.destroy();
    await up.close();
  }
});
