/**
 * Reads a cluster's load-balancing settings into a small typed config, once,
 * at cluster creation: `lb_policy` plus its `*_lb_config`, or the typed
 * `load_balancing_policy` (first supported policy in the list wins, as Envoy), and
 * `common_lb_config.healthy_panic_threshold`, `locality_weighted_lb_config`
 * and `consistent_hashing_lb_config`.
 *
 * Supported: ROUND_ROBIN, LEAST_REQUEST, RANDOM, RING_HASH (`ring_hash_lb_config`)
 * and MAGLEV (`maglev_lb_config`), and their typed forms
 * `envoy.extensions.load_balancing_policies.{round_robin,least_request,random,ring_hash,maglev}.v3.*`,
 * each with locality-weighted balancing. Impossible values are rejected as
 * Envoy rejects them (a minimum ring size above the maximum, a Maglev table
 * size that is not a prime or above 5000011). Everything else that changes
 * how hosts are picked (CLUSTER_PROVIDED, slow start, subsets, bounded-load
 * `hash_balance_factor`) is rejected with a "not supported yet" ConfigError
 * naming the field, never silently replaced by round robin.
 */
import type { Cluster, Cluster_SlowStartConfig } from '../generated/envoy/config/cluster/v3/cluster_pb.js';
import type { RuntimeDouble } from '../generated/envoy/config/core/v3/base_pb.js';
import type { LeastRequest } from '../generated/envoy/extensions/load_balancing_policies/least_request/v3/least_request_pb.js';
import type { RoundRobin } from '../generated/envoy/extensions/load_balancing_policies/round_robin/v3/round_robin_pb.js';
import type { Random } from '../generated/envoy/extensions/load_balancing_policies/random/v3/random_pb.js';
import type { RingHash } from '../generated/envoy/extensions/load_balancing_policies/ring_hash/v3/ring_hash_pb.js';
import type { Maglev } from '../generated/envoy/extensions/load_balancing_policies/maglev/v3/maglev_pb.js';
import type {
  ConsistentHashingLbConfig, LocalityLbConfig, SlowStartConfig,
} from '../generated/envoy/extensions/load_balancing_policies/common/v3/common_pb.js';
import { LbPolicy, LeastRequestSelectionMethod, enumName } from './proto_enums.js';
import { ConfigError, anyTypeName, notSupportedYet, unpack } from './proto_util.js';
import { DEFAULT_MAX_RING_SIZE, DEFAULT_MIN_RING_SIZE, type RingHashFunction } from './ring_hash_lb.js';
import { DEFAULT_MAGLEV_TABLE_SIZE, MAX_MAGLEV_TABLE_SIZE, isPrime } from './maglev_lb.js';

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
  | { kind: 'random' }
  | {
      kind: 'ring_hash';
      /** Default 1024. */
      minimumRingSize: number;
      /** Default 8M (8388608). */
      maximumRingSize: number;
      hashFunction: RingHashFunction;
      useHostnameForHashing: boolean;
    }
  | {
      kind: 'maglev';
      /** A prime, default 65537. */
      tableSize: number;
      useHostnameForHashing: boolean;
    };

export interface LbSettings {
  policy: LbPolicyConfig;
  /** `common_lb_config.healthy_panic_threshold` as an integer percent (default 50; 0 disables panic). */
  healthyPanicThreshold: number;
  /** `locality_weighted_lb_config` (cluster's common_lb_config or the typed policy's). */
  localityWeightedBalancing: boolean;
}

/** Largest ring size Envoy accepts for either bound (its PGV rule). */
const MAX_RING_SIZE_LIMIT = 8388608;

const DEFAULT_PANIC_THRESHOLD = 50;
const DEFAULT_CHOICE_COUNT = 2;
const DEFAULT_ACTIVE_REQUEST_BIAS = 1.0;

const TYPED_RR = 'envoy.extensions.load_balancing_policies.round_robin.v3.RoundRobin';
const TYPED_LR = 'envoy.extensions.load_balancing_policies.least_request.v3.LeastRequest';
const TYPED_RANDOM = 'envoy.extensions.load_balancing_policies.random.v3.Random';
const TYPED_RING_HASH = 'envoy.extensions.load_balancing_policies.ring_hash.v3.RingHash';
const TYPED_MAGLEV = 'envoy.extensions.load_balancing_policies.maglev.v3.Maglev';

function rejectSlowStart(cfg: Cluster_SlowStartConfig | SlowStartConfig | undefined, path: string): void {
  if (cfg !== undefined) throw notSupportedYet(`${path}.slow_start_config`, 'slow start');
}

function isLocalityWeighted(cfg: LocalityLbConfig | undefined): boolean {
  return cfg?.localityConfigSpecifier.case === 'localityWeightedLbConfig';
}

/** `hash_balance_factor` (consistent hashing with bounded loads) is not implemented. */
function rejectBoundedLoad(factor: number | undefined, path: string): void {
  if (factor !== undefined && factor > 0) throw notSupportedYet(path, 'bounded-load consistent hashing (hash_balance_factor)');
}

/** Ring sizes: each at most 8M, and the minimum at least 1 and not above the maximum. */
function ringHashFrom(
  min: bigint | undefined,
  max: bigint | undefined,
  hashFunction: RingHashFunction,
  useHostnameForHashing: boolean,
  path: string,
): LbPolicyConfig {
  const minimumRingSize = min === undefined ? DEFAULT_MIN_RING_SIZE : Number(min);
  const maximumRingSize = max === undefined ? DEFAULT_MAX_RING_SIZE : Number(max);
  if (minimumRingSize > MAX_RING_SIZE_LIMIT) {
    throw new ConfigError(`${path}.minimum_ring_size`, `must be at most ${MAX_RING_SIZE_LIMIT}, got ${minimumRingSize}`);
  }
  if (maximumRingSize > MAX_RING_SIZE_LIMIT) {
    throw new ConfigError(`${path}.maximum_ring_size`, `must be at most ${MAX_RING_SIZE_LIMIT}, got ${maximumRingSize}`);
  }
  // A zero minimum would build an empty ring: every request would fail with no healthy upstream.
  if (minimumRingSize < 1) throw new ConfigError(`${path}.minimum_ring_size`, 'must be at least 1, got 0');
  if (minimumRingSize > maximumRingSize) {
    throw new ConfigError(path, `ring hash: minimum_ring_size (${minimumRingSize}) > maximum_ring_size (${maximumRingSize})`);
  }
  return { kind: 'ring_hash', minimumRingSize, maximumRingSize, hashFunction, useHostnameForHashing };
}

function maglevFrom(tableSize: bigint | undefined, useHostnameForHashing: boolean, path: string): LbPolicyConfig {
  const size = tableSize === undefined ? DEFAULT_MAGLEV_TABLE_SIZE : Number(tableSize);
  if (size > MAX_MAGLEV_TABLE_SIZE) {
    throw new ConfigError(`${path}.table_size`, `must be at most ${MAX_MAGLEV_TABLE_SIZE}, got ${tableSize}`);
  }
  if (!isPrime(size)) throw new ConfigError(`${path}.table_size`, `The table size of maglev must be prime number, got ${size}`);
  return { kind: 'maglev', tableSize: size, useHostnameForHashing };
}

/** use_hostname_for_hashing from a typed policy (its consistent_hashing_lb_config wins over the deprecated field). */
function typedUseHostname(chc: ConsistentHashingLbConfig | undefined, deprecated: boolean, path: string): boolean {
  rejectBoundedLoad(chc?.hashBalanceFactor, `${path}.consistent_hashing_lb_config.hash_balance_factor`);
  return chc !== undefined ? chc.useHostnameForHashing : deprecated;
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

function typedPolicy(cluster: Cluster, base: string): { policy: LbPolicyConfig; localityWeighted: boolean } {
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
        return { policy: { kind: 'round_robin' }, localityWeighted: isLocalityWeighted(rr.localityLbConfig) };
      }
      case TYPED_LR: {
        const lr = unpack<LeastRequest>(tec.typedConfig, path);
        rejectSlowStart(lr.slowStartConfig, path);
        const fullScan = lr.selectionMethod === LeastRequestSelectionMethod.FULL_SCAN || lr.enableFullScan === true;
        return {
          policy: leastRequestFrom(lr.choiceCount, lr.activeRequestBias, fullScan, path),
          localityWeighted: isLocalityWeighted(lr.localityLbConfig),
        };
      }
      case TYPED_RANDOM: {
        const r = unpack<Random>(tec.typedConfig, path);
        return { policy: { kind: 'random' }, localityWeighted: isLocalityWeighted(r.localityLbConfig) };
      }
      case TYPED_RING_HASH: {
        const rh = unpack<RingHash>(tec.typedConfig, path);
        rejectBoundedLoad(rh.hashBalanceFactor, `${path}.hash_balance_factor`);
        const useHostname = typedUseHostname(rh.consistentHashingLbConfig, rh.useHostnameForHashing, path);
        // RingHash.HashFunction: DEFAULT_HASH (0) and XX_HASH (1) are xxHash; MURMUR_HASH_2 is 2.
        const fn: RingHashFunction = rh.hashFunction === 2 ? 'murmur_hash_2' : 'xx_hash';
        return {
          policy: ringHashFrom(rh.minimumRingSize, rh.maximumRingSize, fn, useHostname, path),
          localityWeighted: rh.localityWeightedLbConfig !== undefined,
        };
      }
      case TYPED_MAGLEV: {
        const m = unpack<Maglev>(tec.typedConfig, path);
        const useHostname = typedUseHostname(m.consistentHashingLbConfig, false, path);
        return { policy: maglevFrom(m.tableSize, useHostname, path), localityWeighted: m.localityWeightedLbConfig !== undefined };
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
  const clusterLocalityWeighted = common?.localityConfigSpecifier.case === 'localityWeightedLbConfig';
  const chc = common?.consistentHashingLbConfig;
  rejectBoundedLoad(chc?.hashBalanceFactor, `${base}.common_lb_config.consistent_hashing_lb_config.hash_balance_factor`);
  const useHostnameForHashing = chc?.useHostnameForHashing ?? false;
  if (cluster.lbSubsetConfig !== undefined && cluster.lbSubsetConfig.subsetSelectors.length > 0) {
    throw notSupportedYet(`${base}.lb_subset_config`, 'subset load balancing');
  }
  const pct = common?.healthyPanicThreshold?.value;
  const healthyPanicThreshold = pct === undefined ? DEFAULT_PANIC_THRESHOLD : Math.min(100, Math.max(0, Math.round(pct)));

  if ((cluster.loadBalancingPolicy?.policies.length ?? 0) > 0 || cluster.lbPolicy === LbPolicy.LOAD_BALANCING_POLICY_CONFIG) {
    const typed = typedPolicy(cluster, base);
    return { policy: typed.policy, healthyPanicThreshold, localityWeightedBalancing: typed.localityWeighted };
  }
  const localityWeightedBalancing = clusterLocalityWeighted;

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
      return { policy: { kind: 'round_robin' }, healthyPanicThreshold, localityWeightedBalancing };
    case LbPolicy.LEAST_REQUEST: {
      if (lbConfig.case === 'leastRequestLbConfig') {
        const path = `${base}.least_request_lb_config`;
        rejectSlowStart(lbConfig.value.slowStartConfig, path);
        return {
          policy: leastRequestFrom(lbConfig.value.choiceCount, lbConfig.value.activeRequestBias, false, path),
          healthyPanicThreshold,
          localityWeightedBalancing,
        };
      }
      if (lbConfig.case !== undefined) mismatch('LEAST_REQUEST');
      return { policy: leastRequestFrom(undefined, undefined, false, base), healthyPanicThreshold, localityWeightedBalancing };
    }
    case LbPolicy.RANDOM:
      if (lbConfig.case !== undefined) mismatch('RANDOM');
      return { policy: { kind: 'random' }, healthyPanicThreshold, localityWeightedBalancing };
    case LbPolicy.RING_HASH: {
      const path = `${base}.ring_hash_lb_config`;
      if (lbConfig.case !== undefined && lbConfig.case !== 'ringHashLbConfig') mismatch('RING_HASH');
      const rh = lbConfig.case === 'ringHashLbConfig' ? lbConfig.value : undefined;
      // Cluster.RingHashLbConfig.HashFunction: XX_HASH is 0, MURMUR_HASH_2 is 1.
      const fn: RingHashFunction = rh?.hashFunction === 1 ? 'murmur_hash_2' : 'xx_hash';
      return {
        policy: ringHashFrom(rh?.minimumRingSize, rh?.maximumRingSize, fn, useHostnameForHashing, path),
        healthyPanicThreshold,
        localityWeightedBalancing,
      };
    }
    case LbPolicy.MAGLEV: {
      if (lbConfig.case !== undefined && lbConfig.case !== 'maglevLbConfig') mismatch('MAGLEV');
      const tableSize = lbConfig.case === 'maglevLbConfig' ? lbConfig.value.tableSize : undefined;
      return {
        policy: maglevFrom(tableSize, useHostnameForHashing, `${base}.maglev_lb_config`),
        healthyPanicThreshold,
        localityWeightedBalancing,
      };
    }
    default:
      throw notSupportedYet(`${base}.lb_policy`, `lb_policy ${enumName(LbPolicy, cluster.lbPolicy)}`);
  }
}

function snake(camel: string): string {
  return camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}
