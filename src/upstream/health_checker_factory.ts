/**
 * Builds a cluster's active health checker from its `health_checks`, after
 * Envoy's HealthCheckerFactory (source/common/upstream/health_checker_impl.cc):
 * validates the config (ConfigError naming the field), opens the event log
 * files, and picks the HTTP, TCP or gRPC checker. One health check per
 * cluster, as Envoy before its multi-health-checker.
 */
import type { RandomGenerator } from '../common/random.js';
import type { TimeSource } from '../envoy/common/time.js';
import type { UpstreamTransportSocketFactory } from '../envoy/network/transport_socket.js';
import type { Cluster } from '../generated/envoy/config/cluster/v3/cluster_pb.js';
import type { AccessLogManager } from '../logging/access_log_file.js';
import type { ClusterImplBase } from './cluster_impl_base.js';
import { compileHealthCheck } from './health_check_config.js';
import { HealthCheckEventLogger, type HealthCheckerTypeName } from './health_check_event_logger.js';
import type { HealthCheckerContext, HealthCheckerImplBase } from './health_checker_base_impl.js';
import { GrpcHealthCheckerImpl } from './grpc_health_checker.js';
import { HttpHealthCheckerImpl } from './http_health_checker.js';
import { TcpHealthCheckerImpl } from './tcp_health_checker.js';
import { ConfigError } from './proto_util.js';

export interface HealthCheckerFactoryContext {
  readonly timeSource: TimeSource;
  readonly random: RandomGenerator;
  /** Where event log files are opened. */
  readonly accessLogManager: () => AccessLogManager;
  /** The cluster's transport socket, or null for raw TCP. */
  readonly transportSocket: UpstreamTransportSocketFactory | null;
}

/** Validates `config.health_checks` without building anything (throws ConfigError). */
export function validateHealthChecks(config: Cluster, path: string): void {
  if (config.healthChecks.length > 1) {
    throw new ConfigError(`${path}.health_checks`, `multiple health checks are not supported (got ${config.healthChecks.length})`);
  }
  if (config.healthChecks.length === 1) compileHealthCheck(config.healthChecks[0]!, `${path}.health_checks[0]`);
}

/** The checker for `cluster`, or null when it has no health_checks. Not started. */
export function createHealthChecker(
  config: Cluster,
  cluster: ClusterImplBase,
  ctx: HealthCheckerFactoryContext,
  path: string,
): HealthCheckerImplBase | null {
  if (config.healthChecks.length === 0) return null;
  validateHealthChecks(config, path);
  const hcPath = `${path}.health_checks[0]`;
  const settings = compileHealthCheck(config.healthChecks[0]!, hcPath);
  const type: HealthCheckerTypeName = settings.checker.kind === 'http' ? 'HTTP' : settings.checker.kind === 'tcp' ? 'TCP' : 'GRPC';
  let eventLogger: HealthCheckEventLogger | null = null;
  if (settings.eventLogPaths.length > 0) {
    const files = settings.eventLogPaths.map((p) => {
      const f = ctx.accessLogManager().createAccessLog(p);
      if (f.openError !== null) throw new ConfigError(`${hcPath}.event_log_path`, `cannot open health check event log '${p}': ${f.openError.message}`);
      return f;
    });
    eventLogger = new HealthCheckEventLogger(files, ctx.timeSource, type);
  }
  const context: HealthCheckerContext = {
    clusterName: cluster.info.name,
    clusterScope: cluster.info.statsScope,
    clusterStats: cluster.info.stats,
    prioritySet: cluster.prioritySet,
    timeSource: ctx.timeSource,
    random: ctx.random,
    eventLogger,
    transportSocket: ctx.transportSocket,
  };
  switch (settings.checker.kind) {
    case 'http': return new HttpHealthCheckerImpl(settings, context);
    case 'tcp': return new TcpHealthCheckerImpl(settings, context);
    case 'grpc': return new GrpcHealthCheckerImpl(settings, context);
  }
}
