/**
 * The admin interface's public types: what a handler receives and returns,
 * and what the server must provide (AdminServerContext). Handlers are plain
 * functions so they can be unit-tested without a socket (AdminServer.request).
 */
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { CommandLineOptionsSchema } from '../../generated/envoy/admin/v3/server_info_pb.js';
import type { NodeSchema } from '../../generated/envoy/config/core/v3/base_pb.js';
import type { StatsStore } from '../../stats/stats_impl.js';
import type { InitState } from '../../stats/server_stats.js';

/** One admin request, already parsed. */
export interface AdminRequest {
  /** The path without the query string, e.g. `/stats`. */
  readonly path: string;
  /**
   * Query parameters; for a POST with an empty query string and a
   * `application/x-www-form-urlencoded` body, the body's parameters (as Envoy).
   */
  readonly query: URLSearchParams;
  readonly method: string;
  readonly body: Buffer;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

/** What a handler returns. */
export interface AdminResponse {
  readonly status: number;
  /** Defaults to `text/plain; charset=UTF-8`, as Envoy's fallback. */
  readonly contentType?: string;
  readonly body: string | Buffer;
  /** Extra response headers. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Runs after the response has been written (used by /quitquitquit). */
  readonly afterSend?: () => void;
}

export type AdminHandler = (req: AdminRequest) => AdminResponse | Promise<AdminResponse>;

/** A documented query parameter, printed under the endpoint in the help text. */
export interface AdminParamDescriptor {
  readonly id: string;
  readonly help: string;
  /** For enumerations: the allowed values. */
  readonly choices?: readonly string[];
}

export interface AdminHandlerOptions {
  /** GET/HEAD are refused with 405 (Envoy: "Method GET not allowed, POST required."). */
  readonly mutatesServerState?: boolean;
  /** Whether removeHandler() may remove it. Built-ins are not removable. */
  readonly removable?: boolean;
  readonly params?: readonly AdminParamDescriptor[];
}

/** spdlog levels as Envoy names them. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warning', 'error', 'critical', 'off'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The logger registry `/logging` lists and changes (Envoy's Logger::Registry). */
export interface AdminLoggerRegistry {
  /** Every logger, in the order `/logging` should list them. */
  loggers(): ReadonlyArray<{ readonly name: string; readonly level: LogLevel }>;
  /** Sets one logger's level; false when no logger has that name. */
  setLevel(name: string, level: LogLevel): boolean;
  /** Sets every logger's level (`/logging?level=`). */
  setAllLevels(level: LogLevel): void;
}

/** Identity and timing facts for `/server_info`. */
export interface AdminServerInfo {
  /** Envoy's version string, e.g. `<sha>/1.33.0/Clean/RELEASE/BoringSSL`. */
  readonly version: string;
  /** `/hot_restart_version`; Envoy prints `disabled` when hot restart is off. */
  readonly hotRestartVersion: string;
  readonly startTimeCurrentEpochMs: number;
  readonly startTimeFirstEpochMs: number;
  /** As protobuf-es init data for envoy.admin.v3.CommandLineOptions. */
  readonly commandLineOptions?: MessageInitShape<typeof CommandLineOptionsSchema>;
  /** The bootstrap `node` (after --service-* overrides). */
  readonly node?: MessageInitShape<typeof NodeSchema>;
}

/** A runtime layer for `/runtime`, key → raw string value. */
export interface AdminRuntimeLayer {
  readonly name: string;
  readonly values: Readonly<Record<string, string>>;
}

export interface DrainListenersOptions {
  readonly graceful: boolean;
  readonly inboundOnly: boolean;
  readonly skipExit: boolean;
}

/**
 * What the server provides to the admin interface. Everything the built-in
 * handlers show or change goes through this, so the admin module owns no
 * server state.
 */
export interface AdminServerContext {
  readonly stats: StatsStore;
  readonly loggers: AdminLoggerRegistry;
  serverInfo(): AdminServerInfo;
  /** The init manager's state; with healthCheckFailed() it gives LIVE / DRAINING / ... */
  initState(): InitState;
  healthCheckFailed(): boolean;
  /** `/healthcheck/fail` (true) and `/healthcheck/ok` (false). */
  failHealthcheck(fail: boolean): void;
  /** `/quitquitquit`: called after the `OK` response is sent. */
  shutdown(): void;
  /** `/drain_listeners`; when absent the endpoint answers OK and does nothing. */
  drainListeners?(options: DrainListenersOptions): void;
  /** Runtime layers for `/runtime`, lowest first; none when absent. */
  runtimeLayers?(): readonly AdminRuntimeLayer[];
  /** Called before rendering stats when `stats_config.flush_on_admin` is set. */
  flushStats?(): void;
}
