/**
 * HCM timeouts as Envoy documents them: stream_idle_timeout (408, flag SI),
 * request_timeout (408), request_headers_timeout (connection closed), and
 * idle_timeout (idle keep-alive connection closed). And an upstream that dies
 * mid-response resets the downstream (flag UC).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLegate, type LegateProcess } from '../support/legate_process.js';
import { eventually, rawRequest, readStats, request, startUpstream, type TestServer } from '../support/http_util.js';
import { proxyConfig } from './fixtures.js';

describe('timeouts and upstream resets', () => {
  let upstream: TestServer;
  let legate: LegateProcess;
  let port: number;
  let logPath: string;

  before(async () => {
    upstream = await startUpstream((req, res) => {
      if (req.url === '/hang') return;
      if (req.url === '/die-mid-body') {
        res.writeHead(200, { 'content-length': '100' });
        res.write('partial');
        setTimeout(() => res.socket?.destroy(), 50);
        return;
      }
      res.end('ok');
    }, { collectBody: false });
    logPath = join(mkdtempSync(join(tmpdir(), 'legate-log-')), 'access.log');
    const yaml = proxyConfig({
      upstreamPort: upstream.port,
      hcmExtra: `stream_idle_timeout: 0.3s
request_headers_timeout: 0.3s
common_http_protocol_options: { idle_timeout: 0.4s }
access_log:
- name: envoy.access_loggers.file
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
    path: ${logPath}
    log_format: { text_format_source: { inline_string: "%REQ(:PATH)% %RESPONSE_CODE% %RESPONSE_FLAGS%\\n" } }`,
      routeExtra: 'timeout: 0s',
    });
    legate = await startLegate(yaml, { expectListeners: ['ingress'], expectAdmin: true, args: ['--file-flush-interval-msec', '50'] });
    port = legate.ports.get('ingress')!;
  });
  after(async () => {
    await legate?.stop();
    await upstream?.close();
  });

  const logHas = (re: RegExp) => eventually(() => {
    try { return re.test(readFileSync(logPath, 'utf8')); } catch { return false; }
  }, 5000, `log line ${re}`);

  it('stream_idle_timeout: 408 "stream timeout" with flag SI when nothing moves', async () => {
    const r = await request(port, { path: '/hang' });
    assert.equal(r.status, 408);
    assert.equal(r.body, 'stream timeout');
    await logHas(/^\/hang 408 SI$/m);
    const stats = await readStats(legate.adminPort!);
    assert.ok(stats.get('http.ingress_http.downstream_rq_idle_timeout')! >= 1);
  });

  it('request_headers_timeout: a client that never finishes its headers is cut off', async () => {
    const out = await rawRequest(port, 'GET / HTTP/1.1\r\nHost: x\r\n', 3000);
    assert.match(out, /^HTTP\/1.1 408/);
    const stats = await readStats(legate.adminPort!);
    assert.ok(stats.get('http.ingress_http.downstream_rq_header_timeout')! >= 1);
  });

  it('idle_timeout: an idle keep-alive connection is closed', async () => {
    const closedAfter = await new Promise<number>((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => s.write('GET /ok HTTP/1.1\r\nHost: x\r\n\r\n'));
      const t0 = Date.now();
      s.on('data', () => {});
      s.on('close', () => resolve(Date.now() - t0));
      s.on('error', reject);
    });
    assert.ok(closedAfter >= 300, `closed after ${closedAfter} ms`);
    const stats = await readStats(legate.adminPort!);
    assert.ok(stats.get('http.ingress_http.downstream_cx_idle_timeout')! >= 1);
  });

  it('an upstream that dies mid-response resets the downstream, flag UC', async () => {
    const err = await new Promise<string>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => s.write('GET /die-mid-body HTTP/1.1\r\nHost: x\r\n\r\n'));
      let got = '';
      s.on('data', (d) => { got += d; });
      s.on('close', () => resolve(got));
    });
    assert.match(err, /^HTTP\/1.1 200/);
    assert.ok(!err.endsWith('x'.repeat(10)));
    await logHas(/^\/die-mid-body 200 UC$/m);
  });

  it('keeps serving afterwards', async () => {
    const r = await request(port, { path: '/ok' });
    assert.equal(r.status, 200);
  });
});
