/**
 * RdsRouteConfigSubscription: one route table that changes at runtime, fed
 * by RDS, after Envoy's `source/common/router/rds_impl.cc`.
 *
 * It subscribes to one RouteConfiguration by name (HCM `rds.route_config_name`
 * from `rds.config_source`), validates and compiles each version exactly as
 * an inline `route_config` is, and swaps the compiled table in one step:
 * requests already routed keep the route they have, new ones use the new
 * table. An invalid version is rejected (thrown, so the transport NACKs it)
 * and the last good table keeps serving.
 *
 * It is an init target of every listener whose HCM uses it: a listener warms
 * until the first version arrives, or until `initial_fetch_timeout` (default
 * 15 s, 0 = wait forever) passes, or the first version is rejected — then it
 * serves with no table (every request 404 NR) until a good one arrives. A
 * removed RouteConfiguration also leaves no table.
 *
 * Stats under `http.<stat_prefix>.rds.<route_config_name>.`: config_reload,
 * config_reload_time_ms (the subscription adds update_attempt, update_success,
 * update_rejected, version...).
 */
import { toBinary } from '@bufbuild/protobuf';
import type { Rds } from '../generated/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager_pb.js';
import type { RouteConfiguration } from '../generated/envoy/config/route/v3/route_pb.js';
import type { RouteTable } from '../envoy/router/router.js';
import type { Counter, Gauge, Scope } from '../envoy/stats/stats.js';
import {
  ConfigUpdateFailureReason,
  TypeUrl,
  type ConfigUpdate,
  type Subscription,
  type SubscriptionCallbacks,
  type SubscriptionFactory,
} from '../envoy/config/subscription.js';
import { ConfigError } from '../config/config_error.js';
import { validateMessage } from '../config/pgv_validator.js';
import { messageSchema } from '../config/type_registry.js';
import { SharedTargetImpl } from '../common/init/shared_target_impl.js';
import { getLogger } from '../common/logger.js';
import { compileRouteTable, type RouteTableOptions } from './config_impl.js';

const log = getLogger('config');

const ROUTE_CONFIGURATION_TYPE = 'envoy.config.route.v3.RouteConfiguration';

export class RdsRouteConfigSubscription implements SubscriptionCallbacks<RouteConfiguration> {
  readonly routeConfigName: string;
  /** Ready on the first version (applied or rejected), on initial_fetch_timeout, or when fetching gives up. */
  readonly initTarget: SharedTargetImpl;
  /** The table serving new requests; null before the first version and after a removal. */
  routeTable: RouteTable | null = null;
  /** The RouteConfiguration `routeTable` was compiled from (for /config_dump). */
  routeConfig: RouteConfiguration | null = null;
  versionInfo = '';
  lastUpdated: Date | null = null;
  private hash = '';
  private readonly subscription: Subscription;
  private stopped = false;
  private readonly configReload: Counter;
  private readonly configReloadTimeMs: Gauge;

  /** `scope` is `http.<stat_prefix>.rds.<route_config_name>.`; `path` names the HCM's `rds` field in errors. */
  constructor(rds: Rds, factory: SubscriptionFactory, scope: Scope, private readonly options: RouteTableOptions, path: string) {
    this.routeConfigName = rds.routeConfigName;
    const source = rds.configSource;
    if (source === undefined) throw new ConfigError(`${path}.config_source`, 'rds.config_source is required');
    if (this.routeConfigName === '') throw new ConfigError(`${path}.route_config_name`, 'rds.route_config_name is required');
    this.configReload = scope.counter('config_reload');
    this.configReloadTimeMs = scope.gauge('config_reload_time_ms', 'never_import');
    this.subscription = factory.subscriptionFromConfigSource<RouteConfiguration>(source, TypeUrl.RouteConfiguration, scope, this, `${path}.config_source`);
    this.initTarget = new SharedTargetImpl(`RdsRouteConfigSubscription ${this.routeConfigName}`, () => this.start());
  }

  private start(): void {
    if (this.stopped) return;
    this.subscription.start([this.routeConfigName]);
  }

  onConfigUpdate(update: ConfigUpdate<RouteConfiguration>): void {
    if (this.stopped) return;
    try {
      this.apply(update);
    } catch (e) {
      // Envoy lets the listener go on warming no longer: it serves what it has (maybe nothing).
      this.onInitDone();
      const inner = e instanceof ConfigError ? e : new ConfigError('', (e as Error).message);
      const where = `RouteConfiguration '${this.routeConfigName}'`;
      const err = new ConfigError(inner.fieldPath === '' ? where : `${where}.${inner.fieldPath}`, inner.detail);
      err.others.push(inner);
      log.warn(`rds: ${err.message}`);
      throw err;
    }
    this.onInitDone();
  }

  private apply(update: ConfigUpdate<RouteConfiguration>): void {
    const name = this.routeConfigName;
    const mine = update.added.filter((r) => r.name === name);
    if (mine.length === 0) {
      const others = update.added.map((r) => r.name);
      if (others.length > 0) throw new ConfigError('name', `Unexpected RDS configuration (expecting ${name}): ${others.join(', ')}`);
      if (update.removed.includes(name)) {
        log.info(`rds: RouteConfiguration '${name}' removed; serving without routes`);
        this.routeTable = null;
        this.routeConfig = null;
        this.hash = '';
        this.versionInfo = update.versionInfo;
        this.lastUpdated = new Date();
        this.configReload.inc();
        this.configReloadTimeMs.set(Date.now());
      }
      return;
    }
    if (mine.length > 1) throw new ConfigError('name', `duplicate RouteConfiguration ${name} in one update`);
    const { resource: rc, version } = mine[0]!;
    if (rc.name !== name) throw new ConfigError('name', `Unexpected RDS configuration (expecting ${name}): ${rc.name}`);
    const hash = Buffer.from(toBinary(messageSchema(ROUTE_CONFIGURATION_TYPE), rc)).toString('base64');
    if (hash === this.hash) return;
    validateMessage(rc, '');
    const table = compileRouteTable(rc, this.options);
    // One assignment: requests routed from now on see the new table.
    this.routeTable = table;
    this.routeConfig = rc;
    this.hash = hash;
    this.versionInfo = version;
    this.lastUpdated = new Date();
    this.configReload.inc();
    this.configReloadTimeMs.set(Date.now());
    log.info(`rds: loaded RouteConfiguration '${name}' version ${version}`);
  }

  onConfigUpdateFailed(reason: ConfigUpdateFailureReason, error: Error | null): void {
    if (this.stopped) return;
    // A connection failure is retried by the transport; warming stays bounded by initial_fetch_timeout.
    if (reason === ConfigUpdateFailureReason.ConnectionFailure) return;
    if (!this.initTarget.isReady) log.warn(`rds: RouteConfiguration '${this.routeConfigName}': ${reason}${error !== null ? `: ${error.message}` : ''}; the listener stops warming`);
    this.onInitDone();
  }

  private onInitDone(): void {
    this.initTarget.ready();
  }

  /** No HCM uses it any more. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.subscription.stop();
  }
}
