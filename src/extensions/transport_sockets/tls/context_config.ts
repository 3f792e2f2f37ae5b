/**
 * CommonTlsContext compiled for one side (server or client), after Envoy's
 * `ContextConfigImpl`: certificates (inline, files, or static SDS secrets by
 * name; file-based ones reloadable through `watched_directory`), tls_params
 * with Envoy's defaults, ALPN list, validation context.
 *
 * Envoy's defaults (api/envoy/extensions/transport_sockets/tls/v3/common.proto):
 * minimum TLSv1_2 for clients and servers; maximum TLSv1_3 for servers and
 * TLSv1_2 for clients.
 */
import type { CertificateValidationContext, TlsCertificate, TlsParameters } from '../../../generated/envoy/extensions/transport_sockets/tls/v3/common_pb.js';
import type { CommonTlsContext } from '../../../generated/envoy/extensions/transport_sockets/tls/v3/tls_pb.js';
import type { SdsSecretConfig } from '../../../generated/envoy/extensions/transport_sockets/tls/v3/secret_pb.js';
import type { TransportSocketFactoryContext } from '../../../envoy/config/typed_config.js';
import { ConfigError } from '../../../config/config_error.js';
import { loadTlsCertificate, type LoadedCertificate } from './certificate.js';
import { CertValidationConfig } from './validation_context.js';
import { watchDirectory } from './watched_directory.js';

type TlsVersion = 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
const VERSIONS: ReadonlyArray<TlsVersion | null> = [null, 'TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

/** One configured certificate; `current` changes when its watched directory does. */
export class CertificateSlot {
  private readonly listeners: Array<() => void> = [];
  constructor(public current: LoadedCertificate) {}
  onUpdate(cb: () => void): void { this.listeners.push(cb); }
  /** @internal */
  update(next: LoadedCertificate): void {
    this.current = next;
    for (const cb of this.listeners) cb();
  }
}

export interface TlsContextConfig {
  readonly certificates: ReadonlyArray<CertificateSlot>;
  readonly validation: CertValidationConfig | null;
  readonly alpnProtocols: ReadonlyArray<string>;
  readonly minVersion: TlsVersion;
  readonly maxVersion: TlsVersion;
  /** OpenSSL cipher list for TLS ≤ 1.2 (undefined: node's default). */
  readonly ciphers: string | undefined;
  /** TLS 1.3 suites named in cipher_suites (undefined: default). */
  readonly cipherSuites13: string | undefined;
  readonly ecdhCurve: string | undefined;
  readonly sigalgs: string | undefined;
}

function resolveSecret(sds: SdsSecretConfig, ctx: TransportSocketFactoryContext, path: string) {
  if (sds.sdsConfig !== undefined) {
    throw new ConfigError(`${path}.sds_config`, 'dynamic SDS (sds_config) is not supported yet; name a static_resources.secrets entry');
  }
  const s = ctx.secretManager.findStaticSecret(sds.name);
  if (s === undefined) throw new ConfigError(`${path}.name`, `Unknown static secret: ${sds.name}`);
  return s;
}

function loadSlot(tc: TlsCertificate, ctx: TransportSocketFactoryContext, path: string): CertificateSlot {
  const slot = new CertificateSlot(loadTlsCertificate(tc, ctx.configDir, path));
  const filesBased = tc.certificateChain?.specifier.case === 'filename' || tc.privateKey?.specifier.case === 'filename';
  if (tc.watchedDirectory !== undefined && filesBased) {
    watchDirectory(tc.watchedDirectory.path, ctx.configDir, path, () => {
      const next = loadTlsCertificate(tc, ctx.configDir, path);
      if (next.certPem === slot.current.certPem && next.keyPem === slot.current.keyPem) return false;
      slot.update(next);
      return true;
    });
  }
  return slot;
}

/** default_validation_context merged with the named one (Envoy merges the dynamic one over the default). */
function mergeValidation(def: CertificateValidationContext | undefined, named: CertificateValidationContext): CertificateValidationContext {
  if (def === undefined) return named;
  return {
    ...def,
    ...Object.fromEntries(Object.entries(named).filter(([, v]) => v !== undefined && !(Array.isArray(v) && v.length === 0))),
  } as CertificateValidationContext;
}

function versionOf(v: number, def: TlsVersion, path: string): TlsVersion {
  if (v === 0) return def;
  const out = VERSIONS[v];
  if (out === null || out === undefined) throw new ConfigError(path, `unknown TLS version ${v}`);
  return out;
}

function tlsParamsOf(p: TlsParameters | undefined, isServer: boolean, path: string) {
  const minVersion = versionOf(p?.tlsMinimumProtocolVersion ?? 0, 'TLSv1.2', `${path}.tls_minimum_protocol_version`);
  const maxVersion = versionOf(p?.tlsMaximumProtocolVersion ?? 0, isServer ? 'TLSv1.3' : 'TLSv1.2', `${path}.tls_maximum_protocol_version`);
  if (VERSIONS.indexOf(minVersion) > VERSIONS.indexOf(maxVersion)) {
    throw new ConfigError(path, `tls_minimum_protocol_version ${minVersion} is above tls_maximum_protocol_version ${maxVersion}`);
  }
  // Envoy's cipher_suites are BoringSSL names; TLS 1.3 suites (TLS_*) go to OpenSSL's separate list.
  // BoringSSL's equal-preference groups `[A|B]` become plain entries.
  const suites = (p?.cipherSuites ?? []).flatMap((s) => s.replace(/^\[|\]$/g, '').split('|')).filter((s) => s !== '');
  const s13 = suites.filter((s) => s.startsWith('TLS_'));
  const s12 = suites.filter((s) => !s.startsWith('TLS_'));
  return {
    minVersion, maxVersion,
    ciphers: s12.length > 0 ? s12.join(':') : undefined,
    cipherSuites13: s13.length > 0 ? s13.join(':') : undefined,
    ecdhCurve: (p?.ecdhCurves ?? []).length > 0 ? p!.ecdhCurves.join(':') : undefined,
    sigalgs: (p?.signatureAlgorithms ?? []).length > 0 ? p!.signatureAlgorithms.join(':') : undefined,
  };
}

/** Compiles `common` (at field path `path`, e.g. `...typed_config.common_tls_context`). Throws ConfigError. */
export function buildTlsContextConfig(
  common: CommonTlsContext | undefined, ctx: TransportSocketFactoryContext, path: string, isServer: boolean,
): TlsContextConfig {
  const c = common;
  const unsupported: Array<[unknown, string]> = [
    [c?.tlsCertificateProviderInstance, 'tls_certificate_provider_instance'],
    [c?.tlsCertificateCertificateProvider, 'tls_certificate_certificate_provider'],
    [c?.tlsCertificateCertificateProviderInstance, 'tls_certificate_certificate_provider_instance'],
    [c?.customHandshaker, 'custom_handshaker'],
    [c?.keyLog, 'key_log'],
  ];
  for (const [v, name] of unsupported) if (v !== undefined) throw new ConfigError(`${path}.${name}`, `${name} is not supported yet`);

  const certificates: CertificateSlot[] = [];
  (c?.tlsCertificates ?? []).forEach((tc, i) => certificates.push(loadSlot(tc, ctx, `${path}.tls_certificates[${i}]`)));
  (c?.tlsCertificateSdsSecretConfigs ?? []).forEach((sds, i) => {
    const p = `${path}.tls_certificate_sds_secret_configs[${i}]`;
    const secret = resolveSecret(sds, ctx, p);
    if (secret.type.case !== 'tlsCertificate') throw new ConfigError(`${p}.name`, `secret ${sds.name} is not a tls_certificate`);
    certificates.push(loadSlot(secret.type.value, ctx, `static_resources.secrets[${JSON.stringify(sds.name)}].tls_certificate`));
  });

  let validation: CertValidationConfig | null = null;
  const vt = c?.validationContextType;
  const sdsValidation = (sds: SdsSecretConfig, p: string): CertificateValidationContext => {
    const secret = resolveSecret(sds, ctx, p);
    if (secret.type.case !== 'validationContext') throw new ConfigError(`${p}.name`, `secret ${sds.name} is not a validation_context`);
    return secret.type.value;
  };
  switch (vt?.case) {
    case 'validationContext':
      validation = new CertValidationConfig(vt.value, ctx.configDir, `${path}.validation_context`);
      break;
    case 'validationContextSdsSecretConfig': {
      const p = `${path}.validation_context_sds_secret_config`;
      validation = new CertValidationConfig(sdsValidation(vt.value, p), ctx.configDir, `static_resources.secrets[${JSON.stringify(vt.value.name)}].validation_context`);
      break;
    }
    case 'combinedValidationContext': {
      const p = `${path}.combined_validation_context`;
      const named = vt.value.validationContextSdsSecretConfig;
      if (named === undefined) throw new ConfigError(`${p}.validation_context_sds_secret_config`, 'is required');
      const merged = mergeValidation(vt.value.defaultValidationContext, sdsValidation(named, `${p}.validation_context_sds_secret_config`));
      validation = new CertValidationConfig(merged, ctx.configDir, p);
      break;
    }
    case undefined:
      break;
    default:
      throw new ConfigError(`${path}.${vt!.case}`, 'certificate provider validation contexts are not supported yet');
  }
  return {
    certificates,
    validation,
    alpnProtocols: c?.alpnProtocols ?? [],
    ...tlsParamsOf(c?.tlsParams, isServer, `${path}.tls_params`),
  };
}
