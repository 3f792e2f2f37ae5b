/**
 * TLS termination on listeners through the real CLI: curl and node clients,
 * chain choice by SNI / ALPN / transport protocol (tls_inspector), several
 * certificates by SNI, tls_params, mTLS with SAN checks, XFCC, access-log TLS
 * operators, TLS passthrough, static SDS secrets, certificate rotation from a
 * watched directory, and bad certificates as start-up errors.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import http2 from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net, { type AddressInfo } from 'node:net';
import { testCerts, type CertFiles } from '../support/certs.js';
import { runLegate, startLegate, writeTempConfig, type LegateProcess } from '../support/legate_process.js';
import { eventually, rawRequest, readStats, request, startUpstream, type TestServer } from '../support/http_util.js';
import { httpsRequest, tlsHandshake } from '../support/tls_util.js';
import { ADMIN, answer, downstreamTls, hcm, staticCluster } from './tls_fixtures.js';

const SPIFFE_CLIENT = 'spiffe://legate.test/ns/default/sa/client';
const SPIFFE_SERVER = 'spiffe://legate.test/ns/default/sa/proxy';

function curl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('curl', ['-sS', '--max-time', '10', ...args], (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : (err as { code?: number }).code ?? 1, stdout, stderr });
    });
  });
}

function listenerYaml(body: string, clusters = ''): string {
  return `${ADMIN}\nstatic_resources:\n  listeners:\n${body}\n  clusters:\n${clusters}`;
}

describe('TLS termination', () => {
  const c = testCerts();
  let server: CertFiles;
  let upstream: TestServer;

  before(async () => {
    server = c.issue('proxy', { dns: ['proxy.test', 'exact.example.com'], uri: [SPIFFE_SERVER], ip: ['127.0.0.1'] });
    upstream = await startUpstream();
  });
  after(async () => { await upstream.close(); });

  it('terminates TLS for curl --cacert; upstream sees x-forwarded-proto https; access log has the TLS operators', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'legate-tls-'));
    const logPath = join(dir, 'access.log');
    const fmt = '%DOWNSTREAM_TLS_VERSION% %DOWNSTREAM_TLS_CIPHER% %REQUESTED_SERVER_NAME% %DOWNSTREAM_LOCAL_URI_SAN% %DOWNSTREAM_PEER_URI_SAN%\n';
    const yaml = listenerYaml(`  - name: ingress
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - transport_socket: ${downstreamTls([server])}
      filters: [${hcm({ accessLogPath: logPath, format: fmt })}]`, staticCluster('backend', upstream.port));
    const legate = await startLegate(yaml, { expectListeners: ['ingress'], expectAdmin: true, args: ['--file-flush-interval-msec', '50'] });
    try {
      const port = legate.ports.get('ingress')!;
      const r = await curl(['--cacert', c.ca.cert, '--resolve', `proxy.test:${port}:127.0.0.1`, `https://proxy.test:${port}/hello`]);
      assert.equal(r.code, 0, r.stderr);
      const echoed = JSON.parse(r.stdout) as { url: string; headers: Record<string, string> };
      assert.equal(echoed.url, '/hello');
      assert.equal(echoed.headers['x-forwarded-proto'], 'https');
      // A client that does not trust the CA refuses the proxy's certificate.
      const untrusting = await curl(['--cacert', c.otherCa.cert, '--resolve', `proxy.test:${port}:127.0.0.1`, `https://proxy.test:${port}/`]);
      assert.notEqual(untrusting.code, 0);
      await eventually(() => { try { return readFileSync(logPath, 'utf8').length > 0; } catch { return false; } }, 5000, 'access log');
      const line = readFileSync(logPath, 'utf8').split('\n')[0]!;
      assert.match(line, new RegExp(`^TLSv1\\.3 TLS_[A-Z0-9_]+ proxy\\.test ${SPIFFE_SERVER.replace(/\./g, '\\.')} -$`));
      const stats = await readStats(legate.adminPort!);
      assert.ok((stats.get('listener.127.0.0.1_0.ssl.handshake') ?? stats.get(`listener.127.0.0.1_${port}.ssl.handshake`) ?? 0) >= 1, 'ssl.handshake counted');
    } finally {
      await legate.stop();
    }
  });

  it('negotiates ALPN http/1.1 and h2 on one listener', async () => {
    const yaml = listenerYaml(`  - name: ingress
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - transport_socket: ${downstreamTls([server], { common: 'alpn_protocols: [h2, http/1.1]' })}
      filters: [${hcm()}]`, staticCluster('backend', upstream.port));
    const legate = await startLegate(yaml, { expectListeners: ['ingress'] });
    try {
      const port = legate.ports.get('ingress')!;
      const r = await httpsRequest(port, { servername: 'proxy.test', ca: c.ca.certPem, ALPNProtocols: ['http/1.1'] });
      assert.equal(r.status, 200);
      assert.equal(r.alpn, 'http/1.1');
      const h = await tlsHandshake(port, { servername: 'proxy.test', ca: c.ca.certPem, ALPNProtocols: ['h2', 'http/1.1'] }, null);
      assert.equal(h.alpn, 'h2', 'the listener prefers h2 when the client offers it');
    } finally {
      await legate.stop();
    }
  });

  it('serves HTTP/2 over TLS (ALPN h2) to node http2 and curl --http2, HTTP/1.1 to curl --http1.1', async () => {
    const yaml = listenerYaml(`  - name: ingress
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - transport_socket: ${downstreamTls([server], { common: 'alpn_protocols: [h2, http/1.1]' })}
      filters: [${hcm()}]`, staticCluster('backend', upstream.port));
    const legate = await startLegate(yaml, { expectListeners: ['ingress'] });
    try {
      const port = legate.ports.get('ingress')!;
      const session = http2.connect(`https://proxy.test:${port}`, { ca: c.ca.certPem, host: '127.0.0.1', servername: 'proxy.test' } as http2.SecureClientSessionOptions);
      try {
        const status = await new Promise<number>((resolve, reject) => {
          session.on('error', reject);
          const req = session.request({ ':path': '/h2' });
          req.on('response', (h) => resolve(Number(h[':status'])));
          req.on('error', reject);
          req.end();
          setTimeout(() => reject(new Error('no HTTP/2 response')), 3000).unref();
        });
        assert.equal(status, 200);
      } finally {
        session.destroy();
      }
      const resolve = ['--cacert', c.ca.cert, '--resolve', `proxy.test:${port}:127.0.0.1`, '-o', '/dev/null', '-w', '%{http_version} %{http_code}'];
      assert.equal((await curl([...resolve, '--http2', `https://proxy.test:${port}/curl-h2`])).stdout, '2 200');
      assert.equal((await curl([...resolve, '--http1.1', `https://proxy.test:${port}/curl-h1`])).stdout, '1.1 200');
    } finally {
      await legate.stop();
    }
  });

  it('tls_inspector chooses chains by SNI (exact, wildcard), ALPN and transport protocol; unknown SNI is closed', async () => {
    const yaml = listenerYaml(`  - name: ingress
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    listener_filters: [{ name: envoy.filters.listener.tls_inspector }]
    filter_chains:
    - filter_chain_match: { server_names: [exact.example.com] }
      transport_socket: ${downstreamTls([server])}
      filters: [${answer('exact')}]
    - filter_chain_match: { server_names: ["*.example.com"] }
      transport_socket: ${downstreamTls([server])}
      filters: [${answer('wildcard')}]
    - filter_chain_match: { server_names: [alpn.test], application_protocols: [h2] }
      transport_socket: ${downstreamTls([server], { common: 'alpn_protocols: [http/1.1]' })}
      filters: [${answer('alpn-h2')}]
    - filter_chain_match: { server_names: [alpn.test] }
      transport_socket: ${downstreamTls([server])}
      filters: [${answer('alpn-none')}]
    - filter_chain_match: { transport_protocol: raw_buffer }
      filters: [${answer('plaintext')}]`);
    const legate = await startLegate(yaml, { expectListeners: ['ingress'], expectAdmin: true });
    try {
      const port = legate.ports.get('ingress')!;
      const get = async (servername: string, alpn?: string[]): Promise<string> =>
        (await httpsRequest(port, { servername, ca: c.ca.certPem, ALPNProtocols: alpn })).body;
      assert.equal(await get('exact.example.com'), 'exact');
      assert.equal(await get('other.example.com'), 'wildcard');
      assert.equal(await get('alpn.test', ['h2', 'http/1.1']), 'alpn-h2');
      assert.equal(await get('alpn.test'), 'alpn-none');
      assert.equal((await request(port)).body, 'plaintext');
      const unknown = await tlsHandshake(port, { servername: 'nobody.org', ca: c.ca.certPem });
      assert.equal(unknown.ok, false);
      const stats = await readStats(legate.adminPort!);
      assert.equal(stats.get(`listener.127.0.0.1_0.no_filter_chain_match`), 1);
      assert.equal(stats.get('tls_inspector.sni_found'), 5);
      assert.equal(stats.get('tls_inspector.tls_not_found'), 1);
    } finally {
      await legate.stop();
    }
  });

  it('picks the certificate by SNI among several (exact, wildcard, else the first)', async () => {
    const a = c.issue('cert-a', { dns: ['a.test'] });
    const b = c.issue('cert-b', { dns: ['*.b.test'] });
    const yaml = listenerYaml(`  - name: ingress
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - transport_socket: ${downstreamTls([a, b])}
      filters: [${answer('ok')}]`);
    const legate = await startLegate(yaml, { expectListeners: ['ingress'] });
    try {
      const port = legate.ports.get('ingress')!;
      const serial = async (servername?: string): Promise<string | undefined> => (await tlsHandshake(port, { servername, ca: c.ca.certPem })).serverCert?.serialNumber;
      assert.equal(await serial('x.b.test'), b.serial);
      assert.equal(await serial('a.test'), a.serial);
      assert.equal(await serial('unknown.test'), a.serial);
      assert.equal(await serial(undefined), a.serial);
    } finally {
      await legate.stop();
    }
  });

  it('tls_params: a TLSv1.3-only listener refuses a client capped at TLSv1.2', async () => {
    const yaml = listenerYaml(`  - name: ingress
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - transport_socket: ${downstreamTls([server], { common: 'tls_params: { tls_minimum_protocol_version: TLSv1_3 }' })}
      filters: [${answer('ok')}]
  - name: tls12
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - transport_socket: ${downstreamTls([server], { common: 'tls_params: { tls_maximum_protocol_version: TLSv1_2, cipher_suites: [ECDHE-ECDSA-AES256-GCM-SHA384] }' })}
      filters: [${answer('ok12')}]`);
    const legate = await startLegate(yaml, { expectListeners: ['ingress', 'tls12'] });
    try {
      const port = legate.ports.get('ingress')!;
      const refused = await tlsHandshake(port, { servername: 'proxy.test', ca: c.ca.certPem, maxVersion: 'TLSv1.2' });
      assert.equal(refused.ok, false);
      assert.match(refused.error, /VERSION|PROTOCOL|ALERT/);
      const ok = await tlsHandshake(port, { servername: 'proxy.test', ca: c.ca.certPem });
      assert.equal(ok.ok, true);
      assert.equal(ok.tlsVersion, 'TLSv1.3');
      const r12 = await httpsRequest(legate.ports.get('tls12')!, { servername: 'proxy.test', ca: c.ca.certPem });
      assert.equal(r12.tlsVersion, 'TLSv1.2');
      assert.equal(r12.body, 'ok12');
    } finally {
      await legate.stop();
    }
  });

  describe('mutual TLS', () => {
    let legate: LegateProcess;
    let logPath: string;
    let client: CertFiles;
    before(async () => {
      client = c.issue('client', { uri: [SPIFFE_CLIENT], dns: ['client.test'], usage: 'client', subjectExtra: '/O=Legate' });
      const dir = mkdtempSync(join(tmpdir(), 'legate-mtls-'));
      logPath = join(dir, 'access.log');
      const fmt = '%DOWNSTREAM_PEER_URI_SAN%|%DOWNSTREAM_PEER_SUBJECT%|%DOWNSTREAM_PEER_FINGERPRINT_256%|%DOWNSTREAM_PEER_CERT%\n';
      const mtls = downstreamTls([server], {
        context: 'require_client_certificate: true,',
        common: `validation_context: { trusted_ca: { filename: "${c.ca.cert}" }, match_typed_subject_alt_names: [{ san_type: URI, matcher: { exact: "${SPIFFE_CLIENT}" } }] }`,
      });
      const yaml = listenerYaml(`  - name: set
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - transport_socket: ${mtls}
      filters: [${hcm({ accessLogPath: logPath, format: fmt, extra: 'forward_client_cert_details: SANITIZE_SET, set_current_client_cert_details: { subject: true, dns: true, uri: true },' })}]
  - name: append
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - transport_socket: ${mtls}
      filters: [${hcm({ statPrefix: 'append', extra: 'forward_client_cert_details: APPEND_FORWARD, set_current_client_cert_details: { uri: true },' })}]
  - name: sanitize
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - transport_socket: ${mtls}
      filters: [${hcm({ statPrefix: 'sanitize' })}]`, staticCluster('backend', upstream.port));
      legate = await startLegate(yaml, { expectListeners: ['set', 'append', 'sanitize'], expectAdmin: true, args: ['--file-flush-interval-msec', '50'] });
    });
    after(async () => { await legate.stop(); });

    const sslStat = async (name: string): Promise<number> => {
      const stats = await readStats(legate.adminPort!);
      return stats.get(`listener.127.0.0.1_0.ssl.${name}`) ?? 0;
    };

    it('a client without a certificate fails the handshake (ssl.fail_verify_no_cert)', async () => {
      const before = await sslStat('fail_verify_no_cert');
      const r = await tlsHandshake(legate.ports.get('set')!, { servername: 'proxy.test', ca: c.ca.certPem });
      assert.equal(r.ok, false);
      await eventually(async () => (await sslStat('fail_verify_no_cert')) === before + 1, 3000, 'fail_verify_no_cert');
    });

    it('a certificate with the wrong SAN is closed (ssl.fail_verify_san); one from another CA too (ssl.fail_verify_error)', async () => {
      const wrongSan = c.issue('client-wrong-san', { uri: ['spiffe://legate.test/ns/default/sa/intruder'], usage: 'client' });
      const otherCa = c.issue('client-other-ca', { uri: [SPIFFE_CLIENT], usage: 'client', ca: 'other' });
      const port = legate.ports.get('set')!;
      const san0 = await sslStat('fail_verify_san');
      const err0 = await sslStat('fail_verify_error');
      const r1 = await tlsHandshake(port, { servername: 'proxy.test', ca: c.ca.certPem, client: wrongSan });
      assert.equal(r1.ok, false);
      await eventually(async () => (await sslStat('fail_verify_san')) === san0 + 1, 3000, 'fail_verify_san');
      const r2 = await tlsHandshake(port, { servername: 'proxy.test', ca: c.ca.certPem, client: otherCa });
      assert.equal(r2.ok, false);
      await eventually(async () => (await sslStat('fail_verify_error')) === err0 + 1, 3000, 'fail_verify_error');
    });

    it('the right certificate passes: peer SAN in the access log, XFCC set upstream in Envoy\'s format', async () => {
      const r = await httpsRequest(legate.ports.get('set')!, {
        servername: 'proxy.test', ca: c.ca.certPem, client, path: '/mtls', headers: { 'x-forwarded-client-cert': 'By=spoofed' },
      });
      assert.equal(r.status, 200);
      const seen = JSON.parse(r.body) as { headers: Record<string, string> };
      assert.equal(seen.headers['x-forwarded-client-cert'],
        `By=${SPIFFE_SERVER};Hash=${client.sha256};Subject="O=Legate,CN=client";URI=${SPIFFE_CLIENT};DNS=client.test`.replace(
          `URI=${SPIFFE_CLIENT};DNS=client.test`, `DNS=client.test;URI=${SPIFFE_CLIENT}`));
      await eventually(() => { try { return readFileSync(logPath, 'utf8').includes('\n'); } catch { return false; } }, 5000, 'access log');
      const [uri, subject, fp, pem] = readFileSync(logPath, 'utf8').trim().split('\n').pop()!.split('|');
      assert.equal(uri, SPIFFE_CLIENT);
      assert.equal(subject, 'O=Legate,CN=client');
      assert.equal(fp, client.sha256);
      assert.equal(decodeURIComponent(pem!), client.certPem);
    });

    it('APPEND_FORWARD appends this hop; SANITIZE (default) removes a client-sent XFCC', async () => {
      const appended = await httpsRequest(legate.ports.get('append')!, {
        servername: 'proxy.test', ca: c.ca.certPem, client, headers: { 'x-forwarded-client-cert': 'By=spiffe://upstream;URI=spiffe://first' },
      });
      assert.equal((JSON.parse(appended.body) as { headers: Record<string, string> }).headers['x-forwarded-client-cert'],
        `By=spiffe://upstream;URI=spiffe://first,By=${SPIFFE_SERVER};Hash=${client.sha256};URI=${SPIFFE_CLIENT}`);
      const sanitized = await httpsRequest(legate.ports.get('sanitize')!, {
        servername: 'proxy.test', ca: c.ca.certPem, client, headers: { 'x-forwarded-client-cert': 'By=spoofed' },
      });
      assert.equal((JSON.parse(sanitized.body) as { headers: Record<string, string> }).headers['x-forwarded-client-cert'], undefined);
    });
  });

  it('passes TLS through by SNI to a TLS backend (tcp_proxy, no transport_socket): the client sees the backend certificate', async () => {
    const backendCert = c.issue('passthrough-backend', { dns: ['pass.test'] });
    const backend = https.createServer({ cert: backendCert.certPem, key: backendCert.keyPem }, (_req, res) => res.end('from-backend'));
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
    const yaml = listenerYaml(`  - name: ingress
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    listener_filters: [{ name: envoy.filters.listener.tls_inspector }]
    filter_chains:
    - filter_chain_match: { server_names: [pass.test] }
      filters: [{ name: envoy.filters.network.tcp_proxy, typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, stat_prefix: pass, cluster: tlsbackend } }]
    - filter_chain_match: { server_names: [proxy.test] }
      transport_socket: ${downstreamTls([server])}
      filters: [${answer('terminated')}]`, staticCluster('tlsbackend', (backend.address() as AddressInfo).port));
    const legate = await startLegate(yaml, { expectListeners: ['ingress'] });
    try {
      const port = legate.ports.get('ingress')!;
      const passed = await httpsRequest(port, { servername: 'pass.test', ca: c.ca.certPem });
      assert.equal(passed.body, 'from-backend');
      assert.equal(passed.serverCert?.serialNumber, backendCert.serial);
      const terminated = await httpsRequest(port, { servername: 'proxy.test', ca: c.ca.certPem });
      assert.equal(terminated.body, 'terminated');
      assert.equal(terminated.serverCert?.serialNumber, server.serial);
    } finally {
      await legate.stop();
      backend.close();
    }
  });

  it('reads certificates and the trusted CA from static SDS secrets; an unknown secret is a start-up error', async () => {
    const client = c.issue('client', { uri: [SPIFFE_CLIENT], dns: ['client.test'], usage: 'client', subjectExtra: '/O=Legate' });
    const secrets = `  secrets:
  - name: proxy_cert
    tls_certificate: { certificate_chain: { filename: "${server.cert}" }, private_key: { inline_string: ${JSON.stringify(server.keyPem)} } }
  - name: client_ca
    validation_context: { trusted_ca: { filename: "${c.ca.cert}" } }`;
    const ts = (name: string): string => `{ name: envoy.transport_sockets.tls, typed_config: { "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext, require_client_certificate: true, common_tls_context: { tls_certificate_sds_secret_configs: [{ name: ${name} }], validation_context_sds_secret_config: { name: client_ca } } } }`;
    const yaml = (name: string): string => `static_resources:
  listeners:
  - name: ingress
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - transport_socket: ${ts(name)}
      filters: [${answer('sds')}]
${secrets}`;
    const legate = await startLegate(yaml('proxy_cert'), { expectListeners: ['ingress'] });
    try {
      const port = legate.ports.get('ingress')!;
      const r = await httpsRequest(port, { servername: 'proxy.test', ca: c.ca.certPem, client });
      assert.equal(r.body, 'sds');
      assert.equal(r.serverCert?.serialNumber, server.serial);
      assert.equal((await tlsHandshake(port, { servername: 'proxy.test', ca: c.ca.certPem })).ok, false, 'client certificate required');
    } finally {
      await legate.stop();
    }
    const bad = await runLegate(['--mode', 'validate', '-c', writeTempConfig(yaml('nope'))]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr + bad.stdout, /tls_certificate_sds_secret_configs\[0\]\.name.*Unknown static secret: nope/);
  });

  it('rotates certificates from a watched_directory: new handshakes get the new certificate, an open connection keeps working', async () => {
    const first = c.issue('rotate-1', { dns: ['proxy.test'] });
    const second = c.issue('rotate-2', { dns: ['proxy.test'] });
    const dir = mkdtempSync(join(tmpdir(), 'legate-rotate-'));
    copyFileSync(first.cert, join(dir, 'tls.crt'));
    copyFileSync(first.key, join(dir, 'tls.key'));
    const yaml = listenerYaml(`  - name: ingress
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - transport_socket: { name: envoy.transport_sockets.tls, typed_config: { "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext, common_tls_context: { tls_certificates: [{ certificate_chain: { filename: "${join(dir, 'tls.crt')}" }, private_key: { filename: "${join(dir, 'tls.key')}" }, watched_directory: { path: "${dir}" } }] } } }
      filters: [${hcm()}]`, staticCluster('backend', upstream.port));
    const legate = await startLegate(yaml, { expectListeners: ['ingress'] });
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const port = legate.ports.get('ingress')!;
      const kept = await httpsRequest(port, { servername: 'proxy.test', ca: c.ca.certPem, agent });
      assert.equal(kept.serverCert?.serialNumber, first.serial);
      // A half-written pair must not be picked up: write a broken key first, then the real files by rename.
      writeFileSync(join(dir, 'tls.key.tmp'), 'not a key');
      renameSync(join(dir, 'tls.key.tmp'), join(dir, 'tls.key'));
      await new Promise((r) => setTimeout(r, 300));
      assert.equal((await tlsHandshake(port, { servername: 'proxy.test', ca: c.ca.certPem })).serverCert?.serialNumber, first.serial,
        'a pair that does not load keeps the previous certificate');
      writeFileSync(join(dir, 'tls.crt.tmp'), second.certPem);
      writeFileSync(join(dir, 'tls.key.tmp'), second.keyPem);
      renameSync(join(dir, 'tls.crt.tmp'), join(dir, 'tls.crt'));
      renameSync(join(dir, 'tls.key.tmp'), join(dir, 'tls.key'));
      await eventually(async () => (await tlsHandshake(port, { servername: 'proxy.test', ca: c.ca.certPem })).serverCert?.serialNumber === second.serial,
        5000, 'the new certificate');
      const again = await httpsRequest(port, { servername: 'proxy.test', ca: c.ca.certPem, agent });
      assert.equal(again.localPort, kept.localPort, 'the same keep-alive connection');
      assert.equal(again.status, 200);
      assert.match(legate.output(), /keeping the previous material/);
    } finally {
      agent.destroy();
      await legate.stop();
    }
  });

  it('bad input on TLS listeners: plaintext, garbage, a truncated or oversized ClientHello, a silent client; the proxy keeps serving', async () => {
    const yaml = listenerYaml(`  - name: tls
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - transport_socket: ${downstreamTls([server])}
      transport_socket_connect_timeout: 0.3s
      filters: [${answer('ok')}]
  - name: inspected
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    stat_prefix: inspected
    listener_filters: [{ name: envoy.filters.listener.tls_inspector }]
    filter_chains:
    - transport_socket: ${downstreamTls([server])}
      filters: [${answer('ok')}]`);
    const legate = await startLegate(yaml, { expectListeners: ['tls', 'inspected'], expectAdmin: true });
    try {
      const tlsPort = legate.ports.get('tls')!;
      const inspected = legate.ports.get('inspected')!;
      // Plaintext HTTP to a TLS-only chain: no HTTP answer, the connection closes.
      assert.doesNotMatch(await rawRequest(tlsPort, 'GET / HTTP/1.1\r\nhost: x\r\n\r\n'), /HTTP\/1\.1/);
      await rawRequest(tlsPort, Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5, 6, 7, 8]));
      // A ClientHello cut short, then the client leaves.
      await rawRequest(inspected, Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc]), 300);
      // A ClientHello record claiming more than the inspector reads (16 KiB): closed.
      const huge = Buffer.alloc(17000, 0);
      huge.set([0x16, 0x03, 0x01, 0x40, 0x00, 0x01, 0x00, 0x42, 0x00]);
      await rawRequest(inspected, huge, 1000);
      // A client that never starts the handshake is closed after transport_socket_connect_timeout.
      const silent = await new Promise<boolean>((resolve) => {
        const s = net.connect(tlsPort, '127.0.0.1');
        const t = setTimeout(() => { s.destroy(); resolve(false); }, 5000);
        s.on('close', () => { clearTimeout(t); resolve(true); });
        s.on('error', () => {});
      });
      assert.ok(silent, 'closed by the proxy');
      const stats = await readStats(legate.adminPort!);
      assert.ok((stats.get('listener.127.0.0.1_0.ssl.connection_error') ?? 0) >= 2, 'ssl.connection_error');
      assert.equal(stats.get('listener.127.0.0.1_0.downstream_cx_transport_socket_connect_timeout'), 1);
      assert.ok((stats.get('listener.inspected.downstream_listener_filter_remote_close') ?? 0) >= 1);
      assert.equal(stats.get('tls_inspector.client_hello_too_large'), 1);
      assert.equal((await httpsRequest(tlsPort, { servername: 'proxy.test', ca: c.ca.certPem })).body, 'ok');
      assert.equal((await httpsRequest(inspected, { servername: 'proxy.test', ca: c.ca.certPem })).body, 'ok');
    } finally {
      await legate.stop();
    }
  });

  it('a certificate or key that does not parse is a start-up error naming the file and the field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'legate-badcert-'));
    const badCert = join(dir, 'broken.crt');
    writeFileSync(badCert, '-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n');
    const yaml = (cert: string, key: string): string => `static_resources:
  listeners:
  - name: ingress
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - transport_socket: { name: envoy.transport_sockets.tls, typed_config: { "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext, common_tls_context: { tls_certificates: [{ certificate_chain: { filename: "${cert}" }, private_key: { filename: "${key}" } }] } } }
      filters: [${answer('x')}]`;
    const r1 = await runLegate(['--mode', 'validate', '-c', writeTempConfig(yaml(badCert, server.key))]);
    assert.notEqual(r1.code, 0);
    assert.match(r1.stderr + r1.stdout, /static_resources\.listeners\[0\]\.filter_chains\[0\]\.transport_socket\.typed_config\.common_tls_context\.tls_certificates\[0\]\.certificate_chain: Failed to load certificate chain from file .*broken\.crt/);
    const other = c.issue('mismatch', { dns: ['x.test'] });
    const r2 = await runLegate(['--mode', 'validate', '-c', writeTempConfig(yaml(server.cert, other.key))]);
    assert.notEqual(r2.code, 0);
    assert.match(r2.stderr + r2.stdout, /tls_certificates\[0\]\.private_key: Failed to load private key from file .*mismatch\.key/);
    const r3 = await runLegate(['--mode', 'validate', '-c', writeTempConfig(yaml(join(dir, 'missing.crt'), server.key))]);
    assert.notEqual(r3.code, 0);
    assert.match(r3.stderr + r3.stdout, /certificate_chain\.filename: cannot read .*missing\.crt: ENOENT/);
  });
});
