// Peer "node-http": the plain Node.js reverse proxy everyone writes first.
// node:http server + http.request through a keep-alive http.Agent, streaming
// the upstream response back with pipe(). Hop-by-hop headers are dropped in
// both directions (that is the minimum a correct proxy does).
//
// Run standalone:
//   node dist/bench/peers/node_http_proxy.js --upstream-port N [--port 0] [--max-sockets 50]
// Prints "LISTENING <port>"; with --exit-with-stdin it exits when stdin closes.

import * as http from 'node:http';
import type * as net from 'node:net';
import { parseArgs } from 'node:util';
import { HOP_BY_HOP, exitWhenStdinCloses, isMain } from '../util.js';
import type { RunningServer } from '../origin.js';
import { listen, trackOpen } from '../listen.js';

export interface ProxyOptions {
  port?: number;
  host?: string;
  upstreamHost?: string;
  upstreamPort: number;
  /** Upstream connections to keep; use about the load generator's connection count. */
  maxSockets?: number;
}

function stripHopByHop(h: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = {};
  for (const k in h) {
    if (!HOP_BY_HOP.has(k)) out[k] = h[k];
  }
  return out;
}

export async function startNodeHttpProxy(opts: ProxyOptions): Promise<RunningServer> {
  const upstreamHost = opts.upstreamHost ?? '127.0.0.1';
  const agent = new http.Agent({
    keepAlive: true,
    maxSockets: opts.maxSockets ?? 50,
    maxFreeSockets: opts.maxSockets ?? 50,
    scheduling: 'lifo',
  });

  const server = http.createServer((req, res) => {
    const upstreamReq = http.request(
      {
        agent,
        host: upstreamHost,
        port: opts.upstreamPort,
        method: req.method,
        path: req.url,
        headers: stripHopByHop(req.headers),
      },
      (upstreamRes) => {
        res.writeHead(upstreamRes.statusCode ?? 502, stripHopByHop(upstreamRes.headers));
        upstreamRes.pipe(res);
        upstreamRes.on('error', () => res.destroy());
      },
    );
    upstreamReq.on('error', () => {
      if (!res.headersSent) {
        res.writeHead(502, { 'content-length': 0 });
        res.end();
      } else {
        res.destroy();
      }
    });
    req.pipe(upstreamReq);
  });
  server.keepAliveTimeout = 60_000;
  server.headersTimeout = 65_000;
  server.requestTimeout = 0;

  const sockets = trackOpen<net.Socket>(server, 'connection');
  const port = await listen(server, opts.port ?? 0, opts.host ?? '127.0.0.1');
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
        agent.destroy();
      }),
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
      'max-sockets': { type: 'string', default: '50' },
    },
  });
  if (!values['upstream-port']) throw new Error('--upstream-port is required');
  const srv = await startNodeHttpProxy({
    port: Number(values.port),
    host: values.host,
    upstreamHost: values['upstream-host'],
    upstreamPort: Number(values['upstream-port']),
    maxSockets: Number(values['max-sockets']),
  });
  process.stdout.write(`LISTENING ${srv.port}\n`);
  if (values['exit-with-stdin']) exitWhenStdinCloses();
}
