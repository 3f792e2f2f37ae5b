/**
 * What extensions get to build themselves, after Envoy's
 * `envoy/server/factory_context.h`. Handed to every factory at config time.
 */
import type { Scope } from '../stats/stats.js';
import type { ClusterManager } from '../upstream/cluster_manager.js';
import type { InitManager } from '../init/init.js';
import type { SubscriptionFactory } from '../config/subscription.js';
import type { TimeSource } from '../common/time.js';

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
  /**
   * Called once when draining starts; returns an unregister function.
   * `closeIdle` is true (or absent) on shutdown: idle connections close at
   * once. It is false when one listener drains (replaced or removed by LDS):
   * as in Envoy, an idle HTTP/1 connection then stays until its next
   * response, which carries `connection: close`, or until the drain time
   * ends — closing it while the client may be sending on it would fail that
   * request. HTTP/2 connections get GOAWAY either way.
   */
  addOnDrainCloseCb(cb: (closeIdle?: boolean) => void): () => void;
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
  /**
   * Where dynamic resources (HCM `rds`) are subscribed to; absent when the
   * bootstrap has no dynamic_resources / no xDS transport is wired.
   */
  readonly subscriptionFactory?: SubscriptionFactory;
  /**
   * The init manager of the listener being built: targets added here (RDS
   * subscriptions) hold the listener back — warming, not bound — until they
   * are ready. Absent outside listeners.
   */
  readonly initManager?: InitManager;
  /**
   * Registers cleanup for when the listener being built is torn down
   * (drained after an update or removal, replaced while warming, or failed to
   * build): shared resources such as RDS subscriptions are released here.
   * Absent outside listeners.
   */
  addListenerDestroyCb?(cb: () => void): void;
  /**
   * The clock for timers extensions arm (fault delays, rate limiters).
   * Absent: the real clock (`realTimeSource`); tests pass a simulated one.
   */
  readonly timeSource?: TimeSource;
  /**
   * True while the server fails health checks (admin `/healthcheck/fail`
   * until `/healthcheck/ok`), Envoy's `healthCheckFailed()`; absent = never.
   */
  healthCheckFailed?(): boolean;
}
