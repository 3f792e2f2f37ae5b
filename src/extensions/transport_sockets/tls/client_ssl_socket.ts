/**
 * The upstream TLS transport socket (Envoy's ClientSslSocketFactory):
 * tls.connect with the cluster's UpstreamTlsContext.
 *
 * - `sni` is sent as the server name (never an IP literal, as TLS forbids).
 * - Without a validation context the server certificate is not checked, as
 *   in Envoy; with `trusted_ca` the chain must verify, and the SAN matchers
 *   and `verify_certificate_hash` apply. Envoy does not check the SNI against
 *   the certificate unless told to, so neither do we.
 * - ALPN: the configured list, else what the pool asks for (`h2` for an
 *   HTTP/2 cluster, `h2,http/1.1` for auto_config).
 *
 * Failures are reported in Envoy's %UPSTREAM_TRANSPORT_FAILURE_REASON% shape,
 * `TLS_error:|<code>:<library>:OPENSSL_internal:<REASON>[:details]:TLS_error_end`,
 * with OpenSSL 3's own packed code and reason (Envoy shows BoringSSL's), and
 * counted in `cluster.<name>.ssl.*`.
 *
 * Until its SDS secrets arrive the factory fails every connection with Envoy's
 * `TLS error: Secret is not supplied by SDS` (503 UF) and counts
 * `cluster.<name>.client_ssl_socket_factory.upstream_context_secrets_not_ready`.
 */
import tls, { type PeerCertificate, type SecureContext, type TLSSocket } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { Socket, isIP } from 'node:net';
import type { SslConnectionInfo } from '../../../envoy/network/connection.js';
import type { UpstreamTransportConnection, UpstreamTransportSocketFactory } from '../../../envoy/network/transport_socket.js';
import type { TlsContextConfig } from './context_config.js';
import { sslConnectionInfo } from './connection_info.js';
import type { SslStats } from './ssl_stats.js';
import type { SslSocketFactoryStats } from './ssl_socket_factory_stats.js';
import { parseSubjectAltNames } from './subject_alt_names.js';

/** OpenSSL 3's SSL_R_CERTIFICATE_VERIFY_FAILED, packed (ERR_LIB_SSL << 23 | 134). */
const CERTIFICATE_VERIFY_FAILED = 'TLS_error:|167772294:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED';

const SAN_MISMATCH = 'ERR_LEGATE_TLS_SAN_MISMATCH';
const HASH_MISMATCH = 'ERR_LEGATE_TLS_CERT_HASH_MISMATCH';
const SECRETS_NOT_READY = 'ERR_LEGATE_TLS_SECRETS_NOT_READY';
/** Envoy's NotReadySslSocket failure reason. */
export const SECRETS_NOT_READY_REASON = 'TLS error: Secret is not supplied by SDS';

/** Node's X509 verification error codes (X509_V_ERR_* without the prefix). */
function isX509VerifyCode(code: string): boolean {
  return /^[A-Z0-9_]+$/.test(code) && !code.startsWith('ERR_') && !code.startsWith('E');
}

/** `TLS_error:|...:TLS_error_end` for a TLS error, or null for a plain socket error. */
export function tlsFailureReason(err: Error & { code?: string }): string | null {
  const code = err.code ?? '';
  if (code === SECRETS_NOT_READY) return SECRETS_NOT_READY_REASON;
  if (code === SAN_MISMATCH) return `${CERTIFICATE_VERIFY_FAILED}:verify cert failed: verify SAN list:TLS_error_end`;
  if (code === HASH_MISMATCH) return `${CERTIFICATE_VERIFY_FAILED}:verify cert failed: cert hash and spki:TLS_error_end`;
  if (isX509VerifyCode(code) || code === 'DEPTH_ZERO_SELF_SIGNED_CERT' || code === 'CERT_HAS_EXPIRED') {
    return `${CERTIFICATE_VERIFY_FAILED}:verify cert failed: X509_verify_cert: certificate verification error: ${err.message}:TLS_error_end`;
  }
  if (code.startsWith('ERR_SSL_')) {
    // "...:error:0A000410:SSL routines:ssl3_read_bytes:sslv3 alert handshake failure:..."
    const m = /error:([0-9A-Fa-f]{8}):([^:]+):[^:]*:([^:]+)/.exec(err.message);
    if (m !== null) return `TLS_error:|${parseInt(m[1]!, 16)}:${m[2]}:OPENSSL_internal:${m[3]!.toUpperCase().replace(/ /g, '_')}:TLS_error_end`;
    return `TLS_error:|${code.slice('ERR_SSL_'.length)}:TLS_error_end`;
  }
  return null;
}

export interface UpstreamTlsOptions {
  /** UpstreamTlsContext.sni ('' = none). */
  readonly sni: string;
}

export class ClientSslSocketFactory implements UpstreamTransportSocketFactory {
  readonly implementsSecureTransport = true;
  /** null until the SDS secrets arrived. */
  private context: SecureContext | null;

  constructor(
    private readonly cfg: TlsContextConfig,
    private readonly opts: UpstreamTlsOptions,
    private readonly stats: SslStats,
    private readonly factoryStats: SslSocketFactoryStats,
  ) {
    // Built even when not ready, so bad tls_params fail now rather than at the first SDS push.
    const first = this.buildContext();
    this.context = cfg.isReady() ? first : null;
    cfg.onUpdate((bySds) => {
      this.context = cfg.isReady() ? this.buildContext() : null;
      if (bySds) this.factoryStats.ssl_context_update_by_sds.inc();
    });
  }

  /** True once every SDS secret has arrived; until then connections fail with Envoy's "Secret is not supplied by SDS". */
  isReady(): boolean { return this.cfg.isReady(); }
  get ready(): Promise<void> { return this.cfg.ready; }
  get initialized(): Promise<void> { return this.cfg.initialized; }
  close(): void { this.cfg.close(); }

  get alpnProtocols(): ReadonlyArray<string> { return this.cfg.alpnProtocols; }

  private buildContext(): SecureContext {
    const c = this.cfg;
    const cert = c.certificates[0]?.current ?? undefined;
    const ciphers = [c.ciphers, c.cipherSuites13].filter((x) => x !== undefined).join(':');
    return tls.createSecureContext({
      cert: cert?.certPem,
      key: cert?.keyPem,
      ca: c.validation?.caPem ?? undefined,
      minVersion: c.minVersion,
      maxVersion: c.maxVersion,
      ciphers: ciphers !== '' ? ciphers : undefined,
      ecdhCurve: c.ecdhCurve,
      sigalgs: c.sigalgs,
    });
  }

  private checkServerIdentity(cert: PeerCertificate): Error | undefined {
    const v = this.cfg.validation;
    if (v === null) return undefined;
    if (!v.matchSans(parseSubjectAltNames(cert.subjectaltname))) {
      return Object.assign(new Error('upstream certificate SANs do not match'), { code: SAN_MISMATCH });
    }
    if (v.certificateHashes.length > 0 && !v.matchHash(new X509Certificate(cert.raw))) {
      return Object.assign(new Error('upstream certificate hash does not match'), { code: HASH_MISMATCH });
    }
    return undefined;
  }

  connect(address: string, port: number, _hostname: string, alpn?: ReadonlyArray<string>): UpstreamTransportConnection {
    if (this.context === null) return this.notReady();
    const v = this.cfg.validation;
    const protocols = this.cfg.alpnProtocols.length > 0 ? this.cfg.alpnProtocols : alpn ?? [];
    const sni = this.opts.sni;
    const socket = tls.connect({
      host: address,
      port,
      servername: sni !== '' && isIP(sni) === 0 ? sni : undefined,
      secureContext: this.context,
      ALPNProtocols: protocols.length > 0 ? [...protocols] : undefined,
      rejectUnauthorized: v !== null && v.caPem !== null && !v.acceptUntrusted,
      checkServerIdentity: (_host, cert) => this.checkServerIdentity(cert),
    });
    socket.once('secureConnect', () => {
      const info = socket.getCipher();
      this.stats.countHandshake(info?.name ?? '', socket.getProtocol() ?? '');
    });
    return { socket, readyEvent: 'secureConnect' };
  }

  /** Envoy's NotReadySslSocket: a connection that fails at once with the SDS failure reason. */
  private notReady(): UpstreamTransportConnection {
    this.factoryStats.upstream_context_secrets_not_ready.inc();
    const socket = new Socket();
    const err = Object.assign(new Error(`${SECRETS_NOT_READY_REASON} (waiting for ${this.cfg.missingSecrets().join(', ')})`), { code: SECRETS_NOT_READY });
    process.nextTick(() => socket.destroy(err));
    return { socket, readyEvent: 'secureConnect' };
  }

  transportFailureReason(err: Error & { code?: string }): string | null {
    const reason = tlsFailureReason(err);
    if (reason === null) return null;
    const code = err.code ?? '';
    if (code === SECRETS_NOT_READY) return reason;
    if (code === SAN_MISMATCH) this.stats.fail_verify_san.inc();
    else if (code === HASH_MISMATCH) this.stats.fail_verify_cert_hash.inc();
    else if (!code.startsWith('ERR_SSL_')) this.stats.fail_verify_error.inc();
    this.stats.connection_error.inc();
    return reason;
  }

  connectionInfo(socket: Socket): SslConnectionInfo | null {
    const s = socket as TLSSocket;
    return typeof s.getPeerX509Certificate === 'function' ? sslConnectionInfo(s, this.opts.sni, s.authorized) : null;
  }
}
