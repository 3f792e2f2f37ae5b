/**
 * A source of one secret that can change while the proxy runs, after Envoy's
 * `envoy/secret/secret_provider.h`: an SDS subscription to a named Secret,
 * shared by every TLS context that names the same (sds_config, name).
 *
 * Users check each new secret before it is taken (validation callbacks: throw
 * a ConfigError to reject it — the update is NACKed and the previous secret
 * stays), then hear that it was taken (update callbacks) and read it with
 * `secret()`.
 *
 * Readiness, for listener and cluster warming: `ready` resolves when the
 * first secret is in; `initialized` resolves when warming may end (Envoy's
 * init target): the first secret is in, or the initial fetch failed, was
 * rejected or timed out (`initial_fetch_timeout`) — the users then stay not
 * ready (refusing handshakes) until a secret comes.
 */
import type { CertificateValidationContext, TlsCertificate } from '../../generated/envoy/extensions/transport_sockets/tls/v3/common_pb.js';
import type { GenericSecret } from '../../generated/envoy/extensions/transport_sockets/tls/v3/secret_pb.js';

export interface SecretProvider<T> {
  /** The secret's name (SdsSecretConfig.name). */
  readonly name: string;
  /** The secret in force, or null before the first one arrived. */
  secret(): T | null;
  /** True once a secret is in force. */
  isReady(): boolean;
  /** Resolves when the first secret is in force. */
  readonly ready: Promise<void>;
  /** Resolves when warming may end: first secret in, or the initial fetch failed or timed out. */
  readonly initialized: Promise<void>;
  /**
   * `cb` checks a candidate secret for one user; it throws (a ConfigError
   * naming the field) to reject the update. Returns a function that removes it.
   */
  addValidationCallback(cb: (candidate: T) => void): () => void;
  /** `cb` runs after a new secret was taken (read it with secret()). Returns a function that removes it. */
  addUpdateCallback(cb: () => void): () => void;
  /** Drops one user's hold (taken by the SecretManager's findOrCreate*); the last one stops the subscription. */
  release(): void;
}

export type TlsCertificateSecretProvider = SecretProvider<TlsCertificate>;
export type CertificateValidationContextSecretProvider = SecretProvider<CertificateValidationContext>;
export type GenericSecretProvider = SecretProvider<GenericSecret>;
