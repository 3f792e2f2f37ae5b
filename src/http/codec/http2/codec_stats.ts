/**
 * HTTP/2 codec stats, after Envoy's ALL_HTTP2_CODEC_STATS
 * (source/common/http/http2/codec_stats.h): rooted at `http2.` for
 * downstream connections (cluster.<name>.http2. upstream). Only the ones this
 * codec can observe through node:http2 are kept.
 */
import type { Scope } from '../../../envoy/stats/stats.js';
import { makeStatsBlock, prefixedScope, type StatsBlock } from '../../../stats/stats_impl.js';

const COUNTERS = [
  'goaway_sent',
  'header_overflow',
  'outbound_control_flood',
  'rx_messaging_error',
  'rx_reset',
  'trailers',
  'tx_reset',
] as const;
const GAUGES = ['streams_active'] as const;

export type Http2CodecStats = StatsBlock<(typeof COUNTERS)[number], (typeof GAUGES)[number]>;

export function createHttp2CodecStats(root: Scope, prefix = 'http2.'): Http2CodecStats {
  return makeStatsBlock(prefixedScope(root, prefix), { counters: COUNTERS, gauges: GAUGES });
}
