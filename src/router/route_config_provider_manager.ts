/**
 * RouteConfigProviderManager: hands HCMs their dynamic route tables, after
 * Envoy's `RouteConfigProviderManagerImpl` (`source/common/router/rds_impl.cc`).
 * HCMs asking for the same `rds` (config source and route_config_name) share
 * one RdsRouteConfigSubscription — one xDS subscription, one compiled table —
 * whose stats live under the first HCM's prefix; it stops when the last
 * listener using it is torn down.
 *
 * One manager per SubscriptionFactory (that is, per server).
 */
import { toBinary } from '@bufbuild/protobuf';
import type { Rds } from '../generated/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager_pb.js';
import type { RouteConfiguration } from '../generated/envoy/config/route/v3/route_pb.js';
import type { RouteTable } from '../envoy/router/router.js';
import type { Scope } from '../envoy/stats/stats.js';
import type { SubscriptionFactory } from '../envoy/config/subscription.js';
import type { InitManager } from '../envoy/init/init.js';
import { messageSchema } from '../config/type_registry.js';
import { RdsRouteConfigSubscription } from './rds_impl.js';
import type { RouteTableOptions } from './config_impl.js';

const RDS_TYPE = 'envoy.extensions.filters.network.http_connection_manager.v3.Rds';

/** One HCM's handle on a shared dynamic route table. */
export interface RouteConfigProvider {
  /** The table for a new request (null: none yet, or removed — 404 NR). */
  routeTable(): RouteTable | null;
  readonly subscription: RdsRouteConfigSubscription;
  /** This HCM no longer needs it (idempotent). */
  release(): void;
}

export interface RdsProviderArgs {
  /** The root scope; the subscription's stats go under `http.<statPrefix>.rds.<route_config_name>.`. */
  readonly scope: Scope;
  readonly statPrefix: string;
  /** How to compile each RouteConfiguration (as an inline route_config, but validate_clusters defaults to false). */
  readonly options: RouteTableOptions;
  /** The listener's init manager: the listener warms until the table arrives. Without one the subscription starts at once. */
  readonly initManager?: InitManager;
  /** The HCM's `rds` field path, for errors. */
  readonly path: string;
}

/** A dynamic route configuration as /config_dump shows it. */
export interface DynamicRouteConfigState {
  readonly name: string;
  readonly versionInfo: string;
  readonly routeConfig: RouteConfiguration | null;
  readonly lastUpdated: Date | null;
}

interface Entry {
  readonly subscription: RdsRouteConfigSubscription;
  refs: number;
}

export class RouteConfigProviderManager {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly factory: SubscriptionFactory) {}

  createRdsRouteConfigProvider(rds: Rds, args: RdsProviderArgs): RouteConfigProvider {
    const key = Buffer.from(toBinary(messageSchema(RDS_TYPE), rds)).toString('base64');
    let entry = this.entries.get(key);
    if (entry === undefined) {
      const scope = args.scope.createScope(`http.${args.statPrefix}.rds.${rds.routeConfigName}.`);
      entry = { subscription: new RdsRouteConfigSubscription(rds, this.factory, scope, args.options, args.path), refs: 0 };
      this.entries.set(key, entry);
    }
    const e = entry;
    e.refs++;
    if (args.initManager !== undefined) args.initManager.add(e.subscription.initTarget);
    else e.subscription.initTarget.initialize(() => {});
    let released = false;
    const sub = e.subscription;
    return {
      routeTable: () => sub.routeTable,
      subscription: sub,
      release: () => {
        if (released) return;
        released = true;
        if (--e.refs > 0) return;
        sub.stop();
        if (this.entries.get(key) === e) this.entries.delete(key);
      },
    };
  }

  /** Subscriptions in use (for tests and stats). */
  get subscriptionCount(): number { return this.entries.size; }

  /** Every dynamic route configuration in use, for /config_dump (dynamic_route_configs). */
  dynamicRouteConfigs(): DynamicRouteConfigState[] {
    return [...this.entries.values()].map(({ subscription: s }) => ({
      name: s.routeConfigName, versionInfo: s.versionInfo, routeConfig: s.routeConfig, lastUpdated: s.lastUpdated,
    }));
  }
}

const managers = new WeakMap<SubscriptionFactory, RouteConfigProviderManager>();

/** The manager of the server that owns `factory` (one per factory). */
export function routeConfigProviderManagerFor(factory: SubscriptionFactory): RouteConfigProviderManager {
  let m = managers.get(factory);
  if (m === undefined) managers.set(factory, m = new RouteConfigProviderManager(factory));
  return m;
}
