/**
 * `envoy.filters.http.fault`, after Envoy's
 * `source/extensions/filters/http/fault/fault_filter.cc`: injects delays,
 * aborts and response rate limits into requests that match the configured
 * upstream cluster, downstream nodes and headers.
 *
 *   decodeHeaders: settings = route's typed_per_filter_config ?? filter config
 *     -> not matching: pass
 *     -> response rate limit picked: throttle the response body (encoder path)
 *     -> delay picked: hold the request on a timer (DI), then maybe abort
 *     -> abort picked: local reply with the status (FI)
 *
 * A delay holds only this request: other streams on the connection go on,
 * and a client that goes away cancels the timer (onDestroy). Every fault
 * counts once toward `max_active_faults` (gauge `fault.active_faults`);
 * over the limit the fault is skipped and `fault.faults_overflow` counted.
 * There is no runtime layer: the runtime keys always take their defaults
 * (the config's values).
 */
import {
  FilterDataStatus,
  FilterHeadersStatus,
  FilterTrailersStatus,
  PassThroughFilter,
} from '../../../../envoy/http/filter.js';
import type { HeaderMap } from '../../../../envoy/http/header_map.js';
import type { TimeSource, Timer } from '../../../../envoy/common/time.js';
import type { Counter, Gauge, Scope } from '../../../../envoy/stats/stats.js';
import { ResponseFlag } from '../../../../envoy/stream_info/response_flags.js';
import type { RandomGenerator } from '../../../../common/random.js';
import { type HeaderMatcherImpl, matchHeaders } from '../../../../common/matchers/header_matcher.js';
import {
  type FaultAbortConfig,
  type FaultDelayConfig,
  type FaultRateLimitConfig,
  percentageHit,
} from '../../common/fault/fault_config.js';
import { StreamRateLimiter } from '../common/stream_rate_limiter.js';

/** `%RESPONSE_CODE_DETAILS%` of an injected abort. */
export const FAULT_ABORT_DETAILS = 'fault_filter_abort';
const ABORT_BODY = 'fault filter abort';
const DOWNSTREAM_SERVICE_CLUSTER = 'x-envoy-downstream-service-cluster';
const DOWNSTREAM_SERVICE_NODE = 'x-envoy-downstream-service-node';

/** One HTTPFault, compiled (Envoy's FaultSettings): the filter's own config or a route's override. */
export interface FaultSettings {
  readonly kind: 'FaultSettings';
  readonly requestAbort: FaultAbortConfig | null;
  readonly requestDelay: FaultDelayConfig | null;
  readonly responseRateLimit: FaultRateLimitConfig | null;
  readonly upstreamCluster: string;
  /** Empty: every downstream node. */
  readonly downstreamNodes: ReadonlySet<string>;
  /** Null: no header conditions. */
  readonly headers: readonly HeaderMatcherImpl[] | null;
  /** Unset: unlimited. */
  readonly maxActiveFaults: number | undefined;
  readonly disableDownstreamClusterStats: boolean;
}

export function isFaultSettings(v: unknown): v is FaultSettings {
  return typeof v === 'object' && v !== null && (v as { kind?: unknown }).kind === 'FaultSettings';
}

/** The stats of one fault filter config, under `<hcm prefix>fault.` (Envoy's ALL_FAULT_FILTER_STATS). */
export interface FaultFilterStats {
  readonly delays_injected: Counter;
  readonly aborts_injected: Counter;
  readonly response_rl_injected: Counter;
  readonly faults_overflow: Counter;
  readonly active_faults: Gauge;
}

/** Shared by every stream of one filter config (Envoy's FaultFilterConfig). */
export class FaultFilterConfig {
  readonly stats: FaultFilterStats;
  private readonly prefix: string;

  constructor(
    readonly settings: FaultSettings,
    statPrefix: string,
    private readonly scope: Scope,
    readonly timeSource: TimeSource,
    readonly random: RandomGenerator,
  ) {
    this.prefix = `${statPrefix}fault.`;
    this.stats = {
      delays_injected: scope.counter(`${this.prefix}delays_injected`),
      aborts_injected: scope.counter(`${this.prefix}aborts_injected`),
      response_rl_injected: scope.counter(`${this.prefix}response_rl_injected`),
      faults_overflow: scope.counter(`${this.prefix}faults_overflow`),
      active_faults: scope.gauge(`${this.prefix}active_faults`),
    };
  }

  /** `<prefix>fault.<downstream_cluster>.<name>` */
  downstreamClusterCounter(downstreamCluster: string, name: 'delays_injected' | 'aborts_injected'): Counter {
    return this.scope.counter(`${this.prefix}${downstreamCluster}.${name}`);
  }
}

export class FaultFilter extends PassThroughFilter {
  private settings: FaultSettings;
  private requestHeaders: HeaderMap | null = null;
  private downstreamCluster = '';
  private delayTimer: Timer | null = null;
  private responseLimiter: StreamRateLimiter | null = null;
  /** This stream counts in active_faults (at most once, whatever faults it gets). */
  private faultActive = false;

  constructor(private readonly config: FaultFilterConfig) {
    super();
    this.settings = config.settings;
  }

  override decodeHeaders(headers: HeaderMap, _endStream: boolean): FilterHeadersStatus {
    // A route's typed_per_filter_config replaces the filter's own settings entirely.
    const perRoute = this.decoderCallbacks.mostSpecificPerFilterConfig();
    this.settings = isFaultSettings(perRoute) ? perRoute : this.config.settings;
    if (!this.matchesTargetUpstreamCluster(headers)) return FilterHeadersStatus.Continue;
    if (!this.matchesDownstreamNodes(headers)) return FilterHeadersStatus.Continue;
    if (!matchHeaders(headers, this.settings.headers)) return FilterHeadersStatus.Continue;
    this.requestHeaders = headers;
    this.downstreamCluster = headers.get(DOWNSTREAM_SERVICE_CLUSTER) ?? '';

    this.maybeSetupResponseRateLimit(headers);
    if (this.maybeSetupDelay(headers)) return FilterHeadersStatus.StopIteration;
    if (this.maybeDoAbort(headers)) return FilterHeadersStatus.StopIteration;
    return FilterHeadersStatus.Continue;
  }

  override decodeData(_data: Buffer, _endStream: boolean): FilterDataStatus {
    // The body waits with the headers; past the buffer limit, downstream reading pauses.
    return this.delayTimer === null ? FilterDataStatus.Continue : FilterDataStatus.StopIterationAndWatermark;
  }

  override decodeTrailers(_trailers: HeaderMap): FilterTrailersStatus {
    return this.delayTimer === null ? FilterTrailersStatus.Continue : FilterTrailersStatus.StopIteration;
  }

  override encodeData(data: Buffer, endStream: boolean): FilterDataStatus {
    if (this.responseLimiter === null) return FilterDataStatus.Continue;
    this.responseLimiter.writeData(data, endStream);
    return FilterDataStatus.StopIterationNoBuffer;
  }

  override encodeTrailers(_trailers: HeaderMap): FilterTrailersStatus {
    if (this.responseLimiter === null) return FilterTrailersStatus.Continue;
    return this.responseLimiter.onTrailers() ? FilterTrailersStatus.StopIteration : FilterTrailersStatus.Continue;
  }

  override onDestroy(): void {
    this.cancelDelay();
    this.responseLimiter?.destroy();
    if (this.faultActive) {
      this.faultActive = false;
      this.config.stats.active_faults.dec();
    }
  }

  // ---- matching ----

  private matchesTargetUpstreamCluster(headers: HeaderMap): boolean {
    const target = this.settings.upstreamCluster;
    if (target === '') return true;
    const entry = this.decoderCallbacks.route()?.routeEntry ?? null;
    // Weighted clusters: the first pick, as grpc_stats does (no per-request pick is cached yet).
    return entry !== null && entry.clusterName(headers, 0) === target;
  }

  private matchesDownstreamNodes(headers: HeaderMap): boolean {
    if (this.settings.downstreamNodes.size === 0) return true;
    const node = headers.get(DOWNSTREAM_SERVICE_NODE);
    return node !== undefined && this.settings.downstreamNodes.has(node);
  }

  // ---- faults ----

  private maybeSetupResponseRateLimit(headers: HeaderMap): void {
    const rl = this.settings.responseRateLimit;
    if (rl === null || !percentageHit(rl.percentage(headers), this.config.random.random())) return;
    const kbps = rl.rateKbps(headers);
    if (kbps === undefined || !this.tryIncActiveFaults()) return;
    this.config.stats.response_rl_injected.inc();
    const enc = this.encoderCallbacks;
    this.responseLimiter = new StreamRateLimiter(kbps, enc.encoderBufferLimit(), {
      pause: () => enc.onEncoderFilterAboveWriteBufferHighWatermark(),
      resume: () => enc.onEncoderFilterBelowWriteBufferLowWatermark(),
      write: (data, endStream) => enc.injectEncodedDataToFilterChain(data, endStream),
      continueWithTrailers: () => enc.continueEncoding(),
    }, this.config.timeSource);
  }

  /** The delay for this request in ms, or undefined (not picked, no usable header, or 0). */
  private delayDurationMs(headers: HeaderMap): number | undefined {
    const delay = this.settings.requestDelay;
    if (delay === null || !percentageHit(delay.percentage(headers), this.config.random.random())) return undefined;
    const ms = delay.durationMs(headers);
    return ms !== undefined && ms > 0 ? ms : undefined;
  }

  private maybeSetupDelay(headers: HeaderMap): boolean {
    const ms = this.delayDurationMs(headers);
    if (ms === undefined || !this.tryIncActiveFaults()) return false;
    this.delayTimer = this.config.timeSource.schedule(ms, () => this.postDelayInjection());
    this.config.stats.delays_injected.inc();
    if (this.downstreamCluster !== '' && !this.settings.disableDownstreamClusterStats) {
      this.config.downstreamClusterCounter(this.downstreamCluster, 'delays_injected').inc();
    }
    this.decoderCallbacks.streamInfo.setResponseFlag(ResponseFlag.DelayInjected);
    return true;
  }

  /**
   * The abort for this request: an HTTP status, or a gRPC status sent with
   * HTTP 200. Undefined when no abort is picked (an HTTP status wins over a
   * gRPC one when both are available).
   */
  private abortStatus(headers: HeaderMap): { http: number; grpc: number | undefined } | undefined {
    const abort = this.settings.requestAbort;
    if (abort === null || !percentageHit(abort.percentage(headers), this.config.random.random())) return undefined;
    const http = abort.httpStatusCode(headers);
    if (http !== undefined) return { http, grpc: undefined };
    const grpc = abort.grpcStatusCode(headers);
    if (grpc !== undefined) return { http: 200, grpc };
    return undefined;
  }

  private maybeDoAbort(headers: HeaderMap): boolean {
    const status = this.abortStatus(headers);
    if (status === undefined || !this.tryIncActiveFaults()) return false;
    this.abortWithStatus(status.http, status.grpc);
    return true;
  }

  private abortWithStatus(http: number, grpc: number | undefined): void {
    this.config.stats.aborts_injected.inc();
    if (this.downstreamCluster !== '' && !this.settings.disableDownstreamClusterStats) {
      this.config.downstreamClusterCounter(this.downstreamCluster, 'aborts_injected').inc();
    }
    this.decoderCallbacks.streamInfo.setResponseFlag(ResponseFlag.FaultInjected);
    this.decoderCallbacks.sendLocalReply(http, ABORT_BODY, {
      details: FAULT_ABORT_DETAILS,
      ...(grpc !== undefined ? { grpcStatus: grpc } : {}),
    });
  }

  /** The delay ran out: abort now if an abort is picked (a fresh draw, as Envoy), else let the request go. */
  private postDelayInjection(): void {
    this.delayTimer = null;
    const status = this.abortStatus(this.requestHeaders!);
    if (status !== undefined) {
      this.abortWithStatus(status.http, status.grpc);
      return;
    }
    // The delay is over: unless a response rate limit still runs, this stream no longer counts as a fault.
    if (this.faultActive && this.responseLimiter === null) {
      this.faultActive = false;
      this.config.stats.active_faults.dec();
    }
    this.decoderCallbacks.continueDecoding();
  }

  private cancelDelay(): void {
    this.delayTimer?.cancel();
    this.delayTimer = null;
  }

  /**
   * Charges this stream to active_faults once; false (and faults_overflow
   * counted) when max_active_faults is reached. A fuzzy limit, as Envoy's.
   */
  private tryIncActiveFaults(): boolean {
    if (this.faultActive) return true;
    const max = this.settings.maxActiveFaults;
    if (max !== undefined && this.config.stats.active_faults.value() >= max) {
      this.config.stats.faults_overflow.inc();
      return false;
    }
    this.config.stats.active_faults.inc();
    this.faultActive = true;
    return true;
  }
}
