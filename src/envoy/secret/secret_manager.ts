/**
 * Secrets by name, after Envoy's `envoy/secret/secret_manager.h`. Static
 * secrets come from the bootstrap's `static_resources.secrets`; an SDS
 * subscription (issue 4) will add dynamic ones under the same lookup.
 */
import type { Secret } from '../../generated/envoy/extensions/transport_sockets/tls/v3/secret_pb.js';

export interface SecretManager {
  /** The static secret named `name`, or undefined. */
  findStaticSecret(name: string): Secret | undefined;
}
