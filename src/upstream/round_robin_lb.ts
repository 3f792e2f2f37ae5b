/**
 * Round robin, after Envoy's `RoundRobinLoadBalancer`
 * (source/extensions/load_balancing_policies/round_robin/round_robin_lb.h).
 *
 * Equal weights: plain rotation over the chosen host list, one index per
 * (priority, source) starting at a random seed and kept across host updates.
 * Different weights: smooth weighted round robin by the EDF schedule, each host
 * picked in proportion to its `load_balancing_weight`.
 */
import type { Host } from '../envoy/upstream/host.js';
import { EdfLoadBalancerBase, sourceIndex, type HostsSource, type LbStatsSubset, type RandomGenerator } from './load_balancer_impl.js';
import type { PrioritySetImpl } from './priority_set_impl.js';

export class RoundRobinLoadBalancer extends EdfLoadBalancerBase {
  /** rrIndexes[priority][sourceIndex]: next position in the rotation. */
  private readonly rrIndexes: number[][] = [];

  constructor(
    prioritySet: PrioritySetImpl,
    stats: LbStatsSubset,
    random: RandomGenerator,
    healthyPanicThreshold: number,
    localityWeightedBalancing = false,
  ) {
    super(prioritySet, stats, random, healthyPanicThreshold, localityWeightedBalancing);
    this.initialize();
  }

  protected override refreshHostSource(source: HostsSource): void {
    // Keep existing indexes: a host update does not restart the rotation.
    while (this.rrIndexes.length <= source.priority) this.rrIndexes.push([]);
    const indexes = this.rrIndexes[source.priority];
    const si = sourceIndex(source);
    while (indexes.length <= si) indexes.push(this.seed);
  }

  protected override hostWeight(host: Host): number {
    return host.weight;
  }

  protected override unweightedHostPick(hosts: ReadonlyArray<Host>, source: HostsSource): Host {
    const indexes = this.rrIndexes[source.priority];
    const si = sourceIndex(source);
    const i = indexes[si];
    indexes[si] = (i + 1) % 0x100000000;
    return hosts[i % hosts.length];
  }
}
