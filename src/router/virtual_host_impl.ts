/**
 * One virtual host (Envoy's `VirtualHostImpl` / `CommonVirtualHostImpl`): its
 * routes in order (first match wins), its header lists, retry policy and
 * per-filter configs, and `require_tls`.
 *
 * `require_tls`: with ALL, a request whose `x-forwarded-proto` is not `https`
 * gets the 301-to-https route; with EXTERNAL_ONLY the same unless
 * `x-envoy-internal: true`. (Envoy also returns no route at all when
 * `x-forwarded-proto` is missing; the HCM always sets it there. Here that
 * check is made only for `require_tls` virtual hosts.)
 */
import type { HeaderMap } from '../envoy/http/header_map.js';
import type { RateLimitPolicy, Route, VirtualHost } from '../envoy/router/router.js';
import type {
  RateLimit, RetryPolicy as RetryPolicyProto, RouteAction_RequestMirrorPolicy, VirtualHost as VirtualHostProto,
} from '../generated/envoy/config/route/v3/route_components_pb.js';
import { type CommonConfigImpl, type PerFilterConfigMap, compilePerFilterConfigs, validateMirrorPolicies } from './common_config.js';
import { fail } from './config_error.js';
import { HeaderParser } from './header_parser.js';
import { RouteImpl, SslRedirectRouteImpl } from './route_entry_impl.js';
import { PrefixRun, buildRouteIndex } from './route_index.js';
import { compileRateLimitPolicy } from './rate_limit_policy_impl.js';

const enum TlsRequirement { None = 0, ExternalOnly = 1, All = 2 }

export class VirtualHostImpl implements VirtualHost {
  readonly name: string;
  readonly domains: readonly string[];
  readonly routes: readonly RouteImpl[];
  readonly requestHeaderParser: HeaderParser | null;
  readonly responseHeaderParser: HeaderParser | null;
  readonly perFilterConfigMap: PerFilterConfigMap;
  /** The raw virtual-host retry policy; routes without their own compile it. */
  readonly retryPolicyConfig: RetryPolicyProto | undefined;
  readonly requestMirrorPolicies: readonly RouteAction_RequestMirrorPolicy[];
  readonly rateLimits: readonly RateLimit[];
  readonly rateLimitPolicy: RateLimitPolicy;
  readonly includeRequestAttemptCount: boolean;
  readonly includeAttemptCountInResponse: boolean;
  /** The raw VirtualHost (cors, virtual_clusters, hedge_policy, metadata... for later). */
  readonly config: VirtualHostProto;
  /** Proto path of this virtual host, e.g. `virtual_hosts[2]`. */
  readonly path: string;
  private readonly requireTls: TlsRequirement;
  private readonly sslRedirectRoute: SslRedirectRouteImpl;
  private readonly ignorePathParameters: boolean;
  /** Indexed scan plan (see route_index.ts), or null for a plain linear scan. */
  private readonly plan: ReadonlyArray<PrefixRun | RouteImpl> | null;

  constructor(config: VirtualHostProto, common: CommonConfigImpl, path: string) {
    this.name = config.name;
    this.config = config;
    this.path = path;
    this.domains = config.domains;
    if (config.domains.length === 0) fail(`${path}.domains`, `virtual host '${config.name}' must have at least one domain`);
    const ff = common.options.formatterFactory;
    this.requestHeaderParser = HeaderParser.configure(config.requestHeadersToAdd, config.requestHeadersToRemove, ff,
      `${path}.request_headers_to_add`, `${path}.request_headers_to_remove`);
    this.responseHeaderParser = HeaderParser.configure(config.responseHeadersToAdd, config.responseHeadersToRemove, ff,
      `${path}.response_headers_to_add`, `${path}.response_headers_to_remove`);
    this.perFilterConfigMap = compilePerFilterConfigs(config.typedPerFilterConfig, common.options, `${path}.typed_per_filter_config`);
    if (config.retryPolicyTypedConfig !== undefined) fail(`${path}.retry_policy_typed_config`, 'retry policy extensions are not supported');
    this.retryPolicyConfig = config.retryPolicy;
    validateMirrorPolicies(config.requestMirrorPolicies, `${path}.request_mirror_policies`);
    this.requestMirrorPolicies = config.requestMirrorPolicies;
    this.rateLimits = config.rateLimits;
    this.rateLimitPolicy = compileRateLimitPolicy(config.rateLimits, `${path}.rate_limits`);
    this.includeRequestAttemptCount = config.includeRequestAttemptCount;
    this.includeAttemptCountInResponse = config.includeAttemptCountInResponse;
    this.requireTls = config.requireTls as number as TlsRequirement;
    this.ignorePathParameters = common.ignorePathParametersInPathMatching;
    if (config.matcher !== undefined) {
      if (config.routes.length > 0) fail(path, 'cannot set both matcher and routes on virtual host');
      fail(`${path}.matcher`, 'matcher trees on virtual hosts are not supported');
    }
    this.sslRedirectRoute = new SslRedirectRouteImpl(this, common);
    this.routes = config.routes.map((r, i) => new RouteImpl(r, this, common, `${path}.routes[${i}]`));
    this.plan = buildRouteIndex(this.routes);
  }

  /** The first route that matches, or the require_tls redirect, or null. */
  route(headers: HeaderMap, random: number): Route | null {
    if (this.requireTls !== TlsRequirement.None) {
      const proto = headers.get('x-forwarded-proto');
      if (proto === undefined || proto.length === 0) return null;
      if (proto !== 'https') {
        if (this.requireTls === TlsRequirement.All) return this.sslRedirectRoute;
        if (headers.get('x-envoy-internal') !== 'true') return this.sslRedirectRoute;
      }
    }
    const path = headers.get(':path');
    let matchPath = path;
    if (this.ignorePathParameters && path !== undefined) {
      const semi = path.indexOf(';');
      if (semi !== -1) matchPath = path.slice(0, semi);
    }
    const routes = this.routes;
    const plan = this.plan;
    if (plan === null) {
      for (let i = 0; i < routes.length; i++) {
        const r = routes[i]!;
        if (r.matches(headers, path, matchPath, random)) return r;
      }
      return null;
    }
    for (let i = 0; i < plan.length; i++) {
      const step = plan[i]!;
      if (step instanceof PrefixRun) {
        if (matchPath === undefined) continue; // indexed routes all need a path
        const idx = step.find(routes, headers, path!, matchPath, random);
        if (idx !== -1) return routes[idx]!;
      } else if (step.matches(headers, path, matchPath, random)) {
        return step;
      }
    }
    return null;
  }

  /** Reference implementation: every route in order (tests compare the index against it). */
  routeLinear(headers: HeaderMap, random: number): Route | null {
    const path = headers.get(':path');
    let matchPath = path;
    if (this.ignorePathParameters && path !== undefined) {
      const semi = path.indexOf(';');
      if (semi !== -1) matchPath = path.slice(0, semi);
    }
    for (const r of this.routes) if (r.matches(headers, path, matchPath, random)) return r;
    return null;
  }
}
