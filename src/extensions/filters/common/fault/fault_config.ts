/**
 * The fault kinds shared by fault filters — abort, delay, response rate
 * limit — after Envoy's `source/extensions/filters/common/fault/fault_config.cc`.
 * Each is either fixed by config or read from a request header (the
 * `header_*` variants), with a percentage that a request header may lower
 * (never raise) for header-controlled faults.
 *
 * Header values are untrusted: only the first value counts, and one that is
 * not an unsigned integer is ignored (no fault), as in Envoy.
 */
import type { FractionalPercent } from '../../../../generated/envoy/type/v3/percent_pb.js';
import type { FaultAbort } from '../../../../generated/envoy/extensions/filters/http/fault/v3/fault_pb.js';
import type { FaultDelay, FaultRateLimit } from '../../../../generated/envoy/extensions/filters/common/fault/v3/fault_pb.js';
import type { HeaderMap } from '../../../../envoy/http/header_map.js';
import { ConfigError } from '../../../../config/config_error.js';
import { durationToMs } from '../../../../config/well_known.js';

/** Request headers that control faults (Envoy's Filters::Common::Fault::HeaderNames). */
export const FaultHeaders = {
  AbortRequest: 'x-envoy-fault-abort-request',
  AbortRequestPercentage: 'x-envoy-fault-abort-request-percentage',
  AbortGrpcRequest: 'x-envoy-fault-abort-grpc-request',
  DelayRequest: 'x-envoy-fault-delay-request',
  DelayRequestPercentage: 'x-envoy-fault-delay-request-percentage',
  ThroughputResponse: 'x-envoy-fault-throughput-response',
  ThroughputResponsePercentage: 'x-envoy-fault-throughput-response-percentage',
} as const;

/** FractionalPercent.DenominatorType: HUNDRED = 0, TEN_THOUSAND = 1, MILLION = 2. */
const DENOMINATORS = [100, 10_000, 1_000_000] as const;

/** A FractionalPercent as plain numbers. An unset percentage is 0 % (Envoy's default message). */
export interface Percentage {
  readonly numerator: number;
  readonly denominator: number;
}

export function toPercentage(p: FractionalPercent | undefined): Percentage {
  return { numerator: p?.numerator ?? 0, denominator: DENOMINATORS[p?.denominator ?? 0] ?? 100 };
}

/**
 * Envoy's featureEnabled for a FractionalPercent: `random % denominator <
 * numerator`, so a numerator at or above the denominator always fires.
 */
export function percentageHit(p: Percentage, random: number): boolean {
  return random % p.denominator < p.numerator;
}

/** The first value of `name` as an unsigned integer, or undefined (absent or not a number). */
function headerUint(headers: HeaderMap, name: string): number | undefined {
  const v = headers.get(name);
  if (v === undefined || !/^\d+$/.test(v)) return undefined;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : undefined;
}

/**
 * Envoy's HeaderPercentageProvider: the header's numerator, capped at the
 * configured one, over the configured denominator; the configured
 * percentage when the header is absent or not a number.
 */
function headerPercentage(headers: HeaderMap, header: string, configured: Percentage): Percentage {
  const n = headerUint(headers, header);
  if (n === undefined) return configured;
  return { numerator: Math.min(n, configured.numerator), denominator: configured.denominator };
}

/** Envoy's FaultAbortConfig: a fixed HTTP or gRPC status, or one read from the request. */
export class FaultAbortConfig {
  private readonly fromHeaders: boolean;
  private readonly fixedHttpStatus: number | undefined;
  private readonly fixedGrpcStatus: number | undefined;
  private readonly configuredPercentage: Percentage;

  /** `path` is the proto path of the FaultAbort, for errors. */
  constructor(config: FaultAbort, path: string) {
    const e = config.errorType;
    // PGV (error_type required, http_status in [200, 600)) has run already; the checks below are for configs built in code.
    if (e.case === undefined) throw new ConfigError(path, 'one of http_status, grpc_status or header_abort is required');
    if (e.case === 'httpStatus' && (e.value < 200 || e.value >= 600)) {
      throw new ConfigError(`${path}.http_status`, `value must be inside range [200, 600), got ${e.value}`);
    }
    this.fromHeaders = e.case === 'headerAbort';
    this.fixedHttpStatus = e.case === 'httpStatus' ? e.value : undefined;
    this.fixedGrpcStatus = e.case === 'grpcStatus' ? e.value : undefined;
    this.configuredPercentage = toPercentage(config.percentage);
  }

  /** The HTTP status to abort with, or undefined (header control: header absent, not a number, or outside [200, 600)). */
  httpStatusCode(headers: HeaderMap): number | undefined {
    if (!this.fromHeaders) return this.fixedHttpStatus;
    const code = headerUint(headers, FaultHeaders.AbortRequest);
    return code !== undefined && code >= 200 && code < 600 ? code : undefined;
  }

  /** The gRPC status to abort with, or undefined. */
  grpcStatusCode(headers: HeaderMap): number | undefined {
    if (!this.fromHeaders) return this.fixedGrpcStatus;
    return headerUint(headers, FaultHeaders.AbortGrpcRequest);
  }

  percentage(headers: HeaderMap): Percentage {
    return this.fromHeaders ? headerPercentage(headers, FaultHeaders.AbortRequestPercentage, this.configuredPercentage) : this.configuredPercentage;
  }
}

/** Envoy's FaultDelayConfig: a fixed delay, or one read from `x-envoy-fault-delay-request` (ms). */
export class FaultDelayConfig {
  private readonly fromHeaders: boolean;
  private readonly fixedMs: number;
  private readonly configuredPercentage: Percentage;

  constructor(config: FaultDelay, path: string) {
    const s = config.faultDelaySecifier;
    if (s.case === undefined) throw new ConfigError(path, 'one of fixed_delay or header_delay is required');
    this.fromHeaders = s.case === 'headerDelay';
    this.fixedMs = s.case === 'fixedDelay' ? durationToMs(s.value, 0) : 0;
    if (s.case === 'fixedDelay' && this.fixedMs <= 0) {
      throw new ConfigError(`${path}.fixed_delay`, 'value must be greater than 0s');
    }
    this.configuredPercentage = toPercentage(config.percentage);
  }

  /** The delay in ms, or undefined (header control without a usable header). */
  durationMs(headers: HeaderMap): number | undefined {
    return this.fromHeaders ? headerUint(headers, FaultHeaders.DelayRequest) : this.fixedMs;
  }

  percentage(headers: HeaderMap): Percentage {
    return this.fromHeaders ? headerPercentage(headers, FaultHeaders.DelayRequestPercentage, this.configuredPercentage) : this.configuredPercentage;
  }
}

/** Envoy's FaultRateLimitConfig: a fixed KiB/s limit, or one read from `x-envoy-fault-throughput-response`. */
export class FaultRateLimitConfig {
  private readonly fromHeaders: boolean;
  private readonly fixedKbps: number;
  private readonly configuredPercentage: Percentage;

  constructor(config: FaultRateLimit, path: string) {
    const l = config.limitType;
    if (l.case === undefined) throw new ConfigError(path, 'one of fixed_limit or header_limit is required');
    this.fromHeaders = l.case === 'headerLimit';
    this.fixedKbps = l.case === 'fixedLimit' ? Number(l.value.limitKbps) : 0;
    if (l.case === 'fixedLimit' && this.fixedKbps < 1) {
      throw new ConfigError(`${path}.fixed_limit.limit_kbps`, `value must be greater than or equal to 1, got ${this.fixedKbps}`);
    }
    this.configuredPercentage = toPercentage(config.percentage);
  }

  /** The limit in KiB/s, or undefined (header control: absent, not a number, or 0). */
  rateKbps(headers: HeaderMap): number | undefined {
    if (!this.fromHeaders) return this.fixedKbps;
    const v = headerUint(headers, FaultHeaders.ThroughputResponse);
    return v === undefined || v === 0 ? undefined : v;
  }

  percentage(headers: HeaderMap): Percentage {
    return this.fromHeaders ? headerPercentage(headers, FaultHeaders.ThroughputResponsePercentage, this.configuredPercentage) : this.configuredPercentage;
  }
}
