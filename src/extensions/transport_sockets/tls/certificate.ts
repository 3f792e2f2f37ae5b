/**
 * One certificate + private key pair as a TLS context uses it: the PEM text,
 * a parsed X509Certificate, and its DNS/URI SANs and CN (for choosing a
 * certificate by SNI and for %DOWNSTREAM_LOCAL_URI_SAN%). Loaded from a
 * TlsCertificate's DataSources; a chain or key that does not parse, or a key
 * that does not belong to the certificate, is a ConfigError naming the file
 * and the field.
 */
import { createSecureContext } from 'node:tls';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { isAbsolute, resolve } from 'node:path';
import type { DataSource } from '../../../generated/envoy/config/core/v3/base_pb.js';
import type { TlsCertificate } from '../../../generated/envoy/extensions/transport_sockets/tls/v3/common_pb.js';
import { ConfigError } from '../../../config/config_error.js';
import { dataSourceToBuffer } from '../../../config/well_known.js';
import { parseSubjectAltNames, type SubjectAltNames } from './subject_alt_names.js';

export interface LoadedCertificate {
  readonly certPem: string;
  readonly keyPem: string;
  readonly x509: X509Certificate;
  readonly sans: SubjectAltNames;
  /** Subject CN ('' when none). */
  readonly commonName: string;
}

/** `file /x/y.pem` or `inline_string` — what the error names. */
export function describeSource(ds: DataSource | undefined, configDir: string): string {
  const s = ds?.specifier;
  if (s?.case === 'filename') return `file ${isAbsolute(s.value) ? s.value : resolve(configDir, s.value)}`;
  if (s?.case === 'inlineString') return 'inline_string';
  if (s?.case === 'inlineBytes') return 'inline_bytes';
  if (s?.case === 'environmentVariable') return `environment variable ${s.value}`;
  return 'an empty data source';
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The PEM blocks of a certificate list (trusted_ca or a chain); throws `what` naming the source when there is none or one is bad. */
export function parseCertificateList(pem: string, where: () => string): X509Certificate[] {
  const blocks = pem.match(PEM_CERT) ?? [];
  if (blocks.length === 0) throw new Error(`Failed to load certificate chain from ${where()}: no PEM certificate found`);
  return blocks.map((b) => {
    try {
      return new X509Certificate(b);
    } catch (e) {
      throw new Error(`Failed to load certificate chain from ${where()}: ${(e as Error).message}`);
    }
  });
}

export function commonNameOf(x: X509Certificate): string {
  for (const line of x.subject.split('\n')) if (line.startsWith('CN=')) return line.slice(3);
  return '';
}

/**
 * Reads and checks a TlsCertificate. `path` is its field path (e.g.
 * `...common_tls_context.tls_certificates[0]`). Throws ConfigError.
 */
export function loadTlsCertificate(tc: TlsCertificate, configDir: string, path: string): LoadedCertificate {
  if (tc.privateKeyProvider !== undefined) throw new ConfigError(`${path}.private_key_provider`, 'private key providers are not supported');
  if (tc.ocspStaple !== undefined) throw new ConfigError(`${path}.ocsp_staple`, 'OCSP stapling is not supported yet');
  const chainPath = `${path}.certificate_chain`;
  const keyPath = `${path}.private_key`;
  const certPem = dataSourceToBuffer(tc.certificateChain, configDir, chainPath).toString('utf8');
  const keyBuf = dataSourceToBuffer(tc.privateKey, configDir, keyPath);
  const password = tc.password !== undefined ? dataSourceToBuffer(tc.password, configDir, `${path}.password`).toString('utf8') : undefined;
  let chain: X509Certificate[];
  try {
    chain = parseCertificateList(certPem, () => describeSource(tc.certificateChain, configDir));
  } catch (e) {
    throw new ConfigError(chainPath, (e as Error).message);
  }
  let keyPem: string;
  try {
    keyPem = createPrivateKey({ key: keyBuf, format: 'pem', passphrase: password }).export({ format: 'pem', type: 'pkcs8' }).toString();
  } catch (e) {
    throw new ConfigError(keyPath, `Failed to load private key from ${describeSource(tc.privateKey, configDir)}: ${(e as Error).message}`);
  }
  try {
    // The key must belong to the leaf: OpenSSL checks that when the context is built.
    createSecureContext({ cert: certPem, key: keyPem });
  } catch (e) {
    throw new ConfigError(keyPath, `Failed to load private key from ${describeSource(tc.privateKey, configDir)}: ${(e as Error).message} (does it match ${describeSource(tc.certificateChain, configDir)}?)`);
  }
  const x509 = chain[0]!;
  return { certPem, keyPem, x509, sans: parseSubjectAltNames(x509.subjectAltName), commonName: commonNameOf(x509) };
}
