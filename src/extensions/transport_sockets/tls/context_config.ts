/**
 * CommonTlsContext compiled for one side (server or client), after Envoy's
 * `ContextConfigImpl`: certificates (inline, files, static secrets by name,
 * or dynamic SDS secrets; file-based ones reloadable through
 * `watched_directory`), tls_params with Envoy's defaults, ALPN list,
 * validation context (inline, static or SDS, alone or combined with a
 * default one).
 *
 * With SDS the context is not ready until every secret it names has arrived
 * (Envoy's `ContextConfigImpl::isReady`); each pushed secret is compiled by
 * every context using it before it is taken, so a bad one is NACKed and the
 * previous one keeps serving.
 *
 * Envoy's defaults (api/envoy/extensions/transport_sockets/tls/v3/common.proto):
 * minimum TLSv1_2 for clients and servers; maximum TLSv1_3 for servers and
 * TLSv1_2 for clients.
 */
import type { CertificateValidationContext, TlsCertificate, TlsParameters } from '../../../generated/envoy/extensions/transport_sockets/tls/v3/common_pb.js';
import type { SecretProvider } from '../../../envoy/secret/secret_provider.js';
import type { CommonTlsContext } from '../../../generated/envoy/extensions/transport_sockets/tls/v3/tls_pb.js';
import type { SdsSecretConfig } from '../../../generated/envoy/extensions/transport_sockets/tls/v3/secret_pb.js';
import type { TransportSocketFactoryContext } from '../../../envoy/config/typed_config.js';
import { ConfigError } from '../../../config/config_error.js';
import { loadTlsCertificate, type LoadedCertificate } from './certificate.js';
import { CertValidationConfig } from './validation_context.js';
import { watchDirectory } from '../../../config/watched_directory.js';

type TlsVersion = 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
const VERSIONS: ReadonlyArray<TlsVersion | null> = [null, 'TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

/** One configured certificate; `current` changes when its watched directory or its SDS secret does (null: SDS secret not received yet). */
export class CertificateSlot {
  private readonly listeners: Array<() => void> = [];
  constructor(public current: LoadedCertificate | null) {}
  onUpdate(cb: () => void): void { this.listeners.push(cb); }
  /** @internal */
  update(next: LoadedCertificate): void {
    this.current = next;
    for (const cb of this.listeners) cb();
  }
}

/** What the certificates and validation context are read from and how they change. */
export interface TlsContextConfig {
  readonly certificates: ReadonlyArray<CertificateSlot>;
  /** The validation context in force; null when none is configured or its SDS secret has not arrived (see hasValidation). */
  readonly validation: CertValidationConfig | null;
  /** True when a validation context is configured (inline, static secret or SDS), even before its secret arrived. */
  readonly hasValidation: boolean;
  readonly alpnProtocols: ReadonlyArray<string>;
  readonly minVersion: TlsVersion;
  readonly maxVersion: TlsVersion;
  /** OpenSSL cipher list for TLS ≤ 1.2 (undefined: node's default). */
  readonly ciphers: string | undefined;
  /** TLS 1.3 suites named in cipher_suites (undefined: default). */
  readonly cipherSuites13: string | undefined;
  readonly ecdhCurve: string | undefined;
  readonly sigalgs: string | undefined;
  /** True when every SDS secret this context names has arrived (always true without SDS). */
  isReady(): boolean;
  /** Resolves when isReady() becomes true. */
  readonly ready: Promise<void>;
  /** Resolves when warming may end: every SDS secret arrived, or its initial fetch failed or timed out. */
  readonly initialized: Promise<void>;
  /** Names of the SDS secrets not received yet. */
  missingSecrets(): string[];
  /** `cb` runs after a certificate or the validation context changed; `bySds` tells an SDS update from a watched-directory reload. */
  onUpdate(cb: (bySds: boolean) => void): void;
  /** Releases the SDS providers and stops file watches (the listener or cluster is gone). */
  close(): void;
}

/** The TlsContextConfig being built: collects providers, watches and update listeners. */
class TlsContextConfigImpl implements TlsContextConfig {
  readonly certificates: CertificateSlot[] = [];
  validation: CertValidationConfig | null = null;
  hasValidation = false;
  alpnProtocols: ReadonlyArray<string> = [];
  minVersion: TlsVersion = 'TLSv1.2';
  maxVersion: TlsVersion = 'TLSv1.3';
  ciphers: string | undefined;
  cipherSuites13: string | undefined;
  ecdhCurve: string | undefined;
  sigalgs: string | undefined;
  ready: Promise<void> = Promise.resolve();
  initialized: Promise<void> = Promise.resolve();
  private readonly providers: Array<SecretProvider<unknown>> = [];
  /** Undo actions: callback removals, provider releases, watch stops. */
  private readonly cleanups: Array<() => void> = [];
  private readonly listeners: Array<(bySds: boolean) => void> = [];
  private validationPending: SecretProvider<unknown> | null = null;
  private closed = false;

  isReady(): boolean {
    return this.certificates.every((s) => s.current !== null) && this.validationPending === null;
  }

  missingSecrets(): string[] {
    return this.providers.filter((p) => !p.isReady()).map((p) => p.name);
  }

  onUpdate(cb: (bySds: boolean) => void): void { this.listeners.push(cb); }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const undo of this.cleanups.splice(0).reverse()) undo();
    this.validation?.close();
  }

  /** @internal */
  changed(bySds: boolean): void {
    if (this.closed) return;
    for (const cb of this.listeners) cb(bySds);
  }

  /** @internal A provider this context holds (released on close) and the callbacks registered on it. */
  own(provider: SecretProvider<unknown>, removers: ReadonlyArray<() => void>): void {
    this.providers.push(provider);
    this.cleanups.push(() => provider.release(), ...removers);
    this.ready = Promise.all(this.providers.map((p) => p.ready)).then(() => undefined);
    this.initialized = Promise.all(this.providers.map((p) => p.initialized)).then(() => undefined);
  }

  /** @internal */
  addCleanup(undo: () => void): void { this.cleanups.push(undo); }

  /** @internal The validation context from SDS: pending until its provider has a secret. */
  setValidation(v: CertValidationConfig | null, pendingOn: SecretProvider<unknown> | null): void {
    const old = this.validation;
    this.validation = v;
    this.validationPending = v === null ? pendingOn : null;
    if (old !== null && old !== v) old.close();
  }
}

function resolveStaticSecret(sds: SdsSecretConfig, ctx: TransportSocketFactoryContext, path: string) {
  const s = ctx.secretManager.findStaticSecret(sds.name);
  if (s === undefined) throw new ConfigError(`${path}.name`, `Unknown static secret: ${sds.name}`);
  return s;
}

/** The SDS provider of `kind` for `sds` (which has an sds_config); ConfigError when this server cannot do SDS. */
function sdsProvider<K extends 'tls' | 'validation'>(
  kind: K, sds: SdsSecretConfig, ctx: TransportSocketFactoryContext, path: string,
): K extends 'tls' ? SecretProvider<TlsCertificate> : SecretProvider<CertificateValidationContext> {
  const m = ctx.secretManager;
  const find = kind === 'tls' ? m.findOrCreateTlsCertificateProvider?.bind(m) : m.findOrCreateCertificateValidationContextProvider?.bind(m);
  if (find === undefined) {
    throw new ConfigError(`${path}.sds_config`, 'sds_config needs dynamic_resources (an xDS subscription factory), and this context has none');
  }
  return find(sds.sdsConfig!, sds.name, path) as never;
}

function loadSlot(cfg: TlsContextConfigImpl, tc: TlsCertificate, ctx: TransportSocketFactoryContext, path: string): CertificateSlot {
  const slot = new CertificateSlot(loadTlsCertificate(tc, ctx.configDir, path));
  const filesBased = tc.certificateChain?.specifier.case === 'filename' || tc.privateKey?.specifier.case === 'filename';
  if (tc.watchedDirectory !== undefined && filesBased) {
    cfg.addCleanup(watchDirectory(tc.watchedDirectory.path, ctx.configDir, path, () => {
      const next = loadTlsCertificate(tc, ctx.configDir, path);
      if (next.certPem === slot.current?.certPem && next.keyPem === slot.current?.keyPem) return false;
      slot.update(next);
      return true;
    }));
  }
  slot.onUpdate(() => cfg.changed(false));
  return slot;
}

/**
 * A certificate from SDS: each pushed secret is compiled (a bad chain or key
 * rejects the update, naming the secret and field), then taken.
 */
function sdsSlot(cfg: TlsContextConfigImpl, sds: SdsSecretConfig, ctx: TransportSocketFactoryContext, path: string): CertificateSlot {
  const provider = sdsProvider('tls', sds, ctx, path);
  const where = `Secret '${sds.name}'.tls_certificate`;
  const slot = new CertificateSlot(null);
  // Compiled in the validation callback, taken in the update callback.
  let staged: { tc: TlsCertificate; loaded: LoadedCertificate } | null = null;
  cfg.own(provider, [
    provider.addValidationCallback((tc) => { staged = { tc, loaded: loadTlsCertificate(tc, ctx.configDir, where) }; }),
    provider.addUpdateCallback(() => {
      const tc = provider.secret()!;
      const loaded = staged?.tc === tc ? staged.loaded : loadTlsCertificate(tc, ctx.configDir, where);
      staged = null;
      slot.current = loaded;
      cfg.changed(true);
    }),
  ]);
  // A provider shared with another context may already have its secret.
  const have = provider.secret();
  if (have !== null) slot.current = loadTlsCertificate(have, ctx.configDir, where);
  return slot;
}

/** A validation context from SDS, merged over `def` (combined_validation_context) when given. */
function sdsValidation(
  cfg: TlsContextConfigImpl, sds: SdsSecretConfig, def: CertificateValidationContext | undefined, ctx: TransportSocketFactoryContext, path: string,
): void {
  const provider = sdsProvider('validation', sds, ctx, path);
  const where = `Secret '${sds.name}'.validation_context`;
  const compile = (vc: CertificateValidationContext): CertValidationConfig =>
    new CertValidationConfig(mergeValidation(def, vc), ctx.configDir, where, { watch: false });
  let staged: { vc: CertificateValidationContext; compiled: CertValidationConfig } | null = null;
  cfg.own(provider, [
    provider.addValidationCallback((vc) => { staged = { vc, compiled: compile(vc) }; }),
    provider.addUpdateCallback(() => {
      const vc = provider.secret()!;
      const compiled = staged?.vc === vc ? staged.compiled : compile(vc);
      staged = null;
      cfg.setValidation(compiled, provider);
      cfg.changed(true);
    }),
  ]);
  cfg.hasValidation = true;
  const have = provider.secret();
  cfg.setValidation(have !== null ? compile(have) : null, provider);
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

/**
 * Compiles `common` (at field path `path`, e.g. `...typed_config.common_tls_context`).
 * Throws ConfigError (having released whatever it took).
 */
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

  const cfg = new TlsContextConfigImpl();
  try {
    Object.assign(cfg, tlsParamsOf(c?.tlsParams, isServer, `${path}.tls_params`));
    cfg.alpnProtocols = c?.alpnProtocols ?? [];
    (c?.tlsCertificates ?? []).forEach((tc, i) => cfg.certificates.push(loadSlot(cfg, tc, ctx, `${path}.tls_certificates[${i}]`)));
    (c?.tlsCertificateSdsSecretConfigs ?? []).forEach((sds, i) => {
      const p = `${path}.tls_certificate_sds_secret_configs[${i}]`;
      if (sds.sdsConfig !== undefined) {
        cfg.certificates.push(sdsSlot(cfg, sds, ctx, p));
        return;
      }
      const secret = resolveStaticSecret(sds, ctx, p);
      if (secret.type.case !== 'tlsCertificate') throw new ConfigError(`${p}.name`, `secret ${sds.name} is not a tls_certificate`);
      cfg.certificates.push(loadSlot(cfg, secret.type.value, ctx, `static_resources.secrets[${JSON.stringify(sds.name)}].tls_certificate`));
    });
    buildValidation(cfg, c, ctx, path);
  } catch (e) {
    cfg.close();
    throw e;
  }
  return cfg;
}

function buildValidation(cfg: TlsContextConfigImpl, c: CommonTlsContext | undefined, ctx: TransportSocketFactoryContext, path: string): void {
  const vt = c?.validationContextType;
  const staticValidation = (sds: SdsSecretConfig, p: string): CertificateValidationContext => {
    const secret = resolveStaticSecret(sds, ctx, p);
    if (secret.type.case !== 'validationContext') throw new ConfigError(`${p}.name`, `secret ${sds.name} is not a validation_context`);
    return secret.type.value;
  };
  const useStatic = (v: CertValidationConfig): void => {
    cfg.hasValidation = true;
    cfg.setValidation(v, null);
    v.onUpdate(() => cfg.changed(false));
  };
  switch (vt?.case) {
    case 'validationContext':
      useStatic(new CertValidationConfig(vt.value, ctx.configDir, `${path}.validation_context`));
      break;
    case 'validationContextSdsSecretConfig': {
      const p = `${path}.validation_context_sds_secret_config`;
      if (vt.value.sdsConfig !== undefined) {
        sdsValidation(cfg, vt.value, undefined, ctx, p);
        break;
      }
      useStatic(new CertValidationConfig(staticValidation(vt.value, p), ctx.configDir, `static_resources.secrets[${JSON.stringify(vt.value.name)}].validation_context`));
      break;
    }
    case 'combinedValidationContext': {
      const p = `${path}.combined_validation_context`;
      const named = vt.value.validationContextSdsSecretConfig;
      if (named === undefined) throw new ConfigError(`${p}.validation_context_sds_secret_config`, 'is required');
      const np = `${p}.validation_context_sds_secret_config`;
      if (named.sdsConfig !== undefined) {
        sdsValidation(cfg, named, vt.value.defaultValidationContext, ctx, np);
        break;
      }
      const merged = mergeValidation(vt.value.defaultValidationContext, staticValidation(named, np));
      useStatic(new CertValidationConfig(merged, ctx.configDir, p));
      break;
    }
    case undefined:
      break;
    default:
      throw new ConfigError(`${path}.${vt!.case}`, 'certificate provider validation contexts are not supported yet');
  }
}
