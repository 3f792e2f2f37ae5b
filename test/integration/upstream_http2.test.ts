/**
 * HTTP/2 upstreams through the real CLI, against real node:http2 (h2c)
 * servers: protocol selection as Envoy does it (explicit_http_config,
 * use_downstream_protocol_config, the legacy cluster fields), the
 * http2_protocol_options the upstream sees, multiplexing up to the server's
 * SETTINGS_MAX_CONCURRENT_STREAMS, GOAWAY draining, refused streams sent
 * again, RST_STREAM mapped to Envoy's replies and flags, and the
 * common_http_protocol_options of the pool. The downstream is HTTP/1.1.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLegate, type LegateProcess } from '../support/legate_process.js';
import { eventually, readStats, request, startUpstream, type TestServer } from '../support/http_util.js';
import { startH2Upstream, type H2Request, type H2Upstream } from '../support/h2_upstream.js';
import { FrameType, frame, literalHeader, startRawH2Server } from '../support/raw_h2_server.js';
import { indent, staticCluster } from './fixtures.js';

const HPO = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';

/** typed_extension_protocol_options with `body` as the HttpProtocolOptions. */
function typedOptions(body: string): string {
  return `typed_extension_protocol_options:
  ${HPO}:
    "@type": type.googleapis.com/${HPO}
${body.split('\n').map((l) => '    ' + l).join('\n')}`;
}

interface ClusterSpec { name: string; port: number; extra: string; prefix?: string }

/** One listener; route `/<name>` (or `prefix`) → cluster `<name>`; access log with flags and details. */
function config(clusters: ClusterSpec[], logPath: string, hcmExtra = ''): string {
  const routes = clusters.map((c) => `              - match: { prefix: "${c.prefix ?? '/' + c.name}" }
                route: { cluster: ${c.name}, timeout: 10s }`).join('\n');
  const cl = clusters.map((c) => indent(staticCluster(c.name, c.port, { connectTimeout: '2s', extra: c.extra }), 2)).join('');
  return `
admin:
  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
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
${hcmExtra.split('\n').map((l) => '          ' + l).join('\n')}
          access_log:
          - name: envoy.access_loggers.file
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: ${logPath}
              log_format: { text_format_source: { inline_string: "%REQ(:PATH)% %RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %UPSTREAM_REQUEST_ATTEMPT_COUNT%\\n" } }
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
${routes}
          http_filters:
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
${cl}
`;
}

function tempLog(): string {
  return join(mkdtempSync(join(tmpdir(), 'legate-h2-')), 'access.log');
}

async function start(yaml: string): Promise<{ legate: LegateProcess; port: number; admin: number }> {
  const legate = await startLegate(yaml, { expectListeners: ['ingress'], expectAdmin: true, args: ['--file-flush-interval-msec', '50'] });
  return { legate, port: legate.ports.get('ingress')!, admin: legate.adminPort! };
}

function logHas(logPath: string, re: RegExp): Promise<void> {
  return eventually(() => {
    try { return re.test(readFileSync(logPath, 'utf8')); } catch { return false; }
  }, 5000, `log line ${re}`);
}

/** Resolves when `n` requests are held by the upstream (handlers that do not answer at once). */
function waitForHeld(list: unknown[], n: number): Promise<void> {
  return eventually(() => list.length >= n, 5000, `${n} requests at the upstream`);
}

describe('upstream protocol selection', () => {
  let h2: H2Upstream;
  let h1: TestServer;
  let legate: LegateProcess;
  let port: number;
  let admin: number;
  const logPath = tempLog();

  before(async () => {
    h2 = await startH2Upstream();
    h1 = await startUpstream((req, res) => res.end(`h1 ${req.httpVersion}`));
    const h2opts = `http2_protocol_options:
  initial_stream_window_size: 131072
  initial_connection_window_size: 1048576
  hpack_table_size: 8192`;
    legate = (await start(config([
      { name: 'explicit_h2', port: h2.port, extra: typedOptions(`explicit_http_config:\n  ${h2opts.replace(/\n/g, '\n  ')}`) },
      { name: 'explicit_h1', port: h1.port, extra: typedOptions('explicit_http_config: { http_protocol_options: {} }') },
      { name: 'downstream_typed', port: h1.port, extra: typedOptions('use_downstream_protocol_config: { http2_protocol_options: {} }') },
      { name: 'legacy_h2', port: h2.port, extra: 'http2_protocol_options: {}' },
      { name: 'legacy_downstream', port: h1.port, extra: 'http2_protocol_options: {}\nprotocol_selection: USE_DOWNSTREAM_PROTOCOL' },
      { name: 'default_h1', port: h1.port, extra: '' },
    ], logPath))).legate;
    port = legate.ports.get('ingress')!;
    admin = legate.adminPort!;
  });
  after(async () => {
    await legate?.stop();
    await h2?.close();
    await h1?.close();
  });

  it('explicit_http_config.http2_protocol_options: HTTP/2 upstream with the configured SETTINGS and windows', async () => {
    const r = await request(port, { path: '/explicit_h2/x', headers: { host: 'example.test' } });
    assert.equal(r.status, 200);
    const seen = JSON.parse(r.body) as { headers: Record<string, string> };
    assert.equal(seen.headers[':authority'], 'example.test');
    assert.equal(seen.headers[':path'], '/explicit_h2/x');
    assert.equal(seen.headers[':scheme'], 'http');
    const settings = h2.remoteSettings[h2.requests.at(-1)!.sessionIndex]!;
    assert.equal(settings.initialWindowSize, 131072);
    assert.equal(settings.headerTableSize, 8192);
    assert.equal(settings.enablePush, false);
    // The connection-level window was raised from 65535 by a WINDOW_UPDATE.
    const session = h2.sessions[h2.requests.at(-1)!.sessionIndex]!;
    assert.ok(session.state.remoteWindowSize! > 65535, `connection window ${session.state.remoteWindowSize}`);
    const stats = await readStats(admin);
    assert.equal(stats.get('cluster.explicit_h2.upstream_cx_http2_total'), 1);
    assert.equal(stats.get('cluster.explicit_h2.upstream_cx_http1_total'), 0);
  });

  it('explicit_http_config.http_protocol_options: HTTP/1.1 upstream', async () => {
    const r = await request(port, { path: '/explicit_h1' });
    assert.equal(r.body, 'h1 1.1');
    const stats = await readStats(admin);
    assert.equal(stats.get('cluster.explicit_h1.upstream_cx_http1_total'), 1);
  });

  it('use_downstream_protocol_config: an HTTP/1.1 downstream request goes upstream as HTTP/1.1', async () => {
    const r = await request(port, { path: '/downstream_typed' });
    assert.equal(r.body, 'h1 1.1');
    const stats = await readStats(admin);
    assert.equal(stats.get('cluster.downstream_typed.upstream_cx_http1_total'), 1);
    assert.equal(stats.get('cluster.downstream_typed.upstream_cx_http2_total'), 0);
  });

  it('legacy cluster http2_protocol_options: HTTP/2 upstream', async () => {
    const r = await request(port, { path: '/legacy_h2' });
    assert.equal(r.status, 200);
    assert.equal((JSON.parse(r.body) as { headers: Record<string, string> }).headers[':path'], '/legacy_h2');
    const stats = await readStats(admin);
    assert.equal(stats.get('cluster.legacy_h2.upstream_cx_http2_total'), 1);
  });

  it('legacy protocol_selection USE_DOWNSTREAM_PROTOCOL wins over http2_protocol_options for an HTTP/1.1 request', async () => {
    const r = await request(port, { path: '/legacy_downstream' });
    assert.equal(r.body, 'h1 1.1');
    const stats = await readStats(admin);
    assert.equal(stats.get('cluster.legacy_downstream.upstream_cx_http1_total'), 1);
    assert.equal(stats.get('cluster.legacy_downstream.upstream_cx_http2_total'), 0);
  });

  it('no protocol options: HTTP/1.1', async () => {
    const r = await request(port, { path: '/default_h1' });
    assert.equal(r.body, 'h1 1.1');
  });
});

describe('HTTP/2 upstream connection pool', () => {
  it('multiplexes streams up to SETTINGS_MAX_CONCURRENT_STREAMS, then opens a second connection', async () => {
    const held: H2Request[] = [];
    const h2 = await startH2Upstream((req) => {
      held.push(req);
      if (held.length === 3) for (const q of held) { q.stream.respond({ ':status': 200 }); q.stream.end(`s${q.sessionIndex}`); }
    }, { maxConcurrentStreams: 2 });
    const logPath = tempLog();
    const { legate, port, admin } = await start(config([{ name: 'mux', port: h2.port, prefix: '/', extra: 'http2_protocol_options: {}' }], logPath));
    try {
      const rs = await Promise.all([0, 1, 2].map(() => request(port, { path: '/' })));
      assert.deepEqual(rs.map((r) => r.status), [200, 200, 200]);
      assert.equal(h2.sessions.length, 2);
      assert.deepEqual(rs.map((r) => r.body).sort(), ['s0', 's0', 's1']);
      const stats = await readStats(admin);
      assert.equal(stats.get('cluster.mux.upstream_cx_total'), 2);
      assert.equal(stats.get('cluster.mux.upstream_cx_http2_total'), 2);
      assert.equal(stats.get('cluster.mux.upstream_rq_total'), 3);
    } finally {
      await legate.stop();
      await h2.close();
    }
  });

  it('max_concurrent_streams configured on the cluster caps streams per connection below the server\'s limit', async () => {
    const held: H2Request[] = [];
    const h2 = await startH2Upstream((req) => {
      held.push(req);
      if (held.length === 2) for (const q of held) { q.stream.respond({ ':status': 200 }); q.stream.end(); }
    }, { maxConcurrentStreams: 100 });
    const { legate, port, admin } = await start(config([{
      name: 'capped', port: h2.port, prefix: '/',
      extra: typedOptions('explicit_http_config: { http2_protocol_options: { max_concurrent_streams: 1 } }'),
    }], tempLog()));
    try {
      const rs = await Promise.all([0, 1].map(() => request(port, { path: '/' })));
      assert.deepEqual(rs.map((r) => r.status), [200, 200]);
      assert.equal(h2.sessions.length, 2);
      assert.equal((await readStats(admin)).get('cluster.capped.upstream_cx_http2_total'), 2);
    } finally {
      await legate.stop();
      await h2.close();
    }
  });

  it('GOAWAY: the stream below last-stream-id finishes, the one above is sent again on a new connection', async () => {
    const held: H2Request[] = [];
    const h2 = await startH2Upstream((req) => {
      if (req.sessionIndex > 0) { req.stream.respond({ ':status': 200 }); req.stream.end(`again ${req.headers[':path']} ${req.body}`); return; }
      held.push(req);
      if (held.length === 2) {
        const [first] = held.sort((a, b) => a.stream.id! - b.stream.id!);
        // Only the first stream "was processed": the second is refused by the GOAWAY.
        first!.session.goaway(http2.constants.NGHTTP2_NO_ERROR, first!.stream.id!);
        setTimeout(() => { first!.stream.respond({ ':status': 200 }); first!.stream.end(`first ${first!.headers[':path']}`); }, 50);
      }
    });
    const logPath = tempLog();
    const { legate, port, admin } = await start(config([{ name: 'goaway', port: h2.port, prefix: '/', extra: 'http2_protocol_options: {}' }], logPath));
    try {
      const a = request(port, { path: '/a', method: 'POST', body: 'body-a' });
      await waitForHeld(held, 1);
      const b = request(port, { path: '/b', method: 'POST', body: 'body-b' });
      const [ra, rb] = await Promise.all([a, b]);
      assert.equal(ra.status, 200);
      assert.equal(ra.body, 'first /a');
      assert.equal(rb.status, 200);
      assert.equal(rb.body, 'again /b body-b');
      assert.equal(h2.sessions.length, 2);
      const stats = await readStats(admin);
      assert.equal(stats.get('cluster.goaway.upstream_cx_close_notify'), 1);
      assert.equal(stats.get('cluster.goaway.upstream_rq_retry'), 1);
      assert.equal(stats.get('cluster.goaway.upstream_cx_total'), 2);
      await logHas(logPath, /^\/b 200 - via_upstream 2$/m);
      // New requests go to the new connection; the drained one closed.
      const rc = await request(port, { path: '/c' });
      assert.equal(rc.body, 'again /c ');
      await eventually(async () => (await readStats(admin)).get('cluster.goaway.upstream_cx_active') === 1, 5000, 'old connection closed');
    } finally {
      await legate.stop();
      await h2.close();
    }
  });

  it('RST_STREAM(REFUSED_STREAM) twice: sent again once, then 503 UR remote_refused_stream_reset', async () => {
    const h2 = await startH2Upstream((req) => req.stream.close(http2.constants.NGHTTP2_REFUSED_STREAM));
    const logPath = tempLog();
    const { legate, port } = await start(config([{ name: 'refused', port: h2.port, prefix: '/', extra: 'http2_protocol_options: {}' }], logPath));
    try {
      const r = await request(port, { path: '/r' });
      assert.equal(r.status, 503);
      assert.equal(r.body, 'upstream connect error or disconnect/reset before headers. reset reason: remote refused stream reset');
      assert.equal(h2.requests.length, 2);
      await logHas(logPath, /^\/r 503 UR upstream_reset_before_response_started\{remote_refused_stream_reset\} 2$/m);
    } finally {
      await legate.stop();
      await h2.close();
    }
  });

  it('a refused stream whose request body outgrew the buffer limit is not sent again: 503 UR', async () => {
    const h2 = await startH2Upstream((req) => req.stream.close(http2.constants.NGHTTP2_REFUSED_STREAM));
    const logPath = tempLog();
    const { legate, port } = await start(config([{
      name: 'bigbody', port: h2.port, prefix: '/', extra: 'http2_protocol_options: {}\nper_connection_buffer_limit_bytes: 1024',
    }], logPath));
    try {
      const r = await request(port, { path: '/big', method: 'POST', body: 'x'.repeat(4096) });
      assert.equal(r.status, 503);
      assert.equal(h2.requests.length, 1);
      assert.equal(h2.requests[0]!.body.length, 4096);
      await logHas(logPath, /^\/big 503 UR upstream_reset_before_response_started\{remote_refused_stream_reset\} 1$/m);
    } finally {
      await legate.stop();
      await h2.close();
    }
  });

  it('RST_STREAM(INTERNAL_ERROR) before the response: 503 UR remote_reset, not sent again', async () => {
    const h2 = await startH2Upstream((req) => req.stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR));
    const logPath = tempLog();
    const { legate, port, admin } = await start(config([{ name: 'reset', port: h2.port, prefix: '/', extra: 'http2_protocol_options: {}' }], logPath));
    try {
      const r = await request(port, { path: '/r' });
      assert.equal(r.status, 503);
      assert.equal(r.body, 'upstream connect error or disconnect/reset before headers. reset reason: remote reset');
      assert.equal(h2.requests.length, 1);
      await logHas(logPath, /^\/r 503 UR upstream_reset_before_response_started\{remote_reset\} 1$/m);
      const stats = await readStats(admin);
      assert.equal(stats.get('cluster.reset.upstream_rq_rx_reset'), 1);
      // The session survives a stream reset.
      assert.equal(stats.get('cluster.reset.upstream_cx_active'), 1);
    } finally {
      await legate.stop();
      await h2.close();
    }
  });

  it('a malformed response (no :status) is an upstream protocol error: 502 UPE', async () => {
    const raw = await startRawH2Server((s, id) => s.write(frame(FrameType.HEADERS, 0x5, id, literalHeader('x-no-status', 'y'))));
    const logPath = tempLog();
    const { legate, port } = await start(config([{ name: 'malformed', port: raw.port, prefix: '/', extra: 'http2_protocol_options: {}' }], logPath));
    try {
      const r = await request(port, { path: '/bad' });
      assert.equal(r.status, 502);
      assert.equal(r.body, 'upstream connect error or disconnect/reset before headers. reset reason: protocol error');
      await logHas(logPath, /^\/bad 502 UPE upstream_reset_before_response_started\{protocol_error\} 1$/m);
    } finally {
      await legate.stop();
      await raw.close();
    }
  });

  it('GOAWAY(PROTOCOL_ERROR) then the connection closes under a stream it kept: 503 UC', async () => {
    const raw = await startRawH2Server((s, id) => {
      const p = Buffer.alloc(8);
      p.writeUInt32BE(id, 0); // this stream "might have been processed": not refused
      p.writeUInt32BE(1, 4); // PROTOCOL_ERROR
      s.write(frame(FrameType.GOAWAY, 0, 0, p), () => setTimeout(() => s.destroy(), 50));
    });
    const logPath = tempLog();
    const { legate, port, admin } = await start(config([{ name: 'goawayerr', port: raw.port, prefix: '/', extra: 'http2_protocol_options: {}' }], logPath));
    try {
      const r = await request(port, { path: '/g' });
      assert.equal(r.status, 503);
      assert.equal(r.body, 'upstream connect error or disconnect/reset before headers. reset reason: connection termination');
      await logHas(logPath, /^\/g 503 UC upstream_reset_before_response_started\{connection_termination\} 1$/m);
      const stats = await readStats(admin);
      assert.equal(stats.get('cluster.goawayerr.upstream_cx_close_notify'), 1);
      assert.equal(stats.get('cluster.goawayerr.upstream_cx_destroy_with_active_rq'), 1);
    } finally {
      await legate.stop();
      await raw.close();
    }
  });

  it('RST_STREAM after the response started: the client connection is cut, flag UR', async () => {
    const h2 = await startH2Upstream((req) => {
      req.stream.respond({ ':status': 200 });
      // destroy() sends RST_STREAM(INTERNAL_ERROR) without END_STREAM (close() would end the stream first).
      req.stream.write('partial', () => setTimeout(() => req.stream.destroy(new Error('cut')), 50));
    });
    const logPath = tempLog();
    const { legate, port } = await start(config([{ name: 'midreset', port: h2.port, prefix: '/', extra: 'http2_protocol_options: {}' }], logPath));
    try {
      const outcome = await new Promise<string>((resolve) => {
        const req = http.request({ host: '127.0.0.1', port, path: '/m', agent: false }, (res) => {
          let body = '';
          res.on('data', (d: Buffer) => { body += d; });
          res.on('end', () => resolve(`end ${body}`));
          res.on('error', () => resolve(`error ${body}`));
          res.on('aborted', () => resolve(`aborted ${body}`));
        });
        req.on('error', () => resolve('request error'));
        req.end();
      });
      assert.match(outcome, /^(error|aborted) partial$/);
      await logHas(logPath, /^\/m 200 UR /m);
    } finally {
      await legate.stop();
      await h2.close();
    }
  });

  it('max_requests_per_connection: the connection drains after N streams and the next request opens another', async () => {
    const h2 = await startH2Upstream();
    const { legate, port, admin } = await start(config([{
      name: 'maxrq', port: h2.port, prefix: '/',
      extra: typedOptions('common_http_protocol_options: { max_requests_per_connection: 2 }\nexplicit_http_config: { http2_protocol_options: {} }'),
    }], tempLog()));
    try {
      for (let i = 0; i < 3; i++) assert.equal((await request(port, { path: '/' })).status, 200);
      assert.deepEqual(h2.requests.map((r) => r.sessionIndex), [0, 0, 1]);
      const stats = await readStats(admin);
      assert.equal(stats.get('cluster.maxrq.upstream_cx_max_requests'), 1);
      assert.equal(stats.get('cluster.maxrq.upstream_cx_total'), 2);
      await eventually(async () => (await readStats(admin)).get('cluster.maxrq.upstream_cx_active') === 1, 5000, 'drained connection closed');
    } finally {
      await legate.stop();
      await h2.close();
    }
  });

  it('common_http_protocol_options.idle_timeout closes an idle HTTP/2 connection', async () => {
    const h2 = await startH2Upstream();
    const { legate, port, admin } = await start(config([{
      name: 'idle', port: h2.port, prefix: '/',
      extra: typedOptions('common_http_protocol_options: { idle_timeout: 0.2s }\nexplicit_http_config: { http2_protocol_options: {} }'),
    }], tempLog()));
    try {
      assert.equal((await request(port, { path: '/' })).status, 200);
      await eventually(async () => (await readStats(admin)).get('cluster.idle.upstream_cx_idle_timeout') === 1, 5000, 'idle timeout');
      assert.equal((await readStats(admin)).get('cluster.idle.upstream_cx_active'), 0);
      assert.equal((await request(port, { path: '/' })).status, 200);
      assert.equal(h2.sessions.length, 2);
    } finally {
      await legate.stop();
      await h2.close();
    }
  });

  it('common_http_protocol_options.max_stream_duration: 504 UMSDR once the request is complete', async () => {
    const h2 = await startH2Upstream(() => { /* never answers */ });
    const logPath = tempLog();
    const { legate, port, admin } = await start(config([{
      name: 'msd', port: h2.port, prefix: '/',
      extra: typedOptions('common_http_protocol_options: { max_stream_duration: 0.2s }\nexplicit_http_config: { http2_protocol_options: {} }'),
    }], logPath));
    try {
      const r = await request(port, { path: '/slow' });
      assert.equal(r.status, 504);
      assert.equal(r.body, 'upstream max stream duration reached');
      await logHas(logPath, /^\/slow 504 UMSDR upstream_max_stream_duration_reached 1$/m);
      assert.equal((await readStats(admin)).get('cluster.msd.upstream_rq_max_duration_reached'), 1);
    } finally {
      await legate.stop();
      await h2.close();
    }
  });
});

describe('common_http_protocol_options on the pools', () => {
  const manyHeaders = (n: number): Record<string, string> => {
    const h: Record<string, string> = {};
    for (let i = 0; i < n; i++) h[`x-h${i}`] = String(i);
    return h;
  };

  it('max_connection_duration drains an HTTP/2 connection; the next request opens a new one', async () => {
    const h2 = await startH2Upstream();
    const { legate, port, admin } = await start(config([{
      name: 'dur2', port: h2.port, prefix: '/',
      extra: typedOptions('common_http_protocol_options: { max_connection_duration: 0.3s }\nexplicit_http_config: { http2_protocol_options: {} }'),
    }], tempLog()));
    try {
      assert.equal((await request(port, { path: '/' })).status, 200);
      await eventually(async () => {
        const st = await readStats(admin);
        return st.get('cluster.dur2.upstream_cx_max_duration_reached') === 1 && st.get('cluster.dur2.upstream_cx_active') === 0;
      }, 5000, 'connection drained by max_connection_duration');
      assert.equal((await request(port, { path: '/' })).status, 200);
      assert.deepEqual(h2.requests.map((r) => r.sessionIndex), [0, 1]);
    } finally {
      await legate.stop();
      await h2.close();
    }
  });

  it('max_connection_duration drains an HTTP/1.1 keep-alive connection', async () => {
    const h1 = await startUpstream((_q, res) => res.end('ok'));
    const { legate, port, admin } = await start(config([{
      name: 'dur1', port: h1.port, prefix: '/',
      extra: typedOptions('common_http_protocol_options: { max_connection_duration: 0.3s }\nexplicit_http_config: { http_protocol_options: {} }'),
    }], tempLog()));
    try {
      assert.equal((await request(port, { path: '/' })).body, 'ok');
      await eventually(async () => {
        const st = await readStats(admin);
        return st.get('cluster.dur1.upstream_cx_max_duration_reached') === 1 && st.get('cluster.dur1.upstream_cx_active') === 0;
      }, 5000, 'connection drained by max_connection_duration');
      assert.equal((await request(port, { path: '/' })).body, 'ok');
      assert.equal((await readStats(admin)).get('cluster.dur1.upstream_cx_total'), 2);
    } finally {
      await legate.stop();
      await h1.close();
    }
  });

  it('http2_protocol_options.connection_keepalive: an unanswered PING closes the connection (503 UC); answered PINGs keep it', async () => {
    const silent = await startRawH2Server(() => { /* holds every request and never ACKs a PING */ });
    // The answer comes after many PING intervals; a generous PING timeout keeps a busy machine from failing it.
    const slowButAlive = await startH2Upstream((req) => setTimeout(() => { req.stream.respond({ ':status': 200 }); req.stream.end('late'); }, 1500));
    const ka = 'http2_protocol_options: { connection_keepalive: { interval: 0.1s, timeout: 1s } }';
    const logPath = tempLog();
    const { legate, port, admin } = await start(config([
      { name: 'ka_dead', port: silent.port, extra: ka },
      { name: 'ka_alive', port: slowButAlive.port, extra: ka },
    ], logPath));
    try {
      const dead = await request(port, { path: '/ka_dead' });
      assert.equal(dead.status, 503);
      await logHas(logPath, /^\/ka_dead 503 UC upstream_reset_before_response_started\{connection_termination\} 1$/m);
      assert.ok((silent.seen.get(FrameType.PING) ?? 0) >= 1);
      const alive = await request(port, { path: '/ka_alive' });
      assert.equal(alive.body, 'late');
      const stats = await readStats(admin);
      assert.equal(stats.get('cluster.ka_dead.http2.keepalive_timeout'), 1);
      assert.equal(stats.get('cluster.ka_alive.http2.keepalive_timeout') ?? 0, 0);
    } finally {
      await legate.stop();
      await silent.close();
      await slowButAlive.close();
    }
  });

  it('max_headers_count: an HTTP/2 response with too many headers is a protocol error, 502 UPE', async () => {
    const h2 = await startH2Upstream((req) => {
      req.stream.respond({ ':status': 200, ...manyHeaders(req.headers[':path'] === '/many' ? 12 : 3) });
      req.stream.end('fine');
    });
    const logPath = tempLog();
    const { legate, port } = await start(config([{
      name: 'hdr2', port: h2.port, prefix: '/',
      extra: typedOptions('common_http_protocol_options: { max_headers_count: 10 }\nexplicit_http_config: { http2_protocol_options: {} }'),
    }], logPath));
    try {
      assert.equal((await request(port, { path: '/few' })).body, 'fine');
      const r = await request(port, { path: '/many' });
      assert.equal(r.status, 502);
      assert.equal(r.body, 'upstream connect error or disconnect/reset before headers. reset reason: protocol error');
      await logHas(logPath, /^\/many 502 UPE upstream_reset_before_response_started\{protocol_error\} 1$/m);
    } finally {
      await legate.stop();
      await h2.close();
    }
  });

  it('max_headers_count: an HTTP/1.1 response with too many headers is a protocol error, 502 UPE', async () => {
    const h1 = await startUpstream((req, res) => {
      for (const [k, v] of Object.entries(manyHeaders(req.url === '/many' ? 12 : 3))) res.setHeader(k, v);
      res.end('fine');
    });
    const logPath = tempLog();
    const { legate, port } = await start(config([{
      name: 'hdr1', port: h1.port, prefix: '/',
      extra: typedOptions('common_http_protocol_options: { max_headers_count: 10 }\nexplicit_http_config: { http_protocol_options: {} }'),
    }], logPath));
    try {
      assert.equal((await request(port, { path: '/few' })).body, 'fine');
      const r = await request(port, { path: '/many' });
      assert.equal(r.status, 502);
      await logHas(logPath, /^\/many 502 UPE upstream_reset_before_response_started\{protocol_error\} 1$/m);
    } finally {
      await legate.stop();
      await h1.close();
    }
  });
});

describe('HTTP/1.1 downstream → HTTP/2 upstream header translation', () => {
  let h2: H2Upstream;
  let legate: LegateProcess;
  let port: number;

  before(async () => {
    h2 = await startH2Upstream((req) => {
      const trailers = req.headers[':path'] === '/trailers';
      req.stream.respond({ ':status': 200, 'x-echo': JSON.stringify(req.headers) }, { waitForTrailers: trailers });
      if (trailers) req.stream.on('wantTrailers', () => req.stream.sendTrailers({ 'grpc-status': '0', 'x-checksum': 'abc' }));
      req.stream.end('body');
    });
    legate = (await start(config([{ name: 'tr', port: h2.port, prefix: '/', extra: 'http2_protocol_options: {}' }], tempLog(),
      'http_protocol_options: { enable_trailers: true }'))).legate;
    port = legate.ports.get('ingress')!;
  });
  after(async () => {
    await legate?.stop();
    await h2?.close();
  });

  it('Host becomes :authority; connection-specific headers are dropped; te: trailers is kept; cookies pass', async () => {
    const r = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = http.request({
        host: '127.0.0.1', port, path: '/h', agent: false,
        headers: { host: 'svc.example:8080', te: 'trailers', 'keep-alive': 'timeout=5', 'proxy-connection': 'x', cookie: ['a=1', 'b=2'], 'x-multi': ['1', '2'] },
      }, resolve);
      req.on('error', reject);
      req.end();
    });
    r.resume();
    const seen = JSON.parse(r.headers['x-echo'] as string) as Record<string, string | string[]>;
    assert.equal(seen[':authority'], 'svc.example:8080');
    assert.equal(seen.host, undefined);
    assert.equal(seen.te, 'trailers');
    assert.equal(seen['keep-alive'], undefined);
    assert.equal(seen['proxy-connection'], undefined);
    assert.equal(seen.connection, undefined);
    assert.equal(seen['transfer-encoding'], undefined);
    // node joins the cookie crumbs it receives with "; " (RFC 9113 §8.2.3).
    assert.equal(seen.cookie, 'a=1; b=2');
    assert.equal(seen['x-multi'], '1, 2');
  });

  it('upstream HTTP/2 trailers reach an HTTP/1.1 client as chunked trailers (enable_trailers)', async () => {
    const trailers = await new Promise<NodeJS.Dict<string>>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, path: '/trailers', agent: false, headers: { te: 'trailers' } }, (res) => {
        assert.equal(res.headers['transfer-encoding'], 'chunked');
        res.resume();
        res.on('end', () => resolve(res.trailers));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(trailers['grpc-status'], '0');
    assert.equal(trailers['x-checksum'], 'abc');
  });

  it('without enable_trailers the HTTP/1 codec drops the trailers (Envoy\'s default), the body still arrives', async () => {
    const { legate: plain, port: plainPort } = await start(config([{ name: 'tr', port: h2.port, prefix: '/', extra: 'http2_protocol_options: {}' }], tempLog()));
    try {
      const got = await new Promise<{ body: string; trailers: NodeJS.Dict<string> }>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port: plainPort, path: '/trailers', agent: false, headers: { te: 'trailers' } }, (res) => {
          let body = '';
          res.on('data', (d: Buffer) => { body += d; });
          res.on('end', () => resolve({ body, trailers: res.trailers }));
        });
        req.on('error', reject);
        req.end();
      });
      assert.equal(got.body, 'body');
      assert.deepEqual(got.trailers, {});
    } finally {
      await plain.stop();
    }
  });
});

describe('HTTP/1.1 upgrade → HTTP/2 upstream as extended CONNECT (RFC 8441)', () => {
  it('Upgrade: websocket goes up as :method CONNECT + :protocol websocket; the 200 comes back as a 101, then bytes flow', async () => {
    const seen: http2.IncomingHttpHeaders[] = [];
    const server = http2.createServer({ settings: { enableConnectProtocol: true } });
    server.on('stream', (stream, headers) => {
      seen.push(headers);
      stream.on('error', () => {});
      stream.respond({ ':status': 200 });
      stream.on('data', (d: Buffer) => stream.write(d.toString().toUpperCase()));
      stream.on('end', () => stream.end());
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { legate, port } = await start(config([{
      name: 'ws', port: (server.address() as net.AddressInfo).port, prefix: '/', extra: 'http2_protocol_options: {}',
    }], tempLog(), 'upgrade_configs: [{ upgrade_type: websocket }]'));
    try {
      const out = await new Promise<string>((resolve, reject) => {
        const s = net.connect(port, '127.0.0.1');
        let got = '';
        s.on('data', (d) => {
          got += d.toString('latin1');
          if (got.includes('\r\n\r\n') && !got.includes('HELLO')) s.write('hello');
          if (got.includes('HELLO')) s.end();
        });
        s.on('close', () => resolve(got));
        s.on('error', reject);
        s.write('GET /chat HTTP/1.1\r\nHost: ws.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n');
      });
      assert.match(out, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
      assert.match(out, /\r\nupgrade: websocket\r\n/i);
      assert.match(out, /\r\nconnection: upgrade\r\n/i);
      assert.match(out, /\r\n\r\nHELLO$/);
      assert.equal(seen.length, 1);
      assert.equal(seen[0]![':method'], 'CONNECT');
      assert.equal(seen[0]![':protocol'], 'websocket');
      assert.equal(seen[0]![':path'], '/chat');
      assert.equal(seen[0]![':authority'], 'ws.example');
      assert.equal(seen[0]!.upgrade, undefined);
      assert.equal(seen[0]!['sec-websocket-version'], '13');
    } finally {
      await legate.stop();
      for (const c of [server]) await new Promise<void>((r) => c.close(() => r()));
    }
  });
});
