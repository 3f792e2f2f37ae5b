/**
 * LdsApi: listeners from LDS, after Envoy's `source/common/listener_manager/lds_api.cc`.
 * A wildcard subscription to Listener resources (stats under
 * `listener_manager.lds.`); each update removes the listeners that are gone,
 * then adds or updates the others through the listener manager.
 *
 * Every valid listener of an update is applied; if any is invalid (or a name
 * repeats) the update is rejected afterwards by throwing one ConfigError that
 * names each bad listener and field — the NACK's error_detail — while what
 * was serving for those listeners keeps serving.
 *
 * The server waits for it as an init target: ready after the first update
 * (applied or rejected), when the subscription gives up, or when the config
 * source's initial_fetch_timeout (default 15 s, 0 = none) passes.
 */
import type { ConfigSource } from '../generated/envoy/config/core/v3/config_source_pb.js';
import type { Listener } from '../generated/envoy/config/listener/v3/listener_pb.js';
import type { InitTarget } from '../envoy/init/init.js';
import type { Scope } from '../envoy/stats/stats.js';
import {
  ConfigUpdateFailureReason,
  TypeUrl,
  type ConfigUpdate,
  type Subscription,
  type SubscriptionCallbacks,
  type SubscriptionFactory,
} from '../envoy/config/subscription.js';
import { ConfigError } from '../config/config_error.js';
import { getLogger } from '../common/logger.js';
import { listenerNameOf, type ListenerManagerImpl } from './listener_manager_impl.js';

const log = getLogger('config');

export class LdsApi implements InitTarget, SubscriptionCallbacks<Listener> {
  readonly name = 'LDS';
  /** version_info of the last update that changed something (Envoy's system_version_info). */
  versionInfo = '';
  private readonly subscription: Subscription;
  private ready: (() => void) | null = null;

  /** `path` names the config source in errors (`dynamic_resources.lds_config`). */
  constructor(
    configSource: ConfigSource,
    private readonly listenerManager: ListenerManagerImpl,
    factory: SubscriptionFactory,
    rootScope: Scope,
    path = 'dynamic_resources.lds_config',
  ) {
    this.subscription = factory.subscriptionFromConfigSource<Listener>(configSource, TypeUrl.Listener, rootScope.createScope('listener_manager.lds.'), this, path);
  }

  /**
   * Starts the (wildcard) subscription; `ready` runs after the first update or
   * when fetching gives up (the subscription reports initial_fetch_timeout as FetchTimedout).
   */
  initialize(ready: () => void): void {
    this.ready = ready;
    this.subscription.start([]);
  }

  stop(): void {
    this.ready = null;
    this.subscription.stop();
  }

  onConfigUpdate(update: ConfigUpdate<Listener>): void {
    let anyApplied = false;
    // Removals first, so that a listener may take over the address of one removed in the same update.
    for (const name of update.removed) {
      if (this.listenerManager.removeListener(name)) anyApplied = true;
    }
    const errors: ConfigError[] = [];
    const lines: string[] = [];
    const seen = new Set<string>();
    for (const r of update.added) {
      const name = listenerNameOf(r.resource) || r.name;
      try {
        if (seen.has(name)) throw new ConfigError('name', `duplicate listener ${name} found`);
        seen.add(name);
        if (this.listenerManager.addOrUpdateListener(r.resource, r.version, '')) anyApplied = true;
      } catch (e) {
        const ce = e instanceof ConfigError ? e : new ConfigError('', (e as Error).message);
        errors.push(ce);
        lines.push(`${name}: ${ce.message}`);
      }
    }
    if (anyApplied) this.versionInfo = update.versionInfo;
    this.signalReady();
    if (errors.length > 0) {
      // Envoy's wording: "Error adding/updating listener(s) <name>: <what>" per listener.
      const err = new ConfigError('', `Error adding/updating listener(s) ${lines.join('\n')}`);
      err.others.push(...errors);
      log.warn(`lds: update ${update.versionInfo} rejected: ${err.message}`);
      throw err;
    }
  }

  onConfigUpdateFailed(reason: ConfigUpdateFailureReason, error: Error | null): void {
    // A connection failure is retried by the transport; the wait stays bounded by initial_fetch_timeout (FetchTimedout).
    if (reason === ConfigUpdateFailureReason.ConnectionFailure) return;
    if (this.ready !== null) log.warn(`lds: ${reason}${error !== null ? `: ${error.message}` : ''}; starting without LDS listeners`);
    this.signalReady();
  }

  private signalReady(): void {
    const ready = this.ready;
    this.ready = null;
    ready?.();
  }
}
