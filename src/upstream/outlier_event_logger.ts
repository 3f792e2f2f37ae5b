/**
 * The outlier detection event log (bootstrap
 * `cluster_manager.outlier_detection.event_log_path`), after Envoy's
 * `Outlier::EventLoggerImpl`: one JSON `envoy.data.cluster.v3.OutlierDetectionEvent`
 * per line for every ejection (enforced or not) and every return, with
 * proto field names and default values printed, as Envoy writes them.
 */
import { fromJson, toJsonString, type JsonObject } from '@bufbuild/protobuf';
import type { TimeSource } from '../envoy/common/time.js';
import type { Host } from '../envoy/upstream/host.js';
import { messageSchema } from '../config/type_registry.js';
import type { AccessLogFile } from '../logging/access_log_file.js';
import type { DetectorImpl, OutlierEjectionType, OutlierEventLogger } from './outlier_detection_impl.js';

const EVENT = 'envoy.data.cluster.v3.OutlierDetectionEvent';

export class OutlierEventLoggerImpl implements OutlierEventLogger {
  constructor(private readonly file: AccessLogFile, private readonly timeSource: TimeSource) {}

  logEject(host: Host, detector: DetectorImpl, type: OutlierEjectionType, enforced: boolean): void {
    const m = host.outlierDetector;
    const event: JsonObject = { ...this.common(host, m?.lastUnejectionTimeMs ?? null), type, action: 'EJECT', enforced };
    const origin = type.endsWith('LOCAL_ORIGIN') ? 'local' : 'external';
    if (type === 'SUCCESS_RATE' || type === 'SUCCESS_RATE_LOCAL_ORIGIN') {
      event['eject_success_rate_event'] = {
        cluster_average_success_rate: detector.successRateAverage(origin),
        cluster_success_rate_ejection_threshold: detector.successRateEjectionThreshold(origin),
        host_success_rate: m?.successRate(origin) ?? -1,
      };
    } else if (type === 'FAILURE_PERCENTAGE' || type === 'FAILURE_PERCENTAGE_LOCAL_ORIGIN') {
      event['eject_failure_percentage_event'] = { host_success_rate: m?.successRate(origin) ?? -1 };
    } else {
      event['eject_consecutive_event'] = {};
    }
    this.write(event);
  }

  logUneject(host: Host): void {
    this.write({ ...this.common(host, host.outlierDetector?.lastEjectionTimeMs ?? null), action: 'UNEJECT' });
  }

  private common(host: Host, lastActionMs: number | null): JsonObject {
    const out: JsonObject = {
      cluster_name: host.cluster.name,
      upstream_url: host.addressString,
      num_ejections: host.outlierDetector?.numEjections ?? 0,
      timestamp: new Date(this.timeSource.systemMs()).toISOString(),
    };
    if (lastActionMs !== null) {
      out['secs_since_last_action'] = String(Math.floor((this.timeSource.monotonicMs() - lastActionMs) / 1000));
    }
    return out;
  }

  private write(event: JsonObject): void {
    const schema = messageSchema(EVENT);
    const msg = fromJson(schema, event);
    this.file.write(`${toJsonString(schema, msg, { useProtoFieldName: true, alwaysEmitImplicit: true })}\n`);
  }
}
