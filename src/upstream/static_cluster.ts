/**
 * STATIC clusters, after Envoy's `StaticClusterImpl`
 * (source/extensions/clusters/static/static_cluster.cc): every
 * `load_assignment` endpoint is a host at its configured IP, in its
 * `LocalityLbEndpoints.priority`, with its `load_balancing_weight` and the
 * health flags of its `health_status` (UNHEALTHY/TIMEOUT -> failed_eds_health,
 * DRAINING -> eds_status_draining (excluded), DEGRADED -> degraded_eds_health).
 * The cluster is warm as soon as it is created.
 */
import type { Host } from '../envoy/upstream/host.js';
import type { ClusterInfoImpl } from './cluster_info_impl.js';
import { ClusterImplBase, requireIpAddress } from './cluster_impl_base.js';

export class StaticClusterImpl extends ClusterImplBase {
  constructor(info: ClusterInfoImpl, base: string) {
    super(info, base);
    const byPriority = new Map<number, Host[]>();
    for (const ep of this.endpoints()) {
      requireIpAddress(ep, 'STATIC');
      const host = this.makeHost(ep, ep.address, ep.lbe.hostIdentifier.case === 'endpoint' ? ep.lbe.hostIdentifier.value.hostname : '');
      const list = byPriority.get(ep.lle.priority) ?? [];
      list.push(host);
      byPriority.set(ep.lle.priority, list);
    }
    for (const p of [...byPriority.keys()].sort((a, b) => a - b)) {
      const hosts = byPriority.get(p) as Host[];
      this.setHosts(p, hosts, hosts, []);
    }
  }

  protected override startPreInit(): void {
    this.onPreInitComplete();
  }
}
