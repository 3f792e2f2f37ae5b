/**
 * Maglev, after Envoy's `MaglevLoadBalancer`
 * (source/extensions/load_balancing_policies/maglev/maglev_lb.cc) and the
 * Maglev paper (Eisenbud et al., NSDI 2016, pseudocode listing 1).
 *
 * A lookup table of `table_size` slots (a prime, default 65537) is filled by
 * the hosts in turn, each walking its own permutation of the slots
 * (`offset = xxh64(key) % size`, `skip = xxh64(key, seed 1) % (size - 1) + 1`)
 * and taking the next free slot; a host of lower normalized weight takes its
 * turn less often, so slots are shared in proportion to weight. Hosts are
 * visited sorted by key so the table depends only on the host set. A request
 * goes to `table[hash % size]`: O(1), and removing one of N hosts moves only
 * about 1/N of the keys (a bit more than ring hash, in exchange for an even
 * spread). Stats: `maglev_lb.min_entries_per_host`, `max_entries_per_host`.
 */
import type { Gauge, Scope } from '../envoy/stats/stats.js';
import type { Host } from '../envoy/upstream/host.js';
import { xxHash64String } from '../common/hash/xxhash64.js';
import type { LbStatsSubset, RandomGenerator } from './load_balancer_impl.js';
import type { PrioritySetImpl } from './priority_set_impl.js';
import {
  ThreadAwareLoadBalancerBase, hashKeyOf, type HashingLoadBalancer, type NormalizedHostWeight,
} from './thread_aware_lb_impl.js';

export const DEFAULT_MAGLEV_TABLE_SIZE = 65537;
/** Largest `table_size` Envoy accepts (its PGV rule). */
export const MAX_MAGLEV_TABLE_SIZE = 5000011;

const MASK = 0xffffffffffffffffn;

export interface MaglevOptions {
  tableSize: number;
  useHostnameForHashing: boolean;
  localityWeightedBalancing: boolean;
}

interface BuildEntry {
  readonly key: string;
  readonly host: Host;
  readonly offset: number;
  readonly skip: number;
  readonly weight: number;
  targetWeight: number;
  next: number;
  count: number;
}

/** The lookup table of one host list. */
export class MaglevTable implements HashingLoadBalancer {
  /** Index into `hosts` per slot. */
  private readonly table: Uint32Array;
  private readonly hosts: Host[];
  readonly minEntriesPerHost: number;
  readonly maxEntriesPerHost: number;

  constructor(weights: ReadonlyArray<NormalizedHostWeight>, maxNormalizedWeight: number, private readonly tableSize: number, useHostname: boolean) {
    if (weights.length === 0) {
      this.table = new Uint32Array(0);
      this.hosts = [];
      this.minEntriesPerHost = 0;
      this.maxEntriesPerHost = 0;
      return;
    }
    const size = BigInt(tableSize);
    const entries: BuildEntry[] = weights.map(({ host, weight }) => {
      const key = hashKeyOf(host, useHostname);
      return {
        key,
        host,
        offset: Number(xxHash64String(key) % size),
        skip: Number(xxHash64String(key, 1n) % (size - 1n)) + 1,
        weight,
        targetWeight: 0,
        next: 0,
        count: 0,
      };
    });
    entries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const table = new Uint32Array(tableSize);
    const taken = new Uint8Array(tableSize);
    let filled = 0;
    for (let iteration = 1; filled < tableSize; iteration++) {
      for (let i = 0; i < entries.length && filled < tableSize; i++) {
        const e = entries[i];
        // A host of weight max/k takes a turn every k iterations.
        if (iteration * e.weight < e.targetWeight) continue;
        e.targetWeight += maxNormalizedWeight;
        let c = permutation(e, tableSize);
        while (taken[c] === 1) {
          e.next++;
          c = permutation(e, tableSize);
        }
        table[c] = i;
        taken[c] = 1;
        e.next++;
        e.count++;
        filled++;
      }
    }
    this.table = table;
    this.hosts = entries.map((e) => e.host);
    let min = tableSize;
    let max = 0;
    for (const e of entries) {
      min = Math.min(min, e.count);
      max = Math.max(max, e.count);
    }
    this.minEntriesPerHost = min;
    this.maxEntriesPerHost = max;
  }

  chooseHost(hash: bigint, attempt: number): Host | null {
    if (this.hosts.length === 0) return null;
    // A retry flips many bits of the hash so that it lands far away.
    if (attempt > 0) hash ^= (MASK - BigInt(attempt) + 1n) & MASK;
    return this.hosts[this.table[Number(hash % BigInt(this.tableSize))]];
  }
}

function permutation(e: BuildEntry, size: number): number {
  // next < size, so skip * next stays far below 2^53.
  return (e.offset + e.skip * (e.next % size)) % size;
}

/** Whether `n` is prime (trial division; table sizes are at most ~5M). */
export function isPrime(n: number): boolean {
  if (!Number.isInteger(n) || n < 2) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}

export class MaglevLoadBalancer extends ThreadAwareLoadBalancerBase {
  private readonly maglevStats: { min: Gauge; max: Gauge } | null;

  constructor(
    prioritySet: PrioritySetImpl,
    stats: LbStatsSubset,
    random: RandomGenerator,
    healthyPanicThreshold: number,
    private readonly options: MaglevOptions,
    /** `cluster.<name>.` for the `maglev_lb.*` gauges (none when absent). */
    scope?: Scope,
  ) {
    super(prioritySet, stats, random, healthyPanicThreshold, options.localityWeightedBalancing);
    if (!isPrime(options.tableSize)) throw new Error(`maglev table_size ${options.tableSize} is not a prime number`);
    this.maglevStats = scope === undefined ? null : {
      min: scope.gauge('maglev_lb.min_entries_per_host'),
      max: scope.gauge('maglev_lb.max_entries_per_host'),
    };
    this.initialize();
  }

  protected override createHashingLoadBalancer(
    weights: NormalizedHostWeight[],
    _minWeight: number,
    maxWeight: number,
    primary: boolean,
  ): HashingLoadBalancer {
    const table = new MaglevTable(weights, maxWeight, this.options.tableSize, this.options.useHostnameForHashing);
    if (primary && this.maglevStats !== null && weights.length > 0) {
      this.maglevStats.min.set(table.minEntriesPerHost);
      this.maglevStats.max.set(table.maxEntriesPerHost);
    }
    return table;
  }
}
