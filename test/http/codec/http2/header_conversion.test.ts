import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HeaderMapImpl } from '../../../../src/http/codec/header_map_impl.js';
import { fromHttp2Fields, fromHttp2Headers, toHttp2RequestFields, toHttp2TrailerFields, toHttp2Trailers } from '../../../../src/http/codec/http2/header_conversion.js';

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
  assert.deepEqual(toHttp2RequestFields(h, 'http'), [
    ':method', 'GET', ':path', '/a?b=1', ':authority', 'svc.local', ':scheme', 'http',
    'x-multi', '1', 'x-multi', '2',
  ]);
});

test('request headers: te survives only as "trailers"; host becomes :authority when missing', () => {
  const h = HeaderMapImpl.fromPairs([
    [':method', 'POST'],
    [':path', '/'],
    [':scheme', 'https'],
    ['host', 'legacy.example:8080'],
    ['te', 'deflate, Trailers'],
  ]);
  assert.deepEqual(toHttp2RequestFields(h, 'http'), [
    ':method', 'POST', ':path', '/', ':scheme', 'https', ':authority', 'legacy.example:8080', 'te', 'trailers',
  ]);
});

test('request headers: repeats stay separate fields, content-length keeps the first, CR/LF refused', () => {
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
  assert.deepEqual(toHttp2RequestFields(h, 'http'), [
    ':method', 'POST', ':path', '/', ':authority', 'a', ':scheme', 'http',
    'content-length', '3', 'user-agent', 'a', 'user-agent', 'b', 'cookie', 'x=1', 'cookie', 'y=2',
  ]);
  h.add('x-bad', 'a\r\nx-injected: 1');
  assert.throws(() => toHttp2RequestFields(h, 'http'), /invalid value for header x-bad/);
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
  assert.deepEqual(toHttp2TrailerFields(t), ['grpc-status', '0', 'x-sum', 'a', 'x-sum', 'b']);
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

test('request headers: a plain CONNECT keeps only :method and :authority', () => {
  const h = HeaderMapImpl.fromPairs([
    [':method', 'CONNECT'],
    [':authority', 'far.example:443'],
    [':scheme', 'http'],
    ['x-request-id', 'abc'],
  ]);
  assert.deepEqual(toHttp2RequestFields(h, 'http'), [':method', 'CONNECT', ':authority', 'far.example:443', 'x-request-id', 'abc']);
});

test('request headers: an HTTP/1 upgrade becomes an extended CONNECT (RFC 8441)', () => {
  const h = HeaderMapImpl.fromPairs([
    [':method', 'GET'],
    [':path', '/chat'],
    [':authority', 'ws.example'],
    [':scheme', 'http'],
    ['connection', 'keep-alive, Upgrade'],
    ['upgrade', 'websocket'],
    ['content-length', '0'],
    ['sec-websocket-version', '13'],
  ]);
  assert.deepEqual(toHttp2RequestFields(h, 'http'), [
    ':method', 'CONNECT', ':path', '/chat', ':authority', 'ws.example', ':scheme', 'http', ':protocol', 'websocket',
    'sec-websocket-version', '13',
  ]);
});

test('decoded response fields become a HeaderMapImpl in wire order, repeats kept', () => {
  const m = fromHttp2Fields([':status', '200', 'set-cookie', 'a=1', 'set-cookie', 'b=2']);
  assert.equal(m.get(':status'), '200');
  assert.deepEqual(m.getAll('set-cookie'), ['a=1', 'b=2']);
  assert.equal(m.size, 3);
});
