import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HeaderMapImpl } from '../../../../src/http/codec/header_map_impl.js';
import { fromHttp2Headers, toHttp2RequestHeaders, toHttp2Trailers } from '../../../../src/http/codec/http2/header_conversion.js';

test('request headers: pseudo headers kept, :scheme defaulted, HTTP/1 connection headers dropped', () => {
  const h = HeaderMapImpl.fromPairs([
    [':method', 'GET'],
    [':path', '/a?b=1'],
    [':authority', 'svc.local'],
    ['connection', 'keep-alive, x-foo'],
    ['keep-alive', 'timeout=5'],
    ['proxy-connection', 'keep-alive'],
    ['transfer-encoding', 'chunked'],
    ['upgrade', 'websocket'],
    ['http2-settings', 'AAMAAABkAAQAAP__'],
    ['te', 'gzip'],
    ['x-multi', '1'],
    ['x-multi', '2'],
  ]);
  assert.deepEqual(toHttp2RequestHeaders(h, 'http'), {
    ':method': 'GET',
    ':path': '/a?b=1',
    ':authority': 'svc.local',
    ':scheme': 'http',
    'x-multi': ['1', '2'],
  });
});

test('request headers: te survives only as "trailers"; host becomes :authority when missing', () => {
  const h = HeaderMapImpl.fromPairs([
    [':method', 'POST'],
    [':path', '/'],
    [':scheme', 'https'],
    ['host', 'legacy.example:8080'],
    ['te', 'deflate, Trailers'],
  ]);
  assert.deepEqual(toHttp2RequestHeaders(h, 'http'), {
    ':method': 'POST',
    ':path': '/',
    ':scheme': 'https',
    ':authority': 'legacy.example:8080',
    te: 'trailers',
  });
});

test('request headers: repeats of single-valued names are joined, content-length keeps the first', () => {
  const h = HeaderMapImpl.fromPairs([
    [':method', 'POST'],
    [':path', '/'],
    [':authority', 'a'],
    ['content-length', '3'],
    ['content-length', '3'],
    ['user-agent', 'a'],
    ['user-agent', 'b'],
    ['cookie', 'x=1'],
    ['cookie', 'y=2'],
  ]);
  const out = toHttp2RequestHeaders(h, 'http');
  assert.equal(out['content-length'], '3');
  assert.equal(out['user-agent'], 'a, b');
  assert.deepEqual(out.cookie, ['x=1', 'y=2']);
});

test('trailers: pseudo and connection-specific names are dropped', () => {
  const t = HeaderMapImpl.fromPairs([
    ['grpc-status', '0'],
    [':status', '200'],
    ['connection', 'close'],
    ['x-sum', 'a'],
    ['x-sum', 'b'],
  ]);
  assert.deepEqual(toHttp2Trailers(t), { 'grpc-status': '0', 'x-sum': ['a', 'b'] });
});

test('response headers: raw list kept in order with repeats; object fallback', () => {
  const m = fromHttp2Headers([':status', '200', 'set-cookie', 'a=1', 'set-cookie', 'b=2', 'x-a', 'v'], {});
  assert.equal(m.get(':status'), '200');
  assert.deepEqual(m.getAll('set-cookie'), ['a=1', 'b=2']);
  const names: string[] = [];
  m.forEach((n) => names.push(n));
  assert.deepEqual(names, [':status', 'set-cookie', 'set-cookie', 'x-a']);

  const o = fromHttp2Headers(undefined, { ':status': 204, 'X-Up': 'y', 'set-cookie': ['c=3', 'd=4'] });
  assert.equal(o.get(':status'), '204');
  assert.equal(o.get('x-up'), 'y');
  assert.deepEqual(o.getAll('set-cookie'), ['c=3', 'd=4']);
});
