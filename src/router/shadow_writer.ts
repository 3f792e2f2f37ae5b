/**
 * ShadowWriterImpl: sends mirror requests fire and forget, after Envoy's
 * `source/common/router/shadow_writer_impl.cc`. The mirror cluster is looked
 * up when the request is sent: one that does not exist (any more) is skipped.
 * `:authority` gets `-shadow` appended to its host part ("foo:8080" →
 * "foo-shadow:8080", "[::1]" → "[::1]-shadow") unless the policy disables it.
 * The request goes out on an HTTP async client with the route's timeout; the
 * response (or failure) is dropped.
 */
import type { ShadowOptions, ShadowRequest, ShadowWriter } from '../envoy/router/shadow_writer.js';
import type { ClusterManager } from '../envoy/upstream/cluster_manager.js';
import { HttpAsyncClientImpl, type HttpAsyncRequestCallbacks } from '../upstream/http_async_client.js';
import { getPortStart } from './host_utility.js';
import { upstreamProtocolFor } from './upstream_protocol.js';

/** Envoy's shadowAppendedHost. */
export function shadowAppendedHost(host: string): string {
  const portStart = getPortStart(host);
  if (portStart === -1) return `${host}-shadow`;
  return `${host.slice(0, portStart)}-shadow${host.slice(portStart)}`;
}

/** Mirror responses are ignored. */
const IGNORE_RESPONSE: HttpAsyncRequestCallbacks = {
  onSuccess: () => {},
  onFailure: () => {},
};

export class ShadowWriterImpl implements ShadowWriter {
  constructor(private readonly clusterManager: ClusterManager) {}

  shadow(cluster: string, request: ShadowRequest, options: ShadowOptions): void {
    const tlc = this.clusterManager.getThreadLocalCluster(cluster);
    if (tlc === undefined) return; // e.g. removed by CDS since the route was loaded
    const host = request.headers.get(':authority');
    if (!options.disableShadowHostSuffixAppend && host !== undefined && host.length > 0) {
      request.headers.set(':authority', shadowAppendedHost(host));
    }
    new HttpAsyncClientImpl(tlc).send(request, IGNORE_RESPONSE, {
      timeoutMs: options.timeoutMs,
      discardResponseBody: true,
      protocol: upstreamProtocolFor(tlc.info, options.downstreamProtocol),
    });
  }
}
