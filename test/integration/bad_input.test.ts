/**
 * Malformed requests get 400/431 from the codec and never reach the upstream;
 * the proxy keeps serving valid traffic afterwards.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startLegate, type LegateProcess } from '../support/legate_process.js';
import { rawRequest, request, startUpstream, type TestServer } from '../support/http_util.js';
import { proxyConfig } from './fixtures.js';

describe('malformed requests', () => {
  let upstream: TestServer;
  let legate: LegateProcess;
  let port: number;

  before(async () => {
    upstream = await startUpstream();
    legate = await startLegate(proxyConfig({ upstreamPort: upstream.port, hcmExtra: 'max_request_headers_kb: 8' }), { expectListeners: ['ingress'] });
    port = legate.ports.get('ingress')!;
  });
  after(async () => {
    await legate?.stop();
    await upstream?.close();
  });

  const cases: Array<[string, string, number]> = [
    ['malformed request line', 'GET\r\n\r\n', 400],
    ['bad method token', 'G(T / HTTP/1.1\r\nHost: x\r\n\r\n', 400],
    ['invalid header name character', 'GET / HTTP/1.1\r\nHost: x\r\nBad Header: v\r\n\r\n', 400],
    ['control character in a header value', 'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n', 400],
    ['both Content-Length and Transfer-Encoding', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400],
    ['two differing Content-Lengths', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd', 400],
    ['obs-fold', 'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n  folded\r\n\r\n', 400],
    ['non-numeric Content-Length', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n', 400],
    ['oversize headers', `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(9000)}\r\n\r\n`, 431],
  ];
  for (const [name, raw, status] of cases) {
    it(`${name}: ${status}, connection closed, nothing forwarded`, async () => {
      const before = upstream.requests.length;
      const out = await rawRequest(port, raw);
      assert.match(out, new RegExp(`^HTTP/1.1 ${status} `), `got: ${JSON.stringify(out.slice(0, 80))}`);
      assert.match(out, /connection: close/i);
      assert.equal(upstream.requests.length, before);
    });
  }

  it('survives 120 garbled requests (seeded mutations of valid ones, random bytes)', async () => {
    // A tiny LCG keeps the corpus the same on every run.
    let seed = 12345;
    const rand = (n: number): number => { seed = (seed * 1103515245 + 12345) >>> 0; return seed % n; };
    const templates = [
      'GET /a HTTP/1.1\r\nHost: x\r\n\r\n',
      'POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
      'POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc',
    ];
    const before = upstream.requests.length;
    for (let i = 0; i < 120; i++) {
      let buf: Buffer;
      if (i % 4 === 0) {
        buf = Buffer.alloc(1 + rand(300));
        for (let k = 0; k < buf.length; k++) buf[k] = rand(256);
      } else {
        buf = Buffer.from(templates[i % templates.length]!);
        for (let k = 0; k < 1 + rand(4); k++) buf[rand(buf.length)] = rand(256);
      }
      await rawRequest(port, buf, 300);
    }
    // Whatever got through was well-formed enough to forward; the proxy is still up and correct.
    assert.ok(upstream.requests.length - before <= 120);
    const r = await request(port, { path: '/after-garbage' });
    assert.equal(r.status, 200);
  });

  it('still proxies valid requests', async () => {
    const r = await request(port, { path: '/fine' });
    assert.equal(r.status, 200);
  });
});
