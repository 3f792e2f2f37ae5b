/**
 * SslConnectionInfo of a TLS socket once its handshake is done (Envoy's
 * `Ssl::ConnectionInfo`, source/common/tls/connection_info_impl.cc).
 */
import type { TLSSocket } from 'node:tls';
import type { X509Certificate } from 'node:crypto';
import type { SslConnectionInfo } from '../../../envoy/network/connection.js';
import { parseSubjectAltNames, rfc2253 } from './subject_alt_names.js';

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
    uriSanLocalCertificate: parseSubjectAltNames(local?.subjectAltName).uri,
    subjectLocalCertificate: local !== undefined ? rfc2253(local.subject) : '',
  };
}
