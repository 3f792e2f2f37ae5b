/** Factory for `envoy.filters.network.tcp_proxy`. */
import type { Message } from '@bufbuild/protobuf';
import type { TcpProxy } from '../../../../generated/envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy_pb.js';
import type { NamedNetworkFilterConfigFactory } from '../../../../envoy/config/typed_config.js';
import type { NetworkFilterFactoryCb } from '../../../../envoy/network/filter.js';
import type { FactoryContext } from '../../../../envoy/server/factory_context.js';
import { ConfigError } from '../../../../config/config_error.js';
import { durationToMs } from '../../../../config/well_known.js';
import { createTcpProxyStats } from '../../../../stats/tcp_proxy_stats.js';
import { createAccessLogs } from '../../../access_loggers/common/access_log_builder.js';
import { TcpProxyFilter, type TcpProxyConfig } from './tcp_proxy.js';

export const tcpProxyFactory: NamedNetworkFilterConfigFactory = {
  category: 'envoy.filters.network',
  name: 'envoy.filters.network.tcp_proxy',
  configTypes: ['envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy'],
  legacyNames: ['envoy.tcp_proxy'],
  isTerminalFilter: true,
  createFilterFactory(config: Message, context: FactoryContext): NetworkFilterFactoryCb {
    const tp = config as TcpProxy;
    const path = '';
    let pickCluster: () => string;
    const spec = tp.clusterSpecifier;
    if (spec.case === 'cluster') {
      const name = spec.value;
      pickCluster = () => name;
    } else if (spec.case === 'weightedClusters') {
      const entries = spec.value.clusters.map((c) => ({ name: c.name, weight: c.weight }));
      const total = entries.reduce((a, e) => a + e.weight, 0);
      if (total <= 0) throw new ConfigError(`${path}.weighted_clusters`, 'weighted_clusters: weights must add up to more than 0');
      pickCluster = () => {
        let r = Math.random() * total;
        for (const e of entries) { r -= e.weight; if (r < 0) return e.name; }
        return entries[entries.length - 1]!.name;
      };
    } else {
      throw new ConfigError(path, 'tcp_proxy needs cluster or weighted_clusters');
    }
    const known = new Set(context.clusterManager.clusterNames());
    const names = spec.case === 'cluster' ? [spec.value] : spec.value.clusters.map((c) => c.name);
    for (const n of names) {
      if (!known.has(n)) throw new ConfigError(`${path}.cluster`, `tcp_proxy: unknown cluster '${n}'`);
    }
    const proxyConfig: TcpProxyConfig = {
      stats: createTcpProxyStats(context.scope, tp.statPrefix),
      clusterManager: context.clusterManager,
      pickCluster,
      idleTimeoutMs: durationToMs(tp.idleTimeout, 3_600_000),
      maxDownstreamConnectionDurationMs: durationToMs(tp.maxDownstreamConnectionDuration, 0),
      maxConnectAttempts: tp.maxConnectAttempts ?? 1,
      accessLogs: createAccessLogs(tp.accessLog, `${path}.access_log`, context),
    };
    return (manager) => manager.addReadFilter(new TcpProxyFilter(proxyConfig));
  },
};
