/**
 * ListenerManagerImpl: builds listeners from Listener config, binds them and
 * drains them, after Envoy's `source/common/listener_manager/`. Static
 * listeners come from the bootstrap; LDS will add and replace them later.
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
import { ConfigError, withPathPrefix } from '../config/config_error.js';
import { resolveTypedConfig } from '../config/registry.js';
import { durationToMs } from '../config/well_known.js';
import { getLogger } from '../common/logger.js';
import { FilterChainManager, checkNoDuplicateMatches, type CidrRange, type FilterChain } from './filter_chain_manager.js';
import { ListenerImpl } from './listener_impl.js';
import { listenerStatPrefix } from '../stats/listener_stats.js';

const log = getLogger('config');

/** What the manager needs to build each listener's factory context. */
export type ListenerContextFactory = (listener: ListenerFactoryInfo, listenerScope: Scope) => FactoryContext;

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
  readonly listeners: ListenerImpl[] = [];

  constructor(private readonly rootScope: Scope, private readonly contextFactory: ListenerContextFactory) {}

  /** Compiles a listener (filter chains, filters) without binding it. Throws ConfigError. */
  buildListener(listener: Listener, path: string): ListenerImpl {
    const addr = listener.address?.address;
    if (addr === undefined || addr.case !== 'socketAddress') {
      throw new ConfigError(`${path}.address`, addr?.case === 'pipe' ? 'pipe (unix socket) listeners are not supported yet' : 'listener address.socket_address is required');
    }
    const sa = addr.value;
    if (sa.portSpecifier.case !== 'portValue') {
      throw new ConfigError(`${path}.address.socket_address`, 'socket_address.port_value is required (named ports are not supported)');
    }
    const name = listener.name !== '' ? listener.name : `${sa.address}_${sa.portSpecifier.value}`;
    const bufferLimit = listener.perConnectionBufferLimitBytes ?? 1024 * 1024;
    const listenerScope = this.rootScope.createScope(listenerStatPrefix(sa.address, sa.portSpecifier.value, listener.statPrefix));
    const info: ListenerFactoryInfo = { name, perConnectionBufferLimitBytes: bufferLimit };
    const context = this.contextFactory(info, listenerScope);

    const listenerFilters: ListenerFilterFactoryCb[] = [];
    for (const [i, lf] of listener.listenerFilters.entries()) {
      const lp = `${path}.listener_filters[${i}]`;
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
    const chains = listener.filterChains.map((fc, i) => buildChain(fc, `${path}.filter_chains[${i}]`));
    checkNoDuplicateMatches(chains, name);
    const defaultChain = listener.defaultFilterChain === undefined ? null : buildChain(listener.defaultFilterChain, `${path}.default_filter_chain`);
    if (chains.length === 0 && defaultChain === null) {
      throw new ConfigError(`${path}.filter_chains`, `error adding listener '${name}': no filter chains specified`);
    }
    return new ListenerImpl({
      name,
      address: sa.address,
      port: sa.portSpecifier.value,
      ipv4Compat: sa.ipv4Compat,
      filterChainManager: new FilterChainManager(chains, defaultChain),
      perConnectionBufferLimitBytes: bufferLimit,
      backlog: listener.tcpBacklogSize ?? 511,
      listenerFilters,
      listenerFiltersTimeoutMs: durationToMs(listener.listenerFiltersTimeout, 15000),
      continueOnListenerFiltersTimeout: listener.continueOnListenerFiltersTimeout,
      config: listener,
    }, listenerScope);
  }

  /** Builds every static listener first (all-or-nothing), then binds them. */
  async addStaticListeners(listeners: ReadonlyArray<Listener>, bind: boolean): Promise<void> {
    const names = new Set<string>();
    const built = listeners.map((l, i) => {
      const li = this.buildListener(l, `static_resources.listeners[${i}]`);
      if (names.has(li.name)) {
        throw new ConfigError(`static_resources.listeners[${i}].name`, `error adding listener named '${li.name}': a listener with that name already exists`);
      }
      names.add(li.name);
      return li;
    });
    if (!bind) return;
    for (const li of built) {
      try {
        await li.listen();
      } catch (e) {
        for (const b of this.listeners) b.stopListening();
        throw new Error(`cannot bind listener '${li.name}' to ${li.config.address}:${li.config.port}: ${(e as Error).message}`);
      }
      this.listeners.push(li);
      log.info(`listener '${li.name}' listening on ${li.boundAddress()}`);
    }
  }

  stopListeners(): void {
    for (const l of this.listeners) l.stopListening();
  }

  activeConnections(): number {
    return this.listeners.reduce((a, l) => a + l.activeConnections, 0);
  }

  closeAllConnections(): void {
    for (const l of this.listeners) l.closeAllConnections();
  }
}

