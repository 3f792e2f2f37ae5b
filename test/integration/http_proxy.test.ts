/**
 * HTTP/1.1 proxying through the real CLI: a Node upstream, Legate in front,
 * Node's http client and curl as clients. Behaviour as Envoy documents it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLegate, type LegateProcess } from '../support/legate_process.js';
import { eventually, rawRequest, readStats, request, startUpstream, type TestServer } from '../support/http_util.js';
import { proxyConfig } from './fixtures.js';

// curl runs asynchronously: the upstream lives in this process and must keep answering.
const curl = async (args: string[]): Promise<string> => (await promisify(execFile)('curl', args)).stdout;

describe('HTTP/1.1 reverse proxy', () => {
  let upstream: TestServer;
  let legate: LegateProcess;
  let port: number;
  let logPath: string;

  before(async () => {
    upstream = await startUpstream((req, res, body) => {
      if (req.url === '/slow-chunks') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('first;');
        setTimeout(() => res.end('second'), 300);
        return;
      }
      if (req.url === '/hop') {
        res.setHeader('keep-alive', 'timeout=5');
        res.setHeader('x-upstream', 'yes');
        res.end('ok');
        return;
      }
      if (req.url === '/status/503') { res.statusCode = 503; res.end('down'); return; }
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body }));
    });
    logPath = join(mkdtempSync(join(tmpdir(), 'legate-log-')), 'access.log');
    legate = await startLegate(proxyConfig({ upstreamPort: upstream.port, accessLogPath: logPath, hcmExtra: 'via: legate-test' }),
      { expectListeners: ['ingress'], expectAdmin: true, args: ['--file-flush-interval-msec', '50'] });
    port = legate.ports.get('ingress')!;
  });
  after(async () => {
    await legate?.stop();
    await upstream?.close();
  });

  it('proxies a GET and adds Envoy headers both ways', async () => {
    const r = await request(port, { path: '/hello?x=1', headers: { 'user-agent': 'test' } });
    assert.equal(r.status, 200);
    const seen = JSON.parse(r.body);
    assert.equal(seen.url, '/hello?x=1');
    assert.match(seen.headers['x-request-id'], /^[0-9a-f-]{36}$/);
    assert.equal(seen.headers['x-forwarded-proto'], 'http');
    assert.equal(seen.headers['x-envoy-expected-rq-timeout-ms'], '15000');
    assert.equal(seen.headers.via, 'legate-test');
    assert.equal(seen.headers.host, `127.0.0.1:${port}`);
    assert.ok(r.headers['x-envoy-upstream-service-time'] !== undefined);
    assert.equal(r.headers.server, 'envoy');
    assert.ok(r.headers.date);
    assert.equal(r.headers.via, 'legate-test');
  });

  it('keeps the downstream connection alive across requests', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const ports = new Set<number>();
    for (let i = 0; i < 5; i++) {
      await new Promise<void>((resolve, reject) => {
        http.get({ host: '127.0.0.1', port, path: `/k${i}`, agent }, (res) => {
          ports.add(res.socket.localPort!);
          res.resume();
          res.on('end', resolve);
        }).on('error', reject);
      });
    }
    agent.destroy();
    assert.equal(ports.size, 1, 'all requests used one client connection');
  });

  it('streams request bodies with content-length and chunked encoding', async () => {
    const big = 'x'.repeat(1024 * 1024);
    const r1 = await request(port, { method: 'POST', path: '/cl', body: big, headers: { 'content-length': String(big.length) } });
    assert.equal(JSON.parse(r1.body).body.length, big.length);
    const r2 = await new Promise<string>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/chunked', agent: false }, (res) => {
        let b = '';
        res.on('data', (c) => { b += c; });
        res.on('end', () => resolve(b));
      });
      req.on('error', reject);
      req.write('part1-');
      setTimeout(() => req.end('part2'), 50);
    });
    const seen = JSON.parse(r2);
    assert.equal(seen.body, 'part1-part2');
    assert.equal(seen.headers['transfer-encoding'], 'chunked');
  });

  it('streams the response: the first chunk arrives before the upstream finishes', async () => {
    const t0 = Date.now();
    const { firstAt, body } = await new Promise<{ firstAt: number; body: string }>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path: '/slow-chunks', agent: false }, (res) => {
        let firstAt = -1;
        let body = '';
        res.on('data', (c) => { if (firstAt < 0) firstAt = Date.now(); body += c; });
        res.on('end', () => resolve({ firstAt, body }));
      }).on('error', reject);
    });
    assert.equal(body, 'first;second');
    // The upstream holds the second chunk for 300 ms; buffering would deliver both together.
    assert.ok(firstAt - t0 < Date.now() - t0, 'first chunk arrived before the end');
    assert.ok(Date.now() - firstAt >= 200, `second chunk came ${Date.now() - firstAt} ms after the first`);
  });

  it('drops hop-by-hop headers in both directions', async () => {
    const r = await rawRequest(port,
      `GET /hop HTTP/1.1\r\nHost: x\r\nConnection: close, x-drop\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\n\r\n`);
    assert.match(r, /^HTTP\/1.1 200/);
    assert.match(r, /x-upstream: yes/i);
    assert.doesNotMatch(r, /keep-alive: timeout/i);
    const seen = upstream.requests.find((q) => q.url === '/hop')!;
    assert.equal(seen.headers['keep-alive'], undefined);
    assert.equal(seen.headers['proxy-connection'], undefined);
  });

  it('passes upstream error statuses through unchanged', async () => {
    const r = await request(port, { path: '/status/503' });
    assert.equal(r.status, 503);
    assert.equal(r.body, 'down');
  });

  it('counts requests in Envoy-named stats and writes the default access log format', async () => {
    await request(port, { path: '/counted' });
    const stats = await readStats(legate.adminPort!);
    assert.ok(stats.get('http.ingress_http.downstream_rq_total')! >= 1);
    assert.ok(stats.get('http.ingress_http.downstream_rq_2xx')! >= 1);
    assert.ok(stats.get('cluster.backend.upstream_rq_total')! >= 1);
    assert.ok(stats.get('cluster.backend.upstream_rq_200')! >= 1);
    assert.ok(stats.get('listener.127.0.0.1_0.downstream_cx_total')! >= 1);
    await eventually(() => {
      try { return readFileSync(logPath, 'utf8').includes('/counted'); } catch { return false; }
    }, 5000, 'access log line');
    const line = readFileSync(logPath, 'utf8').split('\n').find((l) => l.includes('/counted'))!;
    // [START_TIME] "METHOD PATH PROTOCOL" CODE FLAGS RX TX DURATION UPSTREAM_TIME "XFF" "UA" "ID" "AUTHORITY" "UPSTREAM_HOST"
    assert.match(line, /^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\] "GET \/counted HTTP\/1\.1" 200 - 0 \d+ \d+ \d+ "-" "-" "[0-9a-f-]{36}" "127\.0\.0\.1:\d+" "127\.0\.0\.1:\d+"$/);
  });

  it('works with curl', async () => {
    const out = await curl(['-s', '-i', `http://127.0.0.1:${port}/curl`]);
    assert.match(out, /^HTTP\/1.1 200/);
    assert.match(out, /"url":"\/curl"/);
  });

  it('answers Expect: 100-continue itself and forwards the body (curl)', async () => {
    const out = await curl(['-s', '-i', '-H', 'Expect: 100-continue', '--data-binary', 'y'.repeat(2048), `http://127.0.0.1:${port}/expect`]);
    assert.match(out, /HTTP\/1.1 100 Continue/);
    assert.match(out, /HTTP\/1.1 200/);
    const seen = upstream.requests.find((q) => q.url === '/expect')!;
    assert.equal(seen.body.length, 2048);
    assert.equal(seen.headers.expect, undefined);
  });

  it('resets the upstream request when the client leaves mid-body, leaking nothing', async () => {
    const before = upstream.requests.length;
    await new Promise<void>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.write('POST /abandon HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\npartial');
        setTimeout(() => { s.destroy(); resolve(); }, 200);
      });
    });
    await eventually(async () => {
      const st = await readStats(legate.adminPort!);
      return st.get('http.ingress_http.downstream_rq_active') === 0 && st.get('cluster.backend.upstream_rq_active') === 0;
    }, 5000, 'active gauges back to 0');
    assert.equal(upstream.requests.length, before, 'the upstream never saw a complete request');
  });
});
