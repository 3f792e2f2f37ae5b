/**
 * x-forwarded-client-cert (XFCC), after Envoy's
 * `ConnectionManagerUtility::mutateXfccRequestHeader`:
 *
 *   ALWAYS_FORWARD_ONLY          header passed as is, always
 *   SANITIZE (default)           header removed
 *   not mTLS (no peer cert)      header removed (any other mode)
 *   FORWARD_ONLY                 header passed as is
 *   APPEND_FORWARD               this hop's element appended (`,`-separated)
 *   SANITIZE_SET                 header replaced by this hop's element
 *
 * One element is `By=<local URI SAN>;...;Hash=<peer sha256>` then the
 * set_current_client_cert_details fields in Envoy's order: Subject="...",
 * Cert="<url-encoded PEM>", Chain="<url-encoded PEM chain>", DNS=<dns SAN>
 * (one per SAN), URI=<uri SAN> (one per SAN; `URI=` when none).
 */
import type { HeaderMap } from '../envoy/http/header_map.js';
import type { SslConnectionInfo } from '../envoy/network/connection.js';

export const enum ForwardClientCertType { Sanitize = 0, ForwardOnly = 1, AppendForward = 2, SanitizeSet = 3, AlwaysForwardOnly = 4 }

export type ClientCertDetail = 'Subject' | 'Cert' | 'Chain' | 'DNS' | 'URI';

export interface ForwardClientCertConfig {
  readonly type: ForwardClientCertType;
  /** Details to set, in Envoy's order (Subject, Cert, Chain, DNS, URI). */
  readonly details: ReadonlyArray<ClientCertDetail>;
}

export const XFCC = 'x-forwarded-client-cert';

/** This hop's XFCC element for `ssl`. */
export function clientCertElement(ssl: SslConnectionInfo, details: ReadonlyArray<ClientCertDetail>): string {
  const out: string[] = [];
  for (const uri of ssl.uriSanLocalCertificate) out.push(`By=${uri}`);
  if (ssl.sha256PeerCertificateDigest !== '') out.push(`Hash=${ssl.sha256PeerCertificateDigest}`);
  for (const d of details) {
    switch (d) {
      case 'Subject': out.push(`Subject="${ssl.subjectPeerCertificate}"`); break;
      case 'Cert': if (ssl.pemEncodedPeerCertificate !== '') out.push(`Cert="${encodeURIComponent(ssl.pemEncodedPeerCertificate)}"`); break;
      case 'Chain': if (ssl.pemEncodedPeerCertificateChain !== '') out.push(`Chain="${encodeURIComponent(ssl.pemEncodedPeerCertificateChain)}"`); break;
      case 'DNS': for (const dns of ssl.dnsSansPeerCertificate) out.push(`DNS=${dns}`); break;
      case 'URI':
        if (ssl.uriSanPeerCertificate.length === 0) out.push('URI=');
        for (const uri of ssl.uriSanPeerCertificate) out.push(`URI=${uri}`);
        break;
    }
  }
  return out.join(';');
}

export function mutateXfccRequestHeader(headers: HeaderMap, ssl: SslConnectionInfo | null, cfg: ForwardClientCertConfig): void {
  if (cfg.type === ForwardClientCertType.AlwaysForwardOnly) return;
  if (cfg.type === ForwardClientCertType.Sanitize || ssl === null || !ssl.peerCertificatePresented) {
    headers.remove(XFCC);
    return;
  }
  if (cfg.type === ForwardClientCertType.ForwardOnly) return;
  const element = clientCertElement(ssl, cfg.details);
  const prev = headers.get(XFCC);
  if (cfg.type === ForwardClientCertType.AppendForward && prev !== undefined && prev !== '') headers.set(XFCC, `${prev},${element}`);
  else headers.set(XFCC, element);
}
