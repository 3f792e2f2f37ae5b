/**
 * One compiled route (Envoy's `RouteEntryImplBase` and its path-specifier
 * subclasses, `source/common/router/config_impl.cc`): the match conditions
 * and exactly one action entry — a `RouteEntryImpl` (forward to a cluster), a
 * `DirectResponseEntryImpl` or a `RedirectEntryImpl`.
 *
 * Matching order on the hot path: path specifier first (cheapest, decides most
 * misses), then runtime_fraction, grpc, headers, query parameters. All
 * conditions are pure, so the order does not change the result. A route whose
 * match has none of the optional conditions costs one `startsWith` per miss
 * and allocates nothing.
 */
import type { HeaderMap } from '../envoy/http/header_map.js';
import type {
  ConnectConfig, DirectResponseEntry, RateLimitPolicy, RedirectEntry, Route, RouteEntry, UpgradeConfig,
} from '../envoy/router/router.js';
import type { StreamInfo } from '../envoy/stream_info/stream_info.js';
import type {
  DirectResponseAction, RedirectAction, Route as RouteProto, RouteAction, RouteAction_RequestMirrorPolicy,
  RouteAction_UpgradeConfig,
} from '../generated/envoy/config/route/v3/route_components_pb.js';
import { asciiLower, equalsIgnoreCase } from '../common/matchers/ascii.js';
import { type HeaderMatcherImpl, compileHeaderMatchers, matchHeaders } from '../common/matchers/header_matcher.js';
import {
  type QueryParameterMatcherImpl, compileQueryParameterMatchers, matchQueryParameters,
} from '../common/matchers/query_parameter_matcher.js';
import { type RegexSubstitution, compileRegexMatchAndSubstitute, compileRegexMatcher } from '../common/matchers/regex.js';
import { type CommonConfigImpl, type PerFilterConfigMap, compilePerFilterConfigs, validateMirrorPolicies } from './common_config.js';
import { at, fail } from './config_error.js';
import { readDataSource } from './data_source.js';
import { durationToMs } from '../config/well_known.js';
import { isGrpcRequestHeaders } from '../common/grpc/common.js';
import { EMPTY_MUTATIONS, HeaderMutationChain, HeaderParser } from './header_parser.js';
import {
  CONNECT_PATH_MATCHER, type PathMatcher, exactPathMatcher, pathEnd, pathSeparatedPrefixMatcher, prefixPathMatcher,
  regexPathMatcher,
} from './path_matcher.js';
import { type RedirectConfig, newUri, sslRedirectUri } from './redirect.js';
import { RetryPolicyImpl } from './retry_policy_impl.js';
import { HashPolicyImpl } from './hash_policy_impl.js';
import { type ShadowPolicyImpl, compileShadowPolicies } from './shadow_policy.js';
import { compileRateLimitPolicy } from './rate_limit_policy_impl.js';
import type { VirtualHostImpl } from './virtual_host_impl.js';
import { type WeightedClusterEntryImpl, WeightedClusters } from './weighted_clusters.js';

/** Route `timeout` when unset (Envoy's DEFAULT_ROUTE_TIMEOUT_MS). */
export const DEFAULT_ROUTE_TIMEOUT_MS = 15000;

const DENOMINATORS = [100, 10_000, 1_000_000] as const;

/** CONNECT, or an HTTP/1 `Upgrade: connect-udp` (Envoy's isConnect || isConnectUdpRequest). */
function isConnectRequest(headers: HeaderMap): boolean {
  if (headers.get(':method') === 'CONNECT') return true;
  const up = headers.get('upgrade');
  return up !== undefined && equalsIgnoreCase(up, 'connect-udp');
}

/** Envoy's Http::Utility::updateAuthority. */
function updateAuthority(headers: HeaderMap, hostname: string, appendXfh: boolean, keepOld: boolean): void {
  const host = headers.get(':authority');
  if (host !== undefined && host.length > 0) {
    if (keepOld) headers.set('x-envoy-original-host', host);
    if (appendXfh) {
      const xfh = headers.get('x-forwarded-host') ?? '';
      // absl::StrSplit(xfh, ',', SkipWhitespace()): pieces that are all whitespace are dropped.
      const pieces = xfh.split(',').filter((p) => p.trim().length > 0);
      if (pieces.length === 0 || pieces[pieces.length - 1] !== host) {
        headers.set('x-forwarded-host', xfh.length > 0 ? `${xfh},${host}` : host);
      }
    }
  }
  headers.set(':authority', hostname);
}

class UpgradeConfigImpl implements UpgradeConfig {
  readonly upgradeType: string;
  readonly enabled: boolean;
  /** `connect_config` (CONNECT termination), raw. */
  readonly connectConfig: RouteAction_UpgradeConfig['connectConfig'];
  constructor(c: RouteAction_UpgradeConfig) {
    this.upgradeType = c.upgradeType;
    this.enabled = c.enabled ?? true;
    this.connectConfig = c.connectConfig;
  }
}

function compileUpgradeConfigs(configs: readonly RouteAction_UpgradeConfig[], path: string): UpgradeConfigImpl[] {
  const seen = new Set<string>();
  return configs.map((c, i) => {
    const key = asciiLower(c.upgradeType);
    if (key.length === 0) fail(`${path}[${i}].upgrade_type`, 'upgrade_type must not be empty');
    if (seen.has(key)) fail(`${path}[${i}]`, `Duplicate upgrade ${c.upgradeType}`);
    seen.add(key);
    if (c.connectConfig !== undefined && key !== 'connect' && key !== 'connect-udp') {
      fail(`${path}[${i}].connect_config`, `Non-CONNECT upgrade type ${c.upgradeType} has ConnectConfig`);
    }
    if (c.connectConfig !== undefined && key === 'connect-udp') {
      fail(`${path}[${i}].connect_config`, 'CONNECT-UDP termination is not supported');
    }
    if (c.connectConfig?.proxyProtocolConfig !== undefined) {
      fail(`${path}[${i}].connect_config.proxy_protocol_config`, 'PROXY protocol headers on terminated CONNECT are not supported');
    }
    return new UpgradeConfigImpl(c);
  });
}

type ClusterSpecifier =
  | { readonly kind: 'cluster'; readonly name: string }
  | { readonly kind: 'header'; readonly header: string }
  | { readonly kind: 'weighted'; readonly weighted: WeightedClusters };

/** A route that forwards to a cluster (`route:` action). */
export class RouteEntryImpl implements RouteEntry {
  readonly clusterNotFoundResponseCode: number;
  readonly timeoutMs: number;
  /** Route `idle_timeout` in ms; 0 when unset (or set to 0). See `idleTimeoutMsOrNull`. */
  readonly idleTimeoutMs: number;
  /** Route `idle_timeout`: null = unset (use the HCM's stream_idle_timeout), 0 = disabled. */
  readonly idleTimeoutMsOrNull: number | null;
  /** `max_stream_duration.max_stream_duration` in ms, or null. */
  readonly maxStreamDurationMs: number | null;
  /** `max_stream_duration.grpc_timeout_header_max` in ms, or null. */
  readonly grpcTimeoutHeaderMaxMs: number | null;
  /** `max_stream_duration.grpc_timeout_header_offset` in ms, or null. */
  readonly grpcTimeoutHeaderOffsetMs: number | null;
  readonly usingNewTimeouts: boolean;
  readonly maxGrpcTimeoutMs: number | null;
  readonly grpcTimeoutOffsetMs: number | null;
  readonly autoHostRewrite: boolean;
  readonly priority: number;
  readonly appendXForwardedHost: boolean;
  /** `host_rewrite_literal` ('' = none). */
  readonly hostRewriteLiteral: string;
  /** Lower-cased `host_rewrite_header` ('' = none). */
  readonly hostRewriteHeader: string;
  readonly retryPolicy: RetryPolicyImpl | null;
  /** `hash_policy` (null when empty). */
  readonly hashPolicy: HashPolicyImpl | null;
  readonly hedgeOnPerTryTimeout: boolean;
  readonly retryShadowBufferLimit: number | null;
  readonly includeAttemptCountInRequest: boolean;
  readonly includeAttemptCountInResponse: boolean;
  readonly upgradeConfigs: readonly UpgradeConfigImpl[];
  readonly connectConfig: ConnectConfig | null;
  /** Effective mirror policies: the route's, else the virtual host's, else the route configuration's. */
  readonly requestMirrorPolicies: readonly RouteAction_RequestMirrorPolicy[];
  /** `requestMirrorPolicies` compiled. */
  readonly shadowPolicies: readonly ShadowPolicyImpl[];
  readonly rateLimitPolicy: RateLimitPolicy;
  readonly includeVirtualHostRateLimits: boolean;
  /** The raw RouteAction (hash_policy, hedge_policy, cors... for later). */
  readonly config: RouteAction;
  /** `prefix_rewrite` ('' = none). */
  readonly prefixRewrite: string;
  private readonly regexRewrite: RegexSubstitution | null;
  private readonly hostRewritePathRegex: RegexSubstitution | null;
  private readonly clusterSpecifier: ClusterSpecifier;
  private readonly mutations: HeaderMutationChain;
  private readonly pathMatcher: PathMatcher;

  constructor(action: RouteAction, pathMatcher: PathMatcher, mutations: HeaderMutationChain,
    vhost: VirtualHostImpl, common: CommonConfigImpl, routeName: string, path: string,
    routePerRequestBufferLimit?: number) {
    this.config = action;
    this.pathMatcher = pathMatcher;
    this.mutations = mutations;

    const spec = action.clusterSpecifier;
    switch (spec.case) {
      case 'cluster':
        if (spec.value.length === 0) fail(`${path}.cluster`, 'cluster name must not be empty');
        this.clusterSpecifier = { kind: 'cluster', name: spec.value };
        common.referencedClusters.add(spec.value);
        break;
      case 'clusterHeader':
        if (spec.value.length === 0) fail(`${path}.cluster_header`, 'cluster_header must not be empty');
        this.clusterSpecifier = { kind: 'header', header: asciiLower(spec.value) };
        break;
      case 'weightedClusters':
        this.clusterSpecifier = { kind: 'weighted', weighted: new WeightedClusters(spec.value, common, `${path}.weighted_clusters`, routeName) };
        break;
      case 'clusterSpecifierPlugin':
      case 'inlineClusterSpecifierPlugin':
        fail(`${path}.${spec.case === 'clusterSpecifierPlugin' ? 'cluster_specifier_plugin' : 'inline_cluster_specifier_plugin'}`,
          'cluster specifier plugins are not supported');
      default:
        fail(path, 'one of cluster, cluster_header or weighted_clusters is required');
    }

    this.clusterNotFoundResponseCode = [503, 404, 500][action.clusterNotFoundResponseCode] ?? 503;
    this.rateLimitPolicy = compileRateLimitPolicy(action.rateLimits, `${path}.rate_limits`);
    this.includeVirtualHostRateLimits = action.includeVhRateLimits ?? false;
    this.timeoutMs = durationToMs(action.timeout, DEFAULT_ROUTE_TIMEOUT_MS);
    this.priority = action.priority === 0 ? 0 : 1; // RoutingPriority DEFAULT / HIGH
    this.idleTimeoutMsOrNull = action.idleTimeout === undefined ? null : durationToMs(action.idleTimeout, 0);
    this.idleTimeoutMs = this.idleTimeoutMsOrNull ?? 0;
    const msd = action.maxStreamDuration;
    this.maxStreamDurationMs = msd?.maxStreamDuration === undefined ? null : durationToMs(msd.maxStreamDuration, 0);
    this.grpcTimeoutHeaderMaxMs = msd?.grpcTimeoutHeaderMax === undefined ? null : durationToMs(msd.grpcTimeoutHeaderMax, 0);
    this.grpcTimeoutHeaderOffsetMs = msd?.grpcTimeoutHeaderOffset === undefined ? null : durationToMs(msd.grpcTimeoutHeaderOffset, 0);
    this.usingNewTimeouts = msd !== undefined;
    this.maxGrpcTimeoutMs = action.maxGrpcTimeout === undefined ? null : durationToMs(action.maxGrpcTimeout, 0);
    this.grpcTimeoutOffsetMs = action.grpcTimeoutOffset === undefined ? null : durationToMs(action.grpcTimeoutOffset, 0);

    const hr = action.hostRewriteSpecifier;
    this.hostRewriteLiteral = hr.case === 'hostRewriteLiteral' ? hr.value : '';
    this.autoHostRewrite = hr.case === 'autoHostRewrite' ? hr.value.value : false;
    this.hostRewriteHeader = hr.case === 'hostRewriteHeader' ? asciiLower(hr.value) : '';
    this.hostRewritePathRegex = hr.case === 'hostRewritePathRegex'
      ? at(`${path}.host_rewrite_path_regex`, () => compileRegexMatchAndSubstitute(hr.value))
      : null;
    this.appendXForwardedHost = action.appendXForwardedHost;

    if (action.pathRewritePolicy !== undefined) fail(`${path}.path_rewrite_policy`, 'path_rewrite_policy extensions are not supported');
    if (action.prefixRewrite.length > 0 && action.regexRewrite !== undefined) {
      fail(path, 'Specify only one of prefix_rewrite, regex_rewrite or path_rewrite_policy');
    }
    this.prefixRewrite = action.prefixRewrite;
    const rr = action.regexRewrite;
    this.regexRewrite = rr === undefined ? null : at(`${path}.regex_rewrite`, () => compileRegexMatchAndSubstitute(rr));

    if (action.retryPolicyTypedConfig !== undefined) fail(`${path}.retry_policy_typed_config`, 'retry policy extensions are not supported');
    if (action.retryPolicy !== undefined) this.retryPolicy = new RetryPolicyImpl(action.retryPolicy, `${path}.retry_policy`);
    else if (vhost.retryPolicyConfig !== undefined) this.retryPolicy = new RetryPolicyImpl(vhost.retryPolicyConfig, `${vhost.path}.retry_policy`);
    else this.retryPolicy = null;
    // hedge_policy and per_request_buffer_limit_bytes: the route's, else the virtual host's.
    this.hedgeOnPerTryTimeout = (action.hedgePolicy ?? vhost.config.hedgePolicy)?.hedgeOnPerTryTimeout ?? false;
    this.retryShadowBufferLimit = routePerRequestBufferLimit ?? vhost.config.perRequestBufferLimitBytes ?? null;
    this.includeAttemptCountInRequest = vhost.includeRequestAttemptCount;
    this.includeAttemptCountInResponse = vhost.includeAttemptCountInResponse;

    this.hashPolicy = action.hashPolicy.length > 0 ? new HashPolicyImpl(action.hashPolicy, `${path}.hash_policy`) : null;

    this.upgradeConfigs = compileUpgradeConfigs(action.upgradeConfigs, `${path}.upgrade_configs`);
    const connect = this.upgradeConfigs.find((u) => asciiLower(u.upgradeType) === 'connect' && u.connectConfig !== undefined);
    this.connectConfig = connect === undefined ? null : { allowPost: connect.connectConfig!.allowPost };

    validateMirrorPolicies(action.requestMirrorPolicies, `${path}.request_mirror_policies`);
    this.requestMirrorPolicies = action.requestMirrorPolicies.length > 0 ? action.requestMirrorPolicies
      : vhost.requestMirrorPolicies.length > 0 ? vhost.requestMirrorPolicies : common.requestMirrorPolicies;
    for (const p of this.requestMirrorPolicies) if (p.cluster.length > 0) common.referencedClusters.add(p.cluster);
    this.shadowPolicies = compileShadowPolicies(this.requestMirrorPolicies,
      action.requestMirrorPolicies.length > 0 ? `${path}.request_mirror_policies`
        : vhost.requestMirrorPolicies.length > 0 ? `${vhost.path}.request_mirror_policies` : 'request_mirror_policies');
  }

  /**
   * The cluster for this request: the static `cluster`; the first value of
   * `cluster_header` (null when absent or empty); or the weighted pick for
   * `random`.
   */
  clusterName(headers: HeaderMap, random: number): string | null {
    const spec = this.clusterSpecifier;
    switch (spec.kind) {
      case 'cluster':
        return spec.name;
      case 'header': {
        const v = headers.get(spec.header);
        return v === undefined || v.length === 0 ? null : v;
      }
      case 'weighted':
        return spec.weighted.pick(headers, random).clusterName(headers);
    }
  }

  /** The weighted-cluster entry picked for `random` (null unless `weighted_clusters`). */
  pickWeightedCluster(headers: HeaderMap, random: number): WeightedClusterEntryImpl | null {
    const spec = this.clusterSpecifier;
    return spec.kind === 'weighted' ? spec.weighted.pick(headers, random) : null;
  }

  /** The weighted clusters (null unless `weighted_clusters`). */
  get weightedClusters(): WeightedClusters | null {
    const spec = this.clusterSpecifier;
    return spec.kind === 'weighted' ? spec.weighted : null;
  }

  /**
   * The header lists (and host_rewrite_literal) of the weighted-cluster entry
   * named `clusterName`; null for other routes or unknown names. Apply BEFORE
   * `finalizeRequestHeaders` / `finalizeResponseHeaders`, as Envoy does.
   */
  clusterHeaderMutations(clusterName: string): WeightedClusterEntryImpl | null {
    const spec = this.clusterSpecifier;
    return spec.kind === 'weighted' ? spec.weighted.entryByName(clusterName) : null;
  }

  /** Route, virtual host and route-configuration request header lists, in Envoy's order. */
  finalizeRequestHeaders(headers: HeaderMap, streamInfo: StreamInfo): void {
    this.mutations.finalizeRequestHeaders(headers, streamInfo);
  }

  /**
   * Route, virtual host and route-configuration response header lists.
   * Pass the request headers so `%REQ(...)%` values can be formatted.
   */
  finalizeResponseHeaders(headers: HeaderMap, streamInfo: StreamInfo, requestHeaders?: HeaderMap | null): void {
    this.mutations.finalizeResponseHeaders(headers, streamInfo, requestHeaders);
  }

  /** Whether an upgrade type is allowed on this route: true/false when configured here, undefined when not. */
  upgradeEnabled(upgradeType: string): boolean | undefined {
    for (const u of this.upgradeConfigs) if (equalsIgnoreCase(u.upgradeType, upgradeType)) return u.enabled;
    return undefined;
  }

  /** The `:path` after prefix_rewrite / regex_rewrite, or null when no rewrite is configured. */
  rewrittenPath(path: string): string | null {
    if (this.prefixRewrite.length > 0) return this.prefixRewrite + path.slice(this.pathMatcher.matchedLength(path));
    if (this.regexRewrite !== null) {
      const e = pathEnd(path);
      return this.regexRewrite.apply(path.slice(0, e)) + path.slice(e);
    }
    return null;
  }

  /**
   * Host rewrite (host_rewrite_literal / host_rewrite_header /
   * host_rewrite_path_regex, with append_x_forwarded_host) then path rewrite
   * (prefix_rewrite / regex_rewrite). With `insertEnvoyOriginalPath` the old
   * values go to `x-envoy-original-host` / `x-envoy-original-path`. Call after
   * `finalizeRequestHeaders`, as Envoy does.
   */
  rewriteRequest(headers: HeaderMap, insertEnvoyOriginalPath: boolean): void {
    let hostname: string | undefined;
    if (this.hostRewriteLiteral.length > 0) {
      hostname = this.hostRewriteLiteral;
    } else if (this.hostRewriteHeader.length > 0) {
      hostname = headers.get(this.hostRewriteHeader);
    } else if (this.hostRewritePathRegex !== null) {
      const p = headers.get(':path') ?? '';
      hostname = this.hostRewritePathRegex.apply(p.slice(0, pathEnd(p)));
    }
    if (hostname !== undefined && hostname.length > 0) {
      updateAuthority(headers, hostname, this.appendXForwardedHost, insertEnvoyOriginalPath);
    }

    if (this.prefixRewrite.length === 0 && this.regexRewrite === null) return;
    const path = headers.get(':path');
    if (path === undefined) return;
    const newPath = this.rewrittenPath(path)!;
    if (insertEnvoyOriginalPath) headers.set('x-envoy-original-path', path);
    headers.set(':path', newPath);
  }
}

/** A route answered locally (`direct_response:` action). */
export class DirectResponseEntryImpl implements DirectResponseEntry {
  readonly status: number;
  readonly body: Buffer | null;
  readonly config: DirectResponseAction;
  private readonly mutations: HeaderMutationChain;

  constructor(action: DirectResponseAction, mutations: HeaderMutationChain, common: CommonConfigImpl, path: string) {
    if (action.status < 200 || action.status > 599) fail(`${path}.status`, `status must be in [200, 599], got ${action.status}`);
    this.config = action;
    this.status = action.status;
    this.mutations = mutations;
    const body = action.body;
    if (body === undefined) {
      this.body = null;
    } else {
      const buf = at(`${path}.body`, () => readDataSource(body, common.options.configDir, common.maxDirectResponseBodySizeBytes));
      this.body = buf.length === 0 ? null : buf;
    }
  }

  /**
   * The Location Envoy's router adds for a 201 or 3xx direct response: the
   * request's own URL (`scheme://host/path`). '' when the request has no path.
   */
  newLocation(headers: HeaderMap): string {
    const path = headers.get(':path');
    return path === undefined ? '' : newUri(null, headers, path);
  }

  finalizeRequestHeaders(headers: HeaderMap, streamInfo: StreamInfo): void {
    this.mutations.finalizeRequestHeaders(headers, streamInfo);
  }

  finalizeResponseHeaders(headers: HeaderMap, streamInfo: StreamInfo, requestHeaders?: HeaderMap | null): void {
    this.mutations.finalizeResponseHeaders(headers, streamInfo, requestHeaders);
  }
}

const REDIRECT_CODES = [301, 302, 303, 307, 308] as const;

/** A route answered with a redirect (`redirect:` action). */
export class RedirectEntryImpl implements RedirectEntry {
  readonly responseCode: number;
  readonly redirectConfig: RedirectConfig;
  readonly config: RedirectAction;
  private readonly prefixRewrite: string;
  private readonly regexRewrite: RegexSubstitution | null;
  private readonly mutations: HeaderMutationChain;
  private readonly pathMatcher: PathMatcher;

  constructor(action: RedirectAction, pathMatcher: PathMatcher, mutations: HeaderMutationChain, path: string) {
    this.config = action;
    this.pathMatcher = pathMatcher;
    this.mutations = mutations;
    const code = REDIRECT_CODES[action.responseCode];
    if (code === undefined) fail(`${path}.response_code`, `unknown redirect response code ${action.responseCode}`);
    this.responseCode = code;
    if (action.portRedirect > 65535) fail(`${path}.port_redirect`, `port_redirect must be at most 65535, got ${action.portRedirect}`);
    const scheme = action.schemeRewriteSpecifier;
    const pr = action.pathRewriteSpecifier;
    const pathRedirect = pr.case === 'pathRedirect' ? pr.value : '';
    this.prefixRewrite = pr.case === 'prefixRewrite' ? pr.value : '';
    this.regexRewrite = pr.case === 'regexRewrite' ? at(`${path}.regex_rewrite`, () => compileRegexMatchAndSubstitute(pr.value)) : null;
    this.redirectConfig = {
      schemeRedirect: scheme.case === 'schemeRedirect' ? scheme.value : '',
      httpsRedirect: scheme.case === 'httpsRedirect' ? scheme.value : false,
      hostRedirect: action.hostRedirect,
      portRedirect: action.portRedirect > 0 ? `:${action.portRedirect}` : '',
      pathRedirect,
      pathRedirectHasQuery: pathRedirect.includes('?'),
      stripQuery: action.stripQuery,
    };
  }

  /** The request path after the redirect's prefix_rewrite / regex_rewrite (query kept). */
  rewrittenPath(path: string): string {
    if (this.prefixRewrite.length > 0) return this.prefixRewrite + path.slice(this.pathMatcher.matchedLength(path));
    if (this.regexRewrite !== null) {
      const e = pathEnd(path);
      return this.regexRewrite.apply(path.slice(0, e)) + path.slice(e);
    }
    return path;
  }

  /**
   * The Location for this request ('' when it has no `:path`; the router then
   * sends no Location, as Envoy). Unlike Envoy, the request's `:path` is not
   * rewritten in place.
   */
  newLocation(headers: HeaderMap): string {
    const path = headers.get(':path');
    if (path === undefined) return '';
    return newUri(this.redirectConfig, headers, this.rewrittenPath(path));
  }

  finalizeRequestHeaders(headers: HeaderMap, streamInfo: StreamInfo): void {
    this.mutations.finalizeRequestHeaders(headers, streamInfo);
  }

  finalizeResponseHeaders(headers: HeaderMap, streamInfo: StreamInfo, requestHeaders?: HeaderMap | null): void {
    this.mutations.finalizeResponseHeaders(headers, streamInfo, requestHeaders);
  }
}

/** The `require_tls` redirect of a virtual host: 301 to `https://` + host + path. */
export class SslRedirectEntryImpl implements RedirectEntry {
  readonly responseCode = 301;
  newLocation(headers: HeaderMap): string {
    return headers.get(':path') === undefined ? '' : sslRedirectUri(headers);
  }
  finalizeRequestHeaders(): void {}
  finalizeResponseHeaders(): void {}
}

/** One configured route. */
export class RouteImpl implements Route {
  readonly name: string;
  readonly virtualHost: VirtualHostImpl;
  readonly routeEntry: RouteEntryImpl | null;
  readonly directResponse: DirectResponseEntryImpl | null;
  readonly redirect: RedirectEntryImpl | null;
  readonly pathMatcher: PathMatcher;
  readonly perFilterConfigMap: PerFilterConfigMap;
  /** The raw Route (metadata, decorator, tracing... for later). */
  readonly config: RouteProto;
  /** Proto path of this route in the route configuration, e.g. `virtual_hosts[0].routes[3]`. */
  readonly path: string;
  private readonly connect: boolean;
  /** -1 when there is no runtime_fraction. */
  private readonly runtimeNumerator: number;
  private readonly runtimeDenominator: number;
  private readonly grpc: boolean;
  private readonly headerMatchers: readonly HeaderMatcherImpl[] | null;
  private readonly queryMatchers: readonly QueryParameterMatcherImpl[] | null;
  private readonly common: CommonConfigImpl;

  constructor(config: RouteProto, vhost: VirtualHostImpl, common: CommonConfigImpl, path: string) {
    this.name = config.name;
    this.virtualHost = vhost;
    this.config = config;
    this.path = path;
    this.common = common;

    const match = config.match;
    const mpath = `${path}.match`;
    if (match === undefined) fail(mpath, 'match is required');
    const ignoreCase = !(match.caseSensitive ?? true);
    const ps = match.pathSpecifier;
    switch (ps.case) {
      case 'prefix':
        this.pathMatcher = prefixPathMatcher(ps.value, ignoreCase);
        break;
      case 'path':
        this.pathMatcher = exactPathMatcher(ps.value, ignoreCase);
        break;
      case 'safeRegex':
        this.pathMatcher = regexPathMatcher(at(`${mpath}.safe_regex`, () => compileRegexMatcher(ps.value)));
        break;
      case 'pathSeparatedPrefix':
        if (!/^[^?#]+[^?#/]$/.test(ps.value)) {
          fail(`${mpath}.path_separated_prefix`, `'${ps.value}' must have at least 2 characters, no '?' or '#', and not end with '/'`);
        }
        this.pathMatcher = pathSeparatedPrefixMatcher(ps.value, ignoreCase);
        break;
      case 'connectMatcher':
        this.pathMatcher = CONNECT_PATH_MATCHER;
        break;
      case 'pathMatchPolicy':
        fail(`${mpath}.path_match_policy`, 'path_match_policy extensions are not supported');
      default:
        fail(mpath, 'one of prefix, path, safe_regex, path_separated_prefix or connect_matcher is required');
    }
    this.connect = ps.case === 'connectMatcher';

    const rf = match.runtimeFraction;
    if (rf !== undefined) {
      if (rf.defaultValue === undefined) fail(`${mpath}.runtime_fraction.default_value`, 'default_value is required');
      this.runtimeNumerator = rf.defaultValue.numerator;
      this.runtimeDenominator = DENOMINATORS[rf.defaultValue.denominator] ?? 100;
    } else {
      this.runtimeNumerator = -1;
      this.runtimeDenominator = 1;
    }
    this.grpc = match.grpc !== undefined;
    this.headerMatchers = at(mpath, () => compileHeaderMatchers(match.headers, 'headers'));
    this.queryMatchers = at(mpath, () => compileQueryParameterMatchers(match.queryParameters, 'query_parameters'));
    if (match.tlsContext !== undefined) fail(`${mpath}.tls_context`, 'tls_context matching is not supported');
    if (match.dynamicMetadata.length > 0) fail(`${mpath}.dynamic_metadata`, 'dynamic_metadata matching is not supported');

    const ff = common.options.formatterFactory;
    const reqParser = HeaderParser.configure(config.requestHeadersToAdd, config.requestHeadersToRemove, ff,
      `${path}.request_headers_to_add`, `${path}.request_headers_to_remove`);
    const respParser = HeaderParser.configure(config.responseHeadersToAdd, config.responseHeadersToRemove, ff,
      `${path}.response_headers_to_add`, `${path}.response_headers_to_remove`);
    const req = [reqParser, vhost.requestHeaderParser, common.requestHeaderParser];
    const resp = [respParser, vhost.responseHeaderParser, common.responseHeaderParser];
    const mutations = req.every((p) => p === null) && resp.every((p) => p === null)
      ? EMPTY_MUTATIONS
      : new HeaderMutationChain(req, resp, common.mostSpecificHeaderMutationsWins);

    this.perFilterConfigMap = compilePerFilterConfigs(config.typedPerFilterConfig, common.options, `${path}.typed_per_filter_config`);

    let routeEntry: RouteEntryImpl | null = null;
    let directResponse: DirectResponseEntryImpl | null = null;
    let redirect: RedirectEntryImpl | null = null;
    const action = config.action;
    switch (action.case) {
      case 'route':
        routeEntry = new RouteEntryImpl(action.value, this.pathMatcher, mutations, vhost, common, config.name, `${path}.route`,
          config.perRequestBufferLimitBytes);
        break;
      case 'redirect':
        redirect = new RedirectEntryImpl(action.value, this.pathMatcher, mutations, `${path}.redirect`);
        break;
      case 'directResponse':
        directResponse = new DirectResponseEntryImpl(action.value, mutations, common, `${path}.direct_response`);
        break;
      case 'filterAction':
        fail(`${path}.filter_action`, 'filter_action routes are not supported');
      case 'nonForwardingAction':
        fail(`${path}.non_forwarding_action`, 'non_forwarding_action routes are not supported');
      default:
        fail(path, 'one of route, redirect or direct_response is required');
    }
    if (routeEntry === null) {
      // Mirror policies inherited from the virtual host / route configuration are
      // validated for every route, as Envoy does.
      const mirrors = vhost.requestMirrorPolicies.length > 0 ? vhost.requestMirrorPolicies : common.requestMirrorPolicies;
      for (const p of mirrors) if (p.cluster.length > 0) common.referencedClusters.add(p.cluster);
    }
    this.routeEntry = routeEntry;
    this.directResponse = directResponse;
    this.redirect = redirect;
  }

  /**
   * Whether this route matches. `path` is `:path` (undefined when absent);
   * `matchPath` is the same with path parameters cut off when the table has
   * `ignore_path_parameters_in_path_matching`.
   */
  matches(headers: HeaderMap, path: string | undefined, matchPath: string | undefined, random: number): boolean {
    if (this.connect) {
      if (!isConnectRequest(headers)) return false;
    } else if (matchPath === undefined || !this.pathMatcher.match(matchPath)) {
      return false;
    }
    if (this.runtimeNumerator >= 0 && random % this.runtimeDenominator >= this.runtimeNumerator) return false;
    if (this.grpc && !isGrpcRequestHeaders(headers)) return false;
    if (this.headerMatchers !== null && !matchHeaders(headers, this.headerMatchers)) return false;
    if (this.queryMatchers !== null && !matchQueryParameters(path ?? '', this.queryMatchers)) return false;
    return true;
  }

  /** The most specific `typed_per_filter_config` for `filterName`: route, else virtual host, else route configuration. */
  perFilterConfig(filterName: string): unknown {
    return this.perFilterConfigMap.get(filterName)
      ?? this.virtualHost.perFilterConfigMap.get(filterName)
      ?? this.common.perFilterConfigs.get(filterName);
  }

  /** Every level's config for `filterName`, least specific first (for filters that merge them). */
  perFilterConfigs(filterName: string): unknown[] {
    const out: unknown[] = [];
    for (const m of [this.common.perFilterConfigs, this.virtualHost.perFilterConfigMap, this.perFilterConfigMap]) {
      const v = m.get(filterName);
      if (v !== undefined) out.push(v);
    }
    return out;
  }
}

/** The route a `require_tls` virtual host answers non-TLS requests with. */
export class SslRedirectRouteImpl implements Route {
  readonly name = '';
  readonly routeEntry = null;
  readonly directResponse = null;
  readonly redirect = new SslRedirectEntryImpl();
  constructor(readonly virtualHost: VirtualHostImpl, private readonly common: CommonConfigImpl) {}
  perFilterConfig(filterName: string): unknown {
    return this.virtualHost.perFilterConfigMap.get(filterName) ?? this.common.perFilterConfigs.get(filterName);
  }
}
