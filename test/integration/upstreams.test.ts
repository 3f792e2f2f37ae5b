/**
 * Clusters through the proxy: round robin over several hosts, STRICT_DNS with
 * several A records from a DNS server the test runs, an IPv6 listener, a
 * custom server_name, and tcp_proxy with its access log.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestDnsServer } from '../support/dns_server.js';
import { startLegate } from '../support/legate_process.js';
import { eventually, request, startUpstream, type TestServer } from '../support/http_util.js';

describe('clusters, listeners and tcp_proxy', () => {
  const upstreams: TestServer[] = [];
  let dns: TestDnsServer;

  before(async () => {
    for (let i = 0; i < 3; i++) upstreams.push(await startUpstream((_q, res) => res.end(`u${i}`)));
    dns = await TestDnsServer.start();
  });
  after(async () => {
    for (const u of upstreams) await u.close();
    await dns.close();
  });

  it('ROUND_ROBIN spreads requests evenly over STATIC hosts', async () => {
    const eps = upstreams.map((u) => `{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${u.port} } } } }`).join(', ');
    const yaml = `
static_resources:
  listeners:
  - name: ingress
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: rr
          server_name: legate-test-server
          route_config: { virtual_hosts: [{ name: a, domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: three } }] }] }
          http_filters: [{ name: envoy.filters.http.router }]
  clusters:
  - name: three
    lb_policy: ROUND_ROBIN
    load_assignment: { cluster_name: three, endpoints: [{ lb_endpoints: [${eps}] }] }
`;
    const legate = await startLegate(yaml, { expectListeners: ['ingress'] });
    try {
      const counts = new Map<string, number>();
      let server = '';
      for (let i = 0; i < 30; i++) {
        const r = await request(legate.ports.get('ingress')!, { path: '/' });
        counts.set(r.body, (counts.get(r.body) ?? 0) + 1);
        server = String(r.headers.server);
      }
      assert.deepEqual([...counts.values()], [10, 10, 10]);
      assert.equal(server, 'legate-test-server');
    } finally {
      await legate.stop();
    }
  });

  it('STRICT_DNS turns every A record into a host (DNS server on 127.0.0.1)', async () => {
    // Three loopback addresses, one port: three hosts; each upstream listens on 127.0.0.1 only,
    // so use one upstream bound to all of 127.0.0.0/8 via 0.0.0.0 is not allowed — instead check membership.
    dns.setRecords('backends.test', { A: ['127.0.0.1', '127.0.0.2', '127.0.0.3'], ttl: 30 });
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
          stat_prefix: dns
          route_config: { virtual_hosts: [{ name: a, domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: by_dns } }] }] }
          http_filters: [{ name: envoy.filters.http.router }]
  clusters:
  - name: by_dns
    type: STRICT_DNS
    dns_lookup_family: V4_ONLY
    dns_resolution_config: { resolvers: [{ socket_address: { address: 127.0.0.1, port_value: ${dns.port} } }] }
    load_assignment: { cluster_name: by_dns, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: backends.test, port_value: ${upstreams[0]!.port} } } } }] }] }
`;
    const legate = await startLegate(yaml, { expectListeners: ['ingress'], expectAdmin: true });
    try {
      const clusters = (await request(legate.adminPort!, { path: '/clusters' })).body;
      for (const ip of ['127.0.0.1', '127.0.0.2', '127.0.0.3']) {
        assert.match(clusters, new RegExp(`by_dns::${ip.replace(/\./g, '\\.')}:${upstreams[0]!.port}::health_flags::healthy`));
      }
      // 127.0.0.1 answers; the others refuse (the upstream binds 127.0.0.1 only), so some requests see 503 UF.
      const statuses = new Set<number>();
      for (let i = 0; i < 9; i++) statuses.add((await request(legate.ports.get('ingress')!, { path: '/' })).status);
      assert.ok(statuses.has(200));
    } finally {
      await legate.stop();
    }
  });

  it('an IPv6 listener on [::1] proxies', async () => {
    const yaml = `
static_resources:
  listeners:
  - name: v6
    address: { socket_address: { address: "::1", port_value: 0 } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: v6
          route_config: { virtual_hosts: [{ name: a, domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: one } }] }] }
          http_filters: [{ name: envoy.filters.http.router }]
  clusters:
  - name: one
    load_assignment: { cluster_name: one, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${upstreams[1]!.port} } } } }] }] }
`;
    const legate = await startLegate(yaml, { expectListeners: ['v6'] });
    try {
      assert.match(legate.output(), /listener 'v6' listening on \[::1\]:\d+/);
      const r = await request(legate.ports.get('v6')!, { host: '::1', path: '/' });
      assert.equal(r.body, 'u1');
    } finally {
      await legate.stop();
    }
  });

  it('tcp_proxy relays bytes both ways and writes its access log', async () => {
    const echo = net.createServer((s) => s.on('data', (d) => s.write(d.toString().toUpperCase())));
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    const echoPort = (echo.address() as net.AddressInfo).port;
    const logPath = join(mkdtempSync(join(tmpdir(), 'legate-log-')), 'tcp.log');
    const yaml = `
static_resources:
  listeners:
  - name: tcp
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
          stat_prefix: echo
          cluster: echo
          access_log:
          - name: envoy.access_loggers.file
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: ${logPath}
              log_format: { text_format_source: { inline_string: "%UPSTREAM_CLUSTER% %BYTES_RECEIVED% %BYTES_SENT% %UPSTREAM_HOST%\\n" } }
  clusters:
  - name: echo
    load_assignment: { cluster_name: echo, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${echoPort} } } } }] }] }
`;
    const legate = await startLegate(yaml, { expectListeners: ['tcp'], args: ['--file-flush-interval-msec', '50'] });
    try {
      const got = await new Promise<string>((resolve, reject) => {
        const s = net.connect(legate.ports.get('tcp')!, '127.0.0.1', () => s.write('hello tcp'));
        s.on('data', (d) => { if (d.toString() === 'HELLO TCP') { s.end(); resolve(d.toString()); } });
        s.on('error', reject);
      });
      assert.equal(got, 'HELLO TCP');
      await eventually(() => {
        try { return readFileSync(logPath, 'utf8').includes(`echo 9 9 127.0.0.1:${echoPort}`); } catch { return false; }
      }, 5000, 'tcp access log line');
    } finally {
      await legate.stop();
      await new Promise<void>((r) => echo.close(() => r()));
    }
  });
});
