/**
 * Extension factories, after Envoy's `envoy/config/typed_config.h` and
 * `envoy/registry/registry.h`. Every extension registers one factory under
 * its category, its canonical name (e.g. `envoy.filters.http.router`) and the
 * proto types of its config (e.g. `envoy.extensions.filters.http.router.v3.Router`).
 * Config is looked up by the `typed_config` type URL first, then by name.
 */
import type { Message } from '@bufbuild/protobuf';
import type { FilterFactoryCb } from '../http/filter.js';
import type { NetworkFilterFactoryCb } from '../network/filter.js';
import type { AccessLogFilter, AccessLogInstance } from '../access_log/access_log.js';
import type { FactoryContext } from '../server/factory_context.js';

export type FactoryCategory =
  | 'envoy.filters.http'
  | 'envoy.filters.network'
  | 'envoy.filters.listener'
  | 'envoy.access_loggers'
  | 'envoy.clusters'
  | 'envoy.load_balancing_policies'
  | 'envoy.network.dns_resolver'
  | 'envoy.transport_sockets.downstream'
  | 'envoy.transport_sockets.upstream';

export interface TypedFactory {
  readonly category: FactoryCategory;
  /** Canonical Envoy name. */
  readonly name: string;
  /** Fully-qualified proto names of the config messages this factory takes. */
  readonly configTypes: ReadonlyArray<string>;
  /** Older names that still resolve to this factory, with a deprecation warning. */
  readonly legacyNames?: ReadonlyArray<string>;
}

export interface NamedHttpFilterConfigFactory extends TypedFactory {
  readonly category: 'envoy.filters.http';
  /** True for filters that must be last (the router). */
  readonly isTerminalFilter?: boolean;
  /**
   * Validates `config` once and returns the per-stream installer. Throws a
   * ConfigError on invalid config (startup error, or NACK over xDS).
   */
  createFilterFactory(config: Message, statPrefix: string, context: FactoryContext): FilterFactoryCb;
  /** Compiles a `typed_per_filter_config` entry for this filter. */
  createRouteSpecificFilterConfig?(config: Message, context: FactoryContext): unknown;
}

export interface NamedNetworkFilterConfigFactory extends TypedFactory {
  readonly category: 'envoy.filters.network';
  readonly isTerminalFilter?: boolean;
  createFilterFactory(config: Message, context: FactoryContext): NetworkFilterFactoryCb;
}

export interface AccessLogInstanceFactory extends TypedFactory {
  readonly category: 'envoy.access_loggers';
  /** `filter` is the entry's compiled AccessLog.filter (null: log everything). */
  createAccessLogInstance(config: Message, context: FactoryContext, filter: AccessLogFilter | null): AccessLogInstance;
}

/** What a transport socket factory gets to build itself (Envoy's TransportSocketFactoryContext). */
export interface TransportSocketFactoryContext {
  /** The listener's (`listener.<addr>.`) or cluster's (`cluster.<name>.`) scope; ssl stats go under `ssl.`. */
  readonly scope: import('../stats/stats.js').Scope;
  /** Where relative file names are resolved from. */
  readonly configDir: string;
  readonly secretManager: import('../secret/secret_manager.js').SecretManager;
  warn(path: string, message: string): void;
}

export interface DownstreamTransportSocketConfigFactory extends TypedFactory {
  readonly category: 'envoy.transport_sockets.downstream';
  /** `serverNames` are the chain's filter_chain_match.server_names; `path` the transport_socket field path. */
  createTransportSocketFactory(
    config: Message, context: TransportSocketFactoryContext, serverNames: ReadonlyArray<string>, path: string,
  ): import('../network/transport_socket.js').DownstreamTransportSocketFactory;
}

export interface UpstreamTransportSocketConfigFactory extends TypedFactory {
  readonly category: 'envoy.transport_sockets.upstream';
  createTransportSocketFactory(
    config: Message, context: TransportSocketFactoryContext, path: string,
  ): import('../network/transport_socket.js').UpstreamTransportSocketFactory;
}

export interface NamedListenerFilterConfigFactory extends TypedFactory {
  readonly category: 'envoy.filters.listener';
  /** Validates `config` once and returns what makes one filter per accepted socket. */
  createListenerFilterFactory(config: Message, context: FactoryContext): import('../network/listener_filter.js').ListenerFilterFactoryCb;
}
