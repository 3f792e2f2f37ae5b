/**
 * xDS subscriptions, after Envoy's `envoy/config/subscription.h`: how a
 * consumer of dynamic resources (the cluster manager for CDS, an EDS cluster,
 * the listener manager for LDS, an HCM for RDS, a TLS context for SDS) asks
 * for them and hears about changes, whatever carries them (gRPC state of the
 * world, delta gRPC, ADS, or a watched file).
 *
 * One callback shape for every transport: an update lists the resources added
 * or changed and the names removed. For a state-of-the-world transport the
 * subscription computes `removed` itself (names it delivered before that are
 * no longer in the response), so consumers never need to know which
 * transport they are on.
 */
import type { Message } from '@bufbuild/protobuf';
import type { ConfigSource } from '../../generated/envoy/config/core/v3/config_source_pb.js';
import type { Scope } from '../stats/stats.js';

/** Type URLs of the resource types Legate subscribes to. */
export const TypeUrl = {
  Listener: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  RouteConfiguration: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  Cluster: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  ClusterLoadAssignment: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
  Secret: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret',
} as const;
export type TypeUrl = (typeof TypeUrl)[keyof typeof TypeUrl];

/** One decoded resource (already checked against its proto's PGV rules). */
export interface DecodedResource<T extends Message = Message> {
  readonly name: string;
  /** The resource's own version (delta), or the response's version_info (state of the world). */
  readonly version: string;
  readonly resource: T;
}

export interface ConfigUpdate<T extends Message = Message> {
  /** Resources new or changed since the previous update (state of the world: all of them). */
  readonly added: ReadonlyArray<DecodedResource<T>>;
  /** Names that are gone. */
  readonly removed: ReadonlyArray<string>;
  /** version_info (state of the world) or system_version_info (delta). */
  readonly versionInfo: string;
}

export enum ConfigUpdateFailureReason {
  /** The control plane (or file) could not be reached. */
  ConnectionFailure = 'ConnectionFailure',
  /** initial_fetch_timeout passed before the first update. */
  FetchTimedout = 'FetchTimedout',
  /** The consumer rejected the update (it was NACKed). */
  UpdateRejected = 'UpdateRejected',
}

export interface SubscriptionCallbacks<T extends Message = Message> {
  /**
   * Applies an update. Throw (preferably a ConfigError naming the resource
   * and field) to reject it: the update is NACKed with the message and the
   * consumer must keep serving what it had.
   */
  onConfigUpdate(update: ConfigUpdate<T>): void;
  /** The subscription could not deliver (see the reason). Warming consumers stop waiting on FetchTimedout. */
  onConfigUpdateFailed(reason: ConfigUpdateFailureReason, error: Error | null): void;
}

export interface Subscription {
  /** Starts fetching. An empty list means "all" (wildcard) for Listener and Cluster. */
  start(resourceNames: ReadonlyArray<string>): void;
  /** Changes the names this subscription wants. */
  updateResourceInterest(resourceNames: ReadonlyArray<string>): void;
  /** Stops; no callback fires afterwards. */
  stop(): void;
}

/**
 * Stats every subscription keeps, under the scope it is given (Envoy's
 * SubscriptionStats): `cluster_manager.cds.`, `listener_manager.lds.`,
 * `http.<stat_prefix>.rds.<route_config_name>.`, `cluster.<name>.` (EDS),
 * `sds.<secret name>.`.
 *   counters update_attempt, update_success, update_failure, update_rejected,
 *            update_empty, init_fetch_timeout
 *   gauges   version (a hash of version_info), update_time (ms since epoch),
 *            version_text (kept as text for /config_dump)
 */
export interface SubscriptionFactory {
  /**
   * A subscription to `typeUrl` resources from `configSource` (ads, api_config_source,
   * path / path_config_source). Throws ConfigError (naming `path`) for a
   * config source that cannot be used.
   */
  subscriptionFromConfigSource<T extends Message>(
    configSource: ConfigSource,
    typeUrl: TypeUrl,
    scope: Scope,
    callbacks: SubscriptionCallbacks<T>,
    path: string,
  ): Subscription;
}
