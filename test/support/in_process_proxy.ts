/**
 * The server's composition (cluster manager, secret manager, listeners) in
 * the test process, for features the CLI cannot drive yet (SDS before the
 * server wires the xDS subscription factory into the secret manager). It
 * follows src/server/server.ts: the secret manager is built first and gets
 * the subscription factory after the cluster manager, as the server will.
 * Listeners bind real sockets on 127.0.0.1; stop() closes everything.
 */
import type { Scope } from '../../src/envoy/stats/stats.js';
import type { SubscriptionFactory } from '../../src/envoy/config/subscription.js';
import type { TimeSource } from '../../src/envoy/common/time.js';
import type { ServerClusterManager } from '../../src/server/cluster_manager_factory.js';
import { loadBootstrap } from '../../src/config/bootstrap_loader.js';
import { unpackAny } from '../../src/config/type_registry.js';
import { registerBuiltinExtensions } from '../../src/extensions/index.js';
import { ListenerManagerImpl } from '../../src/listener/listener_manager_impl.js';
import { SecretManagerImpl } from '../../src/secret/secret_manager_impl.js';
import { createClusterManager } from '../../src/server/cluster_manager_factory.js';
import { DrainManager } from '../../src/server/drain_manager.js';
import { StatsStore } from '../../src/stats/stats_impl.js';

export interface InProcessProxy {
  readonly stats: StatsStore;
  readonly clusterManager: ServerClusterManager;
  readonly listenerManager: ListenerManagerImpl;
  readonly secretManager: SecretManagerImpl;
  /** Bound port of each listener by name. */
  readonly ports: ReadonlyMap<string, number>;
  /** A counter's or gauge's value by full name (undefined when it does not exist). */
  stat(name: string): number | undefined;
  stop(): void;
}

export interface InProcessProxyOptions {
  /** Builds the SDS subscription factory once the cluster manager exists (none: sds_config is a config error). */
  subscriptionFactory?: (deps: { clusterManager: ServerClusterManager; scope: Scope; configDir: string }) => SubscriptionFactory;
  configDir?: string;
  /** The clock handed to extensions (FactoryContext.timeSource); the real one when absent. */
  timeSource?: TimeSource;
}

export async function startInProcessProxy(yaml: string, o: InProcessProxyOptions = {}): Promise<InProcessProxy> {
  registerBuiltinExtensions();
  const loaded = loadBootstrap({ configYaml: yaml });
  const b = loaded.bootstrap;
  const configDir = o.configDir ?? process.cwd();
  const stats = new StatsStore();
  const root = stats.rootScope;
  const secretManager = new SecretManagerImpl({ scope: root, configDir, awaitSubscriptionFactory: o.subscriptionFactory !== undefined });
  secretManager.addStaticSecrets(b.staticResources?.secrets ?? [], 'static_resources.secrets');
  const warn = (path: string, message: string): void => { process.stderr.write(`config warning: ${path}: ${message}\n`); };
  const clusterManager = createClusterManager({ stats }, b, { secretManager, configDir, warn });
  await clusterManager.initialize();
  if (o.subscriptionFactory !== undefined) secretManager.setSubscriptionFactory(o.subscriptionFactory({ clusterManager, scope: root, configDir }));
  const drain = new DrainManager();
  const listenerManager = new ListenerManagerImpl(root, (listener, listenerScope) => ({
    scope: root,
    listenerScope,
    clusterManager,
    localInfo: { nodeId: b.node?.id ?? '', clusterName: b.node?.cluster ?? '', zone: '' },
    drainDecision: drain,
    configDir,
    listener,
    unpackAny: (any, path) => unpackAny(any as never, path),
    warn,
    secretManager,
    ...(o.timeSource !== undefined ? { timeSource: o.timeSource } : {}),
  }));
  try {
    await listenerManager.addStaticListeners(b.staticResources?.listeners ?? [], true);
  } catch (e) {
    clusterManager.shutdown();
    throw e;
  }
  const ports = new Map(listenerManager.listeners.map((l) => [l.name, l.boundPort] as const));
  return {
    stats, clusterManager, listenerManager, secretManager, ports,
    stat(name: string): number | undefined {
      return (stats.sortedCounters().find((c) => c.name === name) ?? stats.sortedGauges().find((g) => g.name === name))?.value();
    },
    stop(): void {
      listenerManager.stopListeners();
      listenerManager.closeAllConnections();
      clusterManager.shutdown();
    },
  };
}
