/**
 * SslConnectionInfo of a TLS socket once its handshake is done (Envoy's
 * `Ssl::ConnectionInfo`, source/common/tls/connection_info_impl.cc).
 */
import type { DetailedPeerCertificate, TLSSocket } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import type { SslConnectionInfo } from '../../../envoy/network/connection.js';
import { parseSubjectAltNames, rfc2253 } from './subject_alt_names.js';

/** The peer's chain, leaf first (node links it through issuerCertificate; a self-issued root links to itself). */
function peerChainPem(s: TLSSocket): string {
  const out: string[] = [];
  const seen = new Set<unknown>();
  let c: DetailedPeerCertificate | undefined = s.getPeerCertificate(true) as DetailedPeerCertificate;
  while (c !== undefined && c.raw !== undefined && !seen.has(c)) {
    seen.add(c);
    out.push(new X509Certificate(c.raw).toString());
    c = c.issuerCertificate !== c ? c.issuerCertificate : undefined;
  }
  return out.join('');
}

export function sslConnectionInfo(s: TLSSocket, sni: string, peerValidated: boolean): SslConnectionInfo {
  const peer: X509Certificate | undefined = s.getPeerX509Certificate();
  const local: X509Certificate | undefined = s.getX509Certificate();
  const peerSans = parseSubjectAltNames(peer?.subjectAltName);
  const alpn = s.alpnProtocol;
  return {
    tlsVersion: s.getProtocol() ?? '',
    cipherSuite: s.getCipher()?.name ?? '',
    alpn: typeof alpn === 'string' ? alpn : '',
    sni,
    peerCertificatePresented: peer !== undefined,
    peerCertificateValidated: peer !== undefined && peerValidated,
    uriSanPeerCertificate: peerSans.uri,
    dnsSansPeerCertificate: peerSans.dns,
    subjectPeerCertificate: peer !== undefined ? rfc2253(peer.subject) : '',
    sha256PeerCertificateDigest: peer !== undefined ? peer.fingerprint256.replace(/:/g, '').toLowerCase() : '',
    pemEncodedPeerCertificate: peer !== undefined ? peer.toString() : '',
    pemEncodedPeerCertificateChain: peer !== undefined ? peerChainPem(s) : '',
    uriSanLocalCertificate: parseSubjectAltNames(local?.subjectAltName).uri,
    subjectLocalCertificate: local !== undefined ? rfc2253(local.subject) : '',
  };
}
