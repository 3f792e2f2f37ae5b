/**
 * The base of the hashing load balancers (ring hash, Maglev), after Envoy's
 * `ThreadAwareLoadBalancerBase`
 * (source/extensions/load_balancing_policies/common/thread_aware_lb_impl.cc).
 *
 * On every host or health change it rebuilds, per priority level, a hashing
 * structure (ring or table) over that level's healthy hosts — or over all its
 * hosts when the level is in panic — with each host's share being its
 * normalized weight: `weight / sum(weights)`, or with
 * `locality_weighted_lb_config` `weight / sum(weights in locality) *
 * locality_weight / sum(locality weights)` (localities of weight 0 get nothing).
 *
 * A pick takes the request's hash (`LoadBalancerContext.computeHashKey()`,
 * from the route's hash_policy) or, with none, a random 64-bit value, so the
 * balancer degrades to random rather than failing. The same hash chooses the
 * priority (`hash % 100` against the priority load, as Envoy) and then the
 * host, so a key sticks to one host while the host set is unchanged.
 * Host-selection retries pass `attempt` to the structure, which answers with
 * another position.
 *
 * Degraded hosts: Envoy builds its structures from healthy hosts only, so a
 * level chosen for its degraded load has nobody to pick. Legate also builds
 * one over the level's degraded hosts and uses it in that case, which is what
 * the priority-load documentation promises (degraded hosts take the load the
 * healthy ones cannot).
 */
import type { LoadBalancerContext } from '../envoy/upstream/cluster_manager.js';
import type { Host } from '../envoy/upstream/host.js';
import { LoadBalancerBase, type LbStatsSubset, type RandomGenerator } from './load_balancer_impl.js';
import type { HostSetImpl, PrioritySetImpl } from './priority_set_impl.js';

/** A host and its share of the priority level (shares sum to at most 1). */
export interface NormalizedHostWeight {
  readonly host: Host;
  readonly weight: number;
}

/** A ring or table built over one host list. */
export interface HashingLoadBalancer {
  /** The host for `hash`; `attempt` > 0 asks for an alternative (host-selection retries). Null when empty. */
  chooseHost(hash: bigint, attempt: number): Host | null;
}

/**
 * The string a host is placed by: its `envoy.lb` metadata `hash_key` when set,
 * else its hostname (`use_hostname_for_hashing`) or its `ip:port`. A host
 * without a hostname falls back to `ip:port` (Envoy asserts a non-empty key;
 * an empty one would put every such host on the same points).
 */
export function hashKeyOf(host: Host, useHostname: boolean): string {
  const v = host.metadata['envoy.lb']?.['hash_key'];
  if (typeof v === 'string' && v !== '') return v;
  return useHostname && host.hostname !== '' ? host.hostname : host.addressString;
}

interface PriorityState {
  /** Over healthy hosts, or all hosts in panic. */
  readonly lb: HashingLoadBalancer;
  /** Over degraded hosts (null when there are none or in panic). */
  readonly degradedLb: HashingLoadBalancer | null;
  readonly panic: boolean;
}

const EMPTY: HashingLoadBalancer = { chooseHost: () => null };

export abstract class ThreadAwareLoadBalancerBase extends LoadBalancerBase {
  private perPriority: PriorityState[] = [];

  constructor(
    prioritySet: PrioritySetImpl,
    stats: LbStatsSubset,
    random: RandomGenerator,
    healthyPanicThreshold: number,
    /** Locality weights shape the normalized host weights (not a locality pick). */
    private readonly hashLocalityWeighted: boolean,
  ) {
    super(prioritySet, stats, random, healthyPanicThreshold);
  }

  /** Builds the structures; subclasses call it at the end of their constructor. */
  protected initialize(): void {
    this.refresh();
    // Registered after LoadBalancerBase's callback, so panic flags are current here.
    this.prioritySet.addMemberUpdateCb(() => this.refresh());
  }

  /**
   * A ring / table over `weights`. `minWeight`/`maxWeight` are the smallest
   * and largest normalized weight (1 and 0 when `weights` is empty).
   * `primary` is false for the degraded-host structure (no stats from it).
   */
  protected abstract createHashingLoadBalancer(
    weights: NormalizedHostWeight[],
    minWeight: number,
    maxWeight: number,
    primary: boolean,
  ): HashingLoadBalancer;

  private refresh(): void {
    const next: PriorityState[] = [];
    for (const hs of this.prioritySet.hostSetsPerPriority) {
      const panic = this.perPriorityPanic[hs.priority] ?? false;
      const lb = this.build(hs, panic ? hs.hosts : hs.healthyHosts, panic ? hs.hostsPerLocality : hs.healthyHostsPerLocality, true);
      const degradedLb = panic || hs.degradedHosts.length === 0
        ? null
        : this.build(hs, hs.degradedHosts, hs.degradedHostsPerLocality, false);
      next.push({ lb, degradedLb, panic });
    }
    this.perPriority = next;
  }

  private build(
    hs: HostSetImpl,
    hosts: ReadonlyArray<Host>,
    perLocality: ReadonlyArray<ReadonlyArray<Host>>,
    primary: boolean,
  ): HashingLoadBalancer {
    const weights: NormalizedHostWeight[] = [];
    const useLocalities = this.hashLocalityWeighted && hs.localityWeights.length > 0;
    if (!useLocalities) {
      normalizeHostWeights(hosts, 1, weights);
    } else {
      let sum = 0;
      for (const w of hs.localityWeights) sum += w;
      if (sum > 0) {
        for (let i = 0; i < perLocality.length; i++) {
          const lw = hs.localityWeights[i] ?? 0;
          if (lw > 0) normalizeHostWeights(perLocality[i], lw / sum, weights);
        }
      }
    }
    if (weights.length === 0 && !primary) return EMPTY;
    let min = 1;
    let max = 0;
    for (const w of weights) {
      if (w.weight < min) min = w.weight;
      if (w.weight > max) max = w.weight;
    }
    return this.createHashingLoadBalancer(weights, min, max, primary);
  }

  override chooseHost(context: LoadBalancerContext | null): Host | null {
    const maxAttempts = context === null ? 1 : context.hostSelectionRetryCount() + 1;
    return this.pick(context, maxAttempts);
  }

  protected override chooseHostOnce(context: LoadBalancerContext | null): Host | null {
    return this.pick(context, 1);
  }

  private pick(context: LoadBalancerContext | null, maxAttempts: number): Host | null {
    // computeHashKey() may do work (and set a cookie): ask once.
    const key = context === null ? null : context.computeHashKey();
    const h = key ?? this.random64();
    const chosen = this.choosePriority(Number(h % 100n) + 1);
    if (chosen === null) return null;
    const state = this.perPriority[chosen.priority];
    if (state === undefined) return null;
    if (state.panic) this.stats.lb_healthy_panic.inc();
    const lb = chosen.source === 'degraded' && state.degradedLb !== null ? state.degradedLb : state.lb;
    let host: Host | null = null;
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      host = lb.chooseHost(h, attempt);
      if (host === null || context === null || !context.shouldSelectAnotherHost(host)) return host;
    }
    return host;
  }

  private random64(): bigint {
    return (BigInt(this.random.random() >>> 0) << 32n) | BigInt(this.random.random() >>> 0);
  }
}

/** Appends each host's share: `weight / sum(weights) * scale`. */
function normalizeHostWeights(hosts: ReadonlyArray<Host>, scale: number, out: NormalizedHostWeight[]): void {
  let sum = 0;
  for (const h of hosts) sum += h.weight;
  for (const h of hosts) out.push({ host: h, weight: (h.weight * scale) / sum });
}
