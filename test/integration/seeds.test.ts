/**
 * Every seed config that describes a runnable proxy, loaded as written (only
 * port numbers changed) and driven with real traffic. Upstream host names
 * (`service1`, `simple`, `httpbin`) are answered by a DNS server the test runs
 * on 127.0.0.1, named through --config-yaml and the bootstrap's
 * typed_dns_resolver_config.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { TestDnsServer } from '../support/dns_server.js';
import { REPO_ROOT, startLegate } from '../support/legate_process.js';
import { request, startUpstream, type TestServer } from '../support/http_util.js';

const SEEDS = join(REPO_ROOT, 'test/integration/seeds');
void dirname; void fileURLToPath;

function seed(name: string): string {
  return readFileSync(join(SEEDS, name), 'utf8');
}

/** --config-yaml pointing every DNS lookup at the test's resolver. */
function dnsOverride(dns: TestDnsServer): string {
  const port = dns.port;
  return JSON.stringify({
    typed_dns_resolver_config: {
      name: 'envoy.network.dns_resolver.cares',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.network.dns_resolver.cares.v3.CaresDnsResolverConfig',
        resolvers: [{ socket_address: { address: '127.0.0.1', port_value: port } }],
      },
    },
  });
}

describe('seed configs', () => {
  let dns: TestDnsServer;
  let upstream: TestServer;

  before(async () => {
    dns = await TestDnsServer.start();
    for (const n of ['simple', 'httpbin', 'service1', 'service2']) dns.setRecords(n, { A: ['127.0.0.1'], ttl: 30 });
    upstream = await startUpstream((req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ url: req.url, host: req.headers.host }));
    });
  });
  after(async () => {
    await upstream?.close();
    await dns?.close();
  });

  it('seed 001 (LOGICAL_DNS front proxy, v3): proxies to `simple`', async () => {
    const yaml = seed('seed001_envoy.yaml')
      .replace('port_value: 9901', 'port_value: 0')
      .replace('port_value: 10000', 'port_value: 0')
      .replace('port_value: 80', `port_value: ${upstream.port}`);
    const legate = await startLegate(yaml, { expectListeners: ['listener_0'], expectAdmin: true, args: ['--config-yaml', dnsOverride(dns)] });
    try {
      const r = await request(legate.ports.get('listener_0')!, { path: '/from-seed-001' });
      assert.equal(r.status, 200);
      assert.equal(JSON.parse(r.body).url, '/from-seed-001');
    } finally {
      await legate.stop();
    }
  });

  it('seed 004 (v2 forms: config:, envoy.router, hosts:) proxies to `httpbin` with auto_host_rewrite', async () => {
    const yaml = seed('seed004_httpbin.yaml')
      .replace('port_value: 15001', 'port_value: 0')
      .replace('port_value: 8000', `port_value: ${upstream.port}`);
    const legate = await startLegate(yaml, { expectListeners: ['httpbin-demo'], args: ['--config-yaml', dnsOverride(dns)] });
    try {
      assert.match(legate.output(), /config:.*typed_config/, 'the v2 form is warned about');
      const r = await request(legate.ports.get('httpbin-demo')!, { path: '/get' });
      assert.equal(r.status, 200);
      const seen = JSON.parse(r.body);
      assert.equal(seen.url, '/get');
      assert.equal(seen.host, 'httpbin', 'auto_host_rewrite puts the DNS name in Host');
    } finally {
      await legate.stop();
    }
  });

  it('seed 000 (front proxy fragments under static_resources, HTTP/2 upstreams via STRICT_DNS)', async () => {
    // The seed's clusters set http2_protocol_options: its services speak h2c.
    const seen: string[] = [];
    const h2 = http2.createServer((req, res) => {
      seen.push(String(req.url));
      res.end(`h2 ${req.url}`);
    });
    await new Promise<void>((r) => h2.listen(0, '127.0.0.1', r));
    const h2port = (h2.address() as AddressInfo).port;
    const listeners = seed('seed000_listeners.yaml').replace('port_value: 80', 'port_value: 0');
    const clusters = seed('seed000_clusters.yaml').replace(/port_value: 80/g, `port_value: ${h2port}`)
      .split('\n').map((l) => (l === '' ? l : ` ${l}`)).join('\n');
    const yaml = `static_resources:\n${listeners}${clusters}`;
    const legate = await startLegate(yaml, { expectListeners: ['0.0.0.0_0'], args: ['--config-yaml', dnsOverride(dns)] });
    try {
      const port = legate.ports.get('0.0.0.0_0')!;
      const a = await request(port, { path: '/service/1' });
      const b = await request(port, { path: '/service/2/x' });
      assert.equal(a.status, 200);
      assert.equal(a.body, 'h2 /service/1');
      assert.equal(b.body, 'h2 /service/2/x');
      const nr = await request(port, { path: '/service/3' });
      assert.equal(nr.status, 404);
    } finally {
      await legate.stop();
      await new Promise<void>((r) => h2.close(() => r()));
    }
  });
});
