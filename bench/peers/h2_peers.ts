// The peers of the HTTP/2 bench suites (h2: GET /small|/large, grpc: unary
// calls). Each is one process pinned to the proxy core, started fresh for a
// run and stopped after it, on h2c (prior knowledge) or TLS (ALPN h2).
//
//   peer         downstream      upstream                 origin (h2 suite / grpc suite)
//   legate       h2c | TLS       HTTP/1.1 keep-alive      net HTTP/1.1 origin / -
//                                (grpc: HTTP/2)           - / grpc-js server
//   legate-h2up  h2c | TLS       HTTP/2 (h2c)             h2c origin (h2 suite only)
//   node-h2      h2c | TLS       HTTP/2 (h2c)             h2c origin / grpc-js server
//   nginx        h2c | TLS       HTTP/1.1 keep-alive      net HTTP/1.1 origin / grpc_pass (h2c)
//   direct       no proxy: h2load straight to the origin (h2c only)

import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, spawnTracked, stopTracked, waitForListening, type Tracked } from '../proc.js';
import type { Transport } from '../h2_client.js';
import type { BenchCert } from '../tls_certs.js';
import { legateBootstrapYaml } from './legate.js';
import { findNginx, hasHttp2Directive, nginxH2Conf, nginxVersion } from './nginx.js';
import type { PeerHandle } from './index.js';

export type H2Suite = 'h2' | 'grpc';

export interface OriginRef {
  port: number;
  proc: Tracked;
}

export interface H2PeerContext {
  root: string;
  tmpDir: string;
  suite: H2Suite;
  transport: Transport;
  cert: BenchCert;
  /** h2 suite: http1 and h2 origins; grpc suite: grpc. */
  origins: { http1?: OriginRef; h2?: OriginRef; grpc?: OriginRef };
  /** Node peer's upstream sessions. */
  upstreamSessions: number;
  cpu?: string;
  seq: number;
  /**
   * Resolves once the peer serves correct responses on port; rejects at once
   * when it can't (e.g. NotHttp2Error) or after the start-up timeout.
   */
  waitReady(child: Tracked, port: number): Promise<void>;
}

export interface H2PeerHandle extends PeerHandle {
  /** The origin this peer forwards to (its CPU is the load side's). */
  origin: Tracked;
}

export interface H2PeerDef {
  name: string;
  description: string;
  /** undefined when the peer can run this suite on this transport here, else why not. */
  unavailable(root: string, suite: H2Suite, transport: Transport): string | undefined;
  start(ctx: H2PeerContext): Promise<H2PeerHandle>;
}

function originFor(ctx: H2PeerContext, kind: 'http1' | 'h2' | 'grpc'): OriginRef {
  const o = ctx.origins[kind];
  if (!o) throw new Error(`no ${kind} origin in the ${ctx.suite} suite`);
  return o;
}

async function ready(ctx: H2PeerContext, child: Tracked, port: number, origin: Tracked, graceMs = 3000): Promise<H2PeerHandle> {
  try {
    await ctx.waitReady(child, port);
  } catch (e) {
    await stopTracked(child, graceMs);
    throw e;
  }
  return { port, child, origin: origin, stop: () => stopTracked(child, graceMs) };
}

function legatePeer(name: string, upstreamHttp2InH2Suite: boolean): H2PeerDef {
  return {
    name,
    description: `Legate, codec_type AUTO, ${upstreamHttp2InH2Suite ? 'HTTP/2' : 'HTTP/1.1'} upstream`,
    unavailable: (root, suite) => {
      if (!existsSync(join(root, 'dist', 'src', 'main.js'))) return 'dist/src/main.js not built yet';
      if (suite === 'grpc' && upstreamHttp2InH2Suite) return 'the grpc suite runs "legate" with an HTTP/2 upstream already';
      return undefined;
    },
    async start(ctx) {
      // gRPC needs HTTP/2 end to end: in the grpc suite Legate always has an h2 upstream.
      const h2up = ctx.suite === 'grpc' || upstreamHttp2InH2Suite;
      const origin = originFor(ctx, ctx.suite === 'grpc' ? 'grpc' : h2up ? 'h2' : 'http1');
      const port = await freePort();
      const cfg = join(ctx.tmpDir, `${name}-${ctx.seq}.yaml`);
      writeFileSync(
        cfg,
        legateBootstrapYaml({
          listenPort: port,
          originPort: origin.port,
          tls: ctx.transport === 'tls' ? ctx.cert : undefined,
          upstreamHttp2: h2up,
        }),
      );
      const child = spawnTracked(name, process.execPath, [join(ctx.root, 'dist', 'src', 'main.js'), '-c', cfg], {
        cpu: ctx.cpu,
        cwd: ctx.root,
      });
      // Legate drains on SIGTERM like Envoy; the bench needs no graceful drain.
      return ready(ctx, child, port, origin.proc, 1000);
    },
  };
}

export const H2_PEERS: Record<string, H2PeerDef> = {
  legate: legatePeer('legate', false),
  'legate-h2up': legatePeer('legate-h2up', true),
  'node-h2': {
    name: 'node-h2',
    description: 'node:http2 server + node:http2 client session pool (bench/peers/node_h2_proxy.ts)',
    unavailable: () => undefined,
    async start(ctx) {
      const origin = originFor(ctx, ctx.suite === 'grpc' ? 'grpc' : 'h2');
      const args = ['--upstream-port', String(origin.port), '--sessions', String(ctx.upstreamSessions), '--exit-with-stdin'];
      if (ctx.transport === 'tls') args.push('--tls-cert', ctx.cert.certFile, '--tls-key', ctx.cert.keyFile);
      const child = spawnTracked('node-h2', process.execPath, [join(ctx.root, 'dist', 'bench', 'peers', 'node_h2_proxy.js'), ...args], {
        cpu: ctx.cpu,
        cwd: ctx.root,
        stdinPipe: true,
      });
      let port: number;
      try {
        port = await waitForListening(child);
      } catch (e) {
        await stopTracked(child);
        throw e;
      }
      return ready(ctx, child, port, origin.proc);
    },
  },
  nginx: {
    name: 'nginx',
    description: 'nginx, 1 worker, HTTP/2 downstream; HTTP/1.1 keep-alive upstream (grpc suite: grpc_pass)',
    unavailable: () => (findNginx() ? undefined : 'nginx not installed (run bench/setup.sh)'),
    async start(ctx) {
      const bin = findNginx()!;
      const origin = originFor(ctx, ctx.suite === 'grpc' ? 'grpc' : 'http1');
      const prefix = join(ctx.tmpDir, `nginx-h2-${ctx.seq}`);
      mkdirSync(prefix, { recursive: true });
      chmodSync(prefix, 0o755); // the worker runs as an unprivileged user when we are root
      const port = await freePort();
      const conf = join(prefix, 'nginx.conf');
      writeFileSync(
        conf,
        nginxH2Conf({
          prefix,
          listenPort: port,
          upstream: { kind: ctx.suite === 'grpc' ? 'grpc' : 'http1', port: origin.port },
          tls: ctx.transport === 'tls' ? ctx.cert : undefined,
          http2Directive: hasHttp2Directive(nginxVersion(bin)),
        }),
      );
      const child = spawnTracked('nginx', bin, ['-p', prefix, '-c', conf, '-e', join(prefix, 'error.log')], { cpu: ctx.cpu, cwd: prefix });
      return ready(ctx, child, port, origin.proc);
    },
  },
  direct: {
    name: 'direct',
    description: 'baseline: h2load straight to the h2c / gRPC origin (no proxy)',
    unavailable: (_root, _suite, transport) => (transport === 'tls' ? 'the origins speak h2c only' : undefined),
    async start(ctx) {
      const origin = originFor(ctx, ctx.suite === 'grpc' ? 'grpc' : 'h2');
      await ctx.waitReady(origin.proc, origin.port);
      return { port: origin.port, child: origin.proc, origin: origin.proc, stop: async () => {} };
    },
  },
};

export const DEFAULT_H2_PEERS: Record<H2Suite, string[]> = {
  h2: ['legate', 'legate-h2up', 'node-h2', 'nginx'],
  grpc: ['direct', 'legate', 'node-h2', 'nginx'],
};

/** Ratios the suites report: [a, b] = a's req/s over b's. */
export const H2_RATIO_PAIRS: Record<H2Suite, ReadonlyArray<readonly [string, string]>> = {
  h2: [
    ['legate-h2up', 'node-h2'],
    ['legate', 'node-h2'],
    ['legate', 'nginx'],
    ['legate-h2up', 'nginx'],
    ['node-h2', 'nginx'],
  ],
  grpc: [
    ['legate', 'direct'],
    ['node-h2', 'direct'],
    ['nginx', 'direct'],
    ['legate', 'node-h2'],
    ['legate', 'nginx'],
  ],
};
