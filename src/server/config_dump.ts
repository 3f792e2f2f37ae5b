/**
 * `/config_dump`: the running config in Envoy's JSON shape
 * (envoy.admin.v3.ConfigDump): bootstrap, then clusters, listeners, routes
 * and (with `?include_eds`) endpoints — static ones and those from xDS
 * (active, warming, draining) with their `version_info` and `last_updated`.
 *
 *   ?resource=<field>  only that repeated field across the dumps (e.g.
 *                      `dynamic_active_clusters`), as Envoy does
 *   ?mask=<paths>      a FieldMask (comma-separated dotted paths) applied to
 *                      each resource, or to each dump without `resource`
 */
import { toJson, type Message } from '@bufbuild/protobuf';
import { messageSchema, typeRegistry } from '../config/type_registry.js';
import type { AdminRequest, AdminResponse } from './admin/admin_types.js';

const T = 'type.googleapis.com/envoy.admin.v3.';

function json(msg: Message): Record<string, unknown> {
  return toJson(messageSchema(msg.$typeName), msg, { registry: typeRegistry(), useProtoFieldName: true }) as Record<string, unknown>;
}

function typed(m: Message): Record<string, unknown> {
  return { '@type': `type.googleapis.com/${m.$typeName}`, ...json(m) };
}

/** One resource from xDS, as its consumer keeps it. */
export interface DynamicResourceEntry {
  versionInfo: string;
  resource: Message;
  lastUpdated: Date;
}

/** A dynamic listener by state (Envoy's ListenersConfigDump.DynamicListener). */
export interface DynamicListenerEntry {
  name: string;
  active?: DynamicResourceEntry;
  warming?: DynamicResourceEntry;
  draining?: DynamicResourceEntry;
  /** The last update that failed for this listener. */
  error?: { details: string; lastUpdateAttempt: Date };
}

export interface ConfigDumpSource {
  bootstrap: Message;
  loadedAt: Date;
  staticClusters: Message[];
  staticListeners: Message[];
  staticRouteConfigs: Message[];
  /** CDS version_info ('' without CDS). */
  clustersVersionInfo?: string;
  dynamicActiveClusters?: DynamicResourceEntry[];
  dynamicWarmingClusters?: DynamicResourceEntry[];
  listenersVersionInfo?: string;
  dynamicListeners?: DynamicListenerEntry[];
  dynamicRouteConfigs?: DynamicResourceEntry[];
  staticEndpointConfigs?: Message[];
  dynamicEndpointConfigs?: DynamicResourceEntry[];
}

function dynamicEntry(key: string, e: DynamicResourceEntry): Record<string, unknown> {
  return { version_info: e.versionInfo, [key]: typed(e.resource), last_updated: e.lastUpdated.toISOString() };
}

export function buildConfigDump(src: ConfigDumpSource, includeEds = false): { configs: Array<Record<string, unknown>> } {
  const ts = src.loadedAt.toISOString();
  const withType = (type: string, body: Record<string, unknown>): Record<string, unknown> => ({ '@type': `${T}${type}`, ...body });
  const nonEmpty = (body: Record<string, unknown>): Record<string, unknown> => {
    // Envoy's JSON leaves out empty repeated fields and empty strings.
    for (const k of Object.keys(body)) {
      const v = body[k];
      if ((Array.isArray(v) && v.length === 0) || v === '' || v === undefined) delete body[k];
    }
    return body;
  };
  const configs = [
    withType('BootstrapConfigDump', { bootstrap: json(src.bootstrap), last_updated: ts }),
    withType('ClustersConfigDump', nonEmpty({
      version_info: src.clustersVersionInfo ?? '',
      static_clusters: src.staticClusters.map((c) => ({ cluster: typed(c), last_updated: ts })),
      dynamic_active_clusters: (src.dynamicActiveClusters ?? []).map((e) => dynamicEntry('cluster', e)),
      dynamic_warming_clusters: (src.dynamicWarmingClusters ?? []).map((e) => dynamicEntry('cluster', e)),
    })),
    withType('ListenersConfigDump', nonEmpty({
      version_info: src.listenersVersionInfo ?? '',
      static_listeners: src.staticListeners.map((l) => ({ listener: typed(l), last_updated: ts })),
      dynamic_listeners: (src.dynamicListeners ?? []).map((d) => {
        const out: Record<string, unknown> = { name: d.name };
        if (d.active) out.active_state = dynamicEntry('listener', d.active);
        if (d.warming) out.warming_state = dynamicEntry('listener', d.warming);
        if (d.draining) out.draining_state = dynamicEntry('listener', d.draining);
        if (d.error) out.error_state = { details: d.error.details, last_update_attempt: d.error.lastUpdateAttempt.toISOString() };
        return out;
      }),
    })),
    withType('RoutesConfigDump', nonEmpty({
      static_route_configs: src.staticRouteConfigs.map((r) => ({ route_config: typed(r), last_updated: ts })),
      dynamic_route_configs: (src.dynamicRouteConfigs ?? []).map((e) => dynamicEntry('route_config', e)),
    })),
  ];
  if (includeEds) {
    configs.push(withType('EndpointsConfigDump', nonEmpty({
      static_endpoint_configs: (src.staticEndpointConfigs ?? []).map((e) => ({ endpoint_config: typed(e), last_updated: ts })),
      dynamic_endpoint_configs: (src.dynamicEndpointConfigs ?? []).map((e) => dynamicEntry('endpoint_config', e)),
    })));
  }
  return { configs };
}

/**
 * Keeps only the fields named by `paths` (FieldMask semantics on JSON):
 * `a.b` keeps `a` with only its `b`; arrays apply the rest of the path to each element.
 */
export function applyFieldMask(value: unknown, paths: ReadonlyArray<ReadonlyArray<string>>): unknown {
  if (Array.isArray(value)) return value.map((v) => applyFieldMask(v, paths));
  if (value === null || typeof value !== 'object') return value;
  const obj = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  const byHead = new Map<string, Array<ReadonlyArray<string>>>();
  for (const p of paths) {
    if (p.length === 0) return value;
    const rest = byHead.get(p[0]!) ?? [];
    rest.push(p.slice(1));
    byHead.set(p[0]!, rest);
  }
  for (const [head, rests] of byHead) {
    if (!(head in obj)) continue;
    out[head] = rests.some((r) => r.length === 0) ? obj[head] : applyFieldMask(obj[head], rests);
  }
  // The type of a masked Any stays visible.
  if ('@type' in obj && !('@type' in out)) out['@type'] = obj['@type'];
  return out;
}

export function handleConfigDump(src: () => ConfigDumpSource, req: AdminRequest): AdminResponse {
  const includeEds = req.query.has('include_eds');
  const dump = buildConfigDump(src(), includeEds);
  const maskParam = req.query.get('mask');
  const mask = maskParam === null || maskParam === '' ? null : maskParam.split(',').map((p) => p.trim().split('.').filter(Boolean));
  const resource = req.query.get('resource');
  if (resource !== null && resource !== '') {
    const items: unknown[] = [];
    for (const c of dump.configs) {
      const v = c[resource];
      if (Array.isArray(v)) items.push(...v);
    }
    if (items.length === 0 && !dump.configs.some((c) => resource in c)) {
      return { status: 404, body: `${resource} not found in config dump\n` };
    }
    const masked = mask === null ? items : items.map((i) => applyFieldMask(i, mask));
    return { status: 200, contentType: 'application/json', body: `${JSON.stringify({ configs: masked }, null, 1)}\n` };
  }
  const out = mask === null ? dump : { configs: dump.configs.map((c) => ({ '@type': c['@type'], ...(applyFieldMask(c, mask) as object) })) };
  return { status: 200, contentType: 'application/json', body: `${JSON.stringify(out, null, 1)}\n` };
}
