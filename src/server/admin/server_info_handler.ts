/**
 * `/server_info`, `/ready`, `/memory`, `/certs`, `/hot_restart_version` and
 * `/runtime`, after Envoy's `server_info_handler.cc` and `runtime_handler.cc`.
 * JSON bodies are the envoy.admin.v3 protos printed the way Envoy prints
 * them: proto field names, one-space indentation, a trailing newline, and
 * (where Envoy asks for it) default values included.
 */
import { create, toJson, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import { ServerInfoSchema, ServerInfo_State } from '../../generated/envoy/admin/v3/server_info_pb.js';
import { MemorySchema } from '../../generated/envoy/admin/v3/memory_pb.js';
import { CertificatesSchema } from '../../generated/envoy/admin/v3/certs_pb.js';
import { serverState, type ServerState } from '../../stats/server_stats.js';
import type { AdminResponse, AdminServerContext } from './admin_types.js';
import { APPLICATION_JSON } from './stats_handler.js';

/** Envoy's MessageUtil::getJsonStringFromMessage(message, pretty = true, always_print_primitive_fields). */
export function protoJson<D extends DescMessage>(schema: D, message: MessageShape<D>, alwaysPrintPrimitives: boolean): string {
  const json = toJson(schema, message, { useProtoFieldName: true, alwaysEmitImplicit: alwaysPrintPrimitives });
  return `${JSON.stringify(json, null, 1)}\n`;
}

const STATE_ENUM: Readonly<Record<ServerState, ServerInfo_State>> = {
  LIVE: ServerInfo_State.LIVE,
  DRAINING: ServerInfo_State.DRAINING,
  PRE_INITIALIZING: ServerInfo_State.PRE_INITIALIZING,
  INITIALIZING: ServerInfo_State.INITIALIZING,
};

export function currentServerState(ctx: AdminServerContext): ServerState {
  return serverState(ctx.initState(), ctx.healthCheckFailed());
}

/** GET /ready: the state and a newline; 200 only when LIVE. */
export function handleReady(ctx: AdminServerContext): AdminResponse {
  const state = currentServerState(ctx);
  return { status: state === 'LIVE' ? 200 : 503, body: `${state}\n` };
}

/** GET /server_info. */
export function handleServerInfo(ctx: AdminServerContext, now: number = Date.now()): AdminResponse {
  const info = ctx.serverInfo();
  const seconds = (fromMs: number): bigint => BigInt(Math.max(0, Math.floor(now / 1000) - Math.floor(fromMs / 1000)));
  const message = create(ServerInfoSchema, {
    version: info.version,
    state: STATE_ENUM[currentServerState(ctx)],
    uptimeCurrentEpoch: { seconds: seconds(info.startTimeCurrentEpochMs) },
    uptimeAllEpochs: { seconds: seconds(info.startTimeFirstEpochMs) },
    hotRestartVersion: info.hotRestartVersion,
    commandLineOptions: info.commandLineOptions ?? {},
    node: info.node ?? {},
  });
  return { status: 200, contentType: APPLICATION_JSON, body: protoJson(ServerInfoSchema, message, true) };
}

/** GET /memory, from process.memoryUsage(). */
export function handleMemory(): AdminResponse {
  const m = process.memoryUsage();
  const message = create(MemorySchema, {
    allocated: BigInt(m.heapUsed + m.external),
    heapSize: BigInt(m.heapTotal),
    totalPhysicalBytes: BigInt(m.rss),
  });
  return { status: 200, contentType: APPLICATION_JSON, body: protoJson(MemorySchema, message, true) };
}

/** GET /certs: no TLS contexts are reported yet. */
export function handleCerts(): AdminResponse {
  return { status: 200, contentType: APPLICATION_JSON, body: protoJson(CertificatesSchema, create(CertificatesSchema), true) };
}

/** GET /hot_restart_version. */
export function handleHotRestartVersion(ctx: AdminServerContext): AdminResponse {
  return { status: 200, body: ctx.serverInfo().hotRestartVersion };
}

/**
 * GET /runtime: `{"entries": {key: {"final_value", "layer_values"}}, "layers": [names]}`,
 * keys sorted as protobuf prints a Struct.
 */
export function handleRuntime(ctx: AdminServerContext): AdminResponse {
  const layers = ctx.runtimeLayers?.() ?? [];
  const keys = new Set<string>();
  for (const l of layers) for (const k of Object.keys(l.values)) keys.add(k);
  const entries: Record<string, { final_value: string; layer_values: string[] }> = {};
  for (const key of [...keys].sort()) {
    const layerValues = layers.map((l) => l.values[key] ?? '');
    let final = '';
    for (const v of layerValues) if (v !== '') final = v;
    entries[key] = { final_value: final, layer_values: layerValues };
  }
  const body = `${JSON.stringify({ entries, layers: layers.map((l) => l.name) }, null, 1)}\n`;
  return { status: 200, contentType: APPLICATION_JSON, body };
}
