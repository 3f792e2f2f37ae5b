/**
 * What extensions get to build themselves, after Envoy's
 * `envoy/server/factory_context.h`. Handed to every factory at config time.
 */
import type { Scope } from '../stats/stats.js';
import type { ClusterManager } from '../upstream/cluster_manager.js';

/** The bootstrap's node, as sent to control planes and shown by /server_info. */
export interface LocalInfo {
  readonly nodeId: string;
  readonly clusterName: string;
  readonly zone: string;
}

/** Tells long-lived connections whether to close (listener drain, /healthcheck/fail). */
export interface DrainDecision {
  /** True once connections should close (add `connection: close`, send GOAWAY...). */
  drainClose(): boolean;
  /** Called once when draining starts; returns an unregister function. */
  addOnDrainCloseCb(cb: () => void): () => void;
}

export interface ListenerFactoryInfo {
  readonly name: string;
  /** per_connection_buffer_limit_bytes (default 1 MiB). */
  readonly perConnectionBufferLimitBytes: number;
}

export interface FactoryContext {
  /** The root stats scope. */
  readonly scope: Scope;
  /** The scope of the listener being built (`listener.<address>.`), or the root scope. */
  readonly listenerScope: Scope;
  readonly clusterManager: ClusterManager;
  readonly localInfo: LocalInfo;
  readonly drainDecision: DrainDecision;
  /** Where relative file paths in config are resolved from (the bootstrap's folder). */
  readonly configDir: string;
  /** The listener being built, for settings network filters inherit (null outside a listener). */
  readonly listener: ListenerFactoryInfo | null;
  /** Unpacks an `Any` (or TypedStruct) into a message by its type URL; throws ConfigError when unknown. */
  unpackAny(any: unknown, path: string): import('@bufbuild/protobuf').Message;
  /** Warnings collected while building (deprecated fields...), shown at start-up. */
  warn(path: string, message: string): void;
  /** Static (bootstrap) secrets for TLS contexts; absent in contexts built without a server. */
  readonly secretManager?: import('../secret/secret_manager.js').SecretManager;
}
