/** Unit checks of the TLS helpers: SAN text parsing, RFC 2253 subjects, DNS wildcards, XFCC elements, failure reasons. */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { dnsNameMatch, parseSubjectAltNames, rfc2253 } from '../../../src/extensions/transport_sockets/tls/subject_alt_names.js';
import { tlsFailureReason } from '../../../src/extensions/transport_sockets/tls/client_ssl_socket.js';
import { clientCertElement } from '../../../src/http/forward_client_cert.js';
import type { SslConnectionInfo } from '../../../src/envoy/network/connection.js';
import { testCerts } from '../../support/certs.js';

it('parses node subjectAltName text, including JSON-quoted values', () => {
  assert.deepEqual(parseSubjectAltNames('DNS:a.test, URI:spiffe://x/y, IP Address:127.0.0.1, email:a@b.test, DNS:"we,ird"'),
    { dns: ['a.test', 'we,ird'], uri: ['spiffe://x/y'], ip: ['127.0.0.1'], email: ['a@b.test'] });
  const c = testCerts().issue('units-sans', { dns: ['x.test', '*.y.test'], uri: ['spiffe://u'], ip: ['10.0.0.1'] });
  const sans = parseSubjectAltNames(new X509Certificate(c.certPem).subjectAltName);
  assert.deepEqual(sans.dns, ['x.test', '*.y.test']);
  assert.deepEqual(sans.uri, ['spiffe://u']);
  assert.deepEqual(sans.ip, ['10.0.0.1']);
});

it('prints subjects most specific first with RFC 2253 escapes', () => {
  assert.equal(rfc2253('C=US\nO=Acme, Inc.\nCN=client'), 'CN=client,O=Acme\\, Inc.,C=US');
  assert.equal(rfc2253(''), '');
});

it('matches one DNS label with a leading wildcard', () => {
  assert.ok(dnsNameMatch('*.example.com', 'a.example.com'));
  assert.ok(!dnsNameMatch('*.example.com', 'a.b.example.com'));
  assert.ok(!dnsNameMatch('*.example.com', 'example.com'));
  assert.ok(dnsNameMatch('A.example.com', 'a.EXAMPLE.com'));
});

it('builds the XFCC element in Envoy order (By, Hash, Subject, Cert, Chain, DNS, URI; URI= when none)', () => {
  const ssl = {
    uriSanLocalCertificate: ['spiffe://proxy'], sha256PeerCertificateDigest: 'abcd', subjectPeerCertificate: 'CN=c',
    pemEncodedPeerCertificate: 'PEM +/=\n', pemEncodedPeerCertificateChain: '', dnsSansPeerCertificate: ['d1', 'd2'], uriSanPeerCertificate: [],
  } as unknown as SslConnectionInfo;
  assert.equal(clientCertElement(ssl, ['Subject', 'Cert', 'Chain', 'DNS', 'URI']),
    'By=spiffe://proxy;Hash=abcd;Subject="CN=c";Cert="PEM%20%2B%2F%3D%0A";DNS=d1;DNS=d2;URI=');
});

it('words TLS failures as Envoy does, with OpenSSL 3 codes', () => {
  assert.equal(tlsFailureReason(Object.assign(new Error('unable to verify the first certificate'), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' })),
    'TLS_error:|167772294:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED:verify cert failed: X509_verify_cert: certificate verification error: unable to verify the first certificate:TLS_error_end');
  assert.equal(tlsFailureReason(Object.assign(new Error('C0:error:0A000410:SSL routines:ssl3_read_bytes:sslv3 alert handshake failure:../x.c:1:'), { code: 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE' })),
    'TLS_error:|167773200:SSL routines:OPENSSL_internal:SSLV3_ALERT_HANDSHAKE_FAILURE:TLS_error_end');
  assert.equal(tlsFailureReason(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })), null);
});
