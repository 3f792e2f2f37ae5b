/**
 * SecretManagerImpl, after Envoy's `source/common/secret/secret_manager_impl.cc`:
 *
 * - the bootstrap's `static_resources.secrets` by name (a duplicate name is a
 *   startup error, as in Envoy: "Duplicate static TlsCertificate secret name");
 * - SDS providers (SdsApi), one per (kind, sds_config, name) and shared by
 *   every TLS context that names them, each with one subscription to the
 *   Secret under the scope `sds.<name>.`. A provider goes away (its
 *   subscription stops) when its last user releases it.
 *
 * The xDS SubscriptionFactory is given to the constructor, or later with
 * setSubscriptionFactory() when it is built after the secret manager (the
 * server builds it after the cluster manager, whose static clusters may
 * already name SDS secrets): providers created before wait, not ready, and
 * their subscriptions start when it comes. Without either, an `sds_config`
 * is a ConfigError.
 */
import { toBinary, type Message } from '@bufbuild/protobuf';
import type { ConfigSource } from '../generated/envoy/config/core/v3/config_source_pb.js';
import type { CertificateValidationContext, TlsCertificate } from '../generated/envoy/extensions/transport_sockets/tls/v3/common_pb.js';
import type { GenericSecret, Secret } from '../generated/envoy/extensions/transport_sockets/tls/v3/secret_pb.js';
import type { SecretManager } from '../envoy/secret/secret_manager.js';
import type { Scope } from '../envoy/stats/stats.js';
import type { SubscriptionFactory } from '../envoy/config/subscription.js';
import { ConfigError } from '../config/config_error.js';
import { messageSchema } from '../config/type_registry.js';
import { StatsStore } from '../stats/stats_impl.js';
import { SdsApi, type SecretKind } from './sds_api.js';

export interface SecretManagerOptions {
  /** The root stats scope (`sds.<name>.*`); a private one when absent. */
  readonly scope?: Scope;
  /** Where SDS subscriptions come from. */
  readonly subscriptionFactory?: SubscriptionFactory;
  /** The subscription factory will be handed over with setSubscriptionFactory(). */
  readonly awaitSubscriptionFactory?: boolean;
  /** Relative file names in dynamic secrets resolve against it (default: the working directory). */
  readonly configDir?: string;
}

export class SecretManagerImpl implements SecretManager {
  private readonly secrets = new Map<string, Secret>();
  private readonly providers = new Map<string, SdsApi>();
  /** Providers created before the subscription factory, with the field path of their first user. */
  private readonly waiting: Array<{ provider: SdsApi; path: string }> = [];
  private subscriptionFactory: SubscriptionFactory | null;
  private readonly awaitSubscriptionFactory: boolean;
  private readonly scope: Scope;
  private readonly configDir: string;

  constructor(options: SecretManagerOptions = {}) {
    this.subscriptionFactory = options.subscriptionFactory ?? null;
    this.awaitSubscriptionFactory = options.awaitSubscriptionFactory ?? false;
    this.scope = options.scope ?? new StatsStore().rootScope;
    this.configDir = options.configDir ?? process.cwd();
  }

  /** `path` is the field path of the list, e.g. `static_resources.secrets`. */
  addStaticSecrets(secrets: ReadonlyArray<Secret>, path: string): void {
    for (const [i, s] of secrets.entries()) {
      if (s.name === '') throw new ConfigError(`${path}[${i}].name`, 'a static secret needs a name');
      if (this.secrets.has(s.name)) throw new ConfigError(`${path}[${i}].name`, `duplicate static secret name ${s.name}`);
      this.secrets.set(s.name, s);
    }
  }

  findStaticSecret(name: string): Secret | undefined {
    return this.secrets.get(name);
  }

  /**
   * Hands over the subscription factory and starts the subscriptions of the
   * providers that waited for it. Throws ConfigError (naming the first user's
   * `sds_config`) for a config source it cannot use.
   */
  setSubscriptionFactory(factory: SubscriptionFactory): void {
    this.subscriptionFactory = factory;
    for (const { provider, path } of this.waiting.splice(0)) {
      if (this.providers.get(keyOf(provider.kind, provider.configSource, provider.name)) === provider) provider.subscribe(factory, path);
    }
  }

  findOrCreateTlsCertificateProvider(sdsConfig: ConfigSource, name: string, path: string): SdsApi<TlsCertificate> {
    return this.findOrCreate<TlsCertificate>('tls_certificate', sdsConfig, name, path);
  }

  findOrCreateCertificateValidationContextProvider(sdsConfig: ConfigSource, name: string, path: string): SdsApi<CertificateValidationContext> {
    return this.findOrCreate<CertificateValidationContext>('validation_context', sdsConfig, name, path);
  }

  findOrCreateGenericSecretProvider(sdsConfig: ConfigSource, name: string, path: string): SdsApi<GenericSecret> {
    return this.findOrCreate<GenericSecret>('generic_secret', sdsConfig, name, path);
  }

  /** The live SDS providers (for /config_dump's dynamic secrets). */
  dynamicSecretProviders(): ReadonlyArray<SdsApi> {
    return [...this.providers.values()];
  }

  private findOrCreate<T extends Message>(
    kind: SecretKind, sdsConfig: ConfigSource, name: string, path: string,
  ): SdsApi<T> {
    if (name === '') throw new ConfigError(`${path}.name`, 'an SDS secret needs a name');
    const key = keyOf(kind, sdsConfig, name);
    let provider = this.providers.get(key);
    if (provider === undefined) {
      const factory = this.subscriptionFactory;
      if (factory === null && !this.awaitSubscriptionFactory) {
        throw new ConfigError(`${path}.sds_config`, 'sds_config needs dynamic_resources (an xDS subscription factory), and this server has none');
      }
      const p: SdsApi = new SdsApi({
        name, kind, configSource: sdsConfig,
        scope: this.scope.createScope(`sds.${name}.`),
        configDir: this.configDir,
        onDestroy: () => { if (this.providers.get(key) === p) this.providers.delete(key); },
      });
      if (factory !== null) p.subscribe(factory, `${path}.sds_config`);
      else this.waiting.push({ provider: p, path: `${path}.sds_config` });
      this.providers.set(key, p);
      provider = p;
    }
    return provider.retain() as unknown as SdsApi<T>;
  }
}

/** Envoy keys dynamic secret providers by the config source and the name. */
function keyOf(kind: SecretKind, source: ConfigSource, name: string): string {
  const bytes = toBinary(messageSchema('envoy.config.core.v3.ConfigSource'), source as unknown as Message);
  return `${kind}\0${Buffer.from(bytes).toString('base64')}\0${name}`;
}
