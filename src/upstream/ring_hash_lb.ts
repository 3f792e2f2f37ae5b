/**
 * Ring hash (Ketama), after Envoy's `RingHashLoadBalancer`
 * (source/extensions/load_balancing_policies/ring_hash/ring_hash_lb.cc).
 *
 * Each host gets a number of points on a 64-bit ring in proportion to its
 * normalized weight: the ring size is scaled so that the lightest host gets a
 * whole number of points and the ring has at least `minimum_ring_size`
 * entries, capped at `maximum_ring_size`. A host's points are the hashes of
 * `<key>_0`, `<key>_1`, ... where the key is its `ip:port` (see hashKeyOf),
 * with XXH64 (default) or MurmurHash2-64 (`hash_function: MURMUR_HASH_2`).
 * A request's hash goes to the first point at or after it, wrapping around
 * (binary search). Adding or removing one of N hosts moves only about 1/N of
 * the keys. Stats: `ring_hash_lb.size`, `min_hashes_per_host`, `max_hashes_per_host`.
 */
import type { Gauge, Scope } from '../envoy/stats/stats.js';
import type { Host } from '../envoy/upstream/host.js';
import { murmurHash2String } from '../common/hash/murmur_hash2.js';
import { xxHash64String } from '../common/hash/xxhash64.js';
import type { LbStatsSubset, RandomGenerator } from './load_balancer_impl.js';
import type { PrioritySetImpl } from './priority_set_impl.js';
import {
  ThreadAwareLoadBalancerBase, hashKeyOf, type HashingLoadBalancer, type NormalizedHostWeight,
} from './thread_aware_lb_impl.js';

export const DEFAULT_MIN_RING_SIZE = 1024;
export const DEFAULT_MAX_RING_SIZE = 8 * 1024 * 1024;

export type RingHashFunction = 'xx_hash' | 'murmur_hash_2';

export interface RingHashOptions {
  minimumRingSize: number;
  maximumRingSize: number;
  hashFunction: RingHashFunction;
  useHostnameForHashing: boolean;
  localityWeightedBalancing: boolean;
}

interface RingStats {
  readonly size: Gauge;
  readonly min_hashes_per_host: Gauge;
  readonly max_hashes_per_host: Gauge;
}

/** The sorted ring of one host list. */
export class Ring implements HashingLoadBalancer {
  private readonly hashes: BigUint64Array;
  private readonly hosts: Host[];
  /** The planned ring size, `ceil(scale)` (running sums may add a point). */
  readonly plannedSize: number;
  /** Points per host, smallest and largest (for stats and tests). */
  readonly minHashesPerHost: number;
  readonly maxHashesPerHost: number;

  constructor(weights: ReadonlyArray<NormalizedHostWeight>, minNormalizedWeight: number, options: RingHashOptions) {
    if (weights.length === 0) {
      this.hashes = new BigUint64Array(0);
      this.hosts = [];
      this.plannedSize = 0;
      this.minHashesPerHost = 0;
      this.maxHashesPerHost = 0;
      return;
    }
    // Scale so that the lightest host gets a whole number of points, within the max size.
    const scale = Math.min(Math.ceil(minNormalizedWeight * options.minimumRingSize) / minNormalizedWeight, options.maximumRingSize);
    const ringSize = Math.ceil(scale);
    const hashFn = options.hashFunction === 'murmur_hash_2' ? murmurHash2String : xxHash64String;
    const entries: Array<{ hash: bigint; host: Host }> = [];
    // Running sums keep the total near `scale` when per-host counts are fractional.
    let current = 0;
    let target = 0;
    let minHashes = ringSize;
    let maxHashes = 0;
    for (const { host, weight } of weights) {
      const prefix = `${hashKeyOf(host, options.useHostnameForHashing)}_`;
      target += scale * weight;
      let i = 0;
      while (current < target) {
        entries.push({ hash: hashFn(prefix + i), host });
        i++;
        current++;
      }
      minHashes = Math.min(minHashes, i);
      maxHashes = Math.max(maxHashes, i);
    }
    entries.sort((a, b) => (a.hash < b.hash ? -1 : a.hash > b.hash ? 1 : 0));
    this.hashes = BigUint64Array.from(entries, (e) => e.hash);
    this.hosts = entries.map((e) => e.host);
    this.plannedSize = ringSize;
    this.minHashesPerHost = minHashes;
    this.maxHashesPerHost = maxHashes;
  }

  get size(): number {
    return this.hashes.length;
  }

  chooseHost(hash: bigint, attempt: number): Host | null {
    const n = this.hashes.length;
    if (n === 0) return null;
    // First point at or after the hash, wrapping to the start.
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.hashes[mid] < hash) lo = mid + 1;
      else hi = mid;
    }
    let i = lo === n ? 0 : lo;
    // A retry behaves as if this point were not on the ring (it may still land on the same host).
    if (attempt > 0) i = (i + attempt) % n;
    return this.hosts[i];
  }
}

export class RingHashLoadBalancer extends ThreadAwareLoadBalancerBase {
  private readonly ringStats: RingStats | null;

  constructor(
    prioritySet: PrioritySetImpl,
    stats: LbStatsSubset,
    random: RandomGenerator,
    healthyPanicThreshold: number,
    private readonly options: RingHashOptions,
    /** `cluster.<name>.` for the `ring_hash_lb.*` gauges (none when absent). */
    scope?: Scope,
  ) {
    super(prioritySet, stats, random, healthyPanicThreshold, options.localityWeightedBalancing);
    this.ringStats = scope === undefined ? null : {
      size: scope.gauge('ring_hash_lb.size'),
      min_hashes_per_host: scope.gauge('ring_hash_lb.min_hashes_per_host'),
      max_hashes_per_host: scope.gauge('ring_hash_lb.max_hashes_per_host'),
    };
    this.initialize();
  }

  protected override createHashingLoadBalancer(
    weights: NormalizedHostWeight[],
    minWeight: number,
    _maxWeight: number,
    primary: boolean,
  ): HashingLoadBalancer {
    const ring = new Ring(weights, minWeight, this.options);
    if (primary && this.ringStats !== null && ring.size > 0) {
      this.ringStats.size.set(ring.plannedSize);
      this.ringStats.min_hashes_per_host.set(ring.minHashesPerHost);
      this.ringStats.max_hashes_per_host.set(ring.maxHashesPerHost);
    }
    return ring;
  }
}
