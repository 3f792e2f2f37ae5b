/**
 * What every active health checker shares, after Envoy's HealthCheckerImplBase
 * (source/extensions/health_checkers/common/health_checker_base_impl.cc).
 *
 * One session per host of the cluster (hosts added later get one, removed
 * hosts lose theirs). A session checks, waits, checks again:
 *
 *   interval timer -> attempt++, timeout timer armed, the checker sends its check
 *   success  -> host healthy at once on its first check, else after
 *               healthy_threshold successes in a row; next check after
 *               `interval` (healthy_edge_interval while a change is pending)
 *   failure  -> network failures (connect/reset, NETWORK) and timeouts
 *               (NETWORK_TIMEOUT, which also sets active_hc_timeout) count
 *               toward unhealthy_threshold; a wrong answer (ACTIVE: bad
 *               status, payload mismatch, NOT_SERVING) or a passive failure
 *               (x-envoy-immediate-health-check-fail on traffic) fails the host
 *               at once, unless the status is retriable; next check after
 *               `unhealthy_interval` (unhealthy_edge_interval while pending)
 *   no traffic on the cluster yet -> every interval is `no_traffic_interval`
 *               (no_traffic_healthy_interval for healthy hosts)
 *
 * Health is the host's FailedActiveHc bit (plus DegradedActiveHc,
 * ActiveHcTimeout, ExcludedViaImmediateHcFail; PendingActiveHc is cleared by
 * the first result). Callbacks run after every completed check with whether
 * the host's health changed; the cluster rebuilds its host sets on a change.
 * Timers come from a TimeSource, so tests drive them with a simulated clock.
 */
import { getLogger } from '../common/logger.js';
import type { RandomGenerator } from '../common/random.js';
import type { TimeSource, Timer } from '../envoy/common/time.js';
import type { UpstreamTransportSocketFactory } from '../envoy/network/transport_socket.js';
import type { Host } from '../envoy/upstream/host.js';
import { HealthFlag } from '../envoy/upstream/host.js';
import {
  HealthState,
  HealthTransition,
  UnhealthyType,
  type HealthCheckHostMonitor,
  type HealthChecker,
  type HostStatusCb,
} from '../envoy/upstream/health_checker.js';
import type { ClusterStats } from '../envoy/upstream/stats.js';
import type { Scope } from '../envoy/stats/stats.js';
import { createHealthCheckerStats, type HealthCheckerStats } from '../stats/health_checker_stats.js';
import type { HealthCheckSettings } from './health_check_config.js';
import type { HealthCheckEventLogger, HealthCheckFailureType, HealthCheckerTypeName } from './health_check_event_logger.js';
import type { PrioritySetImpl } from './priority_set_impl.js';

const log = getLogger('hc');

/** What a health checker needs of its cluster and the server. */
export interface HealthCheckerContext {
  readonly clusterName: string;
  /** The cluster's `cluster.<name>.` scope (health_check.* stats go under it). */
  readonly clusterScope: Scope;
  /** The cluster's stats: upstream_cx_total tells whether it has had traffic. */
  readonly clusterStats: ClusterStats;
  readonly prioritySet: PrioritySetImpl;
  readonly timeSource: TimeSource;
  readonly random: RandomGenerator;
  /** Null without event_log_path / event_logger. */
  readonly eventLogger: HealthCheckEventLogger | null;
  /** The cluster's transport socket (tls), or null for raw TCP. */
  readonly transportSocket: UpstreamTransportSocketFactory | null;
}

export abstract class HealthCheckerImplBase implements HealthChecker {
  readonly stats: HealthCheckerStats;
  private readonly sessions = new Map<Host, ActiveHealthCheckSession>();
  private readonly callbacks: HostStatusCb[] = [];
  private unsubscribe: (() => void) | null = null;
  private started = false;
  private stopped = false;

  constructor(readonly settings: HealthCheckSettings, readonly context: HealthCheckerContext) {
    this.stats = createHealthCheckerStats(context.clusterScope);
  }

  /** HTTP, TCP or GRPC, for the event log. */
  abstract readonly checkerType: HealthCheckerTypeName;

  protected abstract makeSession(host: Host): ActiveHealthCheckSession;

  get eventLogger(): HealthCheckEventLogger | null {
    return this.context.eventLogger;
  }

  addHostCheckCompleteCb(cb: HostStatusCb): void {
    this.callbacks.push(cb);
  }

  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.unsubscribe = this.context.prioritySet.addMemberUpdateCb((_p, added, removed) => this.onMemberUpdate(added, removed));
    for (const hs of this.context.prioritySet.hostSetsPerPriority) this.addHosts(hs.hosts);
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.callbacks.length = 0;
    this.unsubscribe?.();
    this.unsubscribe = null;
    for (const s of this.sessions.values()) s.destroy();
    this.sessions.clear();
  }

  /** Hosts being checked (tests, admin). */
  sessionCount(): number {
    return this.sessions.size;
  }

  /** @internal The session of `host` ran a check to completion. */
  runCallbacks(host: Host, changed: HealthTransition, result: HealthState): void {
    for (const cb of [...this.callbacks]) cb(host, changed, result);
  }

  /** @internal Envoy's HealthCheckerImplBase::interval(). */
  interval(state: HealthState, changed: HealthTransition): number {
    const s = this.settings;
    const cs = this.context.clusterStats;
    const hadTraffic = cs.upstream_cx_total.value() > 0 || cs.upstream_cx_tx_bytes_total.value() > 0 || cs.upstream_cx_rx_bytes_total.value() > 0;
    let base: number;
    if (hadTraffic) {
      if (state === HealthState.Unhealthy) base = changed === HealthTransition.ChangePending ? s.unhealthyEdgeIntervalMs : s.unhealthyIntervalMs;
      else base = changed === HealthTransition.ChangePending ? s.healthyEdgeIntervalMs : s.intervalMs;
    } else {
      base = state === HealthState.Healthy && changed !== HealthTransition.ChangePending ? s.noTrafficHealthyIntervalMs : s.noTrafficIntervalMs;
    }
    return this.intervalWithJitter(base, s.intervalJitterMs);
  }

  /** @internal */
  intervalWithJitter(baseMs: number, jitterMs: number): number {
    let ms = baseMs;
    const percentMod = Math.floor((this.settings.intervalJitterPercent * baseMs) / 100);
    if (percentMod > 0) ms += this.context.random.random() % percentMod;
    if (jitterMs > 0) ms += this.context.random.random() % jitterMs;
    return Math.max(1, ms); // never 0: no busy loop
  }

  private addHosts(hosts: ReadonlyArray<Host>): void {
    for (const host of hosts) {
      if (this.sessions.has(host)) continue;
      const session = this.makeSession(host);
      this.sessions.set(host, session);
      host.healthChecker = new HostMonitor(this, host);
      session.start();
    }
  }

  private onMemberUpdate(added: ReadonlyArray<Host>, removed: ReadonlyArray<Host>): void {
    if (this.stopped) return;
    this.addHosts(added);
    for (const host of removed) {
      const s = this.sessions.get(host);
      if (s === undefined) continue;
      this.sessions.delete(host);
      s.destroy();
    }
  }

  /** @internal The router saw `x-envoy-immediate-health-check-fail` from `host`. */
  setUnhealthyFromTraffic(host: Host, type: UnhealthyType): void {
    if (type === UnhealthyType.ImmediateHealthCheckFail) host.healthFlags |= HealthFlag.ExcludedViaImmediateHcFail;
    // As Envoy posts it to the main thread: never inside the router's call stack.
    queueMicrotask(() => {
      const s = this.sessions.get(host);
      if (s !== undefined && !this.stopped) s.setUnhealthy('PASSIVE', false);
    });
  }
}

class HostMonitor implements HealthCheckHostMonitor {
  constructor(private readonly checker: HealthCheckerImplBase, private readonly host: Host) {}
  setUnhealthy(type: UnhealthyType): void {
    this.checker.setUnhealthyFromTraffic(this.host, type);
  }
}

function isNetworkFailure(type: HealthCheckFailureType): boolean {
  return type === 'NETWORK' || type === 'NETWORK_TIMEOUT';
}

/** One host's checks (Envoy's ActiveHealthCheckSession). */
export abstract class ActiveHealthCheckSession {
  private numUnhealthy = 0;
  private numHealthy = 0;
  private firstCheck = true;
  private intervalTimer: Timer | null = null;
  private timeoutTimer: Timer | null = null;
  protected destroyed = false;

  constructor(protected readonly parent: HealthCheckerImplBase, readonly host: Host) {
    if ((host.healthFlags & HealthFlag.FailedActiveHc) === 0) parent.stats.healthy.inc();
    if (host.healthFlags & HealthFlag.DegradedActiveHc) parent.stats.degraded.inc();
  }

  /** Sends one check; report it with handleSuccess()/handleFailure(). */
  protected abstract onInterval(): void;
  /** The check timed out: abandon it (close the connection) without reporting. */
  protected abstract onTimeout(): void;
  /** Closes whatever the session holds. */
  protected abstract onDestroy(): void;

  start(): void {
    const jitter = this.parent.settings.initialJitterMs;
    if (jitter === 0) this.onIntervalBase();
    else this.enableInterval(this.parent.intervalWithJitter(0, jitter));
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.intervalTimer?.cancel();
    this.timeoutTimer?.cancel();
    this.intervalTimer = this.timeoutTimer = null;
    let state = HealthState.Unhealthy;
    if ((this.host.healthFlags & HealthFlag.FailedActiveHc) === 0) {
      this.parent.stats.healthy.dec();
      state = HealthState.Healthy;
    }
    if (this.host.healthFlags & HealthFlag.DegradedActiveHc) this.parent.stats.degraded.dec();
    this.host.healthChecker = undefined;
    this.onDestroy();
    // Whoever waits for this host's first check (cluster warming) must not wait forever.
    if (this.firstCheck) this.parent.runCallbacks(this.host, HealthTransition.Unchanged, state);
  }

  protected handleSuccess(degraded = false): void {
    if (this.destroyed) return;
    const host = this.host;
    const parent = this.parent;
    this.numUnhealthy = 0;
    let changed = HealthTransition.Unchanged;
    if (host.healthFlags & HealthFlag.FailedActiveHc) {
      // The first result ever moves the host to healthy at once (faster start-up, as Envoy).
      if (this.firstCheck || ++this.numHealthy >= parent.settings.healthyThreshold) {
        host.healthFlags &= ~(HealthFlag.ActiveHcTimeout | HealthFlag.ExcludedViaImmediateHcFail | HealthFlag.FailedActiveHc);
        parent.stats.healthy.inc();
        changed = HealthTransition.Changed;
        parent.eventLogger?.logAddHealthy(host, this.firstCheck);
        log.debug(`hc: ${host.cluster.name} ${host.addressString} is healthy`);
      } else {
        changed = HealthTransition.ChangePending;
      }
    }
    if (changed !== HealthTransition.Changed && parent.settings.alwaysLogHealthCheckSuccess) parent.eventLogger?.logSuccessfulHealthCheck(host);
    changed = this.clearPendingFlag(changed);
    if (degraded !== ((host.healthFlags & HealthFlag.DegradedActiveHc) !== 0)) {
      if (degraded) {
        host.healthFlags |= HealthFlag.DegradedActiveHc;
        parent.stats.degraded.inc();
        parent.eventLogger?.logDegraded(host);
      } else {
        host.healthFlags &= ~HealthFlag.DegradedActiveHc;
        parent.stats.degraded.dec();
        parent.eventLogger?.logNoLongerDegraded(host);
      }
      if (changed === HealthTransition.Unchanged) changed = HealthTransition.Changed;
    }
    parent.stats.success.inc();
    this.firstCheck = false;
    parent.runCallbacks(host, changed, HealthState.Healthy);
    if (this.destroyed) return;
    this.timeoutTimer?.cancel();
    this.enableInterval(parent.interval(HealthState.Healthy, changed));
  }

  protected handleFailure(type: HealthCheckFailureType, retriable = false): void {
    if (this.destroyed) return;
    const changed = this.setUnhealthy(type, retriable);
    if (this.destroyed) return;
    this.timeoutTimer?.cancel();
    this.enableInterval(this.parent.interval(HealthState.Unhealthy, changed));
  }

  /** Counts one failure; see the file comment for when the host is failed. */
  setUnhealthy(type: HealthCheckFailureType, retriable: boolean): HealthTransition {
    const host = this.host;
    const parent = this.parent;
    this.numHealthy = 0;
    let changed = HealthTransition.Unchanged;
    if ((host.healthFlags & HealthFlag.FailedActiveHc) === 0) {
      if ((!isNetworkFailure(type) && !retriable) || ++this.numUnhealthy >= parent.settings.unhealthyThreshold) {
        host.healthFlags |= HealthFlag.FailedActiveHc;
        parent.stats.healthy.dec();
        changed = HealthTransition.Changed;
        parent.eventLogger?.logEjectUnhealthy(host, type);
        log.debug(`hc: ${host.cluster.name} ${host.addressString} is unhealthy (${type})`);
      } else {
        changed = HealthTransition.ChangePending;
      }
    }
    // A failed host that times out is marked so; other failures clear it (it may toggle).
    if (type === 'NETWORK_TIMEOUT' && host.healthFlags & HealthFlag.FailedActiveHc) host.healthFlags |= HealthFlag.ActiveHcTimeout;
    else host.healthFlags &= ~HealthFlag.ActiveHcTimeout;
    changed = this.clearPendingFlag(changed);
    if (this.firstCheck || parent.settings.alwaysLogHealthCheckFailures) parent.eventLogger?.logUnhealthy(host, type, this.firstCheck);
    parent.stats.failure.inc();
    if (isNetworkFailure(type)) parent.stats.network_failure.inc();
    else if (type === 'PASSIVE') parent.stats.passive_failure.inc();
    this.firstCheck = false;
    parent.runCallbacks(host, changed, HealthState.Unhealthy);
    return changed;
  }

  private clearPendingFlag(changed: HealthTransition): HealthTransition {
    if (this.host.healthFlags & HealthFlag.PendingActiveHc) {
      this.host.healthFlags &= ~HealthFlag.PendingActiveHc;
      // The host leaves the excluded list even if its health is the same.
      return HealthTransition.Changed;
    }
    return changed;
  }

  private onIntervalBase(): void {
    if (this.destroyed) return;
    this.parent.stats.attempt.inc();
    this.timeoutTimer?.cancel();
    this.timeoutTimer = this.parent.context.timeSource.schedule(this.parent.settings.timeoutMs, () => this.onTimeoutBase());
    try {
      this.onInterval();
    } catch (e) {
      log.debug(`hc: ${this.host.addressString}: cannot start a check: ${(e as Error).message}`);
      this.handleFailure('NETWORK');
    }
  }

  private onTimeoutBase(): void {
    this.timeoutTimer = null;
    if (this.destroyed) return;
    this.onTimeout();
    this.handleFailure('NETWORK_TIMEOUT');
  }

  private enableInterval(ms: number): void {
    this.intervalTimer?.cancel();
    this.intervalTimer = this.parent.context.timeSource.schedule(ms, () => {
      this.intervalTimer = null;
      this.onIntervalBase();
    });
  }
}
