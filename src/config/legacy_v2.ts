/**
 * Shims for the older config forms that tutorials and blog posts still show
 * (Envoy v1/v2 style), applied to the JSON before it is checked against the
 * v3 descriptors. Each rewrite leaves a warning that says what to write
 * instead, with the place it was found, so a user can fix the file once and
 * stop seeing it. Envoy itself dropped the v2 API in 1.18 and the short
 * extension names in 1.22; Legate keeps reading them, loudly.
 *
 * What is rewritten:
 * - a document whose top level holds `listeners:`/`clusters:` (a fragment of
 *   `static_resources`) is moved under `static_resources`;
 * - `config:` on a filter / access log / transport socket → `typed_config`
 *   with the `@type` of the named extension;
 * - deprecated extension names (`envoy.router`, `envoy.http_connection_manager`,
 *   ... the table from Envoy 1.14's deprecated.rst) → canonical names;
 * - v2 type URLs (`envoy.api.v2.Cluster`, `envoy.config.filter.*.v2.*`) → v3;
 * - cluster `hosts:` (socket addresses, or v1 `url: tcp://host:port`) →
 *   `load_assignment`; `lb_type` → `lb_policy`; `tls_context` →
 *   `transport_socket`;
 * - route `timeout_ms` → `timeout`; v1 flat routes (`prefix:`/`cluster:` on
 *   the route itself) → `match` + `route`; `host_rewrite` → `host_rewrite_literal`;
 * - enum values written in another case (`strict_dns`, `round_robin`) or by an
 *   old name (`weighted_least_request`) → the v3 name (see legacyEnumName).
 */
import type { DescEnum, DescMessage } from '@bufbuild/protobuf';
import { fieldChild, indexChild } from './field_path.js';
import {
  deleteEntry,
  isJsonObject,
  keyPosition,
  locate,
  locationOf,
  moveEntry,
  setEntry,
  type JsonObject,
  type JsonValue,
} from './source_positions.js';
import { findMessageSchema, nameToTypeUrl } from './type_registry.js';

/** How the shims report back to the JSON checker that runs them. */
export interface ShimHost {
  warn(container: object, key: string | number | undefined, path: string, message: string): void;
  error(container: object, key: string | number | undefined, path: string, message: string): void;
}

// ---------------------------------------------------------------------------
// Extension names

interface LegacyName {
  readonly canonical: string;
  /** Category prefix, e.g. `envoy.filters.http` or `envoy.transport_sockets`. */
  readonly category: string;
}

/**
 * Deprecated extension names → canonical names, per category. From the
 * table in Envoy 1.14's docs/root/intro/deprecated.rst, plus the transport
 * socket short names. `envoy.ext_authz` is both an HTTP and a network filter.
 */
const LEGACY_NAMES: ReadonlyArray<readonly [string, string, string]> = [
  ['envoy.access_loggers', 'envoy.file_access_log', 'envoy.access_loggers.file'],
  ['envoy.access_loggers', 'envoy.http_grpc_access_log', 'envoy.access_loggers.http_grpc'],
  ['envoy.access_loggers', 'envoy.tcp_grpc_access_log', 'envoy.access_loggers.tcp_grpc'],
  ['envoy.filters.http', 'envoy.buffer', 'envoy.filters.http.buffer'],
  ['envoy.filters.http', 'envoy.cors', 'envoy.filters.http.cors'],
  ['envoy.filters.http', 'envoy.csrf', 'envoy.filters.http.csrf'],
  ['envoy.filters.http', 'envoy.http_dynamo_filter', 'envoy.filters.http.dynamo'],
  ['envoy.filters.http', 'envoy.ext_authz', 'envoy.filters.http.ext_authz'],
  ['envoy.filters.http', 'envoy.fault', 'envoy.filters.http.fault'],
  ['envoy.filters.http', 'envoy.grpc_http1_bridge', 'envoy.filters.http.grpc_http1_bridge'],
  ['envoy.filters.http', 'envoy.grpc_json_transcoder', 'envoy.filters.http.grpc_json_transcoder'],
  ['envoy.filters.http', 'envoy.grpc_web', 'envoy.filters.http.grpc_web'],
  ['envoy.filters.http', 'envoy.gzip', 'envoy.filters.http.gzip'],
  ['envoy.filters.http', 'envoy.health_check', 'envoy.filters.http.health_check'],
  ['envoy.filters.http', 'envoy.ip_tagging', 'envoy.filters.http.ip_tagging'],
  ['envoy.filters.http', 'envoy.lua', 'envoy.filters.http.lua'],
  ['envoy.filters.http', 'envoy.rate_limit', 'envoy.filters.http.ratelimit'],
  ['envoy.filters.http', 'envoy.router', 'envoy.filters.http.router'],
  ['envoy.filters.http', 'envoy.squash', 'envoy.filters.http.squash'],
  ['envoy.filters.listener', 'envoy.listener.http_inspector', 'envoy.filters.listener.http_inspector'],
  ['envoy.filters.listener', 'envoy.listener.original_dst', 'envoy.filters.listener.original_dst'],
  ['envoy.filters.listener', 'envoy.listener.original_src', 'envoy.filters.listener.original_src'],
  ['envoy.filters.listener', 'envoy.listener.proxy_protocol', 'envoy.filters.listener.proxy_protocol'],
  ['envoy.filters.listener', 'envoy.listener.tls_inspector', 'envoy.filters.listener.tls_inspector'],
  ['envoy.filters.network', 'envoy.client_ssl_auth', 'envoy.filters.network.client_ssl_auth'],
  ['envoy.filters.network', 'envoy.echo', 'envoy.filters.network.echo'],
  ['envoy.filters.network', 'envoy.ext_authz', 'envoy.filters.network.ext_authz'],
  ['envoy.filters.network', 'envoy.http_connection_manager', 'envoy.filters.network.http_connection_manager'],
  ['envoy.filters.network', 'envoy.mongo_proxy', 'envoy.filters.network.mongo_proxy'],
  ['envoy.filters.network', 'envoy.ratelimit', 'envoy.filters.network.ratelimit'],
  ['envoy.filters.network', 'envoy.redis_proxy', 'envoy.filters.network.redis_proxy'],
  ['envoy.filters.network', 'envoy.tcp_proxy', 'envoy.filters.network.tcp_proxy'],
  ['envoy.stats_sinks', 'envoy.dog_statsd', 'envoy.stat_sinks.dog_statsd'],
  ['envoy.stats_sinks', 'envoy.metrics_service', 'envoy.stat_sinks.metrics_service'],
  ['envoy.stats_sinks', 'envoy.statsd', 'envoy.stat_sinks.statsd'],
  ['envoy.tracers', 'envoy.dynamic.ot', 'envoy.tracers.dynamic_ot'],
  ['envoy.tracers', 'envoy.lightstep', 'envoy.tracers.lightstep'],
  ['envoy.tracers', 'envoy.zipkin', 'envoy.tracers.zipkin'],
  ['envoy.transport_sockets', 'tls', 'envoy.transport_sockets.tls'],
  ['envoy.transport_sockets', 'raw_buffer', 'envoy.transport_sockets.raw_buffer'],
];

const LEGACY_BY_NAME = new Map<string, LegacyName[]>();
for (const [category, legacy, canonical] of LEGACY_NAMES) {
  const list = LEGACY_BY_NAME.get(legacy) ?? [];
  list.push({ canonical, category });
  LEGACY_BY_NAME.set(legacy, list);
}

/**
 * The canonical name for a deprecated extension name, or undefined when
 * `name` is not a deprecated name (in that category, if one is given).
 * `category` may be a full registry category such as
 * `envoy.transport_sockets.upstream`; it matches its prefix.
 */
export function canonicalExtensionName(name: string, category?: string): string | undefined {
  const list = LEGACY_BY_NAME.get(name);
  if (list === undefined) return undefined;
  if (category === undefined) return list.length === 1 ? list[0]?.canonical : undefined;
  return list.find((e) => category.startsWith(e.category) || e.category.startsWith(category))?.canonical;
}

/** All deprecated names (for the registry's listing and tests). */
export function legacyExtensionNames(): ReadonlyArray<{ legacy: string; canonical: string; category: string }> {
  return LEGACY_NAMES.map(([category, legacy, canonical]) => ({ legacy, canonical, category }));
}

/**
 * The config message of well-known extensions, used to give a v2 `config:`
 * its `@type`. Names whose type is not in our descriptor set are skipped at
 * lookup. The TLS transport socket depends on direction.
 */
const EXTENSION_CONFIG_TYPES: Readonly<Record<string, string>> = {
  'envoy.access_loggers.file': 'envoy.extensions.access_loggers.file.v3.FileAccessLog',
  'envoy.access_loggers.http_grpc': 'envoy.extensions.access_loggers.grpc.v3.HttpGrpcAccessLogConfig',
  'envoy.access_loggers.tcp_grpc': 'envoy.extensions.access_loggers.grpc.v3.TcpGrpcAccessLogConfig',
  'envoy.access_loggers.stdout': 'envoy.extensions.access_loggers.stream.v3.StdoutAccessLog',
  'envoy.access_loggers.stderr': 'envoy.extensions.access_loggers.stream.v3.StderrAccessLog',
  'envoy.filters.http.adaptive_concurrency': 'envoy.extensions.filters.http.adaptive_concurrency.v3.AdaptiveConcurrency',
  'envoy.filters.http.buffer': 'envoy.extensions.filters.http.buffer.v3.Buffer',
  'envoy.filters.http.compressor': 'envoy.extensions.filters.http.compressor.v3.Compressor',
  'envoy.filters.http.cors': 'envoy.extensions.filters.http.cors.v3.Cors',
  'envoy.filters.http.csrf': 'envoy.extensions.filters.http.csrf.v3.CsrfPolicy',
  'envoy.filters.http.decompressor': 'envoy.extensions.filters.http.decompressor.v3.Decompressor',
  'envoy.filters.http.dynamic_forward_proxy': 'envoy.extensions.filters.http.dynamic_forward_proxy.v3.FilterConfig',
  'envoy.filters.http.ext_authz': 'envoy.extensions.filters.http.ext_authz.v3.ExtAuthz',
  'envoy.filters.http.fault': 'envoy.extensions.filters.http.fault.v3.HTTPFault',
  'envoy.filters.http.grpc_http1_bridge': 'envoy.extensions.filters.http.grpc_http1_bridge.v3.Config',
  'envoy.filters.http.grpc_json_transcoder': 'envoy.extensions.filters.http.grpc_json_transcoder.v3.GrpcJsonTranscoder',
  'envoy.filters.http.grpc_stats': 'envoy.extensions.filters.http.grpc_stats.v3.FilterConfig',
  'envoy.filters.http.grpc_web': 'envoy.extensions.filters.http.grpc_web.v3.GrpcWeb',
  'envoy.filters.http.gzip': 'envoy.extensions.filters.http.gzip.v3.Gzip',
  'envoy.filters.http.header_to_metadata': 'envoy.extensions.filters.http.header_to_metadata.v3.Config',
  'envoy.filters.http.health_check': 'envoy.extensions.filters.http.health_check.v3.HealthCheck',
  'envoy.filters.http.ip_tagging': 'envoy.extensions.filters.http.ip_tagging.v3.IPTagging',
  'envoy.filters.http.jwt_authn': 'envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication',
  'envoy.filters.http.local_ratelimit': 'envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit',
  'envoy.filters.http.lua': 'envoy.extensions.filters.http.lua.v3.Lua',
  'envoy.filters.http.original_src': 'envoy.extensions.filters.http.original_src.v3.OriginalSrc',
  'envoy.filters.http.ratelimit': 'envoy.extensions.filters.http.ratelimit.v3.RateLimit',
  'envoy.filters.http.rbac': 'envoy.extensions.filters.http.rbac.v3.RBAC',
  'envoy.filters.http.router': 'envoy.extensions.filters.http.router.v3.Router',
  'envoy.filters.http.tap': 'envoy.extensions.filters.http.tap.v3.Tap',
  'envoy.filters.listener.http_inspector': 'envoy.extensions.filters.listener.http_inspector.v3.HttpInspector',
  'envoy.filters.listener.original_dst': 'envoy.extensions.filters.listener.original_dst.v3.OriginalDst',
  'envoy.filters.listener.original_src': 'envoy.extensions.filters.listener.original_src.v3.OriginalSrc',
  'envoy.filters.listener.proxy_protocol': 'envoy.extensions.filters.listener.proxy_protocol.v3.ProxyProtocol',
  'envoy.filters.listener.tls_inspector': 'envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector',
  'envoy.filters.network.client_ssl_auth': 'envoy.extensions.filters.network.client_ssl_auth.v3.ClientSSLAuth',
  'envoy.filters.network.direct_response': 'envoy.extensions.filters.network.direct_response.v3.Config',
  'envoy.filters.network.echo': 'envoy.extensions.filters.network.echo.v3.Echo',
  'envoy.filters.network.ext_authz': 'envoy.extensions.filters.network.ext_authz.v3.ExtAuthz',
  'envoy.filters.network.http_connection_manager':
    'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
  'envoy.filters.network.local_ratelimit': 'envoy.extensions.filters.network.local_ratelimit.v3.LocalRateLimit',
  'envoy.filters.network.mongo_proxy': 'envoy.extensions.filters.network.mongo_proxy.v3.MongoProxy',
  'envoy.filters.network.ratelimit': 'envoy.extensions.filters.network.ratelimit.v3.RateLimit',
  'envoy.filters.network.rbac': 'envoy.extensions.filters.network.rbac.v3.RBAC',
  'envoy.filters.network.redis_proxy': 'envoy.extensions.filters.network.redis_proxy.v3.RedisProxy',
  'envoy.filters.network.sni_cluster': 'envoy.extensions.filters.network.sni_cluster.v3.SniCluster',
  'envoy.filters.network.tcp_proxy': 'envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
  'envoy.stat_sinks.dog_statsd': 'envoy.config.metrics.v3.DogStatsdSink',
  'envoy.stat_sinks.hystrix': 'envoy.config.metrics.v3.HystrixSink',
  'envoy.stat_sinks.metrics_service': 'envoy.config.metrics.v3.MetricsServiceConfig',
  'envoy.stat_sinks.statsd': 'envoy.config.metrics.v3.StatsdSink',
  'envoy.tracers.datadog': 'envoy.config.trace.v3.DatadogConfig',
  'envoy.tracers.dynamic_ot': 'envoy.config.trace.v3.DynamicOtConfig',
  'envoy.tracers.lightstep': 'envoy.config.trace.v3.LightstepConfig',
  'envoy.tracers.zipkin': 'envoy.config.trace.v3.ZipkinConfig',
  'envoy.transport_sockets.raw_buffer': 'envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer',
};

/**
 * The config message type of a well-known extension, if it is in our
 * descriptor set. `upstream` picks the TLS context for transport sockets.
 */
export function extensionConfigType(canonicalName: string, upstream = false): string | undefined {
  let type = EXTENSION_CONFIG_TYPES[canonicalName];
  if (canonicalName === 'envoy.transport_sockets.tls') {
    type = `envoy.extensions.transport_sockets.tls.v3.${upstream ? 'Upstream' : 'Downstream'}TlsContext`;
  }
  return type !== undefined && findMessageSchema(type) !== undefined ? type : undefined;
}

/** The extension category of messages that name an extension and carry its `typed_config`. */
const EXTENSION_HOLDERS: Readonly<Record<string, string>> = {
  'envoy.config.listener.v3.Filter': 'envoy.filters.network',
  'envoy.config.listener.v3.ListenerFilter': 'envoy.filters.listener',
  'envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter': 'envoy.filters.http',
  'envoy.config.accesslog.v3.AccessLog': 'envoy.access_loggers',
  'envoy.config.core.v3.TransportSocket': 'envoy.transport_sockets',
  'envoy.config.metrics.v3.StatsSink': 'envoy.stats_sinks',
  'envoy.config.trace.v3.Tracing.Http': 'envoy.tracers',
};

// ---------------------------------------------------------------------------
// Type URLs

/**
 * The v3 name of a v2 message name, when one exists in the registry:
 * `envoy.api.v2.Cluster` → `envoy.config.cluster.v3.Cluster`,
 * `envoy.config.filter.network.http_connection_manager.v2.HttpConnectionManager`
 * → `envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`.
 */
export function upgradeV2TypeName(name: string): string | undefined {
  const candidates: string[] = [];
  let m: RegExpMatchArray | null;
  if ((m = name.match(/^envoy\.config\.filter\.(http|network|listener|udp)\.([a-z0-9_]+)\.v2(?:alpha\d*)?\.([A-Za-z0-9_.]+)$/))) {
    candidates.push(`envoy.extensions.filters.${m[1]}.${m[2]}.v3.${m[3]}`);
  } else if ((m = name.match(/^envoy\.config\.accesslog\.v2\.([A-Za-z0-9_]+)$/))) {
    if (m[1] === 'FileAccessLog') candidates.push('envoy.extensions.access_loggers.file.v3.FileAccessLog');
    else candidates.push(`envoy.extensions.access_loggers.grpc.v3.${m[1]}`);
  } else if ((m = name.match(/^envoy\.api\.v2\.auth\.([A-Za-z0-9_]+)$/))) {
    candidates.push(`envoy.extensions.transport_sockets.tls.v3.${m[1]}`);
  } else if ((m = name.match(/^envoy\.api\.v2\.core\.([A-Za-z0-9_.]+)$/))) {
    candidates.push(`envoy.config.core.v3.${m[1]}`);
  } else if ((m = name.match(/^envoy\.api\.v2\.(route|endpoint|listener|cluster)\.([A-Za-z0-9_.]+)$/))) {
    candidates.push(`envoy.config.${m[1]}.v3.${m[2]}`);
  } else if ((m = name.match(/^envoy\.api\.v2\.([A-Za-z0-9_.]+)$/))) {
    for (const area of ['cluster', 'listener', 'route', 'endpoint']) candidates.push(`envoy.config.${area}.v3.${m[1]}`);
  } else if ((m = name.match(/^envoy\.config\.([a-z_]+)\.v2(?:alpha)?\.([A-Za-z0-9_.]+)$/))) {
    candidates.push(`envoy.config.${m[1]}.v3.${m[2]}`);
  }
  return candidates.find((c) => findMessageSchema(c) !== undefined);
}

// ---------------------------------------------------------------------------
// Enums

/** Old value names that differ by more than case, per enum. */
const ENUM_ALIASES: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  'envoy.config.cluster.v3.Cluster.LbPolicy': {
    WEIGHTED_LEAST_REQUEST: 'LEAST_REQUEST',
    ORIGINAL_DST_LB: 'CLUSTER_PROVIDED',
  },
  'envoy.config.cluster.v3.Cluster.DiscoveryType': {
    SDS: 'EDS',
  },
};

/**
 * The v3 value name for an enum string that is not one: a different case
 * (`round_robin` → `ROUND_ROBIN`) or an old name from the alias table.
 */
export function legacyEnumName(desc: DescEnum, value: string): string | undefined {
  const upper = value.toUpperCase();
  const alias = ENUM_ALIASES[desc.typeName]?.[upper];
  if (alias !== undefined) return alias;
  for (const v of desc.values) {
    if (v.name.toUpperCase() === upper) return v.name;
  }
  return undefined;
}

// ---------------------------------------------------------------------------
// Hints for unknown fields that are v2 forms we do not rewrite

const UNKNOWN_FIELD_HINTS: Readonly<Record<string, string>> = {
  per_filter_config:
    'per_filter_config is the v2 form; write typed_per_filter_config with an "@type" for each filter',
  use_websocket: 'use_websocket is the v1 form; write upgrade_configs: [{upgrade_type: websocket}] on the http_connection_manager',
  deprecated_v1: 'deprecated_v1 configs are no longer supported; write typed_config',
};

export function unknownFieldHint(key: string): string | undefined {
  return UNKNOWN_FIELD_HINTS[key];
}

/** Replacements for common deprecated v3 fields, shown with the deprecation warning. */
const DEPRECATED_FIELD_HINTS: Readonly<Record<string, string>> = {
  'envoy.config.cluster.v3.Cluster.http2_protocol_options':
    'write typed_extension_protocol_options: {envoy.extensions.upstreams.http.v3.HttpProtocolOptions: {"@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions, explicit_http_config: {http2_protocol_options: {}}}}',
  'envoy.config.cluster.v3.Cluster.http_protocol_options':
    'write typed_extension_protocol_options with envoy.extensions.upstreams.http.v3.HttpProtocolOptions (explicit_http_config.http_protocol_options)',
  'envoy.config.cluster.v3.Cluster.common_http_protocol_options':
    'write typed_extension_protocol_options with envoy.extensions.upstreams.http.v3.HttpProtocolOptions (common_http_protocol_options)',
  'envoy.config.cluster.v3.Cluster.upstream_http_protocol_options':
    'write typed_extension_protocol_options with envoy.extensions.upstreams.http.v3.HttpProtocolOptions (upstream_http_protocol_options)',
  'envoy.config.cluster.v3.Cluster.protocol_selection':
    'write typed_extension_protocol_options with envoy.extensions.upstreams.http.v3.HttpProtocolOptions (use_downstream_protocol_config)',
  'envoy.config.cluster.v3.Cluster.max_requests_per_connection':
    'write typed_extension_protocol_options with envoy.extensions.upstreams.http.v3.HttpProtocolOptions (common_http_protocol_options.max_requests_per_connection)',
  'envoy.config.bootstrap.v3.Admin.access_log_path':
    'write access_log: [{name: envoy.access_loggers.file, typed_config: {"@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog, path: ...}}]',
};

export function deprecatedFieldHint(fieldFullName: string): string | undefined {
  return DEPRECATED_FIELD_HINTS[fieldFullName];
}

// ---------------------------------------------------------------------------
// Rendering a value for a warning, in YAML flow style

/** Renders a JSON value as one line of YAML flow style, abbreviating past `budget` characters. */
export function flowYaml(value: JsonValue | undefined, budget = 160): string {
  const text = render(value, 0);
  if (text.length <= budget) return text;
  return render(value, 1);
}

function render(value: JsonValue | undefined, depthCut: number, depth = 0): string {
  if (value === undefined || value === null) return 'null';
  if (typeof value === 'string') {
    return /^[A-Za-z0-9_./:*@-][A-Za-z0-9_./: *@-]*$/.test(value) && !/[: ]$/.test(value) && !/: /.test(value)
      ? value
      : JSON.stringify(value);
  }
  if (typeof value !== 'object') return String(value);
  if (Array.isArray(value)) {
    if (depthCut > 0 && depth >= 3 && value.length > 0) return '[...]';
    return `[${value.map((v) => render(v, depthCut, depth + 1)).join(', ')}]`;
  }
  const parts = Object.entries(value).map(([k, v]) => `${render(k, 0)}: ${render(v, depthCut, depth + 1)}`);
  return `{${parts.join(', ')}}`;
}

// ---------------------------------------------------------------------------
// The shims

/**
 * Runs the shims that apply to a JSON object about to be checked as message
 * `desc` at `path`. Mutates `obj` in place (keeping source positions).
 */
export function shimMessage(desc: DescMessage, obj: JsonObject, path: string, host: ShimHost): void {
  switch (desc.typeName) {
    case 'envoy.config.bootstrap.v3.Bootstrap':
      if (path === '') shimBootstrapFragment(obj, host);
      break;
    case 'envoy.config.cluster.v3.Cluster':
      shimCluster(obj, path, host);
      break;
    case 'envoy.config.listener.v3.FilterChain':
      shimTlsContext(obj, path, host, false);
      break;
    case 'envoy.config.route.v3.Route':
      shimRoute(obj, path, host);
      break;
    case 'envoy.config.route.v3.RouteAction':
      shimRouteAction(obj, path, host);
      break;
  }
  const category = EXTENSION_HOLDERS[desc.typeName];
  if (category !== undefined) shimExtensionHolder(obj, path, host, category);
}

/** A file that holds only `listeners:`/`clusters:` (a fragment, as in many tutorials). */
function shimBootstrapFragment(obj: JsonObject, host: ShimHost): void {
  for (const key of ['listeners', 'clusters', 'secrets']) {
    if (!(key in obj)) continue;
    let sr = obj['static_resources'] ?? obj['staticResources'];
    if (sr === undefined || sr === null) {
      sr = locate({} as JsonObject, keyPosition(obj, key));
      setEntry(obj, 'static_resources', sr, keyPosition(obj, key));
    }
    if (!isJsonObject(sr)) return; // the checker reports the bad static_resources
    const existing = sr[key];
    const moved = obj[key];
    if (existing !== undefined && existing !== null) {
      if (!Array.isArray(existing) || !Array.isArray(moved)) {
        host.error(obj, key, key, `${key} is set both at the top level and under static_resources; keep only static_resources.${key}`);
        continue;
      }
      host.warn(obj, key, key, `${key} at the top level is a fragment of a bootstrap; write it under static_resources: (appended to static_resources.${key})`);
      const from = locationOf(moved);
      const to = locationOf(existing);
      for (const [i, v] of moved.entries()) {
        const p = from?.values.get(i);
        if (p !== undefined) to?.values.set(existing.length, p);
        existing.push(v);
      }
      deleteEntry(obj, key);
      continue;
    }
    host.warn(obj, key, key, `${key} at the top level is a fragment of a bootstrap; write it under static_resources: (static_resources: {${key}: [...]})`);
    moveEntry(obj, key, sr, key);
  }
}

function shimExtensionHolder(obj: JsonObject, path: string, host: ShimHost, category: string): void {
  const name = obj['name'];
  let canonical = typeof name === 'string' ? name : undefined;
  if (typeof name === 'string') {
    const c = canonicalExtensionName(name, category);
    if (c !== undefined) {
      host.warn(obj, 'name', fieldChild(path, 'name'), `"${name}" is a deprecated extension name; write name: ${c}`);
      setEntry(obj, 'name', c, keyPosition(obj, 'name'));
      canonical = c;
    }
  }
  if (!('config' in obj)) return;
  const config = obj['config'];
  const configPath = fieldChild(path, 'config');
  if ('typed_config' in obj || 'typedConfig' in obj) {
    host.error(obj, 'config', configPath, 'config (the v2 form) and typed_config are both set; keep only typed_config');
    return;
  }
  const upstream = /(^|\.)clusters\[\d+\]/.test(path);
  const type = canonical === undefined ? undefined : extensionConfigType(canonical, upstream);
  if (config === null || (isJsonObject(config) && Object.keys(config).length === 0 && type === undefined)) {
    host.warn(obj, 'config', configPath, 'config is the v2 form; an empty config can simply be left out (or write typed_config with an "@type")');
    deleteEntry(obj, 'config');
    return;
  }
  if (!isJsonObject(config)) {
    host.error(obj, 'config', configPath, 'config is the v2 form and must be a mapping; write typed_config: {"@type": ..., ...}');
    return;
  }
  if (type === undefined) {
    host.error(
      obj,
      'config',
      configPath,
      `config is the v2 form; write typed_config: {"@type": type.googleapis.com/<config message>, ...} (Legate does not know the config type of "${canonical ?? ''}")`,
    );
    return;
  }
  // Put "@type" first, as it is usually written.
  const entries = Object.entries(config);
  const loc = locationOf(config);
  const kp = keyPosition(obj, 'config');
  for (const [k] of entries) delete config[k];
  config['@type'] = nameToTypeUrl(type);
  if (loc !== undefined && kp !== undefined) {
    loc.keys.set('@type', kp);
    loc.values.set('@type', kp);
  }
  for (const [k, v] of entries) if (k !== '@type') config[k] = v;
  moveEntry(obj, 'config', obj, 'typed_config');
  host.warn(
    obj,
    'typed_config',
    configPath,
    `config is the v2 form; write typed_config: {"@type": type.googleapis.com/${type}, ...} instead`,
  );
}

/** `tcp://host:port` / `udp://host:port` / `unix:///path` (v1 cluster hosts) → an Address. */
function addressFromUrl(url: string): JsonObject | undefined {
  const m = url.match(/^(tcp|udp):\/\/(\[[^\]]+\]|[^:/]+):(\d+)$/);
  if (m) {
    const address = (m[2] ?? '').replace(/^\[|\]$/g, '');
    const sa: JsonObject = { address, port_value: Number(m[3]) };
    if (m[1] === 'udp') sa['protocol'] = 'UDP';
    return { socket_address: sa };
  }
  const u = url.match(/^unix:\/\/(.+)$/);
  if (u) return { pipe: { path: u[1] ?? '' } };
  return undefined;
}

function shimCluster(obj: JsonObject, path: string, host: ShimHost): void {
  if ('lb_type' in obj && !('lb_policy' in obj) && !('lbPolicy' in obj)) {
    host.warn(obj, 'lb_type', fieldChild(path, 'lb_type'), `lb_type is the v1 name; write lb_policy: ${flowYaml(obj['lb_type'])} instead`);
    moveEntry(obj, 'lb_type', obj, 'lb_policy');
  }
  shimTlsContext(obj, path, host, true);
  if (!('hosts' in obj)) return;
  const hostsPath = fieldChild(path, 'hosts');
  const hosts = obj['hosts'];
  if ('load_assignment' in obj || 'loadAssignment' in obj) {
    host.error(obj, 'hosts', hostsPath, 'hosts (the v2 form) and load_assignment are both set; keep only load_assignment');
    return;
  }
  if (!Array.isArray(hosts)) {
    host.error(obj, 'hosts', hostsPath, 'hosts is the v2 form and must be a list of addresses; write load_assignment instead');
    return;
  }
  const hostsLoc = locationOf(hosts);
  const lbEndpoints: JsonValue[] = locate([], hostsLoc?.self);
  for (const [i, h] of hosts.entries()) {
    let address: JsonValue = h;
    if (isJsonObject(h) && typeof h['url'] === 'string' && Object.keys(h).length === 1) {
      const a = addressFromUrl(h['url']);
      if (a === undefined) {
        host.error(hosts, i, indexChild(hostsPath, i), `cannot read the v1 host url "${h['url']}"; expected tcp://host:port`);
        return;
      }
      address = locate(a, hostsLoc?.values.get(i));
      const sa = a['socket_address'];
      if (isJsonObject(sa)) locate(sa, hostsLoc?.values.get(i));
    }
    const p = hostsLoc?.values.get(i);
    const endpoint = locate({} as JsonObject, p);
    setEntry(endpoint, 'address', address, p, p);
    const lbEndpoint = locate({} as JsonObject, p);
    setEntry(lbEndpoint, 'endpoint', endpoint, p, p);
    lbEndpoints.push(lbEndpoint);
    if (p !== undefined) locationOf(lbEndpoints)?.values.set(i, p);
  }
  const kp = keyPosition(obj, 'hosts');
  const locality = locate({} as JsonObject, kp);
  setEntry(locality, 'lb_endpoints', lbEndpoints, kp);
  const endpoints = locate([locality] as JsonValue[], kp);
  if (kp !== undefined) locationOf(endpoints)?.values.set(0, kp);
  const clusterName = typeof obj['name'] === 'string' ? obj['name'] : '';
  const la = locate({} as JsonObject, kp);
  setEntry(la, 'cluster_name', clusterName, kp);
  setEntry(la, 'endpoints', endpoints, kp);
  const shown: JsonObject = { cluster_name: clusterName, endpoints: [{ lb_endpoints: lbEndpoints }] };
  let text = flowYaml(shown, 200);
  if (text.length > 200) text = `{cluster_name: ${flowYaml(clusterName)}, endpoints: [{lb_endpoints: [...]}]}`;
  host.warn(obj, 'hosts', hostsPath, `hosts is the v2 form; write load_assignment: ${text} instead`);
  deleteEntry(obj, 'hosts');
  setEntry(obj, 'load_assignment', la, kp);
}

/** v2 `tls_context` on a cluster or filter chain → `transport_socket` with the TLS context. */
function shimTlsContext(obj: JsonObject, path: string, host: ShimHost, upstream: boolean): void {
  if (!('tls_context' in obj)) return;
  const p = fieldChild(path, 'tls_context');
  if ('transport_socket' in obj || 'transportSocket' in obj) {
    host.error(obj, 'tls_context', p, 'tls_context (the v2 form) and transport_socket are both set; keep only transport_socket');
    return;
  }
  const ctx = obj['tls_context'];
  if (!isJsonObject(ctx)) return; // the checker reports it as an unknown field
  const type = `envoy.extensions.transport_sockets.tls.v3.${upstream ? 'Upstream' : 'Downstream'}TlsContext`;
  const kp = keyPosition(obj, 'tls_context');
  const entries = Object.entries(ctx);
  for (const [k] of entries) delete ctx[k];
  ctx['@type'] = nameToTypeUrl(type);
  const loc = locationOf(ctx);
  if (loc !== undefined && kp !== undefined) loc.keys.set('@type', kp);
  for (const [k, v] of entries) ctx[k] = v;
  const ts = locate({} as JsonObject, kp);
  setEntry(ts, 'name', 'envoy.transport_sockets.tls', kp);
  moveEntry(obj, 'tls_context', ts, 'typed_config');
  setEntry(obj, 'transport_socket', ts, kp);
  host.warn(
    obj,
    'transport_socket',
    p,
    `tls_context is the v2 form; write transport_socket: {name: envoy.transport_sockets.tls, typed_config: {"@type": type.googleapis.com/${type}, ...}} instead`,
  );
}

/** Milliseconds → a proto3 JSON Duration string (`1500` → `1.5s`). */
function msToDurationJson(ms: number): string {
  const whole = Math.trunc(ms / 1000);
  const frac = Math.abs(Math.round(ms - whole * 1000));
  return frac === 0 ? `${whole}s` : `${whole}.${String(frac).padStart(3, '0').replace(/0+$/, '')}s`;
}

function shimTimeoutMs(obj: JsonObject, path: string, host: ShimHost, into: JsonObject, intoPath: string): void {
  const v = obj['timeout_ms'];
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) {
    host.error(obj, 'timeout_ms', fieldChild(path, 'timeout_ms'), `timeout_ms is the v1 form and must be a number of milliseconds; write timeout: 15s`);
    return;
  }
  if ('timeout' in into) {
    host.error(obj, 'timeout_ms', fieldChild(path, 'timeout_ms'), 'timeout_ms (the v1 form) and timeout are both set; keep only timeout');
    return;
  }
  const d = msToDurationJson(n);
  const kp = keyPosition(obj, 'timeout_ms');
  host.warn(obj, 'timeout_ms', fieldChild(path, 'timeout_ms'), `timeout_ms is the v1 form; write ${intoPath === path ? '' : 'route: {...} with '}timeout: ${d} instead`);
  deleteEntry(obj, 'timeout_ms');
  setEntry(into, 'timeout', d, kp, kp);
}

/** Keys of a v1 route that belong to `match` and to `route` in v2/v3. */
const V1_ROUTE_MATCH_KEYS = ['prefix', 'path'];
const V1_ROUTE_ACTION_KEYS = ['cluster', 'cluster_header', 'prefix_rewrite', 'host_rewrite', 'auto_host_rewrite', 'weighted_clusters'];

function shimRoute(obj: JsonObject, path: string, host: ShimHost): void {
  const moveInto = (keys: string[], target: string): void => {
    const present = keys.filter((k) => k in obj);
    if (present.length === 0) return;
    let dst = obj[target];
    if (dst === undefined || dst === null) {
      dst = locate({} as JsonObject, keyPosition(obj, present[0] ?? ''));
      setEntry(obj, target, dst, keyPosition(obj, present[0] ?? ''));
    }
    if (!isJsonObject(dst)) return;
    for (const k of present) {
      if (k in dst) {
        host.error(obj, k, fieldChild(path, k), `${k} is set both on the route (the v1 form) and in ${target}; keep only ${target}.${k}`);
        continue;
      }
      host.warn(obj, k, fieldChild(path, k), `${k} on the route is the v1 form; write ${target}: {${k}: ${flowYaml(obj[k])}} instead`);
      moveEntry(obj, k, dst, k);
    }
  };
  moveInto(V1_ROUTE_MATCH_KEYS, 'match');
  moveInto(V1_ROUTE_ACTION_KEYS, 'route');
  if ('timeout_ms' in obj) {
    let action = obj['route'];
    if (action === undefined || action === null) {
      action = locate({} as JsonObject, keyPosition(obj, 'timeout_ms'));
      setEntry(obj, 'route', action, keyPosition(obj, 'timeout_ms'));
    }
    if (isJsonObject(action)) shimTimeoutMs(obj, path, host, action, fieldChild(path, 'route'));
  }
}

function shimRouteAction(obj: JsonObject, path: string, host: ShimHost): void {
  if ('timeout_ms' in obj) shimTimeoutMs(obj, path, host, obj, path);
  if ('host_rewrite' in obj && !('host_rewrite_literal' in obj)) {
    host.warn(obj, 'host_rewrite', fieldChild(path, 'host_rewrite'), `host_rewrite is the v2 name; write host_rewrite_literal: ${flowYaml(obj['host_rewrite'])} instead`);
    moveEntry(obj, 'host_rewrite', obj, 'host_rewrite_literal');
  }
}
