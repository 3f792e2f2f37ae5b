/**
 * The admin HTTP server, after Envoy's `source/server/admin/admin.cc`.
 *
 * - Listens where `admin.address` says (IPv4, IPv6, port 0, or a unix
 *   path); nothing listens unless the server calls listen().
 * - Handlers are registered by exact path (`addHandler`). The built-ins are
 *   registered by the constructor; the server adds `/clusters`,
 *   `/listeners` and `/config_dump` with the renderers in this folder.
 * - An unknown path answers 404 `invalid path. admin commands are: ...`.
 * - A handler that mutates server state answers any method but POST with
 *   405 `Method GET not allowed, POST required.` (what current Envoy does).
 * - Responses carry Envoy's fallback headers: `content-type: text/plain;
 *   charset=UTF-8` unless the handler sets one, `cache-control: no-cache,
 *   max-age=0`, `x-content-type-options: nosniff`.
 * - Requests are counted in `http.admin.*` and connections in
 *   `listener.admin.*`, as Envoy's admin listener does.
 *
 * - Each finished request is published on the diagnostics channel
 *   `legate:admin:request` ({method, path, status, durationMs}) for an
 *   admin access log or tests; nothing is built when no one subscribes.
 *
 * node:http is fine here: this is not the data path.
 */
import * as diagnostics from 'node:diagnostics_channel';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHttpConnManagerStats, responseCodeClassCounter, type HttpConnManagerStats } from '../../stats/http_conn_manager_stats.js';
import { ADMIN_LISTENER_STAT_PREFIX, createListenerStats, type ListenerStats } from '../../stats/listener_stats.js';
import { renderHelpHtml, renderHelpText, type AdminEndpointInfo } from './admin_html.js';
import type {
  AdminHandler, AdminHandlerOptions, AdminParamDescriptor, AdminRequest, AdminResponse, AdminServerContext,
} from './admin_types.js';
import { LOG_LEVELS } from './admin_types.js';
import { handleLogging } from './logs_handler.js';
import { handleDrainListeners, handleHealthcheckFail, handleHealthcheckOk, handleQuitQuitQuit } from './server_cmd_handler.js';
import {
  handleCerts, handleHotRestartVersion, handleMemory, handleReady, handleRuntime, handleServerInfo,
} from './server_info_handler.js';
import { handlePrometheusStats, handleResetCounters, handleStats, TEXT_PLAIN } from './stats_handler.js';

export type {
  AdminHandler, AdminHandlerOptions, AdminRequest, AdminResponse, AdminServerContext,
} from './admin_types.js';

/** Where to listen: an IP address and port (0 picks one), or a unix socket path. */
export type AdminListenAddress = { readonly host: string; readonly port: number } | { readonly path: string };

interface Registered extends AdminEndpointInfo {
  readonly handler: AdminHandler;
  readonly removable: boolean;
}

/** Largest request body read (form parameters); more answers 413. */
const MAX_BODY_BYTES = 1 << 20;

const HTML = 'text/html; charset=UTF-8';

/** Diagnostics channel for finished admin requests. */
export const ADMIN_REQUEST_CHANNEL = diagnostics.channel('legate:admin:request');

/** The message published on ADMIN_REQUEST_CHANNEL. */
export interface AdminRequestEvent {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly durationMs: number;
}

function isFormBody(contentType: string | undefined): boolean {
  return contentType !== undefined && contentType.split(';')[0]!.trim().toLowerCase() === 'application/x-www-form-urlencoded';
}

export class AdminServer {
  private readonly handlers = new Map<string, Registered>();
  private server: http.Server | undefined;
  private readonly httpStats: HttpConnManagerStats;
  private readonly listenerStats: ListenerStats;

  constructor(private readonly ctx: AdminServerContext) {
    const root = ctx.stats.rootScope;
    this.httpStats = createHttpConnManagerStats(root, 'admin');
    this.listenerStats = createListenerStats(root.createScope(ADMIN_LISTENER_STAT_PREFIX));
    this.registerBuiltins();
  }

  /**
   * Registers `handler` for the exact path `prefix` (must start with `/`;
   * no `?`, `:` or HTML-special characters). Returns false if the path is
   * taken or invalid, as Envoy's Admin::addHandler.
   */
  addHandler(prefix: string, helpText: string, handler: AdminHandler, options: AdminHandlerOptions = {}): boolean {
    if (!prefix.startsWith('/') || /[&"'<>?:]/.test(prefix) || this.handlers.has(prefix)) return false;
    this.handlers.set(prefix, {
      prefix,
      helpText,
      handler,
      mutatesServerState: options.mutatesServerState ?? false,
      removable: options.removable ?? true,
      params: options.params ?? [],
    });
    return true;
  }

  /** Removes a removable handler; false if absent or built-in. */
  removeHandler(prefix: string): boolean {
    const h = this.handlers.get(prefix);
    if (h === undefined || !h.removable) return false;
    this.handlers.delete(prefix);
    return true;
  }

  /** The registered endpoints (for tests and the index). */
  endpoints(): AdminEndpointInfo[] {
    return [...this.handlers.values()];
  }

  private builtin(prefix: string, help: string, handler: AdminHandler, mutates = false,
    params: readonly AdminParamDescriptor[] = []): void {
    this.addHandler(prefix, help, handler, { mutatesServerState: mutates, removable: false, params });
  }

  private registerBuiltins(): void {
    const ctx = this.ctx;
    const flush = ctx.flushStats?.bind(ctx);
    this.builtin('/', 'Admin home page', (req) => this.index(req));
    this.builtin('/help', 'print out list of admin commands', () => ({ status: 200, body: renderHelpText(this.endpoints()) }));
    this.builtin('/certs', 'print certs on machine', () => handleCerts());
    this.builtin('/healthcheck/fail', 'cause the server to fail health checks', () => handleHealthcheckFail(ctx), true);
    this.builtin('/healthcheck/ok', 'cause the server to pass health checks', () => handleHealthcheckOk(ctx), true);
    this.builtin('/hot_restart_version', 'print the hot restart compatibility version', () => handleHotRestartVersion(ctx));
    this.builtin('/logging', 'query/change logging levels', (req) => handleLogging(ctx.loggers, req), true, [
      {
        id: 'paths',
        help: 'Change multiple logging levels by setting to <logger_name1>:<desired_level1>,<logger_name2>:<desired_level2>. ' +
          'If fine grain logging is enabled, use __FILE__ or a glob experision as the logger name. For example, source/common*:warning',
      },
      { id: 'level', help: "desired logging level, this will change all loggers's level", choices: ['', ...LOG_LEVELS] },
    ]);
    this.builtin('/memory', 'print current allocation/heap usage', () => handleMemory());
    this.builtin('/quitquitquit', 'exit the server', () => handleQuitQuitQuit(ctx), true);
    this.builtin('/reset_counters', 'reset all counters to zero', () => handleResetCounters(ctx.stats), true);
    this.builtin('/drain_listeners', 'drain listeners', (req) => handleDrainListeners(ctx, req), true, [
      { id: 'graceful', help: 'When draining listeners, enter a graceful drain period prior to closing listeners. This behaviour and duration is configurable via server options or CLI' },
      { id: 'skip_exit', help: 'When draining listeners, do not exit after the drain period. This must be used with graceful' },
      { id: 'inboundonly', help: 'Drains all inbound listeners. traffic_direction field in envoy_v3_api_msg_config.listener.v3.Listener is used to determine whether a listener is inbound or outbound.' },
    ]);
    this.builtin('/server_info', 'print server version/status information', () => handleServerInfo(ctx));
    this.builtin('/ready', 'print server state, return 200 if LIVE, otherwise return 503', () => handleReady(ctx));
    this.builtin('/stats', 'print server stats', (req) => handleStats(ctx.stats, req, flush), false, [
      { id: 'usedonly', help: 'Only include stats that have been written by system since restart' },
      { id: 'filter', help: 'Regular expression (Google re2) for filtering stats' },
      { id: 'format', help: 'Format to use', choices: ['html', 'active-html', 'text', 'json'] },
      { id: 'type', help: 'Stat types to include.', choices: ['All', 'Counters', 'Histograms', 'Gauges', 'TextReadouts'] },
      { id: 'histogram_buckets', help: 'Histogram bucket display mode', choices: ['cumulative', 'disjoint', 'detailed', 'summary'] },
    ]);
    this.builtin('/stats/prometheus', 'print server stats in prometheus format', (req) => handlePrometheusStats(ctx.stats, req, flush), false, [
      { id: 'usedonly', help: 'Only include stats that have been written by system since restart' },
      { id: 'text_readouts', help: 'Render text_readouts as new gaugues with value 0 (increases Prometheus data size)' },
      { id: 'filter', help: 'Regular expression (Google re2) for filtering stats' },
      { id: 'histogram_buckets', help: 'Histogram bucket display mode', choices: ['cumulative', 'summary'] },
    ]);
    this.builtin('/runtime', 'print runtime values', () => handleRuntime(ctx));
  }

  private index(req: AdminRequest): AdminResponse {
    const accept = req.headers['accept'];
    const acceptText = Array.isArray(accept) ? accept.join(',') : accept ?? '';
    if (acceptText.includes('text/html')) return { status: 200, contentType: HTML, body: renderHelpHtml(this.endpoints()) };
    return { status: 200, body: renderHelpText(this.endpoints()) };
  }

  /**
   * Runs one request through routing, the method check and the handler,
   * without a socket (Envoy's AdminImpl::request). `pathAndQuery` is the
   * raw request target, e.g. `/stats?filter=cluster`.
   */
  async request(pathAndQuery: string, method = 'GET', body: Buffer = Buffer.alloc(0),
    headers: Readonly<Record<string, string | string[] | undefined>> = {}): Promise<AdminResponse> {
    const q = pathAndQuery.indexOf('?');
    const path = q === -1 ? pathAndQuery : pathAndQuery.slice(0, q);
    const queryString = q === -1 ? '' : pathAndQuery.slice(q + 1);
    const entry = this.handlers.get(path);
    if (entry === undefined) {
      return { status: 404, body: `invalid path. ${renderHelpText(this.endpoints())}` };
    }
    if (entry.mutatesServerState && method !== 'POST') {
      return { status: 405, body: `Method ${method} not allowed, POST required.` };
    }
    let query = new URLSearchParams(queryString);
    const contentType = headers['content-type'];
    if (queryString === '' && body.length > 0 && isFormBody(Array.isArray(contentType) ? contentType[0] : contentType)) {
      query = new URLSearchParams(body.toString('utf8'));
    }
    try {
      return await entry.handler({ path, query, method, body, headers });
    } catch (e) {
      return { status: 500, body: `admin handler for ${path} failed: ${(e as Error).message}\n` };
    }
  }

  /** Starts listening; resolves once bound. */
  listen(address: AdminListenAddress): Promise<void> {
    if (this.server !== undefined) return Promise.reject(new Error('admin server already listening'));
    const server = http.createServer((req, res) => this.onRequest(req, res));
    server.on('connection', (socket) => {
      this.listenerStats.downstream_cx_total.inc();
      this.listenerStats.downstream_cx_active.inc();
      this.httpStats.downstream_cx_total.inc();
      this.httpStats.downstream_cx_http1_total.inc();
      this.httpStats.downstream_cx_active.inc();
      this.httpStats.downstream_cx_http1_active.inc();
      const opened = Date.now();
      socket.once('close', () => {
        this.listenerStats.downstream_cx_active.dec();
        this.listenerStats.downstream_cx_destroy.inc();
        this.listenerStats.downstream_cx_length_ms.recordValue(Date.now() - opened);
        this.httpStats.downstream_cx_active.dec();
        this.httpStats.downstream_cx_http1_active.dec();
        this.httpStats.downstream_cx_destroy.inc();
        this.httpStats.downstream_cx_length_ms.recordValue(Date.now() - opened);
      });
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => {
        this.server = undefined;
        reject(err);
      };
      server.once('error', onError);
      const done = (): void => {
        server.off('error', onError);
        resolve();
      };
      if ('path' in address) server.listen(address.path, done);
      else server.listen(address.port, address.host, done);
    });
  }

  /** The bound address (with the real port when port 0 was asked for). */
  address(): AddressInfo | string | undefined {
    const a = this.server?.address();
    return a === null ? undefined : a;
  }

  /** The bound TCP port; throws when not listening on TCP. */
  get port(): number {
    const a = this.address();
    if (a === undefined || typeof a === 'string') throw new Error('admin server is not listening on a TCP port');
    return a.port;
  }

  /** Stops listening and closes open connections. */
  close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server === undefined) return Promise.resolve();
    return new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const started = Date.now();
    const stats = this.httpStats;
    stats.downstream_rq_total.inc();
    stats.downstream_rq_http1_total.inc();
    stats.downstream_rq_active.inc();
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('error', () => res.destroy());
    req.on('end', () => {
      const finish = (r: AdminResponse): void => {
        const body = typeof r.body === 'string' ? Buffer.from(r.body, 'utf8') : r.body;
        res.statusCode = r.status;
        res.setHeader('content-type', r.contentType ?? TEXT_PLAIN);
        res.setHeader('cache-control', 'no-cache, max-age=0');
        res.setHeader('x-content-type-options', 'nosniff');
        for (const [k, v] of Object.entries(r.headers ?? {})) res.setHeader(k, v);
        res.setHeader('content-length', body.length);
        res.end(body, () => r.afterSend?.());
        stats.downstream_rq_active.dec();
        stats.downstream_rq_completed.inc();
        responseCodeClassCounter(stats, r.status)?.inc();
        const durationMs = Date.now() - started;
        stats.downstream_rq_time.recordValue(durationMs);
        if (ADMIN_REQUEST_CHANNEL.hasSubscribers) {
          const url = req.url ?? '/';
          const q = url.indexOf('?');
          const event: AdminRequestEvent = {
            method: req.method ?? 'GET', path: q === -1 ? url : url.slice(0, q), status: r.status, durationMs,
          };
          ADMIN_REQUEST_CHANNEL.publish(event);
        }
      };
      if (tooLarge) {
        stats.downstream_rq_too_large.inc();
        finish({ status: 413, body: 'Payload Too Large' });
        return;
      }
      void this.request(req.url ?? '/', req.method ?? 'GET', Buffer.concat(chunks), req.headers).then(finish);
    });
  }
}
