/**
 * LOGICAL_DNS clusters, after Envoy's `LogicalDnsCluster`
 * (source/extensions/clusters/logical_dns/logical_dns_cluster.cc).
 *
 * Exactly one endpoint (one `LocalityLbEndpoints` with one `lb_endpoints`),
 * always at priority 0. After the first successful resolution the cluster has
 * a single logical host whose address is the *first* address of the answer.
 * Later resolutions move that same host to the new first address
 * (`HostImpl.setAddress`) instead of replacing it: connection pools keep their
 * open connections and use the new address for new ones. An empty answer or a
 * failure leaves the address as it is (`update_failure`) and retries after the
 * failure back-off. With `respect_dns_ttl`, the next refresh follows the first
 * record's TTL.
 */
import type { ClusterInfoImpl } from './cluster_info_impl.js';
import { ClusterImplBase, type EndpointRef } from './cluster_impl_base.js';
import type { DnsResolution } from './dns_resolver.js';
import type { HostImpl } from './host_impl.js';
import { ConfigError } from './proto_util.js';
import type { DnsClusterSettings } from './strict_dns_cluster.js';

export class LogicalDnsCluster extends ClusterImplBase {
  private readonly ep: EndpointRef;
  private readonly hostname: string;
  private host: HostImpl | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(info: ClusterInfoImpl, base: string, private readonly dns: DnsClusterSettings) {
    super(info, base);
    const la = this.config.loadAssignment;
    const eps = this.endpoints();
    if (la === undefined || la.endpoints.length !== 1 || eps.length !== 1) {
      throw new ConfigError(
        `${base}.load_assignment`,
        la === undefined
          ? 'LOGICAL_DNS clusters must have a single host'
          : 'LOGICAL_DNS clusters must have a single locality_lb_endpoint and a single lb_endpoint',
      );
    }
    this.ep = eps[0];
    const configured = this.ep.lbe.hostIdentifier.case === 'endpoint' ? this.ep.lbe.hostIdentifier.value.hostname : '';
    this.hostname = configured !== '' ? configured : this.ep.address;
  }

  /** The logical host, once resolved. */
  get logicalHost(): HostImpl | null {
    return this.host;
  }

  protected override startPreInit(): void {
    this.startResolve();
  }

  override destroy(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.dns.ownsResolver) this.dns.resolver.close();
    super.destroy();
  }

  private startResolve(): void {
    this.timer = null;
    if (this.destroyed) return;
    this.info.stats.update_attempt.inc();
    void this.dns.resolver.resolve(this.ep.address, this.dns.family).then((r) => this.onResolved(r));
  }

  private onResolved(r: DnsResolution): void {
    if (this.destroyed) return;
    let next = this.dns.refreshRateMs;
    if (r.status === 'completed' && r.answers.length > 0) {
      this.info.stats.update_success.inc();
      const first = r.answers[0];
      if (this.host === null) {
        // Envoy's LogicalDnsCluster forces priority 0.
        this.host = this.makeHost(this.ep, first.address, this.hostname, 0);
        this.setHosts(0, [this.host], [this.host], []);
      } else if (this.host.address !== first.address) {
        this.host.setAddress(first.address);
      }
      this.dns.failureBackOff.reset();
      if (this.dns.respectDnsTtl && first.ttlSeconds > 0) next = first.ttlSeconds * 1000;
    } else {
      this.info.stats.update_failure.inc();
      next = this.dns.failureBackOff.nextBackOffMs();
    }
    this.onPreInitComplete();
    this.timer = setTimeout(() => this.startResolve(), next);
    this.timer.unref();
  }
}
