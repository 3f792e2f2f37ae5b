/**
 * XdsSubscription: what every transport shares, after Envoy's
 * `GrpcSubscriptionImpl` / `FilesystemSubscriptionImpl` and `SubscriptionStats`:
 *
 * - turns a state-of-the-world delivery into the one ConfigUpdate shape
 *   (added + removed): for Listener and Cluster a name missing from the
 *   response is removed; for the other types a response only speaks of the
 *   resources it carries (as Envoy reads RDS/EDS/SDS);
 * - runs the consumer's callback and reports whether it accepted (NACK text);
 * - keeps the subscription stats (update_attempt, update_success,
 *   update_rejected, update_failure, init_fetch_timeout, version,
 *   update_time; update_empty is the consumer's, as EDS counts it) and the version text and last update time for
 *   /config_dump;
 * - arms `initial_fetch_timeout` on start.
 */
import type { Message } from '@bufbuild/protobuf';
import {
  ConfigUpdateFailureReason,
  type DecodedResource,
  type SubscriptionCallbacks,
} from '../envoy/config/subscription.js';
import type { Counter, Gauge, Scope } from '../envoy/stats/stats.js';
import type { ConfigSource } from '../generated/envoy/config/core/v3/config_source_pb.js';
import { durationToMs } from '../config/well_known.js';
import { isWildcardType } from './xds_resource.js';

/** A config source's `initial_fetch_timeout` in ms: Envoy's default 15 s; 0 = wait forever. */
export function initialFetchTimeoutMs(configSource: ConfigSource): number {
  return durationToMs(configSource.initialFetchTimeout, 15_000);
}

export interface SubscriptionStats {
  update_attempt: Counter;
  update_success: Counter;
  update_failure: Counter;
  update_rejected: Counter;
  update_empty: Counter;
  init_fetch_timeout: Counter;
  version: Gauge;
  update_time: Gauge;
}

export function subscriptionStats(scope: Scope): SubscriptionStats {
  return {
    update_attempt: scope.counter('update_attempt'),
    update_success: scope.counter('update_success'),
    update_failure: scope.counter('update_failure'),
    update_rejected: scope.counter('update_rejected'),
    update_empty: scope.counter('update_empty'),
    init_fetch_timeout: scope.counter('init_fetch_timeout'),
    version: scope.gauge('version', 'never_import'),
    update_time: scope.gauge('update_time', 'never_import'),
  };
}

/** Envoy reports `version` as a hash of version_info; 32-bit FNV-1a here (it only has to change with the text). */
export function versionHash(versionInfo: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < versionInfo.length; i++) {
    h ^= versionInfo.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

export class XdsSubscription<T extends Message = Message> {
  readonly stats: SubscriptionStats;
  /** The names asked for; empty = all (wildcard). */
  names: ReadonlySet<string> = new Set();
  started = false;
  stopped = false;
  /** Names delivered and not removed since (state of the world bookkeeping). */
  private readonly known = new Set<string>();
  private initTimer: NodeJS.Timeout | null = null;
  private gotFirstUpdate = false;
  /** version_info of the last accepted update ('' before). */
  versionInfo = '';
  /** When the last accepted update was applied (ms since epoch, 0 before). */
  lastUpdated = 0;

  constructor(
    readonly typeUrl: string,
    scope: Scope,
    private readonly callbacks: SubscriptionCallbacks<T>,
    private readonly initialFetchTimeoutMs: number,
  ) {
    this.stats = subscriptionStats(scope);
  }

  get isWildcard(): boolean {
    return this.names.size === 0;
  }

  /** Whether this subscription wants `name`. */
  wants(name: string): boolean {
    return this.names.size === 0 || this.names.has(name);
  }

  start(names: ReadonlyArray<string>): void {
    this.names = new Set(names);
    this.started = true;
    if (this.initialFetchTimeoutMs > 0) {
      this.initTimer = setTimeout(() => {
        this.initTimer = null;
        if (this.gotFirstUpdate || this.stopped) return;
        this.stats.init_fetch_timeout.inc();
        this.callbacks.onConfigUpdateFailed(ConfigUpdateFailureReason.FetchTimedout, null);
      }, this.initialFetchTimeoutMs);
      this.initTimer.unref();
    }
  }

  stop(): void {
    this.stopped = true;
    this.clearInitTimer();
  }

  /**
   * A state-of-the-world delivery: `resources` are every resource of the type
   * in the response (decoded). Returns null when accepted, else the error text.
   */
  deliverStateOfTheWorld(resources: ReadonlyArray<DecodedResource<T>>, versionInfo: string): string | null {
    const mine = resources.filter((r) => this.wants(r.name));
    const removed: string[] = [];
    if (isWildcardType(this.typeUrl) || this.isFileBased) {
      const present = new Set(mine.map((r) => r.name));
      for (const n of this.known) if (!present.has(n) && this.wants(n)) removed.push(n);
    }
    return this.deliver(mine, removed, versionInfo);
  }

  /** Set by the file transport: there every delivery is the whole state, whatever the type. */
  isFileBased = false;

  /** A delta delivery (already decoded). Returns null when accepted, else the error text. */
  deliverDelta(added: ReadonlyArray<DecodedResource<T>>, removed: ReadonlyArray<string>, versionInfo: string): string | null {
    return this.deliver(added.filter((r) => this.wants(r.name)), removed.filter((n) => this.wants(n)), versionInfo);
  }

  /** The response could not even be decoded: counted as a rejected update. */
  rejectUndecodable(): void {
    this.stats.update_attempt.inc();
    this.stats.update_rejected.inc();
    this.firstUpdateSeen();
  }

  /** The transport lost its source (control plane away, file unreadable). */
  connectionFailure(error: Error | null): void {
    if (this.stopped) return;
    this.stats.update_attempt.inc();
    this.stats.update_failure.inc();
    this.callbacks.onConfigUpdateFailed(ConfigUpdateFailureReason.ConnectionFailure, error);
  }

  private deliver(added: ReadonlyArray<DecodedResource<T>>, removed: ReadonlyArray<string>, versionInfo: string): string | null {
    if (this.stopped) return null;
    this.stats.update_attempt.inc();
    try {
      this.callbacks.onConfigUpdate({ added, removed, versionInfo });
    } catch (e) {
      this.stats.update_rejected.inc();
      this.firstUpdateSeen();
      this.callbacks.onConfigUpdateFailed(ConfigUpdateFailureReason.UpdateRejected, e as Error);
      return (e as Error).message;
    }
    for (const r of added) this.known.add(r.name);
    for (const n of removed) this.known.delete(n);
    this.stats.update_success.inc();
    this.stats.version.set(versionHash(versionInfo));
    this.lastUpdated = Date.now();
    this.stats.update_time.set(this.lastUpdated);
    this.versionInfo = versionInfo;
    this.firstUpdateSeen();
    return null;
  }

  private firstUpdateSeen(): void {
    this.gotFirstUpdate = true;
    this.clearInitTimer();
  }

  private clearInitTimer(): void {
    if (this.initTimer !== null) {
      clearTimeout(this.initTimer);
      this.initTimer = null;
    }
  }
}
