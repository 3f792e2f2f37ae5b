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
 * 2. Locality, with `locality_weighted_lb_config` and outside panic: a
 *    locality of the chosen level by weighted round robin over its effective
 *    (availability-scaled) weight (locality_wrr.ts).
 * 3. Host, within the chosen level's (or locality's) healthy, degraded or
 *    (panic) all hosts: by the policy. The EDF base keeps one scheduler per
 *    (priority, source) when host weights differ, and defers to
 *    `unweightedHostPick` when they are equal (cheaper, and exact round robin).
 *
 * `chooseHost(context)` retries up to `context.hostSelectionRetryCount()` times
 * while `context.shouldSelectAnotherHost(host)` says so, then returns the last pick.
 */
import type { LoadBalancer, LoadBalancerContext } from '../envoy/upstream/cluster_manager.js';
import type { Host } from '../envoy/upstream/host.js';
import type { ClusterStats } from '../envoy/upstream/stats.js';
import { EdfScheduler } from './edf_scheduler.js';
import { LocalityWrr } from './locality_wrr.js';
import type { HostSetImpl, PrioritySetImpl } from './priority_set_impl.js';

import type { RandomGenerator } from '../common/random.js';
export { defaultRandom, type RandomGenerator } from '../common/random.js';

export type HostSourceType = 'all' | 'healthy' | 'degraded' | 'locality_healthy' | 'locality_degraded';

export interface HostsSource {
  priority: number;
  source: HostSourceType;
  /** Index into the priority's per-locality lists, for the `locality_*` sources. */
  locality?: number;
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
  /** Locality schedules per priority (only with locality-weighted balancing). */
  private readonly localityWrr: Array<LocalityWrr | null> = [];
  private readonly localitySeed: number;

  constructor(
    protected readonly prioritySet: PrioritySetImpl,
    protected readonly stats: LbStatsSubset,
    protected readonly random: RandomGenerator,
    /** Integer percent 0-100. */
    protected readonly healthyPanicThreshold: number,
    /** `locality_weighted_lb_config`: pick a locality by its weight before a host. */
    protected readonly localityWeightedBalancing = false,
  ) {
    this.localitySeed = localityWeightedBalancing ? random.random() : 0;
    for (const hs of prioritySet.hostSetsPerPriority) {
      this.recalculatePerPriorityState(hs.priority);
      this.rebuildLocalityWrr(hs.priority);
    }
    this.recalculatePerPriorityPanic();
    prioritySet.addMemberUpdateCb((priority) => {
      this.recalculatePerPriorityState(priority);
      this.recalculatePerPriorityPanic();
      this.rebuildLocalityWrr(priority);
    });
  }

  private rebuildLocalityWrr(priority: number): void {
    if (!this.localityWeightedBalancing) return;
    while (this.localityWrr.length <= priority) this.localityWrr.push(null);
    this.localityWrr[priority] = new LocalityWrr(this.prioritySet.hostSetsPerPriority[priority], this.localitySeed);
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

  /**
   * The priority (and whether for its healthy or degraded hosts) that `pick`
   * (1-100) falls on in the load table (Envoy's choosePriority); null when the
   * loads are all 0.
   */
  protected choosePriority(pick: number): { priority: number; source: 'healthy' | 'degraded' } | null {
    let aggregate = 0;
    for (let p = 0; p < this.healthyPriorityLoad.length; p++) {
      aggregate += this.healthyPriorityLoad[p];
      if (pick <= aggregate) return { priority: p, source: 'healthy' };
    }
    for (let p = 0; p < this.degradedPriorityLoad.length; p++) {
      aggregate += this.degradedPriorityLoad[p];
      if (pick <= aggregate) return { priority: p, source: 'degraded' };
    }
    return null;
  }

  /** Picks the priority and the host list to choose from; null when nothing may be picked. */
  protected hostSourceToUse(): HostsSource | null {
    const chosen = this.choosePriority((this.random.random() % 100) + 1);
    if (chosen === null) return null;
    if (this.perPriorityPanic[chosen.priority]) {
      this.stats.lb_healthy_panic.inc();
      return { priority: chosen.priority, source: 'all' };
    }
    if (this.localityWeightedBalancing) {
      const wrr = this.localityWrr[chosen.priority];
      const locality = wrr === null || wrr === undefined ? null
        : chosen.source === 'healthy' ? wrr.chooseHealthyLocality() : wrr.chooseDegradedLocality();
      if (locality !== null) {
        return { priority: chosen.priority, source: chosen.source === 'healthy' ? 'locality_healthy' : 'locality_degraded', locality };
      }
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
      case 'locality_healthy':
        return hs.healthyHostsPerLocality[source.locality ?? 0] ?? [];
      case 'locality_degraded':
        return hs.degradedHostsPerLocality[source.locality ?? 0] ?? [];
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

/**
 * Index of a host source in per-priority arrays (no string keys on the pick
 * path): 0 all, 1 healthy, 2 degraded, then two per locality (healthy, degraded).
 */
export function sourceIndex(s: HostsSource): number {
  switch (s.source) {
    case 'all': return 0;
    case 'healthy': return 1;
    case 'degraded': return 2;
    case 'locality_healthy': return 3 + 2 * (s.locality ?? 0);
    case 'locality_degraded': return 4 + 2 * (s.locality ?? 0);
  }
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

  constructor(
    prioritySet: PrioritySetImpl,
    stats: LbStatsSubset,
    random: RandomGenerator,
    healthyPanicThreshold: number,
    localityWeightedBalancing = false,
  ) {
    super(prioritySet, stats, random, healthyPanicThreshold, localityWeightedBalancing);
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

  /** Every host source of `priority`: all, healthy, degraded, and per locality when locality-weighted. */
  private sourcesOf(priority: number): HostsSource[] {
    const sources: HostsSource[] = SOURCES.map((s) => ({ priority, source: s }));
    if (this.localityWeightedBalancing) {
      const n = this.prioritySet.hostSetsPerPriority[priority]?.hostsPerLocality.length ?? 0;
      for (let i = 0; i < n; i++) {
        sources.push({ priority, source: 'locality_healthy', locality: i }, { priority, source: 'locality_degraded', locality: i });
      }
    }
    return sources;
  }

  private refresh(priority: number): void {
    while (this.schedulers.length <= priority) this.schedulers.push([]);
    this.schedulers[priority] = [];
    for (const source of this.sourcesOf(priority)) {
      const hosts = this.hostsOf(source);
      this.refreshHostSource(source);
      if (weightsAreEqual(hosts)) {
        this.schedulers[priority][sourceIndex(source)] = null;
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
      this.schedulers[priority][sourceIndex(source)] = edf;
    }
  }

  protected override chooseHostOnce(_context: LoadBalancerContext | null): Host | null {
    const source = this.hostSourceToUse();
    if (source === null) return null;
    const edf = this.schedulers[source.priority]?.[sourceIndex(source)];
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
