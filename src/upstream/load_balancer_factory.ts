/**
 * Builds the load balancer a cluster's LbSettings ask for.
 */
import type { Scope } from '../envoy/stats/stats.js';
import type { LoadBalancer } from '../envoy/upstream/cluster_manager.js';
import { LeastRequestLoadBalancer } from './least_request_lb.js';
import type { LbSettings } from './load_balancer_config.js';
import type { LbStatsSubset, RandomGenerator } from './load_balancer_impl.js';
import { MaglevLoadBalancer } from './maglev_lb.js';
import type { PrioritySetImpl } from './priority_set_impl.js';
import { RandomLoadBalancer } from './random_lb.js';
import { RingHashLoadBalancer } from './ring_hash_lb.js';
import { RoundRobinLoadBalancer } from './round_robin_lb.js';

export function createLoadBalancer(
  settings: LbSettings,
  prioritySet: PrioritySetImpl,
  stats: LbStatsSubset,
  random: RandomGenerator,
  /** `cluster.<name>.`, for policy stats (`ring_hash_lb.*`, `maglev_lb.*`). */
  scope?: Scope,
): LoadBalancer {
  const p = settings.policy;
  const panic = settings.healthyPanicThreshold;
  const locality = settings.localityWeightedBalancing;
  switch (p.kind) {
    case 'round_robin':
      return new RoundRobinLoadBalancer(prioritySet, stats, random, panic, locality);
    case 'least_request':
      return new LeastRequestLoadBalancer(prioritySet, stats, random, panic, p, locality);
    case 'random':
      return new RandomLoadBalancer(prioritySet, stats, random, panic, locality);
    case 'ring_hash':
      return new RingHashLoadBalancer(prioritySet, stats, random, panic, { ...p, localityWeightedBalancing: locality }, scope);
    case 'maglev':
      return new MaglevLoadBalancer(prioritySet, stats, random, panic, { ...p, localityWeightedBalancing: locality }, scope);
  }
}
