/**
 * Weighted choice of a locality within one priority level, after Envoy's
 * `LocalityWrr` (source/extensions/load_balancing_policies/common/locality_wrr.cc),
 * used with `locality_weighted_lb_config`.
 *
 * Each locality's effective weight is its `load_balancing_weight` scaled by
 * its availability: `weight * min(1, overprovisioning_factor/100 * eligible / (hosts - excluded))`,
 * where eligible is its healthy (or, for the degraded schedule, degraded)
 * hosts. With the default factor 1.4 a locality keeps its full weight until
 * fewer than ~72 % of its hosts are available. Localities are then picked by
 * an EDF schedule over the effective weights (smooth weighted round robin),
 * started at a seed-dependent point. A locality of weight 0 (or unset) is
 * never picked; with no positive effective weight there is no schedule and
 * the caller balances over the whole priority instead.
 */
import type { Host } from '../envoy/upstream/host.js';
import { EdfScheduler } from './edf_scheduler.js';
import type { HostSetImpl } from './priority_set_impl.js';

interface LocalityEntry {
  readonly index: number;
  readonly weight: number;
}

export class LocalityWrr {
  private readonly healthy: EdfScheduler<LocalityEntry> | null;
  private readonly degraded: EdfScheduler<LocalityEntry> | null;

  constructor(hostSet: HostSetImpl, seed: number) {
    this.healthy = buildScheduler(hostSet, hostSet.healthyHostsPerLocality, hostSet.healthyHosts, seed);
    this.degraded = buildScheduler(hostSet, hostSet.degradedHostsPerLocality, hostSet.degradedHosts, seed);
  }

  /** Index of the next locality for healthy hosts, or null when there is no schedule. */
  chooseHealthyLocality(): number | null {
    return choose(this.healthy);
  }

  chooseDegradedLocality(): number | null {
    return choose(this.degraded);
  }
}

/** Envoy's effectiveLocalityWeight for locality `i`. */
export function effectiveLocalityWeight(hostSet: HostSetImpl, eligiblePerLocality: ReadonlyArray<ReadonlyArray<Host>>, i: number): number {
  const hostCount = hostSet.hostsPerLocality[i].length - (hostSet.excludedHostsPerLocality[i]?.length ?? 0);
  if (hostCount <= 0) return 0;
  const availability = eligiblePerLocality[i].length / hostCount;
  return (hostSet.localityWeights[i] ?? 0) * Math.min(1, (hostSet.overprovisioningFactor / 100) * availability);
}

function buildScheduler(
  hostSet: HostSetImpl,
  eligiblePerLocality: ReadonlyArray<ReadonlyArray<Host>>,
  eligible: ReadonlyArray<Host>,
  seed: number,
): EdfScheduler<LocalityEntry> | null {
  if (eligible.length === 0 || hostSet.localityWeights.length === 0) return null;
  const entries: LocalityEntry[] = [];
  for (let i = 0; i < hostSet.hostsPerLocality.length; i++) {
    const weight = effectiveLocalityWeight(hostSet, eligiblePerLocality, i);
    if (weight > 0) entries.push({ index: i, weight });
  }
  if (entries.length === 0) return null;
  const edf = new EdfScheduler<LocalityEntry>();
  for (const e of entries) edf.add(e.weight, e);
  // Start at a seed-dependent point so that proxies do not all pick alike.
  const skip = seed % entries.length;
  for (let i = 0; i < skip; i++) choose(edf);
  return edf;
}

function choose(edf: EdfScheduler<LocalityEntry> | null): number | null {
  if (edf === null) return null;
  const e = edf.pick();
  if (e === undefined) return null;
  edf.add(e.weight, e);
  return e.index;
}
