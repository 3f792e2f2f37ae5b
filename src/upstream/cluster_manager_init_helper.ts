/**
 * The cluster manager's start-up sequence, after Envoy's
 * `ClusterManagerInitHelper` (source/common/upstream/cluster_manager_impl.cc):
 *
 *   loading           static clusters are registered (addCluster); primary
 *                     ones (everything but EDS over gRPC/ADS) start at once
 *   waiting_static    onStaticLoadComplete(): wait for the primary clusters,
 *                     then start the secondary ones (EDS: their xDS stream
 *                     usually rides on a primary cluster) and wait for them
 *   waiting_cds       then, with CDS, start it and wait for its first update
 *                     (or failure / initial_fetch_timeout)
 *   cds_initialized   clusters that update added warm like static ones
 *   initialized       every callback given to onInitialized() runs
 *
 * Each cluster bounds its own wait (DNS timeouts, EDS initial_fetch_timeout),
 * so the sequence always ends unless a config source sets no timeout. Clusters
 * added by CDS once initialized start on their own (not through here).
 */
import type { ClusterImplBase } from './cluster_impl_base.js';

type State = 'loading' | 'waiting_static' | 'waiting_cds' | 'cds_initialized' | 'initialized';

/** What the helper needs of the CDS API: start it, hear once when its first update is done. */
export interface CdsInitTarget {
  initialize(onInitialized: () => void): void;
}

export class ClusterManagerInitHelper {
  private state: State = 'loading';
  private readonly primary = new Set<ClusterImplBase>();
  private readonly secondary = new Set<ClusterImplBase>();
  private startedSecondary = false;
  private cds: CdsInitTarget | null = null;
  private readonly callbacks: Array<() => void> = [];

  get isInitialized(): boolean {
    return this.state === 'initialized';
  }

  /** Clusters still initializing, for logs. */
  pendingClusters(): string[] {
    return [...this.primary, ...this.secondary].map((c) => c.info.name);
  }

  /**
   * Tracks a cluster until it is warm and starts it when its phase comes.
   * Only while not initialized; the caller starts later clusters itself.
   */
  addCluster(cluster: ClusterImplBase): void {
    if (this.state === 'initialized') throw new Error('ClusterManagerInitHelper.addCluster() after initialization');
    const list = cluster.initializePhase === 'primary' ? this.primary : this.secondary;
    list.add(cluster);
    // Also fires when the cluster is destroyed first (removed, replaced): no wait on a dead cluster.
    cluster.onInitialized(() => {
      list.delete(cluster);
      this.maybeFinishInitialize();
    });
    if (list === this.primary || this.startedSecondary) void cluster.initialize();
  }

  /** The CDS API to start once the static clusters are warm. Before onStaticLoadComplete(). */
  setCds(cds: CdsInitTarget): void {
    if (this.state !== 'loading') throw new Error('ClusterManagerInitHelper.setCds() after the static load');
    this.cds = cds;
  }

  /** Every static cluster has been added. */
  onStaticLoadComplete(): void {
    if (this.state !== 'loading') return;
    this.state = 'waiting_static';
    this.maybeFinishInitialize();
  }

  /** Runs `cb` once initialization is complete (at once if it is). */
  onInitialized(cb: () => void): void {
    if (this.state === 'initialized') cb();
    else this.callbacks.push(cb);
  }

  private maybeFinishInitialize(): void {
    if (this.state === 'loading' || this.state === 'waiting_cds' || this.state === 'initialized') return;
    if (this.primary.size > 0) return;
    if (this.secondary.size > 0) {
      if (!this.startedSecondary) {
        this.startedSecondary = true;
        for (const c of [...this.secondary]) void c.initialize();
      }
      return;
    }
    // Clusters a first CDS update adds go through primary/secondary again.
    this.startedSecondary = false;
    if (this.state === 'waiting_static' && this.cds !== null) {
      this.state = 'waiting_cds';
      this.cds.initialize(() => {
        if (this.state !== 'waiting_cds') return;
        this.state = 'cds_initialized';
        this.maybeFinishInitialize();
      });
      return;
    }
    this.state = 'initialized';
    for (const cb of this.callbacks.splice(0)) cb();
  }
}
