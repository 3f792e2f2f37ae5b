/** Bootstrap builders for integration tests: Envoy YAML, as a user writes it. */

export interface ProxyOptions {
  upstreamPort: number;
  hcmExtra?: string;
  routeExtra?: string;
  vhostExtra?: string;
  routes?: string;
  clusterExtra?: string;
  listenerExtra?: string;
  accessLogPath?: string;
  admin?: boolean;
  clusterName?: string;
}

export function indent(s: string, n: number): string {
  const pad = ' '.repeat(n);
  return s.split('\n').map((l) => (l.trim() === '' ? l : pad + l)).join('\n');
}

/** Cluster option: HTTP/2 (h2c) to the upstream, through typed_extension_protocol_options. */
export const H2_UPSTREAM = `typed_extension_protocol_options:
  envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
    "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
    explicit_http_config:
      http2_protocol_options: {}`;

/** One STATIC cluster with a single 127.0.0.1 endpoint, as a `clusters:` list item (no indent). */
export function staticCluster(name: string, port: number, opts: { connectTimeout?: string; extra?: string } = {}): string {
  return `- name: ${name}
  type: STATIC
  connect_timeout: ${opts.connectTimeout ?? '1s'}
${opts.extra ? indent(opts.extra, 2) : ''}
  load_assignment:
    cluster_name: ${name}
    endpoints:
    - lb_endpoints:
      - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${port} } } }
`;
}

/** One listener (`ingress`, port 0) → HCM (stat_prefix ingress_http) → router → cluster `backend`. */
export function proxyConfig(o: ProxyOptions): string {
  const cluster = o.clusterName ?? 'backend';
  const routes = o.routes ?? `- match: { prefix: "/" }
  route:
    cluster: ${cluster}
${o.routeExtra ? indent(o.routeExtra, 4) : ''}`;
  const accessLog = o.accessLogPath === undefined ? '' : `access_log:
- name: envoy.access_loggers.file
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
    path: ${o.accessLogPath}
`;
  return `
${o.admin === false ? '' : `admin:
  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }`}
static_resources:
  listeners:
  - name: ingress
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
${o.listenerExtra ? indent(o.listenerExtra, 4) : ''}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress_http
${indent(accessLog, 10)}
${o.hcmExtra ? indent(o.hcmExtra, 10) : ''}
          route_config:
            name: local_route
            virtual_hosts:
            - name: all
              domains: ["*"]
${o.vhostExtra ? indent(o.vhostExtra, 14) : ''}
              routes:
${indent(routes, 14)}
          http_filters:
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
${indent(staticCluster(cluster, o.upstreamPort, { extra: o.clusterExtra }), 2)}`;
}
