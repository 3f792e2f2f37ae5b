/**
 * The health check event log, after Envoy's HealthCheckEventLoggerImpl
 * (source/common/upstream/health_checker_event_logger.cc): one JSON line per
 * envoy.data.core.v3.HealthCheckEvent (proto field names, default values
 * printed, as Envoy prints them), written through the
 * access-log file manager to `event_log_path` and to every
 * `envoy.health_check.event_sinks.file` sink.
 *
 *   {"health_checker_type":"HTTP","host":{"socket_address":{"protocol":"TCP","address":"127.0.0.1","port_value":8080,...}},
 *    "cluster_name":"backend","eject_unhealthy_event":{"failure_type":"ACTIVE"},"timestamp":"2026-01-01T00:00:00Z"}
 */
import { fromJson, toJson, type JsonObject } from '@bufbuild/protobuf';
import { messageSchema, typeRegistry } from '../config/type_registry.js';
import type { TimeSource } from '../envoy/common/time.js';
import type { Host } from '../envoy/upstream/host.js';
import type { AccessLogFile } from '../logging/access_log_file.js';

export type HealthCheckerTypeName = 'HTTP' | 'TCP' | 'GRPC';
/** envoy.data.core.v3.HealthCheckFailureType names. */
export type HealthCheckFailureType = 'ACTIVE' | 'PASSIVE' | 'NETWORK' | 'NETWORK_TIMEOUT';

const EVENT_TYPE = 'envoy.data.core.v3.HealthCheckEvent';

export class HealthCheckEventLogger {
  constructor(
    private readonly files: ReadonlyArray<AccessLogFile>,
    private readonly timeSource: TimeSource,
    private readonly checkerType: HealthCheckerTypeName,
  ) {}

  logEjectUnhealthy(host: Host, failureType: HealthCheckFailureType): void {
    this.write(host, { eject_unhealthy_event: { failure_type: failureType } });
  }

  logUnhealthy(host: Host, failureType: HealthCheckFailureType, firstCheck: boolean): void {
    this.write(host, { health_check_failure_event: { failure_type: failureType, first_check: firstCheck } });
  }

  logAddHealthy(host: Host, firstCheck: boolean): void {
    this.write(host, { add_healthy_event: { first_check: firstCheck } });
  }

  logSuccessfulHealthCheck(host: Host): void {
    this.write(host, { successful_health_check_event: {} });
  }

  logDegraded(host: Host): void {
    this.write(host, { degraded_healthy_host: {} });
  }

  logNoLongerDegraded(host: Host): void {
    this.write(host, { no_longer_degraded_host: {} });
  }

  private write(host: Host, event: JsonObject): void {
    const json: JsonObject = {
      health_checker_type: this.checkerType,
      host: { socket_address: { address: host.address, port_value: host.port } },
      cluster_name: host.cluster.name,
      ...event,
      timestamp: new Date(this.timeSource.systemMs()).toISOString(),
    };
    // Through the schema, so the line is exactly what Envoy's proto-to-JSON prints.
    const schema = messageSchema(EVENT_TYPE);
    const registry = typeRegistry();
    const line = JSON.stringify(toJson(schema, fromJson(schema, json, { registry }), { registry, useProtoFieldName: true, alwaysEmitImplicit: true }));
    for (const f of this.files) f.write(`${line}\n`);
  }
}
