/**
 * A listener manager wired as the server wires it (real cluster manager over
 * static clusters, real extensions, the server's DrainManager as parent drain
 * decision) but fed by an InMemorySubscriptionFactory, for LDS / RDS tests at
 * the manager level. Also: Listener / RouteConfiguration messages from YAML.
 */
import { loadBootstrap } from '../../src/config/bootstrap_loader.js';
import { unpackAny } from '../../src/config/type_registry.js';
import type { FactoryContext } from '../../src/envoy/server/factory_context.js';
import type { Listener } from '../../src/generated/envoy/config/listener/v3/listener_pb.js';
import type { RouteConfiguration } from '../../src/generated/envoy/config/route/v3/route_pb.js';
import { registerBuiltinExtensions } from '../../src/extensions/index.js';
import { ListenerManagerImpl } from '../../src/listener/listener_manager_impl.js';
import { createClusterManager, type ServerClusterManager } from '../../src/server/cluster_manager_factory.js';
import { DrainManager } from '../../src/server/drain_manager.js';
import { StatsStore } from '../../src/stats/stats_impl.js';
import { parseYaml } from '../router/test_util.js';
import { InMemorySubscriptionFactory } from './in_memory_subscriptions.js';

export interface ListenerHarness {
  readonly stats: StatsStore;
  readonly clusterManager: ServerClusterManager;
  readonly drainManager: DrainManager;
  readonly subscriptions: InMemorySubscriptionFactory;
  readonly manager: ListenerManagerImpl;
  readonly warnings: string[];
  counter(name: string): number;
  gauge(name: string): number;
  /** Stops every listener and closes every connection. */
  close(): void;
}

/** `clustersYaml`: a `clusters:` list (e.g. staticCluster() items). */
export function createListenerHarness(opts: { clustersYaml: string; drainTimeMs?: number; withSubscriptionFactory?: boolean }): ListenerHarness {
  registerBuiltinExtensions();
  const stats = new StatsStore();
  const root = stats.rootScope;
  const bootstrap = loadBootstrap({ configYaml: `static_resources:\n  clusters:\n${opts.clustersYaml.split('\n').map((l) => `  ${l}`).join('\n')}` }).bootstrap;
  const clusterManager = createClusterManager({ stats }, bootstrap);
  const drainManager = new DrainManager();
  const subscriptions = new InMemorySubscriptionFactory();
  const warnings: string[] = [];
  const manager = new ListenerManagerImpl(root, (listener, listenerScope): FactoryContext => ({
    scope: root,
    listenerScope,
    clusterManager,
    localInfo: { nodeId: 'test-node', clusterName: 'test-cluster', zone: '' },
    drainDecision: drainManager,
    configDir: process.cwd(),
    listener,
    unpackAny: (any, path) => unpackAny(any as never, path),
    warn: (path, message) => { warnings.push(`${path}: ${message}`); },
  }), { drainTimeMs: opts.drainTimeMs ?? 2000, subscriptionFactory: opts.withSubscriptionFactory === false ? undefined : subscriptions });
  return {
    stats, clusterManager, drainManager, subscriptions, manager, warnings,
    counter: (name) => stats.counters.get(name)?.value() ?? 0,
    gauge: (name) => stats.gauges.get(name)?.value() ?? 0,
    close: () => {
      manager.stopListeners();
      manager.closeAllConnections();
      clusterManager.shutdown();
    },
  };
}

const HCM_TYPE = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';

export interface HcmListenerOptions {
  readonly port?: number;
  readonly statPrefix?: string;
  /** Inline route_config routing every path to this cluster. */
  readonly cluster?: string;
  /** Or RDS: route_config_name, and config_source.initial_fetch_timeout (e.g. '0.2s'). */
  readonly rds?: { readonly name: string; readonly initialFetchTimeout?: string };
  /** YAML replacing the whole filter list (for bad-input tests). */
  readonly filtersYaml?: string;
  /** Extra top-level Listener fields (YAML, no indent). */
  readonly extra?: string;
}

/** A Listener with one filter chain: HCM (AUTO codec) -> router. */
export function hcmListenerYaml(name: string, o: HcmListenerOptions = {}): string {
  const routes = o.rds !== undefined
    ? `rds:
          route_config_name: ${o.rds.name}
          config_source: { ads: {}${o.rds.initialFetchTimeout !== undefined ? `, initial_fetch_timeout: ${o.rds.initialFetchTimeout}` : ''} }`
    : `route_config:
          name: local_route
          virtual_hosts:
          - name: all
            domains: ["*"]
            routes:
            - match: { prefix: "/" }
              route: { cluster: ${o.cluster ?? 'a'} }`;
  const filters = o.filtersYaml ?? `
    - name: envoy.filters.network.http_connection_manager
      typed_config:
        "@type": ${HCM_TYPE}
        stat_prefix: ${o.statPrefix ?? name}
        ${routes}
        http_filters:
        - name: envoy.filters.http.router
          typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }`;
  return `
name: ${name}
address: { socket_address: { address: 127.0.0.1, port_value: ${o.port ?? 0} } }
${o.extra ?? ''}
filter_chains:
- filters:${filters}
`;
}

export function hcmListener(name: string, o: HcmListenerOptions = {}): Listener {
  return listenerFromYaml(hcmListenerYaml(name, o));
}

export function listenerFromYaml(yaml: string): Listener {
  return parseYaml<Listener>('envoy.config.listener.v3.Listener', yaml);
}

export function routeConfigFromYaml(yaml: string): RouteConfiguration {
  return parseYaml<RouteConfiguration>('envoy.config.route.v3.RouteConfiguration', yaml);
}

/** A RouteConfiguration `name` sending `/` (and `/slow...`) to `cluster`, optionally with extra routes first. */
export function simpleRouteConfig(name: string, cluster: string, extraRoutes = ''): RouteConfiguration {
  return routeConfigFromYaml(`
name: ${name}
virtual_hosts:
- name: all
  domains: ["*"]
  routes:
${extraRoutes}
  - match: { prefix: "/" }
    route: { cluster: ${cluster} }
`);
}
