/**
 * `envoy.filters.http.grpc_stats`, after Envoy's
 * `source/extensions/filters/http/grpc_stats/grpc_stats_filter.cc`: counts
 * gRPC calls by grpc-status (success/failure/total) per cluster, optionally
 * per service/method, and the messages in each direction; with
 * `enable_upstream_stats`, the upstream_rq_time histogram.
 *
 *   stats_for_all_methods: true   -> cluster.<c>.grpc.<service>.<method>.*
 *   individual_method_stats_allowlist -> listed methods as above, others cluster.<c>.grpc.*
 *   neither (the default)          -> cluster.<c>.grpc.*
 */
import {
  FilterDataStatus,
  FilterHeadersStatus,
  FilterTrailersStatus,
  PassThroughFilter,
} from '../../../../envoy/http/filter.js';
import type { HeaderMap } from '../../../../envoy/http/header_map.js';
import { GrpcFrameInspector } from '../../../../common/grpc/codec.js';
import { isGrpcRequestHeaders, isGrpcResponseHeaders, resolveServiceAndMethod } from '../../../../common/grpc/common.js';
import type { GrpcContextImpl, RequestStatNames } from '../../../../common/grpc/context_impl.js';

/** The filter state key, as Envoy's (the filter's name). */
export const GRPC_STATS_FILTER_STATE_KEY = 'envoy.filters.http.grpc_stats';

export interface GrpcStatsConfig {
  readonly context: GrpcContextImpl;
  readonly emitFilterState: boolean;
  readonly statsForAllMethods: boolean;
  /** `service` → `method` → names; null when no allowlist was given. */
  readonly allowlist: ReadonlyMap<string, ReadonlyMap<string, RequestStatNames>> | null;
  readonly enableUpstreamStats: boolean;
  readonly replaceDotsInGrpcServiceName: boolean;
}

/** Envoy's GrpcStatsObject: `%FILTER_STATE(envoy.filters.http.grpc_stats:PLAIN)%` is "req,resp". */
export class GrpcStatsObject {
  requestMessageCount = 0;
  responseMessageCount = 0;
  serializeAsString(): string { return `${this.requestMessageCount},${this.responseMessageCount}`; }
  serializeAsJson(): unknown {
    return { request_message_count: String(this.requestMessageCount), response_message_count: String(this.responseMessageCount) };
  }
}

export class GrpcStatsFilter extends PassThroughFilter {
  private grpcRequest = false;
  private grpcResponse = false;
  private doStatTracking = false;
  private clusterStatName: string | null = null;
  private requestNames: RequestStatNames | null = null;
  private readonly requestCounter = new GrpcFrameInspector();
  private readonly responseCounter = new GrpcFrameInspector();
  private filterObject: GrpcStatsObject | null = null;

  constructor(private readonly config: GrpcStatsConfig) { super(); }

  override decodeHeaders(headers: HeaderMap, _endStream: boolean): FilterHeadersStatus {
    this.grpcRequest = isGrpcRequestHeaders(headers);
    if (!this.grpcRequest) return FilterHeadersStatus.Continue;
    const entry = this.decoderCallbacks.route()?.routeEntry ?? null;
    // Envoy's clusterInfo(): the route's cluster (weighted clusters: the first pick here).
    const cluster = entry === null ? null : entry.clusterName(headers, 0);
    this.clusterStatName = cluster === null ? null : this.config.context.clusterStatName(cluster);
    if (this.clusterStatName === null) return FilterHeadersStatus.Continue;
    const names = resolveServiceAndMethod(headers.get(':path'));
    if (this.config.statsForAllMethods) {
      this.requestNames = names === null ? null : this.config.context.dynamicNames(names, this.config.replaceDotsInGrpcServiceName);
      this.doStatTracking = this.requestNames !== null;
    } else if (names !== null) {
      // Anything that looks like service/method is counted; methods not on the allowlist without their names.
      this.doStatTracking = true;
      this.requestNames = this.config.allowlist?.get(names.service)?.get(names.method) ?? null;
    }
    return FilterHeadersStatus.Continue;
  }

  override decodeData(data: Buffer, _endStream: boolean): FilterDataStatus {
    if (this.grpcRequest) {
      const delta = this.requestCounter.inspect(data);
      if (delta > 0) {
        this.maybeWriteFilterState();
        if (this.doStatTracking) this.config.context.chargeRequestMessageStat(this.clusterStatName!, this.requestNames, delta);
      }
    }
    return FilterDataStatus.Continue;
  }

  override encodeHeaders(headers: HeaderMap, endStream: boolean): FilterHeadersStatus {
    this.grpcResponse = isGrpcResponseHeaders(headers, endStream);
    if (this.doStatTracking) {
      this.config.context.chargeStat(this.clusterStatName!, 'grpc', this.requestNames, headers.get('grpc-status'));
      if (endStream) this.maybeChargeUpstreamStat();
    }
    return FilterHeadersStatus.Continue;
  }

  override encodeData(data: Buffer, _endStream: boolean): FilterDataStatus {
    if (this.grpcResponse) {
      const delta = this.responseCounter.inspect(data);
      if (delta > 0) {
        this.maybeWriteFilterState();
        if (this.doStatTracking) this.config.context.chargeResponseMessageStat(this.clusterStatName!, this.requestNames, delta);
      }
    }
    return FilterDataStatus.Continue;
  }

  override encodeTrailers(trailers: HeaderMap): FilterTrailersStatus {
    if (this.doStatTracking) {
      this.config.context.chargeStat(this.clusterStatName!, 'grpc', this.requestNames, trailers.get('grpc-status'));
      this.maybeChargeUpstreamStat();
    }
    return FilterTrailersStatus.Continue;
  }

  /**
   * upstream_rq_time: last upstream byte received minus the request's last
   * byte (Envoy uses the last byte sent upstream, which follows it at once).
   */
  private maybeChargeUpstreamStat(): void {
    if (!this.config.enableUpstreamStats) return;
    const si = this.decoderCallbacks.streamInfo;
    const rx = si.lastUpstreamRxByteReceived;
    const tx = si.lastDownstreamRxByteReceived;
    if (rx === null || tx === null) return;
    this.config.context.chargeUpstreamStat(this.clusterStatName!, this.requestNames, Math.max(0, Math.round(rx - tx)));
  }

  private maybeWriteFilterState(): void {
    if (!this.config.emitFilterState) return;
    if (this.filterObject === null) {
      this.filterObject = new GrpcStatsObject();
      this.decoderCallbacks.streamInfo.filterState.set(GRPC_STATS_FILTER_STATE_KEY, this.filterObject);
    }
    this.filterObject.requestMessageCount = this.requestCounter.frameCount();
    this.filterObject.responseMessageCount = this.responseCounter.frameCount();
  }
}
