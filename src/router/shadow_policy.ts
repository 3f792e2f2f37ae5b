/**
 * `request_mirror_policies` compiled, after Envoy's `ShadowPolicyImpl`
 * (source/common/router/config_impl.cc) and `FilterUtility::shouldShadow`
 * (source/common/router/router.cc).
 *
 * A policy without `runtime_fraction` mirrors every request (100/HUNDRED). With
 * it, a request is mirrored when `random % denominator < numerator` for the
 * `default_value` (there is no runtime layer to override it through
 * `runtime_key`), so a numerator of 0 never mirrors and one at or above the
 * denominator always does.
 */
import type { ShadowPolicy } from '../envoy/router/shadow_writer.js';
import type { RouteAction_RequestMirrorPolicy } from '../generated/envoy/config/route/v3/route_components_pb.js';
import { asciiLower } from '../common/matchers/ascii.js';
import { fail } from './config_error.js';

/** FractionalPercent.DenominatorType: HUNDRED = 0, TEN_THOUSAND = 1, MILLION = 2. */
const DENOMINATORS = [100, 10_000, 1_000_000] as const;

export class ShadowPolicyImpl implements ShadowPolicy {
  readonly cluster: string;
  readonly clusterHeader: string;
  readonly runtimeKey: string;
  readonly numerator: number;
  readonly denominator: number;
  readonly traceSampled: boolean;
  readonly disableShadowHostSuffixAppend: boolean;

  /** `config` was checked by validateMirrorPolicies (exactly one of cluster / cluster_header). */
  constructor(config: RouteAction_RequestMirrorPolicy, path: string) {
    this.cluster = config.cluster;
    this.clusterHeader = asciiLower(config.clusterHeader);
    const rf = config.runtimeFraction;
    if (rf === undefined) {
      this.runtimeKey = '';
      this.numerator = 100;
      this.denominator = 100;
    } else {
      if (rf.defaultValue === undefined) fail(`${path}.runtime_fraction.default_value`, 'default_value is required');
      const denominator = DENOMINATORS[rf.defaultValue.denominator];
      if (denominator === undefined) {
        fail(`${path}.runtime_fraction.default_value.denominator`, `unknown denominator ${rf.defaultValue.denominator}`);
      }
      this.runtimeKey = rf.runtimeKey;
      this.numerator = rf.defaultValue.numerator;
      this.denominator = denominator;
    }
    this.traceSampled = config.traceSampled ?? true;
    this.disableShadowHostSuffixAppend = config.disableShadowHostSuffixAppend;
  }
}

/** Compiles a (validated) policy list; `path` is the list's proto path. */
export function compileShadowPolicies(policies: readonly RouteAction_RequestMirrorPolicy[], path: string): readonly ShadowPolicyImpl[] {
  return policies.map((p, i) => new ShadowPolicyImpl(p, `${path}[${i}]`));
}

/** Whether this request is mirrored under `policy` (`random`: a uniformly random non-negative integer). */
export function shouldShadow(policy: ShadowPolicy, random: number): boolean {
  return random % policy.denominator < policy.numerator;
}

/** The mirror cluster for this request: the static one, else the first value of the header (null when absent or empty). */
export function shadowClusterName(policy: ShadowPolicy, headers: { get(name: string): string | undefined }): string | null {
  if (policy.cluster.length > 0) return policy.cluster;
  const v = headers.get(policy.clusterHeader);
  return v === undefined || v.length === 0 ? null : v;
}
