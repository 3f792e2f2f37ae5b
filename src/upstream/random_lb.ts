/**
 * Random, after Envoy's `RandomLoadBalancer`: a uniformly random host of the
 * chosen priority's list (weights are not used, as in Envoy).
 */
import type { LoadBalancerContext } from '../envoy/upstream/cluster_manager.js';
import type { Host } from '../envoy/upstream/host.js';
import { LoadBalancerBase } from './load_balancer_impl.js';

export class RandomLoadBalancer extends LoadBalancerBase {
  protected override chooseHostOnce(_context: LoadBalancerContext | null): Host | null {
    const source = this.hostSourceToUse();
    if (source === null) return null;
    const hosts = this.hostsOf(source);
    if (hosts.length === 0) return null;
    return hosts[this.random.random() % hosts.length];
  }
}
