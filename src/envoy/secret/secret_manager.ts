/**
 * Secrets by name, after Envoy's `envoy/secret/secret_manager.h`. Static
 * secrets come from the bootstrap's `static_resources.secrets`; dynamic ones
 * from SDS subscriptions (a TLS context's `sds_config`), one provider per
 * (config source, name), shared by every context that names it.
 */
import type { ConfigSource } from '../../generated/envoy/config/core/v3/config_source_pb.js';
import type { Secret } from '../../generated/envoy/extensions/transport_sockets/tls/v3/secret_pb.js';
import type {
  CertificateValidationContextSecretProvider,
  GenericSecretProvider,
  TlsCertificateSecretProvider,
} from './secret_provider.js';

export interface SecretManager {
  /** The static secret named `name`, or undefined. */
  findStaticSecret(name: string): Secret | undefined;

  /*
   * The SDS providers. Each call takes a hold on the provider (release() it
   * when the user goes away). `path` is the SdsSecretConfig's field path, for
   * errors. Throws ConfigError when the config source cannot be used, or
   * when there is no xDS subscription factory. Absent on secret managers
   * that only know static secrets (contexts built without a server).
   */
  findOrCreateTlsCertificateProvider?(sdsConfig: ConfigSource, name: string, path: string): TlsCertificateSecretProvider;
  findOrCreateCertificateValidationContextProvider?(sdsConfig: ConfigSource, name: string, path: string): CertificateValidationContextSecretProvider;
  findOrCreateGenericSecretProvider?(sdsConfig: ConfigSource, name: string, path: string): GenericSecretProvider;
}
