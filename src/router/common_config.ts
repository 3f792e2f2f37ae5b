/**
 * What every virtual host and route of one RouteConfiguration shares: the
 * compile options, the route-configuration-level header lists and per-filter
 * configs, and the settings that change how routes behave (Envoy's
 * `CommonConfigImpl`).
 */
import type { Any } from '@bufbuild/protobuf/wkt';
import type { RouteConfiguration } from '../generated/envoy/config/route/v3/route_pb.js';
import type { RouteAction_RequestMirrorPolicy } from '../generated/envoy/config/route/v3/route_components_pb.js';
import { asciiLower } from '../common/matchers/ascii.js';
import { at, fail } from './config_error.js';
import { type FormatterFactory, HeaderParser } from './header_parser.js';
import type { HostNormalization } from './host_utility.js';

/** Options of `compileRouteTable`. */
export interface RouteTableOptions extends HostNormalization {
  /**
   * Compiles a header value that contains `%` commands (the substitution
   * formatter). Called once per such value, at compile time; may throw.
   */
  readonly formatterFactory: FormatterFactory;
  /**
   * Called once with every cluster name the table can route (or mirror) to,
   * when cluster validation is on (the route configuration's
   * `validate_clusters`, else `validateClustersDefault`). Throw to reject the
   * table (Envoy: "route: unknown cluster 'x'").
   */
  readonly validateClusters?: (names: ReadonlySet<string>) => void;
  /**
   * Whether clusters are validated when `validate_clusters` is unset: true for
   * static route configs (the default here), false for RDS, as Envoy.
   */
  readonly validateClustersDefault?: boolean;
  /** Directory that relative `filename` DataSources are resolved against. */
  readonly configDir: string;
  /**
   * Compiles one `typed_per_filter_config` entry (the filter's route-specific
   * config) at compile time; the result is what `perFilterConfig()` returns.
   * Without it the raw `Any` is kept. May throw.
   */
  readonly compilePerFilterConfig?: (filterName: string, config: Any) => unknown;
}

export type PerFilterConfigMap = ReadonlyMap<string, unknown>;

export const EMPTY_PER_FILTER_CONFIGS: PerFilterConfigMap = new Map();

/** Compiles a `typed_per_filter_config` map; `path` is the map's proto path. */
export function compilePerFilterConfigs(
  map: { [key: string]: Any },
  options: RouteTableOptions,
  path: string,
): PerFilterConfigMap {
  const keys = Object.keys(map);
  if (keys.length === 0) return EMPTY_PER_FILTER_CONFIGS;
  const out = new Map<string, unknown>();
  for (const name of keys) {
    const any = map[name]!;
    const compile = options.compilePerFilterConfig;
    out.set(name, compile === undefined ? any : at(`${path}["${name}"]`, () => compile(name, any)));
  }
  return out;
}

/** Envoy's validateMirrorClusterSpecifier. */
export function validateMirrorPolicies(policies: readonly RouteAction_RequestMirrorPolicy[], path: string): void {
  policies.forEach((p, i) => {
    if (p.cluster.length > 0 && p.clusterHeader.length > 0) {
      fail(`${path}[${i}]`, `Only one of cluster '${p.cluster}' or cluster_header '${p.clusterHeader}' in request mirror policy can be specified`);
    }
    if (p.cluster.length === 0 && p.clusterHeader.length === 0) {
      fail(`${path}[${i}]`, 'Exactly one of cluster or cluster_header in request mirror policy need to be specified');
    }
  });
}

const DEFAULT_MAX_DIRECT_RESPONSE_BODY_SIZE_BYTES = 4096;

export class CommonConfigImpl {
  readonly name: string;
  readonly options: RouteTableOptions;
  readonly requestHeaderParser: HeaderParser | null;
  readonly responseHeaderParser: HeaderParser | null;
  readonly mostSpecificHeaderMutationsWins: boolean;
  readonly maxDirectResponseBodySizeBytes: number;
  readonly ignorePortInHostMatching: boolean;
  readonly ignorePathParametersInPathMatching: boolean;
  readonly perFilterConfigs: PerFilterConfigMap;
  readonly requestMirrorPolicies: readonly RouteAction_RequestMirrorPolicy[];
  /** Lower-cased `internal_only_headers` (the HCM strips them from external requests). */
  readonly internalOnlyHeaders: readonly string[];
  /** Every cluster a route can send or mirror to; filled while routes compile. */
  readonly referencedClusters = new Set<string>();

  constructor(config: RouteConfiguration, options: RouteTableOptions) {
    this.name = config.name;
    this.options = options;
    this.requestHeaderParser = HeaderParser.configure(config.requestHeadersToAdd, config.requestHeadersToRemove,
      options.formatterFactory, 'request_headers_to_add', 'request_headers_to_remove');
    this.responseHeaderParser = HeaderParser.configure(config.responseHeadersToAdd, config.responseHeadersToRemove,
      options.formatterFactory, 'response_headers_to_add', 'response_headers_to_remove');
    this.mostSpecificHeaderMutationsWins = config.mostSpecificHeaderMutationsWins;
    this.maxDirectResponseBodySizeBytes = config.maxDirectResponseBodySizeBytes ?? DEFAULT_MAX_DIRECT_RESPONSE_BODY_SIZE_BYTES;
    this.ignorePortInHostMatching = config.ignorePortInHostMatching;
    this.ignorePathParametersInPathMatching = config.ignorePathParametersInPathMatching;
    this.perFilterConfigs = compilePerFilterConfigs(config.typedPerFilterConfig, options, 'typed_per_filter_config');
    validateMirrorPolicies(config.requestMirrorPolicies, 'request_mirror_policies');
    this.requestMirrorPolicies = config.requestMirrorPolicies;
    this.internalOnlyHeaders = config.internalOnlyHeaders.map(asciiLower);
  }
}
