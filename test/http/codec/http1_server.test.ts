/**
 * Http1ServerConnection through real sockets: keep-alive, pipelining,
 * streamed bodies, trailers, HEAD/204/304, 100-continue, upgrades, response
 * framing, flow control and resets. (Strictness cases: http1_strictness.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import { StreamResetReason } from '../../../src/envoy/http/codec.js';
import { Protocol } from '../../../src/envoy/http/protocol.js';
import { HeaderMapImpl } from '../../../src/http/codec/header_map_impl.js';
import { Http1ServerConnection } from '../../../src/http/codec/http1/server_connection.js';
import {
  RawClient, RecordedStream, Waiter, headersToPairs, rawExchange, responseHeaders, splitResponses, startServer,
} from './http1_test_util.js';

test('request head becomes a HeaderMap: pseudo headers first, Host as :authority, names lower-cased in order, no :scheme', async () => {
  const srv = await startServer((s) => s.respond(200, 'ok'));
  try {
    const c = await RawClient.connect(srv.port);
    c.write('GET /a/b?c=d HTTP/1.1\r\nHost: example.com:8080\r\nX-Custom-Header:  v1 \r\nAccept: */*\r\nx-custom-header: v2\r\n\r\n');
    await c.untilResponses(1);
    const s = srv.streams[0]!;
    assert.deepEqual(headersToPairs(s.headers!), [
      [':method', 'GET'],
      [':path', '/a/b?c=d'],
      [':authority', 'example.com:8080'],
      ['x-custom-header', 'v1'],
      ['accept', '*/*'],
      ['x-custom-header', 'v2'],
    ]);
    assert.equal(s.headersEndStream, true);
    assert.equal(s.encoder.protocol, Protocol.Http11);
    c.destroy();
  } finally {
    await srv.close();
  }
});

test('keep-alive: 200 requests on one connection through an independent client (node:http)', async () => {
  let n = 0;
  const srv = await startServer((s) => s.respond(200, `r${n++}`, [['x-n', String(n)]]));
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    for (let i = 0; i < 200; i++) {
      const body = await new Promise<string>((resolve, reject) => {
        const req = http.get({ host: '127.0.0.1', port: srv.port, path: `/${i}`, agent }, (res) => {
          assert.equal(res.statusCode, 200);
          let b = '';
          res.setEncoding('latin1');
          res.on('data', (d: string) => { b += d; });
          res.on('end', () => resolve(b));
        });
        req.on('error', reject);
      });
      assert.equal(body, `r${i}`);
    }
    assert.equal(srv.codecs.length, 1, 'one downstream connection served every request');
    assert.equal(srv.streams.length, 200);
    assert.equal(srv.streams[199]!.headers!.get(':path'), '/199');
  } finally {
    agent.destroy();
    await srv.close();
  }
});

test('pipelining: requests are served one at a time, in order, from one write', async () => {
  const srv = await startServer(() => { /* answered by the test */ });
  try {
    const c = await RawClient.connect(srv.port);
    c.write('GET /1 HTTP/1.1\r\nHost: h\r\n\r\nPOST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabcGET /3 HTTP/1.1\r\nHost: h\r\n\r\n');
    await srv.waiter.until(() => srv.streams.length === 1);
    // The next request is buffered, not dispatched, while /1 has no response.
    await new Promise((r) => setImmediate(r));
    assert.equal(srv.streams.length, 1);
    srv.streams[0]!.respond(200, 'one');
    await srv.waiter.until(() => srv.streams.length === 2 && srv.streams[1]!.ended);
    assert.equal(srv.streams[1]!.headers!.get(':path'), '/2');
    assert.equal(srv.streams[1]!.body, 'abc');
    assert.equal(srv.streams.length, 2);
    srv.streams[1]!.respond(201, 'two');
    await srv.waiter.until(() => srv.streams.length === 3);
    srv.streams[2]!.respond(202, 'three');
    await c.untilResponses(3);
    const rs = splitResponses(c.text);
    assert.match(rs[0]!, /^HTTP\/1\.1 200 OK\r\n[\s\S]*one$/);
    assert.match(rs[1]!, /^HTTP\/1\.1 201 Created\r\n[\s\S]*two$/);
    assert.match(rs[2]!, /^HTTP\/1\.1 202 Accepted\r\n[\s\S]*three$/);
    c.destroy();
  } finally {
    await srv.close();
  }
});

test('a response completed synchronously inside decodeHeaders lets the next pipelined request through', async () => {
  const srv = await startServer((s) => s.respond(200, s.headers!.get(':path')!));
  try {
    const c = await RawClient.connect(srv.port);
    let req = '';
    for (let i = 0; i < 20; i++) req += `GET /p${i} HTTP/1.1\r\nHost: h\r\n\r\n`;
    c.write(req);
    await c.untilResponses(20);
    const rs = splitResponses(c.text);
    for (let i = 0; i < 20; i++) assert.ok(rs[i]!.endsWith(`/p${i}`), rs[i]);
    c.destroy();
  } finally {
    await srv.close();
  }
});

test('content-length body is streamed: the first part is delivered before the rest is sent', async () => {
  const srv = await startServer(() => {});
  try {
    const c = await RawClient.connect(srv.port);
    c.write('POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nhello');
    await srv.waiter.until(() => srv.streams.length === 1 && srv.streams[0]!.data.length === 1);
    const s = srv.streams[0]!;
    assert.equal(s.headersEndStream, false);
    assert.equal(s.body, 'hello');
    assert.equal(s.ended, false);
    c.write('world');
    await s.waiter.until(() => s.ended);
    assert.equal(s.body, 'helloworld');
    assert.deepEqual(s.events, ['headers end=false', 'data 5 end=false', 'data 5 end=true']);
    s.respond(200, 'ok');
    await c.untilResponses(1);
    c.destroy();
  } finally {
    await srv.close();
  }
});

test('chunked body is streamed, extensions ignored, ends with an empty end-of-stream data frame', async () => {
  const srv = await startServer(() => {});
  try {
    const c = await RawClient.connect(srv.port);
    c.write('POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;name=value\r\nhello\r\n');
    await srv.waiter.until(() => srv.streams.length === 1 && srv.streams[0]!.data.length === 1);
    const s = srv.streams[0]!;
    assert.equal(s.body, 'hello');
    assert.equal(s.ended, false);
    c.write('6\r\n world\r\n');
    await s.waiter.until(() => s.data.length === 2);
    c.write('0\r\n\r\n');
    await s.waiter.until(() => s.ended);
    assert.equal(s.body, 'hello world');
    assert.equal(s.trailers, null);
    assert.deepEqual(s.events.at(-1), 'data 0 end=true');
    s.respond(200);
    await c.untilResponses(1);
    c.destroy();
  } finally {
    await srv.close();
  }
});

test('chunked body split at every byte boundary parses the same (dispatch fed byte by byte)', async () => {
  const req = 'POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nx-t: 1\r\n\r\nGET /next HTTP/1.1\r\nHost: h\r\n\r\n';
  const srv = await startServer(() => {}, { readFromSocket: false, enableTrailers: true });
  try {
    const c = await RawClient.connect(srv.port);
    await srv.waiter.until(() => srv.codecs.length === 1);
    const codec = srv.codecs[0]!;
    const bytes = Buffer.from(req, 'latin1');
    for (let i = 0; i < bytes.length; i++) codec.dispatch(bytes.subarray(i, i + 1));
    const s = srv.streams[0]!;
    assert.equal(s.body, 'abc0123456789abcdef');
    assert.deepEqual(headersToPairs(s.trailers!), [['x-t', '1']]);
    assert.equal(srv.streams.length, 1, 'the pipelined request waits for the response');
    s.respond(200);
    await srv.waiter.until(() => srv.streams.length === 2);
    assert.equal(srv.streams[1]!.headers!.get(':path'), '/next');
    c.destroy();
  } finally {
    await srv.close();
  }
});

test('trailers: delivered via decodeTrailers with enable_trailers, dropped (end via data) without', async () => {
  for (const enableTrailers of [true, false]) {
    const srv = await startServer((s) => {
      s.waiter.until(() => s.ended).then(() => {
        s.encoder.encodeHeaders(responseHeaders(200), false);
        s.encoder.encodeData(Buffer.from('body'), false);
        s.encoder.encodeTrailers(HeaderMapImpl.fromPairs([['grpc-status', '0']]));
      });
    }, { enableTrailers });
    try {
      const c = await RawClient.connect(srv.port);
      c.write('POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n');
      await c.untilResponses(1);
      const s = srv.streams[0]!;
      if (enableTrailers) {
        assert.deepEqual(headersToPairs(s.trailers!), [['x-checksum', 'abc'], ['x-other', '1']]);
        assert.ok(c.text.endsWith('4\r\nbody\r\n0\r\ngrpc-status: 0\r\n\r\n'), JSON.stringify(c.text));
      } else {
        assert.equal(s.trailers, null);
        assert.deepEqual(s.events.at(-1), 'data 0 end=true');
        assert.ok(c.text.endsWith('4\r\nbody\r\n0\r\n\r\n'), JSON.stringify(c.text));
      }
      c.destroy();
    } finally {
      await srv.close();
    }
  }
});

test('response framing: chunked without content-length; content-length: 0 for headers-only; names as stored, pseudo headers skipped', async () => {
  const srv = await startServer((s) => {
    const p = s.headers!.get(':path');
    if (p === '/chunked') {
      s.encoder.encodeHeaders(responseHeaders(200, [['x-b', '2'], ['x-a', '1']]), false);
      s.encoder.encodeData(Buffer.from('abc'), false);
      s.encoder.encodeData(Buffer.from('defgh'), true);
    } else if (p === '/empty') {
      s.encoder.encodeHeaders(responseHeaders(404), true);
    } else {
      s.encoder.encodeHeaders(responseHeaders(200, [['content-length', '2']]), false);
      s.encoder.encodeData(Buffer.from('ok'), true);
    }
  });
  try {
    const c = await RawClient.connect(srv.port);
    c.write('GET /chunked HTTP/1.1\r\nHost: h\r\n\r\nGET /empty HTTP/1.1\r\nHost: h\r\n\r\nGET /cl HTTP/1.1\r\nHost: h\r\n\r\n');
    await c.untilResponses(3);
    assert.equal(c.text,
      'HTTP/1.1 200 OK\r\nx-b: 2\r\nx-a: 1\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n5\r\ndefgh\r\n0\r\n\r\n'
      + 'HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n'
      + 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
    c.destroy();
  } finally {
    await srv.close();
  }
});

test('HEAD, 204 and 304 responses carry no body', async () => {
  const srv = await startServer((s) => {
    const p = s.headers!.get(':path');
    if (p === '/head') {
      s.encoder.encodeHeaders(responseHeaders(200, [['content-length', '5']]), false);
      s.encoder.encodeData(Buffer.from('HELLO'), true); // must not reach the wire
    } else if (p === '/204') {
      s.encoder.encodeHeaders(responseHeaders(204), true);
    } else {
      s.encoder.encodeHeaders(responseHeaders(304, [['etag', '"x"']]), false);
      s.encoder.encodeData(Buffer.from('ignored'), true);
    }
  });
  try {
    const c = await RawClient.connect(srv.port);
    c.write('HEAD /head HTTP/1.1\r\nHost: h\r\n\r\nGET /204 HTTP/1.1\r\nHost: h\r\n\r\nGET /304 HTTP/1.1\r\nHost: h\r\n\r\nGET /204 HTTP/1.1\r\nHost: h\r\n\r\n');
    await srv.waiter.until(() => srv.streams.length === 4);
    await c.untilText((t) => t.split('HTTP/1.1').length - 1 === 4 && t.endsWith('\r\n\r\n'));
    assert.equal(c.text,
      'HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n'
      + 'HTTP/1.1 204 No Content\r\n\r\n'
      + 'HTTP/1.1 304 Not Modified\r\netag: "x"\r\n\r\n'
      + 'HTTP/1.1 204 No Content\r\n\r\n');
    c.destroy();
  } finally {
    await srv.close();
  }
});

test('Expect: 100-continue is a header; encode1xxHeaders writes HTTP/1.1 100 Continue before the body is sent', async () => {
  const srv = await startServer((s) => {
    assert.equal(s.headers!.get('expect'), '100-continue');
    s.encoder.encode1xxHeaders(responseHeaders(100));
    s.waiter.until(() => s.ended).then(() => s.respond(200, s.body.toUpperCase()));
  });
  try {
    const c = await RawClient.connect(srv.port);
    c.write('PUT /x HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n');
    await c.untilText((t) => t.includes('\r\n\r\n'));
    assert.equal(c.text, 'HTTP/1.1 100 Continue\r\n\r\n');
    c.write('data');
    await c.untilText((t) => t.endsWith('DATA'));
    assert.equal(c.text, 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nDATA');
    c.destroy();
  } finally {
    await srv.close();
  }
});

test('upgrade: headers kept, 101 switches to raw bytes in both directions, then the connection closes', async () => {
  const srv = await startServer((s) => {
    s.encoder.encodeHeaders(responseHeaders(101, [['connection', 'Upgrade'], ['upgrade', 'websocket']]), false);
  });
  try {
    const c = await RawClient.connect(srv.port);
    c.write('GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n\x01\x02early');
    await srv.waiter.until(() => srv.streams.length === 1 && srv.streams[0]!.data.length === 1);
    const s = srv.streams[0]!;
    assert.equal(s.headers!.get('upgrade'), 'websocket');
    assert.equal(s.headers!.get('connection'), 'Upgrade');
    assert.equal(s.headersEndStream, false);
    assert.equal(s.body, '\x01\x02early');
    // Raw bytes that look like HTTP are not parsed.
    c.write('0\r\nGET / HTTP/1.1\r\n\r\n');
    await s.waiter.until(() => s.body.endsWith('\r\n\r\n'));
    assert.equal(s.body, '\x01\x02early0\r\nGET / HTTP/1.1\r\n\r\n');
    s.encoder.encodeData(Buffer.from('raw-from-upstream'), false);
    await c.untilText((t) => t.endsWith('raw-from-upstream'));
    assert.equal(c.text, 'HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\nupgrade: websocket\r\n\r\nraw-from-upstream');
    s.encoder.encodeData(Buffer.alloc(0), true);
    await c.untilClosed();
  } finally {
    await srv.close();
  }
});

test('upgrade refused (non-101): response gets connection: close and the connection closes', async () => {
  const srv = await startServer((s) => s.respond(403));
  try {
    const c = await rawExchange(srv.port, 'GET /ws HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n');
    assert.equal(c.text, 'HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
  } finally {
    await srv.close();
  }
});

test('h2c upgrade offers are stripped and the request is served as HTTP/1.1', async () => {
  const srv = await startServer((s) => s.respond(200, 'x'));
  try {
    const c = await RawClient.connect(srv.port);
    c.write('GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings, keep-alive\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n');
    await c.untilResponses(1);
    const s = srv.streams[0]!;
    assert.deepEqual(headersToPairs(s.headers!), [[':method', 'GET'], [':path', '/'], [':authority', 'h'], ['connection', 'keep-alive']]);
    assert.equal(s.headersEndStream, true);
    c.destroy();
  } finally {
    await srv.close();
  }
});

test('CONNECT: :authority from the target, no :path, 200 switches to raw without framing headers', async () => {
  const srv = await startServer((s) => s.encoder.encodeHeaders(responseHeaders(200), false));
  try {
    const c = await RawClient.connect(srv.port);
    c.write('CONNECT upstream.example:443 HTTP/1.1\r\nHost: upstream.example:443\r\n\r\n');
    await srv.waiter.until(() => srv.streams.length === 1);
    const s = srv.streams[0]!;
    assert.deepEqual(headersToPairs(s.headers!), [[':method', 'CONNECT'], [':authority', 'upstream.example:443']]);
    c.write('tls-bytes');
    await s.waiter.until(() => s.body === 'tls-bytes');
    s.encoder.encodeData(Buffer.from('back'), false);
    await c.untilText((t) => t.endsWith('back'));
    assert.equal(c.text, 'HTTP/1.1 200 OK\r\n\r\nback');
    c.destroy();
  } finally {
    await srv.close();
  }
});

test('absolute-form target: :authority and :path from the URL (Host ignored), :scheme from the URL', async () => {
  const srv = await startServer((s) => s.respond(200));
  try {
    const c = await RawClient.connect(srv.port);
    c.write('GET http://www.example.com:8080/p?q=1 HTTP/1.1\r\nHost: other\r\n\r\nGET HTTP://bare.example HTTP/1.1\r\nHost: x\r\n\r\n');
    await c.untilResponses(2);
    assert.deepEqual(headersToPairs(srv.streams[0]!.headers!),
      [[':method', 'GET'], [':scheme', 'http'], [':path', '/p?q=1'], [':authority', 'www.example.com:8080']]);
    assert.deepEqual(headersToPairs(srv.streams[1]!.headers!),
      [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'bare.example']]);
    c.destroy();
  } finally {
    await srv.close();
  }
});

test('connection: close from the request is echoed and the connection closes after the response', async () => {
  const srv = await startServer((s) => s.respond(200, 'bye'));
  try {
    const c = await rawExchange(srv.port, 'GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n');
    assert.equal(c.text, 'HTTP/1.1 200 OK\r\ncontent-length: 3\r\nconnection: close\r\n\r\nbye');
  } finally {
    await srv.close();
  }
});

test('HTTP/1.0 (accepted): default host, HTTP/1.0 status line, close-delimited body, keep-alive honoured with content-length', async () => {
  const srv = await startServer((s) => {
    if (s.headers!.get(':path') === '/stream') {
      s.encoder.encodeHeaders(responseHeaders(200), false);
      s.encoder.encodeData(Buffer.from('until-close'), true);
    } else {
      s.respond(200, 'ka');
    }
  }, { acceptHttp10: true, defaultHostForHttp10: 'default.com' });
  try {
    const c1 = await rawExchange(srv.port, 'GET /stream HTTP/1.0\r\n\r\n');
    assert.equal(c1.text, 'HTTP/1.0 200 OK\r\nconnection: close\r\n\r\nuntil-close');
    assert.equal(srv.streams[0]!.headers!.get(':authority'), 'default.com');
    assert.equal(srv.streams[0]!.encoder.protocol, Protocol.Http10);

    const c2 = await RawClient.connect(srv.port);
    c2.write('GET /ka HTTP/1.0\r\nHost: foo.com\r\nConnection: keep-alive\r\n\r\n');
    await c2.untilResponses(1);
    assert.equal(c2.text, 'HTTP/1.0 200 OK\r\ncontent-length: 2\r\nconnection: keep-alive\r\n\r\nka');
    assert.equal(c2.closed, false);
    assert.equal(srv.streams[1]!.headers!.get(':authority'), 'foo.com');
    c2.destroy();
  } finally {
    await srv.close();
  }
});

test('shutdownNotice: the in-flight response gets connection: close, then the connection closes', async () => {
  const srv = await startServer(() => {});
  try {
    const c = await RawClient.connect(srv.port);
    c.write('GET / HTTP/1.1\r\nHost: h\r\n\r\n');
    await srv.waiter.until(() => srv.streams.length === 1);
    assert.equal(srv.codecs[0]!.wantsToWrite(), true);
    srv.codecs[0]!.shutdownNotice();
    srv.streams[0]!.respond(200, 'x');
    await c.untilClosed();
    assert.equal(c.text, 'HTTP/1.1 200 OK\r\ncontent-length: 1\r\nconnection: close\r\n\r\nx');
    assert.equal(srv.codecs[0]!.wantsToWrite(), false);
  } finally {
    await srv.close();
  }
});

test('a response completed before the request body closes the connection (no reset of the finished stream)', async () => {
  const srv = await startServer((s) => s.respond(413, 'too big'));
  try {
    const c = await RawClient.connect(srv.port);
    c.write('POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 100000\r\n\r\npartial');
    await c.untilClosed();
    assert.equal(c.text, 'HTTP/1.1 413 Payload Too Large\r\ncontent-length: 7\r\n\r\ntoo big');
    assert.deepEqual(srv.streams[0]!.resets, []);
  } finally {
    await srv.close();
  }
});

test('client disconnect with an active stream resets it with ConnectionTermination', async () => {
  const srv = await startServer(() => {});
  try {
    const c = await RawClient.connect(srv.port);
    c.write('POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc');
    await srv.waiter.until(() => srv.streams.length === 1 && srv.streams[0]!.data.length === 1);
    c.destroy();
    const s = srv.streams[0]!;
    await s.waiter.until(() => s.resets.length > 0);
    assert.deepEqual(s.resets, [[StreamResetReason.ConnectionTermination, '']]);
  } finally {
    await srv.close();
  }
});

test('resetStream closes the connection and runs reset callbacks once', async () => {
  const srv = await startServer(() => {});
  try {
    const c = await RawClient.connect(srv.port);
    c.write('GET / HTTP/1.1\r\nHost: h\r\n\r\n');
    await srv.waiter.until(() => srv.streams.length === 1);
    const s = srv.streams[0]!;
    s.encoder.getStream().resetStream(StreamResetReason.LocalReset);
    s.encoder.getStream().resetStream(StreamResetReason.LocalReset);
    await c.untilClosed();
    assert.deepEqual(s.resets, [[StreamResetReason.LocalReset, '']]);
    assert.equal(c.text, '');
  } finally {
    await srv.close();
  }
});

test('readDisable is counted and pauses/resumes the socket', async () => {
  const srv = await startServer(() => {});
  try {
    const c = await RawClient.connect(srv.port);
    c.write('POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 6\r\n\r\nabc');
    await srv.waiter.until(() => srv.streams.length === 1 && srv.streams[0]!.data.length === 1);
    const s = srv.streams[0]!;
    const sock = srv.serverSockets[0]!;
    const stream = s.encoder.getStream();
    stream.readDisable(true);
    stream.readDisable(true);
    assert.equal(sock.isPaused(), true);
    stream.readDisable(false);
    assert.equal(sock.isPaused(), true, 'still disabled once');
    c.write('def');
    await new Promise((r) => setImmediate(r));
    assert.equal(s.body, 'abc', 'no data while read-disabled');
    stream.readDisable(false);
    assert.equal(sock.isPaused(), false);
    await s.waiter.until(() => s.ended);
    assert.equal(s.body, 'abcdef');
    assert.equal(stream.bufferLimit(), 1024 * 1024);
    c.destroy();
  } finally {
    await srv.close();
  }
});

test('watermarks: a slow reader drives onAboveWriteBufferHighWatermark, draining drives onBelowWriteBufferLowWatermark', async () => {
  const limit = 64 * 1024;
  const srv = await startServer((s) => s.encoder.encodeHeaders(responseHeaders(200), false), { bufferLimit: limit });
  try {
    const c = await RawClient.connect(srv.port);
    c.socket.pause(); // the slow reader
    c.write('GET /big HTTP/1.1\r\nHost: h\r\n\r\n');
    await srv.waiter.until(() => srv.streams.length === 1);
    const s = srv.streams[0]!;
    const chunk = Buffer.alloc(16 * 1024, 0x61);
    let sent = 0;
    // Write until the socket buffer is over the limit (the kernel buffers absorb the first part).
    while (s.highWatermarks === 0) {
      s.encoder.encodeData(chunk, false);
      sent += chunk.length;
      if (sent % (1024 * 1024) === 0) await new Promise((r) => setImmediate(r));
    }
    assert.equal(s.highWatermarks, 1);
    assert.equal(s.lowWatermarks, 0);
    c.socket.resume();
    await s.waiter.until(() => s.lowWatermarks === 1);
    s.encoder.encodeData(Buffer.alloc(0), true);
    await c.untilText((t) => t.endsWith('0\r\n\r\n'));
    c.destroy();
  } finally {
    await srv.close();
  }
});

test('a stream created while the connection is above the high watermark hears about it on addCallbacks', async () => {
  const srv = await startServer(() => {});
  try {
    const c = await RawClient.connect(srv.port);
    c.write('GET / HTTP/1.1\r\nHost: h\r\n\r\n');
    await srv.waiter.until(() => srv.streams.length === 1);
    const enc = srv.streams[0]!.encoder;
    (enc.getStream() as unknown as { runHighWatermarkCallbacks(): void }).runHighWatermarkCallbacks();
    let late = 0;
    enc.getStream().addCallbacks({
      onResetStream() {}, onAboveWriteBufferHighWatermark() { late++; }, onBelowWriteBufferLowWatermark() {},
    });
    assert.equal(late, 1);
    c.destroy();
  } finally {
    await srv.close();
  }
});

test('codec on an owned Network::Connection: dispatch-fed, closes and read-disables through the connection', async () => {
  const calls: string[] = [];
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  const streams: RecordedStream[] = [];
  const waiter = new Waiter();
  server.on('connection', (sock) => {
    const connection = {
      id: 1, remoteAddress: '', localAddress: '', requestedServerName: '', closed: false,
      bytesReceived: 0, bytesSent: 0, ssl: null, nextProtocol: "",
      write() {}, addConnectionCallbacks() {}, bufferLimit: () => 0,
      close(type: string) { calls.push(`close ${type}`); sock.end(); },
      readDisable(d: boolean) { calls.push(`readDisable ${d}`); },
    };
    const codec = new Http1ServerConnection(sock, {
      newStream(enc) { const s = new RecordedStream(enc); streams.push(s); waiter.notify(); return s; },
    }, { connection });
    // The owner reads and feeds the codec.
    sock.on('data', (d: Buffer) => codec.dispatch(d));
  });
  try {
    const c = await RawClient.connect(port);
    c.write('GET / HTTP/1.1\r\nHost: h\r\n\r\n');
    await waiter.until(() => streams.length === 1);
    streams[0]!.encoder.getStream().readDisable(true);
    streams[0]!.encoder.getStream().readDisable(false);
    streams[0]!.respond(200, 'x', [['connection', 'close']]);
    await c.untilClosed();
    assert.equal(c.text, 'HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 1\r\n\r\nx');
    assert.deepEqual(calls, ['readDisable true', 'readDisable false', 'close FlushWrite']);
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
});

test('5 MB echoed as it streams: chunked in (node:http client), chunked out, bytes intact', async () => {
  const { createHash, randomBytes } = await import('node:crypto');
  const payload = randomBytes(5 * 1024 * 1024);
  const srv = await startServer((s) => {
    s.encoder.encodeHeaders(responseHeaders(200), false);
    // Echo every piece as it arrives (the request is streamed, never buffered whole).
    let sent = 0;
    const pump = (): void => {
      while (sent < s.data.length) s.encoder.encodeData(s.data[sent++]!, false);
      if (s.ended) s.encoder.encodeData(Buffer.alloc(0), true);
      else void s.waiter.until(() => s.data.length > sent || s.ended).then(pump);
    };
    pump();
  });
  try {
    const got = await new Promise<Buffer>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: srv.port, method: 'POST', path: '/echo' }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('end', () => resolve(Buffer.concat(parts)));
      });
      req.on('error', reject);
      for (let off = 0; off < payload.length; off += 64 * 1024) req.write(payload.subarray(off, off + 64 * 1024));
      req.end();
    });
    assert.equal(got.length, payload.length);
    assert.equal(createHash('sha256').update(got).digest('hex'), createHash('sha256').update(payload).digest('hex'));
    assert.ok(srv.streams[0]!.data.length > 1, 'the body arrived in several pieces');
  } finally {
    await srv.close();
  }
});

test('empty lines before a request line are ignored (RFC 9112 §2.2)', async () => {
  const srv = await startServer((s) => s.respond(200, 'x'));
  try {
    const c = await RawClient.connect(srv.port);
    c.write('\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n');
    await c.untilResponses(1);
    assert.equal(srv.streams.length, 1);
    assert.deepEqual(srv.codecErrors, []);
    c.destroy();
  } finally {
    await srv.close();
  }
});
