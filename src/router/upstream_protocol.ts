/**
 * Which protocol a request speaks upstream, after Envoy's
 * `ClusterInfoImpl::upstreamHttpProtocol(downstream_protocol)`:
 *
 * - `use_downstream_protocol_config` (or the legacy cluster
 *   `protocol_selection: USE_DOWNSTREAM_PROTOCOL`): HTTP/2 upstream for an
 *   HTTP/2 (or HTTP/3) downstream stream, HTTP/1.1 for HTTP/1.0 and HTTP/1.1;
 * - otherwise the cluster's configured protocol (`explicit_http_config`, or the
 *   legacy `http2_protocol_options` for HTTP/2, else HTTP/1.1).
 */
import { Protocol } from '../envoy/http/protocol.js';
import type { ClusterInfo, UpstreamProtocol } from '../envoy/upstream/host.js';

export function upstreamProtocolFor(cluster: ClusterInfo, downstream: Protocol | null): UpstreamProtocol {
  if (cluster.useDownstreamProtocol && downstream !== null) {
    return downstream === Protocol.Http2 || downstream === Protocol.Http3 ? 'http2' : 'http1';
  }
  return cluster.upstreamProtocol;
}
