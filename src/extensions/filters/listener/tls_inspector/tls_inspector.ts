/**
 * `envoy.filters.listener.tls_inspector`: reads the ClientHello of a new
 * connection and hands the chain match its SNI (`server_names`), transport
 * protocol `tls` (`transport_protocol`) and ALPN list (`application_protocols`).
 * Not TLS: transport protocol stays `raw_buffer`. The bytes are not
 * consumed: the transport socket (or tcp_proxy, for passthrough) reads them.
 *
 * Stats (Envoy's, under `tls_inspector.`): client_hello_too_large, tls_found,
 * tls_not_found, alpn_found, alpn_not_found, sni_found, sni_not_found, and the
 * bytes_processed histogram.
 */
import { HistogramUnit, type Scope } from '../../../../envoy/stats/stats.js';
import { FilterStatus, type ListenerFilter, type ListenerFilterCallbacks } from '../../../../envoy/network/listener_filter.js';
import { makeStatsBlock, prefixedScope, type StatsBlock } from '../../../../stats/stats_impl.js';
import { parseClientHello, TLS_MAX_CLIENT_HELLO } from './client_hello.js';

const COUNTERS = ['client_hello_too_large', 'tls_found', 'tls_not_found', 'alpn_found', 'alpn_not_found', 'sni_found', 'sni_not_found'] as const;
const HISTOGRAMS = [['bytes_processed', HistogramUnit.Bytes]] as const;
export type TlsInspectorStats = StatsBlock<(typeof COUNTERS)[number], never, 'bytes_processed'>;

export function createTlsInspectorStats(scope: Scope): TlsInspectorStats {
  return makeStatsBlock(prefixedScope(scope, 'tls_inspector.'), { counters: COUNTERS, histograms: HISTOGRAMS });
}

export class TlsInspector implements ListenerFilter {
  private cb: ListenerFilterCallbacks | null = null;

  constructor(private readonly stats: TlsInspectorStats) {}

  onAccept(callbacks: ListenerFilterCallbacks): FilterStatus {
    this.cb = callbacks;
    return FilterStatus.StopIteration;
  }

  maxReadBytes(): number { return TLS_MAX_CLIENT_HELLO; }

  onData(buffered: Buffer): FilterStatus | 'close' {
    const r = parseClientHello(buffered, TLS_MAX_CLIENT_HELLO);
    const cb = this.cb!;
    switch (r.status) {
      case 'need_more':
        return FilterStatus.StopIteration;
      case 'not_tls':
        this.stats.tls_not_found.inc();
        cb.setDetectedTransportProtocol('raw_buffer');
        return FilterStatus.Continue;
      case 'error':
        if (r.reason === 'client_hello_too_large') {
          this.stats.client_hello_too_large.inc();
          return 'close';
        }
        // Envoy cannot tell a broken hello from plaintext: it carries on as raw_buffer.
        this.stats.tls_not_found.inc();
        return FilterStatus.Continue;
      case 'done':
        this.stats.tls_found.inc();
        this.stats.bytes_processed.recordValue(r.bytesProcessed);
        cb.setDetectedTransportProtocol('tls');
        if (r.serverName !== '') { this.stats.sni_found.inc(); cb.setRequestedServerName(r.serverName); } else this.stats.sni_not_found.inc();
        if (r.alpn.length > 0) { this.stats.alpn_found.inc(); cb.setRequestedApplicationProtocols(r.alpn); } else this.stats.alpn_not_found.inc();
        return FilterStatus.Continue;
    }
  }
}
