/**
 * ClusterInfo compiled once from a v3 Cluster message, after Envoy's
 * `ClusterInfoImpl` (source/common/upstream/upstream_impl.cc).
 *
 * Defaults (api/envoy/config/cluster/v3/cluster.proto and core/v3/protocol.proto):
 * connect_timeout 5 s; per_connection_buffer_limit_bytes 1 MiB; upstream
 * connection idle_timeout 1 h (an explicit 0 disables it); unlimited requests
 * per connection; circuit breakers 1024/1024/1024/3 per priority;
 * healthy_panic_threshold 50 %.
 *
 * HTTP options come from
 * `typed_extension_protocol_options["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]`
 * when present, field by field over the deprecated cluster-level fields
 * (`common_http_protocol_options`, `http2_protocol_options`,
 * `max_requests_per_connection`, `protocol_selection`).
 */
import type { Scope } from '../envoy/stats/stats.js';
import type { ClusterInfo, ResourceManager, UpstreamProtocol } from '../envoy/upstream/host.js';
import type { ClusterStats } from '../envoy/upstream/stats.js';
import type { Cluster } from '../generated/envoy/config/cluster/v3/cluster_pb.js';
import type { CircuitBreakers_Thresholds } from '../generated/envoy/config/cluster/v3/circuit_breaker_pb.js';
import type {
  Http1ProtocolOptions,
  Http2ProtocolOptions,
  HttpProtocolOptions as CoreHttpProtocolOptions,
} from '../generated/envoy/config/core/v3/protocol_pb.js';
import type { HttpProtocolOptions } from '../generated/envoy/extensions/upstreams/http/v3/http_protocol_options_pb.js';
import { clusterStatPrefix, createClusterStats } from '../stats/cluster_stats.js';
import { prefixedScope } from '../stats/stats_impl.js';
import { lbSettingsFromCluster, type LbSettings } from './load_balancer_config.js';
import { ClusterProtocolSelection, DiscoveryType, RoutingPriority, enumName } from './proto_enums.js';
import { typeUrlToName } from '../config/type_registry.js';
import { ConfigError, notSupportedYet, unpack } from './proto_util.js';
import { durationToMs } from '../config/well_known.js';
import {
  ResourceManagerImpl,
  defaultThresholds,
  DEFAULT_MIN_RETRY_CONCURRENCY,
  DEFAULT_RETRY_BUDGET_PERCENT,
  type CircuitBreakerThresholds,
} from './resource_manager_impl.js';

export const DEFAULT_CONNECT_TIMEOUT_MS = 5000;
export const DEFAULT_BUFFER_LIMIT_BYTES = 1024 * 1024;
export const DEFAULT_UPSTREAM_IDLE_TIMEOUT_MS = 3600 * 1000;

export const HTTP_PROTOCOL_OPTIONS_KEY = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';

export type ClusterType = 'static' | 'strict_dns' | 'logical_dns' | 'eds';

export interface ClusterInfoOptions {
  /** The root scope; the cluster's stats go under `cluster.<stat name>.`. */
  statsScope: Scope;
  /** Field path of this cluster in errors (default `clusters["<name>"]`), e.g. `static_resources.clusters[2]`. */
  fieldPath?: string;
  /** True for CDS clusters, false for bootstrap static_resources. */
  addedViaApi: boolean;
}

export class ClusterInfoImpl implements ClusterInfo {
  readonly name: string;
  readonly statName: string;
  readonly type: ClusterType;
  readonly connectTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly perConnectionBufferLimitBytes: number;
  readonly maxRequestsPerConnection: number;
  /** `max_connection_duration` of the HTTP options in ms (0 = none). */
  readonly maxConnectionDurationMs: number;
  /** `max_headers_count` of the HTTP options (0 = codec default). */
  readonly maxHeadersCount: number;
  /** `max_stream_duration` of the HTTP options in ms (0 = none). */
  readonly maxStreamDurationMs: number;
  readonly upstreamProtocol: UpstreamProtocol;
  /**
   * `use_downstream_protocol_config` / `protocol_selection: USE_DOWNSTREAM_PROTOCOL`:
   * the router should speak HTTP/2 upstream for HTTP/2 downstream requests and
   * `upstreamProtocol` (http1) otherwise.
   */
  readonly useDownstreamProtocol: boolean;
  readonly alpnAutoConfig: boolean;
  /** The HTTP/1 and HTTP/2 codec options, for the pools (undefined = defaults). */
  readonly http1ProtocolOptions: Http1ProtocolOptions | undefined;
  readonly http2ProtocolOptions: Http2ProtocolOptions | undefined;
  /** `circuit_breakers.per_host_thresholds[].max_connections` (DEFAULT priority), if set. */
  readonly perHostMaxConnections: number | undefined;
  readonly lb: LbSettings;
  readonly addedViaApi: boolean;
  readonly stats: ClusterStats;
  /** `cluster.<stat name>.` */
  readonly statsScope: Scope;
  readonly config: Cluster;
  private readonly resourceManagers: [ResourceManagerImpl, ResourceManagerImpl];

  constructor(config: Cluster, options: ClusterInfoOptions) {
    const base = options.fieldPath ?? `clusters[${JSON.stringify(config.name)}]`;
    if (config.name === '') throw new ConfigError(`${base}.name`, 'name is required');
    this.config = config;
    this.name = config.name;
    this.statName = config.altStatName !== '' ? config.altStatName : config.name;
    this.addedViaApi = options.addedViaApi;
    this.type = clusterTypeOf(config, base);
    this.connectTimeoutMs = durationToMs(config.connectTimeout, DEFAULT_CONNECT_TIMEOUT_MS);
    this.perConnectionBufferLimitBytes = config.perConnectionBufferLimitBytes ?? DEFAULT_BUFFER_LIMIT_BYTES;

    const ext = httpProtocolOptionsOf(config, base);
    const common: CoreHttpProtocolOptions | undefined = ext?.commonHttpProtocolOptions ?? config.commonHttpProtocolOptions;
    const idle = common?.idleTimeout;
    this.idleTimeoutMs = durationToMs(idle, DEFAULT_UPSTREAM_IDLE_TIMEOUT_MS);
    this.maxRequestsPerConnection = common?.maxRequestsPerConnection ?? config.maxRequestsPerConnection ?? 0;
    this.maxConnectionDurationMs = durationToMs(common?.maxConnectionDuration, 0);
    this.maxHeadersCount = common?.maxHeadersCount ?? 0;
    this.maxStreamDurationMs = durationToMs(common?.maxStreamDuration, 0);

    const proto = protocolOf(config, ext, base);
    if (proto.http2 !== undefined) validateUpstreamHttp2Options(proto.http2, `${base}.${proto.http2Path}`);
    this.upstreamProtocol = proto.protocol;
    this.useDownstreamProtocol = proto.useDownstream;
    this.alpnAutoConfig = proto.alpn === true;
    this.http1ProtocolOptions = proto.http1;
    this.http2ProtocolOptions = proto.http2;

    this.lb = lbSettingsFromCluster(config, base);

    this.statsScope = prefixedScope(options.statsScope, clusterStatPrefix(config.name, config.altStatName));
    this.stats = createClusterStats(this.statsScope);
    const thresholds = config.circuitBreakers?.thresholds ?? [];
    rejectRepeatedPriorities(thresholds, `${base}.circuit_breakers.thresholds`);
    rejectRepeatedPriorities(config.circuitBreakers?.perHostThresholds ?? [], `${base}.circuit_breakers.per_host_thresholds`);
    this.resourceManagers = [
      new ResourceManagerImpl(this.statsScope, 'default', thresholdsFor(thresholds, RoutingPriority.DEFAULT)),
      new ResourceManagerImpl(this.statsScope, 'high', thresholdsFor(thresholds, RoutingPriority.HIGH)),
    ];
    const perHost = config.circuitBreakers?.perHostThresholds.find((t) => t.priority === RoutingPriority.DEFAULT);
    this.perHostMaxConnections = perHost?.maxConnections;
  }

  /** Circuit breakers by routing priority: 0 DEFAULT, anything else HIGH. */
  resourceManager(priority: number): ResourceManager & ResourceManagerImpl {
    return this.resourceManagers[priority === RoutingPriority.DEFAULT ? 0 : 1];
  }
}

function clusterTypeOf(config: Cluster, base: string): ClusterType {
  const dt = config.clusterDiscoveryType;
  if (dt.case === 'clusterType') {
    throw notSupportedYet(`${base}.cluster_type`, `custom cluster type '${dt.value.name}'`);
  }
  const type = dt.case === 'type' ? dt.value : DiscoveryType.STATIC;
  switch (type) {
    case DiscoveryType.STATIC:
      return 'static';
    case DiscoveryType.STRICT_DNS:
      return 'strict_dns';
    case DiscoveryType.LOGICAL_DNS:
      return 'logical_dns';
    case DiscoveryType.EDS:
      return 'eds';
    default:
      throw notSupportedYet(`${base}.type`, `cluster type ${enumName(DiscoveryType, type)}`);
  }
}

function httpProtocolOptionsOf(config: Cluster, base: string): HttpProtocolOptions | undefined {
  let found: HttpProtocolOptions | undefined;
  for (const [key, any] of Object.entries(config.typedExtensionProtocolOptions)) {
    const path = `${base}.typed_extension_protocol_options["${key}"]`;
    if (key !== HTTP_PROTOCOL_OPTIONS_KEY) {
      throw notSupportedYet(path, `protocol options for '${key}'`);
    }
    const typeName = typeUrlToName(any.typeUrl);
    if (typeName !== HTTP_PROTOCOL_OPTIONS_KEY && typeName !== 'udpa.type.v1.TypedStruct' && typeName !== 'xds.type.v3.TypedStruct') {
      throw new ConfigError(path, `expected type ${HTTP_PROTOCOL_OPTIONS_KEY}, got ${any.typeUrl}`);
    }
    found = unpack<HttpProtocolOptions>(any, path);
  }
  return found;
}

function protocolOf(
  config: Cluster,
  ext: HttpProtocolOptions | undefined,
  base: string,
): { protocol: UpstreamProtocol; useDownstream: boolean; alpn?: boolean; http1?: Http1ProtocolOptions; http2?: Http2ProtocolOptions; http2Path?: string } {
  if (ext !== undefined && ext.upstreamProtocolOptions.case !== undefined) {
    const path = `${base}.typed_extension_protocol_options["${HTTP_PROTOCOL_OPTIONS_KEY}"]`;
    const opt = ext.upstreamProtocolOptions;
    switch (opt.case) {
      case 'explicitHttpConfig': {
        const pc = opt.value.protocolConfig;
        if (pc.case === 'http2ProtocolOptions') {
          return { protocol: 'http2', useDownstream: false, http2: pc.value, http2Path: `${HPO_PATH}.explicit_http_config.http2_protocol_options` };
        }
        if (pc.case === 'http3ProtocolOptions') {
          throw notSupportedYet(`${path}.explicit_http_config.http3_protocol_options`, 'upstream HTTP/3');
        }
        return { protocol: 'http1', useDownstream: false, http1: pc.case === 'httpProtocolOptions' ? pc.value : undefined };
      }
      case 'useDownstreamProtocolConfig': {
        if (opt.value.http3ProtocolOptions !== undefined) {
          throw notSupportedYet(`${path}.use_downstream_protocol_config.http3_protocol_options`, 'upstream HTTP/3');
        }
        return {
          protocol: 'http1',
          useDownstream: true,
          http1: opt.value.httpProtocolOptions,
          http2: opt.value.http2ProtocolOptions,
          http2Path: `${HPO_PATH}.use_downstream_protocol_config.http2_protocol_options`,
        };
      }
      case 'autoConfig':
        // HTTP/1 or HTTP/2 by ALPN: the server's pool factory picks per connection (TLS required there).
        if (opt.value.http3ProtocolOptions !== undefined) {
          throw notSupportedYet(`${path}.auto_config.http3_protocol_options`, 'upstream HTTP/3');
        }
        return { protocol: 'http1', useDownstream: false, alpn: true, http1: opt.value.httpProtocolOptions, http2: opt.value.http2ProtocolOptions };
    }
  }
  // Deprecated cluster-level fields.
  const useDownstream = config.protocolSelection === ClusterProtocolSelection.USE_DOWNSTREAM_PROTOCOL;
  if (config.http2ProtocolOptions !== undefined && !useDownstream) {
    return { protocol: 'http2', useDownstream: false, http1: config.httpProtocolOptions, http2: config.http2ProtocolOptions, http2Path: 'http2_protocol_options' };
  }
  return { protocol: 'http1', useDownstream, http1: config.httpProtocolOptions, http2: config.http2ProtocolOptions, http2Path: 'http2_protocol_options' };
}

const HPO_PATH = `typed_extension_protocol_options["${HTTP_PROTOCOL_OPTIONS_KEY}"]`;

/** Upstream HTTP/2 options Legate cannot honour are refused rather than ignored. */
function validateUpstreamHttp2Options(o: Http2ProtocolOptions, path: string): void {
  const idle = o.connectionKeepalive?.connectionIdleInterval;
  if (idle !== undefined && durationToMs(idle, 0) > 0) {
    throw notSupportedYet(`${path}.connection_keepalive.connection_idle_interval`, 'PINGs ahead of new streams on idle connections');
  }
  if (o.connectionKeepalive !== undefined && durationToMs(o.connectionKeepalive.interval, 0) > 0 && o.connectionKeepalive.timeout === undefined) {
    throw new ConfigError(`${path}.connection_keepalive.timeout`, 'timeout is required');
  }
  if (o.allowMetadata) throw notSupportedYet(`${path}.allow_metadata`, 'HTTP/2 METADATA frames');
}

/**
 * One thresholds entry per routing priority: Envoy silently uses the first
 * of several, which hides a typo, so Legate refuses the repeat.
 */
function rejectRepeatedPriorities(list: CircuitBreakers_Thresholds[], path: string): void {
  const seen = new Map<number, number>();
  list.forEach((t, i) => {
    const prev = seen.get(t.priority);
    if (prev !== undefined) {
      throw new ConfigError(`${path}[${i}].priority`,
        `thresholds for priority ${enumName(RoutingPriority, t.priority)} are already given in ${path}[${prev}]`);
    }
    seen.set(t.priority, i);
  });
}

function thresholdsFor(list: CircuitBreakers_Thresholds[], priority: number): CircuitBreakerThresholds {
  const t = list.find((x) => x.priority === priority);
  const out = defaultThresholds();
  if (t === undefined) return out;
  out.maxConnections = t.maxConnections ?? out.maxConnections;
  out.maxPendingRequests = t.maxPendingRequests ?? out.maxPendingRequests;
  out.maxRequests = t.maxRequests ?? out.maxRequests;
  out.maxRetries = t.maxRetries ?? out.maxRetries;
  out.maxConnectionPools = t.maxConnectionPools ?? out.maxConnectionPools;
  out.trackRemaining = t.trackRemaining;
  if (t.retryBudget !== undefined) {
    out.retryBudget = {
      budgetPercent: t.retryBudget.budgetPercent?.value ?? DEFAULT_RETRY_BUDGET_PERCENT,
      minRetryConcurrency: t.retryBudget.minRetryConcurrency ?? DEFAULT_MIN_RETRY_CONCURRENCY,
    };
  }
  return out;
}
