/**
 * STRICT_DNS clusters, after Envoy's `StrictDnsClusterImpl`
 * (source/extensions/clusters/strict_dns/strict_dns_cluster.cc).
 *
 * Each `lb_endpoints[]` entry is a resolve target: its name is resolved with
 * the cluster's `dns_lookup_family`, and every address of the answer becomes a
 * host (same port, weight, locality, priority, metadata and health status as
 * the endpoint). A target re-resolves every `dns_refresh_rate` (default 5 s),
 * or after the smallest record TTL with `respect_dns_ttl` (a TTL of 0 keeps
 * the refresh rate). Hosts whose address stays in the answer keep their
 * identity (stats, health, pools); new addresses are added, missing ones
 * removed. A completed resolution with no address (NODATA/NXDOMAIN) empties
 * the target, as in Envoy. A failed resolution (SERVFAIL, timeout...) keeps
 * the current hosts and retries after `dns_failure_refresh_rate` back-off
 * (default: the refresh rate).
 *
 * Stats: `update_attempt` per query, then `update_success` or
 * `update_failure`; `update_no_rebuild` when a success changed nothing.
 *
 * Warm once every target has completed its first resolution (Envoy warms after
 * the first target; waiting for all gives a fuller host set at startup).
 */
import type { Host } from '../envoy/upstream/host.js';
import type { BackOffStrategy } from './backoff_strategy.js';
import type { ClusterInfoImpl } from './cluster_info_impl.js';
import { ClusterImplBase, type EndpointRef } from './cluster_impl_base.js';
import type { DnsLookupFamily, DnsResolution, DnsResolver } from './dns_resolver.js';
import type { HostImpl } from './host_impl.js';

export interface DnsClusterSettings {
  resolver: DnsResolver;
  /** True when the cluster owns the resolver (closes it on destroy). */
  ownsResolver: boolean;
  family: DnsLookupFamily;
  refreshRateMs: number;
  respectDnsTtl: boolean;
  failureBackOff: BackOffStrategy;
}

interface ResolveTarget {
  ep: EndpointRef;
  hostname: string;
  hosts: HostImpl[];
  timer: NodeJS.Timeout | null;
  resolvedOnce: boolean;
}

export class StrictDnsClusterImpl extends ClusterImplBase {
  private readonly targets: ResolveTarget[];

  constructor(info: ClusterInfoImpl, base: string, private readonly dns: DnsClusterSettings) {
    super(info, base);
    this.targets = this.endpoints().map((ep) => {
      const configured = ep.lbe.hostIdentifier.case === 'endpoint' ? ep.lbe.hostIdentifier.value.hostname : '';
      return { ep, hostname: configured !== '' ? configured : ep.address, hosts: [], timer: null, resolvedOnce: false };
    });
    // Priorities named in the config exist (empty) before the first answer.
    for (const t of this.targets) this.prioritySet.getOrCreateHostSet(t.ep.lle.priority).overprovisioningFactor = this.overprovisioningFactor;
  }

  protected override startPreInit(): void {
    if (this.targets.length === 0) {
      this.onPreInitComplete();
      return;
    }
    for (const t of this.targets) this.startResolve(t);
  }

  override destroy(): void {
    for (const t of this.targets) {
      if (t.timer !== null) clearTimeout(t.timer);
      t.timer = null;
    }
    if (this.dns.ownsResolver) this.dns.resolver.close();
    super.destroy();
  }

  private startResolve(t: ResolveTarget): void {
    t.timer = null;
    if (this.destroyed) return;
    this.info.stats.update_attempt.inc();
    void this.dns.resolver.resolve(t.ep.address, this.dns.family).then((r) => this.onResolved(t, r));
  }

  private onResolved(t: ResolveTarget, r: DnsResolution): void {
    if (this.destroyed) return;
    const stats = this.info.stats;
    let next = this.dns.refreshRateMs;
    if (r.status === 'completed') {
      stats.update_success.inc();
      const byAddress = new Map<string, HostImpl>();
      for (const h of t.hosts) byAddress.set(h.address, h);
      const newHosts: HostImpl[] = [];
      const seen = new Set<string>();
      const added: Host[] = [];
      let minTtl = Infinity;
      for (const a of r.answers) {
        if (seen.has(a.address)) continue;
        seen.add(a.address);
        minTtl = Math.min(minTtl, a.ttlSeconds);
        const existing = byAddress.get(a.address);
        if (existing !== undefined) {
          newHosts.push(existing);
        } else {
          const h = this.makeHost(t.ep, a.address, t.hostname);
          newHosts.push(h);
          added.push(h);
        }
      }
      const removed: Host[] = t.hosts.filter((h) => !seen.has(h.address));
      if (added.length > 0 || removed.length > 0) {
        t.hosts = newHosts;
        this.updatePriority(t.ep.lle.priority, added, removed);
      } else {
        stats.update_no_rebuild.inc();
      }
      this.dns.failureBackOff.reset();
      if (this.dns.respectDnsTtl && r.answers.length > 0 && minTtl > 0 && Number.isFinite(minTtl)) {
        next = minTtl * 1000;
      }
    } else {
      stats.update_failure.inc();
      next = this.dns.failureBackOff.nextBackOffMs();
    }
    t.resolvedOnce = true;
    if (this.targets.every((x) => x.resolvedOnce)) this.onPreInitComplete();
    t.timer = setTimeout(() => this.startResolve(t), next);
    t.timer.unref();
  }

  /** Rebuilds one priority level from every target in it (config order). */
  private updatePriority(priority: number, added: Host[], removed: Host[]): void {
    const hosts: Host[] = [];
    for (const t of this.targets) if (t.ep.lle.priority === priority) hosts.push(...t.hosts);
    this.setHosts(priority, hosts, added, removed);
  }
}
