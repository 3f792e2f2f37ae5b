import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CaresDnsResolver,
  GetAddrInfoDnsResolver,
  dnsResolverConfigFromCluster,
  dnsResolverConfigFromTyped,
  parseHostsFile,
} from '../../src/upstream/dns_resolver.js';
import { ConfigError } from '../../src/upstream/proto_util.js';
import { TestDnsServer } from '../support/dns_server.js';
import { clusterFromYaml, typedExtensionConfigFromYaml } from './helpers.js';

describe('CaresDnsResolver against a real DNS server', () => {
  let dns: TestDnsServer;
  let resolver: CaresDnsResolver;
  let dir: string;

  before(async () => {
    dns = await TestDnsServer.start();
    dir = mkdtempSync(join(tmpdir(), 'legate-dns-'));
    const hosts = join(dir, 'hosts');
    writeFileSync(hosts, '# test hosts\n10.9.9.9 pinned.test pinned-alias\n::9 pinned.test\n127.0.0.1 localhost\n');
    resolver = new CaresDnsResolver([dns.address()], { hostsFile: hosts, tries: 1, timeoutMs: 2000 });
    dns.setRecords('v4.test', { A: ['10.0.0.1', '10.0.0.2'], ttl: 30 });
    dns.setRecords('v6.test', { AAAA: ['fd00::1'], ttl: 40 });
    dns.setRecords('both.test', { A: ['10.0.0.3'], AAAA: ['fd00::3'], ttl: 50 });
  });

  after(async () => {
    resolver.close();
    await dns.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('V4_ONLY returns every A record with its TTL', async () => {
    assert.deepEqual(await resolver.resolve('v4.test', 'v4_only'), {
      status: 'completed',
      answers: [
        { address: '10.0.0.1', ttlSeconds: 30 },
        { address: '10.0.0.2', ttlSeconds: 30 },
      ],
    });
  });

  test('V6_ONLY returns AAAA records; a name with only A is an empty completed result', async () => {
    assert.deepEqual(await resolver.resolve('v6.test', 'v6_only'), {
      status: 'completed',
      answers: [{ address: 'fd00::1', ttlSeconds: 40 }],
    });
    assert.deepEqual(await resolver.resolve('v4.test', 'v6_only'), { status: 'completed', answers: [] });
  });

  test('AUTO prefers IPv6 and falls back to IPv4', async () => {
    assert.deepEqual((await resolver.resolve('both.test', 'auto')), { status: 'completed', answers: [{ address: 'fd00::3', ttlSeconds: 50 }] });
    const before4 = dns.queryCount('v4.test', 'A');
    const before6 = dns.queryCount('v4.test', 'AAAA');
    assert.deepEqual((await resolver.resolve('v4.test', 'auto')).status, 'completed');
    assert.equal(dns.queryCount('v4.test', 'AAAA'), before6 + 1, 'asked for AAAA first');
    assert.equal(dns.queryCount('v4.test', 'A'), before4 + 1, 'then fell back to A');
  });

  test('V4_PREFERRED prefers IPv4 and falls back to IPv6', async () => {
    assert.deepEqual(await resolver.resolve('both.test', 'v4_preferred'), {
      status: 'completed',
      answers: [{ address: '10.0.0.3', ttlSeconds: 50 }],
    });
    assert.deepEqual(await resolver.resolve('v6.test', 'v4_preferred'), {
      status: 'completed',
      answers: [{ address: 'fd00::1', ttlSeconds: 40 }],
    });
  });

  test('ALL returns both families, IPv4 first', async () => {
    const r = await resolver.resolve('both.test', 'all');
    assert.deepEqual(r, {
      status: 'completed',
      answers: [
        { address: '10.0.0.3', ttlSeconds: 50 },
        { address: 'fd00::3', ttlSeconds: 50 },
      ],
    });
  });

  test('NXDOMAIN is a completed resolution with no address (Envoy semantics)', async () => {
    assert.deepEqual(await resolver.resolve('missing.test', 'v4_only'), { status: 'completed', answers: [] });
  });

  test('SERVFAIL and REFUSED are failures', async () => {
    dns.setRecords('flaky.test', { A: ['10.0.0.9'] });
    dns.fail('flaky.test', 'SERVFAIL');
    const r = await resolver.resolve('flaky.test', 'v4_only');
    assert.equal(r.status, 'failure');
    dns.fail('flaky.test', 'REFUSED');
    assert.equal((await resolver.resolve('flaky.test', 'v4_only')).status, 'failure');
    dns.fail('flaky.test', null);
    assert.equal((await resolver.resolve('flaky.test', 'v4_only')).status, 'completed');
  });

  test('IP literals never reach DNS', async () => {
    const before = dns.totalQueries();
    assert.deepEqual(await resolver.resolve('192.0.2.7', 'auto'), {
      status: 'completed',
      answers: [{ address: '192.0.2.7', ttlSeconds: 0 }],
    });
    assert.deepEqual(await resolver.resolve('::1', 'v4_only'), { status: 'completed', answers: [] });
    assert.equal(dns.totalQueries(), before);
  });

  test('the hosts file answers first, per family', async () => {
    const before = dns.totalQueries();
    assert.deepEqual(await resolver.resolve('pinned.test', 'v4_only'), {
      status: 'completed',
      answers: [{ address: '10.9.9.9', ttlSeconds: 0 }],
    });
    assert.deepEqual(await resolver.resolve('PINNED-ALIAS', 'v4_only'), {
      status: 'completed',
      answers: [{ address: '10.9.9.9', ttlSeconds: 0 }],
    });
    assert.deepEqual(await resolver.resolve('pinned.test', 'v6_only'), {
      status: 'completed',
      answers: [{ address: '::9', ttlSeconds: 0 }],
    });
    assert.equal(dns.totalQueries(), before);
  });

  test('localhost resolves without DNS: hosts file, else the loopback of the family', async () => {
    const before = dns.totalQueries();
    assert.deepEqual((await resolver.resolve('localhost', 'v4_only')), { status: 'completed', answers: [{ address: '127.0.0.1', ttlSeconds: 0 }] });
    // No IPv6 localhost in this hosts file: loopback, as c-ares does. AUTO therefore gives ::1, as in Envoy.
    assert.deepEqual((await resolver.resolve('localhost', 'auto')), { status: 'completed', answers: [{ address: '::1', ttlSeconds: 0 }] });
    assert.equal(dns.totalQueries(), before);
  });
});

describe('GetAddrInfoDnsResolver', () => {
  test('uses the system resolver (hosts file) and needs no DNS for literals', async () => {
    const r = new GetAddrInfoDnsResolver();
    assert.deepEqual(await r.resolve('localhost', 'v4_only'), { status: 'completed', answers: [{ address: '127.0.0.1', ttlSeconds: 0 }] });
    assert.deepEqual(await r.resolve('10.1.2.3', 'auto'), { status: 'completed', answers: [{ address: '10.1.2.3', ttlSeconds: 0 }] });
    r.close();
  });
});

describe('hosts file parsing', () => {
  test('comments, aliases, IPv6, junk lines', () => {
    const m = parseHostsFile('127.0.0.1 localhost loopback # comment\n::1 localhost\nnot-an-ip foo\n\n  10.0.0.1\tA.example  \n');
    assert.deepEqual(m.get('localhost'), ['127.0.0.1', '::1']);
    assert.deepEqual(m.get('loopback'), ['127.0.0.1']);
    assert.deepEqual(m.get('a.example'), ['10.0.0.1']);
    assert.equal(m.get('foo'), undefined);
  });
});

describe('resolver config', () => {
  test('typed_dns_resolver_config: c-ares with resolvers', () => {
    const c = clusterFromYaml(`
name: d
type: STRICT_DNS
typed_dns_resolver_config:
  name: envoy.network.dns_resolver.cares
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.network.dns_resolver.cares.v3.CaresDnsResolverConfig
    resolvers:
    - socket_address: { address: 127.0.0.1, port_value: 5353 }
    - socket_address: { address: "::1", port_value: 0 }
`);
    assert.deepEqual(dnsResolverConfigFromCluster(c, 'c'), {
      kind: 'cares',
      servers: ['127.0.0.1:5353', '[::1]:53'],
      useResolversAsFallback: false,
    });
  });

  test('typed_dns_resolver_config wins over dns_resolution_config and dns_resolvers', () => {
    const c = clusterFromYaml(`
name: d
type: STRICT_DNS
typed_dns_resolver_config:
  name: envoy.network.dns_resolver.getaddrinfo
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.network.dns_resolver.getaddrinfo.v3.GetAddrInfoDnsResolverConfig
dns_resolution_config:
  resolvers: [{ socket_address: { address: 10.0.0.53, port_value: 53 } }]
`);
    assert.deepEqual(dnsResolverConfigFromCluster(c, 'c'), { kind: 'getaddrinfo' });
  });

  test('dns_resolution_config and the deprecated dns_resolvers', () => {
    const a = clusterFromYaml(`
name: d
dns_resolution_config:
  resolvers: [{ socket_address: { address: 10.0.0.53, port_value: 1053 } }]
dns_resolvers: [{ socket_address: { address: 10.0.0.54, port_value: 53 } }]
`);
    assert.deepEqual(dnsResolverConfigFromCluster(a, 'c'), { kind: 'cares', servers: ['10.0.0.53:1053'] });
    const b = clusterFromYaml('{name: d, dns_resolvers: [{socket_address: {address: 10.0.0.54, port_value: 53}}]}');
    assert.deepEqual(dnsResolverConfigFromCluster(b, 'c'), { kind: 'cares', servers: ['10.0.0.54:53'] });
    assert.equal(dnsResolverConfigFromCluster(clusterFromYaml('name: d'), 'c'), undefined);
  });

  test('a resolver address must be an IP; the Apple resolver is not supported yet', () => {
    assert.throws(
      () => dnsResolverConfigFromCluster(clusterFromYaml('{name: d, dns_resolvers: [{socket_address: {address: dns.example, port_value: 53}}]}'), 'c'),
      (e: unknown) => e instanceof ConfigError && e.fieldPath === 'c.dns_resolvers[0].socket_address.address',
    );
    const apple = typedExtensionConfigFromYaml(`
name: envoy.network.dns_resolver.apple
typed_config:
  "@type": type.googleapis.com/envoy.extensions.network.dns_resolver.apple.v3.AppleDnsResolverConfig
`);
    assert.throws(() => dnsResolverConfigFromTyped(apple, 'typed_dns_resolver_config'), /not supported yet/);
  });
});
