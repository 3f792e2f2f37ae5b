// The peers the macro bench compares. Each is started as one process pinned to
// the proxy core, and stopped after its measured run.

import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  freePort,
  spawnTracked,
  stopTracked,
  waitForListening,
  waitHttpReady,
  type Tracked,
} from '../proc.js';
import { legateBootstrapYaml } from './legate.js';
import { findNginx, nginxConf } from './nginx.js';

export interface PeerContext {
  root: string;
  tmpDir: string;
  originPort: number;
  /** The origin process (the "direct" baseline measures it). */
  origin: Tracked;
  connections: number;
  /** taskset CPU list for the proxy, e.g. "0"; undefined = unpinned. */
  cpu?: string;
  startupTimeoutMs: number;
  /** Run counter, for unique file names. */
  seq: number;
}

export interface PeerHandle {
  port: number;
  /** The process whose CPU (with its children) is the proxy's cost. */
  child: Tracked;
  stop(): Promise<void>;
}

export interface PeerDef {
  name: string;
  description: string;
  /** undefined when the peer can run here, else why not. */
  unavailable(root: string): string | undefined;
  start(ctx: PeerContext): Promise<PeerHandle>;
}

async function startNodeHelper(ctx: PeerContext, name: string, script: string, args: string[]): Promise<PeerHandle> {
  const child = spawnTracked(name, process.execPath, [join(ctx.root, 'dist', 'bench', 'peers', script), '--exit-with-stdin', ...args], {
    cpu: ctx.cpu,
    cwd: ctx.root,
    stdinPipe: true,
  });
  try {
    const port = await waitForListening(child, ctx.startupTimeoutMs);
    await waitHttpReady(child, port, '/small', ctx.startupTimeoutMs);
    return { port, child, stop: () => stopTracked(child) };
  } catch (e) {
    await stopTracked(child);
    throw e;
  }
}

export const PEERS: Record<string, PeerDef> = {
  legate: {
    name: 'legate',
    description: 'Legate: node dist/src/main.js -c <generated bootstrap>',
    unavailable: (root) =>
      existsSync(join(root, 'dist', 'src', 'main.js')) ? undefined : 'dist/src/main.js not built yet',
    async start(ctx) {
      const port = await freePort();
      const adminPort = await freePort();
      const cfg = join(ctx.tmpDir, `legate-${ctx.seq}.yaml`);
      writeFileSync(cfg, legateBootstrapYaml({ listenPort: port, originPort: ctx.originPort, adminPort }));
      const child = spawnTracked('legate', process.execPath, [join(ctx.root, 'dist', 'src', 'main.js'), '-c', cfg], {
        cpu: ctx.cpu,
        cwd: ctx.root,
      });
      try {
        // Listener up and routing to the origin. (Admin /ready would only say
        // the server initialized; a 200 through the listener proves the path.)
        await waitHttpReady(child, port, '/small', ctx.startupTimeoutMs);
      } catch (e) {
        await stopTracked(child);
        throw e;
      }
      // Legate drains on SIGTERM like Envoy (up to --drain-time-s); the bench
      // doesn't need a graceful drain, so don't wait long before SIGKILL.
      return { port, child, stop: () => stopTracked(child, 1000) };
    },
  },
  undici: {
    name: 'undici',
    description: 'node:http server + undici Pool.stream (bench/peers/undici_proxy.ts)',
    unavailable: (root) =>
      existsSync(join(root, 'node_modules', 'undici', 'package.json')) ? undefined : 'undici is not installed (npm ci)',
    start: (ctx) =>
      startNodeHelper(ctx, 'undici', 'undici_proxy.js', [
        '--upstream-port',
        String(ctx.originPort),
        '--connections',
        String(ctx.connections),
      ]),
  },
  'node-http': {
    name: 'node-http',
    description: 'node:http server + http.request with keep-alive Agent (bench/peers/node_http_proxy.ts)',
    unavailable: () => undefined,
    start: (ctx) =>
      startNodeHelper(ctx, 'node-http', 'node_http_proxy.js', [
        '--upstream-port',
        String(ctx.originPort),
        '--max-sockets',
        String(ctx.connections),
      ]),
  },
  nginx: {
    name: 'nginx',
    description: 'nginx reverse proxy, 1 worker, upstream keepalive 64',
    unavailable: () => (findNginx() ? undefined : 'nginx not installed (run bench/setup.sh)'),
    async start(ctx) {
      const bin = findNginx()!;
      const prefix = join(ctx.tmpDir, `nginx-${ctx.seq}`);
      mkdirSync(prefix, { recursive: true });
      chmodSync(prefix, 0o755); // the worker runs as an unprivileged user when we are root
      const port = await freePort();
      const conf = join(prefix, 'nginx.conf');
      writeFileSync(conf, nginxConf({ prefix, listenPort: port, originPort: ctx.originPort }));
      const child = spawnTracked('nginx', bin, ['-p', prefix, '-c', conf, '-e', join(prefix, 'error.log')], {
        cpu: ctx.cpu,
        cwd: prefix,
      });
      try {
        await waitHttpReady(child, port, '/small', ctx.startupTimeoutMs);
      } catch (e) {
        await stopTracked(child);
        throw e;
      }
      return { port, child, stop: () => stopTracked(child) };
    },
  },
  direct: {
    name: 'direct',
    description: 'baseline: wrk straight to the origin (no proxy) - shows what the load side can do',
    unavailable: () => undefined,
    async start(ctx) {
      return { port: ctx.originPort, child: ctx.origin, stop: async () => {} };
    },
  },
};

export const DEFAULT_PEERS = ['legate', 'undici', 'node-http', 'nginx'];
