/**
 * Envoy's ssl stats (`ALL_SSL_STATS` in source/common/tls/context_impl.h),
 * under `<listener or cluster scope>ssl.`: connection_error, handshake,
 * session_reused, no_certificate, fail_verify_no_cert, fail_verify_error,
 * fail_verify_san, fail_verify_cert_hash; plus the per-handshake
 * `ssl.ciphers.<cipher>` and `ssl.versions.<version>` counters.
 */
import type { Scope } from '../../../envoy/stats/stats.js';
import { makeStatsBlock, prefixedScope, type StatsBlock } from '../../../stats/stats_impl.js';

const SSL_COUNTERS = [
  'connection_error', 'handshake', 'session_reused', 'no_certificate',
  'fail_verify_no_cert', 'fail_verify_error', 'fail_verify_san', 'fail_verify_cert_hash',
] as const;

export type SslStats = StatsBlock<(typeof SSL_COUNTERS)[number]> & {
  /** Counts `ssl.ciphers.<cipher>` and `ssl.versions.<version>` for a completed handshake. */
  countHandshake(cipher: string, version: string): void;
};

export function createSslStats(scope: Scope): SslStats {
  const ssl = prefixedScope(scope, 'ssl.');
  const block = makeStatsBlock(ssl, { counters: SSL_COUNTERS });
  return {
    ...block,
    countHandshake(cipher: string, version: string): void {
      block.handshake.inc();
      if (cipher !== '') ssl.counter(`ciphers.${cipher}`).inc();
      if (version !== '') ssl.counter(`versions.${version}`).inc();
    },
  };
}
