/**
 * Starts the admin interface for a Server: adapts the server to the admin's
 * context interface and registers the endpoints whose data the server owns
 * (/clusters, /listeners, /config_dump, /drain_listeners).
 */
import type { Admin } from '../generated/envoy/config/bootstrap/v3/bootstrap_pb.js';
import type { Message } from '@bufbuild/protobuf';
import type { HttpConnectionManager } from '../generated/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager_pb.js';
import { unpackAny } from '../config/type_registry.js';
import { allLoggers, getLogger, setAllLogLevels, type LogLevel } from '../common/logger.js';
import { ConfigError } from '../config/config_error.js';
import { AdminServer } from './admin/admin_server.js';
import type { AdminServerContext } from './admin/admin_types.js';
import { clustersHandler, type ClusterStatusSnapshot } from './admin/clusters_render.js';
import { listenersHandler, type ListenerStatusSnapshot } from './admin/listeners_render.js';
import { handleConfigDump, type ConfigDumpSource, type DynamicResourceEntry } from './config_dump.js';
import { routeConfigProviderManagerFor } from '../router/route_config_provider_manager.js';
import type { Server } from './server.js';
import { VERSION } from './version.js';
import { splitAddress } from '../network/address.js';

export interface RunningAdmin {
  readonly boundAddress: string;
  close(): Promise<void>;
}

function contextFor(server: Server): AdminServerContext {
  return {
    stats: server.stats,
    loggers: {
      loggers: () => allLoggers().map((l) => ({ name: l.name, level: l.level })),
      setLevel: (name, level) => {
        const l = allLoggers().find((x) => x.name === name);
        if (l === undefined) return false;
        l.setLevel(level as LogLevel);
        return true;
      },
      setAllLevels: (level) => setAllLogLevels(level as LogLevel),
    },
    serverInfo: () => ({
      version: `legate/${VERSION}/Clean/RELEASE/Node-${process.version}`,
      hotRestartVersion: 'disabled',
      startTimeCurrentEpochMs: server.startTimeMs,
      startTimeFirstEpochMs: server.startTimeMs,
      node: { id: server.localInfo.nodeId, cluster: server.localInfo.clusterName, locality: { zone: server.localInfo.zone } },
    }),
    initState: () => (server.state === 'LIVE' || server.state === 'DRAINING' ? 'Initialized' : server.state === 'INITIALIZING' ? 'Initializing' : 'Uninitialized'),
    healthCheckFailed: () => server.healthCheckFailed || server.state === 'DRAINING',
    failHealthcheck: (fail) => { server.healthCheckFailed = fail; },
    shutdown: () => void server.shutdown('/quitquitquit'),
    drainListeners: () => { server.listenerManager.stopListeners(); server.drainManager.startDrainSequence(); },
  };
}

function clusterSnapshots(server: Server): ClusterStatusSnapshot[] {
  return server.clusterManager.allClusters().filter((c) => !c.warming).map((c) => {
    const def = c.circuitBreakers.find((b) => b.priority === 'default');
    const high = c.circuitBreakers.find((b) => b.priority === 'high');
    const th = (b: typeof def) => b === undefined ? undefined : {
      maxConnections: b.maxConnections, maxPendingRequests: b.maxPendingRequests, maxRequests: b.maxRequests, maxRetries: b.maxRetries,
    };
    return {
      name: c.name,
      observabilityName: c.statName,
      addedViaApi: c.addedViaApi,
      circuitBreakers: { default: th(def), high: th(high) },
      outlier: c.outlier,
      hosts: c.hosts.map((h) => ({
        address: { address: h.address, port: h.port },
        hostname: h.hostname,
        stats: h.stats,
        healthFlags: {
          failedActiveHc: (h.healthFlags & 1) !== 0,
          failedOutlierCheck: (h.healthFlags & 2) !== 0,
          failedEdsHealth: (h.healthFlags & 4) !== 0,
          degradedActiveHc: (h.healthFlags & 8) !== 0,
          degradedEdsHealth: (h.healthFlags & 16) !== 0,
          pendingDynamicRemoval: (h.healthFlags & 32) !== 0,
          pendingActiveHc: (h.healthFlags & 64) !== 0,
          excludedViaImmediateHcFail: (h.healthFlags & 128) !== 0,
          activeHcTimeout: (h.healthFlags & 256) !== 0,
          edsStatusDraining: (h.healthFlags & 512) !== 0,
        },
        weight: h.weight,
        locality: h.locality,
        priority: h.priority,
        successRate: h.successRate,
        localOriginSuccessRate: h.localOriginSuccessRate,
      })),
    };
  });
}

function listenerSnapshots(server: Server): ListenerStatusSnapshot[] {
  return server.listenerManager.listeners.map((l) => {
    const { ip, port } = splitAddress(l.boundAddress());
    return { name: l.name, localAddress: { address: ip, port } };
  });
}

const HCM_TYPE = 'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';

/** Route configurations inline in static listeners' HCMs, for the routes dump. */
/** Everything /config_dump shows: the bootstrap, static resources and what xDS delivered. */
function configDumpSource(server: Server): ConfigDumpSource {
  const entry = (d: { versionInfo: string; lastUpdated: Date }, resource: Message): DynamicResourceEntry => ({ versionInfo: d.versionInfo, resource, lastUpdated: d.lastUpdated });
  const clusters = server.clusterManager.clustersConfigDump();
  const clusterEntry = (c: { cluster: Message; versionInfo: string; lastUpdatedMs: number }): DynamicResourceEntry =>
    ({ versionInfo: c.versionInfo, resource: c.cluster, lastUpdated: new Date(c.lastUpdatedMs) });
  const listeners = server.listenerManager.configDump();
  const factory = server.subscriptionFactory;
  const routes = factory === null ? [] : routeConfigProviderManagerFor(factory).dynamicRouteConfigs();
  return {
    bootstrap: server.bootstrap,
    loadedAt: new Date(server.startTimeMs),
    staticClusters: server.bootstrap.staticResources?.clusters ?? [],
    staticListeners: server.bootstrap.staticResources?.listeners ?? [],
    staticRouteConfigs: staticRouteConfigs(server),
    clustersVersionInfo: clusters.versionInfo,
    dynamicActiveClusters: clusters.dynamicActiveClusters.map(clusterEntry),
    dynamicWarmingClusters: clusters.dynamicWarmingClusters.map(clusterEntry),
    listenersVersionInfo: server.lds?.versionInfo ?? '',
    dynamicListeners: listeners.dynamicListeners.map((d) => ({
      name: d.name,
      active: d.activeState && entry(d.activeState, d.activeState.listener),
      warming: d.warmingState && entry(d.warmingState, d.warmingState.listener),
      draining: d.drainingState && entry(d.drainingState, d.drainingState.listener),
      error: d.errorState && { details: d.errorState.details, lastUpdateAttempt: d.errorState.lastUpdateAttempt },
    })),
    dynamicRouteConfigs: routes
      .filter((r) => r.routeConfig !== null)
      .map((r) => ({ versionInfo: r.versionInfo, resource: r.routeConfig!, lastUpdated: r.lastUpdated ?? new Date(0) })),
  };
}

function staticRouteConfigs(server: Server): Message[] {
  const out: Message[] = [];
  for (const l of server.bootstrap.staticResources?.listeners ?? []) {
    for (const fc of [...l.filterChains, ...(l.defaultFilterChain ? [l.defaultFilterChain] : [])]) {
      for (const f of fc.filters) {
        if (f.configType.case !== 'typedConfig' || !f.configType.value.typeUrl.endsWith(HCM_TYPE)) continue;
        const hcm = unpackAny(f.configType.value, '') as HttpConnectionManager;
        if (hcm.routeSpecifier.case === 'routeConfig') out.push(hcm.routeSpecifier.value);
      }
    }
  }
  return out;
}

export async function startAdmin(server: Server, admin: Admin): Promise<RunningAdmin> {
  const addr = admin.address?.address;
  if (addr === undefined || addr.case !== 'socketAddress' || addr.value.portSpecifier.case !== 'portValue') {
    throw new ConfigError('admin.address', 'admin.address.socket_address with port_value is required');
  }
  const a = new AdminServer(contextFor(server));
  a.addHandler('/clusters', 'upstream cluster status', clustersHandler(() => clusterSnapshots(server)), { removable: false });
  a.addHandler('/listeners', 'print listener info', listenersHandler(() => listenerSnapshots(server)), { removable: false });
  a.addHandler('/config_dump', 'dump current Envoy configs', (req) => handleConfigDump(() => configDumpSource(server), req), {
    removable: false,
    params: [
      { id: 'resource', help: 'The resource to dump' },
      { id: 'mask', help: 'The mask to apply. When both resource and mask are specified, the mask is applied to every element in the desired repeated field so that only a subset of fields are returned.' },
      { id: 'include_eds', help: 'Dump currently loaded configuration including EDS.' },
    ],
  });
  try {
    await a.listen({ host: addr.value.address, port: addr.value.portSpecifier.value });
  } catch (e) {
    throw new Error(`cannot bind admin to ${addr.value.address}:${addr.value.portSpecifier.value}: ${(e as Error).message}`);
  }
  const bound = a.address();
  const boundAddress = typeof bound === 'object' && bound !== undefined
    ? (bound.family === 'IPv6' ? `[${bound.address}]:${bound.port}` : `${bound.address}:${bound.port}`)
    : String(bound);
  getLogger('admin').debug(`admin listening on ${boundAddress}`);
  return { boundAddress, close: () => a.close() };
}
