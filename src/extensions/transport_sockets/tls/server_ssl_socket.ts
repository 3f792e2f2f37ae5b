/**
 * The downstream TLS transport socket (Envoy's ServerSslSocketFactory +
 * SslSocket): wraps an accepted socket in a server TLSSocket, picks the
 * certificate by SNI, then checks the client certificate (chain, SANs,
 * hash) before the filter chain sees a byte.
 *
 *   handshake ok + checks ok   -> ssl.handshake, ssl.ciphers.<c>, ssl.versions.<v>
 *                                 (+ ssl.no_certificate when the client sent none)
 *   no client cert, required   -> ssl.fail_verify_no_cert + ssl.connection_error (alert in the handshake)
 *   chain does not verify      -> ssl.fail_verify_error  + ssl.connection_error, closed
 *   SAN / hash mismatch        -> ssl.fail_verify_san / ssl.fail_verify_cert_hash + ssl.connection_error, closed
 *   any other handshake error  -> ssl.connection_error
 *   SDS secret not there yet   -> server_ssl_socket_factory.downstream_context_secrets_not_ready,
 *                                 closed before the handshake (Envoy's NotReadySslSocket)
 *
 * Node's tls.Server verifies client certificates when it emits
 * 'secureConnection'; a standalone server TLSSocket never does, so the chain
 * verdict is read the same way node does (the TLS handle's verifyError()).
 */
import { TLSSocket, createSecureContext, type SecureContext, type SecureContextOptions } from 'node:tls';
import type { Socket } from 'node:net';
import type { DownstreamTransportResult, DownstreamTransportSocketFactory } from '../../../envoy/network/transport_socket.js';
import { getLogger } from '../../../common/logger.js';
import type { LoadedCertificate } from './certificate.js';
import type { TlsContextConfig, CertificateSlot } from './context_config.js';
import { sslConnectionInfo } from './connection_info.js';
import type { SslStats } from './ssl_stats.js';
import type { SslSocketFactoryStats } from './ssl_socket_factory_stats.js';
import { dnsNameMatch } from './subject_alt_names.js';
import { CertValidationConfig } from './validation_context.js';

const log = getLogger('connection');

export interface ServerTlsOptions {
  readonly requireClientCertificate: boolean;
  readonly requireSni: boolean;
}

/** The verification error OpenSSL recorded for the peer's chain, or null (as tls.Server reads it). */
function peerVerifyError(s: TLSSocket): (Error & { code?: string }) | null {
  const handle = (s as unknown as { _handle?: { verifyError?: () => (Error & { code?: string }) | null } })._handle;
  if (handle?.verifyError === undefined) throw new Error('node TLS handle has no verifyError(): cannot verify client certificates');
  return handle.verifyError();
}

export class ServerSslSocketFactory implements DownstreamTransportSocketFactory {
  readonly implementsSecureTransport = true;
  /** One SecureContext per certificate (null: its SDS secret has not arrived), rebuilt when a certificate or the CA changes. */
  private contexts: Array<SecureContext | null> = [];

  constructor(
    private readonly cfg: TlsContextConfig,
    private readonly opts: ServerTlsOptions,
    private readonly stats: SslStats,
    private readonly factoryStats: SslSocketFactoryStats,
  ) {
    this.rebuild();
    // Without any certificate yet, still check tls_params now rather than at the first SDS push.
    if (this.contexts.every((c) => c === null)) createSecureContext(this.contextOptions());
    cfg.onUpdate((bySds) => {
      this.rebuild();
      if (bySds) this.factoryStats.ssl_context_update_by_sds.inc();
    });
  }

  /** True once every SDS secret has arrived; until then handshakes are refused. */
  isReady(): boolean { return this.cfg.isReady(); }
  get ready(): Promise<void> { return this.cfg.ready; }
  get initialized(): Promise<void> { return this.cfg.initialized; }
  close(): void { this.cfg.close(); }

  private rebuild(): void {
    this.contexts = this.cfg.certificates.map((slot) => slot.current === null ? null : this.buildContext(slot.current));
  }

  private contextOptions(): SecureContextOptions {
    const c = this.cfg;
    const ciphers = [c.ciphers, c.cipherSuites13].filter((x) => x !== undefined).join(':');
    return {
      ca: c.validation?.caPem ?? undefined,
      minVersion: c.minVersion,
      maxVersion: c.maxVersion,
      ciphers: ciphers !== '' ? ciphers : undefined,
      ecdhCurve: c.ecdhCurve,
      sigalgs: c.sigalgs,
    };
  }

  private buildContext(cert: LoadedCertificate): SecureContext {
    return createSecureContext({ ...this.contextOptions(), cert: cert.certPem, key: cert.keyPem });
  }

  /** The certificate for `sni`: an exact DNS SAN (or CN) match, then a wildcard one, else the first (Envoy's order). */
  contextFor(sni: string): SecureContext {
    if (sni !== '' && this.contexts.length > 1) {
      const certs = this.cfg.certificates;
      const names = (s: CertificateSlot): string[] => s.current === null ? [] : s.current.sans.dns.length > 0 ? s.current.sans.dns : [s.current.commonName];
      for (let i = 0; i < certs.length; i++) if (names(certs[i]!).some((n) => n.toLowerCase() === sni.toLowerCase())) return this.contexts[i]!;
      for (let i = 0; i < certs.length; i++) if (names(certs[i]!).some((n) => n.startsWith('*.') && dnsNameMatch(n, sni))) return this.contexts[i]!;
    }
    return this.contexts[0]!;
  }

  accept(raw: Socket, _serverName: string, onDone: (result: DownstreamTransportResult | null) => void): void {
    if (!this.cfg.isReady()) {
      // Envoy's NotReadySslSocket: the connection is closed before any TLS byte.
      this.factoryStats.downstream_context_secrets_not_ready.inc();
      log.debug(`TLS connection from ${raw.remoteAddress}:${raw.remotePort} closed: SDS secret(s) ${this.cfg.missingSecrets().join(', ')} not received yet`);
      raw.destroy();
      onDone(null);
      return;
    }
    const v = this.cfg.validation;
    const alpn = this.cfg.alpnProtocols;
    const s = new TLSSocket(raw, {
      isServer: true,
      secureContext: this.contexts[0]!,
      SNICallback: (name: string, cb: (err: Error | null, ctx?: SecureContext) => void) => cb(null, this.contextFor(name)),
      ALPNProtocols: alpn.length > 0 ? [...alpn] : undefined,
      requestCert: this.cfg.hasValidation || this.opts.requireClientCertificate,
      // OpenSSL then fails the handshake when no certificate is sent; chain checks happen below.
      rejectUnauthorized: this.opts.requireClientCertificate,
    });
    let settled = false;
    const fail = (why: string): void => {
      if (settled) return;
      settled = true;
      this.stats.connection_error.inc();
      log.debug(`TLS handshake with ${raw.remoteAddress}:${raw.remotePort} failed: ${why}`);
      s.destroy();
      onDone(null);
    };
    s.on('error', (err: Error & { code?: string }) => {
      if (settled) return;
      if (err.code === 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE') this.stats.fail_verify_no_cert.inc();
      fail(err.message);
    });
    s.once('close', () => fail('connection closed during the handshake'));
    s.once('secure', () => {
      if (settled) return;
      const sni = typeof s.servername === 'string' ? s.servername : '';
      if (this.opts.requireSni && sni === '') { fail('require_sni is set and the client sent no SNI'); return; }
      const peer = s.getPeerX509Certificate();
      let validated = false;
      if (peer === undefined) {
        if (this.opts.requireClientCertificate) { this.stats.fail_verify_no_cert.inc(); fail('no client certificate'); return; }
        this.stats.no_certificate.inc();
      } else if (v !== null) {
        const err = v.caPem !== null ? peerVerifyError(s) : null;
        const expiredOnly = err?.code === 'CERT_HAS_EXPIRED' && v.allowExpired;
        if (err !== null && !v.acceptUntrusted && !expiredOnly) { this.stats.fail_verify_error.inc(); fail(`client certificate: ${err.message}`); return; }
        if (!v.matchSans(CertValidationConfig.sansOf(peer))) { this.stats.fail_verify_san.inc(); fail('client certificate SANs do not match'); return; }
        if (!v.matchHash(peer)) { this.stats.fail_verify_cert_hash.inc(); fail('client certificate hash does not match'); return; }
        validated = err === null;
      }
      settled = true;
      const info = sslConnectionInfo(s, sni, validated);
      this.stats.countHandshake(info.cipherSuite, info.tlsVersion);
      // A standalone server TLSSocket never clears this; node:http2 waits on it.
      (s as unknown as { secureConnecting: boolean }).secureConnecting = false;
      onDone({ socket: s, ssl: info });
    });
  }
}
