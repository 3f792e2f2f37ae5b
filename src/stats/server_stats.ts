/**
 * Server stats (Envoy's ALL_SERVER_STATS in `source/server/server.h`) under
 * `server.`, and the periodic updater that refreshes the ones Envoy sets on
 * every stats flush (InstanceImpl::updateServerStats): uptime, memory,
 * connections, state, live.
 */
import { HistogramUnit, type Scope } from '../envoy/stats/stats.js';
import { makeStatsBlock, prefixedScope, type StatsBlock } from './stats_impl.js';

const COUNTERS = [
  'debug_assertion_failures',
  'dropped_stat_flushes',
  'dynamic_unknown_fields',
  'envoy_bug_failures',
  'envoy_notifications',
  'static_unknown_fields',
  'wip_protos',
] as const;
const GAUGES = [
  'concurrency',
  'days_until_first_cert_expiring',
  'hot_restart_epoch',
  'hot_restart_generation',
  'live',
  'memory_allocated',
  'memory_heap_size',
  'memory_physical_size',
  'parent_connections',
  'seconds_until_first_ocsp_response_expiring',
  'state',
  'stats_recent_lookups',
  'total_connections',
  'uptime',
  'version',
] as const;
const HISTOGRAMS = [['initialization_time_ms', HistogramUnit.Milliseconds]] as const;

export type ServerStats = StatsBlock<(typeof COUNTERS)[number], (typeof GAUGES)[number], (typeof HISTOGRAMS)[number][0]>;

export function createServerStats(root: Scope): ServerStats {
  return makeStatsBlock(prefixedScope(root, 'server.'), { counters: COUNTERS, gauges: GAUGES, histograms: HISTOGRAMS });
}

/** Envoy's server states; the numeric value is what `server.state` holds. */
export type ServerState = 'LIVE' | 'DRAINING' | 'PRE_INITIALIZING' | 'INITIALIZING';
export const SERVER_STATE_VALUE: Readonly<Record<ServerState, number>> = {
  LIVE: 0,
  DRAINING: 1,
  PRE_INITIALIZING: 2,
  INITIALIZING: 3,
};

/** The init manager's state, as Envoy's Init::Manager::State. */
export type InitState = 'Uninitialized' | 'Initializing' | 'Initialized';

/** Envoy's Utility::serverState: init state first, then health-check failure means DRAINING. */
export function serverState(init: InitState, healthCheckFailed: boolean): ServerState {
  switch (init) {
    case 'Uninitialized': return 'PRE_INITIALIZING';
    case 'Initializing': return 'INITIALIZING';
    case 'Initialized': return healthCheckFailed ? 'DRAINING' : 'LIVE';
  }
}

/** What the updater reads from the server on every tick. */
export interface ServerStatsSource {
  /** Wall-clock ms when the first epoch started (hot restarts keep it). */
  readonly startTimeFirstEpochMs: number;
  serverState(): ServerState;
  /** Whether the server has finished starting (workers started). */
  isLive(): boolean;
  /** Open downstream connections across listeners. */
  totalConnections?(): number;
  daysUntilFirstCertExpiring?(): number;
}

export interface ServerStatsUpdater {
  /** Runs one update now (also done at start). */
  update(): void;
  stop(): void;
}

/**
 * Refreshes uptime (seconds), memory (from process.memoryUsage(): allocated
 * = heapUsed + external, heap_size = heapTotal, physical = rss), state,
 * live and total_connections every `intervalMs` (Envoy's default
 * stats_flush_interval is 5 s). The timer is unref'd, so it never keeps
 * the process alive.
 */
export function startServerStatsUpdater(
  stats: ServerStats, source: ServerStatsSource, intervalMs = 5000, now: () => number = Date.now,
): ServerStatsUpdater {
  const update = (): void => {
    stats.uptime.set(Math.max(0, Math.floor((now() - source.startTimeFirstEpochMs) / 1000)));
    const mem = process.memoryUsage();
    stats.memory_allocated.set(mem.heapUsed + mem.external);
    stats.memory_heap_size.set(mem.heapTotal);
    stats.memory_physical_size.set(mem.rss);
    stats.state.set(SERVER_STATE_VALUE[source.serverState()]);
    stats.live.set(source.isLive() ? 1 : 0);
    if (source.totalConnections !== undefined) stats.total_connections.set(source.totalConnections());
    if (source.daysUntilFirstCertExpiring !== undefined) {
      stats.days_until_first_cert_expiring.set(source.daysUntilFirstCertExpiring());
    }
  };
  update();
  const timer = setInterval(update, intervalMs);
  timer.unref();
  return { update, stop: () => clearInterval(timer) };
}
