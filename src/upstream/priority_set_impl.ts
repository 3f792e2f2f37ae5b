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
import { EXCLUDED_FLAGS, coarseHealthOf, localityKey } from './host_impl.js';

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
  /**
   * The same partitions per locality (Envoy's HostsPerLocality), localities in
   * Envoy's order (region, zone, sub-zone); index i of each list is one locality.
   */
  hostsPerLocality: ReadonlyArray<ReadonlyArray<Host>> = [];
  healthyHostsPerLocality: ReadonlyArray<ReadonlyArray<Host>> = [];
  degradedHostsPerLocality: ReadonlyArray<ReadonlyArray<Host>> = [];
  excludedHostsPerLocality: ReadonlyArray<ReadonlyArray<Host>> = [];
  /** `LocalityLbEndpoints.load_balancing_weight` per locality (0 when unset), aligned with the lists above. */
  localityWeights: ReadonlyArray<number> = [];
  /** Weight by locality key, as the cluster last gave it. */
  private localityWeightByKey: ReadonlyMap<string, number> = new Map();

  constructor(readonly priority: number) {}

  /** Sets the locality weights (by `localityKey`) used by the next `partition()`. */
  setLocalityWeights(weights: ReadonlyMap<string, number>): void {
    this.localityWeightByKey = weights;
  }

  /** Recomputes the healthy/degraded/excluded partitions (overall and per locality) from the hosts' flags. */
  partition(): void {
    const healthy: Host[] = [];
    const degraded: Host[] = [];
    const excluded: Host[] = [];
    const byLocality = new Map<string, { all: Host[]; healthy: Host[]; degraded: Host[]; excluded: Host[] }>();
    for (const h of this.hosts) {
      const key = localityKey(h.locality);
      let loc = byLocality.get(key);
      if (loc === undefined) {
        loc = { all: [], healthy: [], degraded: [], excluded: [] };
        byLocality.set(key, loc);
      }
      loc.all.push(h);
      if (h.healthFlags & EXCLUDED_FLAGS) {
        excluded.push(h);
        loc.excluded.push(h);
        continue;
      }
      const c = coarseHealthOf(h.healthFlags);
      if (c === 'healthy') {
        healthy.push(h);
        loc.healthy.push(h);
      } else if (c === 'degraded') {
        degraded.push(h);
        loc.degraded.push(h);
      }
    }
    this.healthyHosts = healthy;
    this.degradedHosts = degraded;
    this.excludedHosts = excluded;
    const keys = [...byLocality.keys()].sort();
    const locs = keys.map((k) => byLocality.get(k)!);
    this.hostsPerLocality = locs.map((l) => l.all);
    this.healthyHostsPerLocality = locs.map((l) => l.healthy);
    this.degradedHostsPerLocality = locs.map((l) => l.degraded);
    this.excludedHostsPerLocality = locs.map((l) => l.excluded);
    this.localityWeights = keys.map((k) => this.localityWeightByKey.get(k) ?? 0);
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
    /** `LocalityLbEndpoints.load_balancing_weight` by `localityKey` (unchanged when omitted). */
    localityWeights?: ReadonlyMap<string, number>,
  ): void {
    const set = this.getOrCreateHostSet(priority);
    set.hosts = hosts;
    if (overprovisioningFactor !== undefined) set.overprovisioningFactor = overprovisioningFactor;
    if (localityWeights !== undefined) set.setLocalityWeights(localityWeights);
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
