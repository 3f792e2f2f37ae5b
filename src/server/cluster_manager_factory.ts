/**
 * Builds the cluster manager from the bootstrap: static clusters, the
 * bootstrap-wide DNS resolver, and connection pools by upstream protocol.
 */
import type { Bootstrap } from '../generated/envoy/config/bootstrap/v3/bootstrap_pb.js';
import type { HttpConnectionPool } from '../envoy/upstream/cluster_manager.js';
import type { Host, UpstreamProtocol } from '../envoy/upstream/host.js';
import { ClusterManagerImpl } from '../upstream/cluster_manager_impl.js';
import { Http1ConnPool } from '../upstream/conn_pool/http1_conn_pool.js';
import { createHttp2ConnPool } from '../upstream/conn_pool/http2_conn_pool.js';

export type ServerClusterManager = ClusterManagerImpl;

export function createConnPool(host: Host, protocol: UpstreamProtocol): HttpConnectionPool {
  return protocol === 'http2' ? createHttp2ConnPool(host) : new Http1ConnPool(host);
}

export function createClusterManager(server: { stats: { rootScope: import('../envoy/stats/stats.js').Scope } }, bootstrap: Bootstrap): ClusterManagerImpl {
  const cm = new ClusterManagerImpl({
    statsScope: server.stats.rootScope,
    connPoolFactory: createConnPool,
    defaultDnsResolverConfig: bootstrap.typedDnsResolverConfig,
  });
  cm.initializeStaticClusters(bootstrap.staticResources?.clusters ?? []);
  return cm;
}
