/** YAML pieces for the TLS integration tests. */
import type { CertFiles } from '../support/certs.js';

/** A DownstreamTlsContext transport_socket block (flow style, one line). */
export function downstreamTls(certs: CertFiles[], extra: { common?: string; context?: string } = {}): string {
  const tc = certs.map((c) => `{ certificate_chain: { filename: "${c.cert}" }, private_key: { filename: "${c.key}" } }`).join(', ');
  return `{ name: envoy.transport_sockets.tls, typed_config: { "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext, ${extra.context ?? ''} common_tls_context: { tls_certificates: [${tc}] ${extra.common ? `, ${extra.common}` : ''} } } }`;
}

/** An HCM routing everything to cluster `backend`, with an optional access log format and HCM extras (flow style). */
export function hcm(o: { accessLogPath?: string; format?: string; extra?: string; statPrefix?: string } = {}): string {
  const log = o.accessLogPath === undefined ? '' : `access_log: [{ name: envoy.access_loggers.file, typed_config: { "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog, path: "${o.accessLogPath}", log_format: { text_format_source: { inline_string: ${JSON.stringify(o.format ?? '%RESPONSE_CODE%\n')} } } } }],`;
  return `{ name: envoy.filters.network.http_connection_manager, typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager, stat_prefix: ${o.statPrefix ?? 'ingress_http'}, ${log} ${o.extra ?? ''} route_config: { virtual_hosts: [{ name: all, domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: backend } }] }] }, http_filters: [{ name: envoy.filters.http.router }] } }`;
}

/** A direct_response HCM answering `body` (to tell chains apart). */
export function answer(body: string): string {
  return `{ name: envoy.filters.network.http_connection_manager, typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager, stat_prefix: ${body.replace(/[^a-z0-9]/gi, '_')}, route_config: { virtual_hosts: [{ name: all, domains: ["*"], routes: [{ match: { prefix: "/" }, direct_response: { status: 200, body: { inline_string: "${body}" } } }] }] }, http_filters: [{ name: envoy.filters.http.router }] } }`;
}

export function staticCluster(name: string, port: number, extra = ''): string {
  return `  - name: ${name}
    connect_timeout: 2s
    load_assignment: { cluster_name: ${name}, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${port} } } } }] }] }
${extra}`;
}

export const ADMIN = 'admin: { address: { socket_address: { address: 127.0.0.1, port_value: 0 } } }';
