/**
 * TLS to upstreams through the real CLI: SNI and client certificates seen by
 * the backend, trusted_ca and SAN validation (503 UF with the TLS failure
 * reason in the access log, cluster ssl stats), HTTP/2 over TLS by ALPN,
 * and auto_config choosing HTTP/2 or HTTP/1.1 by what the server negotiates.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import https from 'node:https';
import http2 from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { testCerts, type CertFiles } from '../support/certs.js';
import { runLegate, startLegate, writeTempConfig } from '../support/legate_process.js';
import { eventually, readStats, request } from '../support/http_util.js';
import { ADMIN, hcm } from './tls_fixtures.js';

interface Seen { sni: string; clientCn: string; httpVersion: string; alpn: string }

describe('TLS to upstreams', () => {
  const c = testCerts();
  let backendCert: CertFiles;
  let client: CertFiles;
  const seen: Seen[] = [];
  let h1: https.Server;
  let h2: http2.Http2SecureServer;
  let h1Port = 0;
  let h2Port = 0;

  const record = (req: { socket: unknown; httpVersion: string }, res: { end(b: string): void }): void => {
    const s = req.socket as TLSSocket;
    const peer = s.getPeerX509Certificate();
    seen.push({
      sni: typeof s.servername === 'string' ? s.servername : '',
      clientCn: peer?.subject.split('\n').find((l) => l.startsWith('CN='))?.slice(3) ?? '',
      httpVersion: req.httpVersion,
      alpn: typeof s.alpnProtocol === 'string' ? s.alpnProtocol : '',
    });
    res.end(`hello over ${req.httpVersion}`);
  };

  before(async () => {
    backendCert = c.issue('backend', { dns: ['backend.test'] });
    client = c.issue('proxy-client', { uri: ['spiffe://legate.test/proxy'], usage: 'client' });
    const tlsOpts = { cert: backendCert.certPem, key: backendCert.keyPem, ca: c.ca.certPem, requestCert: true, rejectUnauthorized: false };
    h1 = https.createServer({ ...tlsOpts, ALPNProtocols: ['http/1.1'] }, (req, res) => record(req, res));
    h2 = http2.createSecureServer({ ...tlsOpts, allowHTTP1: true }, (req, res) => record(req, res));
    await new Promise<void>((r) => h1.listen(0, '127.0.0.1', r));
    await new Promise<void>((r) => h2.listen(0, '127.0.0.1', r));
    h1Port = (h1.address() as AddressInfo).port;
    h2Port = (h2.address() as AddressInfo).port;
  });
  after(() => { h1.close(); h2.close(); });

  function upstreamTls(o: { sni?: string; ca?: string; san?: string; clientCert?: CertFiles; alpn?: string } = {}): string {
    const vc = o.ca === undefined ? '' : `validation_context: { trusted_ca: { filename: "${o.ca}" } ${o.san ? `, match_typed_subject_alt_names: [{ san_type: DNS, matcher: { exact: "${o.san}" } }]` : ''} },`;
    const cert = o.clientCert === undefined ? '' : `tls_certificates: [{ certificate_chain: { filename: "${o.clientCert.cert}" }, private_key: { filename: "${o.clientCert.key}" } }],`;
    return `transport_socket: { name: envoy.transport_sockets.tls, typed_config: { "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext, ${o.sni ? `sni: ${o.sni},` : ''} common_tls_context: { ${vc} ${cert} ${o.alpn ?? ''} } } }`;
  }

  function yaml(port: number, clusterExtra: string, logPath?: string): string {
    return `${ADMIN}
static_resources:
  listeners:
  - name: ingress
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - filters: [${hcm({ accessLogPath: logPath, format: '%RESPONSE_CODE% %RESPONSE_FLAGS% %UPSTREAM_TRANSPORT_FAILURE_REASON%\n' })}]
  clusters:
  - name: backend
    connect_timeout: 3s
    load_assignment: { cluster_name: backend, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${port} } } } }] }] }
    ${clusterExtra}
`;
  }

  it('sends the configured SNI and client certificate; trusted_ca + SAN matcher accept the backend', async () => {
    const legate = await startLegate(yaml(h1Port, upstreamTls({ sni: 'backend.test', ca: c.ca.cert, san: 'backend.test', clientCert: client })), { expectListeners: ['ingress'], expectAdmin: true });
    try {
      seen.length = 0;
      const r = await request(legate.ports.get('ingress')!, { path: '/' });
      assert.equal(r.status, 200);
      assert.equal(r.body, 'hello over 1.1');
      assert.deepEqual(seen.map((s) => [s.sni, s.clientCn]), [['backend.test', 'proxy-client']]);
      const stats = await readStats(legate.adminPort!);
      assert.equal(stats.get('cluster.backend.ssl.handshake'), 1);
    } finally {
      await legate.stop();
    }
  });

  it('a backend certificate from an untrusted CA: 503 UF, the TLS reason in the access log, ssl.fail_verify_error', async () => {
    const logPath = join(mkdtempSync(join(tmpdir(), 'legate-uptls-')), 'access.log');
    const legate = await startLegate(yaml(h1Port, upstreamTls({ sni: 'backend.test', ca: c.otherCa.cert }), logPath),
      { expectListeners: ['ingress'], expectAdmin: true, args: ['--file-flush-interval-msec', '50'] });
    try {
      const r = await request(legate.ports.get('ingress')!, { path: '/' });
      assert.equal(r.status, 503);
      await eventually(() => { try { return readFileSync(logPath, 'utf8').includes('\n'); } catch { return false; } }, 5000, 'access log');
      const line = readFileSync(logPath, 'utf8').trim();
      assert.match(line, /^503 UF TLS_error:\|167772294:SSL_routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED:verify_cert_failed:_X509_verify_cert:_certificate_verification_error:_[a-z_-]+:TLS_error_end$/);
      const stats = await readStats(legate.adminPort!);
      assert.equal(stats.get('cluster.backend.ssl.fail_verify_error'), 1);
      assert.equal(stats.get('cluster.backend.ssl.connection_error'), 1);
    } finally {
      await legate.stop();
    }
  });

  it('a SAN matcher that does not match: 503 UF and ssl.fail_verify_san', async () => {
    const logPath = join(mkdtempSync(join(tmpdir(), 'legate-uptls-')), 'access.log');
    const legate = await startLegate(yaml(h1Port, upstreamTls({ ca: c.ca.cert, san: 'someone-else.test' }), logPath),
      { expectListeners: ['ingress'], expectAdmin: true, args: ['--file-flush-interval-msec', '50'] });
    try {
      assert.equal((await request(legate.ports.get('ingress')!, { path: '/' })).status, 503);
      await eventually(() => { try { return readFileSync(logPath, 'utf8').includes('\n'); } catch { return false; } }, 5000, 'access log');
      assert.match(readFileSync(logPath, 'utf8'), /^503 UF TLS_error:.*CERTIFICATE_VERIFY_FAILED:verify_cert_failed:_verify_SAN_list:TLS_error_end/);
      assert.equal((await readStats(legate.adminPort!)).get('cluster.backend.ssl.fail_verify_san'), 1);
    } finally {
      await legate.stop();
    }
  });

  it('HTTP/2 cluster over TLS negotiates h2 with a node http2 secure server', async () => {
    const h2opts = `typed_extension_protocol_options: { envoy.extensions.upstreams.http.v3.HttpProtocolOptions: { "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions, explicit_http_config: { http2_protocol_options: {} } } }`;
    const legate = await startLegate(yaml(h2Port, `${upstreamTls({ sni: 'backend.test', ca: c.ca.cert })}\n    ${h2opts}`), { expectListeners: ['ingress'] });
    try {
      seen.length = 0;
      const r = await request(legate.ports.get('ingress')!, { path: '/' });
      assert.equal(r.status, 200);
      assert.equal(r.body, 'hello over 2.0');
      assert.equal(seen[0]?.alpn, 'h2');
    } finally {
      await legate.stop();
    }
  });

  it('auto_config speaks HTTP/2 to an h2 server and HTTP/1.1 to an http/1.1-only one; without TLS it is a config error', async () => {
    const auto = `typed_extension_protocol_options: { envoy.extensions.upstreams.http.v3.HttpProtocolOptions: { "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions, auto_config: {} } }`;
    for (const [port, want] of [[h2Port, 'hello over 2.0'], [h1Port, 'hello over 1.1']] as const) {
      const legate = await startLegate(yaml(port, `${upstreamTls({ ca: c.ca.cert })}\n    ${auto}`), { expectListeners: ['ingress'] });
      try {
        const port0 = legate.ports.get('ingress')!;
        assert.equal((await request(port0, { path: '/' })).body, want);
        assert.equal((await request(port0, { path: '/' })).body, want, 'the pool stays on the negotiated protocol');
      } finally {
        await legate.stop();
      }
    }
    const r = await runLegate(['--mode', 'validate', '-c', writeTempConfig(yaml(h1Port, auto))]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr + r.stdout, /ALPN configured for cluster backend which has a non-ALPN transport socket/);
  });
});
