/**
 * The router's mirroring of one request, after the shadowing steps of Envoy's
 * `Router::Filter` (source/common/router/router.cc: decodeHeaders picks the
 * active policies and copies the headers, decodeData buffers the body,
 * decodeTrailers copies the trailers, onRequestComplete → maybeDoShadowing).
 * This is Envoy's default (buffered, not streaming) shadowing:
 *
 * - `start` (decodeHeaders, after the route's header mutations and rewrites):
 *   the policies whose runtime_fraction lets this request through; CONNECT
 *   (and, here, an Upgrade) is never mirrored. The request headers are copied now.
 * - the body is kept as it passes; when it outgrows the buffer limit (the
 *   listener's per_connection_buffer_limit_bytes, capped by the route's or
 *   virtual host's per_request_buffer_limit_bytes) mirroring is abandoned and
 *   `cluster.<main cluster>.retry_or_shadow_abandoned` counts it.
 * - once the whole request is in, and only while the main request is still
 *   upstream-bound, each policy's copy goes to the ShadowWriter (fire and
 *   forget, with the route's timeout). The main request never waits for it.
 */
import type { Counter } from '../envoy/stats/stats.js';
import type { HeaderMap } from '../envoy/http/header_map.js';
import type { Protocol } from '../envoy/http/protocol.js';
import type { ShadowPolicy, ShadowWriter } from '../envoy/router/shadow_writer.js';
import type { RouteEntry } from '../envoy/router/router.js';
import type { ClusterManager } from '../envoy/upstream/cluster_manager.js';
import type { ClusterInfo } from '../envoy/upstream/host.js';
import { shadowClusterName, shouldShadow } from './shadow_policy.js';
import { ShadowWriterImpl } from './shadow_writer.js';

export interface RequestShadowerOptions {
  readonly clusterManager: ClusterManager;
  /** The route's effective mirror policies. */
  readonly policies: readonly ShadowPolicy[];
  /** Request headers after the route's mutations (copied here). */
  readonly headers: HeaderMap;
  /** Uniformly random non-negative integer for the runtime_fraction draw. */
  readonly random: number;
  /** Body bytes that may be buffered for the mirror (0 = no limit). */
  readonly bufferLimit: number;
  /** The route's timeout for the mirror request (0 = none). */
  readonly timeoutMs: number;
  /** Set x-envoy-expected-rq-timeout-ms on the mirror (the router's headers are not suppressed). */
  readonly setExpectedTimeoutHeader: boolean;
  readonly downstreamProtocol: Protocol | null;
  /** `retry_or_shadow_abandoned` of the main cluster. */
  readonly abandoned: Counter;
  /** Injected in tests; defaults to a ShadowWriterImpl over `clusterManager`. */
  readonly writer?: ShadowWriter;
}

/** What `startShadowing` needs of the router. */
export interface RouterShadowContext {
  readonly clusterManager: ClusterManager;
  readonly suppressEnvoyHeaders: boolean;
}

/**
 * The router's entry point: mirroring for this request under `entry`'s
 * policies (null when none applies). `decoderBufferLimit` is the stream's
 * buffer limit (0 = none); `timeoutMs` the route timeout the router computed.
 */
export function startShadowing(router: RouterShadowContext, entry: RouteEntry, headers: HeaderMap, cluster: ClusterInfo,
  timeoutMs: number, decoderBufferLimit: number, downstreamProtocol: Protocol | null): RequestShadower | null {
  if (entry.shadowPolicies.length === 0) return null;
  return RequestShadower.start({
    clusterManager: router.clusterManager,
    policies: entry.shadowPolicies,
    headers,
    random: (Math.random() * 0x80000000) >>> 0,
    bufferLimit: Math.min(decoderBufferLimit > 0 ? decoderBufferLimit : Infinity, entry.retryShadowBufferLimit ?? Infinity),
    timeoutMs,
    setExpectedTimeoutHeader: !router.suppressEnvoyHeaders,
    downstreamProtocol,
    abandoned: cluster.stats.retry_or_shadow_abandoned,
  });
}

export class RequestShadower {
  private body: Buffer[] = [];
  private bodyBytes = 0;
  private trailers: HeaderMap | null = null;
  private abandonedShadow = false;

  private constructor(
    private readonly o: RequestShadowerOptions,
    private readonly active: readonly ShadowPolicy[],
    private readonly headers: HeaderMap,
  ) {}

  /** A shadower for this request, or null when no policy applies. */
  static start(o: RequestShadowerOptions): RequestShadower | null {
    // CONNECT is never mirrored (Envoy); nor is an upgrade, whose request never completes while the tunnel is open.
    if (o.policies.length === 0 || o.headers.get(':method') === 'CONNECT' || o.headers.has('upgrade')) return null;
    const active = o.policies.filter((p) => shouldShadow(p, o.random));
    if (active.length === 0) return null;
    const headers = o.headers.clone();
    if (o.setExpectedTimeoutHeader && o.timeoutMs > 0) headers.set('x-envoy-expected-rq-timeout-ms', String(o.timeoutMs));
    return new RequestShadower(o, active, headers);
  }

  /** A body chunk; `upstreamActive`: the main request is still upstream-bound. */
  onData(data: Buffer, endStream: boolean, upstreamActive: boolean): void {
    if (this.abandonedShadow) return;
    if (data.length > 0) {
      this.bodyBytes += data.length;
      const limit = this.o.bufferLimit;
      if (limit > 0 && this.bodyBytes > limit) {
        this.abandonedShadow = true;
        this.body = [];
        this.o.abandoned.inc();
        return;
      }
      this.body.push(data);
    }
    if (endStream) this.onRequestComplete(upstreamActive);
  }

  onTrailers(trailers: HeaderMap, upstreamActive: boolean): void {
    if (this.abandonedShadow) return;
    this.trailers = trailers.clone();
    this.onRequestComplete(upstreamActive);
  }

  /** The whole request is in (a header-only request ends here directly). */
  onRequestComplete(upstreamActive: boolean): void {
    if (this.abandonedShadow || !upstreamActive) return;
    this.abandonedShadow = true; // at most once
    const writer = this.o.writer ?? new ShadowWriterImpl(this.o.clusterManager);
    const body = this.body.length === 1 ? this.body[0]! : Buffer.concat(this.body);
    this.body = [];
    for (const policy of this.active) {
      const cluster = shadowClusterName(policy, this.headers);
      if (cluster === null) continue;
      writer.shadow(cluster, { headers: this.headers.clone(), body, trailers: this.trailers?.clone() ?? null }, {
        timeoutMs: this.o.timeoutMs,
        disableShadowHostSuffixAppend: policy.disableShadowHostSuffixAppend,
        downstreamProtocol: this.o.downstreamProtocol,
      });
    }
  }
}
