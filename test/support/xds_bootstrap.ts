/**
 * The bootstrap of a Legate proxy fed by an xDS control plane over ADS at
 * 127.0.0.1:<xdsPort> (a static HTTP/2 cluster `xds` + dynamic_resources),
 * shared by the xDS tests and bench/xds.ts.
 */
export interface AdsBootstrapOptions {
  xdsPort: number;
  /** GRPC (state of the world) or DELTA_GRPC. */
  apiType?: 'GRPC' | 'DELTA_GRPC';
  nodeId?: string;
  nodeCluster?: string;
  /** Subscribe to listeners / clusters over ADS (default both). */
  lds?: boolean;
  cds?: boolean;
  /** An admin listener on 127.0.0.1:0. */
  admin?: boolean;
  /** Extra lines under ads_config (indented by the caller to 4 spaces). */
  adsExtra?: string;
}

export function adsBootstrapYaml(o: AdsBootstrapOptions): string {
  return `
node: { id: ${o.nodeId ?? 'proxy-1'}, cluster: ${o.nodeCluster ?? 'edge'}, locality: { zone: z1 } }
${o.admin ? 'admin: { address: { socket_address: { address: 127.0.0.1, port_value: 0 } } }' : ''}
static_resources:
  clusters:
  - name: xds
    type: STATIC
    connect_timeout: 1s
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config: { http2_protocol_options: {} }
    load_assignment:
      cluster_name: xds
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${o.xdsPort} } } } }] }]
dynamic_resources:
  ads_config:
    api_type: ${o.apiType ?? 'GRPC'}
    transport_api_version: V3
    grpc_services: [{ envoy_grpc: { cluster_name: xds } }]
${o.adsExtra ?? ''}
${o.lds === false ? '' : '  lds_config: { ads: {}, resource_api_version: V3 }'}
${o.cds === false ? '' : '  cds_config: { ads: {}, resource_api_version: V3 }'}
`;
}
