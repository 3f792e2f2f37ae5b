/**
 * Http1ClientConnection against a raw TCP upstream: request encoding byte for
 * byte, response framing (content-length, chunked, close-delimited, HEAD,
 * 1xx, 101), premature closes, and malformed responses.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { StreamResetReason } from '../../../src/envoy/http/codec.js';
import { HeaderMapImpl } from '../../../src/http/codec/header_map_impl.js';
import {
  Http1ClientConnection,
  KEEPALIVE_RACE_DETAIL,
  type Http1ClientConnectionCallbacks,
  type Http1RequestEncoder,
} from '../../../src/http/codec/http1/client_connection.js';
import type { Http1ClientSettings } from '../../../src/http/codec/http1/settings.js';
import { RecordedResponse, Waiter, headersToPairs, startRawUpstream, type RawUpstream } from './http1_test_util.js';

class Callbacks implements Http1ClientConnectionCallbacks {
  completes = 0;
  resets: StreamResetReason[] = [];
  closeNotifies = 0;
  protocolErrors = 0;
  readonly waiter = new Waiter();
  onStreamComplete(_s: Http1RequestEncoder): void { this.completes++; this.waiter.notify(); }
  onStreamReset(_s: Http1RequestEncoder, reason: StreamResetReason): void { this.resets.push(reason); this.waiter.notify(); }
  onCloseNotify(): void { this.closeNotifies++; }
  onProtocolError(): void { this.protocolErrors++; }
}

interface Client { codec: Http1ClientConnection; cb: Callbacks; socket: net.Socket }

/** Connects a client codec; `index` is the upstream's index of this connection. */
async function connect(up: RawUpstream, settings: Partial<Http1ClientSettings> = {}): Promise<Client & { index: number }> {
  const index = up.sockets.length;
  const socket = net.connect(up.port, '127.0.0.1');
  await once(socket, 'connect');
  const cb = new Callbacks();
  const codec = new Http1ClientConnection(socket, cb, settings);
  await up.waiter.until(() => up.sockets.length > index);
  return { codec, cb, socket, index };
}

/** Waits until the upstream connection `i` has received `n` request heads. */
function untilHeads(up: RawUpstream, i: number, n: number): Promise<void> {
  return up.waiter.until(() => up.received[i]!.split('\r\n\r\n').length - 1 >= n);
}

function req(pairs: Array<[string, string]>): HeaderMapImpl {
  return HeaderMapImpl.fromPairs(pairs);
}

const GET = (path = '/p'): HeaderMapImpl => req([[':method', 'GET'], [':scheme', 'http'], [':path', path], [':authority', 'up.example']]);

/** Starts a stream and adds the response recorder as its stream callbacks (as the router does). */
function start(c: Client): { enc: Http1RequestEncoder; res: RecordedResponse } {
  const res = new RecordedResponse();
  const enc = c.codec.newStream(res);
  enc.getStream().addCallbacks(res);
  return { enc, res };
}

test('GET: request line, host from :authority first, headers in order, no body framing; content-length response', async () => {
  const up = await startRawUpstream();
  try {
    const c = await connect(up);
    const { enc, res } = start(c);
    const h = GET('/a?b=c');
    h.add('x-b', '2');
    h.add('accept', '*/*');
    h.add('host', 'ignored-when-authority-is-set');
    enc.encodeHeaders(h, true);
    await up.waiter.until(() => up.received[0]!.endsWith('\r\n\r\n'));
    assert.equal(up.received[0], 'GET /a?b=c HTTP/1.1\r\nhost: up.example\r\nx-b: 2\r\naccept: */*\r\n\r\n');
    up.sockets[0]!.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Up: Yes\r\n\r\nhello');
    await res.untilEnded();
    assert.deepEqual(headersToPairs(res.headers!), [[':status', '200'], ['content-length', '5'], ['x-up', 'Yes']]);
    assert.equal(res.body, 'hello');
    assert.equal(c.cb.completes, 1);
    assert.equal(c.codec.reusable, true);
    assert.equal(enc.encodeComplete, true);
    c.socket.destroy();
  } finally {
    await up.close();
  }
});

test('request bodies: chunked when no content-length, raw with it, content-length: 0 for an empty POST, trailers when enabled', async () => {
  const up = await startRawUpstream();
  try {
    const c = await connect(up, { enableTrailers: true });
    const post = (): HeaderMapImpl => req([[':method', 'POST'], [':path', '/u'], [':authority', 'h']]);
    const expected = [
      'POST /u HTTP/1.1\r\nhost: h\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n',
      'POST /u HTTP/1.1\r\nhost: h\r\ncontent-length: 3\r\n\r\nxyz',
      'POST /u HTTP/1.1\r\nhost: h\r\ncontent-length: 0\r\n\r\n',
      'POST /u HTTP/1.1\r\nhost: h\r\ntransfer-encoding: chunked\r\n\r\n1\r\nq\r\n0\r\nx-trailer: t\r\n\r\n',
    ];
    const send = [
      (e: Http1RequestEncoder): void => {
        e.encodeHeaders(post(), false);
        e.encodeData(Buffer.from('abc'), false);
        e.encodeData(Buffer.from('de'), true);
      },
      (e: Http1RequestEncoder): void => {
        const h = post();
        h.add('content-length', '3');
        e.encodeHeaders(h, false);
        e.encodeData(Buffer.from('xyz'), true);
      },
      (e: Http1RequestEncoder): void => e.encodeHeaders(post(), true),
      (e: Http1RequestEncoder): void => {
        e.encodeHeaders(post(), false);
        e.encodeData(Buffer.from('q'), false);
        e.encodeTrailers(HeaderMapImpl.fromPairs([['x-trailer', 't']]));
      },
    ];
    let all = '';
    for (let i = 0; i < send.length; i++) {
      const s = start(c);
      send[i]!(s.enc);
      all += expected[i]!;
      await up.waiter.until(() => up.received[0]!.length >= all.length);
      assert.equal(up.received[0], all);
      assert.equal(s.enc.encodeComplete, true);
      up.sockets[0]!.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
      await s.res.untilEnded();
    }
    assert.equal(up.sockets.length, 1, 'one connection carried all four requests');
    assert.equal(c.cb.completes, 4);
    c.socket.destroy();
  } finally {
    await up.close();
  }
});

test('chunked response is streamed (first chunk before the rest is sent) and trailers are delivered when enabled', async () => {
  const up = await startRawUpstream();
  try {
    const c = await connect(up, { enableTrailers: true });
    const { enc, res } = start(c);
    enc.encodeHeaders(GET(), true);
    await up.waiter.until(() => up.received[0]!.endsWith('\r\n\r\n'));
    up.sockets[0]!.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nabcd\r\n');
    await res.waiter.until(() => res.data.length === 1);
    assert.equal(res.body, 'abcd');
    assert.equal(res.ended, false);
    up.sockets[0]!.write('2\r\nef\r\n0\r\nGrpc-Status: 0\r\n\r\n');
    await res.untilEnded();
    assert.equal(res.body, 'abcdef');
    assert.deepEqual(headersToPairs(res.trailers!), [['grpc-status', '0']]);
    assert.deepEqual(res.events, ['headers 200 end=false', 'data 4 end=false', 'data 2 end=false', 'trailers']);
    assert.equal(c.codec.reusable, true);
    c.socket.destroy();
  } finally {
    await up.close();
  }
});

test('close-delimited response: body until the upstream closes; the connection is not reused', async () => {
  const up = await startRawUpstream();
  try {
    const c = await connect(up);
    const { enc, res } = start(c);
    enc.encodeHeaders(GET(), true);
    await up.waiter.until(() => up.received[0]!.endsWith('\r\n\r\n'));
    up.sockets[0]!.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nstreamed ');
    await res.waiter.until(() => res.data.length === 1);
    assert.equal(c.codec.reusable, false);
    up.sockets[0]!.end('until close');
    await res.untilEnded();
    assert.equal(res.body, 'streamed until close');
    assert.deepEqual(res.resets, []);
    assert.equal(c.cb.completes, 1);
  } finally {
    await up.close();
  }
});

test('no body for HEAD, 204 and 304 even with content-length; 1xx go to decode1xxHeaders', async () => {
  const up = await startRawUpstream();
  try {
    const c = await connect(up);
    const responses = [
      'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n',
      'HTTP/1.1 204 No Content\r\n\r\n',
      'HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\nETag: "e"\r\n\r\n',
      'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
    ];
    const results: RecordedResponse[] = [];
    for (let i = 0; i < responses.length; i++) {
      const { enc, res } = start(c);
      const h = GET();
      if (i === 0) h.set(':method', 'HEAD');
      enc.encodeHeaders(h, true);
      await untilHeads(up, 0, i + 1);
      up.sockets[0]!.write(responses[i]!);
      await res.untilEnded();
      results.push(res);
    }
    assert.deepEqual(results[0]!.events, ['headers 200 end=true']);
    assert.deepEqual(results[1]!.events, ['headers 204 end=true']);
    assert.deepEqual(results[2]!.events, ['headers 304 end=true']);
    assert.deepEqual(results[3]!.events, ['1xx 100', '1xx 103', 'headers 200 end=false', 'data 2 end=true']);
    assert.equal(results[3]!.informational[1]!.get('link'), '</s.css>');
    assert.equal(c.codec.reusable, true);
    assert.equal(up.sockets.length, 1);
    c.socket.destroy();
  } finally {
    await up.close();
  }
});

test('upgrade: no framing on the request, 101 switches both directions to raw bytes', async () => {
  const up = await startRawUpstream();
  try {
    const c = await connect(up);
    const { enc, res } = start(c);
    const h = GET('/ws');
    h.add('connection', 'Upgrade');
    h.add('upgrade', 'websocket');
    enc.encodeHeaders(h, false);
    enc.encodeData(Buffer.from('client-frame'), false);
    await up.waiter.until(() => up.received[0]!.endsWith('client-frame'));
    assert.equal(up.received[0], 'GET /ws HTTP/1.1\r\nhost: up.example\r\nconnection: Upgrade\r\nupgrade: websocket\r\n\r\nclient-frame');
    up.sockets[0]!.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nserver-frame');
    await res.waiter.until(() => res.body === 'server-frame');
    assert.deepEqual(res.events.slice(0, 1), ['headers 101 end=false']);
    up.sockets[0]!.write('HTTP/1.1 200 OK\r\n\r\n'); // raw: not parsed
    await res.waiter.until(() => res.body.endsWith('\r\n\r\n'));
    assert.equal(res.body, 'server-frameHTTP/1.1 200 OK\r\n\r\n');
    assert.equal(c.codec.reusable, false);
    c.socket.destroy();
  } finally {
    await up.close();
  }
});

test('premature close before any response byte: ConnectionTermination; on a reused connection it carries the keep-alive race detail', async () => {
  const up = await startRawUpstream();
  try {
    // First request on a fresh connection: plain connection termination.
    let c = await connect(up);
    let s = start(c);
    s.enc.encodeHeaders(GET(), true);
    await up.waiter.until(() => up.received[0]!.endsWith('\r\n\r\n'));
    up.sockets[0]!.destroy();
    await s.res.untilEnded();
    assert.deepEqual(s.res.resets, [[StreamResetReason.ConnectionTermination, '']]);
    assert.deepEqual(c.cb.resets, [StreamResetReason.ConnectionTermination]);
    assert.equal(s.enc.responseBytes, 0);

    // Second request on a reused keep-alive connection: the upstream closes instead of answering.
    c = await connect(up);
    const idx = c.index;
    s = start(c);
    s.enc.encodeHeaders(GET(), true);
    await untilHeads(up, idx, 1);
    up.sockets[idx]!.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
    await s.res.untilEnded();
    s = start(c);
    s.enc.encodeHeaders(GET(), true);
    await untilHeads(up, idx, 2);
    up.sockets[idx]!.end();
    await s.res.untilEnded();
    assert.deepEqual(s.res.resets, [[StreamResetReason.ConnectionTermination, KEEPALIVE_RACE_DETAIL]]);
    assert.equal(s.enc.reusedConnection, true);
  } finally {
    await up.close();
  }
});

test('close in the middle of a response: ConnectionTermination without the race detail', async () => {
  const up = await startRawUpstream();
  try {
    const c = await connect(up);
    let s = start(c);
    s.enc.encodeHeaders(GET(), true);
    await up.waiter.until(() => up.received[0]!.endsWith('\r\n\r\n'));
    up.sockets[0]!.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
    await s.res.untilEnded();
    s = start(c);
    s.enc.encodeHeaders(GET(), true);
    await untilHeads(up, 0, 2);
    up.sockets[0]!.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc');
    await s.res.waiter.until(() => s.res.data.length === 1);
    up.sockets[0]!.destroy();
    await s.res.waiter.until(() => s.res.resets.length === 1);
    assert.deepEqual(s.res.resets, [[StreamResetReason.ConnectionTermination, '']]);
    assert.ok(s.enc.responseBytes > 0);
  } finally {
    await up.close();
  }
});

test('connection: close and HTTP/1.0 responses make the connection non-reusable (close notify); HTTP/1.0 keep-alive does not', async () => {
  const cases: Array<[string, boolean, number]> = [
    ['HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n', false, 1],
    ['HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n', false, 1],
    ['HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n', true, 0],
    ['HTTP/1.1 200 OK\r\nProxy-Connection: close\r\nContent-Length: 0\r\n\r\n', false, 1],
    ['HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n', true, 0],
  ];
  for (const [response, reusable, notifies] of cases) {
    const up = await startRawUpstream();
    try {
      const c = await connect(up);
      const s = start(c);
      s.enc.encodeHeaders(GET(), true);
      await up.waiter.until(() => up.received[0]!.endsWith('\r\n\r\n'));
      up.sockets[0]!.write(response);
      await s.res.untilEnded();
      assert.equal(c.codec.reusable, reusable, response);
      assert.equal(c.cb.closeNotifies, notifies, response);
      assert.equal(c.cb.completes, 1);
      c.socket.destroy();
    } finally {
      await up.close();
    }
  }
});

test('malformed responses reset the stream with ProtocolError and close the connection', async () => {
  const bad = [
    'HTTP/1.1 2OO OK\r\n\r\n',
    'HTTP/2.0 200 OK\r\n\r\n',
    'HTTP/1.1 099 Low\r\n\r\n',
    'HTTP/1.1 200 OK\r\nBad Header: x\r\n\r\n',
    'HTTP/1.1 200 OK\r\nX: a\x01b\r\n\r\n',
    'HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n',
    'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n',
    'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n',
    'HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n',
    'HTTP/1.1 100 Continue\r\nTransfer-Encoding: chunked\r\n\r\n',
    'HTTP/1.1 101 Switching Protocols\r\n\r\n', // no upgrade was asked for
    'HTTP/1.1 200 OK\nContent-Length: 0\n\n',
    'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nextra', // extraneous bytes after a complete response
  ];
  for (const response of bad) {
    const up = await startRawUpstream();
    try {
      const c = await connect(up);
      const s = start(c);
      s.enc.encodeHeaders(GET(), true);
      await up.waiter.until(() => up.received[0]!.endsWith('\r\n\r\n'));
      up.sockets[0]!.write(response);
      await up.waiter.until(() => up.closedCount === 1);
      assert.equal(c.cb.protocolErrors, 1, JSON.stringify(response));
      assert.equal(c.codec.closed, true);
      if (response.endsWith('extra')) {
        assert.equal(s.res.ended, true, 'the complete response was delivered first');
      } else {
        assert.deepEqual(s.res.resets, [[StreamResetReason.ProtocolError, '']], JSON.stringify(response));
      }
    } finally {
      await up.close();
    }
  }
});

test('response header limits: 80 KiB and the header count', async () => {
  for (const response of [
    `HTTP/1.1 200 OK\r\nX: ${'a'.repeat(81 * 1024)}\r\n\r\n`,
    `HTTP/1.1 200 OK\r\n${Array.from({ length: 101 }, (_, i) => `h${i}: v\r\n`).join('')}\r\n`,
  ]) {
    const up = await startRawUpstream();
    try {
      const c = await connect(up);
      const s = start(c);
      s.enc.encodeHeaders(GET(), true);
      await up.waiter.until(() => up.received[0]!.endsWith('\r\n\r\n'));
      up.sockets[0]!.write(response);
      await s.res.untilEnded();
      assert.deepEqual(s.res.resets, [[StreamResetReason.ProtocolError, '']]);
    } finally {
      await up.close();
    }
  }
});

test('a response that completes before the request is fully sent leaves the connection non-reusable', async () => {
  const up = await startRawUpstream();
  try {
    const c = await connect(up);
    const s = start(c);
    s.enc.encodeHeaders(req([[':method', 'POST'], [':path', '/big'], [':authority', 'h']]), false);
    s.enc.encodeData(Buffer.from('part'), false);
    await up.waiter.until(() => up.received[0]!.endsWith('part\r\n'));
    up.sockets[0]!.write('HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n\r\n');
    await s.res.untilEnded();
    assert.equal(s.enc.encodeComplete, false);
    assert.equal(c.codec.reusable, false);
    assert.equal(c.cb.completes, 1);
    c.socket.destroy();
  } finally {
    await up.close();
  }
});

test('local resetStream closes the connection and runs the callbacks with LocalReset', async () => {
  const up = await startRawUpstream();
  try {
    const c = await connect(up);
    const s = start(c);
    s.enc.encodeHeaders(GET(), true);
    s.enc.getStream().resetStream(StreamResetReason.LocalReset);
    await up.waiter.until(() => up.closedCount === 1);
    assert.deepEqual(s.res.resets, [[StreamResetReason.LocalReset, '']]);
    assert.deepEqual(c.cb.resets, [StreamResetReason.LocalReset]);
    assert.equal(c.codec.localClose, true);
  } finally {
    await up.close();
  }
});

test('client readDisable pauses the upstream socket and is released when the stream ends', async () => {
  const up = await startRawUpstream();
  try {
    const c = await connect(up);
    const s = start(c);
    s.enc.encodeHeaders(GET(), true);
    s.enc.getStream().readDisable(true);
    assert.equal(c.socket.isPaused(), true);
    await up.waiter.until(() => up.received[0]!.endsWith('\r\n\r\n'));
    up.sockets[0]!.write('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx');
    await new Promise((r) => setImmediate(r));
    assert.equal(s.res.headers, null, 'nothing read while disabled');
    s.enc.getStream().readDisable(false);
    await s.res.untilEnded();
    assert.equal(c.socket.isPaused(), false);
    c.socket.destroy();
  } finally {
    await up.close();
  }
});

test('large chunked response in arbitrary segments is reassembled exactly', async () => {
  const { createHash, randomBytes } = await import('node:crypto');
  const payload = randomBytes(3 * 1024 * 1024 + 17);
  const up = await startRawUpstream((sock, _i, all) => {
    if (!all.endsWith('\r\n\r\n')) return;
    sock.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n');
    // Chunks of odd sizes, written in odd segments (framing split anywhere).
    const bufs: Buffer[] = [];
    for (let off = 0, k = 1; off < payload.length; k++) {
      const n = Math.min(payload.length - off, (k * 7919) % 70000 + 1);
      bufs.push(Buffer.from(`${n.toString(16)}\r\n`), payload.subarray(off, off + n), Buffer.from('\r\n'));
      off += n;
    }
    bufs.push(Buffer.from('0\r\n\r\n'));
    const wire = Buffer.concat(bufs);
    for (let off = 0, k = 1; off < wire.length; k++) {
      const n = (k * 104729) % 50000 + 1;
      sock.write(wire.subarray(off, off + n));
      off += n;
    }
  });
  try {
    const c = await connect(up);
    const s = start(c);
    s.enc.encodeHeaders(GET(), true);
    await s.res.untilEnded();
    const got = Buffer.concat(s.res.data);
    assert.equal(got.length, payload.length);
    assert.equal(createHash('sha256').update(got).digest('hex'), createHash('sha256').update(payload).digest('hex'));
    assert.equal(c.codec.reusable, true);
    c.socket.destroy();
  } finally {
    await up.close();
  }
});

test('client watermarks: an upstream that does not read drives the high watermark; reading drives the low one', async () => {
  const up = await startRawUpstream();
  try {
    const c = await connect(up, { bufferLimit: 64 * 1024 });
    up.sockets[0]!.pause();
    const s = start(c);
    s.enc.encodeHeaders(req([[':method', 'POST'], [':path', '/up'], [':authority', 'h']]), false);
    const chunk = Buffer.alloc(16 * 1024, 0x62);
    let sent = 0;
    while (s.res.highWatermarks === 0) {
      s.enc.encodeData(chunk, false);
      sent += chunk.length;
      if (sent % (1024 * 1024) === 0) await new Promise((r) => setImmediate(r));
    }
    assert.equal(s.res.lowWatermarks, 0);
    up.sockets[0]!.resume();
    await s.res.waiter.until(() => s.res.lowWatermarks === 1);
    c.socket.destroy();
  } finally {
    await up.close();
  }
});
