/**
 * Builds the cluster manager from the bootstrap: static clusters, the
 * bootstrap-wide DNS resolver, each cluster's transport socket (tls or
 * raw_buffer, built at start-up so a bad certificate is a config error), and
 * connection pools by upstream protocol over that transport.
 */
import type { Bootstrap } from '../generated/envoy/config/bootstrap/v3/bootstrap_pb.js';
import type { Cluster } from '../generated/envoy/config/cluster/v3/cluster_pb.js';
import type { HttpConnectionPool } from '../envoy/upstream/cluster_manager.js';
import type { Host, UpstreamProtocol } from '../envoy/upstream/host.js';
import type { Scope } from '../envoy/stats/stats.js';
import type { TransportSocketFactoryContext, UpstreamTransportSocketConfigFactory } from '../envoy/config/typed_config.js';
import type { UpstreamTransportSocketFactory } from '../envoy/network/transport_socket.js';
import type { SecretManager } from '../envoy/secret/secret_manager.js';
import { ConfigError } from '../config/config_error.js';
import { resolveTypedConfig } from '../config/registry.js';
import { clusterStatPrefix } from '../stats/cluster_stats.js';
import { prefixedScope } from '../stats/stats_impl.js';
import { ClusterManagerImpl } from '../upstream/cluster_manager_impl.js';
import { Http1ConnPool } from '../upstream/conn_pool/http1_conn_pool.js';
import { createHttp2ConnPool } from '../upstream/conn_pool/http2_conn_pool.js';
import { AlpnConnPool } from '../upstream/conn_pool/alpn_conn_pool.js';

export type ServerClusterManager = ClusterManagerImpl;

export interface UpstreamTransportContext {
  readonly secretManager: SecretManager;
  readonly configDir: string;
  warn(path: string, message: string): void;
}

/** Cluster name → its TLS transport socket (raw_buffer clusters are absent). */
type TransportSockets = ReadonlyMap<string, UpstreamTransportSocketFactory>;

/** A pool for `host` in `protocol`, over the cluster's transport socket; auto_config clusters pick by ALPN. */
function createConnPool(host: Host, protocol: UpstreamProtocol, sockets: TransportSockets): HttpConnectionPool {
  const ts = sockets.get(host.cluster.name);
  if (ts !== undefined && host.cluster.alpnAutoConfig) return new AlpnConnPool(host, ts);
  if (protocol === 'http2') {
    if (ts === undefined) return createHttp2ConnPool(host);
    return createHttp2ConnPool(host, {
      createConnection: (h) => ts.connect(h.address, h.port, h.hostname, ['h2']).socket,
      scheme: 'https',
      transportFailureReason: (err) => ts.transportFailureReason(err),
    });
  }
  return new Http1ConnPool(host, ts !== undefined ? { transportSocket: ts } : {});
}

/** Builds every cluster's secure transport socket at start-up, so a bad certificate is a config error. */
function buildTransportSockets(clusters: ReadonlyArray<Cluster>, root: Scope, tctx: UpstreamTransportContext, isAuto: (name: string) => boolean): TransportSockets {
  const sockets = new Map<string, UpstreamTransportSocketFactory>();
  clusters.forEach((c, i) => {
    const path = `static_resources.clusters[${i}].transport_socket`;
    const ts = c.transportSocket;
    if (ts === undefined) {
      if (isAuto(c.name)) {
        throw new ConfigError(`static_resources.clusters[${i}].typed_extension_protocol_options`,
          `ALPN configured for cluster ${c.name} which has a non-ALPN transport socket`);
      }
      return;
    }
    if (c.transportSocketMatches.length > 0) throw new ConfigError(`static_resources.clusters[${i}].transport_socket_matches`, 'transport_socket_matches is not supported yet');
    const ctx: TransportSocketFactoryContext = {
      scope: prefixedScope(root, clusterStatPrefix(c.name, c.altStatName)),
      configDir: tctx.configDir,
      secretManager: tctx.secretManager,
      warn: tctx.warn,
    };
    const resolved = resolveTypedConfig<UpstreamTransportSocketConfigFactory>('envoy.transport_sockets.upstream',
      { name: ts.name, typedConfig: ts.configType.case === 'typedConfig' ? ts.configType.value : undefined }, path, tctx);
    if (resolved === null) throw new ConfigError(path, `unknown transport socket '${ts.name}'`);
    const f = resolved.factory.createTransportSocketFactory(resolved.config, ctx, path);
    if (!f.implementsSecureTransport) {
      if (isAuto(c.name)) throw new ConfigError(path, `ALPN configured for cluster ${c.name} which has a non-ALPN transport socket`);
      return;
    }
    sockets.set(c.name, f);
  });
  return sockets;
}

export function createClusterManager(
  server: { stats: { rootScope: Scope } },
  bootstrap: Bootstrap,
  transportContext?: UpstreamTransportContext,
): ClusterManagerImpl {
  const clusters = bootstrap.staticResources?.clusters ?? [];
  let sockets: TransportSockets = new Map();
  const cm = new ClusterManagerImpl({
    statsScope: server.stats.rootScope,
    connPoolFactory: (host, protocol) => createConnPool(host, protocol, sockets),
    defaultDnsResolverConfig: bootstrap.typedDnsResolverConfig,
  });
  cm.initializeStaticClusters(clusters);
  const tctx = transportContext ?? { secretManager: { findStaticSecret: () => undefined }, configDir: process.cwd(), warn: () => {} };
  sockets = buildTransportSockets(clusters, server.stats.rootScope, tctx, (n) => cm.getThreadLocalCluster(n)?.info.alpnAutoConfig === true);
  return cm;
}
