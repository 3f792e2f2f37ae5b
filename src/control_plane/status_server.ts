/**
 * The control plane's admin/status page (HTTP/1.1, like Envoy's admin):
 *
 *   GET /                   a plain-text overview: snapshots and connected clients
 *   GET /clients            JSON: every open xDS stream (node id, cluster, protocol,
 *                           per type the subscription, last sent / ACKed / NACKed
 *                           version and the NACK's error)
 *   GET /snapshots          JSON: per snapshot key, the version and resource names per
 *                           type; per source, the last change it refused
 *   GET /stats/prometheus   the metrics (control_plane_stats.ts)
 *   GET /ready              200 once a snapshot is served, 503 before
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { getLogger } from '../common/logger.js';
import type { ControlPlaneStats } from './control_plane_stats.js';
import { DEFAULT_SNAPSHOT_KEY, type SnapshotCache } from './snapshot_cache.js';
import type { ClientStatusJson } from './xds_stream.js';

export interface StatusSources {
  readonly cache: SnapshotCache;
  readonly stats: ControlPlaneStats;
  clients(): ClientStatusJson[];
  /** Per source, the last change it refused (until one is accepted). */
  refusals(): ReadonlyMap<string, { readonly at: Date; readonly message: string }>;
}

export class StatusServer {
  private readonly server: http.Server;
  private readonly log = getLogger('admin');

  constructor(private readonly sources: StatusSources) {
    this.server = http.createServer((req, res) => this.handle(req, res));
  }

  /** Binds and returns the bound port. */
  listen(address: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, address, () => {
        this.server.off('error', reject);
        resolve((this.server.address() as AddressInfo).port);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      this.reply(res, 405, 'text/plain', 'method not allowed: use GET\n', { allow: 'GET, HEAD' });
      return;
    }
    try {
      switch (path) {
        case '/':
          this.reply(res, 200, 'text/plain; charset=utf-8', this.overview());
          return;
        case '/clients':
          this.json(res, { generation: this.sources.stats.snapshotVersion, clients: this.sources.clients() });
          return;
        case '/snapshots': {
          const snapshots: Record<string, unknown> = {};
          for (const key of this.sources.cache.keys()) {
            const s = this.sources.cache.get(key);
            if (s !== undefined) snapshots[key === DEFAULT_SNAPSHOT_KEY ? '(default)' : key] = { generation: s.version, types: s.describe() };
          }
          const refused: Record<string, unknown> = {};
          for (const [source, r] of this.sources.refusals()) refused[source] = { at: r.at.toISOString(), error: r.message };
          this.json(res, { snapshots, refused_changes: refused });
          return;
        }
        case '/stats/prometheus':
          this.reply(res, 200, 'text/plain; version=0.0.4; charset=utf-8', this.sources.stats.prometheus());
          return;
        case '/ready': {
          const ready = this.sources.cache.keys().length > 0;
          this.reply(res, ready ? 200 : 503, 'text/plain', ready ? 'LIVE\n' : 'NO SNAPSHOT\n');
          return;
        }
        default:
          this.reply(res, 404, 'text/plain', `not found: ${path} (see /)\n`);
      }
    } catch (e) {
      this.log.error(`status page ${path}: ${(e as Error).stack ?? String(e)}`);
      this.reply(res, 500, 'text/plain', 'internal error\n');
    }
  }

  private overview(): string {
    const lines = ['Legate control plane', '', 'endpoints: /clients /snapshots /stats/prometheus /ready', '', 'snapshots:'];
    for (const key of this.sources.cache.keys()) {
      const s = this.sources.cache.get(key);
      if (s !== undefined) lines.push(`  ${key === DEFAULT_SNAPSHOT_KEY ? '(default)' : key}: generation ${s.version}: ${s.summary()}`);
    }
    for (const [source, r] of this.sources.refusals()) {
      lines.push('', `last refused change of ${source} (${r.at.toISOString()}):`, ...r.message.split('\n').map((l) => `  ${l}`));
    }
    const clients = this.sources.clients();
    lines.push('', `clients (${clients.length}):`);
    for (const c of clients) {
      lines.push(`  node "${c.node_id}" cluster "${c.cluster}" ${c.service} ${c.protocol} from ${c.peer} since ${c.connected_at}`);
      for (const [type, t] of Object.entries(c.types)) {
        const names = t.wildcard ? ['*', ...t.resource_names] : t.resource_names;
        let line = `    ${type} [${names.join(', ')}] sent ${t.last_sent_version || '-'} acked ${t.acked_version || '-'}`;
        if (t.nack_error !== null) line += ` NACKED ${t.nacked_version}: ${t.nack_error.message}`;
        lines.push(line);
      }
    }
    return `${lines.join('\n')}\n`;
  }

  private json(res: http.ServerResponse, body: unknown): void {
    this.reply(res, 200, 'application/json', `${JSON.stringify(body, null, 2)}\n`);
  }

  private reply(res: http.ServerResponse, status: number, type: string, body: string, extra: Record<string, string> = {}): void {
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-cache', ...extra });
    res.end(res.req.method === 'HEAD' ? undefined : body);
  }
}
