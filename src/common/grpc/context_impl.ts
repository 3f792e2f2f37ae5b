/**
 * Per-cluster gRPC stats, after Envoy's `Grpc::ContextImpl`
 * (source/common/grpc/context_impl.cc), shared by grpc_stats and grpc_web:
 *
 *   cluster.<c>.<grpc|grpc-web>[.<service>.<method>].<grpc-status>
 *   cluster.<c>.<grpc|grpc-web>[.<service>.<method>].{success,failure,total}
 *   cluster.<c>.grpc[.<service>.<method>].{request,response}_message_count
 *   cluster.<c>.grpc[.<service>.<method>].upstream_rq_time   (histogram, ms)
 *
 * Names are dynamic (service/method come from the request), so handles are
 * looked up by name; the store returns the same handle for the same name.
 */
import { HistogramUnit, type Scope } from '../../envoy/stats/stats.js';
import type { ClusterManager } from '../../envoy/upstream/cluster_manager.js';
import type { RequestNames } from './common.js';

export type GrpcStatsProtocol = 'grpc' | 'grpc-web';

/** Service and method as they appear in stat names. */
export interface RequestStatNames {
  readonly service: string;
  readonly method: string;
}

export class GrpcContextImpl {
  constructor(private readonly root: Scope, private readonly clusterManager: ClusterManager) {}

  /** The stat name of cluster `name` (its alt_stat_name when set), or null when the cluster does not exist. */
  clusterStatName(name: string): string | null {
    return this.clusterManager.getThreadLocalCluster(name)?.info.statName ?? null;
  }

  /** resolveDynamicServiceAndMethod[WithDotReplaced]. */
  dynamicNames(names: RequestNames, replaceDots: boolean): RequestStatNames {
    return replaceDots ? { service: names.service.replace(/\./g, '_'), method: names.method } : names;
  }

  private scopeFor(clusterStatName: string, protocol: GrpcStatsProtocol, names: RequestStatNames | null): string {
    return names === null ? `${protocol}.` : `${protocol}.${names.service}.${names.method}.`;
  }

  private counter(clusterStatName: string, name: string): ReturnType<Scope['counter']> {
    return this.root.createScope(`cluster.${clusterStatName}`).counter(name);
  }

  /** Counts a grpc-status (absent: nothing), then success (status 0) or failure, and total. */
  chargeStat(clusterStatName: string, protocol: GrpcStatsProtocol, names: RequestStatNames | null, grpcStatus: string | undefined): void {
    if (grpcStatus === undefined) return;
    const prefix = this.scopeFor(clusterStatName, protocol, names);
    this.counter(clusterStatName, prefix + grpcStatus).inc();
    this.chargeSuccess(clusterStatName, protocol, names, grpcStatus === '0');
  }

  chargeSuccess(clusterStatName: string, protocol: GrpcStatsProtocol, names: RequestStatNames | null, success: boolean): void {
    const prefix = this.scopeFor(clusterStatName, protocol, names);
    this.counter(clusterStatName, prefix + (success ? 'success' : 'failure')).inc();
    this.counter(clusterStatName, `${prefix}total`).inc();
  }

  chargeRequestMessageStat(clusterStatName: string, names: RequestStatNames | null, amount: number): void {
    this.counter(clusterStatName, `${this.scopeFor(clusterStatName, 'grpc', names)}request_message_count`).add(amount);
  }

  chargeResponseMessageStat(clusterStatName: string, names: RequestStatNames | null, amount: number): void {
    this.counter(clusterStatName, `${this.scopeFor(clusterStatName, 'grpc', names)}response_message_count`).add(amount);
  }

  chargeUpstreamStat(clusterStatName: string, names: RequestStatNames | null, ms: number): void {
    this.root.createScope(`cluster.${clusterStatName}`)
      .histogram(`${this.scopeFor(clusterStatName, 'grpc', names)}upstream_rq_time`, HistogramUnit.Milliseconds)
      .recordValue(ms);
  }
}
