/**
 * CertificateValidationContext compiled: the trusted CA bundle (reloadable
 * through watched_directory), SAN matchers (typed `match_typed_subject_alt_names`
 * and the legacy `match_subject_alt_names`), `verify_certificate_hash`,
 * `trust_chain_verification`. After Envoy's `CertificateValidationContextConfigImpl`
 * and `DefaultCertValidator`.
 */
import type { X509Certificate } from 'node:crypto';
import type { CertificateValidationContext, SubjectAltNameMatcher } from '../../../generated/envoy/extensions/transport_sockets/tls/v3/common_pb.js';
import type { StringMatcher as StringMatcherProto } from '../../../generated/envoy/type/matcher/v3/string_pb.js';
import { ConfigError } from '../../../config/config_error.js';
import { dataSourceToBuffer } from '../../../config/well_known.js';
import { compileStringMatcher, type StringMatcher } from '../../../common/matchers/index.js';
import { describeSource, parseCertificateList } from './certificate.js';
import { dnsNameMatch, parseSubjectAltNames, type SubjectAltNames } from './subject_alt_names.js';
import { watchDirectory } from '../../../config/watched_directory.js';

/** SubjectAltNameMatcher.SanType */
const SAN_EMAIL = 1, SAN_DNS = 2, SAN_URI = 3, SAN_IP = 4;

interface SanMatcher { readonly types: ReadonlyArray<keyof SubjectAltNames>; readonly matcher: StringMatcher; readonly exactDns: string | null }

export class CertValidationConfig {
  /** PEM of the trusted CAs, or null (no chain verification). */
  caPem: string | null;
  readonly sanMatchers: ReadonlyArray<SanMatcher>;
  /** Lower-case hex SHA-256 fingerprints (verify_certificate_hash), empty = any. */
  readonly certificateHashes: ReadonlyArray<string>;
  readonly acceptUntrusted: boolean;
  readonly allowExpired: boolean;

  /** Stops the watched_directory watch (null: none). */
  private stopWatch: (() => void) | null = null;

  /**
   * Compiles `vc` (field path `path`). `watch` false: ignore watched_directory
   * (an SDS secret's files are watched by its provider). Throws ConfigError.
   */
  constructor(vc: CertificateValidationContext, configDir: string, path: string, opts: { watch?: boolean } = {}) {
    const unsupported: Array<[unknown, string]> = [
      [vc.crl, 'crl'], [vc.customValidatorConfig, 'custom_validator_config'],
      [vc.caCertificateProviderInstance, 'ca_certificate_provider_instance'],
      [vc.verifyCertificateSpki.length > 0 ? true : undefined, 'verify_certificate_spki'],
      [vc.requireSignedCertificateTimestamp === true ? true : undefined, 'require_signed_certificate_timestamp'],
    ];
    for (const [v, name] of unsupported) if (v !== undefined) throw new ConfigError(`${path}.${name}`, `${name} is not supported yet`);
    this.caPem = vc.trustedCa !== undefined ? loadCa(vc, configDir, path) : null;
    if (vc.systemRootCerts !== undefined && this.caPem === null) {
      throw new ConfigError(`${path}.system_root_certs`, 'system_root_certs is not supported yet; give trusted_ca');
    }
    const matchers: SanMatcher[] = [];
    vc.matchTypedSubjectAltNames.forEach((m, i) => matchers.push(compileTyped(m, `${path}.match_typed_subject_alt_names[${i}]`)));
    vc.matchSubjectAltNames.forEach((m, i) => matchers.push(compileLegacy(m, `${path}.match_subject_alt_names[${i}]`)));
    this.sanMatchers = matchers;
    this.certificateHashes = vc.verifyCertificateHash.map((h) => h.replace(/:/g, '').toLowerCase());
    this.acceptUntrusted = vc.trustChainVerification === 1;
    this.allowExpired = vc.allowExpiredCertificate;
    if (this.caPem === null && (this.sanMatchers.length > 0 || this.certificateHashes.length > 0)) {
      // Envoy refuses this too: SAN or hash checks without a trusted CA prove nothing.
      throw new ConfigError(`${path}.trusted_ca`, 'SAN-based verification of peer certificates without trusted CA is insecure and not allowed');
    }
    if ((opts.watch ?? true) && vc.watchedDirectory !== undefined && vc.trustedCa?.specifier.case === 'filename') {
      this.stopWatch = watchDirectory(vc.watchedDirectory.path, configDir, `${path}.trusted_ca`, () => {
        const next = loadCa(vc, configDir, path);
        if (next === this.caPem) return false;
        this.caPem = next;
        for (const cb of this.listeners) cb();
        return true;
      });
    }
  }

  private readonly listeners: Array<() => void> = [];
  /** `cb` runs after the trusted CA bundle was reloaded. */
  onUpdate(cb: () => void): void { this.listeners.push(cb); }

  /** Stops watching the CA files. */
  close(): void {
    this.stopWatch?.();
    this.stopWatch = null;
  }

  /** True when the peer certificate's SANs satisfy the matchers (or there are none). */
  matchSans(sans: SubjectAltNames): boolean {
    if (this.sanMatchers.length === 0) return true;
    for (const m of this.sanMatchers) {
      for (const t of m.types) {
        for (const v of sans[t]) {
          if (m.matcher.match(v)) return true;
          if (t === 'dns' && m.exactDns !== null && dnsNameMatch(v, m.exactDns)) return true;
        }
      }
    }
    return false;
  }

  /** True when verify_certificate_hash is empty or lists the certificate. */
  matchHash(cert: X509Certificate): boolean {
    if (this.certificateHashes.length === 0) return true;
    return this.certificateHashes.includes(cert.fingerprint256.replace(/:/g, '').toLowerCase());
  }

  static sansOf(cert: X509Certificate): SubjectAltNames { return parseSubjectAltNames(cert.subjectAltName); }
}

function loadCa(vc: CertificateValidationContext, configDir: string, path: string): string {
  const pem = dataSourceToBuffer(vc.trustedCa, configDir, `${path}.trusted_ca`).toString('utf8');
  try {
    parseCertificateList(pem, () => describeSource(vc.trustedCa, configDir));
  } catch (e) {
    throw new ConfigError(`${path}.trusted_ca`, (e as Error).message.replace('certificate chain', 'trusted CA certificates'));
  }
  return pem;
}

function exactOf(m: StringMatcherProto | undefined): string | null {
  return m?.matchPattern.case === 'exact' ? m.matchPattern.value : null;
}

function compileTyped(m: SubjectAltNameMatcher, path: string): SanMatcher {
  const type = m.sanType === SAN_DNS ? 'dns' : m.sanType === SAN_URI ? 'uri' : m.sanType === SAN_EMAIL ? 'email' : m.sanType === SAN_IP ? 'ip' : null;
  if (type === null) throw new ConfigError(`${path}.san_type`, m.sanType === 5 ? 'OTHER_NAME SAN matching is not supported yet' : 'san_type must be DNS, URI, EMAIL or IP_ADDRESS');
  if (m.matcher === undefined) throw new ConfigError(`${path}.matcher`, 'a matcher is required');
  return { types: [type], matcher: compile(m.matcher, `${path}.matcher`), exactDns: type === 'dns' ? exactOf(m.matcher) : null };
}

function compileLegacy(m: StringMatcherProto, path: string): SanMatcher {
  return { types: ['dns', 'uri', 'email', 'ip'], matcher: compile(m, path), exactDns: exactOf(m) };
}

function compile(m: StringMatcherProto, path: string): StringMatcher {
  try {
    return compileStringMatcher(m);
  } catch (e) {
    throw new ConfigError(path, (e as Error).message);
  }
}
