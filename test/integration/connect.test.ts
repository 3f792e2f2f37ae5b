/**
 * HTTP/1.1 CONNECT through the real CLI: terminated by the router (route
 * `upgrade_configs: [{upgrade_type: CONNECT, connect_config: {}}]` → raw TCP to
 * the chosen host, 200 to the client, bytes both ways, half-close), passed on
 * as HTTP to an upstream that handles CONNECT itself, and refused (403) when
 * no upgrade_configs allow it. Clients: curl's proxytunnel (`-p -x`) and raw
 * sockets.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLegate, type LegateProcess } from '../support/legate_process.js';
import { eventually, rawRequest, readStats, startUpstream, type TestServer } from '../support/http_util.js';
import { indent, staticCluster } from './fixtures.js';

interface Route { match: string; cluster: string; upgrade?: string }

function config(o: { routes: Route[]; clusters: Array<{ name: string; port: number }>; hcmUpgrade: boolean; logPath: string }): string {
  const routes = o.routes.map((r) => `              - match: ${r.match}
                route:
                  cluster: ${r.cluster}
${r.upgrade === undefined ? '' : `                  upgrade_configs: ${r.upgrade}\n`}`).join('');
  const clusters = o.clusters.map((c) => indent(staticCluster(c.name, c.port), 2)).join('');
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
${o.hcmUpgrade ? '          upgrade_configs: [{ upgrade_type: CONNECT }]\n' : ''}          access_log:
          - name: envoy.access_loggers.file
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: ${o.logPath}
              log_format: { text_format_source: { inline_string: "%REQ(:METHOD)% %REQ(:AUTHORITY)% %RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %BYTES_RECEIVED% %BYTES_SENT% %UPSTREAM_CLUSTER%\\n" } }
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
${clusters}`;
}

/**
 * A TCP server: echoes what it gets with `ping` turned into `pong`; on the
 * client's FIN, or on `quit`, it writes `bye` and ends its side.
 */
async function startTcpServer(): Promise<{ port: number; ends: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const state = { ends: 0 };
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('data', (d) => {
      const text = d.toString();
      s.write(text.replace(/ping/g, 'pong'));
      if (text.includes('quit')) s.end('bye'); // the upstream closes first
    });
    s.on('end', () => { state.ends++; if (!s.writableEnded) s.end('bye'); });
    s.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    get ends() { return state.ends; },
    close: () => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
  };
}

/**
 * Opens a CONNECT tunnel over a raw socket; resolves with the response head
 * and the socket positioned after it.
 */
function openTunnel(port: number, authority: string): Promise<{ head: string; socket: net.Socket; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    const onData = (d: Buffer): void => {
      buf = Buffer.concat([buf, d]);
      const i = buf.indexOf('\r\n\r\n');
      if (i === -1) return;
      socket.off('data', onData);
      resolve({ head: buf.subarray(0, i).toString('latin1'), socket, rest: buf.subarray(i + 4) });
    };
    socket.on('data', onData);
    socket.on('error', reject);
    socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`);
  });
}

function readUntilClose(socket: net.Socket, initial: Buffer): Promise<string> {
  return new Promise((resolve) => {
    let out = initial.toString();
    socket.on('data', (d) => { out += d.toString(); });
    socket.on('close', () => resolve(out));
  });
}

function curl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('curl', ['-sS', '--max-time', '10', ...args], (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : (err as { code?: number }).code ?? 1, stdout, stderr });
    });
  });
}

describe('CONNECT terminated by the router (connect_config)', () => {
  let tcp: Awaited<ReturnType<typeof startTcpServer>>;
  let web: TestServer;
  let legate: LegateProcess;
  let port: number;
  const logPath = join(mkdtempSync(join(tmpdir(), 'legate-connect-')), 'access.log');

  before(async () => {
    tcp = await startTcpServer();
    web = await startUpstream((req, res) => res.end(`hello from ${req.url}`));
    const dead = net.createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const deadPort = (dead.address() as AddressInfo).port;
    await new Promise<void>((r) => dead.close(() => r()));
    legate = await startLegate(config({
      hcmUpgrade: true,
      logPath,
      routes: [
        { match: '{ connect_matcher: {}, headers: [{ name: ":authority", string_match: { prefix: "web" } }] }', cluster: 'web', upgrade: '[{ upgrade_type: CONNECT, connect_config: {} }]' },
        { match: '{ connect_matcher: {}, headers: [{ name: ":authority", string_match: { prefix: "dead" } }] }', cluster: 'dead', upgrade: '[{ upgrade_type: CONNECT, connect_config: {} }]' },
        { match: '{ connect_matcher: {} }', cluster: 'tcp', upgrade: '[{ upgrade_type: CONNECT, connect_config: {} }]' },
      ],
      clusters: [{ name: 'tcp', port: tcp.port }, { name: 'web', port: web.port }, { name: 'dead', port: deadPort }],
    }), { expectListeners: ['ingress'], expectAdmin: true, args: ['--file-flush-interval-msec', '50'] });
    port = legate.ports.get('ingress')!;
  });
  after(async () => {
    await legate?.stop();
    await tcp?.close();
    await web?.close();
  });

  const logHas = (re: RegExp) => eventually(() => {
    try { return re.test(readFileSync(logPath, 'utf8')); } catch { return false; }
  }, 5000, `log line ${re}`);

  it('answers 200, then bytes flow both ways; the client half-close reaches the upstream and its reply comes back', async () => {
    const { head, socket, rest } = await openTunnel(port, 'tunnel.example:443');
    assert.match(head, /^HTTP\/1\.1 200 OK\r\n/);
    assert.doesNotMatch(head, /content-length|transfer-encoding/i);
    const closed = readUntilClose(socket, rest);
    socket.write('ping 1\n');
    socket.end(); // half-close: the upstream still answers, then says `bye` and closes
    const got = await closed;
    assert.equal(got, 'pong 1\nbye');
    assert.equal(tcp.ends, 1);
    await logHas(/^CONNECT tunnel\.example:443 200 - via_upstream 7 10 tcp$/m);
    const stats = await readStats(legate.adminPort!);
    assert.equal(stats.get('cluster.tcp.upstream_cx_total'), 1);
    assert.equal(stats.get('cluster.tcp.upstream_cx_http1_total'), 0);
    assert.equal(stats.get('http.ingress_http.downstream_cx_upgrades_total'), 1);
    await eventually(async () => (await readStats(legate.adminPort!)).get('cluster.tcp.upstream_cx_active') === 0, 5000, 'tunnel closed');
  });

  it('curl -p -x (proxytunnel) reaches an HTTP server through the tunnel', async () => {
    const r = await curl(['-p', '-x', `http://127.0.0.1:${port}`, `http://web.example:${web.port}/through`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'hello from /through');
    assert.equal(web.requests.at(-1)!.url, '/through');
    await logHas(new RegExp(`^CONNECT web\\.example:${web.port} 200 - via_upstream \\d+ \\d+ web$`, 'm'));
  });

  it('the upstream closing first: its last bytes reach the client, then the client connection closes', async () => {
    const { socket, rest } = await openTunnel(port, 'tunnel.example:443');
    const closed = readUntilClose(socket, rest);
    socket.write('ping 2\nquit\n');
    assert.equal(await closed, 'pong 2\nquit\nbye');
  });

  it('an unreachable upstream: 503 UF, no tunnel', async () => {
    const out = await rawRequest(port, 'CONNECT dead.example:1 HTTP/1.1\r\nHost: dead.example:1\r\n\r\n');
    assert.match(out, /^HTTP\/1\.1 503 Service Unavailable\r\n/);
    assert.match(out, /upstream connect error or disconnect\/reset before headers\. reset reason: remote connection failure/);
    await logHas(/^CONNECT dead\.example:1 503 UF upstream_reset_before_response_started\{remote_connection_failure\|delayed_connect_error:_Connection_refused\} /m);
  });
});

describe('CONNECT allowed or refused', () => {
  let tcp: Awaited<ReturnType<typeof startTcpServer>>;
  before(async () => { tcp = await startTcpServer(); });
  after(async () => { await tcp?.close(); });

  it('without any CONNECT upgrade_configs: 403 upgrade_failed and the connection closes', async () => {
    const logPath = join(mkdtempSync(join(tmpdir(), 'legate-connect-')), 'access.log');
    const legate = await startLegate(config({
      hcmUpgrade: false, logPath,
      routes: [{ match: '{ connect_matcher: {} }', cluster: 'tcp' }],
      clusters: [{ name: 'tcp', port: tcp.port }],
    }), { expectListeners: ['ingress'], expectAdmin: true, args: ['--file-flush-interval-msec', '50'] });
    try {
      const out = await rawRequest(legate.ports.get('ingress')!, 'CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n');
      assert.match(out, /^HTTP\/1\.1 403 Forbidden\r\n/);
      assert.match(out, /connection: close\r\n/);
      await eventually(() => /^CONNECT a\.example:443 403 - upgrade_failed /m.test(readFileSync(logPath, 'utf8')), 5000, 'log');
      const stats = await readStats(legate.adminPort!);
      assert.equal(stats.get('http.ingress_http.downstream_rq_ws_on_non_ws_route'), 1);
      assert.equal(tcp.ends, 0);
    } finally {
      await legate.stop();
    }
  });

  it('a route-level CONNECT upgrade_config enables CONNECT without the HCM one; enabled: false on the route refuses it', async () => {
    const logPath = join(mkdtempSync(join(tmpdir(), 'legate-connect-')), 'access.log');
    const legate = await startLegate(config({
      hcmUpgrade: false, logPath,
      routes: [
        { match: '{ connect_matcher: {}, headers: [{ name: ":authority", string_match: { prefix: "off" } }] }', cluster: 'tcp', upgrade: '[{ upgrade_type: CONNECT, enabled: false, connect_config: {} }]' },
        { match: '{ connect_matcher: {} }', cluster: 'tcp', upgrade: '[{ upgrade_type: CONNECT, connect_config: {} }]' },
      ],
      clusters: [{ name: 'tcp', port: tcp.port }],
    }), { expectListeners: ['ingress'], expectAdmin: true });
    try {
      const port = legate.ports.get('ingress')!;
      const { head, socket, rest } = await openTunnel(port, 'on.example:443');
      assert.match(head, /^HTTP\/1\.1 200 /);
      const closed = readUntilClose(socket, rest);
      socket.end('ping 3\n');
      assert.equal(await closed, 'pong 3\nbye');
      const out = await rawRequest(port, 'CONNECT off.example:443 HTTP/1.1\r\nHost: off.example:443\r\n\r\n');
      assert.match(out, /^HTTP\/1\.1 403 Forbidden\r\n/);
    } finally {
      await legate.stop();
    }
  });
});

describe('CONNECT passed on (no connect_config)', () => {
  it('is proxied as an HTTP/1.1 CONNECT to an upstream proxy, whose 200 opens the tunnel', async () => {
    const tcp = await startTcpServer();
    const seen: string[] = [];
    // An upstream forward proxy: node's 'connect' event, then it pipes to the TCP server.
    const proxy = http.createServer();
    proxy.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
      seen.push(`${req.method} ${req.url} host=${req.headers.host}`);
      const up = net.connect(tcp.port, '127.0.0.1', () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        if (head.length > 0) up.write(head);
        client.pipe(up);
        up.pipe(client);
      });
      up.on('error', () => client.destroy());
      client.on('error', () => up.destroy());
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const proxyPort = (proxy.address() as AddressInfo).port;
    const logPath = join(mkdtempSync(join(tmpdir(), 'legate-connect-')), 'access.log');
    const legate = await startLegate(config({
      hcmUpgrade: true, logPath,
      routes: [{ match: '{ connect_matcher: {} }', cluster: 'proxy' }],
      clusters: [{ name: 'proxy', port: proxyPort }],
    }), { expectListeners: ['ingress'], expectAdmin: true, args: ['--file-flush-interval-msec', '50'] });
    try {
      const { head, socket, rest } = await openTunnel(legate.ports.get('ingress')!, 'far.example:443');
      assert.match(head, /^HTTP\/1\.1 200 /);
      const closed = readUntilClose(socket, rest);
      socket.write('ping 4\n');
      socket.end();
      assert.equal(await closed, 'pong 4\nbye');
      assert.deepEqual(seen, ['CONNECT far.example:443 host=far.example:443']);
      const stats = await readStats(legate.adminPort!);
      assert.equal(stats.get('cluster.proxy.upstream_cx_http1_total'), 1);
      await eventually(() => /^CONNECT far\.example:443 200 - via_upstream /m.test(readFileSync(logPath, 'utf8')), 5000, 'log');
    } finally {
      await legate.stop();
      await new Promise<void>((r) => proxy.close(() => r()));
      await tcp.close();
    }
  });

  it('is proxied as an HTTP/2 CONNECT (:method and :authority only) to an HTTP/2 upstream', async () => {
    const seen: http2.IncomingHttpHeaders[] = [];
    const server = http2.createServer();
    server.on('stream', (stream, headers) => {
      seen.push(headers);
      stream.on('error', () => {});
      stream.respond({ ':status': 200 });
      stream.on('data', (d: Buffer) => stream.write(d.toString().replace(/ping/g, 'pong')));
      stream.on('end', () => stream.end('bye'));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const logPath = join(mkdtempSync(join(tmpdir(), 'legate-connect-')), 'access.log');
    const yaml = config({
      hcmUpgrade: true, logPath,
      routes: [{ match: '{ connect_matcher: {} }', cluster: 'h2proxy' }],
      clusters: [{ name: 'h2proxy', port: (server.address() as AddressInfo).port }],
    }).replace('  - name: h2proxy\n    type: STATIC\n', '  - name: h2proxy\n    type: STATIC\n    http2_protocol_options: {}\n');
    const legate = await startLegate(yaml, { expectListeners: ['ingress'], expectAdmin: true });
    try {
      const { head, socket, rest } = await openTunnel(legate.ports.get('ingress')!, 'far.example:443');
      assert.match(head, /^HTTP\/1\.1 200 /);
      const closed = readUntilClose(socket, rest);
      socket.write('ping 5\n');
      socket.end();
      assert.equal(await closed, 'pong 5\nbye');
      assert.equal(seen.length, 1);
      assert.equal(seen[0]![':method'], 'CONNECT');
      assert.equal(seen[0]![':authority'], 'far.example:443');
      assert.equal(seen[0]![':path'], undefined);
      assert.equal(seen[0]![':scheme'], undefined);
      assert.equal((await readStats(legate.adminPort!)).get('cluster.h2proxy.upstream_cx_http2_total'), 1);
    } finally {
      await legate.stop();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
