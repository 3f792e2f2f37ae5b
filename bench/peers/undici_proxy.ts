// Peer "undici": the fastest stock Node.js proxy we know how to write.
// node:http server in front, an undici Pool (keep-alive, `connections` sockets)
// behind, pool.stream() writing the upstream body straight into the
// ServerResponse (no intermediate Readable), shared factory via `opaque` so
// there is no per-request closure. Hop-by-hop headers are dropped both ways.
//
// Run standalone:
//   node dist/bench/peers/undici_proxy.js --upstream-port N [--port 0] [--connections 50]
// Prints "LISTENING <port>"; with --exit-with-stdin it exits when stdin closes.

import * as http from 'node:http';
import type * as net from 'node:net';
import type { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { HOP_BY_HOP, exitWhenStdinCloses, isMain } from '../util.js';
import type { RunningServer } from '../origin.js';
import { loadUndici } from './undici_load.js';
import { listen, trackOpen } from '../listen.js';

export interface UndiciProxyOptions {
  port?: number;
  host?: string;
  upstreamHost?: string;
  upstreamPort: number;
  /** Pool size; use about the load generator's connection count. */
  connections?: number;
}

type HeaderValues = Record<string, string | string[] | undefined>;

function stripHopByHop(h: HeaderValues): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const k in h) {
    const v = h[k];
    if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
  }
  return out;
}

function factory(data: { statusCode: number; headers: HeaderValues; opaque: unknown }): Writable {
  const res = data.opaque as http.ServerResponse;
  res.writeHead(data.statusCode, stripHopByHop(data.headers));
  return res;
}

export async function startUndiciProxy(opts: UndiciProxyOptions): Promise<RunningServer> {
  const { Pool } = loadUndici();
  const origin = `http://${opts.upstreamHost ?? '127.0.0.1'}:${opts.upstreamPort}`;
  const pool = new Pool(origin, {
    connections: opts.connections ?? 50,
    pipelining: 1,
    keepAliveTimeout: 60_000,
    keepAliveMaxTimeout: 600_000,
  });

  const server = http.createServer((req, res) => {
    const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
    pool.stream(
      {
        path: req.url ?? '/',
        method: (req.method ?? 'GET') as 'GET',
        headers: stripHopByHop(req.headers),
        body: hasBody ? req : null,
        opaque: res,
      },
      factory as never,
      (err: Error | null) => {
        if (!err) return;
        if (!res.headersSent) {
          res.writeHead(502, { 'content-length': 0 });
          res.end();
        } else {
          res.destroy();
        }
      },
    );
  });
  server.keepAliveTimeout = 60_000;
  server.headersTimeout = 65_000;
  server.requestTimeout = 0;

  const sockets = trackOpen<net.Socket>(server, 'connection');
  const port = await listen(server, opts.port ?? 0, opts.host ?? '127.0.0.1');
  return {
    port,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
      await pool.destroy();
    },
  };
}

if (isMain(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      'exit-with-stdin': { type: 'boolean', default: false },
      host: { type: 'string', default: '127.0.0.1' },
      'upstream-host': { type: 'string', default: '127.0.0.1' },
      'upstream-port': { type: 'string' },
      connections: { type: 'string', default: '50' },
    },
  });
  if (!values['upstream-port']) throw new Error('--upstream-port is required');
  const srv = await startUndiciProxy({
    port: Number(values.port),
    host: values.host,
    upstreamHost: values['upstream-host'],
    upstreamPort: Number(values['upstream-port']),
    connections: Number(values.connections),
  });
  process.stdout.write(`LISTENING ${srv.port}\n`);
  if (values['exit-with-stdin']) exitWhenStdinCloses();
}
