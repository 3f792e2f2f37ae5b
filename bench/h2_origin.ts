// The HTTP/2 upstream origin of the h2 bench (the peers that speak HTTP/2 to
// their upstream: the Node HTTP/2 proxy and Legate with an HTTP/2 cluster).
//
// h2c with prior knowledge (what Envoy's http2_protocol_options cluster and a
// node:http2 client speak), node:http2's stream API (cheaper than the compat
// API), same bodies as the HTTP/1 origin: /large... -> 16 KiB, else 2 bytes.
//
// Run standalone: node dist/bench/h2_origin.js [--port 0] [--host 127.0.0.1]
// Prints "LISTENING <port>"; with --exit-with-stdin it exits when stdin closes.

import * as http2 from 'node:http2';
import type * as net from 'node:net';
import { parseArgs } from 'node:util';
import { bodyForPath, type RunningServer } from './origin.js';
import { exitWhenStdinCloses, isMain } from './util.js';
import { listen, trackOpen } from './listen.js';

export async function startH2Origin(opts: { port?: number; host?: string } = {}): Promise<RunningServer> {
  // A large stream limit and windows so the origin never throttles the proxy.
  const server = http2.createServer({
    settings: { maxConcurrentStreams: 1000, initialWindowSize: 8 * 1024 * 1024 },
  });
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {});
    const body = bodyForPath(String(headers[':path'] ?? '/'));
    const head = headers[':method'] === 'HEAD';
    stream.respond({ ':status': 200, 'content-type': 'text/plain', 'content-length': body.length }, { endStream: head });
    if (!head) stream.end(body);
    // A request body (if any) is read and dropped.
    stream.resume();
  });
  server.on('session', (s) => {
    s.on('error', () => {});
    // The session-level window starts at 64 KiB regardless of SETTINGS; raise it.
    s.setLocalWindowSize(8 * 1024 * 1024);
  });
  const sessions = trackOpen<http2.ServerHttp2Session>(server, 'session');
  const port = await listen(server, opts.port ?? 0, opts.host ?? '127.0.0.1');
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sessions) s.destroy();
      }),
  };
}

if (isMain(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      host: { type: 'string', default: '127.0.0.1' },
      'exit-with-stdin': { type: 'boolean', default: false },
    },
  });
  const srv = await startH2Origin({ port: Number(values.port), host: values.host });
  process.stdout.write(`LISTENING ${srv.port}\n`);
  if (values['exit-with-stdin']) exitWhenStdinCloses();
}
