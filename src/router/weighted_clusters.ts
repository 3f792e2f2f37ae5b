/**
 * `weighted_clusters`, after Envoy's `WeightedClusterSpecifierPlugin`
 * (`source/common/router/weighted_cluster_specifier.cc`).
 *
 * Pick: `selected = random % total`; cluster i owns `[w0+..+w(i-1), w0+..+wi)`.
 * `random` is the request's random value, or the value of the
 * `header_name` header when that header has exactly one unsigned integer value.
 * `total` is the sum of the weights. `total_weight` (deprecated) is honoured as
 * the proto documents it: when set (> 0) the weights must add up to it. A sum
 * of 0 or above 2^32-1 is rejected. `runtime_key_prefix` is accepted: Envoy
 * reads `<prefix>.<cluster>` from the runtime with the configured weight as
 * the default, and Legate has no runtime layer, so the configured weights
 * apply (test/integration/traffic_split.test.ts).
 *
 * Each entry has its own header lists (applied before the route's, see
 * HeaderMutationChain), `host_rewrite_literal` and `typed_per_filter_config`
 * (the most specific level for `perFilterConfig`).
 */
import type { HeaderMap } from '../envoy/http/header_map.js';
import type { HeaderMutations } from '../envoy/router/router.js';
import type { StreamInfo } from '../envoy/stream_info/stream_info.js';
import type { WeightedCluster, WeightedCluster_ClusterWeight } from '../generated/envoy/config/route/v3/route_components_pb.js';
import { asciiLower } from '../common/matchers/ascii.js';
import { fail } from './config_error.js';
import { type CommonConfigImpl, type PerFilterConfigMap, compilePerFilterConfigs } from './common_config.js';
import { HeaderMutationChain, HeaderParser } from './header_parser.js';

const UINT32_MAX = 0xffffffff;

export class WeightedClusterEntryImpl implements HeaderMutations {
  /** Static cluster name ('' when the name comes from `cluster_header`). */
  readonly name: string;
  /** Lower-cased header naming the cluster ('' for a static name). */
  readonly clusterHeader: string;
  readonly weight: number;
  /** `host_rewrite_literal` ('' = none). */
  readonly hostRewriteLiteral: string;
  readonly perFilterConfigMap: PerFilterConfigMap;
  readonly config: WeightedCluster_ClusterWeight;
  private readonly mutations: HeaderMutationChain;

  constructor(config: WeightedCluster_ClusterWeight, common: CommonConfigImpl, path: string) {
    if (config.name.length === 0 && config.clusterHeader.length === 0) fail(path, 'At least one of name or cluster_header need to be specified');
    if (config.name.length > 0 && config.clusterHeader.length > 0) fail(path, 'Only one of name or cluster_header can be specified');
    this.config = config;
    this.name = config.name;
    this.clusterHeader = asciiLower(config.clusterHeader);
    this.weight = config.weight ?? 0;
    this.hostRewriteLiteral = config.hostRewriteSpecifier.case === 'hostRewriteLiteral' ? config.hostRewriteSpecifier.value : '';
    const ff = common.options.formatterFactory;
    const req = HeaderParser.configure(config.requestHeadersToAdd, config.requestHeadersToRemove, ff,
      `${path}.request_headers_to_add`, `${path}.request_headers_to_remove`);
    const resp = HeaderParser.configure(config.responseHeadersToAdd, config.responseHeadersToRemove, ff,
      `${path}.response_headers_to_add`, `${path}.response_headers_to_remove`);
    this.mutations = new HeaderMutationChain([req], [resp], false);
    this.perFilterConfigMap = compilePerFilterConfigs(config.typedPerFilterConfig, common.options, `${path}.typed_per_filter_config`);
  }

  /** The cluster this entry sends to for `headers` (null when its header is absent or empty). */
  clusterName(headers: HeaderMap): string | null {
    if (this.name.length > 0) return this.name;
    const v = headers.get(this.clusterHeader);
    return v === undefined || v.length === 0 ? null : v;
  }

  /** This entry's request header lists, then `host_rewrite_literal`. Call before the route's own. */
  finalizeRequestHeaders(headers: HeaderMap, streamInfo: StreamInfo): void {
    this.mutations.finalizeRequestHeaders(headers, streamInfo);
    if (this.hostRewriteLiteral.length > 0) headers.set(':authority', this.hostRewriteLiteral);
  }

  /** This entry's response header lists. Call before the route's own. */
  finalizeResponseHeaders(headers: HeaderMap, streamInfo: StreamInfo, requestHeaders?: HeaderMap | null): void {
    this.mutations.finalizeResponseHeaders(headers, streamInfo, requestHeaders);
  }

  /** This entry's own `typed_per_filter_config` for `filterName` (undefined when none). */
  perFilterConfig(filterName: string): unknown {
    return this.perFilterConfigMap.get(filterName);
  }
}

/** absl::SimpleAtoi into a uint64 (bigint), or null. */
function parseUint64(s: string): bigint | null {
  const t = s.trim();
  const digits = t.startsWith('+') ? t.slice(1) : t;
  if (!/^[0-9]+$/.test(digits)) return null;
  const v = BigInt(digits);
  return v > 0xffffffffffffffffn ? null : v;
}

export class WeightedClusters {
  readonly entries: readonly WeightedClusterEntryImpl[];
  readonly totalWeight: number;
  /** Lower-cased `header_name` for the random value, or null. */
  readonly randomValueHeader: string | null;
  private readonly byName: ReadonlyMap<string, WeightedClusterEntryImpl>;

  constructor(config: WeightedCluster, common: CommonConfigImpl, path: string, routeName: string) {
    if (config.clusters.length === 0) fail(`${path}.clusters`, 'at least one weighted cluster is required');
    const entries = config.clusters.map((c, i) => new WeightedClusterEntryImpl(c, common, `${path}.clusters[${i}]`));
    let total = 0;
    for (const e of entries) {
      total += e.weight;
      if (total > UINT32_MAX) {
        fail(`${path}.clusters`, `The sum of weights of all weighted clusters of route ${routeName} exceeds ${UINT32_MAX}`);
      }
    }
    if (total === 0) fail(`${path}.clusters`, 'Sum of weights in the weighted_cluster must be greater than 0.');
    if (config.totalWeight !== undefined && config.totalWeight > 0 && config.totalWeight !== total) {
      fail(`${path}.total_weight`, `Sum of weights in the weighted_cluster (${total}) must equal total_weight (${config.totalWeight})`);
    }
    this.entries = entries;
    this.totalWeight = total;
    this.randomValueHeader = config.randomValueSpecifier.case === 'headerName' && config.randomValueSpecifier.value.length > 0
      ? asciiLower(config.randomValueSpecifier.value)
      : null;
    const byName = new Map<string, WeightedClusterEntryImpl>();
    for (const e of entries) if (e.name.length > 0 && !byName.has(e.name)) byName.set(e.name, e);
    this.byName = byName;
    for (const e of entries) if (e.name.length > 0) common.referencedClusters.add(e.name);
  }

  /** The entry for `random` (or the header's value, see above). */
  pick(headers: HeaderMap, random: number): WeightedClusterEntryImpl {
    const total = this.totalWeight;
    let selected = random % total;
    if (this.randomValueHeader !== null) {
      const values = headers.getAll(this.randomValueHeader);
      if (values.length === 1) {
        const v = parseUint64(values[0]!);
        if (v !== null) selected = Number(v % BigInt(total));
      }
    }
    let end = 0;
    const entries = this.entries;
    for (let i = 0; i < entries.length; i++) {
      end += entries[i]!.weight;
      if (selected < end) return entries[i]!;
    }
    return entries[entries.length - 1]!;
  }

  /** The first entry with static name `name`, or null. */
  entryByName(name: string): WeightedClusterEntryImpl | null {
    return this.byName.get(name) ?? null;
  }
}
