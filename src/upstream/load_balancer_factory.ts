/**
 * Builds the load balancer a cluster's LbSettings ask for.
 */
import type { LoadBalancer } from '../envoy/upstream/cluster_manager.js';
import { LeastRequestLoadBalancer } from './least_request_lb.js';
import type { LbSettings } from './load_balancer_config.js';
import type { LbStatsSubset, RandomGenerator } from './load_balancer_impl.js';
import type { PrioritySetImpl } from './priority_set_impl.js';
import { RandomLoadBalancer } from './random_lb.js';
import { RoundRobinLoadBalancer } from './round_robin_lb.js';

export function createLoadBalancer(
  settings: LbSettings,
  prioritySet: PrioritySetImpl,
  stats: LbStatsSubset,
  random: RandomGenerator,
): LoadBalancer {
  const p = settings.policy;
  switch (p.kind) {
    case 'round_robin':
      return new RoundRobinLoadBalancer(prioritySet, stats, random, settings.healthyPanicThreshold);
    case 'least_request':
      return new LeastRequestLoadBalancer(prioritySet, stats, random, settings.healthyPanicThreshold, p);
    case 'random':
      return new RandomLoadBalancer(prioritySet, stats, random, settings.healthyPanicThreshold);
  }
}
