/**
 * SDS: TLS certificates and validation contexts pushed at run time, through
 * real listeners and clusters on 127.0.0.1 with real TLS clients and
 * backends. Updates come from the in-memory subscription double (a push per
 * step, the consumer's errors back as the NACK text) and, for one end-to-end
 * case, from the real file subscription (a DiscoveryResponse file replaced by
 * atomic rename).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { testCerts, type CertFiles } from '../support/certs.js';
import { eventually, request } from '../support/http_util.js';
import { httpsRequest, tlsHandshake } from '../support/tls_util.js';
import { InMemorySubscriptionFactory } from '../support/in_memory_subscriptions.js';
import { startInProcessProxy, type InProcessProxy } from '../support/in_process_proxy.js';
import { answer } from '../integration/tls_fixtures.js';
import { ConfigUpdateFailureReason, TypeUrl } from '../../src/envoy/config/subscription.js';
import type { Secret } from '../../src/generated/envoy/extensions/transport_sockets/tls/v3/secret_pb.js';
import type { Node } from '../../src/generated/envoy/config/core/v3/base_pb.js';
import type { DownstreamTransportSocketFactory } from '../../src/envoy/network/transport_socket.js';
import { messageSchema } from '../../src/config/type_registry.js';
import { SubscriptionFactoryImpl } from '../../src/xds/subscription_factory_impl.js';
import { EnvoyGrpcAsyncClient } from '../../src/upstream/grpc/async_client_impl.js';
import { defaultAccessLogManager } from '../../src/logging/access_log_file.js';
import { closeAllDirectoryWatches } from '../../src/config/watched_directory.js';
import { setLogSink } from '../../src/common/logger.js';

const SECRET = 'envoy.extensions.transport_sockets.tls.v3.Secret';
const ADS = '{ ads: {}, resource_api_version: V3 }';

function makeSecret(init: Record<string, unknown>): Secret {
  return create(messageSchema(SECRET), init as never) as unknown as Secret;
}
const inline = (s: string) => ({ specifier: { case: 'inlineString', value: s } });
function tlsSecret(name: string, certPem: string, keyPem: string): Secret {
  return makeSecret({ name, type: { case: 'tlsCertificate', value: { certificateChain: inline(certPem), privateKey: inline(keyPem) } } });
}
function caSecret(name: string, caPem: string): Secret {
  return makeSecret({ name, type: { case: 'validationContext', value: { trustedCa: inline(caPem) } } });
}
const res = (secret: Secret, version = '1') => ({ name: secret.name, version, resource: secret });

/** A listener terminating TLS with certificates named by `sds` (YAML flow), answering `body`. */
function sdsListener(name: string, sds: string, body: string, extraContext = ''): string {
  return `  - name: ${name}
    stat_prefix: ${name}
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - transport_socket: { name: envoy.transport_sockets.tls, typed_config: { "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext, common_tls_context: { tls_certificate_sds_secret_configs: [${sds}] ${extraContext} } } }
      filters: [${answer(body)}]`;
}

function curl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('curl', ['-sS', '--max-time', '10', ...args], (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : (err as { code?: number }).code ?? 1, stdout, stderr });
    });
  });
}

/** The factory of a listener's first filter chain (the readiness hook warming will use). */
function chainFactory(proxy: InProcessProxy, listener: string): DownstreamTransportSocketFactory {
  const l = proxy.listenerManager.listeners.find((x) => x.name === listener)!;
  return l.config.filterChainManager.chains[0]!.transportSocketFactory!;
}

describe('SDS for downstream TLS contexts', () => {
  const c = testCerts();
  let first: CertFiles;
  let second: CertFiles;

  before(() => {
    first = c.issue('sds-server-1', { dns: ['proxy.test'] });
    second = c.issue('sds-server-2', { dns: ['proxy.test'] });
  });

  it('refuses handshakes until the secret is pushed, serves it after, rotates it for new handshakes while a kept-alive connection keeps working', async () => {
    const xds = new InMemorySubscriptionFactory();
    const sds = `{ name: server-cert, sds_config: ${ADS} }`;
    const proxy = await startInProcessProxy(`static_resources:\n  listeners:\n${sdsListener('one', sds, 'one')}\n${sdsListener('two', sds, 'two')}`,
      { subscriptionFactory: () => xds });
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const port = proxy.ports.get('one')!;
      // Two contexts naming the same (config source, name): one subscription, under sds.server-cert.
      const subs = xds.active(TypeUrl.Secret);
      assert.equal(subs.length, 1);
      assert.deepEqual(subs[0]!.names, ['server-cert']);
      assert.equal(subs[0]!.scope.prefix, 'sds.server-cert.');
      assert.match(subs[0]!.path, /listeners\[0\]\.filter_chains\[0\]\.transport_socket\.typed_config\.common_tls_context\.tls_certificate_sds_secret_configs\[0\]\.sds_config$/);

      const factory = chainFactory(proxy, 'one');
      assert.equal(factory.isReady?.(), false);
      const refused = await tlsHandshake(port, { servername: 'proxy.test', ca: c.ca.certPem });
      assert.equal(refused.ok, false);
      assert.equal(proxy.stat('listener.one.server_ssl_socket_factory.downstream_context_secrets_not_ready'), 1);
      const curlRefused = await curl(['--cacert', c.ca.cert, '--resolve', `proxy.test:${port}:127.0.0.1`, `https://proxy.test:${port}/`]);
      assert.notEqual(curlRefused.code, 0, 'curl cannot connect before the secret');
      assert.equal(proxy.stat('listener.one.server_ssl_socket_factory.downstream_context_secrets_not_ready'), 2);

      assert.deepEqual(xds.push(TypeUrl.Secret, [res(tlsSecret('server-cert', first.certPem, first.keyPem), '1')]), []);
      assert.equal(factory.isReady?.(), true);
      await factory.ready;
      const r1 = await curl(['--cacert', c.ca.cert, '--resolve', `proxy.test:${port}:127.0.0.1`, `https://proxy.test:${port}/`]);
      assert.equal(r1.code, 0, r1.stderr);
      assert.equal(r1.stdout, 'one');
      const kept = await httpsRequest(port, { servername: 'proxy.test', ca: c.ca.certPem, agent });
      assert.equal(kept.serverCert?.serialNumber, first.serial);
      // The other listener shares the provider and got the secret too.
      assert.equal((await tlsHandshake(proxy.ports.get('two')!, { servername: 'proxy.test', ca: c.ca.certPem })).serverCert?.serialNumber, first.serial);
      assert.equal(proxy.stat('listener.one.server_ssl_socket_factory.ssl_context_update_by_sds'), 1);

      assert.deepEqual(xds.push(TypeUrl.Secret, [res(tlsSecret('server-cert', second.certPem, second.keyPem), '2')]), []);
      assert.equal((await tlsHandshake(port, { servername: 'proxy.test', ca: c.ca.certPem })).serverCert?.serialNumber, second.serial);
      const again = await httpsRequest(port, { servername: 'proxy.test', ca: c.ca.certPem, agent });
      assert.equal(again.localPort, kept.localPort, 'the same keep-alive connection');
      assert.equal(again.status, 200);
      assert.equal(proxy.stat('listener.one.server_ssl_socket_factory.ssl_context_update_by_sds'), 2);
    } finally {
      agent.destroy();
      proxy.stop();
    }
  });

  it('rejects bad secrets naming the secret and field, keeps serving the last good one; a removed secret is kept', async () => {
    const xds = new InMemorySubscriptionFactory();
    const proxy = await startInProcessProxy(`static_resources:\n  listeners:\n${sdsListener('ingress', `{ name: server-cert, sds_config: ${ADS} }`, 'ok')}`,
      { subscriptionFactory: () => xds });
    try {
      const port = proxy.ports.get('ingress')!;
      const serial = async () => (await tlsHandshake(port, { servername: 'proxy.test', ca: c.ca.certPem })).serverCert?.serialNumber;
      assert.deepEqual(xds.push(TypeUrl.Secret, [res(tlsSecret('server-cert', first.certPem, first.keyPem))]), []);
      assert.equal(await serial(), first.serial);

      const garbage = xds.push(TypeUrl.Secret, [res(tlsSecret('server-cert', 'not a certificate', first.keyPem), '2')]);
      assert.equal(garbage.length, 1);
      assert.match(garbage[0]!.message, /^Secret 'server-cert'\.tls_certificate\.certificate_chain: Failed to load certificate chain from inline_string: no PEM certificate found/);

      const badKey = xds.push(TypeUrl.Secret, [res(tlsSecret('server-cert', second.certPem, '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n'), '3')]);
      assert.match(badKey[0]?.message ?? '', /^Secret 'server-cert'\.tls_certificate\.private_key: Failed to load private key from inline_string/);

      const mismatched = xds.push(TypeUrl.Secret, [res(tlsSecret('server-cert', second.certPem, first.keyPem), '4')]);
      assert.match(mismatched[0]?.message ?? '', /^Secret 'server-cert'\.tls_certificate\.private_key: .*does it match inline_string/);

      const wrongType = xds.push(TypeUrl.Secret, [res(caSecret('server-cert', c.ca.certPem), '5')]);
      assert.equal(wrongType[0]?.message,
        "Secret 'server-cert'.tls_certificate: is missing: the secret holds a validation_context, but it is used as a tls_certificate");

      const empty = xds.push(TypeUrl.Secret, [res(makeSecret({ name: 'server-cert' }), '6')]);
      assert.match(empty[0]?.message ?? '', /the secret holds no secret at all/);

      assert.equal(await serial(), first.serial, 'the last good certificate keeps serving');
      assert.equal(proxy.stat('listener.ingress.server_ssl_socket_factory.ssl_context_update_by_sds'), 1, 'no rejected update reached the context');

      // Envoy ignores an SDS removal (the listener still needs its certificate).
      assert.deepEqual(xds.push(TypeUrl.Secret, [], ['server-cert'], '7'), []);
      assert.equal(await serial(), first.serial);

      // The same secret again changes nothing.
      assert.deepEqual(xds.push(TypeUrl.Secret, [res(tlsSecret('server-cert', first.certPem, first.keyPem), '8')]), []);
      assert.equal(proxy.stat('listener.ingress.server_ssl_socket_factory.ssl_context_update_by_sds'), 1);
    } finally {
      proxy.stop();
    }
  });

  it('initial_fetch_timeout ends warming but the listener keeps refusing until a secret comes', async () => {
    const xds = new InMemorySubscriptionFactory();
    const proxy = await startInProcessProxy(`static_resources:\n  listeners:\n${sdsListener('ingress', `{ name: late, sds_config: ${ADS} }`, 'late')}`,
      { subscriptionFactory: () => xds });
    try {
      const port = proxy.ports.get('ingress')!;
      const factory = chainFactory(proxy, 'ingress');
      let initialized = false;
      void factory.initialized!.then(() => { initialized = true; });
      await new Promise((r) => setImmediate(r));
      assert.equal(initialized, false, 'still warming before the timeout');
      xds.fail(TypeUrl.Secret, ConfigUpdateFailureReason.FetchTimedout);
      await factory.initialized;
      assert.equal(factory.isReady?.(), false);
      assert.equal((await tlsHandshake(port, { servername: 'proxy.test' })).ok, false);
      // A connection failure alone does not end warming; a late secret makes it ready.
      assert.deepEqual(xds.push(TypeUrl.Secret, [res(tlsSecret('late', first.certPem, first.keyPem))]), []);
      await factory.ready;
      assert.equal((await tlsHandshake(port, { servername: 'proxy.test', ca: c.ca.certPem })).serverCert?.serialNumber, first.serial);
    } finally {
      proxy.stop();
    }
  });

  it('an SNI choice between a static certificate and an SDS one waits for the SDS one', async () => {
    const xds = new InMemorySubscriptionFactory();
    const other = c.issue('sds-other', { dns: ['other.test'] });
    const extra = `, tls_certificates: [{ certificate_chain: { filename: "${other.cert}" }, private_key: { filename: "${other.key}" } }]`;
    const proxy = await startInProcessProxy(`static_resources:\n  listeners:\n${sdsListener('ingress', `{ name: server-cert, sds_config: ${ADS} }`, 'sni', extra)}`,
      { subscriptionFactory: () => xds });
    try {
      const port = proxy.ports.get('ingress')!;
      assert.equal((await tlsHandshake(port, { servername: 'other.test' })).ok, false, 'the context is not ready without every secret');
      xds.push(TypeUrl.Secret, [res(tlsSecret('server-cert', first.certPem, first.keyPem))]);
      assert.equal((await tlsHandshake(port, { servername: 'other.test', ca: c.ca.certPem })).serverCert?.serialNumber, other.serial);
      assert.equal((await tlsHandshake(port, { servername: 'proxy.test', ca: c.ca.certPem })).serverCert?.serialNumber, first.serial);
    } finally {
      proxy.stop();
    }
  });

  it('a context that fails after taking an SDS provider releases it: the subscription stops', async () => {
    const xds = new InMemorySubscriptionFactory();
    const extra = ', validation_context: { trusted_ca: { filename: "/nonexistent/ca.pem" } }';
    await assert.rejects(startInProcessProxy(`static_resources:\n  listeners:\n${sdsListener('ingress', `{ name: server-cert, sds_config: ${ADS} }`, 'x', extra)}`,
      { subscriptionFactory: () => xds }), /validation_context\.trusted_ca\.filename: cannot read \/nonexistent\/ca\.pem/);
    await new Promise((r) => setImmediate(r));
    assert.equal(xds.subscriptions.length, 1, 'the provider subscribed');
    assert.equal(xds.subscriptions[0]!.stopped, true, 'and was released');
    assert.equal(xds.subscriptions[0]!.started, false);
  });

  it('sds_config without a subscription factory is a config error naming the field', async () => {
    await assert.rejects(startInProcessProxy(`static_resources:\n  listeners:\n${sdsListener('ingress', `{ name: server-cert, sds_config: ${ADS} }`, 'x')}`),
      /static_resources\.listeners\[0\]\.filter_chains\[0\]\.transport_socket\.typed_config\.common_tls_context\.tls_certificate_sds_secret_configs\[0\]\.sds_config: sds_config needs dynamic_resources/);
  });
});

describe('SDS for upstream TLS contexts', () => {
  const c = testCerts();
  let backend: https.Server;
  let backendPort = 0;
  let logDir = '';

  before(async () => {
    const cert = c.issue('sds-backend', { dns: ['backend.test'] });
    backend = https.createServer({ cert: cert.certPem, key: cert.keyPem }, (_req, res) => { res.end('from backend'); });
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
    backendPort = (backend.address() as AddressInfo).port;
    logDir = mkdtempSync(join(tmpdir(), 'legate-sds-'));
  });
  after(async () => {
    backend.closeAllConnections();
    await new Promise((r) => backend.close(r));
  });

  function config(logPath: string): string {
    const fmt = JSON.stringify('%RESPONSE_CODE% %RESPONSE_FLAGS% %UPSTREAM_TRANSPORT_FAILURE_REASON%\n');
    const route = (cluster: string, prefix: string) => `{ match: { prefix: "${prefix}" }, route: { cluster: ${cluster} } }`;
    const cluster = (name: string, common: string) => `  - name: ${name}
    connect_timeout: 2s
    load_assignment: { cluster_name: ${name}, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${backendPort} } } } }] }] }
    transport_socket: { name: envoy.transport_sockets.tls, typed_config: { "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext, sni: backend.test, common_tls_context: { ${common} } } }`;
    return `static_resources:
  listeners:
  - name: ingress
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress
          access_log: [{ name: envoy.access_loggers.file, typed_config: { "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog, path: "${logPath}", log_format: { text_format_source: { inline_string: ${fmt} } } } }]
          route_config: { virtual_hosts: [{ name: all, domains: ["*"], routes: [${route('combined', '/combined')}, ${route('backend', '/')}] }] }
          http_filters: [{ name: envoy.filters.http.router }]
  clusters:
${cluster('backend', `validation_context_sds_secret_config: { name: backend-ca, sds_config: ${ADS} }`)}
${cluster('combined', `combined_validation_context: { default_validation_context: { match_typed_subject_alt_names: [{ san_type: DNS, matcher: { exact: other.test } }] }, validation_context_sds_secret_config: { name: backend-ca, sds_config: ${ADS} } }`)}
`;
  }

  async function logLines(path: string): Promise<string[]> {
    await defaultAccessLogManager().flush();
    return readFileSync(path, 'utf8').trim().split('\n');
  }

  it('503 UF "Secret is not supplied by SDS" until the CA is pushed; trusted after; a wrong CA fails verification; a bad CA is rejected', async () => {
    const xds = new InMemorySubscriptionFactory();
    const logPath = join(logDir, 'upstream.log');
    const proxy = await startInProcessProxy(config(logPath), { subscriptionFactory: () => xds });
    try {
      const port = proxy.ports.get('ingress')!;
      assert.equal(xds.active(TypeUrl.Secret).length, 1, 'both clusters share the backend-ca provider');

      const before = await request(port, { path: '/' });
      assert.equal(before.status, 503);
      assert.match(before.body, /transport failure reason: TLS error: Secret is not supplied by SDS/);
      assert.equal(proxy.stat('cluster.backend.client_ssl_socket_factory.upstream_context_secrets_not_ready'), 1);
      assert.deepEqual(await logLines(logPath), ['503 UF TLS_error:_Secret_is_not_supplied_by_SDS']);

      // A valid secret with a CA that did not sign the backend: accepted, and the backend is not trusted.
      assert.deepEqual(xds.push(TypeUrl.Secret, [res(caSecret('backend-ca', c.otherCa.certPem), '1')]), []);
      const untrusted = await request(port, { path: '/' });
      assert.equal(untrusted.status, 503);
      assert.match(untrusted.body, /CERTIFICATE_VERIFY_FAILED/);
      assert.equal(proxy.stat('cluster.backend.ssl.fail_verify_error'), 1);

      assert.deepEqual(xds.push(TypeUrl.Secret, [res(caSecret('backend-ca', c.ca.certPem), '2')]), []);
      const trusted = await request(port, { path: '/' });
      assert.equal(trusted.status, 200);
      assert.equal(trusted.body, 'from backend');
      assert.equal(proxy.stat('cluster.backend.client_ssl_socket_factory.ssl_context_update_by_sds'), 2);

      // combined_validation_context: the pushed CA merged under the default's SAN matcher (other.test), which the backend fails.
      const combined = await request(port, { path: '/combined' });
      assert.equal(combined.status, 503);
      assert.match(combined.body, /verify SAN list/);

      const bad = xds.push(TypeUrl.Secret, [res(caSecret('backend-ca', 'garbage'), '3')]);
      assert.equal(bad.length, 1, 'one provider, one NACK');
      assert.match(bad[0]!.message, /^Secret 'backend-ca'\.validation_context\.trusted_ca: Failed to load trusted CA certificates from inline_string/);
      const wrongType = xds.push(TypeUrl.Secret, [res(tlsSecret('backend-ca', c.ca.certPem, c.ca.keyPem), '4')]);
      assert.match(wrongType[0]?.message ?? '', /^Secret 'backend-ca'\.validation_context: is missing: the secret holds a tls_certificate/);
      assert.equal((await request(port, { path: '/' })).status, 200, 'the last good CA keeps serving');

      const lines = await logLines(logPath);
      assert.match(lines[1]!, /^503 UF TLS_error:\|\d+:SSL_routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED/);
      assert.equal(lines[2], '200 - -');
    } finally {
      proxy.stop();
    }
  });
});

describe('SDS through the file subscription', () => {
  const c = testCerts();
  after(() => closeAllDirectoryWatches());

  it('path_config_source: served at start, rotated by atomic rename, a bad file rejected (sds.<name>.update_rejected) with the last good kept', async () => {
    const first = c.issue('sds-file-1', { dns: ['proxy.test'] });
    const second = c.issue('sds-file-2', { dns: ['proxy.test'] });
    const dir = mkdtempSync(join(tmpdir(), 'legate-sds-file-'));
    const file = join(dir, 'sds.yaml');
    const write = (version: string, certPem: string, keyPem: string): void => {
      const tmp = join(dir, `.tmp-${version}`);
      writeFileSync(tmp, `version_info: "${version}"
resources:
- "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret
  name: server-cert
  tls_certificate:
    certificate_chain: { inline_string: ${JSON.stringify(certPem)} }
    private_key: { inline_string: ${JSON.stringify(keyPem)} }
`);
      renameSync(tmp, file);
    };
    write('1', first.certPem, first.keyPem);
    const logs: string[] = [];
    setLogSink((line) => logs.push(line));
    let factory: SubscriptionFactoryImpl | null = null;
    const sds = `{ name: server-cert, sds_config: { path_config_source: { path: "${file}" }, resource_api_version: V3 } }`;
    const proxy = await startInProcessProxy(`static_resources:\n  listeners:\n${sdsListener('ingress', sds, 'file')}`, {
      subscriptionFactory: ({ clusterManager, scope, configDir }) => {
        factory = new SubscriptionFactoryImpl({ grpcClientFor: (name) => new EnvoyGrpcAsyncClient(clusterManager, name), staticClusterNames: new Set(), scope, configDir, node: create(messageSchema('envoy.config.core.v3.Node'), { id: 'sds-test' } as never) as unknown as Node });
        return factory;
      },
    });
    try {
      const port = proxy.ports.get('ingress')!;
      const serial = async () => (await tlsHandshake(port, { servername: 'proxy.test', ca: c.ca.certPem })).serverCert?.serialNumber;
      await chainFactory(proxy, 'ingress').ready;
      assert.equal(await serial(), first.serial);
      assert.equal(proxy.stat('sds.server-cert.update_success'), 1);

      write('2', second.certPem, second.keyPem);
      await eventually(async () => await serial() === second.serial, 5000, 'the rotated certificate');

      write('3', 'garbage', second.keyPem);
      await eventually(() => proxy.stat('sds.server-cert.update_rejected') === 1, 5000, 'update_rejected');
      assert.equal(await serial(), second.serial, 'the last good certificate keeps serving');
      assert.ok(logs.some((l) => l.includes("Secret 'server-cert'.tls_certificate.certificate_chain")), `a log line names the secret and field:\n${logs.join('')}`);
      assert.equal(proxy.stat('sds.server-cert.update_success'), 2);
    } finally {
      setLogSink((line) => process.stderr.write(line));
      (factory as SubscriptionFactoryImpl | null)?.stop();
      proxy.stop();
    }
  });

  it('a secret naming files is re-read when they are replaced in its watched_directory; files that do not load count key_rotation_failed', async () => {
    const first = c.issue('sds-watch-1', { dns: ['proxy.test'] });
    const second = c.issue('sds-watch-2', { dns: ['proxy.test'] });
    const dir = mkdtempSync(join(tmpdir(), 'legate-sds-watch-'));
    const put = (name: string, text: string): void => { writeFileSync(join(dir, `.${name}.tmp`), text); renameSync(join(dir, `.${name}.tmp`), join(dir, name)); };
    put('tls.crt', first.certPem);
    put('tls.key', first.keyPem);
    const xds = new InMemorySubscriptionFactory();
    const proxy = await startInProcessProxy(`static_resources:\n  listeners:\n${sdsListener('ingress', `{ name: files, sds_config: ${ADS} }`, 'files')}`,
      { subscriptionFactory: () => xds });
    try {
      const port = proxy.ports.get('ingress')!;
      const serial = async () => (await tlsHandshake(port, { servername: 'proxy.test', ca: c.ca.certPem })).serverCert?.serialNumber;
      const secret = makeSecret({ name: 'files', type: { case: 'tlsCertificate', value: {
        certificateChain: { specifier: { case: 'filename', value: join(dir, 'tls.crt') } },
        privateKey: { specifier: { case: 'filename', value: join(dir, 'tls.key') } },
        watchedDirectory: { path: dir },
      } } });
      assert.deepEqual(xds.push(TypeUrl.Secret, [res(secret)]), []);
      assert.equal(await serial(), first.serial);

      put('tls.key', 'not a key');
      await eventually(() => proxy.stat('sds.files.key_rotation_failed') === 1, 5000, 'key_rotation_failed');
      assert.equal(await serial(), first.serial, 'files that do not load keep the previous certificate');

      put('tls.crt', second.certPem);
      put('tls.key', second.keyPem);
      await eventually(async () => await serial() === second.serial, 5000, 'the rotated certificate');
    } finally {
      proxy.stop();
    }
  });
});
