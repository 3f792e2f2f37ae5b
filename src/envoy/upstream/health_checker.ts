/**
 * Active health checking interfaces, after Envoy's
 * `envoy/upstream/health_checker.h`: a HealthChecker watches one cluster's
 * hosts and reports each check's result; a HealthCheckHostMonitor lets the
 * data path (the router) tell a host's health checker that the upstream asked
 * to be taken out at once (`x-envoy-immediate-health-check-fail`).
 */
import type { Host } from './host.js';

/** Whether a check changed the host's health (Envoy's HealthTransition). */
export const enum HealthTransition {
  /** No change to the host's health. */
  Unchanged = 0,
  /** The host's health changed (or its pending-first-check flag cleared): rebuild the host sets. */
  Changed = 1,
  /** A change is under way (threshold not reached yet). */
  ChangePending = 2,
}

/** The result of one check. */
export const enum HealthState {
  Unhealthy = 0,
  Healthy = 1,
}

export type HostStatusCb = (host: Host, changedState: HealthTransition, result: HealthState) => void;

export interface HealthChecker {
  /** Runs `cb` after every completed check of every host. */
  addHostCheckCompleteCb(cb: HostStatusCb): void;
  /** Starts checking every current host, and hosts added later. */
  start(): void;
  /** Stops every timer and closes every health-check connection (cluster removal, shutdown). */
  stop(): void;
}

export const enum UnhealthyType {
  /** The upstream answered a request with `x-envoy-immediate-health-check-fail`. */
  ImmediateHealthCheckFail = 0,
}

/** Set on a host whose cluster has active health checking. */
export interface HealthCheckHostMonitor {
  /** Marks the host unhealthy now, without waiting for the next check (a passive failure). */
  setUnhealthy(type: UnhealthyType): void;
}
