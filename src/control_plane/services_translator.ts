/**
 * Translates a services file (services_file.ts) into Envoy resources, the
 * way Istio's pilot turns VirtualServices and DestinationRules into xDS:
 *
 *   service (or service/version)  -> Cluster "<service>" / "<service>|<version>"
 *                                    (type EDS over ADS; HTTP/2 upstream for
 *                                    http2 and grpc services)
 *                                 -> ClusterLoadAssignment of the same name
 *                                    (one locality per zone, weight 1)
 *   routes                        -> RouteConfiguration <route_config>, one
 *                                    virtual host per distinct `hosts` list,
 *                                    routes in file order; splits become
 *                                    weighted_clusters, faults a per-route
 *                                    envoy.filters.http.fault config
 *   listener                      -> Listener <name> on address:port with an
 *                                    HttpConnectionManager taking that route
 *                                    configuration over RDS (ADS), and for each
 *                                    grpc_target an api_listener Listener
 *                                    (what gRPC xDS clients resolve)
 *
 * Every generated resource goes through the same proto3 JSON and PGV
 * checks as a hand-written one; errors point at the services file entry the
 * resource came from.
 */
import { ConfigError, type ConfigWarning, type SourcePosition } from '../config/config_error.js';
import { locate, type JsonObject, type JsonValue } from '../config/source_positions.js';
import { resourceFromJson } from './resource_file.js';
import type { ResourceInput } from './snapshot.js';
import type { EndpointDef, RouteDef, ServiceDef, ServicesFile, TargetDef } from './services_file.js';

const T = 'type.googleapis.com/';
const HCM = `${T}envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`;
const ROUTER = `${T}envoy.extensions.filters.http.router.v3.Router`;
const FAULT = `${T}envoy.extensions.filters.http.fault.v3.HTTPFault`;
const HTTP_PROTOCOL_OPTIONS = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';
const FAULT_FILTER = 'envoy.filters.http.fault';
const ADS_SOURCE: JsonObject = { ads: {}, resource_api_version: 'V3' };

export function clusterName(service: string, version: string | undefined): string {
  return version === undefined ? service : `${service}|${version}`;
}

/** 12.5 → { numerator: 125000, denominator: MILLION }; whole numbers stay per HUNDRED. */
function fraction(percent: number): JsonObject {
  return Number.isInteger(percent)
    ? { numerator: percent, denominator: 'HUNDRED' }
    : { numerator: Math.round(percent * 10_000), denominator: 'MILLION' };
}

function cluster(svc: ServiceDef, version: string | undefined): JsonObject {
  const c: JsonObject = {
    '@type': `${T}envoy.config.cluster.v3.Cluster`,
    name: clusterName(svc.name, version),
    type: 'EDS',
    eds_cluster_config: { eds_config: ADS_SOURCE },
  };
  if (svc.connectTimeout !== undefined) c['connect_timeout'] = svc.connectTimeout;
  if (svc.lbPolicy !== undefined) c['lb_policy'] = svc.lbPolicy.toUpperCase();
  if (svc.protocol !== 'http1') {
    c['typed_extension_protocol_options'] = {
      [HTTP_PROTOCOL_OPTIONS]: { '@type': `${T}${HTTP_PROTOCOL_OPTIONS}`, explicit_http_config: { http2_protocol_options: {} } },
    };
  }
  return c;
}

function loadAssignment(name: string, endpoints: EndpointDef[]): JsonObject {
  const byZone = new Map<string, EndpointDef[]>();
  for (const ep of endpoints) {
    const zone = ep.zone ?? '';
    byZone.set(zone, [...(byZone.get(zone) ?? []), ep]);
  }
  return {
    '@type': `${T}envoy.config.endpoint.v3.ClusterLoadAssignment`,
    cluster_name: name,
    endpoints: [...byZone].map(([zone, eps]): JsonObject => ({
      locality: zone === '' ? {} : { zone },
      // gRPC clients ignore a locality without a weight.
      load_balancing_weight: 1,
      lb_endpoints: eps.map((ep) => {
        const lb: JsonObject = { endpoint: { address: { socket_address: { address: ep.address, port_value: ep.port } } } };
        if (ep.weight !== undefined) lb['load_balancing_weight'] = ep.weight;
        return lb;
      }),
    })),
  };
}

function target(t: TargetDef): string {
  return clusterName(t.service, t.version);
}

function route(r: RouteDef, services: ReadonlyMap<string, ServiceDef>): JsonObject {
  const match: JsonObject = r.pathKind === 'regex' ? { safe_regex: { regex: r.pathValue } } : { [r.pathKind]: r.pathValue };
  if (r.headers.length > 0) {
    match['headers'] = r.headers.map((h): JsonObject => {
      if (h.kind === 'present') return { name: h.name, present_match: h.value };
      return { name: h.name, string_match: h.kind === 'regex' ? { safe_regex: { regex: h.value } } : { [h.kind]: h.value } };
    });
  }
  const action: JsonObject = {};
  const live = r.targets.filter((t) => t.weight > 0);
  if (r.targets.length === 1) action['cluster'] = target(r.targets[0]!);
  else action['weighted_clusters'] = { clusters: live.map((t) => ({ name: target(t), weight: t.weight })) };
  if (r.timeout !== undefined) action['timeout'] = r.timeout;
  // gRPC clients bound a call by max_stream_duration, not timeout.
  if (r.timeout !== undefined && r.targets.every((t) => services.get(t.service)?.protocol === 'grpc')) {
    action['max_stream_duration'] = { max_stream_duration: r.timeout };
  }
  if (r.retries !== undefined) {
    const grpc = r.targets.every((t) => services.get(t.service)?.protocol === 'grpc');
    const policy: JsonObject = { retry_on: r.retries.on ?? (grpc ? 'unavailable,cancelled,deadline-exceeded' : '5xx,reset,connect-failure,refused-stream'), num_retries: r.retries.attempts };
    if (r.retries.perTryTimeout !== undefined) policy['per_try_timeout'] = r.retries.perTryTimeout;
    action['retry_policy'] = policy;
  }
  if (r.rewritePrefix !== undefined) action['prefix_rewrite'] = r.rewritePrefix;
  const out: JsonObject = { match, route: action };
  if (r.name !== undefined) out['name'] = r.name;
  if (r.fault !== undefined) {
    const fault: JsonObject = { '@type': FAULT };
    if (r.fault.delay !== undefined) fault['delay'] = { fixed_delay: r.fault.delay.duration, percentage: fraction(r.fault.delay.percent) };
    if (r.fault.abort !== undefined) {
      const a = r.fault.abort;
      fault['abort'] = { ...(a.httpStatus !== undefined ? { http_status: a.httpStatus } : { grpc_status: a.grpcStatus ?? 14 }), percentage: fraction(a.percent) };
    }
    out['typed_per_filter_config'] = { [FAULT_FILTER]: fault };
  }
  return out;
}

function hcm(statPrefix: string, routeConfigName: string, withFault: boolean): JsonObject {
  const filters: JsonValue[] = [];
  if (withFault) filters.push({ name: FAULT_FILTER, typed_config: { '@type': FAULT } });
  filters.push({ name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER } });
  return {
    '@type': HCM,
    stat_prefix: statPrefix,
    rds: { route_config_name: routeConfigName, config_source: ADS_SOURCE },
    http_filters: filters,
  };
}

/** The Envoy resources a services file describes. Throws a ConfigError naming the file entry. */
export function translateServices(sf: ServicesFile, warnings: ConfigWarning[] = []): ResourceInput[] {
  const out: ResourceInput[] = [];
  const add = (json: JsonObject, origin: SourcePosition | undefined, what: string): void => {
    locate(json, origin);
    let input: ResourceInput;
    try {
      input = resourceFromJson(json, sf.file, warnings);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      throw new ConfigError('', `${what}: the generated resource is invalid: ${e.fieldPath !== '' ? `${e.fieldPath}: ` : ''}${e.detail}`, origin ?? { file: sf.file });
    }
    out.push(origin !== undefined ? { message: input.message, origin } : { message: input.message });
  };

  for (const svc of sf.services.values()) {
    const units: Array<[string | undefined, EndpointDef[]]> = svc.versions.size > 0 ? [...svc.versions] : [[undefined, svc.endpoints]];
    for (const [version, endpoints] of units) {
      const name = clusterName(svc.name, version);
      add(cluster(svc, version), svc.pos, `service "${name}"`);
      add(loadAssignment(name, endpoints), svc.pos, `service "${name}"`);
    }
  }

  const hostGroups = new Map<string, { hosts: string[]; routes: JsonObject[] }>();
  for (const r of sf.routes) {
    const key = r.hosts.join('\n');
    let group = hostGroups.get(key);
    if (group === undefined) {
      group = { hosts: r.hosts, routes: [] };
      hostGroups.set(key, group);
    }
    group.routes.push(route(r, sf.services));
  }
  const l = sf.listener;
  add({
    '@type': `${T}envoy.config.route.v3.RouteConfiguration`,
    name: l.routeConfigName,
    virtual_hosts: [...hostGroups.values()].map((g) => ({ name: g.hosts.join(','), domains: g.hosts, routes: g.routes })),
  }, sf.routes[0]?.pos ?? l.pos, `routes (RouteConfiguration "${l.routeConfigName}")`);

  const withFault = sf.routes.some((r) => r.fault !== undefined);
  add({
    '@type': `${T}envoy.config.listener.v3.Listener`,
    name: l.name,
    address: { socket_address: { address: l.address, port_value: l.port } },
    filter_chains: [{ filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: hcm(l.name, l.routeConfigName, withFault) }] }],
  }, l.pos, `listener "${l.name}"`);
  for (const t of l.grpcTargets) {
    add({
      '@type': `${T}envoy.config.listener.v3.Listener`,
      name: t,
      api_listener: { api_listener: hcm(t, l.routeConfigName, withFault) },
    }, l.pos, `gRPC target "${t}"`);
  }
  return out;
}
