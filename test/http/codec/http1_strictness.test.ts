/**
 * Malformed and disallowed requests: for each, the server codec writes Envoy's
 * codec-error reply itself, reports onCodecError(status, details), creates no
 * stream (so nothing can reach an upstream) and closes the connection.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StreamResetReason } from '../../../src/envoy/http/codec.js';
import type { Http1ServerOptions } from '../../../src/http/codec/http1/settings.js';
import { RawClient, headersToPairs, rawExchange, startServer } from './http1_test_util.js';

const H = 'Host: h\r\n';

interface Case {
  name: string;
  request: string;
  status: number;
  details: string;
  options?: Http1ServerOptions;
}

const REASON: Record<number, string> = {
  400: 'Bad Request', 426: 'Upgrade Required', 431: 'Request Header Fields Too Large', 501: 'Not Implemented',
};

const manyHeaders = (n: number): string => Array.from({ length: n }, (_, i) => `x-h${i}: v\r\n`).join('');

const CASES: Case[] = [
  { name: 'malformed request line (no spaces)', request: 'hello\r\n\r\n', status: 400, details: 'http1.codec_error' },
  { name: 'malformed request line (double space)', request: `GET  / HTTP/1.1\r\n${H}\r\n`, status: 400, details: 'http1.codec_error' },
  { name: 'malformed request line (no target)', request: `GET HTTP/1.1\r\n${H}\r\n`, status: 400, details: 'http1.codec_error' },
  { name: 'invalid version HTTP/1.01', request: `GET / HTTP/1.01\r\n${H}\r\n`, status: 400, details: 'http1.codec_error' },
  { name: 'invalid version token', request: `GET / HTTX/1.1\r\n${H}\r\n`, status: 400, details: 'http1.codec_error' },
  { name: 'bad method token character', request: `GE(T / HTTP/1.1\r\n${H}\r\n`, status: 400, details: 'http1.codec_error' },
  { name: 'unknown method', request: `FOO / HTTP/1.1\r\n${H}\r\n`, status: 400, details: 'http1.codec_error' },
  { name: 'lower-case method', request: `get / HTTP/1.1\r\n${H}\r\n`, status: 400, details: 'http1.codec_error' },
  { name: 'control byte in request-target', request: `GET /a\x7fb HTTP/1.1\r\n${H}\r\n`, status: 400, details: 'http1.codec_error' },
  { name: 'invalid header name (space inside)', request: `GET / HTTP/1.1\r\n${H}foo bar\r\n\r\n`, status: 400, details: 'http1.codec_error' },
  { name: 'invalid header name character', request: `GET / HTTP/1.1\r\n${H}X-(a): 1\r\n\r\n`, status: 400, details: 'http1.codec_error' },
  { name: 'space before colon', request: `GET / HTTP/1.1\r\nHost : h\r\n\r\n`, status: 400, details: 'http1.codec_error' },
  { name: 'empty header name', request: `GET / HTTP/1.1\r\n${H}: v\r\n\r\n`, status: 400, details: 'http1.codec_error' },
  { name: 'CR in header value', request: `GET / HTTP/1.1\r\n${H}X: a\rb\r\n\r\n`, status: 400, details: 'http1.invalid_characters' },
  { name: 'LF in header value', request: `GET / HTTP/1.1\r\n${H}X: a\nb\r\n\r\n`, status: 400, details: 'http1.invalid_characters' },
  { name: 'NUL in header value', request: `GET / HTTP/1.1\r\n${H}X: a\x00b\r\n\r\n`, status: 400, details: 'http1.invalid_characters' },
  { name: 'CTL (0x01) in header value', request: `GET / HTTP/1.1\r\n${H}X: a\x01b\r\n\r\n`, status: 400, details: 'http1.invalid_characters' },
  { name: 'DEL in header value', request: `GET / HTTP/1.1\r\n${H}X: a\x7fb\r\n\r\n`, status: 400, details: 'http1.invalid_characters' },
  { name: 'obs-fold (continuation line with space)', request: `GET / HTTP/1.1\r\n${H}X: a\r\n b\r\n\r\n`, status: 400, details: 'http1.codec_error' },
  { name: 'obs-fold (continuation line with tab)', request: `GET / HTTP/1.1\r\n${H}X: a\r\n\tb\r\n\r\n`, status: 400, details: 'http1.codec_error' },
  { name: 'bare LF line endings', request: 'GET / HTTP/1.1\nHost: h\n\n', status: 400, details: 'http1.codec_error' },
  {
    name: 'both Content-Length and Transfer-Encoding',
    request: `POST / HTTP/1.1\r\n${H}Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`,
    status: 400, details: 'http1.content_length_and_chunked_not_allowed',
  },
  {
    name: 'Transfer-Encoding before Content-Length',
    request: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n`,
    status: 400, details: 'http1.content_length_and_chunked_not_allowed',
  },
  { name: 'two different Content-Lengths', request: `POST / HTTP/1.1\r\n${H}Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd`, status: 400, details: 'http1.codec_error' },
  { name: 'non-numeric Content-Length', request: `POST / HTTP/1.1\r\n${H}Content-Length: abc\r\n\r\n`, status: 400, details: 'http1.codec_error' },
  { name: 'negative Content-Length', request: `POST / HTTP/1.1\r\n${H}Content-Length: -1\r\n\r\n`, status: 400, details: 'http1.codec_error' },
  { name: 'Content-Length list', request: `POST / HTTP/1.1\r\n${H}Content-Length: 3, 3\r\n\r\nabc`, status: 400, details: 'http1.codec_error' },
  { name: 'Content-Length with sign', request: `POST / HTTP/1.1\r\n${H}Content-Length: +3\r\n\r\nabc`, status: 400, details: 'http1.codec_error' },
  { name: 'Content-Length too large', request: `POST / HTTP/1.1\r\n${H}Content-Length: 99999999999999999999\r\n\r\n`, status: 400, details: 'http1.codec_error' },
  { name: 'transfer-encoding gzip', request: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: gzip\r\n\r\n`, status: 501, details: 'http1.invalid_transfer_encoding' },
  { name: 'transfer-encoding gzip, chunked', request: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: gzip, chunked\r\n\r\n`, status: 501, details: 'http1.invalid_transfer_encoding' },
  { name: 'transfer-encoding chunked twice', request: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n`, status: 501, details: 'http1.invalid_transfer_encoding' },
  { name: 'transfer-encoding identity', request: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: identity\r\n\r\n`, status: 501, details: 'http1.invalid_transfer_encoding' },
  { name: 'HTTP/1.0 when not accepted', request: 'GET / HTTP/1.0\r\n\r\n', status: 426, details: 'low_version' },
  { name: 'HTTP/0.9 form when not accepted', request: 'GET /\r\n\r\n', status: 426, details: 'low_version' },
  { name: 'missing Host on HTTP/1.1', request: 'GET / HTTP/1.1\r\nAccept: */*\r\n\r\n', status: 400, details: 'missing_host_header' },
  { name: 'two Host headers', request: `GET / HTTP/1.1\r\n${H}Host: other\r\n\r\n`, status: 400, details: 'http1.codec_error' },
  { name: 'invalid Host characters', request: 'GET / HTTP/1.1\r\nHost: bad^host\r\n\r\n', status: 400, details: 'http.invalid_authority' },
  { name: 'absolute URL with a non-http scheme', request: `GET ftp://x.example/f HTTP/1.1\r\n${H}\r\n`, status: 400, details: 'http1.invalid_scheme' },
  { name: 'malformed absolute URL', request: `GET http:/x HTTP/1.1\r\n${H}\r\n`, status: 400, details: 'http1.codec_error' },
  { name: 'absolute URL without a host', request: `GET http:///p HTTP/1.1\r\n${H}\r\n`, status: 400, details: 'http1.invalid_url' },
  { name: 'CONNECT with a body', request: 'CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\nContent-Length: 2\r\n\r\nhi', status: 400, details: 'http1.body_disallowed' },
  {
    name: 'headers over the size limit',
    request: `GET / HTTP/1.1\r\n${H}X-Big: ${'a'.repeat(2000)}\r\n\r\n`,
    status: 431, details: 'http1.headers_too_large', options: { maxRequestHeadersKb: 1 },
  },
  {
    name: 'headers over the default 60 KiB limit',
    request: `GET / HTTP/1.1\r\n${H}X-Big: ${'a'.repeat(61 * 1024)}\r\n\r\n`,
    status: 431, details: 'http1.headers_too_large',
  },
  { name: 'more than 100 headers', request: `GET / HTTP/1.1\r\n${H}${manyHeaders(100)}\r\n`, status: 431, details: 'http1.too_many_headers' },
  {
    name: 'underscore in a header name with reject_request',
    request: `GET / HTTP/1.1\r\n${H}x_y: 1\r\n\r\n`, status: 400, details: 'http1.unexpected_underscore',
    options: { headersWithUnderscoresAction: 'reject_request' },
  },
];

for (const c of CASES) {
  test(`strict: ${c.name} -> ${c.status} ${c.details}, no stream, connection closed`, async () => {
    const srv = await startServer(() => assert.fail('no stream may be created'), c.options);
    try {
      const client = await rawExchange(srv.port, c.request);
      assert.equal(client.text, `HTTP/1.1 ${c.status} ${REASON[c.status]}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`);
      assert.deepEqual(srv.codecErrors, [[c.status, c.details]]);
      assert.equal(srv.streams.length, 0);
    } finally {
      await srv.close();
    }
  });
}

test('strict: an oversize head is rejected before its end arrives', async () => {
  const srv = await startServer(() => assert.fail('no stream'), { maxRequestHeadersKb: 1 });
  try {
    const c = await RawClient.connect(srv.port);
    c.write(`GET / HTTP/1.1\r\nX-Big: ${'a'.repeat(1100)}`); // no terminator yet
    await c.untilClosed();
    assert.equal(c.text, 'HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
    assert.deepEqual(srv.codecErrors, [[431, 'http1.headers_too_large']]);
  } finally {
    await srv.close();
  }
});

test('limits are inclusive: exactly 100 headers (Host included) and identical Content-Lengths are accepted', async () => {
  const srv = await startServer((s) => { void s.waiter.until(() => s.ended).then(() => s.respond(200)); });
  try {
    const c = await RawClient.connect(srv.port);
    c.write(`POST / HTTP/1.1\r\n${H}${manyHeaders(97)}Content-Length: 2\r\nContent-Length: 2\r\n\r\nok`);
    await c.untilResponses(1);
    const s = srv.streams[0]!;
    assert.equal(s.body, 'ok');
    assert.equal(s.headers!.getAll('content-length').length, 1);
    assert.deepEqual(srv.codecErrors, []);
    c.destroy();
  } finally {
    await srv.close();
  }
});

test('headers_with_underscores_action drop_header drops the header and serves the request', async () => {
  const srv = await startServer((s) => s.respond(200), { headersWithUnderscoresAction: 'drop_header' });
  try {
    const c = await RawClient.connect(srv.port);
    c.write(`GET / HTTP/1.1\r\n${H}x_y: 1\r\nx-z: 2\r\n\r\n`);
    await c.untilResponses(1);
    assert.deepEqual(headersToPairs(srv.streams[0]!.headers!), [[':method', 'GET'], [':path', '/'], [':authority', 'h'], ['x-z', '2']]);
    c.destroy();
  } finally {
    await srv.close();
  }
});

test('strict: bad chunk size inside a body: 400, codec error, the existing stream is reset with ProtocolError', async () => {
  const srv = await startServer(() => {});
  try {
    const c = await RawClient.connect(srv.port);
    c.write('POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n');
    await srv.waiter.until(() => srv.streams.length === 1 && srv.streams[0]!.data.length === 1);
    c.write('zz\r\n');
    await c.untilClosed();
    assert.equal(c.text, 'HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
    assert.deepEqual(srv.codecErrors, [[400, 'http1.codec_error']]);
    assert.deepEqual(srv.streams[0]!.resets, [[StreamResetReason.ProtocolError, '']]);
  } finally {
    await srv.close();
  }
});

test('strict: more bad chunk framings are rejected', async () => {
  for (const body of ['3\r\nabcX\r\n', '\r\n', '-1\r\n', '3 x\r\nabc\r\n', '3;a\x01b\r\nabc\r\n', '3\rx\r\n', '12345678901234\r\n']) {
    const srv = await startServer(() => {});
    try {
      const c = await rawExchange(srv.port, `POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n${body}`);
      assert.equal(c.text, 'HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n', JSON.stringify(body));
      assert.deepEqual(srv.codecErrors, [[400, 'http1.codec_error']]);
      assert.deepEqual(srv.streams[0]!.resets, [[StreamResetReason.ProtocolError, '']]);
    } finally {
      await srv.close();
    }
  }
});

test('strict: a bad pipelined request after a good one: the first is answered, then 400 and close', async () => {
  const srv = await startServer((s) => s.respond(200, 'ok'));
  try {
    const c = await rawExchange(srv.port, `GET / HTTP/1.1\r\n${H}\r\nGET / HTTP/1.1\r\n${H}Bad Header\r\n\r\n`);
    assert.equal(c.text, 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'
      + 'HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
    assert.equal(srv.streams.length, 1);
    assert.deepEqual(srv.codecErrors, [[400, 'http1.codec_error']]);
  } finally {
    await srv.close();
  }
});

test('strict: an invalid method is rejected from its first bytes, before the head is complete', async () => {
  const srv = await startServer(() => assert.fail('no stream'));
  try {
    const c = await RawClient.connect(srv.port);
    c.write('GE(T / HTTP/1.1\r\nHost'); // the head never completes
    await c.untilClosed();
    assert.equal(c.text, 'HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
  } finally {
    await srv.close();
  }
});
