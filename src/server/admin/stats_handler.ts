/**
 * `/stats`, `/stats/prometheus` and `/reset_counters`, after Envoy's
 * `source/server/admin/stats_handler.cc`. Content types are Envoy's: text
 * (and Prometheus) as `text/plain; charset=UTF-8`, JSON as `application/json`.
 */
import type { StatsStore } from '../../stats/stats_impl.js';
import { parseStatsParams } from '../../stats/stats_params.js';
import { checkPrometheusParams, renderPrometheus } from '../../stats/prometheus.js';
import { renderStatsJson, renderStatsText } from '../../stats/stats_render.js';
import type { AdminRequest, AdminResponse } from './admin_types.js';

export const TEXT_PLAIN = 'text/plain; charset=UTF-8';
export const APPLICATION_JSON = 'application/json';

function prometheusResponse(store: StatsStore, req: AdminRequest): AdminResponse {
  const parsed = parseStatsParams(req.query);
  if (!parsed.ok) return { status: parsed.status, body: parsed.body };
  const invalid = checkPrometheusParams(parsed.params);
  if (invalid !== undefined) return { status: 400, body: invalid };
  return { status: 200, contentType: TEXT_PLAIN, body: renderPrometheus(store, parsed.params) };
}

/** GET /stats (`format`, `filter`, `usedonly`, `type`, `histogram_buckets`). */
export function handleStats(store: StatsStore, req: AdminRequest, flush?: () => void): AdminResponse {
  const parsed = parseStatsParams(req.query);
  if (!parsed.ok) return { status: parsed.status, body: parsed.body };
  flush?.();
  const params = parsed.params;
  switch (params.format) {
    case 'prometheus':
      return prometheusResponse(store, req);
    case 'json':
      return { status: 200, contentType: APPLICATION_JSON, body: renderStatsJson(store, params) };
    case 'text':
      return { status: 200, contentType: TEXT_PLAIN, body: renderStatsText(store, params) };
  }
}

/** GET /stats/prometheus. */
export function handlePrometheusStats(store: StatsStore, req: AdminRequest, flush?: () => void): AdminResponse {
  flush?.();
  return prometheusResponse(store, req);
}

/** POST /reset_counters. */
export function handleResetCounters(store: StatsStore): AdminResponse {
  store.resetCounters();
  return { status: 200, body: 'OK\n' };
}
