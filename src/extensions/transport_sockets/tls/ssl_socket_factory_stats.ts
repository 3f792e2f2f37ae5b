/**
 * Envoy's SDS-related socket factory stats (`ALL_SSL_SOCKET_FACTORY_STATS`
 * in source/common/tls/ssl_socket.h): under `listener.<address>.server_ssl_socket_factory.`
 * for downstream contexts and `cluster.<name>.client_ssl_socket_factory.` for
 * upstream ones.
 *
 *   ssl_context_update_by_sds             the context was rebuilt for an SDS update
 *   downstream_context_secrets_not_ready  a downstream connection was closed: no secret yet
 *   upstream_context_secrets_not_ready    an upstream connection failed: no secret yet
 */
import type { Scope } from '../../../envoy/stats/stats.js';
import { makeStatsBlock, prefixedScope, type StatsBlock } from '../../../stats/stats_impl.js';

const COUNTERS = ['ssl_context_update_by_sds', 'upstream_context_secrets_not_ready', 'downstream_context_secrets_not_ready'] as const;

export type SslSocketFactoryStats = StatsBlock<(typeof COUNTERS)[number]>;

export function createSslSocketFactoryStats(scope: Scope, side: 'server' | 'client'): SslSocketFactoryStats {
  return makeStatsBlock(prefixedScope(scope, `${side}_ssl_socket_factory.`), { counters: COUNTERS });
}
