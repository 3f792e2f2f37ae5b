/**
 * The load balancer base, after Envoy's `LoadBalancerBase` and
 * `EdfLoadBalancerBase` (source/common/upstream/load_balancer_impl.cc,
 * now source/extensions/load_balancing_policies/common/).
 *
 * Choosing a host takes two steps.
 *
 * 1. Priority. Each priority level P gets a health score
 *    `min(100, overprovisioning_factor * healthy(P) / (hosts(P) - excluded(P)))`
 *    (factor in percent, default 140), and the same for degraded hosts. Load
 *    (out of 100) goes to the levels in order, each taking up to its score
 *    (scaled up when the total is below 100), first to healthy hosts and then
 *    what is left to degraded hosts. With every P=0 host healthy, P=0 takes
 *    100 %; at 50 % healthy it takes 70 % and P=1 the rest.
 *    A level is in *panic* when (healthy + degraded) / hosts is below
 *    `healthy_panic_threshold` (default 50 %) and the normalized total
 *    availability is under 100: it then balances over all its hosts, healthy or
 *    not, and `lb_healthy_panic` counts each such pick. When every level is in
 *    panic, load is spread by host count. With the threshold at 0 and nothing
 *    available, picks fail (null).
 * 2. Host, within the chosen level's healthy, degraded or (panic) all hosts:
 *    by the policy. The EDF base keeps one scheduler per (priority, source)
 *    when host weights differ, and defers to `unweightedHostPick` when they are
 *    equal (cheaper, and exact round robin).
 *
 * `chooseHost(context)` retries up to `context.hostSelectionRetryCount()` times
 * while `context.shouldSelectAnotherHost(host)` says so, then returns the last pick.
 */
import type { LoadBalancer, LoadBalancerContext } from '../envoy/upstream/cluster_manager.js';
import type { Host } from '../envoy/upstream/host.js';
import type { ClusterStats } from '../envoy/upstream/stats.js';
import { EdfScheduler } from './edf_scheduler.js';
import type { HostSetImpl, PrioritySetImpl } from './priority_set_impl.js';

import type { RandomGenerator } from '../common/random.js';
export { defaultRandom, type RandomGenerator } from '../common/random.js';

export type HostSourceType = 'all' | 'healthy' | 'degraded';

export interface HostsSource {
  priority: number;
  source: HostSourceType;
}

export interface LbStatsSubset {
  readonly lb_healthy_panic: ClusterStats['lb_healthy_panic'];
}

export abstract class LoadBalancerBase implements LoadBalancer {
  /** Health score (0-100) per priority. */
  protected perPriorityHealth: number[] = [];
  protected perPriorityDegraded: number[] = [];
  /** Share of load (percent, summing to 100 with degraded) per priority. */
  protected healthyPriorityLoad: number[] = [];
  protected degradedPriorityLoad: number[] = [];
  protected perPriorityPanic: boolean[] = [];

  constructor(
    protected readonly prioritySet: PrioritySetImpl,
    protected readonly stats: LbStatsSubset,
    protected readonly random: RandomGenerator,
    /** Integer percent 0-100. */
    protected readonly healthyPanicThreshold: number,
  ) {
    for (const hs of prioritySet.hostSetsPerPriority) this.recalculatePerPriorityState(hs.priority);
    this.recalculatePerPriorityPanic();
    prioritySet.addMemberUpdateCb((priority) => {
      this.recalculatePerPriorityState(priority);
      this.recalculatePerPriorityPanic();
    });
  }

  chooseHost(context: LoadBalancerContext | null): Host | null {
    const maxAttempts = context === null ? 1 : context.hostSelectionRetryCount() + 1;
    let host: Host | null = null;
    for (let i = 0; i < maxAttempts; i++) {
      host = this.chooseHostOnce(context);
      if (host === null || context === null || !context.shouldSelectAnotherHost(host)) return host;
    }
    return host;
  }

  protected abstract chooseHostOnce(context: LoadBalancerContext | null): Host | null;

  /** Load percentages per priority, for tests and admin. */
  priorityLoad(): { healthy: number[]; degraded: number[]; panic: boolean[] } {
    return {
      healthy: [...this.healthyPriorityLoad],
      degraded: [...this.degradedPriorityLoad],
      panic: [...this.perPriorityPanic],
    };
  }

  /** Picks the priority and the host list to choose from; null when nothing may be picked. */
  protected hostSourceToUse(): HostsSource | null {
    const hash = (this.random.random() % 100) + 1;
    let aggregate = 0;
    let chosen: HostsSource | null = null;
    for (let p = 0; p < this.healthyPriorityLoad.length && chosen === null; p++) {
      aggregate += this.healthyPriorityLoad[p];
      if (hash <= aggregate) chosen = { priority: p, source: 'healthy' };
    }
    for (let p = 0; p < this.degradedPriorityLoad.length && chosen === null; p++) {
      aggregate += this.degradedPriorityLoad[p];
      if (hash <= aggregate) chosen = { priority: p, source: 'degraded' };
    }
    if (chosen === null) return null;
    if (this.perPriorityPanic[chosen.priority]) {
      this.stats.lb_healthy_panic.inc();
      return { priority: chosen.priority, source: 'all' };
    }
    return chosen;
  }

  protected hostsOf(source: HostsSource): ReadonlyArray<Host> {
    const hs = this.prioritySet.hostSetsPerPriority[source.priority];
    if (hs === undefined) return [];
    switch (source.source) {
      case 'all':
        return hs.hosts;
      case 'healthy':
        return hs.healthyHosts;
      case 'degraded':
        return hs.degradedHosts;
    }
  }

  private resize(): void {
    const n = this.prioritySet.hostSetsPerPriority.length;
    for (const arr of [this.perPriorityHealth, this.perPriorityDegraded, this.healthyPriorityLoad, this.degradedPriorityLoad]) {
      while (arr.length < n) arr.push(0);
    }
    while (this.perPriorityPanic.length < n) this.perPriorityPanic.push(false);
  }

  private normalizedTotalAvailability(): number {
    let sum = 0;
    for (let i = 0; i < this.perPriorityHealth.length; i++) sum += this.perPriorityHealth[i] + this.perPriorityDegraded[i];
    return Math.min(100, sum);
  }

  private recalculatePerPriorityState(priority: number): void {
    this.resize();
    const hs: HostSetImpl = this.prioritySet.hostSetsPerPriority[priority];
    const hostCount = hs.hosts.length - hs.excludedHosts.length;
    this.perPriorityHealth[priority] = 0;
    this.perPriorityDegraded[priority] = 0;
    if (hostCount > 0) {
      const f = hs.overprovisioningFactor;
      this.perPriorityHealth[priority] = Math.min(100, Math.floor((f * hs.healthyHosts.length) / hostCount));
      this.perPriorityDegraded[priority] = Math.min(100, Math.floor((f * hs.degradedHosts.length) / hostCount));
    }
    const normalized = this.normalizedTotalAvailability();
    if (normalized === 0) return; // left to recalculatePerPriorityPanic

    const distribute = (load: number[], avail: number[], total: number): [number, number] => {
      let first = -1;
      for (let i = 0; i < avail.length; i++) {
        if (first < 0 && avail[i] > 0) first = i;
        load[i] = Math.min(total, Math.floor((avail[i] * 100) / normalized));
        total -= load[i];
      }
      return [first, total];
    };
    const [firstHealthy, afterHealthy] = distribute(this.healthyPriorityLoad, this.perPriorityHealth, 100);
    const [firstDegraded, remaining] = distribute(this.degradedPriorityLoad, this.perPriorityDegraded, afterHealthy);
    if (remaining !== 0) {
      // Rounding leftovers go to the first available level.
      if (firstHealthy !== -1) this.healthyPriorityLoad[firstHealthy] += remaining;
      else this.degradedPriorityLoad[firstDegraded] += remaining;
    }
  }

  private isHostSetInPanic(hs: HostSetImpl): boolean {
    const hostCount = hs.hosts.length - hs.excludedHosts.length;
    const healthyPct = hostCount === 0 ? 0 : (100 * hs.healthyHosts.length) / hostCount;
    const degradedPct = hostCount === 0 ? 0 : (100 * hs.degradedHosts.length) / hostCount;
    return healthyPct + degradedPct < this.healthyPanicThreshold;
  }

  private recalculatePerPriorityPanic(): void {
    this.resize();
    const normalized = this.normalizedTotalAvailability();
    const sets = this.prioritySet.hostSetsPerPriority;
    if (this.healthyPanicThreshold === 0 && normalized === 0) {
      // Panic disabled and nothing available: keep the loads summing to 100 on
      // P=0; picks find no healthy host there and fail.
      this.healthyPriorityLoad.fill(0);
      this.degradedPriorityLoad.fill(0);
      this.perPriorityPanic.fill(false);
      this.healthyPriorityLoad[0] = 100;
      return;
    }
    let totalPanic = true;
    for (let i = 0; i < sets.length; i++) {
      this.perPriorityPanic[i] = normalized === 100 ? false : this.isHostSetInPanic(sets[i]);
      totalPanic &&= this.perPriorityPanic[i];
    }
    if (totalPanic) this.recalculateLoadInTotalPanic();
  }

  /** Every level in panic: spread load by host count, health ignored. */
  private recalculateLoadInTotalPanic(): void {
    const sets = this.prioritySet.hostSetsPerPriority;
    let totalHosts = 0;
    for (const s of sets) totalHosts += s.hosts.length;
    this.healthyPriorityLoad.fill(0);
    this.degradedPriorityLoad.fill(0);
    if (totalHosts === 0) {
      this.healthyPriorityLoad[0] = 100;
      return;
    }
    let total = 100;
    let firstNonEmpty = -1;
    for (let i = 0; i < sets.length; i++) {
      const n = sets[i].hosts.length;
      if (firstNonEmpty === -1 && n !== 0) firstNonEmpty = i;
      const load = Math.floor((100 * n) / totalHosts);
      this.healthyPriorityLoad[i] = load;
      total -= load;
    }
    this.healthyPriorityLoad[firstNonEmpty] += total;
  }
}

function weightsAreEqual(hosts: ReadonlyArray<Host>): boolean {
  if (hosts.length <= 1) return true;
  const w = hosts[0].weight;
  for (let i = 1; i < hosts.length; i++) if (hosts[i].weight !== w) return false;
  return true;
}

const SOURCES: readonly HostSourceType[] = ['all', 'healthy', 'degraded'];

/** Index of a source type in per-priority arrays (no string keys on the pick path). */
export function sourceIndex(s: HostSourceType): number {
  return s === 'all' ? 0 : s === 'healthy' ? 1 : 2;
}

/**
 * Weighted picking with an EDF schedule per (priority, source) when the host
 * weights of that list differ; `unweightedHostPick` otherwise. Subclasses call
 * `initialize()` at the end of their constructor (their fields must exist
 * before the first refresh).
 */
export abstract class EdfLoadBalancerBase extends LoadBalancerBase {
  /** schedulers[priority][sourceIndex]; null = weights equal, use unweightedHostPick. */
  private readonly schedulers: Array<Array<EdfScheduler<Host> | null>> = [];
  /** Offsets every schedule so that proxies do not all start on the same host. */
  protected readonly seed: number;

  constructor(prioritySet: PrioritySetImpl, stats: LbStatsSubset, random: RandomGenerator, healthyPanicThreshold: number) {
    super(prioritySet, stats, random, healthyPanicThreshold);
    this.seed = random.random();
    prioritySet.addMemberUpdateCb((priority) => this.refresh(priority));
  }

  protected initialize(): void {
    for (const hs of this.prioritySet.hostSetsPerPriority) this.refresh(hs.priority);
  }

  /** The weight a host is scheduled with (RR: its weight; LR: scaled by active requests). */
  protected abstract hostWeight(host: Host): number;
  protected abstract unweightedHostPick(hosts: ReadonlyArray<Host>, source: HostsSource): Host | null;
  /** Called when a (priority, source) list is rebuilt. */
  protected refreshHostSource(_source: HostsSource): void {}

  private refresh(priority: number): void {
    while (this.schedulers.length <= priority) this.schedulers.push([null, null, null]);
    for (const s of SOURCES) {
      const source = { priority, source: s };
      const hosts = this.hostsOf(source);
      this.refreshHostSource(source);
      if (weightsAreEqual(hosts)) {
        this.schedulers[priority][sourceIndex(s)] = null;
        continue;
      }
      const edf = new EdfScheduler<Host>();
      for (const h of hosts) edf.add(this.hostWeight(h), h);
      // Start at a seed-dependent point of the schedule.
      const skip = this.seed % hosts.length;
      for (let i = 0; i < skip; i++) {
        const h = edf.pick() as Host;
        edf.add(this.hostWeight(h), h);
      }
      this.schedulers[priority][sourceIndex(s)] = edf;
    }
  }

  protected override chooseHostOnce(_context: LoadBalancerContext | null): Host | null {
    const source = this.hostSourceToUse();
    if (source === null) return null;
    const edf = this.schedulers[source.priority]?.[sourceIndex(source.source)];
    if (edf !== undefined && edf !== null) {
      const h = edf.pick();
      if (h === undefined) return null;
      edf.add(this.hostWeight(h), h);
      return h;
    }
    const hosts = this.hostsOf(source);
    if (hosts.length === 0) return null;
    return this.unweightedHostPick(hosts, source);
  }
}
