/**
 * Local replies with Envoy's status, body and response flag: no route (404 NR),
 * connection refused (503 UF), upstream timeout (504 UT), no hosts (503 UH),
 * direct_response and redirect. Each flag is checked in the access log.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLegate, type LegateProcess } from '../support/legate_process.js';
import { eventually, readStats, request, startUpstream, type TestServer } from '../support/http_util.js';

async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const p = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

describe('local replies and response flags', () => {
  let upstream: TestServer;
  let legate: LegateProcess;
  let port: number;
  let logPath: string;

  before(async () => {
    upstream = await startUpstream((req, res) => {
      if (req.url === '/hang') return; // never answers
      res.end('ok');
    });
    const dead = await closedPort();
    logPath = join(mkdtempSync(join(tmpdir(), 'legate-log-')), 'access.log');
    const yaml = `
admin: { address: { socket_address: { address: 127.0.0.1, port_value: 0 } } }
static_resources:
  listeners:
  - name: ingress
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress_http
          access_log:
          - name: envoy.access_loggers.file
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: ${logPath}
              log_format:
                text_format_source:
                  inline_string: "%REQ(:PATH)% %RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS%\\n"
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: { prefix: "/refused" }
                route: { cluster: dead }
              - match: { prefix: "/hang" }
                route: { cluster: live, timeout: 0.3s }
              - match: { prefix: "/empty" }
                route: { cluster: empty }
              - match: { path: "/direct" }
                direct_response: { status: 418, body: { inline_string: "short and stout" } }
              - match: { prefix: "/old/" }
                redirect: { prefix_rewrite: "/new/", response_code: FOUND }
              - match: { prefix: "/ok" }
                route: { cluster: live }
          http_filters:
          - name: envoy.filters.http.router
  clusters:
  - name: live
    connect_timeout: 1s
    load_assignment:
      cluster_name: live
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${upstream.port} } } } }] }]
  - name: dead
    connect_timeout: 1s
    load_assignment:
      cluster_name: dead
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${dead} } } } }] }]
  - name: empty
    connect_timeout: 1s
    load_assignment: { cluster_name: empty }
`;
    legate = await startLegate(yaml, { expectListeners: ['ingress'], expectAdmin: true, args: ['--file-flush-interval-msec', '50'] });
    port = legate.ports.get('ingress')!;
  });
  after(async () => {
    await legate?.stop();
    await upstream?.close();
  });

  async function logLine(path: string): Promise<string> {
    let line = '';
    await eventually(() => {
      try {
        line = readFileSync(logPath, 'utf8').split('\n').find((l) => l.startsWith(`${path} `)) ?? '';
      } catch { /* not yet */ }
      return line !== '';
    }, 5000, `log line for ${path}`);
    return line;
  }

  it('no route: 404 with flag NR', async () => {
    const r = await request(port, { path: '/nowhere' });
    assert.equal(r.status, 404);
    assert.equal(r.body, '');
    assert.equal(await logLine('/nowhere'), '/nowhere 404 NR route_not_found');
    const stats = await readStats(legate.adminPort!);
    assert.ok(stats.get('http.ingress_http.no_route')! >= 1);
  });

  it('connection refused: 503 with flag UF and Envoy\'s body', async () => {
    const r = await request(port, { path: '/refused' });
    assert.equal(r.status, 503);
    assert.match(r.body, /^upstream connect error or disconnect\/reset before headers\. reset reason: remote connection failure/);
    assert.match(await logLine('/refused'), /^\/refused 503 UF upstream_reset_before_response_started\{remote_connection_failure/);
    const stats = await readStats(legate.adminPort!);
    assert.ok(stats.get('cluster.dead.upstream_cx_connect_fail')! >= 1);
  });

  it('upstream that hangs: 504 at the route timeout with flag UT', async () => {
    const t0 = Date.now();
    const r = await request(port, { path: '/hang' });
    assert.equal(r.status, 504);
    assert.equal(r.body, 'upstream request timeout');
    assert.ok(Date.now() - t0 >= 250, 'not before the 0.3 s route timeout');
    assert.equal(await logLine('/hang'), '/hang 504 UT upstream_response_timeout');
    const stats = await readStats(legate.adminPort!);
    assert.ok(stats.get('cluster.live.upstream_rq_timeout')! >= 1);
  });

  it('no hosts: 503 no healthy upstream with flag UH', async () => {
    const r = await request(port, { path: '/empty' });
    assert.equal(r.status, 503);
    assert.equal(r.body, 'no healthy upstream');
    assert.equal(await logLine('/empty'), '/empty 503 UH no_healthy_upstream');
  });

  it('direct_response answers with status and inline body', async () => {
    const r = await request(port, { path: '/direct' });
    assert.equal(r.status, 418);
    assert.equal(r.body, 'short and stout');
    assert.equal(r.headers['content-length'], '15');
  });

  it('redirect with prefix rewrite and response code', async () => {
    const r = await request(port, { path: '/old/a/b?q=1', headers: { host: 'example.com' } });
    assert.equal(r.status, 302);
    assert.equal(r.headers.location, 'http://example.com/new/a/b?q=1');
  });

  it('valid traffic keeps flowing after all the failures', async () => {
    const r = await request(port, { path: '/ok' });
    assert.equal(r.status, 200);
    assert.equal(r.body, 'ok');
  });
});
