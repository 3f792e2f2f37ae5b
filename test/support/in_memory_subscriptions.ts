/**
 * A SubscriptionFactory whose updates the test pushes by hand, for testing
 * xDS consumers (cluster manager, listener manager, HCM RDS, EDS clusters)
 * apart from the transport. Like the real transports it reports
 * `initial_fetch_timeout` as FetchTimedout when nothing was pushed in time.
 * The gRPC and file transports are tested against real control planes and
 * real files elsewhere.
 */
import type { Message } from '@bufbuild/protobuf';
import type { ConfigSource } from '../../src/generated/envoy/config/core/v3/config_source_pb.js';
import type { Scope } from '../../src/envoy/stats/stats.js';
import {
  ConfigUpdateFailureReason,
  type ConfigUpdate,
  type DecodedResource,
  type Subscription,
  type SubscriptionCallbacks,
  type SubscriptionFactory,
  type TypeUrl,
} from '../../src/envoy/config/subscription.js';
import { initialFetchTimeoutMs } from '../../src/xds/subscription_impl.js';

export interface InMemorySubscription {
  readonly typeUrl: TypeUrl;
  readonly configSource: ConfigSource;
  readonly scope: Scope;
  readonly path: string;
  names: ReadonlyArray<string>;
  started: boolean;
  stopped: boolean;
  /** Something was delivered (the initial fetch timeout no longer applies). */
  delivered: boolean;
  callbacks: SubscriptionCallbacks<Message>;
}

export class InMemorySubscriptionFactory implements SubscriptionFactory {
  readonly subscriptions: InMemorySubscription[] = [];

  subscriptionFromConfigSource<T extends Message>(
    configSource: ConfigSource,
    typeUrl: TypeUrl,
    scope: Scope,
    callbacks: SubscriptionCallbacks<T>,
    path: string,
  ): Subscription {
    const s: InMemorySubscription = {
      typeUrl, configSource, scope, path, names: [], started: false, stopped: false, delivered: false,
      callbacks: callbacks as unknown as SubscriptionCallbacks<Message>,
    };
    this.subscriptions.push(s);
    return {
      start: (names) => {
        s.names = [...names];
        s.started = true;
        const timeoutMs = initialFetchTimeoutMs(configSource);
        if (timeoutMs > 0) {
          setTimeout(() => {
            if (!s.delivered && !s.stopped) s.callbacks.onConfigUpdateFailed(ConfigUpdateFailureReason.FetchTimedout, null);
          }, timeoutMs).unref();
        }
      },
      updateResourceInterest: (names) => { s.names = [...names]; },
      stop: () => { s.stopped = true; },
    };
  }

  /** Live subscriptions of a type (optionally only those interested in `name`). */
  active(typeUrl: TypeUrl, name?: string): InMemorySubscription[] {
    return this.subscriptions.filter((s) =>
      s.typeUrl === typeUrl && s.started && !s.stopped && (name === undefined || s.names.length === 0 || s.names.includes(name)));
  }

  /**
   * Delivers an update to every live subscription of `typeUrl` that wants at
   * least one of the resources (or is a wildcard). Returns the errors the
   * consumers threw (a real transport would NACK with them); empty = accepted.
   */
  push<T extends Message>(typeUrl: TypeUrl, added: ReadonlyArray<DecodedResource<T>>, removed: ReadonlyArray<string> = [], versionInfo = '1'): Error[] {
    const errors: Error[] = [];
    for (const s of this.active(typeUrl)) {
      const mine = s.names.length === 0 ? added : added.filter((r) => s.names.includes(r.name));
      const gone = s.names.length === 0 ? removed : removed.filter((n) => s.names.includes(n));
      if (mine.length === 0 && gone.length === 0) continue;
      const update: ConfigUpdate<Message> = { added: mine, removed: gone, versionInfo };
      s.delivered = true;
      try {
        s.callbacks.onConfigUpdate(update);
      } catch (e) {
        errors.push(e as Error);
      }
    }
    return errors;
  }

  /** Tells every live subscription of `typeUrl` that fetching failed. */
  fail(typeUrl: TypeUrl, reason: ConfigUpdateFailureReason = ConfigUpdateFailureReason.FetchTimedout): void {
    for (const s of this.active(typeUrl)) s.callbacks.onConfigUpdateFailed(reason, null);
  }
}
