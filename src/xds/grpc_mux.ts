/**
 * GrpcMux: one xDS gRPC stream carrying the subscriptions of one or more
 * resource types, after Envoy's `GrpcMuxImpl` (state of the world) and
 * `NewGrpcMuxImpl` (delta) in source/extensions/config_subscription/grpc/.
 * An ADS mux carries every type on one stream; a non-aggregated
 * `api_config_source` gets a mux per subscription.
 *
 * Protocol, as Envoy speaks it:
 * - state of the world: a DiscoveryRequest per type with the names wanted
 *   (none = wildcard, Listener/Cluster only), `version_info` of the last
 *   accepted response; every response is answered: ACK (its version_info and
 *   nonce) or NACK (the last accepted version_info, its nonce, error_detail
 *   naming the bad resource and field). The last good config keeps serving.
 * - delta: DeltaDiscoveryRequests with `resource_names_subscribe` /
 *   `_unsubscribe`, `initial_resource_versions` on a new stream, and an
 *   ACK/NACK by nonce per response.
 * - `node` on the first request of each stream (every request unless
 *   `set_node_on_first_message_only`).
 * - The stream dropping: `control_plane.connected_state` 0, subscriptions are
 *   told (update_failure), the last good config keeps serving, and the
 *   stream is re-opened with jittered exponential back-off (500 ms … 30 s).
 * - A control plane that answers a NACK by sending the same response again at
 *   once (go-control-plane's snapshot cache does): the repeat is not applied
 *   again, and the NACK goes out after a growing delay, so the pair never spins.
 */
import { create, fromBinary, toBinary, type Message } from '@bufbuild/protobuf';
import type { Any } from '@bufbuild/protobuf/wkt';
import type { Node } from '../generated/envoy/config/core/v3/base_pb.js';
import type {
  DeltaDiscoveryRequest,
  DeltaDiscoveryResponse,
  DiscoveryRequest,
  DiscoveryResponse,
} from '../generated/envoy/service/discovery/v3/discovery_pb.js';
import { TypeUrl, type DecodedResource } from '../envoy/config/subscription.js';
import type { GrpcAsyncClient, GrpcAsyncStream } from '../envoy/grpc/async_client.js';
import type { Gauge, Scope } from '../envoy/stats/stats.js';
import { getLogger } from '../common/logger.js';
import { messageSchema } from '../config/type_registry.js';
import { JitteredExponentialBackOffStrategy, type BackOffStrategy } from '../common/backoff_strategy.js';
import { defaultRandom } from '../common/random.js';
import type { XdsSubscription } from './subscription_impl.js';
import { decodeResource, isWildcardType, typeShortName } from './xds_resource.js';
import { ConfigError } from '../config/config_error.js';

const log = getLogger('config');

const DISCOVERY_REQUEST = 'envoy.service.discovery.v3.DiscoveryRequest';
const DISCOVERY_RESPONSE = 'envoy.service.discovery.v3.DiscoveryResponse';
const DELTA_REQUEST = 'envoy.service.discovery.v3.DeltaDiscoveryRequest';
const DELTA_RESPONSE = 'envoy.service.discovery.v3.DeltaDiscoveryResponse';

/** google.rpc.Code INVALID_ARGUMENT, what Envoy puts in a NACK's error_detail. */
const INVALID_ARGUMENT = 3;
const RETRY_BASE_MS = 500;
const RETRY_MAX_MS = 30_000;
const NACK_BACKOFF_BASE_MS = 1000;
const NACK_BACKOFF_MAX_MS = 30_000;

export interface GrpcMuxOptions {
  /** The gRPC client of the `envoy_grpc` cluster. */
  client: GrpcAsyncClient;
  /** The cluster's name (for logs). */
  clusterName: string;
  /** `/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources` etc. */
  methodPath: string;
  delta: boolean;
  node: Node;
  setNodeOnFirstMessageOnly: boolean;
  /** Where `control_plane.*` lives (the root scope). */
  scope: Scope;
  initialMetadata?: ReadonlyArray<readonly [string, string]>;
  /** Test hook: the re-connect back-off. */
  retryBackOff?: BackOffStrategy;
}

/** What the mux keeps per resource type. */
interface TypeState {
  readonly typeUrl: string;
  readonly subscriptions: XdsSubscription[];
  /** SotW: version_info of the last accepted response. */
  acceptedVersion: string;
  /** Nonce of the last response (echoed by the next request of this type). */
  nonce: string;
  /** Delta: names subscribed on the wire, and the versions we hold (for initial_resource_versions). */
  sentNames: Set<string>;
  resourceVersions: Map<string, string>;
  /** The last NACKed response (its version and content) and the delay before the next NACK. */
  lastRejected: { version: string; content: ResponseContent; error: string } | null;
  nackDelayMs: number;
  nackTimer: NodeJS.Timeout | null;
  /**
   * The accepted resources by name, so a subscription added later for names
   * already held gets them at once (Envoy's EDS cache: a cluster replaced by
   * CDS re-subscribes to an assignment the server will not send again).
   */
  cache: Map<string, DecodedResource>;
}

export class GrpcMux {
  private stream: GrpcAsyncStream | null = null;
  private readonly types = new Map<string, TypeState>();
  private nodeSent = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private readonly backOff: BackOffStrategy;
  private readonly connectedState: Gauge;
  private started = false;
  private shutdown = false;
  /** The reason of the last stream failure logged (repeats go to debug). */
  private lastFailure = '';
  /** Types whose requests wait (EDS while CDS applies, RDS while LDS applies); the value: a request is owed. */
  private readonly paused = new Map<string, boolean>();

  constructor(private readonly options: GrpcMuxOptions) {
    this.backOff = options.retryBackOff ?? new JitteredExponentialBackOffStrategy(RETRY_BASE_MS, RETRY_MAX_MS, defaultRandom);
    this.connectedState = options.scope.createScope('control_plane.').gauge('connected_state', 'never_import');
  }

  /** Adds a subscription; its type's request goes out now if the stream is up. */
  addSubscription(sub: XdsSubscription): void {
    let t = this.types.get(sub.typeUrl);
    if (t === undefined) {
      t = {
        typeUrl: sub.typeUrl, subscriptions: [], acceptedVersion: '', nonce: '', sentNames: new Set(),
        resourceVersions: new Map(), lastRejected: null, nackDelayMs: NACK_BACKOFF_BASE_MS, nackTimer: null, cache: new Map(),
      };
      this.types.set(sub.typeUrl, t);
    }
    t.subscriptions.push(sub);
    this.deliverCached(t, sub);
    if (!this.started) {
      this.started = true;
      this.establishStream();
    } else if (this.stream !== null) {
      this.sendRequest(t, null);
    }
  }

  /** A subscription's names changed. */
  updateSubscription(sub: XdsSubscription): void {
    const t = this.types.get(sub.typeUrl);
    if (t === undefined) return;
    this.deliverCached(t, sub);
    if (this.stream !== null) this.sendRequest(t, null);
  }

  /** Hands a new (or widened) subscription the resources already accepted for its names, on the next tick. */
  private deliverCached(t: TypeState, sub: XdsSubscription): void {
    if (t.cache.size === 0) return;
    queueMicrotask(() => {
      if (sub.stopped) return;
      const held = [...t.cache.values()].filter((r) => sub.wants(r.name));
      if (held.length > 0) sub.deliverDelta(held, [], t.acceptedVersion);
    });
  }

  removeSubscription(sub: XdsSubscription): void {
    const t = this.types.get(sub.typeUrl);
    if (t === undefined) return;
    const i = t.subscriptions.indexOf(sub);
    if (i !== -1) t.subscriptions.splice(i, 1);
    if (this.stream !== null) this.sendRequest(t, null);
  }

  /** Closes the stream for good (server shutdown). */
  stop(): void {
    this.shutdown = true;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    for (const t of this.types.values()) if (t.nackTimer !== null) clearTimeout(t.nackTimer);
    this.stream?.close();
    this.stream = null;
  }

  // ---- the stream ----

  private establishStream(): void {
    if (this.shutdown) return;
    this.nodeSent = false;
    const stream: GrpcAsyncStream = this.options.client.startStream(this.options.methodPath, {
      onStreamReady: () => this.connectedState.set(1),
      onReceiveMessage: (payload) => this.onReceiveMessage(payload),
      onRemoteClose: (status, message) => this.onRemoteClose(stream, status, message),
    }, { initialMetadata: this.options.initialMetadata });
    this.stream = stream;
    // Every type's first request of this stream: names, and the versions held (so the server can skip resends).
    for (const t of this.types.values()) {
      t.nonce = '';
      t.sentNames = new Set();
      this.sendRequest(t, null, true);
    }
  }

  private onRemoteClose(stream: GrpcAsyncStream, status: number, message: string): void {
    if (this.stream !== stream) return;
    this.stream = null;
    this.connectedState.set(0);
    const reason = `gRPC status ${status}${message !== '' ? `: ${message}` : ''}`;
    if (reason !== this.lastFailure) log.warn(`xDS stream to ${this.options.clusterName} closed (${reason}); serving the last good config, retrying`);
    else log.debug(`xDS stream to ${this.options.clusterName} closed again (${reason})`);
    this.lastFailure = reason;
    for (const t of this.types.values()) for (const s of t.subscriptions) s.connectionFailure(new Error(reason));
    if (this.shutdown) return;
    const delay = this.backOff.nextBackOffMs();
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.establishStream();
    }, delay);
    this.retryTimer.unref();
  }

  private onReceiveMessage(payload: Buffer): void {
    this.backOff.reset();
    this.lastFailure = '';
    this.connectedState.set(1);
    try {
      if (this.options.delta) this.onDeltaResponse(fromBinary(messageSchema(DELTA_RESPONSE), payload) as unknown as DeltaDiscoveryResponse);
      else this.onSotwResponse(fromBinary(messageSchema(DISCOVERY_RESPONSE), payload) as unknown as DiscoveryResponse);
    } catch (e) {
      log.warn(`xDS: cannot parse a response from ${this.options.clusterName}: ${(e as Error).message}`);
    }
  }

  // ---- state of the world ----

  private onSotwResponse(resp: DiscoveryResponse): void {
    const t = this.types.get(resp.typeUrl);
    if (t === undefined) {
      log.warn(`xDS: ignoring a response of unsubscribed type ${resp.typeUrl}`);
      return;
    }
    t.nonce = resp.nonce;
    const content: ResponseContent = { resources: resp.resources, removed: [] };
    if (t.lastRejected !== null && t.lastRejected.version === resp.versionInfo && sameContent(t.lastRejected.content, content)) {
      // The same rejected response again: do not apply it again; NACK after a growing delay.
      this.scheduleNack(t, t.lastRejected.error);
      return;
    }
    let decoded: DecodedResource[];
    try {
      decoded = this.decodeAll(resp.resources, resp.typeUrl, resp.versionInfo);
    } catch (e) {
      for (const s of t.subscriptions) s.rejectUndecodable();
      return this.reject(t, resp.versionInfo, content, (e as Error).message);
    }
    const errors = this.withDependentsPaused(t.typeUrl, () => {
      const errs: string[] = [];
      for (const s of [...t.subscriptions]) {
        const err = s.deliverStateOfTheWorld(decoded, resp.versionInfo);
        if (err !== null) errs.push(err);
      }
      return errs;
    });
    if (errors.length > 0) return this.reject(t, resp.versionInfo, content, errors.join('; '));
    t.acceptedVersion = resp.versionInfo;
    if (isWildcardType(t.typeUrl)) t.cache.clear();
    for (const r of decoded) t.cache.set(r.name, r);
    t.lastRejected = null;
    t.nackDelayMs = NACK_BACKOFF_BASE_MS;
    this.sendRequest(t, null);
  }

  // ---- delta ----

  private onDeltaResponse(resp: DeltaDiscoveryResponse): void {
    const t = this.types.get(resp.typeUrl);
    if (t === undefined) {
      log.warn(`xDS: ignoring a delta response of unsubscribed type ${resp.typeUrl}`);
      return;
    }
    t.nonce = resp.nonce;
    const content: ResponseContent = {
      resources: resp.resources.map((r) => r.resource).filter((a): a is Any => a !== undefined),
      removed: resp.removedResources,
    };
    if (t.lastRejected !== null && t.lastRejected.version === resp.systemVersionInfo && sameContent(t.lastRejected.content, content)) {
      this.scheduleNack(t, t.lastRejected.error);
      return;
    }
    let decoded: DecodedResource[];
    try {
      decoded = [];
      const seen = new Set<string>();
      for (const [i, r] of resp.resources.entries()) {
        if (r.resource === undefined) continue; // a heartbeat / name-only entry
        const { name, message } = decodeResource(r.resource, resp.typeUrl, `resources[${i}]`);
        if (r.name !== '' && r.name !== name) throw new ConfigError(`resources[${i}]`, `resource name '${r.name}' does not match the ${typeShortName(resp.typeUrl)}'s name '${name}'`);
        if (seen.has(name)) throw new ConfigError(`resources[${i}]`, `duplicate ${typeShortName(resp.typeUrl)} '${name}' in one response`);
        seen.add(name);
        decoded.push({ name, version: r.version, resource: message });
      }
    } catch (e) {
      for (const s of t.subscriptions) s.rejectUndecodable();
      return this.reject(t, resp.systemVersionInfo, content, (e as Error).message);
    }
    const errors = this.withDependentsPaused(t.typeUrl, () => {
      const errs: string[] = [];
      for (const s of [...t.subscriptions]) {
        const err = s.deliverDelta(decoded, resp.removedResources, resp.systemVersionInfo);
        if (err !== null) errs.push(err);
      }
      return errs;
    });
    if (errors.length > 0) return this.reject(t, resp.systemVersionInfo, content, errors.join('; '));
    for (const r of decoded) {
      t.resourceVersions.set(r.name, r.version);
      t.cache.set(r.name, r);
    }
    for (const n of resp.removedResources) {
      t.resourceVersions.delete(n);
      t.cache.delete(n);
    }
    t.acceptedVersion = resp.systemVersionInfo;
    t.lastRejected = null;
    t.nackDelayMs = NACK_BACKOFF_BASE_MS;
    this.sendRequest(t, null);
  }

  // ---- requests ----

  /**
   * Runs `fn` (applying a CDS or LDS update) with the dependent type's requests
   * held back (EDS for CDS, RDS for LDS), so the clusters or listeners it adds
   * subscribe in one request instead of one each — Envoy's ADS pause/resume.
   */
  private withDependentsPaused<R>(typeUrl: string, fn: () => R): R {
    const dependent = typeUrl === TypeUrl.Cluster ? TypeUrl.ClusterLoadAssignment : typeUrl === TypeUrl.Listener ? TypeUrl.RouteConfiguration : null;
    if (dependent === null || this.paused.has(dependent)) return fn();
    this.paused.set(dependent, false);
    try {
      return fn();
    } finally {
      const owed = this.paused.get(dependent) === true;
      this.paused.delete(dependent);
      const t = this.types.get(dependent);
      if (owed && t !== undefined) this.sendRequest(t, null);
    }
  }

  private decodeAll(resources: ReadonlyArray<Any>, typeUrl: string, version: string): DecodedResource[] {
    const out: DecodedResource[] = [];
    const seen = new Set<string>();
    for (const [i, any] of resources.entries()) {
      const { name, message } = decodeResource(any, typeUrl, `resources[${i}]`);
      if (seen.has(name)) throw new ConfigError(`resources[${i}]`, `duplicate ${typeShortName(typeUrl)} '${name}' in one response`);
      seen.add(name);
      out.push({ name, version, resource: message as Message });
    }
    return out;
  }

  private reject(t: TypeState, version: string, content: ResponseContent, error: string): void {
    const first = t.lastRejected === null || t.lastRejected.version !== version;
    t.lastRejected = { version, content, error };
    if (first) log.warn(`xDS: rejected ${typeShortName(t.typeUrl)} update (version ${version || '(none)'}): ${error}`);
    this.sendRequest(t, error);
  }

  /** NACKs again after a delay that doubles each time the same response comes back. */
  private scheduleNack(t: TypeState, error: string): void {
    if (t.nackTimer !== null) return;
    const delay = t.nackDelayMs;
    t.nackDelayMs = Math.min(t.nackDelayMs * 2, NACK_BACKOFF_MAX_MS);
    log.debug(`xDS: ${typeShortName(t.typeUrl)} response NACKed before came again; NACK in ${delay} ms`);
    t.nackTimer = setTimeout(() => {
      t.nackTimer = null;
      if (this.stream !== null) this.sendRequest(t, error);
    }, delay);
    t.nackTimer.unref();
  }

  /** Names the type's subscriptions want ('' set = wildcard), or null when nobody subscribes. */
  private wantedNames(t: TypeState): Set<string> | 'wildcard' | null {
    if (t.subscriptions.length === 0) return null;
    const names = new Set<string>();
    for (const s of t.subscriptions) {
      if (s.isWildcard) return 'wildcard';
      for (const n of s.names) names.add(n);
    }
    return names;
  }

  private sendRequest(t: TypeState, errorDetail: string | null, newStream = false): void {
    if (this.stream === null) return;
    if (this.paused.has(t.typeUrl) && errorDetail === null && !newStream) {
      this.paused.set(t.typeUrl, true);
      return;
    }
    const includeNode = !this.nodeSent || !this.options.setNodeOnFirstMessageOnly;
    const node = includeNode ? this.options.node : undefined;
    const wanted = this.wantedNames(t);
    const error = errorDetail === null ? undefined : { code: INVALID_ARGUMENT, message: errorDetail, details: [] };
    let bytes: Uint8Array;
    if (this.options.delta) {
      const subscribe: string[] = [];
      const unsubscribe: string[] = [];
      const want = wanted === 'wildcard' ? new Set<string>(['*']) : wanted ?? new Set<string>();
      // The legacy wildcard: an empty first subscription of Listener/Cluster.
      const legacyWildcard = wanted === 'wildcard' && newStream;
      if (!legacyWildcard) {
        for (const n of want) if (!t.sentNames.has(n)) subscribe.push(n);
      }
      for (const n of t.sentNames) if (!want.has(n)) unsubscribe.push(n);
      if (!newStream && errorDetail === null && t.nonce === '' && subscribe.length === 0 && unsubscribe.length === 0) return;
      t.sentNames = legacyWildcard ? new Set(['*']) : want;
      const initial: Record<string, string> = {};
      if (newStream) for (const [n, v] of t.resourceVersions) initial[n] = v;
      const req = create(messageSchema(DELTA_REQUEST), {
        node,
        typeUrl: t.typeUrl,
        resourceNamesSubscribe: subscribe,
        resourceNamesUnsubscribe: unsubscribe,
        initialResourceVersions: initial,
        responseNonce: newStream ? '' : t.nonce,
        errorDetail: error,
      } as never) as unknown as DeltaDiscoveryRequest;
      bytes = toBinary(messageSchema(DELTA_REQUEST), req as never);
    } else {
      if (wanted === null && newStream) return; // nobody subscribes: nothing to ask for on a new stream
      const names = wanted === 'wildcard' || wanted === null ? [] : [...wanted];
      const req = create(messageSchema(DISCOVERY_REQUEST), {
        node,
        typeUrl: t.typeUrl,
        resourceNames: names,
        versionInfo: t.acceptedVersion,
        responseNonce: newStream ? '' : t.nonce,
        errorDetail: error,
      } as never) as unknown as DiscoveryRequest;
      bytes = toBinary(messageSchema(DISCOVERY_REQUEST), req as never);
    }
    this.nodeSent = true;
    this.stream.sendMessage(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  }
}

/** What a response carries, kept for the last rejected one to spot the same response sent again. */
interface ResponseContent {
  readonly resources: ReadonlyArray<Any>;
  readonly removed: ReadonlyArray<string>;
}

function sameContent(a: ResponseContent, b: ResponseContent): boolean {
  if (a.resources.length !== b.resources.length || a.removed.length !== b.removed.length) return false;
  for (let i = 0; i < a.removed.length; i++) if (a.removed[i] !== b.removed[i]) return false;
  for (let i = 0; i < a.resources.length; i++) {
    const x = a.resources[i]!, y = b.resources[i]!;
    if (x.typeUrl !== y.typeUrl || !Buffer.from(x.value.buffer, x.value.byteOffset, x.value.byteLength).equals(y.value)) return false;
  }
  return true;
}
