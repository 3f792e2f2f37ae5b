// Request mirroring (route `request_mirror_policies`) end to end: a real proxy
// (in-process server composition), a real main upstream and real mirror
// upstreams. The mirror gets a copy of the request (after the route's header
// mutations) with `-shadow` on its authority; whatever the mirror does — hang,
// refuse connections, answer 500 — the client sees only the main upstream's
// answer.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { startInProcessProxy, type InProcessProxy } from '../support/in_process_proxy.js';
import { eventually, request, startUpstream, type TestServer } from '../support/http_util.js';
import { startFaultyUpstream, type FaultyUpstream } from '../support/faulty_upstream.js';
import { H2_UPSTREAM, indent, staticCluster } from './fixtures.js';

/** Listener → HCM → router, `routes` under one `*` virtual host, `clusters` as given. */
function config(routes: string, clusters: string, opts: { vhostExtra?: string; routeConfigExtra?: string } = {}): string {
  return `
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
          route_config:
            name: local_route
${opts.routeConfigExtra ? indent(opts.routeConfigExtra, 12) : ''}
            virtual_hosts:
            - name: all
              domains: ["*"]
${opts.vhostExtra ? indent(opts.vhostExtra, 14) : ''}
              routes:
${indent(routes, 14)}
          http_filters:
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
${indent(clusters, 2)}`;
}

/** An upstream that holds every request until `releaseAll()`; `held` counts the ones waiting. */
async function startHoldingUpstream(): Promise<TestServer & { held: () => number; releaseAll: () => void }> {
  const waiting: http.ServerResponse[] = [];
  const s = await startUpstream((_req, res) => { waiting.push(res); });
  return Object.assign(s, {
    held: () => waiting.length,
    releaseAll: () => { for (const r of waiting.splice(0)) r.end('mirror-late'); },
  });
}

describe('request mirroring', () => {
  let main: TestServer;
  let mirror: TestServer;
  let mirror2: TestServer;
  let faulty: FaultyUpstream;
  let holding: Awaited<ReturnType<typeof startHoldingUpstream>>;
  /** Mirror over HTTP/2 (h2c) that records the request trailers it gets. */
  let h2Mirror: http2.Http2Server;
  const h2Seen: Array<{ headers: http2.IncomingHttpHeaders; body: string; trailers: http2.IncomingHttpHeaders }> = [];
  let proxy: InProcessProxy;
  let port: number;

  before(async () => {
    main = await startUpstream((_req, res, body) => {
      res.setHeader('x-from', 'main');
      res.end(`main:${body.length}`);
    });
    mirror = await startUpstream((_req, res) => { res.setHeader('x-from', 'mirror'); res.end('mirror'); });
    mirror2 = await startUpstream((_req, res) => res.end('mirror2'));
    // A CONNECT reaching the mirror is recorded like any other request.
    mirror.server.on('connect', (req: http.IncomingMessage, socket: net.Socket) => {
      mirror.requests.push({ method: req.method!, url: req.url!, headers: req.headers, body: '' });
      socket.destroy();
    });
    faulty = await startFaultyUpstream('faulty');
    holding = await startHoldingUpstream();
    // The main upstream also accepts WebSocket upgrades and echoes the tunnel's bytes upper-cased.
    main.server.on('upgrade', (_req, socket: net.Socket) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n');
      socket.on('data', (d: Buffer) => socket.write(d.toString().toUpperCase()));
      socket.on('end', () => socket.end());
    });
    // ... and CONNECT (proxied as HTTP: no connect_config), echoing the same way.
    main.server.on('connect', (_req, socket: net.Socket) => {
      socket.write('HTTP/1.1 200 OK\r\n\r\n');
      socket.on('data', (d: Buffer) => socket.write(d.toString().toUpperCase()));
      socket.on('end', () => socket.end());
    });
    h2Mirror = http2.createServer();
    h2Mirror.on('stream', (stream, headers) => {
      const chunks: Buffer[] = [];
      let trailers: http2.IncomingHttpHeaders = {};
      stream.on('trailers', (t) => { trailers = t; });
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        h2Seen.push({ headers, body: Buffer.concat(chunks).toString(), trailers });
        stream.respond({ ':status': 200 });
        stream.end('h2-mirror');
      });
    });
    await new Promise<void>((r) => h2Mirror.listen(0, '127.0.0.1', r));
    const routes = `
- match: { prefix: "/basic" }
  request_headers_to_add: [{ header: { key: x-route-added, value: yes } }]
  route:
    cluster: main
    timeout: 5s
    request_mirror_policies: [{ cluster: mirror }]
- match: { prefix: "/rewritten" }
  route:
    cluster: main
    prefix_rewrite: /after
    host_rewrite_literal: rewritten.example
    request_mirror_policies: [{ cluster: mirror }]
- match: { prefix: "/nosuffix" }
  route:
    cluster: main
    request_mirror_policies: [{ cluster: mirror, disable_shadow_host_suffix_append: true }]
- match: { prefix: "/two" }
  route:
    cluster: main
    request_mirror_policies: [{ cluster: mirror }, { cluster: mirror2 }]
- match: { prefix: "/faulty" }
  route:
    cluster: main
    timeout: 0.3s
    request_mirror_policies: [{ cluster: faulty }]
- match: { prefix: "/holding" }
  route:
    cluster: main
    timeout: 0s
    request_mirror_policies: [{ cluster: holding }]
- match: { prefix: "/missing" }
  route:
    cluster: main
    request_mirror_policies: [{ cluster: not-a-cluster }, { cluster: mirror2 }]
- match: { prefix: "/by-header" }
  route:
    cluster: main
    request_mirror_policies: [{ cluster_header: x-mirror-to }]
- match: { prefix: "/never" }
  route:
    cluster: main
    request_mirror_policies:
    - cluster: mirror
      runtime_fraction: { default_value: { numerator: 0, denominator: HUNDRED }, runtime_key: mirror.never }
- match: { prefix: "/quarter" }
  route:
    cluster: main
    request_mirror_policies:
    - cluster: mirror2
      runtime_fraction: { default_value: { numerator: 2500, denominator: TEN_THOUSAND } }
- match: { prefix: "/small-buffer" }
  per_request_buffer_limit_bytes: 1024
  route:
    cluster: main
    request_mirror_policies: [{ cluster: mirror }]
- match: { prefix: "/inherited" }
  route: { cluster: main }
- match: { prefix: "/ws" }
  route:
    cluster: main
    upgrade_configs: [{ upgrade_type: websocket }]
    request_mirror_policies: [{ cluster: mirror }]
- match: { connect_matcher: {} }
  route:
    cluster: main
    upgrade_configs: [{ upgrade_type: CONNECT }]
    request_mirror_policies: [{ cluster: mirror }]
- match: { prefix: "/to-h2" }
  route:
    cluster: main
    request_mirror_policies: [{ cluster: h2mirror }]
`;
    const clusters = [
      staticCluster('main', main.port),
      staticCluster('mirror', mirror.port),
      staticCluster('mirror2', mirror2.port),
      staticCluster('faulty', faulty.port),
      staticCluster('holding', holding.port),
      staticCluster('h2mirror', (h2Mirror.address() as { port: number }).port, { extra: H2_UPSTREAM }),
    ].join('');
    proxy = await startInProcessProxy(config(routes, clusters, {
      // Unknown mirror clusters load (as from RDS) and are skipped per request.
      routeConfigExtra: 'validate_clusters: false',
      vhostExtra: 'request_mirror_policies: [{ cluster: mirror2 }]',
    }));
    port = proxy.ports.get('ingress')!;
  });

  after(async () => {
    proxy.stop();
    holding.releaseAll();
    await Promise.all([main.close(), mirror.close(), mirror2.close(), faulty.close(), holding.close(),
      new Promise((r) => h2Mirror.close(r))]);
  });

  /** Clears what the upstreams saw. */
  const reset = (): void => {
    for (const s of [main, mirror, mirror2, holding]) s.requests.length = 0;
    faulty.requests.length = 0;
  };

  it('the mirror gets the same method, path and body, the route headers, and host-shadow as authority', async () => {
    reset();
    const body = 'x'.repeat(3000);
    const r = await request(port, { method: 'POST', path: '/basic/thing?q=1', headers: { host: 'shop.example:8080', 'x-client': 'c1' }, body });
    assert.equal(r.status, 200);
    assert.equal(r.body, 'main:3000');
    assert.equal(r.headers['x-from'], 'main');
    await eventually(() => mirror.requests.length === 1, 3000, 'the mirrored request');
    const m = mirror.requests[0]!;
    const o = main.requests[0]!;
    assert.equal(m.method, 'POST');
    assert.equal(m.url, '/basic/thing?q=1');
    assert.equal(m.body, body);
    assert.equal(m.headers.host, 'shop.example-shadow:8080');
    assert.equal(o.headers.host, 'shop.example:8080');
    assert.equal(m.headers['x-client'], 'c1');
    assert.equal(m.headers['x-route-added'], 'yes');
    assert.equal(m.headers['x-envoy-expected-rq-timeout-ms'], '5000');
    assert.equal(main.requests.length, 1);
    assert.equal(mirror2.requests.length, 0, 'the route policy replaces the virtual host one');
  });

  it('a header-only GET is mirrored too; an authority without a port gets -shadow at the end', async () => {
    reset();
    const r = await request(port, { path: '/basic/get', headers: { host: 'plain' } });
    assert.equal(r.status, 200);
    await eventually(() => mirror.requests.length === 1, 3000, 'the mirrored GET');
    assert.equal(mirror.requests[0]!.method, 'GET');
    assert.equal(mirror.requests[0]!.headers.host, 'plain-shadow');
    assert.equal(mirror.requests[0]!.body, '');
  });

  it('the copy is taken after path and host rewrites', async () => {
    reset();
    await request(port, { path: '/rewritten/x', headers: { host: 'orig' } });
    await eventually(() => mirror.requests.length === 1, 3000, 'the mirrored request');
    assert.equal(main.requests[0]!.url, '/after/x');
    assert.equal(mirror.requests[0]!.url, '/after/x');
    assert.equal(main.requests[0]!.headers.host, 'rewritten.example');
    assert.equal(mirror.requests[0]!.headers.host, 'rewritten.example-shadow');
  });

  it('disable_shadow_host_suffix_append keeps the authority', async () => {
    reset();
    await request(port, { path: '/nosuffix', headers: { host: 'keep.example:81' } });
    await eventually(() => mirror.requests.length === 1, 3000, 'the mirrored request');
    assert.equal(mirror.requests[0]!.headers.host, 'keep.example:81');
  });

  it('several policies: each mirror gets its own copy', async () => {
    reset();
    await request(port, { method: 'PUT', path: '/two', headers: { host: 'h' }, body: 'payload' });
    await eventually(() => mirror.requests.length === 1 && mirror2.requests.length === 1, 3000, 'both mirrors');
    for (const s of [mirror, mirror2]) {
      assert.equal(s.requests[0]!.method, 'PUT');
      assert.equal(s.requests[0]!.body, 'payload');
      assert.equal(s.requests[0]!.headers.host, 'h-shadow');
    }
  });

  it('virtual host policies apply to routes without their own', async () => {
    reset();
    await request(port, { path: '/inherited', headers: { host: 'vh' } });
    await eventually(() => mirror2.requests.length === 1, 3000, 'the virtual host mirror');
    assert.equal(mirror2.requests[0]!.url, '/inherited');
    assert.equal(mirror.requests.length, 0);
  });

  it('the main response does not wait for a mirror that has not answered', async () => {
    reset();
    const r = await request(port, { path: '/holding', headers: { host: 'h' } });
    assert.equal(r.status, 200);
    assert.equal(r.body, 'main:0');
    // The mirror has the request and is still holding it: the client got its answer regardless.
    await eventually(() => holding.held() === 1, 3000, 'the mirror to receive the request');
    assert.equal(holding.requests.length, 1);
    holding.releaseAll();
  });

  it('a hanging mirror: the main request completes, the mirror is reset at the route timeout', async () => {
    reset();
    faulty.setDefault({ kind: 'hang' });
    const before = proxy.stat('cluster.faulty.upstream_rq_timeout') ?? 0;
    const r = await request(port, { path: '/faulty/hang', headers: { host: 'h' } });
    assert.equal(r.status, 200);
    assert.equal(r.body, 'main:0');
    await eventually(() => (proxy.stat('cluster.faulty.upstream_rq_timeout') ?? 0) === before + 1, 3000, 'the mirror timeout');
    assert.equal(faulty.requests.length, 1);
    assert.equal(proxy.stat('cluster.faulty.upstream_rq_active'), 0);
    assert.equal(proxy.stat('cluster.main.upstream_rq_timeout') ?? 0, 0);
  });

  it('a mirror answering 500: the client sees the main answer only', async () => {
    reset();
    faulty.setDefault({ kind: 'status', status: 500, headers: { 'x-from': 'faulty' }, body: 'mirror failed' });
    const before = proxy.stat('cluster.faulty.upstream_rq_500') ?? 0;
    const r = await request(port, { method: 'POST', path: '/faulty/500', headers: { host: 'h' }, body: 'abc' });
    assert.equal(r.status, 200);
    assert.equal(r.body, 'main:3');
    assert.equal(r.headers['x-from'], 'main');
    await eventually(() => (proxy.stat('cluster.faulty.upstream_rq_500') ?? 0) === before + 1, 3000, 'the mirror 500');
    assert.equal(faulty.requests[0]!.body, 'abc');
  });

  it('a mirror refusing connections: the main request is unaffected', async () => {
    reset();
    faulty.setDefault({ kind: 'ok' });
    await faulty.stopListening();
    try {
      const before = proxy.stat('cluster.faulty.upstream_cx_connect_fail') ?? 0;
      for (let i = 0; i < 3; i++) {
        const r = await request(port, { path: '/faulty/refused', headers: { host: 'h' } });
        assert.equal(r.status, 200);
        assert.equal(r.body, 'main:0');
      }
      await eventually(() => (proxy.stat('cluster.faulty.upstream_cx_connect_fail') ?? 0) >= before + 3, 3000, 'mirror connect failures');
      assert.equal(main.requests.length, 3);
    } finally {
      await faulty.listenAgain();
    }
  });

  it('a mirror cluster that does not exist is skipped; the other policies still mirror', async () => {
    reset();
    const r = await request(port, { path: '/missing', headers: { host: 'h' } });
    assert.equal(r.status, 200);
    await eventually(() => mirror2.requests.length === 1, 3000, 'the existing mirror');
    assert.equal(main.requests.length, 1);
  });

  it('cluster_header: mirrors to the named cluster; absent, empty or unknown names mirror nothing', async () => {
    reset();
    for (const to of [undefined, '', 'nope']) {
      const headers: Record<string, string> = { host: 'h' };
      if (to !== undefined) headers['x-mirror-to'] = to;
      const r = await request(port, { path: '/by-header', headers });
      assert.equal(r.status, 200);
    }
    const r = await request(port, { path: '/by-header', headers: { host: 'h', 'x-mirror-to': 'mirror' } });
    assert.equal(r.status, 200);
    await eventually(() => mirror.requests.length === 1, 3000, 'the header-named mirror');
    assert.equal(main.requests.length, 4);
    // The sends are in order on one event loop: nothing else is on its way to the mirrors.
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(mirror.requests.length, 1);
    assert.equal(mirror2.requests.length, 0);
  });

  it('runtime_fraction 0% never mirrors', async () => {
    reset();
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    try {
      await Promise.all(Array.from({ length: 100 }, () => request(port, { path: '/never', headers: { host: 'h' }, agent })));
    } finally {
      agent.destroy();
    }
    assert.equal(main.requests.length, 100);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(mirror.requests.length, 0);
  });

  it('runtime_fraction 25% (TEN_THOUSAND) mirrors about a quarter of the requests', async () => {
    reset();
    const n = 800;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    try {
      for (let i = 0; i < n; i += 100) {
        await Promise.all(Array.from({ length: 100 }, () => request(port, { path: '/quarter', headers: { host: 'h' }, agent })));
      }
    } finally {
      agent.destroy();
    }
    const p = 0.25;
    const sigma = Math.sqrt(n * p * (1 - p)); // binomial standard deviation, 12 for n = 800
    await eventually(() => mirror2.requests.length >= n * p - 5 * sigma, 5000, 'the mirrored share');
    await new Promise((r) => setTimeout(r, 100));
    const got = mirror2.requests.length;
    assert.ok(Math.abs(got - n * p) <= 5 * sigma, `mirrored ${got} of ${n}, expected ${n * p} ± ${(5 * sigma).toFixed(0)}`);
  });

  it('an HTTP/2 request with trailers: the mirror (over HTTP/2) gets body and trailers', async () => {
    h2Seen.length = 0;
    reset();
    const session = http2.connect(`http://127.0.0.1:${port}`);
    try {
      const reply = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const stream = session.request({ ':method': 'POST', ':path': '/to-h2/t', ':authority': 'grpc.example:50051', 'content-type': 'text/plain' },
          { waitForTrailers: true });
        let status = 0;
        const chunks: Buffer[] = [];
        stream.on('response', (h) => { status = Number(h[':status']); });
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => resolve({ status, body: Buffer.concat(chunks).toString() }));
        stream.on('error', reject);
        stream.on('wantTrailers', () => stream.sendTrailers({ 'x-checksum': 'abc123' }));
        stream.end('hello trailers');
      });
      assert.equal(reply.status, 200);
      assert.equal(reply.body, 'main:14');
    } finally {
      session.close();
    }
    await eventually(() => h2Seen.length === 1, 3000, 'the HTTP/2 mirror');
    const m = h2Seen[0]!;
    assert.equal(m.headers[':method'], 'POST');
    assert.equal(m.headers[':path'], '/to-h2/t');
    assert.equal(m.headers[':authority'], 'grpc.example-shadow:50051');
    assert.equal(m.body, 'hello trailers');
    assert.equal(m.trailers['x-checksum'], 'abc123');
  });

  /** Opens a tunnel with `head`, sends a line through it and returns the echo. */
  const tunnel = (head: string, okStatus: RegExp): Promise<string> => new Promise<string>((resolve, reject) => {
      const sock = net.connect(port, '127.0.0.1');
      let buf = '';
      let upgraded = false;
      sock.on('data', (d) => {
        buf += d.toString();
        if (!upgraded && buf.includes('\r\n\r\n')) {
          upgraded = true;
          if (!okStatus.test(buf)) { reject(new Error(`tunnel refused: ${buf}`)); sock.destroy(); return; }
          buf = '';
          sock.write('over the tunnel');
        } else if (upgraded && buf === 'OVER THE TUNNEL') {
          sock.end();
          resolve(buf);
        }
      });
      sock.on('error', reject);
      sock.write(head);
    });

  it('an upgraded (WebSocket) request is not mirrored; the tunnel works', async () => {
    reset();
    const echoed = await tunnel('GET /ws HTTP/1.1\r\nhost: ws.example\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n', /^HTTP\/1\.1 101/);
    assert.equal(echoed, 'OVER THE TUNNEL');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(mirror.requests.length, 0);
  });

  it('CONNECT is never mirrored (Envoy); the tunnel works', async () => {
    reset();
    const echoed = await tunnel('CONNECT tcp.example:443 HTTP/1.1\r\nhost: tcp.example:443\r\n\r\n', /^HTTP\/1\.1 200/);
    assert.equal(echoed, 'OVER THE TUNNEL');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(mirror.requests.length, 0);
  });

  it('a body over the buffer limit abandons the mirror (retry_or_shadow_abandoned), not the request', async () => {
    reset();
    const before = proxy.stat('cluster.main.retry_or_shadow_abandoned') ?? 0;
    const big = 'b'.repeat(4096);
    const r = await request(port, { method: 'POST', path: '/small-buffer', headers: { host: 'h' }, body: big });
    assert.equal(r.status, 200);
    assert.equal(r.body, 'main:4096');
    assert.equal(main.requests[0]!.body, big);
    assert.equal(proxy.stat('cluster.main.retry_or_shadow_abandoned'), before + 1);
    // Under the limit it is mirrored.
    const small = await request(port, { method: 'POST', path: '/small-buffer', headers: { host: 'h' }, body: 's'.repeat(1000) });
    assert.equal(small.status, 200);
    await eventually(() => mirror.requests.length === 1, 3000, 'the small body mirrored');
    assert.equal(mirror.requests[0]!.body.length, 1000);
    assert.equal(proxy.stat('cluster.main.retry_or_shadow_abandoned'), before + 1);
  });
});
