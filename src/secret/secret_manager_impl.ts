/**
 * SecretManagerImpl: the bootstrap's `static_resources.secrets` by name,
 * after Envoy's `source/common/secret/secret_manager_impl.cc`. A duplicate
 * name is a startup error, as in Envoy ("Duplicate static TlsCertificate secret name").
 */
import type { Secret } from '../generated/envoy/extensions/transport_sockets/tls/v3/secret_pb.js';
import type { SecretManager } from '../envoy/secret/secret_manager.js';
import { ConfigError } from '../config/config_error.js';

export class SecretManagerImpl implements SecretManager {
  private readonly secrets = new Map<string, Secret>();

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
}
