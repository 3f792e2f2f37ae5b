/**
 * Listener stats (Envoy's ALL_LISTENER_STATS and ALL_PER_HANDLER_LISTENER_STATS
 * in `source/server/active_listener_base.h`) and the listener scope name.
 *
 * Envoy names a listener's scope `listener.<stat_prefix>.` when the listener
 * sets `stat_prefix`, else `listener.<address>.` where the address is its
 * `asString()` with `:` replaced by `_`: `listener.0.0.0.0_10000.`,
 * `listener.[__1]_10000.`, `listener.[__]_10000.` for `[::]`.
 * The admin listener uses `listener.admin.`.
 */
import { HistogramUnit, type Scope } from '../envoy/stats/stats.js';
import { makeStatsBlock, prefixedScope, sanitizeStatsName, type StatsBlock } from './stats_impl.js';

/** Canonical text of an IPv6 address (RFC 5952, as inet_ntop prints it), without brackets. */
function canonicalIpv6(address: string): string {
  const bare = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  const zone = bare.indexOf('%');
  const host = zone === -1 ? bare : bare.slice(0, zone);
  try {
    const h = new URL(`http://[${host}]/`).hostname;
    return h.slice(1, -1);
  } catch {
    return host;
  }
}

/** Envoy's Address::Instance::asString(): `1.2.3.4:80`, `[::1]:80`. */
export function addressString(address: string, port: number): string {
  return address.includes(':') ? `[${canonicalIpv6(address)}]:${port}` : `${address}:${port}`;
}

/**
 * The listener's stat scope prefix, ending in a dot:
 * `listenerStatPrefix('0.0.0.0', 10000)` → `listener.0.0.0.0_10000.`,
 * `listenerStatPrefix('::', 10000)` → `listener.[__]_10000.`,
 * `listenerStatPrefix('0.0.0.0', 80, 'public')` → `listener.public.`.
 */
export function listenerStatPrefix(address: string, port: number, statPrefix?: string): string {
  const name = statPrefix !== undefined && statPrefix !== '' ? statPrefix : addressString(address, port);
  return `listener.${sanitizeStatsName(name)}.`;
}

/** The admin listener's scope prefix. */
export const ADMIN_LISTENER_STAT_PREFIX = 'listener.admin.';

const LISTENER_COUNTERS = [
  'downstream_cx_destroy',
  'downstream_cx_overflow',
  'downstream_cx_total',
  'downstream_cx_transport_socket_connect_timeout',
  'downstream_cx_overload_reject',
  'downstream_global_cx_overflow',
  'downstream_listener_filter_error',
  'downstream_listener_filter_remote_close',
  'downstream_pre_cx_timeout',
  'no_filter_chain_match',
] as const;
const LISTENER_GAUGES = ['downstream_cx_active', 'downstream_pre_cx_active'] as const;
const LISTENER_HISTOGRAMS = [['downstream_cx_length_ms', HistogramUnit.Milliseconds]] as const;

export type ListenerStats = StatsBlock<
  (typeof LISTENER_COUNTERS)[number], (typeof LISTENER_GAUGES)[number], (typeof LISTENER_HISTOGRAMS)[number][0]>;

/** ALL_LISTENER_STATS in the listener's scope (`listener.<address>.`). */
export function createListenerStats(listenerScope: Scope): ListenerStats {
  return makeStatsBlock(listenerScope, {
    counters: LISTENER_COUNTERS, gauges: LISTENER_GAUGES, histograms: LISTENER_HISTOGRAMS,
  });
}

const PER_WORKER_COUNTERS = ['downstream_cx_total'] as const;
const PER_WORKER_GAUGES = ['downstream_cx_active'] as const;
export type PerWorkerListenerStats = StatsBlock<(typeof PER_WORKER_COUNTERS)[number], (typeof PER_WORKER_GAUGES)[number]>;

/** ALL_PER_HANDLER_LISTENER_STATS: `listener.<address>.worker_<N>.downstream_cx_{total,active}`. */
export function createPerWorkerListenerStats(listenerScope: Scope, workerIndex: number): PerWorkerListenerStats {
  return makeStatsBlock(prefixedScope(listenerScope, `worker_${workerIndex}.`), {
    counters: PER_WORKER_COUNTERS, gauges: PER_WORKER_GAUGES,
  });
}
