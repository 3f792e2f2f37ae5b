/**
 * A cluster's `health_checks[]` entry (envoy.config.core.v3.HealthCheck),
 * validated and compiled into plain settings, after the constructors of
 * Envoy's HealthCheckerImplBase and its HTTP/TCP/gRPC checkers
 * (source/extensions/health_checkers/). Every impossible value is a
 * ConfigError naming its field: a zero or negative interval/timeout, missing
 * thresholds (required in the proto), no checker type, an expected_statuses
 * range outside [100, 600) or with start >= end, a bad hex payload, a request
 * body on a GET, a header that may not be modified.
 */
import { durationToMs } from '../config/well_known.js';
import { compileStringMatcher, type StringMatcher } from '../common/matchers/string_matcher.js';
import { MatcherConfigError } from '../common/matchers/errors.js';
import type { Duration } from '@bufbuild/protobuf/wkt';
import type { HeaderValueOption } from '../generated/envoy/config/core/v3/base_pb.js';
import type {
  HealthCheck,
  HealthCheck_GrpcHealthCheck,
  HealthCheck_HttpHealthCheck,
  HealthCheck_Payload,
  HealthCheck_TcpHealthCheck,
} from '../generated/envoy/config/core/v3/health_check_pb.js';
import type { Int64Range } from '../generated/envoy/type/v3/range_pb.js';
import type { HealthCheckEventFileSink } from '../generated/envoy/extensions/health_check/event_sinks/file/v3/file_pb.js';
import { ConfigError, notSupportedYet, unpack } from './proto_util.js';

/** envoy.type.v3.CodecClientType */
export const CodecClientType = { HTTP1: 0, HTTP2: 1, HTTP3: 2 } as const;

/** envoy.config.core.v3.RequestMethod */
export const RequestMethod = {
  METHOD_UNSPECIFIED: 0, GET: 1, HEAD: 2, POST: 3, PUT: 4, DELETE: 5, CONNECT: 6, OPTIONS: 7, TRACE: 8, PATCH: 9,
} as const;

/** envoy.config.core.v3.HeaderValueOption.HeaderAppendAction */
export const HeaderAppendAction = {
  APPEND_IF_EXISTS_OR_ADD: 0, ADD_IF_ABSENT: 1, OVERWRITE_IF_EXISTS_OR_ADD: 2, OVERWRITE_IF_EXISTS: 3,
} as const;

/** Envoy's default `no_traffic_interval`. */
export const DEFAULT_NO_TRAFFIC_INTERVAL_MS = 60_000;
/** Envoy's kDefaultMaxBytesInBuffer for `response_buffer_size`. */
export const DEFAULT_RESPONSE_BUFFER_SIZE = 1024;

/** A compiled `request_headers_to_add` entry (static values only). */
export interface HeaderToAdd {
  readonly key: string;
  readonly value: string;
  /** HeaderAppendAction value. */
  readonly action: number;
  readonly keepEmptyValue: boolean;
}

export interface HttpCheckSettings {
  readonly kind: 'http';
  readonly path: string;
  /** `host`; '' = the endpoint's health_check_config.hostname, else the cluster name. */
  readonly host: string;
  readonly method: string;
  readonly protocol: 'http1' | 'http2';
  /** Half-open [start, end) ranges; default [200, 201). */
  readonly expectedStatuses: ReadonlyArray<readonly [number, number]>;
  readonly retriableStatuses: ReadonlyArray<readonly [number, number]>;
  readonly headersToAdd: ReadonlyArray<HeaderToAdd>;
  /** Lower-case names. */
  readonly headersToRemove: ReadonlyArray<string>;
  readonly send: Buffer | null;
  readonly receive: ReadonlyArray<Buffer>;
  /** Bytes of the response body kept for `receive` matching (0 = no limit). */
  readonly responseBufferSize: number;
  /** `service_name_matcher`: checks x-envoy-upstream-healthchecked-cluster (verify_cluster). */
  readonly serviceNameMatcher: StringMatcher | null;
}

export interface TcpCheckSettings {
  readonly kind: 'tcp';
  readonly send: Buffer | null;
  readonly receive: ReadonlyArray<Buffer>;
}

export interface GrpcCheckSettings {
  readonly kind: 'grpc';
  readonly serviceName: string;
  /** `authority`; '' = as the HTTP host (endpoint hostname, else cluster name). */
  readonly authority: string;
  readonly initialMetadata: ReadonlyArray<HeaderToAdd>;
}

export type CheckerSettings = HttpCheckSettings | TcpCheckSettings | GrpcCheckSettings;

export interface HealthCheckSettings {
  readonly timeoutMs: number;
  readonly intervalMs: number;
  readonly initialJitterMs: number;
  readonly intervalJitterMs: number;
  readonly intervalJitterPercent: number;
  readonly unhealthyThreshold: number;
  readonly healthyThreshold: number;
  readonly reuseConnection: boolean;
  readonly noTrafficIntervalMs: number;
  readonly noTrafficHealthyIntervalMs: number;
  readonly unhealthyIntervalMs: number;
  readonly unhealthyEdgeIntervalMs: number;
  readonly healthyEdgeIntervalMs: number;
  /** Health check event log files ('' entries never appear). */
  readonly eventLogPaths: ReadonlyArray<string>;
  readonly alwaysLogHealthCheckFailures: boolean;
  readonly alwaysLogHealthCheckSuccess: boolean;
  readonly checker: CheckerSettings;
}

const FILE_SINK_TYPE = 'envoy.extensions.health_check.event_sinks.file.v3.HealthCheckEventFileSink';

/** Compiles one `health_checks[]` entry; `path` names it in errors. */
export function compileHealthCheck(hc: HealthCheck, path: string): HealthCheckSettings {
  const timeoutMs = requiredPositiveMs(hc.timeout, `${path}.timeout`);
  const intervalMs = requiredPositiveMs(hc.interval, `${path}.interval`);
  if (hc.unhealthyThreshold === undefined) throw new ConfigError(`${path}.unhealthy_threshold`, 'is required');
  if (hc.healthyThreshold === undefined) throw new ConfigError(`${path}.healthy_threshold`, 'is required');
  // Stricter than Envoy, which accepts 0 and then never changes the host's state: a threshold counts at least one check.
  if (hc.unhealthyThreshold === 0) throw new ConfigError(`${path}.unhealthy_threshold`, 'must be at least 1 (0 would never mark a host unhealthy)');
  if (hc.healthyThreshold === 0) throw new ConfigError(`${path}.healthy_threshold`, 'must be at least 1 (0 would never mark a host healthy)');
  const noTrafficIntervalMs = optionalPositiveMs(hc.noTrafficInterval, `${path}.no_traffic_interval`, DEFAULT_NO_TRAFFIC_INTERVAL_MS);
  const unhealthyIntervalMs = optionalPositiveMs(hc.unhealthyInterval, `${path}.unhealthy_interval`, intervalMs);
  const eventLogPaths: string[] = [];
  if (hc.eventLogPath !== '') eventLogPaths.push(hc.eventLogPath);
  hc.eventLogger.forEach((sink, i) => {
    const p = `${path}.event_logger[${i}]`;
    const typeUrl = sink.typedConfig?.typeUrl ?? '';
    if (!typeUrl.endsWith(`/${FILE_SINK_TYPE}`)) {
      throw notSupportedYet(`${p}.typed_config`, `health check event sink '${sink.name}' (only ${FILE_SINK_TYPE})`);
    }
    const fileSink = unpack<HealthCheckEventFileSink>(sink.typedConfig!, `${p}.typed_config`);
    if (fileSink.eventLogPath === '') throw new ConfigError(`${p}.typed_config.event_log_path`, 'is required');
    eventLogPaths.push(fileSink.eventLogPath);
  });
  if (hc.tlsOptions !== undefined) throw notSupportedYet(`${path}.tls_options`, 'health check tls_options');
  if (hc.transportSocketMatchCriteria !== undefined) {
    throw notSupportedYet(`${path}.transport_socket_match_criteria`, 'transport_socket_match_criteria');
  }
  return {
    timeoutMs,
    intervalMs,
    initialJitterMs: optionalNonNegativeMs(hc.initialJitter, `${path}.initial_jitter`),
    intervalJitterMs: optionalNonNegativeMs(hc.intervalJitter, `${path}.interval_jitter`),
    intervalJitterPercent: hc.intervalJitterPercent,
    unhealthyThreshold: hc.unhealthyThreshold,
    healthyThreshold: hc.healthyThreshold,
    reuseConnection: hc.reuseConnection ?? true,
    noTrafficIntervalMs,
    noTrafficHealthyIntervalMs: optionalPositiveMs(hc.noTrafficHealthyInterval, `${path}.no_traffic_healthy_interval`, noTrafficIntervalMs),
    unhealthyIntervalMs,
    unhealthyEdgeIntervalMs: optionalPositiveMs(hc.unhealthyEdgeInterval, `${path}.unhealthy_edge_interval`, unhealthyIntervalMs),
    healthyEdgeIntervalMs: optionalPositiveMs(hc.healthyEdgeInterval, `${path}.healthy_edge_interval`, intervalMs),
    eventLogPaths,
    alwaysLogHealthCheckFailures: hc.alwaysLogHealthCheckFailures,
    alwaysLogHealthCheckSuccess: hc.alwaysLogHealthCheckSuccess,
    checker: compileChecker(hc, path),
  };
}

function compileChecker(hc: HealthCheck, path: string): CheckerSettings {
  const c = hc.healthChecker;
  switch (c.case) {
    case 'httpHealthCheck':
      return compileHttp(c.value, `${path}.http_health_check`);
    case 'tcpHealthCheck':
      return compileTcp(c.value, `${path}.tcp_health_check`);
    case 'grpcHealthCheck':
      return compileGrpc(c.value, `${path}.grpc_health_check`);
    case 'customHealthCheck':
      throw notSupportedYet(`${path}.custom_health_check`, 'custom health checkers');
    default:
      throw new ConfigError(path, 'a health checker is required: set http_health_check, tcp_health_check or grpc_health_check');
  }
}

function compileHttp(h: HealthCheck_HttpHealthCheck, path: string): HttpCheckSettings {
  if (h.path === '') throw new ConfigError(`${path}.path`, 'is required');
  if (h.codecClientType === CodecClientType.HTTP3) throw notSupportedYet(`${path}.codec_client_type`, 'HTTP/3 health checks');
  const methodNum = h.method === RequestMethod.METHOD_UNSPECIFIED ? RequestMethod.GET : h.method;
  const method = Object.entries(RequestMethod).find(([, v]) => v === methodNum)?.[0];
  if (method === undefined || methodNum === RequestMethod.CONNECT) {
    throw new ConfigError(`${path}.method`, `unsupported health check method ${method ?? h.method}`);
  }
  const send = h.send === undefined ? null : payloadBytes(h.send, `${path}.send`);
  if (send !== null && ['GET', 'HEAD', 'DELETE', 'TRACE'].includes(method)) {
    throw new ConfigError(`${path}.send`, `HTTP health check cannot specify a request payload with method '${method}'. Only methods that support a request body (POST, PUT, PATCH, OPTIONS) can be used with payload.`);
  }
  const receive = h.receive.map((p, i) => payloadBytes(p, `${path}.receive[${i}]`));
  const responseBufferSize = h.responseBufferSize === undefined ? DEFAULT_RESPONSE_BUFFER_SIZE : Number(h.responseBufferSize);
  const receiveTotal = receive.reduce((n, b) => n + b.length, 0);
  if (responseBufferSize !== 0 && receiveTotal > responseBufferSize) {
    throw new ConfigError(`${path}.receive`, `the expected response length '${receiveTotal}' is over than http health response buffer size '${responseBufferSize}'`);
  }
  let serviceNameMatcher: StringMatcher | null = null;
  if (h.serviceNameMatcher !== undefined) {
    try {
      serviceNameMatcher = compileStringMatcher(h.serviceNameMatcher);
    } catch (e) {
      if (e instanceof MatcherConfigError) throw new ConfigError(`${path}.service_name_matcher${e.field === '' ? '' : `.${e.field}`}`, e.detail);
      throw e;
    }
  }
  h.requestHeadersToRemove.forEach((name, i) => {
    if (!modifiableHeader(name)) {
      throw new ConfigError(`${path}.request_headers_to_remove[${i}]`, `':-prefixed' or 'host' headers may not be removed (got '${name}')`);
    }
  });
  const expected = statusRanges(h.expectedStatuses, `${path}.expected_statuses`, 'expected');
  return {
    kind: 'http',
    path: h.path,
    host: h.host,
    method,
    protocol: h.codecClientType === CodecClientType.HTTP2 ? 'http2' : 'http1',
    expectedStatuses: expected.length > 0 ? expected : [[200, 201]],
    retriableStatuses: statusRanges(h.retriableStatuses, `${path}.retriable_statuses`, 'retriable'),
    headersToAdd: headersToAdd(h.requestHeadersToAdd, `${path}.request_headers_to_add`),
    headersToRemove: h.requestHeadersToRemove.map((n) => n.toLowerCase()),
    send,
    receive,
    responseBufferSize,
    serviceNameMatcher,
  };
}

function compileTcp(t: HealthCheck_TcpHealthCheck, path: string): TcpCheckSettings {
  if (t.proxyProtocolConfig !== undefined) throw notSupportedYet(`${path}.proxy_protocol_config`, 'PROXY protocol health checks');
  return {
    kind: 'tcp',
    send: t.send === undefined ? null : payloadBytes(t.send, `${path}.send`),
    receive: t.receive.map((p, i) => payloadBytes(p, `${path}.receive[${i}]`)),
  };
}

function compileGrpc(g: HealthCheck_GrpcHealthCheck, path: string): GrpcCheckSettings {
  return {
    kind: 'grpc',
    serviceName: g.serviceName,
    authority: g.authority,
    initialMetadata: headersToAdd(g.initialMetadata, `${path}.initial_metadata`),
  };
}

/** [start, end) pairs, each within [100, 600) with start < end (Envoy's HttpStatusChecker::validateRange). */
function statusRanges(ranges: ReadonlyArray<Int64Range>, path: string, what: string): Array<readonly [number, number]> {
  return ranges.map((r, i) => {
    const start = Number(r.start);
    const end = Number(r.end);
    const p = `${path}[${i}]`;
    if (start >= end) throw new ConfigError(p, `invalid http ${what} status range: expecting start < end, but found start=${start} and end=${end}`);
    if (start < 100) throw new ConfigError(`${p}.start`, `invalid http ${what} status range: expecting start >= 100, but found start=${start}`);
    if (end > 600) throw new ConfigError(`${p}.end`, `invalid http ${what} status range: expecting end <= 600, but found end=${end}`);
    return [start, end] as const;
  });
}

/** A Payload's bytes: `text` is hex (Envoy decodes it), `binary` is raw. */
export function payloadBytes(p: HealthCheck_Payload, path: string): Buffer {
  const v = p.payload;
  if (v.case === 'binary') return Buffer.from(v.value);
  if (v.case === 'text') {
    if (v.value.length === 0 || v.value.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(v.value)) {
      throw new ConfigError(`${path}.text`, `invalid hex string '${v.value}'`);
    }
    return Buffer.from(v.value, 'hex');
  }
  throw new ConfigError(path, 'a payload needs text (hex) or binary');
}

/** Static request headers; `%COMMAND%` substitutions are refused. */
function headersToAdd(options: ReadonlyArray<HeaderValueOption>, path: string): HeaderToAdd[] {
  return options.map((o, i) => {
    const p = `${path}[${i}]`;
    const key = o.header?.key ?? '';
    if (key === '') throw new ConfigError(`${p}.header.key`, 'is required');
    if (!modifiableHeader(key)) {
      throw new ConfigError(`${p}.header.key`, `invalid header configuration: ':-prefixed' or 'host' headers may not be modified (got '${key}')`);
    }
    const rawValue = o.header?.rawValue ?? new Uint8Array();
    const value = rawValue.length > 0 ? Buffer.from(rawValue).toString('latin1') : o.header?.value ?? '';
    if (/%[A-Za-z_]+(\(|%)/.test(value.replace(/%%/g, ''))) {
      throw notSupportedYet(`${p}.header.value`, 'header value substitutions (%...%) in health check requests');
    }
    let action: number = o.appendAction;
    // The deprecated `append` wins when set: true = append, false = overwrite.
    if (o.append !== undefined) action = o.append ? HeaderAppendAction.APPEND_IF_EXISTS_OR_ADD : HeaderAppendAction.OVERWRITE_IF_EXISTS_OR_ADD;
    return { key: key.toLowerCase(), value: value.replace(/%%/g, '%'), action, keepEmptyValue: o.keepEmptyValue };
  });
}

function modifiableHeader(name: string): boolean {
  return !name.startsWith(':') && name.toLowerCase() !== 'host';
}

function requiredPositiveMs(d: Duration | undefined, path: string): number {
  if (d === undefined) throw new ConfigError(path, 'is required');
  return positiveMs(d, path);
}

function optionalPositiveMs(d: Duration | undefined, path: string, defaultMs: number): number {
  return d === undefined ? defaultMs : positiveMs(d, path);
}

function positiveMs(d: Duration, path: string): number {
  const ms = durationToMs(d, 0);
  if (Number(d.seconds) < 0 || d.nanos < 0 || (Number(d.seconds) === 0 && d.nanos === 0)) {
    throw new ConfigError(path, `must be greater than 0s, got ${durationText(d)}`);
  }
  // Sub-millisecond durations would schedule a busy loop; Envoy counts whole milliseconds too.
  if (ms < 1) throw new ConfigError(path, `must be at least 1ms, got ${durationText(d)}`);
  return ms;
}

function optionalNonNegativeMs(d: Duration | undefined, path: string): number {
  if (d === undefined) return 0;
  if (Number(d.seconds) < 0 || d.nanos < 0) throw new ConfigError(path, `must not be negative, got ${durationText(d)}`);
  return durationToMs(d, 0);
}

function durationText(d: Duration): string {
  const s = Number(d.seconds) + d.nanos / 1e9;
  return `${s}s`;
}
