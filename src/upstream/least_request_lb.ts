/**
 * Least request, after Envoy's `LeastRequestLoadBalancer`
 * (source/extensions/load_balancing_policies/least_request/least_request_lb.cc).
 *
 * Equal weights: sample `choice_count` hosts at random (default 2, "power of
 * two choices") and take the one with the fewest active requests; with
 * `selection_method: FULL_SCAN`, scan every host and break ties at random.
 * Different weights: the EDF schedule with each host weighted
 * `weight / (active_requests + 1) ^ active_request_bias` at the time it is
 * (re)scheduled (bias 0 behaves like weighted round robin).
 */
import type { Host } from '../envoy/upstream/host.js';
import { EdfLoadBalancerBase, type HostsSource, type LbStatsSubset, type RandomGenerator } from './load_balancer_impl.js';
import type { PrioritySetImpl } from './priority_set_impl.js';

export interface LeastRequestOptions {
  choiceCount: number;
  activeRequestBias: number;
  fullScan: boolean;
}

export class LeastRequestLoadBalancer extends EdfLoadBalancerBase {
  private readonly choiceCount: number;
  private readonly activeRequestBias: number;
  private readonly fullScan: boolean;

  constructor(
    prioritySet: PrioritySetImpl,
    stats: LbStatsSubset,
    random: RandomGenerator,
    healthyPanicThreshold: number,
    options: LeastRequestOptions,
    localityWeightedBalancing = false,
  ) {
    super(prioritySet, stats, random, healthyPanicThreshold, localityWeightedBalancing);
    this.choiceCount = options.choiceCount;
    this.activeRequestBias = options.activeRequestBias;
    this.fullScan = options.fullScan;
    this.initialize();
  }

  protected override hostWeight(host: Host): number {
    const active = host.activeRequests + 1;
    if (this.activeRequestBias === 1) return host.weight / active;
    if (this.activeRequestBias === 0) return host.weight;
    return host.weight / Math.pow(active, this.activeRequestBias);
  }

  protected override unweightedHostPick(hosts: ReadonlyArray<Host>, _source: HostsSource): Host | null {
    return this.fullScan ? this.pickFullScan(hosts) : this.pickNChoices(hosts);
  }

  private pickNChoices(hosts: ReadonlyArray<Host>): Host | null {
    let candidate: Host | null = null;
    for (let i = 0; i < this.choiceCount; i++) {
      const sampled = hosts[this.random.random() % hosts.length];
      if (candidate === null || sampled.activeRequests < candidate.activeRequests) candidate = sampled;
    }
    return candidate;
  }

  private pickFullScan(hosts: ReadonlyArray<Host>): Host | null {
    let candidate: Host | null = null;
    let tied = 0;
    for (const h of hosts) {
      if (candidate === null || h.activeRequests < candidate.activeRequests) {
        candidate = h;
        tied = 1;
      } else if (h.activeRequests === candidate.activeRequests) {
        // Reservoir sampling: each tied host ends up chosen with equal chance.
        tied++;
        if (this.random.random() % tied === 0) candidate = h;
      }
    }
    return candidate;
  }
}
