/**
 * Host sets per priority level, after Envoy's `HostSetImpl` / `PrioritySetImpl`.
 *
 * A HostSet holds every host of one priority and the precomputed partitions
 * the load balancers read: healthy, degraded and excluded. Partitions are
 * rebuilt on `updateHosts()` (membership change) and `refreshHealth()` (a
 * health flag changed: health checker, outlier detection). Member callbacks
 * run synchronously after each change, once per changed priority, with the
 * hosts added and removed (both empty for a health-only change). Update
 * callbacks run once per update, after every priority it touched: once per
 * `batchUpdate()` (an EDS assignment), or once per single change outside one.
 */
import type { HostSet, PrioritySet } from '../envoy/upstream/cluster_manager.js';
import type { Host } from '../envoy/upstream/host.js';
import { EXCLUDED_FLAGS, coarseHealthOf } from './host_impl.js';

export const DEFAULT_OVERPROVISIONING_FACTOR = 140;

export type MemberUpdateCb = (priority: number, added: ReadonlyArray<Host>, removed: ReadonlyArray<Host>) => void;

export class HostSetImpl implements HostSet {
  hosts: ReadonlyArray<Host> = [];
  healthyHosts: ReadonlyArray<Host> = [];
  degradedHosts: ReadonlyArray<Host> = [];
  /** Hosts that do not count toward the priority's size (draining, pending removal...). */
  excludedHosts: ReadonlyArray<Host> = [];
  /** Percent, e.g. 140 = 1.4 (ClusterLoadAssignment.policy.overprovisioning_factor). */
  overprovisioningFactor = DEFAULT_OVERPROVISIONING_FACTOR;

  constructor(readonly priority: number) {}

  /** Recomputes the healthy/degraded/excluded partitions from the hosts' flags. */
  partition(): void {
    const healthy: Host[] = [];
    const degraded: Host[] = [];
    const excluded: Host[] = [];
    for (const h of this.hosts) {
      if (h.healthFlags & EXCLUDED_FLAGS) {
        excluded.push(h);
        continue;
      }
      const c = coarseHealthOf(h.healthFlags);
      if (c === 'healthy') healthy.push(h);
      else if (c === 'degraded') degraded.push(h);
    }
    this.healthyHosts = healthy;
    this.degradedHosts = degraded;
    this.excludedHosts = excluded;
  }
}

export class PrioritySetImpl implements PrioritySet {
  private readonly sets: HostSetImpl[] = [];
  private readonly callbacks = new Set<MemberUpdateCb>();
  private readonly updateCallbacks = new Set<() => void>();
  private batchDepth = 0;
  private batchChanged = false;

  constructor() {
    // Envoy always has at least P=0.
    this.getOrCreateHostSet(0);
  }

  get hostSetsPerPriority(): ReadonlyArray<HostSetImpl> {
    return this.sets;
  }

  /** The host set for `priority`, creating it (and every lower-numbered one) if needed. */
  getOrCreateHostSet(priority: number): HostSetImpl {
    while (this.sets.length <= priority) this.sets.push(new HostSetImpl(this.sets.length));
    return this.sets[priority];
  }

  addMemberUpdateCb(cb: MemberUpdateCb): () => void {
    this.callbacks.add(cb);
    return () => {
      this.callbacks.delete(cb);
    };
  }

  /** `cb` runs once after each complete update (see the file comment). */
  addUpdateCb(cb: () => void): () => void {
    this.updateCallbacks.add(cb);
    return () => {
      this.updateCallbacks.delete(cb);
    };
  }

  /** Runs `fn`, which may update several priorities; update callbacks fire once at the end. */
  batchUpdate(fn: () => void): void {
    this.batchDepth++;
    try {
      fn();
    } finally {
      this.batchDepth--;
      this.flushUpdate();
    }
  }

  /**
   * Replaces the hosts of `priority` and notifies. `added`/`removed` are what
   * changed relative to the previous list (the caller knows; passing them
   * avoids a diff here).
   */
  updateHosts(
    priority: number,
    hosts: ReadonlyArray<Host>,
    added: ReadonlyArray<Host>,
    removed: ReadonlyArray<Host>,
    overprovisioningFactor?: number,
  ): void {
    const set = this.getOrCreateHostSet(priority);
    set.hosts = hosts;
    if (overprovisioningFactor !== undefined) set.overprovisioningFactor = overprovisioningFactor;
    set.partition();
    this.notify(priority, added, removed);
  }

  /** Re-partitions after health flags changed (no membership change) and notifies. */
  refreshHealth(priority?: number): void {
    const targets = priority === undefined ? this.sets : [this.getOrCreateHostSet(priority)];
    for (const set of targets) {
      set.partition();
      this.notify(set.priority, [], []);
    }
  }

  /** Every host of every priority. */
  allHosts(): Host[] {
    const out: Host[] = [];
    for (const s of this.sets) out.push(...s.hosts);
    return out;
  }

  private notify(priority: number, added: ReadonlyArray<Host>, removed: ReadonlyArray<Host>): void {
    for (const cb of [...this.callbacks]) cb(priority, added, removed);
    this.batchChanged = true;
    this.flushUpdate();
  }

  private flushUpdate(): void {
    if (this.batchDepth > 0 || !this.batchChanged) return;
    this.batchChanged = false;
    for (const cb of [...this.updateCallbacks]) cb();
  }
}
