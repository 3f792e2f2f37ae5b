/**
 * `/config_dump`: the running config in Envoy's JSON shape
 * (envoy.admin.v3.ConfigDump): bootstrap, then clusters, listeners and routes,
 * each with `last_updated`. `?resource=` picks one repeated field across the
 * dumps (e.g. `static_clusters`), as Envoy does.
 */
import { toJson, type Message } from '@bufbuild/protobuf';
import { messageSchema, typeRegistry } from '../config/type_registry.js';
import type { AdminRequest, AdminResponse } from './admin/admin_types.js';

const T = 'type.googleapis.com/envoy.admin.v3.';

function json(msg: Message): unknown {
  return toJson(messageSchema(msg.$typeName), msg, { registry: typeRegistry(), useProtoFieldName: true });
}

export interface ConfigDumpSource {
  bootstrap: Message;
  loadedAt: Date;
  staticClusters: Message[];
  staticListeners: Message[];
  staticRouteConfigs: Message[];
}

export function buildConfigDump(src: ConfigDumpSource): { configs: Array<Record<string, unknown>> } {
  const ts = src.loadedAt.toISOString();
  const withType = (type: string, body: Record<string, unknown>): Record<string, unknown> => ({ '@type': `${T}${type}`, ...body });
  const typed = (m: Message): Record<string, unknown> => ({ '@type': `type.googleapis.com/${m.$typeName}`, ...(json(m) as Record<string, unknown>) });
  return {
    configs: [
      withType('BootstrapConfigDump', { bootstrap: json(src.bootstrap), last_updated: ts }),
      withType('ClustersConfigDump', {
        static_clusters: src.staticClusters.map((c) => ({ cluster: typed(c), last_updated: ts })),
      }),
      withType('ListenersConfigDump', {
        static_listeners: src.staticListeners.map((l) => ({ listener: typed(l), last_updated: ts })),
      }),
      withType('RoutesConfigDump', {
        static_route_configs: src.staticRouteConfigs.map((r) => ({ route_config: typed(r), last_updated: ts })),
      }),
    ],
  };
}

export function handleConfigDump(src: () => ConfigDumpSource, req: AdminRequest): AdminResponse {
  const dump = buildConfigDump(src());
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
    return { status: 200, contentType: 'application/json', body: `${JSON.stringify({ configs: items }, null, 1)}\n` };
  }
  return { status: 200, contentType: 'application/json', body: `${JSON.stringify(dump, null, 1)}\n` };
}
