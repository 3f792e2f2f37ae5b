/**
 * Builds the cluster manager from the bootstrap: static clusters, the
 * bootstrap-wide DNS resolver, each cluster's transport socket (tls or
 * raw_buffer, built with the cluster — static or CDS — so a bad certificate
 * is a config error, or a NACK), connection pools by upstream protocol over
 * that transport, and — given a SubscriptionFactory — EDS clusters and the
 * CDS API of `dynamic_resources.cds_config`.
 *
 *   const cm = createClusterManager(server, bootstrap, transportContext, { subscriptionFactory });
 *   await cm.initialized();   // static clusters warm (DNS, first EDS), then CDS's first update
 */
import type { Bootstrap } from '../generated/envoy/config/bootstrap/v3/bootstrap_pb.js';
import type { Cluster } from '../generated/envoy/config/cluster/v3/cluster_pb.js';
import type { HttpConnectionPool } from '../envoy/upstream/cluster_manager.js';
import type { Host, UpstreamProtocol } from '../envoy/upstream/host.js';
import type { Scope } from '../envoy/stats/stats.js';
import type { SubscriptionFactory } from '../envoy/config/subscription.js';
import type { TimeSource } from '../envoy/common/time.js';
import type { TransportSocketFactoryContext, UpstreamTransportSocketConfigFactory } from '../envoy/config/typed_config.js';
import type { UpstreamTransportSocketFactory } from '../envoy/network/transport_socket.js';
import type { SecretManager } from '../envoy/secret/secret_manager.js';
import type { AccessLogManager } from '../logging/access_log_file.js';
import { ConfigError } from '../config/config_error.js';
import { resolveTypedConfig } from '../config/registry.js';
import { CdsApiImpl } from '../upstream/cds_api_impl.js';
import type { ClusterInfoImpl } from '../upstream/cluster_info_impl.js';
import { ClusterManagerImpl } from '../upstream/cluster_manager_impl.js';
import { Http1ConnPool } from '../upstream/conn_pool/http1_conn_pool.js';
import { createHttp2ConnPool } from '../upstream/conn_pool/http2_conn_pool.js';
import { AlpnConnPool } from '../upstream/conn_pool/alpn_conn_pool.js';
import { OutlierEventLoggerImpl } from '../upstream/outlier_event_logger.js';
import { realTimeSource } from '../common/real_time_source.js';
import { defaultAccessLogManager } from '../logging/access_log_file.js';

export type ServerClusterManager = ClusterManagerImpl;

export interface UpstreamTransportContext {
  readonly secretManager: SecretManager;
  readonly configDir: string;
  warn(path: string, message: string): void;
}

/**
 * A pool for `host` in `protocol`, over the cluster's transport socket (null = raw); auto_config clusters pick by ALPN.
 * `priority` picks the circuit breakers the pool counts against (0 DEFAULT, 1 HIGH).
 */
function createConnPool(host: Host, protocol: UpstreamProtocol, ts: UpstreamTransportSocketFactory | null, priority = 0): HttpConnectionPool {
  if (ts !== null && host.cluster.alpnAutoConfig) return new AlpnConnPool(host, ts, priority);
  if (protocol === 'http2') {
    if (ts === null) return createHttp2ConnPool(host, { priority });
    return createHttp2ConnPool(host, {
      createConnection: (h) => ts.connect(h.address, h.port, h.hostname, ['h2']).socket,
      scheme: 'https',
      transportFailureReason: (err) => ts.transportFailureReason(err),
      priority,
    });
  }
  return new Http1ConnPool(host, ts !== null ? { transportSocket: ts, priority } : { priority });
}

/**
 * The cluster's secure transport socket, or null for raw TCP (none, or
 * raw_buffer). Built with the cluster, so a bad certificate is a config error.
 */
function buildTransportSocket(c: Cluster, info: ClusterInfoImpl, base: string, tctx: UpstreamTransportContext): UpstreamTransportSocketFactory | null {
  const path = `${base}.transport_socket`;
  const ts = c.transportSocket;
  const alpnMismatch = `ALPN configured for cluster ${c.name} which has a non-ALPN transport socket`;
  if (ts === undefined) {
    if (info.alpnAutoConfig) throw new ConfigError(`${base}.typed_extension_protocol_options`, alpnMismatch);
    return null;
  }
  if (c.transportSocketMatches.length > 0) throw new ConfigError(`${base}.transport_socket_matches`, 'transport_socket_matches is not supported yet');
  const ctx: TransportSocketFactoryContext = {
    scope: info.statsScope,
    configDir: tctx.configDir,
    secretManager: tctx.secretManager,
    warn: tctx.warn,
  };
  const resolved = resolveTypedConfig<UpstreamTransportSocketConfigFactory>('envoy.transport_sockets.upstream',
    { name: ts.name, typedConfig: ts.configType.case === 'typedConfig' ? ts.configType.value : undefined }, path, tctx);
  if (resolved === null) throw new ConfigError(path, `unknown transport socket '${ts.name}'`);
  const f = resolved.factory.createTransportSocketFactory(resolved.config, ctx, path);
  if (!f.implementsSecureTransport) {
    if (info.alpnAutoConfig) throw new ConfigError(path, alpnMismatch);
    return null;
  }
  return f;
}

/** `cluster_manager.outlier_detection.event_log_path`: ejections logged there, one JSON event a line. */
function outlierEventLoggerFor(bootstrap: Bootstrap, timeSource: TimeSource): OutlierEventLoggerImpl | null {
  const od = bootstrap.clusterManager?.outlierDetection;
  if (od?.eventService !== undefined) throw new ConfigError('cluster_manager.outlier_detection.event_service', 'event_service is not supported yet');
  const path = od?.eventLogPath ?? '';
  return path === '' ? null : new OutlierEventLoggerImpl(defaultAccessLogManager().createAccessLog(path), timeSource);
}

export interface ClusterManagerFactoryOptions {
  /**
   * The xDS transport: EDS clusters and `dynamic_resources.cds_config`
   * subscribe through it. Without it an EDS cluster is a config error and
   * cds_config is ignored (with a warning).
   */
  readonly subscriptionFactory?: SubscriptionFactory;
  /** Clock of outlier detection and active health checks (default: the real clock; tests pass a simulated one). */
  readonly timeSource?: TimeSource;
  /** Where health check event logs are written; default the process-wide access-log manager. */
  readonly accessLogManager?: AccessLogManager;
}

export function createClusterManager(
  server: { stats: { rootScope: Scope; deleteScope?(prefix: string, keep?: ReadonlyArray<string>): void } },
  bootstrap: Bootstrap,
  transportContext?: UpstreamTransportContext,
  options: ClusterManagerFactoryOptions = {},
): ClusterManagerImpl {
  const tctx = transportContext ?? { secretManager: { findStaticSecret: () => undefined }, configDir: process.cwd(), warn: () => {} };
  const stats = server.stats;
  const cm = new ClusterManagerImpl({
    statsScope: stats.rootScope,
    connPoolFactory: createConnPool,
    transportSocketFactory: (c, info, path) => buildTransportSocket(c, info, path, tctx),
    subscriptionFactory: options.subscriptionFactory,
    releaseStats: stats.deleteScope === undefined ? undefined : (prefix, keep) => stats.deleteScope!(prefix, keep),
    defaultDnsResolverConfig: bootstrap.typedDnsResolverConfig,
    timeSource: options.timeSource,
    outlierEventLogger: outlierEventLoggerFor(bootstrap, options.timeSource ?? realTimeSource),
    accessLogManager: options.accessLogManager === undefined ? undefined : () => options.accessLogManager!,
  });
  const cdsConfig = bootstrap.dynamicResources?.cdsConfig;
  if (cdsConfig !== undefined) {
    if (options.subscriptionFactory === undefined) {
      tctx.warn('dynamic_resources.cds_config', 'no xDS transport is configured; CDS is not started');
    } else {
      cm.setCds(new CdsApiImpl({
        cdsConfig,
        clusterManager: cm,
        subscriptionFactory: options.subscriptionFactory,
        statsScope: stats.rootScope,
        path: 'dynamic_resources.cds_config',
      }));
    }
  }
  cm.initializeStaticClusters(bootstrap.staticResources?.clusters ?? []);
  return cm;
}
