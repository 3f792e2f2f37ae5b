/**
 * Builds a cluster (ClusterInfo, host discovery, load balancer) from a v3
 * Cluster message. Throws ConfigError for invalid or unsupported config; has
 * no side effect until `cluster.initialize()` starts discovery.
 */
import type { TimeSource } from '../envoy/common/time.js';
import type { SubscriptionFactory } from '../envoy/config/subscription.js';
import type { Scope } from '../envoy/stats/stats.js';
import type { LoadBalancer } from '../envoy/upstream/cluster_manager.js';
import type { Cluster } from '../generated/envoy/config/cluster/v3/cluster_pb.js';
import { dnsFailureBackOff } from './backoff_strategy.js';
import { ClusterInfoImpl } from './cluster_info_impl.js';
import type { ClusterImplBase } from './cluster_impl_base.js';
import { dnsLookupFamilyOf, dnsResolverConfigFromCluster, type DnsResolver, type DnsResolverConfig } from './dns_resolver.js';
import { EdsClusterImpl } from './eds_cluster.js';
import { createLoadBalancer } from './load_balancer_factory.js';
import { outlierDetectorConfigFrom } from './outlier_detection_config.js';
import { DetectorImpl, type OutlierEventLogger } from './outlier_detection_impl.js';
import { realTimeSource } from '../common/real_time_source.js';
import type { RandomGenerator } from './load_balancer_impl.js';
import { LogicalDnsCluster } from './logical_dns_cluster.js';
import { ConfigError } from './proto_util.js';
import { durationToMs } from '../config/well_known.js';
import { StaticClusterImpl } from './static_cluster.js';
import { StrictDnsClusterImpl, type DnsClusterSettings } from './strict_dns_cluster.js';

export const DEFAULT_DNS_REFRESH_RATE_MS = 5000;

export interface ClusterFactoryContext {
  /** Root stats scope. */
  statsScope: Scope;
  addedViaApi: boolean;
  /** Field path of the cluster in errors. */
  fieldPath: string;
  random: RandomGenerator;
  /** The shared resolver for clusters that configure none (bootstrap default). */
  defaultDnsResolver: () => DnsResolver;
  /** A resolver owned by one cluster, for a cluster-level resolver config. */
  createDnsResolver: (config: DnsResolverConfig) => DnsResolver;
  /** Where EDS clusters subscribe (absent: EDS clusters are a config error). */
  subscriptionFactory?: SubscriptionFactory;
  /** Clock and timers of outlier detection (default: the real clock). */
  timeSource?: TimeSource;
  /** The cluster manager's outlier_detection event log, if any. */
  outlierEventLogger?: OutlierEventLogger | null;
}

export interface BuiltCluster {
  cluster: ClusterImplBase;
  loadBalancer: LoadBalancer;
}

export function createCluster(config: Cluster, ctx: ClusterFactoryContext): BuiltCluster {
  const base = ctx.fieldPath;
  const info = new ClusterInfoImpl(config, { statsScope: ctx.statsScope, addedViaApi: ctx.addedViaApi, fieldPath: base });
  // Validated before anything is created that would need cleaning up.
  const outlierConfig = config.outlierDetection === undefined ? null : outlierDetectorConfigFrom(config.outlierDetection, `${base}.outlier_detection`);
  let cluster: ClusterImplBase;
  if (info.type === 'static') {
    cluster = new StaticClusterImpl(info, base);
  } else if (info.type === 'eds') {
    cluster = new EdsClusterImpl(info, base, ctx.subscriptionFactory);
  } else {
    const refreshRateMs = durationToMs(config.dnsRefreshRate, DEFAULT_DNS_REFRESH_RATE_MS);
    if (refreshRateMs < 1) throw new ConfigError(`${base}.dns_refresh_rate`, 'must be at least 1ms');
    const family = dnsLookupFamilyOf(config.dnsLookupFamily, `${base}.dns_lookup_family`);
    const failureBackOff = dnsFailureBackOff(config, refreshRateMs, ctx.random, base);
    const own = dnsResolverConfigFromCluster(config, base);
    const settings: DnsClusterSettings = {
      resolver: own === undefined ? ctx.defaultDnsResolver() : ctx.createDnsResolver(own),
      ownsResolver: own !== undefined,
      family,
      refreshRateMs,
      respectDnsTtl: config.respectDnsTtl,
      failureBackOff,
    };
    try {
      cluster =
        info.type === 'strict_dns'
          ? new StrictDnsClusterImpl(info, base, settings)
          : new LogicalDnsCluster(info, base, settings);
    } catch (e) {
      if (settings.ownsResolver) settings.resolver.close();
      throw e;
    }
  }
  const loadBalancer = createLoadBalancer(info.lb, cluster.prioritySet, info.stats, ctx.random, info.statsScope);
  if (outlierConfig !== null) {
    cluster.setOutlierDetector(new DetectorImpl(outlierConfig, cluster.prioritySet, {
      scope: info.statsScope,
      timeSource: ctx.timeSource ?? realTimeSource,
      random: ctx.random,
      eventLogger: ctx.outlierEventLogger,
    }));
  }
  return { cluster, loadBalancer };
}
