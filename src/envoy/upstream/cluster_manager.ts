/**
 * Cluster manager, load balancer and connection pool interfaces, after Envoy's
 * `envoy/upstream/cluster_manager.h`, `load_balancer.h` and
 * `envoy/http/conn_pool.h`.
 */
import type { HeaderMap } from '../http/header_map.js';
import type { RequestEncoder, ResponseDecoder, StreamResetReason } from '../http/codec.js';
import type { ClusterInfo, Host, UpstreamProtocol } from './host.js';

/** What a load balancer may use to pick a host. */
export interface LoadBalancerContext {
  /** Hash for ring_hash / maglev (null when no hash policy produced one). */
  computeHashKey(): bigint | null;
  /** Request headers, when the request is HTTP. */
  downstreamHeaders(): HeaderMap | null;
  /** Hosts to avoid (retry_host_predicate previous_hosts). */
  shouldSelectAnotherHost(host: Host): boolean;
  hostSelectionRetryCount(): number;
}

export interface LoadBalancer {
  /** A host for this request, or null when no host is available (503 UH). */
  chooseHost(context: LoadBalancerContext | null): Host | null;
}

/** Hosts of one priority level, with the healthy subset precomputed. */
export interface HostSet {
  readonly priority: number;
  readonly hosts: ReadonlyArray<Host>;
  readonly healthyHosts: ReadonlyArray<Host>;
  readonly degradedHosts: ReadonlyArray<Host>;
}

export interface PrioritySet {
  readonly hostSetsPerPriority: ReadonlyArray<HostSet>;
  /** Called after membership changes, with the priority that changed. */
  addMemberUpdateCb(cb: (priority: number, added: ReadonlyArray<Host>, removed: ReadonlyArray<Host>) => void): () => void;
}

export enum PoolFailureReason {
  /** The pending queue or connection limit overflowed. */
  Overflow = 'overflow',
  /** The connection could not be made. */
  LocalConnectionFailure = 'local connection failure',
  RemoteConnectionFailure = 'remote connection failure',
  Timeout = 'timeout',
}

export interface ConnectionPoolCallbacks {
  /** A stream is ready: write the request through `encoder`. */
  onPoolReady(encoder: RequestEncoder, host: Host, upstreamLocalAddress: string): void;
  /** No stream could be had. `transportFailureReason` explains TLS/connect errors. */
  onPoolFailure(reason: PoolFailureReason, transportFailureReason: string, host: Host): void;
}

export interface Cancellable {
  /** Cancels a pending newStream(); no callback fires afterwards. */
  cancel(): void;
}

export interface HttpConnectionPool {
  readonly host: Host;
  readonly protocol: UpstreamProtocol;
  /**
   * Asks for a stream. Calls onPoolReady or onPoolFailure later (possibly
   * synchronously when an idle connection is ready); returns a handle to
   * cancel while pending, or null when a callback already fired.
   */
  newStream(decoder: ResponseDecoder, callbacks: ConnectionPoolCallbacks): Cancellable | null;
  /** True when no stream is active or pending. */
  isIdle(): boolean;
  /** Closes idle connections now and the rest when their streams end. */
  drainConnections(): void;
  /** Closes everything now (streams are reset). */
  destroy(): void;
  addIdleCallback(cb: () => void): void;
}

export interface ThreadLocalCluster {
  readonly info: ClusterInfo;
  readonly prioritySet: PrioritySet;
  readonly loadBalancer: LoadBalancer;
  /** A connection pool to `host`, created on first use and kept per (host, protocol). */
  httpConnPool(host: Host, protocol: UpstreamProtocol, priority?: number): HttpConnectionPool;
}

export interface ClusterManager {
  /** The cluster by name, or undefined (router answers 503 NC). */
  getThreadLocalCluster(name: string): ThreadLocalCluster | undefined;
  /** Names of every cluster (static and dynamic). */
  clusterNames(): string[];
}

/** Reason text used in local replies for a reset: `reset reason: <text>`. */
export type ResetReasonText = StreamResetReason | string;
