/**
 * Request mirroring (shadowing) interfaces, after Envoy's `ShadowPolicy`
 * (envoy/router/router.h) and `ShadowWriter` (envoy/router/shadow_writer.h).
 */
import type { HeaderMap } from '../http/header_map.js';
import type { Protocol } from '../http/protocol.js';

/** One compiled `request_mirror_policies` entry. */
export interface ShadowPolicy {
  /** Static mirror cluster ('' when the name comes from `clusterHeader`). */
  readonly cluster: string;
  /** Lower-cased header naming the mirror cluster ('' for a static cluster). */
  readonly clusterHeader: string;
  /** `runtime_fraction.runtime_key` ('' = none; there is no runtime layer, so the default applies). */
  readonly runtimeKey: string;
  /** `runtime_fraction.default_value` as numerator / denominator (100/100 when unset). */
  readonly numerator: number;
  readonly denominator: number;
  /** `trace_sampled` (default true); kept, not used (no tracing). */
  readonly traceSampled: boolean;
  /** `disable_shadow_host_suffix_append`: keep :authority as it is. */
  readonly disableShadowHostSuffixAppend: boolean;
}

/** The copy of a request sent to a mirror cluster. */
export interface ShadowRequest {
  readonly headers: HeaderMap;
  /** Empty for none. */
  readonly body: Buffer;
  readonly trailers: HeaderMap | null;
}

export interface ShadowOptions {
  /** The route's timeout for the mirror request (0 = none). */
  readonly timeoutMs: number;
  readonly disableShadowHostSuffixAppend: boolean;
  /** The original request's protocol: picks the mirror's for clusters with use_downstream_protocol_config. */
  readonly downstreamProtocol: Protocol | null;
}

/** Sends mirror requests, fire and forget: their responses are never seen. */
export interface ShadowWriter {
  shadow(cluster: string, request: ShadowRequest, options: ShadowOptions): void;
}
