/**
 * A route's or virtual host's `rate_limits`, compiled once: Envoy's
 * `RateLimitPolicyImpl` / `RateLimitPolicyEntryImpl` and the descriptor
 * actions of `source/common/router/router_ratelimit.cc`.
 *
 * Each entry is a list of actions; for a request every action appends one
 * (key, value) entry to the descriptor, in order:
 *
 *   source_cluster              ("source_cluster", <node cluster>)
 *   destination_cluster         ("destination_cluster", <route's cluster>)
 *   request_headers             (<descriptor_key>, <header value>)  absent: no descriptor
 *                                                                    (skip_if_absent: the action adds nothing)
 *   remote_address              ("remote_address", <trusted downstream IP>)
 *   generic_key                 (<descriptor_key> or "generic_key", <descriptor_value>)
 *   header_value_match          (<descriptor_key> or "header_match", <descriptor_value>)
 *                               when the headers match == expect_match (default true)
 *   query_parameter_value_match (<descriptor_key> or "query_match", <descriptor_value>), likewise
 *
 * An action that cannot produce its entry drops the whole descriptor.
 * Entries are grouped by `stage` (0..10); filters ask for their own stage.
 */
import type { HeaderMap } from '../envoy/http/header_map.js';
import type { RateLimitDescriptor, RateLimitDescriptorEntry } from '../envoy/ratelimit/ratelimit.js';
import type { RateLimitPolicy, RateLimitPolicyEntry, RouteEntry } from '../envoy/router/router.js';
import type { StreamInfo } from '../envoy/stream_info/stream_info.js';
import type { RateLimit, RateLimit_Action } from '../generated/envoy/config/route/v3/route_components_pb.js';
import { type HeaderMatcherImpl, compileHeaderMatchers, matchHeaders } from '../common/matchers/header_matcher.js';
import {
  type QueryParameterMatcherImpl, compileQueryParameterMatchers, matchQueryParameters,
} from '../common/matchers/query_parameter_matcher.js';
import { splitAddress } from '../network/address.js';
import { at, fail } from './config_error.js';

/** The largest `stage` (Envoy's validation: 0 - 10). */
export const MAX_RATE_LIMIT_STAGE = 10;

interface DescriptorContext {
  readonly route: RouteEntry;
  readonly localServiceCluster: string;
  readonly headers: HeaderMap;
  readonly streamInfo: StreamInfo;
}

/**
 * One action: pushes its entry and returns true, returns true without an
 * entry (request_headers with skip_if_absent), or false to drop the descriptor.
 */
type DescriptorAction = (entries: RateLimitDescriptorEntry[], ctx: DescriptorContext) => boolean;

function matchAction(key: string, value: string, expectMatch: boolean, matches: (ctx: DescriptorContext) => boolean): DescriptorAction {
  return (entries, ctx) => {
    if (matches(ctx) !== expectMatch) return false;
    entries.push({ key, value });
    return true;
  };
}

function compileAction(action: RateLimit_Action, path: string): DescriptorAction {
  const spec = action.actionSpecifier;
  switch (spec.case) {
    case 'sourceCluster':
      return (entries, ctx) => { entries.push({ key: 'source_cluster', value: ctx.localServiceCluster }); return true; };
    case 'destinationCluster':
      return (entries, ctx) => {
        // Weighted clusters: the first pick, as the router's own clusterInfo() would see (no random at hand here).
        const cluster = ctx.route.clusterName(ctx.headers, 0);
        if (cluster === null) return false;
        entries.push({ key: 'destination_cluster', value: cluster });
        return true;
      };
    case 'requestHeaders': {
      const { headerName, descriptorKey, skipIfAbsent } = spec.value;
      if (headerName.length === 0) fail(`${path}.request_headers.header_name`, 'header_name must not be empty');
      if (descriptorKey.length === 0) fail(`${path}.request_headers.descriptor_key`, 'descriptor_key must not be empty');
      const name = headerName.toLowerCase();
      return (entries, ctx) => {
        const value = ctx.headers.get(name);
        if (value === undefined) return skipIfAbsent;
        entries.push({ key: descriptorKey, value });
        return true;
      };
    }
    case 'remoteAddress':
      return (entries, ctx) => {
        const addr = ctx.streamInfo.downstreamRemoteAddress;
        // Only IP peers (Envoy: Address::Type::Ip); '-' or a pipe path has no port separator.
        if (addr.length === 0 || addr === '-' || addr.indexOf(':') === -1) return false;
        entries.push({ key: 'remote_address', value: splitAddress(addr).ip });
        return true;
      };
    case 'genericKey': {
      const { descriptorValue, descriptorKey } = spec.value;
      if (descriptorValue.length === 0) fail(`${path}.generic_key.descriptor_value`, 'descriptor_value must not be empty');
      const key = descriptorKey.length > 0 ? descriptorKey : 'generic_key';
      return (entries) => { entries.push({ key, value: descriptorValue }); return true; };
    }
    case 'headerValueMatch': {
      const v = spec.value;
      if (v.descriptorValue.length === 0) fail(`${path}.header_value_match.descriptor_value`, 'descriptor_value must not be empty');
      if (v.headers.length === 0) fail(`${path}.header_value_match.headers`, 'at least one header matcher is required');
      const matchers: HeaderMatcherImpl[] | null = at(`${path}.header_value_match`, () => compileHeaderMatchers(v.headers, 'headers'));
      return matchAction(v.descriptorKey.length > 0 ? v.descriptorKey : 'header_match', v.descriptorValue, v.expectMatch ?? true,
        (ctx) => matchHeaders(ctx.headers, matchers));
    }
    case 'queryParameterValueMatch': {
      const v = spec.value;
      if (v.descriptorValue.length === 0) fail(`${path}.query_parameter_value_match.descriptor_value`, 'descriptor_value must not be empty');
      if (v.queryParameters.length === 0) fail(`${path}.query_parameter_value_match.query_parameters`, 'at least one query parameter matcher is required');
      const matchers: QueryParameterMatcherImpl[] | null = at(`${path}.query_parameter_value_match`,
        () => compileQueryParameterMatchers(v.queryParameters, 'query_parameters'));
      return matchAction(v.descriptorKey.length > 0 ? v.descriptorKey : 'query_match', v.descriptorValue, v.expectMatch ?? true,
        (ctx) => matchQueryParameters(ctx.headers.get(':path') ?? '', matchers));
    }
    case 'maskedRemoteAddress':
      fail(`${path}.masked_remote_address`, 'the masked_remote_address rate limit action is not supported');
    case 'dynamicMetadata':
      fail(`${path}.dynamic_metadata`, 'the dynamic_metadata rate limit action is not supported');
    case 'metadata':
      fail(`${path}.metadata`, 'the metadata rate limit action is not supported');
    case 'extension':
      fail(`${path}.extension`, 'rate limit descriptor extensions are not supported');
    default:
      fail(path, 'a rate limit action needs one of source_cluster, destination_cluster, request_headers, remote_address, generic_key, header_value_match or query_parameter_value_match');
  }
}

export class RateLimitPolicyEntryImpl implements RateLimitPolicyEntry {
  readonly stage: number;
  readonly disableKey: string;
  private readonly actions: readonly DescriptorAction[];

  constructor(config: RateLimit, path: string) {
    this.stage = config.stage ?? 0;
    if (this.stage > MAX_RATE_LIMIT_STAGE) fail(`${path}.stage`, `stage must be between 0 and ${MAX_RATE_LIMIT_STAGE}, got ${this.stage}`);
    this.disableKey = config.disableKey;
    if (config.actions.length === 0) fail(`${path}.actions`, 'at least one action is required');
    if (config.limit !== undefined) fail(`${path}.limit`, 'rate limit overrides (limit) are not supported');
    this.actions = config.actions.map((a, i) => compileAction(a, `${path}.actions[${i}]`));
  }

  populateDescriptors(
    out: RateLimitDescriptor[], route: RouteEntry, localServiceCluster: string, headers: HeaderMap, streamInfo: StreamInfo,
  ): void {
    const entries: RateLimitDescriptorEntry[] = [];
    const ctx: DescriptorContext = { route, localServiceCluster, headers, streamInfo };
    for (const action of this.actions) {
      if (!action(entries, ctx)) return;
    }
    // All actions skipped (request_headers with skip_if_absent): nothing to ask about.
    if (entries.length > 0) out.push({ entries });
  }
}

const NO_ENTRIES: ReadonlyArray<RateLimitPolicyEntry> = [];

export class RateLimitPolicyImpl implements RateLimitPolicy {
  readonly empty: boolean;
  private readonly byStage: ReadonlyArray<ReadonlyArray<RateLimitPolicyEntry>>;

  /** `path` is the proto path of the `rate_limits` list. */
  constructor(configs: readonly RateLimit[], path: string) {
    const byStage: RateLimitPolicyEntry[][] = [];
    for (let s = 0; s <= MAX_RATE_LIMIT_STAGE; s++) byStage.push([]);
    configs.forEach((c, i) => {
      const entry = new RateLimitPolicyEntryImpl(c, `${path}[${i}]`);
      byStage[entry.stage]!.push(entry);
    });
    this.byStage = byStage;
    this.empty = configs.length === 0;
  }

  getApplicableRateLimit(stage: number): ReadonlyArray<RateLimitPolicyEntry> {
    return this.byStage[stage] ?? NO_ENTRIES;
  }
}

/** The policy of an empty `rate_limits` list (shared). */
export const EMPTY_RATE_LIMIT_POLICY: RateLimitPolicy = new RateLimitPolicyImpl([], '');

/** Compiles a `rate_limits` list; the shared empty policy for an empty list. */
export function compileRateLimitPolicy(configs: readonly RateLimit[], path: string): RateLimitPolicy {
  return configs.length === 0 ? EMPTY_RATE_LIMIT_POLICY : new RateLimitPolicyImpl(configs, path);
}
