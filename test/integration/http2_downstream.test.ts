/**
 * Downstream HTTP/2 (h2c): codec_type AUTO tells the HTTP/2 preface from
 * HTTP/1.1 on one listener, codec_type HTTP2, http2_protocol_options,
 * multiplexing, trailers both ways, :authority/Host and cookie translation
 * between HTTP/1.1 and HTTP/2, flow control, and per-stream timeouts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http2 from 'node:http2';
import net, { type AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { startLegate, type LegateProcess } from '../support/legate_process.js';
import { eventually, readStats, request, startUpstream, type TestServer } from '../support/http_util.js';
import { H2_UPSTREAM, proxyConfig } from './fixtures.js';

const exec = promisify(execFile);

interface H2Response { status: number; headers: http2.IncomingHttpHeaders; body: Buffer; trailers: http2.IncomingHttpHeaders | null }

/** One request on `session`, collecting the whole response. */
function h2request(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, body?: Buffer | string, trailers?: http2.OutgoingHttpHeaders): Promise<H2Response> {
  return new Promise((resolve, reject) => {
    const req = session.request(headers, { endStream: body === undefined && trailers === undefined, waitForTrailers: trailers !== undefined });
    if (trailers !== undefined) req.on('wantTrailers', () => req.sendTrailers(trailers));
    let status = 0;
    let respHeaders: http2.IncomingHttpHeaders = {};
    let respTrailers: http2.IncomingHttpHeaders | null = null;
    const chunks: Buffer[] = [];
    req.on('response', (h) => { status = Number(h[':status']); respHeaders = h; });
    req.on('trailers', (t) => { respTrailers = t; });
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve({ status, headers: respHeaders, body: Buffer.concat(chunks), trailers: respTrailers }));
    req.on('error', reject);
    if (body !== undefined) req.end(body);
    else if (trailers !== undefined) req.end();
  });
}

function connect(port: number): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const s = http2.connect(`http://127.0.0.1:${port}`);
    s.once('remoteSettings', () => resolve(s));
    s.once('error', reject);
  });
}

/** An h2c upstream: echoes method, path, headers and body as JSON; request trailers come back as response trailers. */
async function startH2Upstream(): Promise<{ port: number; seen: Array<{ headers: http2.IncomingHttpHeaders; trailers: http2.IncomingHttpHeaders | null }>; close(): Promise<void> }> {
  const seen: Array<{ headers: http2.IncomingHttpHeaders; trailers: http2.IncomingHttpHeaders | null }> = [];
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    const chunks: Buffer[] = [];
    let trailers: http2.IncomingHttpHeaders | null = null;
    stream.on('trailers', (t) => { trailers = t; });
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      seen.push({ headers, trailers });
      const body = JSON.stringify({ path: headers[':path'], authority: headers[':authority'], cookie: headers.cookie ?? null, host: headers.host ?? null, body: Buffer.concat(chunks).toString() });
      stream.respond({ ':status': 200, 'content-type': 'application/json' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'x-upstream-trailer': 'yes', ...(trailers !== null ? { 'x-echo-trailer': String(trailers['x-req-trailer'] ?? '') } : {}) }));
      stream.end(body);
    });
  });
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => { sessions.add(s); s.on('close', () => sessions.delete(s)); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    close: () => new Promise<void>((r) => { for (const s of sessions) s.destroy(); server.close(() => r()); }),
  };
}

describe('downstream HTTP/2, codec_type AUTO, HTTP/1.1 upstream', () => {
  let upstream: TestServer;
  let legate: LegateProcess;
  let port: number;

  before(async () => {
    upstream = await startUpstream((req, res, body) => {
      if (req.url === '/slow') { setTimeout(() => res.end('slow done'), 200); return; }
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ url: req.url, host: req.headers.host, cookie: req.headers.cookie ?? null, body }));
    });
    legate = await startLegate(proxyConfig({ upstreamPort: upstream.port, hcmExtra: 'codec_type: AUTO' }), { expectListeners: ['ingress'], expectAdmin: true });
    port = legate.ports.get('ingress')!;
  });
  after(async () => { await legate.stop(); await upstream.close(); });

  it('serves curl --http2-prior-knowledge and HTTP/1.1 on the same listener', async () => {
    const h2 = await exec('curl', ['-sS', '--http2-prior-knowledge', '-o', '/dev/null', '-w', '%{http_version} %{http_code}', `http://127.0.0.1:${port}/a`]);
    assert.equal(h2.stdout, '2 200');
    const h1 = await exec('curl', ['-sS', '--http1.1', '-o', '/dev/null', '-w', '%{http_version} %{http_code}', `http://127.0.0.1:${port}/b`]);
    assert.equal(h1.stdout, '1.1 200');
    const stats = await readStats(legate.adminPort!);
    assert.ok((stats.get('http.ingress_http.downstream_cx_http2_total') ?? 0) >= 1);
    assert.ok((stats.get('http.ingress_http.downstream_cx_http1_total') ?? 0) >= 1);
    assert.ok((stats.get('http.ingress_http.downstream_rq_http2_total') ?? 0) >= 1);
  });

  it('turns :authority into Host and joins HTTP/2 cookie fields for the HTTP/1.1 upstream', async () => {
    const s = await connect(port);
    try {
      const r = await h2request(s, { ':path': '/cookies', ':authority': 'example.test', cookie: ['a=1', 'b=2'] });
      assert.equal(r.status, 200);
      const seen = JSON.parse(r.body.toString()) as { host: string; cookie: string };
      assert.equal(seen.host, 'example.test');
      assert.equal(seen.cookie, 'a=1; b=2');
    } finally { s.close(); }
  });

  it('multiplexes concurrent streams on one connection', async () => {
    const s = await connect(port);
    try {
      const rs = await Promise.all(Array.from({ length: 20 }, (_, i) => h2request(s, { ':path': i % 2 === 0 ? '/slow' : `/fast${i}`, ':method': 'POST' }, `body${i}`)));
      rs.forEach((r, i) => {
        assert.equal(r.status, 200);
        if (i % 2 === 0) assert.equal(r.body.toString(), 'slow done');
        else assert.equal((JSON.parse(r.body.toString()) as { body: string }).body, `body${i}`);
      });
    } finally { s.close(); }
  });

  it('streams a large upload and download', async () => {
    const s = await connect(port);
    try {
      const big = Buffer.alloc(3 * 1024 * 1024, 'x');
      const r = await h2request(s, { ':path': '/big', ':method': 'PUT' }, big);
      assert.equal(r.status, 200);
      assert.equal((JSON.parse(r.body.toString()) as { body: string }).body.length, big.length);
    } finally { s.close(); }
  });
});

describe('HTTP/2 ⇄ HTTP/2 and HTTP/1.1 → HTTP/2: trailers, authority, cookies', () => {
  let upstream: Awaited<ReturnType<typeof startH2Upstream>>;
  let legate: LegateProcess;
  let port: number;

  before(async () => {
    upstream = await startH2Upstream();
    legate = await startLegate(proxyConfig({
      upstreamPort: upstream.port,
      clusterExtra: H2_UPSTREAM,
      hcmExtra: 'codec_type: AUTO\nhttp_protocol_options: { enable_trailers: true }',
    }), { expectListeners: ['ingress'], expectAdmin: true });
    port = legate.ports.get('ingress')!;
  });
  after(async () => { await legate.stop(); await upstream.close(); });

  it('carries request and response trailers end to end', async () => {
    const s = await connect(port);
    try {
      const r = await h2request(s, { ':path': '/t', ':method': 'POST', te: 'trailers' }, undefined, { 'x-req-trailer': 'hello' });
      assert.equal(r.status, 200);
      assert.equal(upstream.seen.at(-1)!.trailers?.['x-req-trailer'], 'hello');
      assert.equal(r.trailers?.['x-upstream-trailer'], 'yes');
      assert.equal(r.trailers?.['x-echo-trailer'], 'hello');
      const stats = await readStats(legate.adminPort!);
      assert.ok((stats.get('http2.trailers') ?? 0) >= 1);
    } finally { s.close(); }
  });

  it('keeps :authority and cookies from an HTTP/2 client', async () => {
    const s = await connect(port);
    try {
      const r = await h2request(s, { ':path': '/a2', ':authority': 'svc.test', cookie: ['x=1', 'y=2'] });
      const seen = JSON.parse(r.body.toString()) as { authority: string; cookie: string };
      assert.equal(seen.authority, 'svc.test');
      assert.equal(seen.cookie, 'x=1; y=2');
    } finally { s.close(); }
  });

  it('sends Host as :authority for an HTTP/1.1 client, and its trailers come back chunked', async () => {
    const r = await request(port, { path: '/from-h1', headers: { host: 'h1.test', cookie: 'k=v' } });
    assert.equal(r.status, 200);
    const seen = JSON.parse(r.body) as { authority: string; host: string | null; cookie: string };
    assert.equal(seen.authority, 'h1.test');
    assert.equal(seen.host, null, 'no host header next to :authority');
    assert.equal(seen.cookie, 'k=v');
    const raw = await exec('curl', ['-sS', '--raw', '-H', 'TE: trailers', `http://127.0.0.1:${port}/raw`]);
    assert.match(raw.stdout, /\r\n0\r\nx-upstream-trailer: yes\r\n/);
  });
});

describe('http2_protocol_options and codec_type HTTP2', () => {
  let upstream: TestServer;
  let legate: LegateProcess;
  let port: number;

  before(async () => {
    // The upstream never reads request bodies, so uploads back up into the proxy.
    upstream = await startUpstream((req, res) => {
      if (req.url === '/stall') return;
      res.end('ok');
    }, { collectBody: false });
    legate = await startLegate(proxyConfig({
      upstreamPort: upstream.port,
      hcmExtra: `codec_type: HTTP2
stream_idle_timeout: 1s
http2_protocol_options:
  max_concurrent_streams: 7
  initial_stream_window_size: 65535
  initial_connection_window_size: 1048576`,
      routeExtra: 'timeout: 0s',
    }), { expectListeners: ['ingress'], expectAdmin: true });
    port = legate.ports.get('ingress')!;
  });
  after(async () => { await legate.stop(); await upstream.close(); });

  it('advertises the configured SETTINGS and connection window', async () => {
    const s = await connect(port);
    try {
      assert.equal(s.remoteSettings.maxConcurrentStreams, 7);
      assert.equal(s.remoteSettings.initialWindowSize, 65535);
      await eventually(() => (s.state.remoteWindowSize ?? 0) >= 1048576 - 65535, 2000, 'connection window update');
    } finally { s.close(); }
  });

  it('refuses HTTP/1.1 on an HTTP2-only listener without a response', async () => {
    const out = await new Promise<string>((resolve) => {
      const c = net.connect(port, '127.0.0.1', () => c.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n'));
      let got = '';
      c.on('data', (d) => { got += d.toString('latin1'); });
      c.on('close', () => resolve(got));
      c.on('error', () => resolve(got));
    });
    assert.doesNotMatch(out, /^HTTP\/1\.1 200/);
  });

  it('stops reading an upload the upstream does not take: the client is held at the window', async () => {
    const s = await connect(port);
    try {
      const req = s.request({ ':path': '/stall', ':method': 'POST' });
      req.on('error', () => {});
      const chunk = Buffer.alloc(64 * 1024, 'u');
      const total = 64 * 1024 * 1024;
      let written = 0;
      // Write until node's stream buffer refuses more for a while.
      await new Promise<void>((resolve) => {
        let idle: NodeJS.Timeout = setTimeout(resolve, 1500);
        const pump = (): void => {
          while (written < total) {
            written += chunk.length;
            if (!req.write(chunk)) { req.once('drain', () => { clearTimeout(idle); idle = setTimeout(resolve, 1500); pump(); }); return; }
          }
        };
        pump();
      });
      const sent = s.socket.bytesWritten;
      // Loopback socket buffers and Legate's 1 MiB watermark hold some megabytes; never the whole upload.
      assert.ok(sent < 24 * 1024 * 1024, `client managed to send ${sent} bytes of ${total}`);
      req.close(http2.constants.NGHTTP2_CANCEL);
    } finally { s.destroy(); }
  });

  it('times out one idle stream with 408 while another stream on the connection completes', async () => {
    const s = await connect(port);
    try {
      const idle = s.request({ ':path': '/stall', ':method': 'POST' }); // body never ends, upstream never answers
      idle.on('error', () => {});
      const status = new Promise<number>((r) => idle.on('response', (h) => r(Number(h[':status']))));
      const ok = await h2request(s, { ':path': '/ok' });
      assert.equal(ok.status, 200);
      assert.equal(await status, 408);
      const stats = await readStats(legate.adminPort!);
      assert.ok((stats.get('http.ingress_http.downstream_rq_idle_timeout') ?? 0) >= 1);
    } finally { s.destroy(); }
  });
});

describe('HTTP/2 drain', () => {
  it('SIGTERM sends GOAWAY, lets the in-flight stream finish, then exits 0', async () => {
    const upstream = await startUpstream((_req, res) => setTimeout(() => res.end('finished'), 400));
    const legate = await startLegate(proxyConfig({ upstreamPort: upstream.port }), { expectListeners: ['ingress'], expectAdmin: true, args: ['--drain-time-s', '5'] });
    try {
      const s = await connect(legate.ports.get('ingress')!);
      const goaway = new Promise<number>((r) => s.once('goaway', (code: number) => r(code)));
      const pending = h2request(s, { ':path': '/slow' });
      await new Promise((r) => setTimeout(r, 100));
      const exit = legate.stop('SIGTERM');
      assert.equal(await goaway, http2.constants.NGHTTP2_NO_ERROR);
      assert.ok((await readStats(legate.adminPort!)).get('http2.goaway_sent')! >= 1);
      const r = await pending;
      assert.equal(r.status, 200);
      assert.equal(r.body.toString(), 'finished');
      assert.equal(await exit, 0);
      s.destroy();
    } finally {
      await upstream.close();
    }
  });
});
