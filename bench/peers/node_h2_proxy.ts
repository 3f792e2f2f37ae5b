// Peer "node-h2": the minimal Node.js HTTP/2 reverse proxy a competent Node
// developer writes. node:http2 server (h2c prior knowledge, or TLS with ALPN
// h2), each downstream stream forwarded as a stream on a small pool of
// node:http2 client sessions to an h2c origin. Headers and bodies stream
// through; hop-by-hop headers are dropped; trailers are forwarded when the
// client asked for them (te: trailers, i.e. gRPC).
//
// Run standalone:
//   node dist/bench/peers/node_h2_proxy.js --upstream-port N [--port 0] [--sessions 1]
//        [--tls-cert FILE --tls-key FILE]
// Prints "LISTENING <port>"; with --exit-with-stdin it exits when stdin closes.

import { readFileSync } from 'node:fs';
import * as http2 from 'node:http2';
import type * as net from 'node:net';
import { parseArgs } from 'node:util';
import type { RunningServer } from '../origin.js';
import { HOP_BY_HOP, exitWhenStdinCloses, isMain } from '../util.js';
import { listen, trackOpen } from '../listen.js';

const { NGHTTP2_FLAG_END_STREAM, NGHTTP2_CANCEL, NGHTTP2_INTERNAL_ERROR } = http2.constants;
const DROP = new Set([...HOP_BY_HOP, 'host', 'http2-settings']);

export interface H2ProxyOptions {
  port?: number;
  host?: string;
  upstreamHost?: string;
  upstreamPort: number;
  /** Client sessions to the origin, used round-robin (each carries many streams). */
  sessions?: number;
  tls?: { cert: Buffer; key: Buffer };
}

function forwardable(h: http2.IncomingHttpHeaders, keepTrailersTe: boolean): http2.OutgoingHttpHeaders {
  const out: http2.OutgoingHttpHeaders = {};
  for (const k in h) if (!DROP.has(k)) out[k] = h[k];
  if (keepTrailersTe && h.te === 'trailers') out.te = 'trailers';
  return out;
}

export async function startNodeH2Proxy(opts: H2ProxyOptions): Promise<RunningServer> {
  const origin = `http://${opts.upstreamHost ?? '127.0.0.1'}:${opts.upstreamPort}`;
  const pool: Array<http2.ClientHttp2Session | undefined> = new Array(opts.sessions ?? 1).fill(undefined);
  let next = 0;
  const session = (): http2.ClientHttp2Session => {
    const i = next++ % pool.length;
    let s = pool[i];
    if (!s || s.closed || s.destroyed) {
      const fresh = http2.connect(origin, { settings: { initialWindowSize: 8 * 1024 * 1024 } });
      fresh.on('connect', () => fresh.setLocalWindowSize(8 * 1024 * 1024));
      fresh.on('error', () => {});
      fresh.on('close', () => pool[i] === fresh && (pool[i] = undefined));
      fresh.on('goaway', () => pool[i] === fresh && (pool[i] = undefined));
      s = pool[i] = fresh;
    }
    return s;
  };

  const settings = { maxConcurrentStreams: 1000, initialWindowSize: 8 * 1024 * 1024 };
  const server = opts.tls ? http2.createSecureServer({ ...opts.tls, settings }) : http2.createServer({ settings });
  server.on('stream', (stream, headers, flags) => {
    const wantsTrailers = headers.te === 'trailers';
    const upstream = session().request(forwardable(headers, true), { endStream: (flags & NGHTTP2_FLAG_END_STREAM) !== 0 });
    stream.pipe(upstream);
    upstream.on('response', (h, rflags) => {
      if (stream.destroyed) return;
      stream.respond(forwardable(h, false), {
        endStream: (rflags & NGHTTP2_FLAG_END_STREAM) !== 0,
        waitForTrailers: wantsTrailers,
      });
      upstream.pipe(stream);
    });
    let trailers: http2.OutgoingHttpHeaders = {};
    upstream.on('trailers', (t) => (trailers = forwardable(t, false)));
    stream.on('wantTrailers', () => stream.sendTrailers(trailers));
    upstream.on('error', (e) => { if (process.env.H2_PROXY_DEBUG) console.error(e);
      if (stream.destroyed) return;
      if (!stream.headersSent) stream.respond({ ':status': 502 }, { endStream: true });
      else stream.close(NGHTTP2_INTERNAL_ERROR);
    });
    stream.on('error', () => {});
    stream.on('close', () => {
      if (!upstream.closed) upstream.close(NGHTTP2_CANCEL);
    });
  });
  server.on('session', (s) => {
    s.on('error', () => {});
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
        for (const s of pool) s?.destroy();
      }),
  };
}

if (isMain(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      host: { type: 'string', default: '127.0.0.1' },
      'upstream-host': { type: 'string', default: '127.0.0.1' },
      'upstream-port': { type: 'string' },
      sessions: { type: 'string', default: '1' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'exit-with-stdin': { type: 'boolean', default: false },
    },
  });
  if (!values['upstream-port']) throw new Error('--upstream-port is required');
  if (!values['tls-cert'] !== !values['tls-key']) throw new Error('--tls-cert and --tls-key go together');
  const srv = await startNodeH2Proxy({
    port: Number(values.port),
    host: values.host,
    upstreamHost: values['upstream-host'],
    upstreamPort: Number(values['upstream-port']),
    sessions: Number(values.sessions),
    tls: values['tls-cert'] ? { cert: readFileSync(values['tls-cert']), key: readFileSync(values['tls-key']!) } : undefined,
  });
  process.stdout.write(`LISTENING ${srv.port}\n`);
  if (values['exit-with-stdin']) exitWhenStdinCloses();
}
