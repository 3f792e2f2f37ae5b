/**
 * Compiling an Envoy v3 `RouteConfiguration` into a `RouteTable`, after
 * Envoy's `ConfigImpl` / `RouteMatcher` (`source/common/router/config_impl.cc`).
 * The table is built once (at load or on an RDS update) and is immutable; a
 * request only walks it:
 *
 *   route(headers, streamInfo, random)
 *     -> virtual host by `:authority` (see findVirtualHost)
 *     -> that host's routes in order; the first whose path specifier,
 *        runtime_fraction, grpc, headers and query_parameters all match
 *     -> Route { routeEntry | directResponse | redirect }
 *
 * Every config problem throws a `RouteConfigError` whose `path` names the
 * field (`virtual_hosts[1].routes[0].match.safe_regex.regex`); nothing is
 * half-built.
 */
import type { HeaderMap } from '../envoy/http/header_map.js';
import type { Route, RouteTable } from '../envoy/router/router.js';
import type { StreamInfo } from '../envoy/stream_info/stream_info.js';
import type { RouteConfiguration } from '../generated/envoy/config/route/v3/route_pb.js';
import { asciiLower } from '../common/matchers/ascii.js';
import { CommonConfigImpl, type RouteTableOptions } from './common_config.js';
import { at, fail } from './config_error.js';
import { getPortStart, normalizeHost, portOfAddress } from './host_utility.js';
import { VirtualHostImpl } from './virtual_host_impl.js';

export type { RouteTableOptions } from './common_config.js';
export { RouteConfigError } from './config_error.js';

/**
 * Wildcard domains of one length. Few entries are compared with
 * endsWith/startsWith (no allocation); many go through a map lookup.
 */
interface WildcardGroup {
  readonly length: number;
  readonly list: ReadonlyArray<readonly [string, VirtualHostImpl]>;
  readonly map: ReadonlyMap<string, VirtualHostImpl>;
}

const LINEAR_SCAN_MAX = 8;

function buildGroups(byLength: Map<number, Map<string, VirtualHostImpl>>): WildcardGroup[] {
  return [...byLength.entries()]
    .sort((a, b) => b[0] - a[0]) // longest wildcard first
    .map(([length, map]) => ({ length, list: [...map.entries()], map }));
}

function findSuffix(host: string, groups: readonly WildcardGroup[]): VirtualHostImpl | null {
  const n = host.length;
  for (let g = 0; g < groups.length; g++) {
    const group = groups[g]!;
    // `>=` because `*.foo.com` must not match `.foo.com`: a wildcard never matches the empty string.
    if (group.length >= n) continue;
    if (group.list.length <= LINEAR_SCAN_MAX) {
      const list = group.list;
      for (let i = 0; i < list.length; i++) if (host.endsWith(list[i]![0])) return list[i]![1];
    } else {
      const vh = group.map.get(host.slice(n - group.length));
      if (vh !== undefined) return vh;
    }
  }
  return null;
}

function findPrefix(host: string, groups: readonly WildcardGroup[]): VirtualHostImpl | null {
  const n = host.length;
  for (let g = 0; g < groups.length; g++) {
    const group = groups[g]!;
    if (group.length >= n) continue;
    if (group.list.length <= LINEAR_SCAN_MAX) {
      const list = group.list;
      for (let i = 0; i < list.length; i++) if (host.startsWith(list[i]![0])) return list[i]![1];
    } else {
      const vh = group.map.get(host.slice(0, group.length));
      if (vh !== undefined) return vh;
    }
  }
  return null;
}

export class RouteTableImpl implements RouteTable {
  readonly name: string;
  readonly virtualHosts: readonly VirtualHostImpl[];
  /** Lower-cased `internal_only_headers`. */
  readonly internalOnlyHeaders: readonly string[];
  readonly common: CommonConfigImpl;
  private readonly exact: ReadonlyMap<string, VirtualHostImpl>;
  private readonly suffixes: readonly WildcardGroup[];
  private readonly prefixes: readonly WildcardGroup[];
  private readonly defaultVhost: VirtualHostImpl | null;
  private readonly onlyDefault: boolean;
  private readonly normalize: boolean;
  private readonly stripMatchingPort: boolean;
  private readonly ignorePort: boolean;
  private readonly options: RouteTableOptions;

  constructor(config: RouteConfiguration, options: RouteTableOptions) {
    if (config.vhds !== undefined) fail('vhds', 'VHDS (on-demand virtual hosts) is not supported');
    if (config.clusterSpecifierPlugins.length > 0) fail('cluster_specifier_plugins', 'cluster specifier plugins are not supported');
    this.name = config.name;
    this.options = options;
    const common = new CommonConfigImpl(config, options);
    this.common = common;
    this.internalOnlyHeaders = common.internalOnlyHeaders;

    const exact = new Map<string, VirtualHostImpl>();
    const suffixes = new Map<number, Map<string, VirtualHostImpl>>();
    const prefixes = new Map<number, Map<string, VirtualHostImpl>>();
    let defaultVhost: VirtualHostImpl | null = null;
    const vhosts: VirtualHostImpl[] = [];
    config.virtualHosts.forEach((vc, i) => {
      const path = `virtual_hosts[${i}]`;
      const vh = new VirtualHostImpl(vc, common, path);
      vhosts.push(vh);
      vc.domains.forEach((d, j) => {
        const domain = asciiLower(d);
        let duplicate = false;
        if (domain === '*') {
          if (defaultVhost !== null) fail(`${path}.domains[${j}]`, `Only a single wildcard domain is permitted in route ${config.name}`);
          defaultVhost = vh;
        } else if (domain.length > 0 && domain[0] === '*') {
          const key = domain.slice(1);
          let m = suffixes.get(key.length);
          if (m === undefined) suffixes.set(key.length, m = new Map());
          duplicate = m.has(key);
          if (!duplicate) m.set(key, vh);
        } else if (domain.length > 0 && domain[domain.length - 1] === '*') {
          const key = domain.slice(0, -1);
          let m = prefixes.get(key.length);
          if (m === undefined) prefixes.set(key.length, m = new Map());
          duplicate = m.has(key);
          if (!duplicate) m.set(key, vh);
        } else {
          duplicate = exact.has(domain);
          if (!duplicate) exact.set(domain, vh);
        }
        if (duplicate) {
          fail(`${path}.domains[${j}]`,
            `Only unique values for domains are permitted. Duplicate entry of domain ${domain} in route ${config.name}`);
        }
      });
    });
    this.virtualHosts = vhosts;
    this.exact = exact;
    this.suffixes = buildGroups(suffixes);
    this.prefixes = buildGroups(prefixes);
    this.defaultVhost = defaultVhost;
    this.onlyDefault = exact.size === 0 && suffixes.size === 0 && prefixes.size === 0;
    this.normalize = !!(options.stripTrailingHostDot || options.stripAnyHostPort || options.stripMatchingHostPort);
    this.stripMatchingPort = !options.stripAnyHostPort && !!options.stripMatchingHostPort;
    this.ignorePort = common.ignorePortInHostMatching;

    const validate = config.validateClusters ?? options.validateClustersDefault ?? true;
    if (validate && options.validateClusters !== undefined) {
      const check = options.validateClusters;
      at('', () => check(common.referencedClusters));
    }
  }

  /**
   * The virtual host for a request, as Envoy's RouteMatcher::findVirtualHost:
   * the `:authority` value (normalised as the HCM options say; port dropped
   * for `ignore_port_in_host_matching`), ASCII lower-cased, is looked up as
   *  1. an exact domain (`www.foo.com`, `foo.com:8080`);
   *  2. the longest suffix wildcard (`*.foo.com`, `*-bar.foo.com`);
   *  3. the longest prefix wildcard (`foo.*`, `foo-*`);
   *  4. `*`.
   * A wildcard must match at least one character. Null when nothing matches,
   * or when there is no `:authority` and there are other domains than `*`.
   */
  findVirtualHost(headers: HeaderMap, streamInfo: StreamInfo | null): VirtualHostImpl | null {
    if (this.onlyDefault) return this.defaultVhost;
    let host = headers.get(':authority');
    if (host === undefined) return null;
    if (this.normalize) {
      const listenerPort = this.stripMatchingPort && streamInfo !== null ? portOfAddress(streamInfo.downstreamLocalAddress) : null;
      host = normalizeHost(host, this.options, listenerPort);
    }
    if (this.ignorePort) {
      const p = getPortStart(host);
      if (p !== -1) host = host.slice(0, p);
    }
    host = asciiLower(host);
    const vh = this.exact.get(host);
    if (vh !== undefined) return vh;
    if (this.suffixes.length > 0) {
      const s = findSuffix(host, this.suffixes);
      if (s !== null) return s;
    }
    if (this.prefixes.length > 0) {
      const p = findPrefix(host, this.prefixes);
      if (p !== null) return p;
    }
    return this.defaultVhost;
  }

  route(headers: HeaderMap, streamInfo: StreamInfo, random: number): Route | null {
    const vh = this.findVirtualHost(headers, streamInfo);
    return vh === null ? null : vh.route(headers, random);
  }

  referencedClusters(): ReadonlySet<string> {
    return this.common.referencedClusters;
  }
}

/**
 * Compiles `config` once. Throws `RouteConfigError` (with the field path) on
 * any invalid or unsupported setting, and whatever `options.validateClusters`
 * throws for unknown clusters.
 */
export function compileRouteTable(config: RouteConfiguration, options: RouteTableOptions): RouteTableImpl {
  return new RouteTableImpl(config, options);
}
