/**
 * SubscriptionFactoryImpl: turns a ConfigSource into a Subscription, after
 * Envoy's `SubscriptionFactoryImpl` (source/common/config/subscription_factory_impl.cc).
 *
 *   ads: {}                               → the shared ADS stream (bootstrap dynamic_resources.ads_config)
 *   api_config_source GRPC / DELTA_GRPC   → a stream of its own to the type's service
 *   path / path_config_source             → a watched file
 *   REST, google_grpc, self               → ConfigError (not supported yet)
 *
 * gRPC sources must name an `envoy_grpc` cluster that already exists (a
 * static cluster, as Envoy requires); the stream runs over Legate's own
 * HTTP/2 client to it.
 */
import type { Message } from '@bufbuild/protobuf';
import type { ApiConfigSource, ConfigSource } from '../generated/envoy/config/core/v3/config_source_pb.js';
import type { Node } from '../generated/envoy/config/core/v3/base_pb.js';
import type { Scope } from '../envoy/stats/stats.js';
import type { GrpcAsyncClient } from '../envoy/grpc/async_client.js';
import {
  TypeUrl,
  type Subscription,
  type SubscriptionCallbacks,
  type SubscriptionFactory,
} from '../envoy/config/subscription.js';
import { ConfigError } from '../config/config_error.js';
import { resolve } from 'node:path';
import { FilesystemSubscription } from './filesystem_subscription.js';
import { GrpcMux } from './grpc_mux.js';
import { GrpcSubscription } from './grpc_subscription.js';
import { XdsSubscription, initialFetchTimeoutMs } from './subscription_impl.js';

/** ApiConfigSource.ApiType values. */
const ApiType = { REST: 1, GRPC: 2, DELTA_GRPC: 3, AGGREGATED_GRPC: 5, AGGREGATED_DELTA_GRPC: 6 } as const;
/** envoy.config.core.v3.ApiVersion V3. */
const API_V3 = 2;

const ADS_SOTW = '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources';
const ADS_DELTA = '/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources';

/** The per-type discovery service methods: [state of the world, delta]. */
const TYPE_METHODS: Record<string, readonly [string, string]> = {
  [TypeUrl.Listener]: ['/envoy.service.listener.v3.ListenerDiscoveryService/StreamListeners', '/envoy.service.listener.v3.ListenerDiscoveryService/DeltaListeners'],
  [TypeUrl.RouteConfiguration]: ['/envoy.service.route.v3.RouteDiscoveryService/StreamRoutes', '/envoy.service.route.v3.RouteDiscoveryService/DeltaRoutes'],
  [TypeUrl.Cluster]: ['/envoy.service.cluster.v3.ClusterDiscoveryService/StreamClusters', '/envoy.service.cluster.v3.ClusterDiscoveryService/DeltaClusters'],
  [TypeUrl.ClusterLoadAssignment]: ['/envoy.service.endpoint.v3.EndpointDiscoveryService/StreamEndpoints', '/envoy.service.endpoint.v3.EndpointDiscoveryService/DeltaEndpoints'],
  [TypeUrl.Secret]: ['/envoy.service.secret.v3.SecretDiscoveryService/StreamSecrets', '/envoy.service.secret.v3.SecretDiscoveryService/DeltaSecrets'],
};

export interface SubscriptionFactoryOptions {
  /** The gRPC client of an `envoy_grpc` cluster (the cluster is looked up when a stream starts). */
  grpcClientFor(clusterName: string): GrpcAsyncClient;
  /** The bootstrap's static clusters: an xDS gRPC source must name one of them, as Envoy requires. */
  staticClusterNames: ReadonlySet<string>;
  node: Node;
  /** The root scope (`control_plane.*`). */
  scope: Scope;
  /** Relative `path` config sources resolve against it. */
  configDir: string;
  /** bootstrap dynamic_resources.ads_config, when there is one. */
  adsConfig?: ApiConfigSource;
  /** Path of ads_config in the bootstrap, for errors. */
  adsPath?: string;
}

/** Where a gRPC config source's stream goes. */
interface GrpcTarget {
  clusterName: string;
  client: GrpcAsyncClient;
  delta: boolean;
  setNodeOnFirstMessageOnly: boolean;
  initialMetadata: Array<[string, string]>;
}

export class SubscriptionFactoryImpl implements SubscriptionFactory {
  private adsMux: GrpcMux | null = null;
  private readonly muxes: GrpcMux[] = [];
  private readonly adsTarget: GrpcTarget | null;
  readonly subscriptions: XdsSubscription[] = [];

  /** Throws ConfigError for an unusable ads_config. */
  constructor(private readonly options: SubscriptionFactoryOptions) {
    const ads = options.adsConfig;
    this.adsTarget = ads === undefined ? null : this.grpcTarget(ads, options.adsPath ?? 'dynamic_resources.ads_config', true);
  }

  /** The ADS stream is delta (AGGREGATED_DELTA_GRPC / DELTA_GRPC in ads_config). */
  get adsIsDelta(): boolean {
    return this.adsTarget?.delta ?? false;
  }

  subscriptionFromConfigSource<T extends Message>(
    configSource: ConfigSource,
    typeUrl: TypeUrl,
    scope: Scope,
    callbacks: SubscriptionCallbacks<T>,
    path: string,
  ): Subscription {
    const timeoutMs = initialFetchTimeoutMs(configSource);
    const spec = configSource.configSourceSpecifier;
    const state = new XdsSubscription<T>(typeUrl, scope, callbacks, timeoutMs);
    this.subscriptions.push(state as unknown as XdsSubscription);
    switch (spec.case) {
      case 'ads': {
        if (this.adsTarget === null) throw new ConfigError(`${path}.ads`, 'ads config source used but the bootstrap has no dynamic_resources.ads_config');
        this.adsMux ??= this.newMux(this.adsTarget, this.adsTarget.delta ? ADS_DELTA : ADS_SOTW);
        return new GrpcSubscription(this.adsMux, state);
      }
      case 'apiConfigSource': {
        const api = spec.value;
        const p = `${path}.api_config_source`;
        if (api.apiType === ApiType.AGGREGATED_GRPC || api.apiType === ApiType.AGGREGATED_DELTA_GRPC) {
          throw new ConfigError(`${p}.api_type`, 'AGGREGATED_GRPC is only for dynamic_resources.ads_config; use `ads: {}` here');
        }
        const target = this.grpcTarget(api, p, false);
        const methods = TYPE_METHODS[typeUrl];
        if (methods === undefined) throw new ConfigError(p, `no discovery service for ${typeUrl}`);
        const mux = this.newMux(target, target.delta ? methods[1] : methods[0]);
        return new GrpcSubscription(mux, state);
      }
      case 'path':
        return new FilesystemSubscription(resolve(this.options.configDir, spec.value), null, state);
      case 'pathConfigSource': {
        const pcs = spec.value;
        const watched = pcs.watchedDirectory?.path;
        return new FilesystemSubscription(
          resolve(this.options.configDir, pcs.path),
          watched === undefined || watched === '' ? null : resolve(this.options.configDir, watched),
          state,
        );
      }
      case 'self':
        throw new ConfigError(`${path}.self`, 'the `self` config source is not supported yet; use ads or api_config_source');
      default:
        throw new ConfigError(path, 'config source needs one of ads, api_config_source, path or path_config_source');
    }
  }

  /** Closes every xDS stream (server shutdown). */
  stop(): void {
    for (const m of this.muxes) m.stop();
  }

  private newMux(target: GrpcTarget, methodPath: string): GrpcMux {
    const mux = new GrpcMux({
      client: target.client,
      clusterName: target.clusterName,
      methodPath,
      delta: target.delta,
      node: this.options.node,
      setNodeOnFirstMessageOnly: target.setNodeOnFirstMessageOnly,
      scope: this.options.scope,
      initialMetadata: target.initialMetadata,
    });
    this.muxes.push(mux);
    return mux;
  }

  private grpcTarget(api: ApiConfigSource, path: string, aggregated: boolean): GrpcTarget {
    const t = api.apiType;
    if (t === ApiType.REST) throw new ConfigError(`${path}.api_type`, 'REST config sources are not supported; use GRPC or DELTA_GRPC');
    const okTypes: number[] = aggregated
      ? [ApiType.GRPC, ApiType.DELTA_GRPC, ApiType.AGGREGATED_GRPC, ApiType.AGGREGATED_DELTA_GRPC]
      : [ApiType.GRPC, ApiType.DELTA_GRPC];
    if (!okTypes.includes(t)) throw new ConfigError(`${path}.api_type`, `api_type ${t} is not usable here (GRPC, DELTA_GRPC${aggregated ? ', AGGREGATED_GRPC, AGGREGATED_DELTA_GRPC' : ''})`);
    if (api.transportApiVersion !== API_V3) throw new ConfigError(`${path}.transport_api_version`, 'only transport_api_version V3 is supported');
    if (api.clusterNames.length > 0) throw new ConfigError(`${path}.cluster_names`, 'cluster_names is for REST sources; gRPC sources use grpc_services');
    const svc = api.grpcServices[0];
    if (svc === undefined) throw new ConfigError(`${path}.grpc_services`, 'a gRPC config source needs one grpc_services entry');
    if (svc.targetSpecifier.case !== 'envoyGrpc') {
      throw new ConfigError(`${path}.grpc_services[0]`, 'only envoy_grpc is supported (google_grpc is not); point envoy_grpc.cluster_name at a static HTTP/2 cluster');
    }
    const clusterName = svc.targetSpecifier.value.clusterName;
    if (!this.options.staticClusterNames.has(clusterName)) {
      throw new ConfigError(`${path}.grpc_services[0].envoy_grpc.cluster_name`, `unknown cluster '${clusterName}' (an xDS cluster must be a static cluster)`);
    }
    const client = this.options.grpcClientFor(clusterName);
    return {
      clusterName,
      client,
      delta: t === ApiType.DELTA_GRPC || t === ApiType.AGGREGATED_DELTA_GRPC,
      setNodeOnFirstMessageOnly: api.setNodeOnFirstMessageOnly,
      initialMetadata: svc.initialMetadata.map((h) => [h.key.toLowerCase(), h.value] as [string, string]),
    };
  }
}
