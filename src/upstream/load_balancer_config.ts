/**
 * Reads a cluster's load-balancing settings into a small typed config, once,
 * at cluster creation: `lb_policy` plus its `*_lb_config`, or the typed
 * `load_balancing_policy` (first supported policy in the list wins, as Envoy),
 * and `common_lb_config.healthy_panic_threshold`.
 *
 * Supported: ROUND_ROBIN, LEAST_REQUEST, RANDOM (and their typed forms
 * `envoy.extensions.load_balancing_policies.{round_robin,least_request,random}.v3.*`).
 * Everything else that changes how hosts are picked (RING_HASH, MAGLEV,
 * CLUSTER_PROVIDED, slow start, locality-weighted LB, subsets) is rejected with
 * a "not supported yet" ConfigError naming the field, never silently
 * replaced by round robin.
 */
import type { Cluster, Cluster_SlowStartConfig } from '../generated/envoy/config/cluster/v3/cluster_pb.js';
import type { RuntimeDouble } from '../generated/envoy/config/core/v3/base_pb.js';
import type { LeastRequest } from '../generated/envoy/extensions/load_balancing_policies/least_request/v3/least_request_pb.js';
import type { RoundRobin } from '../generated/envoy/extensions/load_balancing_policies/round_robin/v3/round_robin_pb.js';
import type { Random } from '../generated/envoy/extensions/load_balancing_policies/random/v3/random_pb.js';
import type { LocalityLbConfig, SlowStartConfig } from '../generated/envoy/extensions/load_balancing_policies/common/v3/common_pb.js';
import { LbPolicy, LeastRequestSelectionMethod, enumName } from './proto_enums.js';
import { ConfigError, anyTypeName, notSupportedYet, unpack } from './proto_util.js';

export type LbPolicyConfig =
  | { kind: 'round_robin' }
  | {
      kind: 'least_request';
      /** Hosts sampled per pick (P2C when 2). Default 2. */
      choiceCount: number;
      /** Exponent on (active + 1) in weighted mode. Default 1.0. */
      activeRequestBias: number;
      /** `selection_method: FULL_SCAN`: compare every host instead of sampling. */
      fullScan: boolean;
    }
  | { kind: 'random' };

export interface LbSettings {
  policy: LbPolicyConfig;
  /** `common_lb_config.healthy_panic_threshold` as an integer percent (default 50; 0 disables panic). */
  healthyPanicThreshold: number;
}

const DEFAULT_PANIC_THRESHOLD = 50;
const DEFAULT_CHOICE_COUNT = 2;
const DEFAULT_ACTIVE_REQUEST_BIAS = 1.0;

const TYPED_RR = 'envoy.extensions.load_balancing_policies.round_robin.v3.RoundRobin';
const TYPED_LR = 'envoy.extensions.load_balancing_policies.least_request.v3.LeastRequest';
const TYPED_RANDOM = 'envoy.extensions.load_balancing_policies.random.v3.Random';

function rejectSlowStart(cfg: Cluster_SlowStartConfig | SlowStartConfig | undefined, path: string): void {
  if (cfg !== undefined) throw notSupportedYet(`${path}.slow_start_config`, 'slow start');
}

function rejectLocalityLb(cfg: LocalityLbConfig | undefined, path: string): void {
  if (cfg?.localityConfigSpecifier.case === 'localityWeightedLbConfig') {
    throw notSupportedYet(`${path}.locality_lb_config.locality_weighted_lb_config`, 'locality-weighted load balancing');
  }
}

function leastRequestFrom(
  choiceCount: number | undefined,
  bias: RuntimeDouble | undefined,
  fullScan: boolean,
  path: string,
): LbPolicyConfig {
  const cc = choiceCount ?? DEFAULT_CHOICE_COUNT;
  if (cc < 2) throw new ConfigError(`${path}.choice_count`, `must be >= 2, got ${cc}`);
  const b = bias?.defaultValue ?? DEFAULT_ACTIVE_REQUEST_BIAS;
  if (!(b >= 0)) throw new ConfigError(`${path}.active_request_bias`, `must be >= 0.0, got ${b}`);
  return { kind: 'least_request', choiceCount: cc, activeRequestBias: b, fullScan };
}

function typedPolicy(cluster: Cluster, base: string): LbPolicyConfig {
  const policies = cluster.loadBalancingPolicy?.policies ?? [];
  const seen: string[] = [];
  for (let i = 0; i < policies.length; i++) {
    const tec = policies[i].typedExtensionConfig;
    const path = `${base}.load_balancing_policy.policies[${i}].typed_extension_config.typed_config`;
    if (tec?.typedConfig === undefined) {
      throw new ConfigError(path, 'typed_config is required');
    }
    const typeName = anyTypeName(tec.typedConfig);
    seen.push(typeName);
    switch (typeName) {
      case TYPED_RR: {
        const rr = unpack<RoundRobin>(tec.typedConfig, path);
        rejectSlowStart(rr.slowStartConfig, path);
        rejectLocalityLb(rr.localityLbConfig, path);
        return { kind: 'round_robin' };
      }
      case TYPED_LR: {
        const lr = unpack<LeastRequest>(tec.typedConfig, path);
        rejectSlowStart(lr.slowStartConfig, path);
        rejectLocalityLb(lr.localityLbConfig, path);
        const fullScan = lr.selectionMethod === LeastRequestSelectionMethod.FULL_SCAN || lr.enableFullScan === true;
        return leastRequestFrom(lr.choiceCount, lr.activeRequestBias, fullScan, path);
      }
      case TYPED_RANDOM: {
        const r = unpack<Random>(tec.typedConfig, path);
        rejectLocalityLb(r.localityLbConfig, path);
        return { kind: 'random' };
      }
      default:
        // Envoy takes the first policy it has a factory for; keep looking.
        continue;
    }
  }
  throw notSupportedYet(
    `${base}.load_balancing_policy`,
    seen.length === 0 ? 'an empty load_balancing_policy' : `none of the load balancing policies [${seen.join(', ')}]`,
  );
}

/** Reads and validates the LB settings of `cluster`. `base` is the field path prefix for errors. */
export function lbSettingsFromCluster(cluster: Cluster, base: string): LbSettings {
  const common = cluster.commonLbConfig;
  if (common?.localityConfigSpecifier.case === 'localityWeightedLbConfig') {
    throw notSupportedYet(`${base}.common_lb_config.locality_weighted_lb_config`, 'locality-weighted load balancing');
  }
  if (cluster.lbSubsetConfig !== undefined && cluster.lbSubsetConfig.subsetSelectors.length > 0) {
    throw notSupportedYet(`${base}.lb_subset_config`, 'subset load balancing');
  }
  const pct = common?.healthyPanicThreshold?.value;
  const healthyPanicThreshold = pct === undefined ? DEFAULT_PANIC_THRESHOLD : Math.min(100, Math.max(0, Math.round(pct)));

  if ((cluster.loadBalancingPolicy?.policies.length ?? 0) > 0 || cluster.lbPolicy === LbPolicy.LOAD_BALANCING_POLICY_CONFIG) {
    return { policy: typedPolicy(cluster, base), healthyPanicThreshold };
  }

  const lbConfig = cluster.lbConfig;
  const mismatch = (expected: string): never => {
    throw new ConfigError(
      `${base}.${lbConfig.case === undefined ? 'lb_config' : snake(lbConfig.case)}`,
      `set but lb_policy is ${enumName(LbPolicy, cluster.lbPolicy)} (expected ${expected})`,
    );
  };
  switch (cluster.lbPolicy) {
    case LbPolicy.ROUND_ROBIN:
      if (lbConfig.case === 'roundRobinLbConfig') rejectSlowStart(lbConfig.value.slowStartConfig, `${base}.round_robin_lb_config`);
      else if (lbConfig.case !== undefined) mismatch('ROUND_ROBIN');
      return { policy: { kind: 'round_robin' }, healthyPanicThreshold };
    case LbPolicy.LEAST_REQUEST: {
      if (lbConfig.case === 'leastRequestLbConfig') {
        const path = `${base}.least_request_lb_config`;
        rejectSlowStart(lbConfig.value.slowStartConfig, path);
        return {
          policy: leastRequestFrom(lbConfig.value.choiceCount, lbConfig.value.activeRequestBias, false, path),
          healthyPanicThreshold,
        };
      }
      if (lbConfig.case !== undefined) mismatch('LEAST_REQUEST');
      return { policy: leastRequestFrom(undefined, undefined, false, base), healthyPanicThreshold };
    }
    case LbPolicy.RANDOM:
      if (lbConfig.case !== undefined) mismatch('RANDOM');
      return { policy: { kind: 'random' }, healthyPanicThreshold };
    default:
      throw notSupportedYet(`${base}.lb_policy`, `lb_policy ${enumName(LbPolicy, cluster.lbPolicy)}`);
  }
}

function snake(camel: string): string {
  return camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}
