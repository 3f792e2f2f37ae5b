/**
 * ListenerManagerImpl: builds listeners from Listener config, binds them and
 * drains them, after Envoy's `source/common/listener_manager/listener_manager_impl.cc`.
 *
 * Static listeners come from the bootstrap. LDS adds, replaces and removes
 * dynamic ones at runtime (addOrUpdateListener / removeListener), each built
 * and validated exactly as a static one:
 *
 *   added   -> warming (its init targets, e.g. RDS routes, not ready yet)
 *           -> active: bound, or — an update on the same address — taking
 *              over the old version's socket (Node cannot bind a port twice)
 *   old version / removed -> draining: no new connections; its connections
 *              are asked to close (HTTP/1 `connection: close` on the next
 *              response, HTTP/2 GOAWAY) and are closed when the drain time
 *              (--drain-time-s) ends
 *
 * Stats under `listener_manager.` as Envoy's ALL_LISTENER_MANAGER_STATS.
 */
import type { Listener } from '../generated/envoy/config/listener/v3/listener_pb.js';
import type { FilterChain as FilterChainProto, FilterChainMatch } from '../generated/envoy/config/listener/v3/listener_components_pb.js';
import type { CidrRange as CidrRangeProto } from '../generated/envoy/config/core/v3/address_pb.js';
import type {
  DownstreamTransportSocketConfigFactory,
  NamedListenerFilterConfigFactory,
  NamedNetworkFilterConfigFactory,
  TransportSocketFactoryContext,
} from '../envoy/config/typed_config.js';
import type { ListenerFilterFactoryCb } from '../envoy/network/listener_filter.js';
import type { NetworkFilterFactoryCb } from '../envoy/network/filter.js';
import type { FactoryContext, ListenerFactoryInfo } from '../envoy/server/factory_context.js';
import type { Scope } from '../envoy/stats/stats.js';
import type { SubscriptionFactory } from '../envoy/config/subscription.js';
import { toBinary } from '@bufbuild/protobuf';
import { ConfigError, withPathPrefix } from '../config/config_error.js';
import { resolveTypedConfig } from '../config/registry.js';
import { durationToMs } from '../config/well_known.js';
import { validateMessage } from '../config/pgv_validator.js';
import { messageSchema } from '../config/type_registry.js';
import { getLogger } from '../common/logger.js';
import { InitManagerImpl } from '../common/init/manager_impl.js';
import { FilterChainManager, checkNoDuplicateMatches, type CidrRange, type FilterChain } from './filter_chain_manager.js';
import { ListenerImpl, type ListenerLifecycle } from './listener_impl.js';
import { ListenerDrainManager } from './listener_drain_manager.js';
import { listenerStatPrefix, addressString } from '../stats/listener_stats.js';
import { createListenerManagerStats, type ListenerManagerStats } from '../stats/listener_manager_stats.js';

const log = getLogger('config');

/** What the manager needs to build each listener's factory context. */
export type ListenerContextFactory = (listener: ListenerFactoryInfo, listenerScope: Scope) => FactoryContext;

const LISTENER_TYPE = 'envoy.config.listener.v3.Listener';

/** Envoy's default --drain-time-s. */
export const DEFAULT_DRAIN_TIME_MS = 600_000;

export interface ListenerManagerOptions {
  /** How long a replaced or removed listener drains before its connections are closed (--drain-time-s). Default 600 s. */
  readonly drainTimeMs?: number;
  /** Handed to every listener's FactoryContext (HCM `rds`) unless the context factory already sets one. */
  readonly subscriptionFactory?: SubscriptionFactory;
}

/** One listener as /config_dump shows it (Envoy's ListenersConfigDump). */
export interface ListenerDumpState {
  readonly name: string;
  readonly versionInfo: string;
  readonly listener: Listener;
  readonly lastUpdated: Date;
}

/** The last rejected update of a listener (Envoy's UpdateFailureState). */
export interface ListenerErrorState {
  readonly failedConfiguration: Listener;
  readonly lastUpdateAttempt: Date;
  readonly details: string;
  readonly versionInfo: string;
}

export interface ListenersDump {
  readonly staticListeners: ListenerDumpState[];
  readonly dynamicListeners: Array<{
    readonly name: string;
    readonly activeState?: ListenerDumpState;
    readonly warmingState?: ListenerDumpState;
    readonly drainingState?: ListenerDumpState;
    readonly errorState?: ListenerErrorState;
  }>;
}

/** `a.b`, or `b` at the root. */
function at(path: string, field: string): string {
  return path === '' ? field : `${path}.${field}`;
}

function listenerHash(listener: Listener): string {
  return Buffer.from(toBinary(messageSchema(LISTENER_TYPE), listener)).toString('base64');
}

/** A listener's name: its `name`, else `<address>_<port>` (as static listeners are named). */
export function listenerNameOf(listener: Listener): string {
  if (listener.name !== '') return listener.name;
  const addr = listener.address?.address;
  if (addr?.case === 'socketAddress' && addr.value.portSpecifier.case === 'portValue') return `${addr.value.address}_${addr.value.portSpecifier.value}`;
  return '';
}

function sameAddress(a: ListenerImpl, b: ListenerImpl): boolean {
  return a.config.address === b.config.address && a.config.port === b.config.port;
}

function dumpState(l: ListenerImpl): ListenerDumpState {
  return { name: l.name, versionInfo: l.config.versionInfo, listener: l.config.config as Listener, lastUpdated: l.lastUpdated };
}

function cidrs(list: ReadonlyArray<CidrRangeProto>): CidrRange[] {
  return list.map((c) => ({ ip: c.addressPrefix, prefixLen: c.prefixLen ?? (c.addressPrefix.includes(':') ? 128 : 32) }));
}

function matchSpec(m: FilterChainMatch | undefined) {
  return {
    destinationPort: m?.destinationPort ?? null,
    prefixRanges: cidrs(m?.prefixRanges ?? []),
    serverNames: (m?.serverNames ?? []).map((s) => s.toLowerCase()),
    transportProtocol: m?.transportProtocol ?? '',
    applicationProtocols: m?.applicationProtocols ?? [],
    directSourcePrefixRanges: cidrs(m?.directSourcePrefixRanges ?? []),
    sourceType: m?.sourceType ?? 0,
    sourcePrefixRanges: cidrs(m?.sourcePrefixRanges ?? []),
    sourcePorts: m?.sourcePorts ?? [],
  };
}

export class ListenerManagerImpl {
  /** Active listeners (static first, then dynamic), by name, in the order they were added. */
  private readonly active = new Map<string, ListenerImpl>();
  private readonly warming = new Map<string, ListenerImpl>();
  private readonly draining = new Set<ListenerImpl>();
  private readonly errorStates = new Map<string, ListenerErrorState>();
  /** Binds in flight (see settled()). */
  private readonly pendingBinds = new Set<Promise<void>>();
  readonly stats: ListenerManagerStats;
  private readonly drainTimeMs: number;

  constructor(
    private readonly rootScope: Scope,
    private readonly contextFactory: ListenerContextFactory,
    private readonly options: ListenerManagerOptions = {},
  ) {
    this.stats = createListenerManagerStats(rootScope);
    this.drainTimeMs = options.drainTimeMs ?? DEFAULT_DRAIN_TIME_MS;
  }

  /** The active listeners (bound and taking traffic). */
  get listeners(): ListenerImpl[] { return [...this.active.values()]; }
  get warmingListeners(): ListenerImpl[] { return [...this.warming.values()]; }
  get drainingListeners(): ListenerImpl[] { return [...this.draining]; }

  /** The active listener called `name`, if any. */
  getListener(name: string): ListenerImpl | undefined { return this.active.get(name); }

  /**
   * Compiles a listener (filter chains, filters) without binding it. Throws
   * ConfigError naming the field under `path` ('' for a resource's root).
   */
  buildListener(listener: Listener, path: string, meta: { addedViaApi: boolean; versionInfo: string } = { addedViaApi: false, versionInfo: '' }): ListenerImpl {
    const addr = listener.address?.address;
    if (addr === undefined || addr.case !== 'socketAddress') {
      throw new ConfigError(at(path, 'address'), addr?.case === 'pipe' ? 'pipe (unix socket) listeners are not supported yet' : 'listener address.socket_address is required');
    }
    const sa = addr.value;
    if (sa.portSpecifier.case !== 'portValue') {
      throw new ConfigError(at(path, 'address.socket_address'), 'socket_address.port_value is required (named ports are not supported)');
    }
    const name = listenerNameOf(listener);
    const bufferLimit = listener.perConnectionBufferLimitBytes ?? 1024 * 1024;
    const listenerScope = this.rootScope.createScope(listenerStatPrefix(sa.address, sa.portSpecifier.value, listener.statPrefix));
    const info: ListenerFactoryInfo = { name, perConnectionBufferLimitBytes: bufferLimit };
    const base = this.contextFactory(info, listenerScope);
    const initManager = new InitManagerImpl(`Listener ${name}`);
    const drainManager = new ListenerDrainManager(base.drainDecision);
    const destroyCallbacks: Array<() => void> = [];
    // The listener's own drain decision, init manager and cleanup list (Envoy's PerListenerFactoryContext).
    const context: FactoryContext = {
      ...base,
      drainDecision: drainManager,
      initManager,
      addListenerDestroyCb: (cb) => { destroyCallbacks.push(cb); },
      subscriptionFactory: base.subscriptionFactory ?? this.options.subscriptionFactory,
    };
    try {
      return this.compileListener(listener, path, context, listenerScope, {
        name, address: sa.address, port: sa.portSpecifier.value, ipv4Compat: sa.ipv4Compat, bufferLimit,
        addedViaApi: meta.addedViaApi, versionInfo: meta.versionInfo,
      }, { initManager, drainManager, destroyCallbacks });
    } catch (e) {
      // What the chains built so far hold (RDS subscriptions) is released.
      for (const cb of destroyCallbacks) cb();
      throw e;
    }
  }

  private compileListener(
    listener: Listener, path: string, context: FactoryContext, listenerScope: Scope,
    c: { name: string; address: string; port: number; ipv4Compat: boolean; bufferLimit: number; addedViaApi: boolean; versionInfo: string },
    lifecycle: ListenerLifecycle,
  ): ListenerImpl {
    const name = c.name;
    const listenerFilters: ListenerFilterFactoryCb[] = [];
    for (const [i, lf] of listener.listenerFilters.entries()) {
      const lp = at(path, `listener_filters[${i}]`);
      if (lf.configType.case === 'configDiscovery') throw new ConfigError(`${lp}.config_discovery`, 'listener filter config discovery is not supported yet');
      if (lf.filterDisabled !== undefined) throw new ConfigError(`${lp}.filter_disabled`, 'filter_disabled is not supported yet');
      const resolved = resolveTypedConfig<NamedListenerFilterConfigFactory>('envoy.filters.listener', { name: lf.name, typedConfig: lf.configType.value }, lp, context);
      if (resolved === null) throw new ConfigError(lp, `unknown listener filter '${lf.name}'`);
      listenerFilters.push(withPathPrefix(`${lp}.typed_config`, () => resolved.factory.createListenerFilterFactory(resolved.config, context)));
    }
    const tsContext: TransportSocketFactoryContext = {
      scope: listenerScope,
      configDir: context.configDir,
      secretManager: context.secretManager ?? { findStaticSecret: () => undefined },
      warn: (p, m) => context.warn(p, m),
    };
    const buildChain = (fc: FilterChainProto, p: string): FilterChain => {
      let transportSocketFactory: FilterChain['transportSocketFactory'] = null;
      if (fc.transportSocket !== undefined) {
        const tp = `${p}.transport_socket`;
        const ts = fc.transportSocket;
        if (ts.configType.case !== 'typedConfig' && ts.configType.case !== undefined) throw new ConfigError(tp, 'transport_socket needs typed_config');
        const resolved = resolveTypedConfig<DownstreamTransportSocketConfigFactory>('envoy.transport_sockets.downstream', { name: ts.name, typedConfig: ts.configType.value }, tp, context);
        if (resolved === null) throw new ConfigError(tp, `unknown transport socket '${ts.name}'`);
        const f = resolved.factory.createTransportSocketFactory(resolved.config, tsContext, fc.filterChainMatch?.serverNames ?? [], tp);
        transportSocketFactory = f.implementsSecureTransport ? f : null;
      }
      const factories: NetworkFilterFactoryCb[] = fc.filters.map((f, j) => {
        const fp = `${p}.filters[${j}]`;
        const any = f.configType.case === 'typedConfig' ? f.configType.value : undefined;
        const resolved = resolveTypedConfig<NamedNetworkFilterConfigFactory>('envoy.filters.network', { name: f.name, typedConfig: any }, fp, context);
        if (resolved === null) throw new ConfigError(fp, `unknown network filter '${f.name}'`);
        if (resolved.factory.isTerminalFilter && j !== fc.filters.length - 1) {
          throw new ConfigError(fp, `terminal filter named ${f.name} of type ${resolved.factory.name} must be the last filter in a network filter chain.`);
        }
        return withPathPrefix(`${fp}.typed_config`, () => resolved.factory.createFilterFactory(resolved.config, context));
      });
      return {
        name: fc.name,
        match: matchSpec(fc.filterChainMatch),
        filterFactories: factories,
        transportSocketFactory,
        transportSocketConnectTimeoutMs: durationToMs(fc.transportSocketConnectTimeout, 0),
      };
    };
    const chains = listener.filterChains.map((fc, i) => buildChain(fc, at(path, `filter_chains[${i}]`)));
    try {
      checkNoDuplicateMatches(chains, name);
    } catch (e) {
      throw new ConfigError(at(path, 'filter_chains'), (e as Error).message);
    }
    const defaultChain = listener.defaultFilterChain === undefined ? null : buildChain(listener.defaultFilterChain, at(path, 'default_filter_chain'));
    if (chains.length === 0 && defaultChain === null) {
      throw new ConfigError(at(path, 'filter_chains'), `error adding listener '${name}': no filter chains specified`);
    }
    return new ListenerImpl({
      name,
      address: c.address,
      port: c.port,
      ipv4Compat: c.ipv4Compat,
      filterChainManager: new FilterChainManager(chains, defaultChain),
      perConnectionBufferLimitBytes: c.bufferLimit,
      backlog: listener.tcpBacklogSize ?? 511,
      listenerFilters,
      listenerFiltersTimeoutMs: durationToMs(listener.listenerFiltersTimeout, 15000),
      continueOnListenerFiltersTimeout: listener.continueOnListenerFiltersTimeout,
      config: listener,
      addedViaApi: c.addedViaApi,
      versionInfo: c.versionInfo,
      hash: listenerHash(listener),
    }, listenerScope, lifecycle);
  }

  /**
   * Builds every static listener first (all-or-nothing), waits for their init
   * targets (RDS, each bounded by its initial_fetch_timeout), then binds them.
   */
  async addStaticListeners(listeners: ReadonlyArray<Listener>, bind: boolean): Promise<void> {
    const names = new Set<string>();
    const built: ListenerImpl[] = [];
    try {
      listeners.forEach((l, i) => {
        const li = this.buildListener(l, `static_resources.listeners[${i}]`);
        built.push(li);
        if (names.has(li.name)) {
          throw new ConfigError(`static_resources.listeners[${i}].name`, `error adding listener named '${li.name}': a listener with that name already exists`);
        }
        names.add(li.name);
      });
    } catch (e) {
      for (const li of built) li.destroy();
      throw e;
    }
    if (!bind) return;
    await Promise.all(built.map((li) => new Promise<void>((resolve) => li.initManager.initialize(resolve))));
    for (const li of built) {
      try {
        await li.listen();
      } catch (e) {
        for (const b of this.active.values()) b.stopListening();
        throw new Error(`cannot bind listener '${li.name}' to ${li.config.address}:${li.config.port}: ${(e as Error).message}`);
      }
      this.active.set(li.name, li);
      this.stats.listener_create_success.inc();
      log.info(`listener '${li.name}' listening on ${li.boundAddress()}`);
    }
    this.updateGauges();
  }

  /**
   * Adds or replaces a dynamic (LDS) listener. Returns false when nothing
   * changed (the same serialized Listener is already active or warming).
   * Throws ConfigError, naming the field under `path`, for an invalid
   * listener, an address another listener uses, or a static listener's name;
   * what was serving keeps serving.
   */
  addOrUpdateListener(listener: Listener, versionInfo: string, path: string): boolean {
    const name = listenerNameOf(listener);
    try {
      return this.addOrUpdate(listener, name, versionInfo, path);
    } catch (e) {
      if (name !== '') {
        this.errorStates.set(name, { failedConfiguration: listener, lastUpdateAttempt: new Date(), details: (e as Error).message, versionInfo });
      }
      throw e;
    }
  }

  private addOrUpdate(listener: Listener, name: string, versionInfo: string, path: string): boolean {
    validateMessage(listener, path);
    const existingActive = this.active.get(name);
    const existingWarming = this.warming.get(name);
    if (existingActive !== undefined && !existingActive.config.addedViaApi) {
      throw new ConfigError(at(path, 'name'), `listener '${name}' is a static listener (from the bootstrap); LDS cannot add, change or remove it`);
    }
    const hash = listenerHash(listener);
    const latest = existingWarming ?? existingActive;
    if (latest !== undefined && latest.config.hash === hash) return false;
    if (existingWarming !== undefined && existingActive?.config.hash === hash) {
      // Back to the version that is serving: the one warming is dropped.
      this.discardWarming(existingWarming);
      this.stats.listener_modified.inc();
      this.errorStates.delete(name);
      this.updateGauges();
      return true;
    }
    const li = this.buildListener(listener, path, { addedViaApi: true, versionInfo });
    try {
      this.checkAddress(li, path);
    } catch (e) {
      li.destroy();
      throw e;
    }
    this.errorStates.delete(name);
    if (existingActive !== undefined || existingWarming !== undefined) this.stats.listener_modified.inc();
    else this.stats.listener_added.inc();
    if (existingWarming !== undefined) this.discardWarming(existingWarming);
    this.warming.set(name, li);
    this.updateGauges();
    log.info(`lds: ${existingActive !== undefined ? 'updating' : 'adding'} listener '${name}' (version ${versionInfo}); warming`);
    li.initManager.initialize(() => this.onListenerWarmed(li));
    return true;
  }

  /** Two listeners cannot share an address (port 0 always binds a fresh port). */
  private checkAddress(li: ListenerImpl, path: string): void {
    if (li.config.port === 0) return;
    for (const other of [...this.active.values(), ...this.warming.values()]) {
      if (other.name === li.name || !sameAddress(other, li)) continue;
      throw new ConfigError(at(path, 'address'),
        `error adding listener '${li.name}': it has the address ${addressString(li.config.address, li.config.port)} of the existing listener '${other.name}'`);
    }
  }

  /** A warming listener is ready: it replaces the active version (taking its socket when the address is the same) or binds. */
  private onListenerWarmed(li: ListenerImpl): void {
    if (this.warming.get(li.name) !== li) return;
    const old = this.active.get(li.name);
    // Same address: the socket moves over as it is (a changed tcp_backlog_size or ipv4_compat waits for a new address).
    if (old !== undefined && old.isBound && sameAddress(old, li)) {
      li.adoptListenSocket(old);
      this.warming.delete(li.name);
      this.active.set(li.name, li);
      this.stats.listener_create_success.inc();
      log.info(`lds: listener '${li.name}' updated on ${li.boundAddress()}; draining the previous version`);
      this.drainListener(old);
      this.updateGauges();
      return;
    }
    const bind = this.bindWarmed(li, old);
    this.pendingBinds.add(bind);
    void bind.finally(() => this.pendingBinds.delete(bind));
  }

  private async bindWarmed(li: ListenerImpl, old: ListenerImpl | undefined): Promise<void> {
    try {
      await li.listen();
    } catch (e) {
      if (this.warming.get(li.name) !== li) return;
      this.warming.delete(li.name);
      li.destroy();
      this.stats.listener_create_failure.inc();
      const details = `cannot bind listener '${li.name}' to ${addressString(li.config.address, li.config.port)}: ${(e as Error).message}`;
      this.errorStates.set(li.name, { failedConfiguration: li.config.config as Listener, lastUpdateAttempt: new Date(), details, versionInfo: li.config.versionInfo });
      log.error(`lds: ${details}${old !== undefined ? '; the previous version keeps serving' : ''}`);
      this.updateGauges();
      return;
    }
    // Replaced or removed while binding.
    if (this.warming.get(li.name) !== li) { li.stopListening(); return; }
    this.warming.delete(li.name);
    const previous = this.active.get(li.name);
    this.active.set(li.name, li);
    this.stats.listener_create_success.inc();
    log.info(`lds: listener '${li.name}' listening on ${li.boundAddress()}`);
    if (previous !== undefined) this.drainListener(previous);
    this.updateGauges();
  }

  /**
   * Removes a dynamic listener: a warming one is dropped, an active one stops
   * accepting and drains. False when there is no such dynamic listener.
   */
  removeListener(name: string): boolean {
    const active = this.active.get(name);
    const warming = this.warming.get(name);
    if (active === undefined && warming === undefined) return false;
    if (active !== undefined && !active.config.addedViaApi) {
      log.warn(`lds: cannot remove static listener '${name}'`);
      return false;
    }
    if (warming !== undefined) this.discardWarming(warming);
    if (active !== undefined) {
      this.active.delete(name);
      this.drainListener(active);
    }
    this.errorStates.delete(name);
    this.stats.listener_removed.inc();
    log.info(`lds: removed listener '${name}'`);
    this.updateGauges();
    return true;
  }

  private discardWarming(li: ListenerImpl): void {
    this.warming.delete(li.name);
    li.stopListening();
    li.destroy();
  }

  /**
   * Stops `li` accepting (unless its socket went to a newer version), asks its
   * connections to close, and closes what is left after the drain time.
   */
  private drainListener(li: ListenerImpl): void {
    li.stopListening();
    this.draining.add(li);
    li.drainManager.startDrainSequence();
    const finish = (): void => {
      if (!this.draining.delete(li)) return;
      clearTimeout(timer);
      li.closeAllConnections();
      li.destroy();
      this.updateGauges();
    };
    const timer = setTimeout(finish, this.drainTimeMs);
    timer.unref();
    li.whenIdle(finish);
  }

  private updateGauges(): void {
    this.stats.total_listeners_active.set(this.active.size);
    this.stats.total_listeners_warming.set(this.warming.size);
    this.stats.total_listeners_draining.set(this.draining.size);
  }

  /** Resolves once no bind of a warmed listener is in flight. */
  async settled(): Promise<void> {
    while (this.pendingBinds.size > 0) await Promise.allSettled([...this.pendingBinds]);
  }

  /** Static and dynamic listeners for /config_dump (Envoy's ListenersConfigDump). */
  configDump(): ListenersDump {
    const staticListeners: ListenerDumpState[] = [];
    const dynamic = new Map<string, { name: string; activeState?: ListenerDumpState; warmingState?: ListenerDumpState; drainingState?: ListenerDumpState; errorState?: ListenerErrorState }>();
    const entry = (name: string) => {
      let e = dynamic.get(name);
      if (e === undefined) dynamic.set(name, e = { name });
      return e;
    };
    for (const l of this.active.values()) {
      if (l.config.addedViaApi) entry(l.name).activeState = dumpState(l);
      else staticListeners.push(dumpState(l));
    }
    for (const l of this.warming.values()) entry(l.name).warmingState = dumpState(l);
    for (const l of this.draining) if (l.config.addedViaApi) entry(l.name).drainingState = dumpState(l);
    for (const [name, err] of this.errorStates) entry(name).errorState = err;
    return { staticListeners, dynamicListeners: [...dynamic.values()] };
  }

  /** Stops accepting on every listener (shutdown, /drain_listeners); warming ones are dropped. */
  stopListeners(): void {
    for (const l of [...this.warming.values()]) this.discardWarming(l);
    for (const l of this.active.values()) l.stopListening();
    this.updateGauges();
  }

  activeConnections(): number {
    let n = 0;
    for (const l of this.active.values()) n += l.activeConnections;
    for (const l of this.draining) n += l.activeConnections;
    return n;
  }

  closeAllConnections(): void {
    for (const l of this.active.values()) l.closeAllConnections();
    for (const l of this.draining) l.closeAllConnections();
  }
}
