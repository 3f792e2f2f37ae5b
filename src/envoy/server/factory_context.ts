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
  drainClose(): boolean;
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
  /** Unpacks an `Any` (or TypedStruct) into a message by its type URL; throws ConfigError when unknown. */
  unpackAny(any: unknown, path: string): import('@bufbuild/protobuf').Message;
  /** Warnings collected while building (deprecated fields...), shown at start-up. */
  warn(path: string, message: string): void;
}
