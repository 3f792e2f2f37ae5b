/**
 * The services file: a small, higher-level description of an HTTP/gRPC
 * service mesh edge in the spirit of Istio's VirtualService and
 * DestinationRule, read from YAML (or JSON) with file:line:column errors.
 * services_translator.ts turns it into Envoy resources.
 *
 *   listener:
 *     name: ingress                 # Listener name (default "ingress")
 *     address: 0.0.0.0              # default 0.0.0.0
 *     port: 10000                   # required
 *     route_config: ingress-routes  # RouteConfiguration name (default "<name>-routes")
 *     grpc_targets: [reviews]       # also serve xds:///reviews to gRPC xDS clients
 *   services:
 *     reviews:
 *       protocol: http1 | http2 | grpc          # default http1
 *       connect_timeout: 1s
 *       lb_policy: round_robin | least_request | random | ring_hash | maglev
 *       endpoints: [127.0.0.1:9001, { address: 127.0.0.1, port: 9002, weight: 2, zone: z1 }]
 *       versions:                               # instead of endpoints: one cluster per version
 *         v1: { endpoints: [127.0.0.1:9001] }
 *         v2: { endpoints: [127.0.0.1:9002] }
 *   routes:                                     # first match wins, per host group
 *   - name: reviews-canary
 *     hosts: ["*"]                              # default ["*"]
 *     match:
 *       prefix: /reviews                        # or path: (exact) or regex: (RE2); default prefix "/"
 *       headers: { x-canary: "yes", x-user: { prefix: a }, x-debug: { present: true }, x-id: { regex: "[0-9]+" } }
 *     to: reviews/v1                            # a service, or service/version
 *     split:                                    # or weighted targets (canaries, A/B tests)
 *     - { to: reviews/v1, weight: 90 }
 *     - { to: reviews/v2, weight: 10 }
 *     timeout: 2s
 *     retries: { attempts: 3, on: "5xx,reset", per_try_timeout: 500ms }
 *     fault:
 *       delay: { duration: 100ms, percent: 10 }
 *       abort: { http_status: 503, percent: 1 }   # or grpc_status: 14
 *     rewrite_prefix: /
 */
import { ConfigError, type SourcePosition } from '../config/config_error.js';
import { isJsonObject, keyPosition, locationOf, valuePosition, type JsonObject, type JsonValue } from '../config/source_positions.js';
import { parseYamlSource } from '../config/yaml_source.js';

export type ServiceProtocol = 'http1' | 'http2' | 'grpc';

export interface EndpointDef {
  readonly address: string;
  readonly port: number;
  readonly weight: number | undefined;
  readonly zone: string | undefined;
  readonly pos: SourcePosition | undefined;
}

export interface ServiceDef {
  readonly name: string;
  readonly protocol: ServiceProtocol;
  readonly connectTimeout: string | undefined;
  readonly lbPolicy: string | undefined;
  /** Endpoints of a service without versions. */
  readonly endpoints: EndpointDef[];
  /** Version name → its endpoints (empty map when the service has no versions). */
  readonly versions: Map<string, EndpointDef[]>;
  readonly pos: SourcePosition | undefined;
}

export interface TargetDef {
  readonly service: string;
  readonly version: string | undefined;
  readonly weight: number;
  readonly pos: SourcePosition | undefined;
}

export type HeaderMatchDef =
  | { readonly name: string; readonly kind: 'exact' | 'prefix' | 'regex'; readonly value: string }
  | { readonly name: string; readonly kind: 'present'; readonly value: boolean };

export interface RouteDef {
  readonly name: string | undefined;
  readonly hosts: string[];
  readonly pathKind: 'prefix' | 'path' | 'regex';
  readonly pathValue: string;
  readonly headers: HeaderMatchDef[];
  readonly targets: TargetDef[];
  /** Durations as proto3 JSON strings ("2s", "0.500s"). */
  readonly timeout: string | undefined;
  readonly retries: { readonly attempts: number; readonly on: string | undefined; readonly perTryTimeout: string | undefined } | undefined;
  readonly fault:
    | {
        readonly delay: { readonly duration: string; readonly percent: number } | undefined;
        readonly abort: { readonly httpStatus: number | undefined; readonly grpcStatus: number | undefined; readonly percent: number } | undefined;
      }
    | undefined;
  readonly rewritePrefix: string | undefined;
  readonly pos: SourcePosition | undefined;
}

export interface ServicesFile {
  readonly file: string;
  readonly listener: {
    readonly name: string;
    readonly address: string;
    readonly port: number;
    readonly routeConfigName: string;
    readonly grpcTargets: string[];
    readonly pos: SourcePosition | undefined;
  };
  readonly services: Map<string, ServiceDef>;
  readonly routes: RouteDef[];
}

const LB_POLICIES = ['round_robin', 'least_request', 'random', 'ring_hash', 'maglev'];
const PROTOCOLS: ServiceProtocol[] = ['http1', 'http2', 'grpc'];

/** Reads typed values out of located JSON, failing with the position of the offending key or value. */
class Reader {
  constructor(readonly file: string) {}

  fail(container: object | undefined, key: string | number | undefined, path: string, detail: string, at: 'key' | 'value' = 'value'): never {
    let pos: SourcePosition | undefined;
    if (container !== undefined) {
      pos = key === undefined ? locationOf(container)?.self : at === 'key' && typeof key === 'string' ? keyPosition(container, key) : valuePosition(container, key);
    }
    throw new ConfigError(path, detail, pos ?? { file: this.file });
  }

  object(container: object, key: string | number, path: string, allowed: readonly string[]): JsonObject {
    const v = (container as Record<string | number, JsonValue>)[key];
    if (!isJsonObject(v)) this.fail(container, key, path, `expected a mapping, got ${describe(v)}`);
    for (const k of Object.keys(v)) {
      if (!allowed.includes(k)) this.fail(v, k, `${path}.${k}`, `unknown key "${k}" (expected one of: ${allowed.join(', ')})`, 'key');
    }
    return v;
  }

  string(obj: JsonObject, key: string, path: string): string | undefined {
    const v = obj[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string' || v === '') this.fail(obj, key, path, `expected a non-empty string, got ${describe(v)}`);
    return v;
  }

  integer(obj: JsonObject, key: string, path: string, min: number, max: number): number | undefined {
    const v = obj[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) this.fail(obj, key, path, `expected an integer from ${min} to ${max}, got ${describe(v)}`);
    return v;
  }

  percent(obj: JsonObject, key: string, path: string): number {
    const v = obj[key] ?? 100;
    if (typeof v !== 'number' || v < 0 || v > 100) this.fail(obj, key, path, `expected a percentage from 0 to 100, got ${describe(v)}`);
    return v;
  }

  /** "500ms", "2s", "1.5s", "1m", "1h" → proto3 JSON Duration ("0.500s"). */
  duration(obj: JsonObject, key: string, path: string): string | undefined {
    const v = obj[key];
    if (v === undefined || v === null) return undefined;
    const m = typeof v === 'string' ? /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(v) : null;
    if (m === null) this.fail(obj, key, path, `expected a duration such as 500ms, 2s, 1m, got ${describe(v)}`);
    const n = Number(m[1]);
    const seconds = m[2] === 'ms' ? n / 1000 : m[2] === 'm' ? n * 60 : m[2] === 'h' ? n * 3600 : n;
    return `${Number(seconds.toFixed(9))}s`;
  }

  stringList(obj: JsonObject, key: string, path: string): string[] | undefined {
    const v = obj[key];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v)) this.fail(obj, key, path, `expected a list of strings, got ${describe(v)}`);
    return v.map((item, i) => {
      if (typeof item !== 'string' || item === '') this.fail(v, i, `${path}[${i}]`, `expected a non-empty string, got ${describe(item)}`);
      return item;
    });
  }
}

function describe(v: JsonValue | undefined): string {
  if (v === undefined || v === null) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}

function parseEndpoints(r: Reader, container: JsonObject, key: string, path: string): EndpointDef[] {
  const list = container[key];
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) r.fail(container, key, path, `expected a list of endpoints, got ${describe(list)}`);
  return list.map((item, i) => {
    const p = `${path}[${i}]`;
    const pos = valuePosition(list, i);
    if (typeof item === 'string') {
      const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s]+):(\d+)$/.exec(item);
      const port = m !== null ? Number(m[2]) : 0;
      if (m === null || port < 1 || port > 65535) r.fail(list, i, p, `expected "host:port" (IPv6 as "[::1]:port"), got ${JSON.stringify(item)}`);
      return { address: (m[1] ?? '').replace(/^\[|\]$/g, ''), port, weight: undefined, zone: undefined, pos };
    }
    const obj = r.object(list, i, p, ['address', 'port', 'weight', 'zone']);
    const address = r.string(obj, 'address', `${p}.address`) ?? r.fail(obj, undefined, p, 'an endpoint needs an address');
    const port = r.integer(obj, 'port', `${p}.port`, 1, 65535) ?? r.fail(obj, undefined, p, 'an endpoint needs a port');
    return { address, port, weight: r.integer(obj, 'weight', `${p}.weight`, 1, 128), zone: r.string(obj, 'zone', `${p}.zone`), pos };
  });
}

function parseService(r: Reader, services: JsonObject, name: string): ServiceDef {
  const path = `services.${name}`;
  const obj = r.object(services, name, path, ['protocol', 'connect_timeout', 'lb_policy', 'endpoints', 'versions']);
  const protocol = r.string(obj, 'protocol', `${path}.protocol`) ?? 'http1';
  if (!PROTOCOLS.includes(protocol as ServiceProtocol)) r.fail(obj, 'protocol', `${path}.protocol`, `unknown protocol "${protocol}" (expected ${PROTOCOLS.join(', ')})`);
  const lbPolicy = r.string(obj, 'lb_policy', `${path}.lb_policy`);
  if (lbPolicy !== undefined && !LB_POLICIES.includes(lbPolicy)) r.fail(obj, 'lb_policy', `${path}.lb_policy`, `unknown lb_policy "${lbPolicy}" (expected ${LB_POLICIES.join(', ')})`);
  const versions = new Map<string, EndpointDef[]>();
  if (obj['versions'] !== undefined) {
    if ('endpoints' in obj) r.fail(obj, 'endpoints', `${path}.endpoints`, 'give either endpoints or versions (each with its endpoints), not both', 'key');
    const vs = r.object(obj, 'versions', `${path}.versions`, Object.keys(isJsonObject(obj['versions']) ? obj['versions'] : {}));
    for (const v of Object.keys(vs)) {
      if (v.includes('/')) r.fail(vs, v, `${path}.versions.${v}`, 'a version name cannot contain "/"', 'key');
      const vobj = r.object(vs, v, `${path}.versions.${v}`, ['endpoints']);
      versions.set(v, parseEndpoints(r, vobj, 'endpoints', `${path}.versions.${v}.endpoints`));
    }
    if (versions.size === 0) r.fail(obj, 'versions', `${path}.versions`, 'a service with versions needs at least one');
  }
  return {
    name,
    protocol: protocol as ServiceProtocol,
    connectTimeout: r.duration(obj, 'connect_timeout', `${path}.connect_timeout`),
    lbPolicy,
    endpoints: parseEndpoints(r, obj, 'endpoints', `${path}.endpoints`),
    versions,
    pos: keyPosition(services, name),
  };
}

function parseTarget(r: Reader, services: Map<string, ServiceDef>, container: object, key: string | number, path: string, text: JsonValue | undefined, weight: number): TargetDef {
  if (typeof text !== 'string' || text === '') r.fail(container, key, path, `expected "service" or "service/version", got ${describe(text)}`);
  const [service = '', version, extra] = text.split('/');
  const def = services.get(service);
  if (def === undefined) r.fail(container, key, path, `unknown service "${service}" (services: ${[...services.keys()].join(', ') || 'none'})`);
  if (extra !== undefined) r.fail(container, key, path, `expected "service" or "service/version", got ${JSON.stringify(text)}`);
  if (version !== undefined && !def.versions.has(version)) {
    r.fail(container, key, path, def.versions.size === 0 ? `service "${service}" has no versions` : `service "${service}" has no version "${version}" (versions: ${[...def.versions.keys()].join(', ')})`);
  }
  if (version === undefined && def.versions.size > 0) {
    r.fail(container, key, path, `service "${service}" has versions; name one (${[...def.versions.keys()].map((v) => `${service}/${v}`).join(', ')})`);
  }
  return { service, version, weight, pos: valuePosition(container, key) };
}

function parseRoute(r: Reader, services: Map<string, ServiceDef>, routes: JsonValue[], i: number): RouteDef {
  const path = `routes[${i}]`;
  const obj = r.object(routes, i, path, ['name', 'hosts', 'match', 'to', 'split', 'timeout', 'retries', 'fault', 'rewrite_prefix']);
  let pathKind: RouteDef['pathKind'] = 'prefix';
  let pathValue = '/';
  const headers: HeaderMatchDef[] = [];
  if (obj['match'] !== undefined) {
    const m = r.object(obj, 'match', `${path}.match`, ['prefix', 'path', 'regex', 'headers']);
    const kinds = (['prefix', 'path', 'regex'] as const).filter((k) => m[k] !== undefined);
    if (kinds.length > 1) r.fail(m, kinds[1]!, `${path}.match.${kinds[1]}`, `give one of prefix, path and regex (got ${kinds.join(' and ')})`, 'key');
    if (kinds[0] !== undefined) {
      pathKind = kinds[0];
      pathValue = r.string(m, pathKind, `${path}.match.${pathKind}`) ?? '/';
    }
    if (m['headers'] !== undefined) {
      const hs = r.object(m, 'headers', `${path}.match.headers`, Object.keys(isJsonObject(m['headers']) ? m['headers'] : {}));
      for (const [name, v] of Object.entries(hs)) {
        const hp = `${path}.match.headers.${name}`;
        if (typeof v === 'string') headers.push({ name, kind: 'exact', value: v });
        else {
          const ho = r.object(hs, name, hp, ['exact', 'prefix', 'regex', 'present']);
          const keys = Object.keys(ho);
          if (keys.length !== 1) r.fail(hs, name, hp, 'give exactly one of exact, prefix, regex, present');
          const kind = keys[0] as 'exact' | 'prefix' | 'regex' | 'present';
          if (kind === 'present') {
            if (typeof ho['present'] !== 'boolean') r.fail(ho, 'present', `${hp}.present`, `expected true or false, got ${describe(ho['present'])}`);
            headers.push({ name, kind, value: ho['present'] });
          } else {
            headers.push({ name, kind, value: r.string(ho, kind, `${hp}.${kind}`) ?? '' });
          }
        }
      }
    }
  }
  let targets: TargetDef[];
  if (obj['to'] !== undefined && obj['split'] !== undefined) r.fail(obj, 'split', `${path}.split`, 'give either to or split, not both', 'key');
  if (obj['split'] !== undefined) {
    const split = obj['split'];
    if (!Array.isArray(split) || split.length === 0) r.fail(obj, 'split', `${path}.split`, `expected a non-empty list of { to, weight }, got ${describe(split)}`);
    targets = split.map((_, k) => {
      const sp = `${path}.split[${k}]`;
      const so = r.object(split, k, sp, ['to', 'weight']);
      const weight = r.integer(so, 'weight', `${sp}.weight`, 0, 1_000_000) ?? r.fail(so, undefined, sp, 'a split needs a weight');
      return parseTarget(r, services, so, 'to', `${sp}.to`, so['to'], weight);
    });
    if (targets.every((t) => t.weight === 0)) r.fail(obj, 'split', `${path}.split`, 'at least one weight must be above 0');
    const seen = new Set<string>();
    for (const [k, t] of targets.entries()) {
      const id = `${t.service}/${t.version ?? ''}`;
      if (seen.has(id)) r.fail(split, k, `${path}.split[${k}]`, `${t.service}${t.version !== undefined ? `/${t.version}` : ''} appears twice in the split`);
      seen.add(id);
    }
  } else if (obj['to'] !== undefined) {
    targets = [parseTarget(r, services, obj, 'to', `${path}.to`, obj['to'], 1)];
  } else {
    r.fail(obj, undefined, path, 'a route needs "to" (a service) or "split" (weighted services)');
  }
  let retries: RouteDef['retries'];
  if (obj['retries'] !== undefined) {
    const ro = r.object(obj, 'retries', `${path}.retries`, ['attempts', 'on', 'per_try_timeout']);
    retries = {
      attempts: r.integer(ro, 'attempts', `${path}.retries.attempts`, 0, 100) ?? 1,
      on: r.string(ro, 'on', `${path}.retries.on`),
      perTryTimeout: r.duration(ro, 'per_try_timeout', `${path}.retries.per_try_timeout`),
    };
  }
  let fault: RouteDef['fault'];
  if (obj['fault'] !== undefined) {
    const fo = r.object(obj, 'fault', `${path}.fault`, ['delay', 'abort']);
    let delay: NonNullable<RouteDef['fault']>['delay'];
    let abort: NonNullable<RouteDef['fault']>['abort'];
    if (fo['delay'] !== undefined) {
      const d = r.object(fo, 'delay', `${path}.fault.delay`, ['duration', 'percent']);
      const duration = r.duration(d, 'duration', `${path}.fault.delay.duration`) ?? r.fail(d, undefined, `${path}.fault.delay`, 'a delay needs a duration');
      delay = { duration, percent: r.percent(d, 'percent', `${path}.fault.delay.percent`) };
    }
    if (fo['abort'] !== undefined) {
      const a = r.object(fo, 'abort', `${path}.fault.abort`, ['http_status', 'grpc_status', 'percent']);
      const httpStatus = r.integer(a, 'http_status', `${path}.fault.abort.http_status`, 200, 599);
      const grpcStatus = r.integer(a, 'grpc_status', `${path}.fault.abort.grpc_status`, 1, 16);
      if ((httpStatus === undefined) === (grpcStatus === undefined)) r.fail(fo, 'abort', `${path}.fault.abort`, 'give exactly one of http_status and grpc_status');
      abort = { httpStatus, grpcStatus, percent: r.percent(a, 'percent', `${path}.fault.abort.percent`) };
    }
    if (delay === undefined && abort === undefined) r.fail(obj, 'fault', `${path}.fault`, 'a fault needs a delay, an abort, or both');
    fault = { delay, abort };
  }
  return {
    name: r.string(obj, 'name', `${path}.name`),
    hosts: r.stringList(obj, 'hosts', `${path}.hosts`) ?? ['*'],
    pathKind,
    pathValue,
    headers,
    targets,
    timeout: r.duration(obj, 'timeout', `${path}.timeout`),
    retries,
    fault,
    rewritePrefix: r.string(obj, 'rewrite_prefix', `${path}.rewrite_prefix`),
    pos: valuePosition(routes, i),
  };
}

/** Parses a services file; throws a ConfigError with file:line:column. */
export function parseServicesFile(text: string, file: string): ServicesFile {
  const r: Reader = new Reader(file);
  const root = parseYamlSource(text, file).value;
  const top = { root };
  const doc = r.object(top, 'root', '', ['listener', 'services', 'routes']);
  const l = r.object(doc, 'listener', 'listener', ['name', 'address', 'port', 'route_config', 'grpc_targets']);
  const listenerName = r.string(l, 'name', 'listener.name') ?? 'ingress';
  const port = r.integer(l, 'port', 'listener.port', 0, 65535) ?? r.fail(l, undefined, 'listener', 'the listener needs a port');
  const services = new Map<string, ServiceDef>();
  const svcObj = r.object(doc, 'services', 'services', Object.keys(isJsonObject(doc['services']) ? doc['services'] : {}));
  for (const name of Object.keys(svcObj)) {
    if (name.includes('/') || name.includes('|')) r.fail(svcObj, name, `services.${name}`, 'a service name cannot contain "/" or "|"', 'key');
    services.set(name, parseService(r, svcObj, name));
  }
  const routesValue = doc['routes'];
  if (!Array.isArray(routesValue)) r.fail(doc, 'routes', 'routes', `expected a list of routes, got ${describe(routesValue)}`);
  const routes = routesValue.map((_, i) => parseRoute(r, services, routesValue, i));
  const grpcTargets = r.stringList(l, 'grpc_targets', 'listener.grpc_targets') ?? [];
  if (grpcTargets.includes(listenerName)) r.fail(l, 'grpc_targets', 'listener.grpc_targets', `"${listenerName}" is already the HTTP listener's name`);
  return {
    file,
    listener: {
      name: listenerName,
      address: r.string(l, 'address', 'listener.address') ?? '0.0.0.0',
      port,
      routeConfigName: r.string(l, 'route_config', 'listener.route_config') ?? `${listenerName}-routes`,
      grpcTargets,
      pos: keyPosition(doc, 'listener'),
    },
    services,
    routes,
  };
}
