// The upstream origin used by the macro benchmark.
//
// It answers every request with 200 and a fixed body chosen by path:
//   /large...  -> LARGE_BODY (16 KiB)
//   anything else (e.g. /small) -> SMALL_BODY (2 bytes)
// Connections are kept alive (HTTP/1.1 default).
//
// Two implementations:
//   - "net" (default): a minimal HTTP/1.1 responder on raw node:net sockets with
//     pre-built response buffers. It does a fraction of the work of node:http, so
//     it stays well clear of being the bottleneck even while it shares a core
//     with wrk. It understands exactly what the bench sends: request line,
//     headers, optional Content-Length body, Connection: close, HTTP/1.0, HEAD,
//     and pipelined requests. Chunked request bodies are refused (400 + close).
//   - "http": the same bodies from a stock node:http server, for comparison.
//
// Run standalone: node dist/bench/origin.js [--port 0] [--host 127.0.0.1] [--impl net|http]
// It prints "LISTENING <port>" on stdout once bound. With --exit-with-stdin
// (the bench passes it) it exits when stdin closes, so it never outlives the
// bench that started it.

import * as http from 'node:http';
import * as net from 'node:net';
import { parseArgs } from 'node:util';
import { isMain, exitWhenStdinCloses } from './util.js';
import { listen, trackOpen } from './listen.js';

export const SMALL_BODY: Buffer = Buffer.from('ok');
export const LARGE_BODY: Buffer = makeLargeBody(16 * 1024);

function makeLargeBody(n: number): Buffer {
  const pattern = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-_\n';
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = pattern.charCodeAt(i % pattern.length);
  return b;
}

/** The body the origin serves for a request path. */
export function bodyForPath(path: string): Buffer {
  return path.startsWith('/large') ? LARGE_BODY : SMALL_BODY;
}

export type OriginImpl = 'net' | 'http';

export interface RunningServer {
  port: number;
  close(): Promise<void>;
}

export async function startOrigin(opts: { port?: number; host?: string; impl?: OriginImpl } = {}): Promise<RunningServer> {
  const host = opts.host ?? '127.0.0.1';
  const impl = opts.impl ?? 'net';
  const server = impl === 'http' ? createHttpOrigin() : createNetOrigin();
  const sockets = trackOpen<net.Socket>(server, 'connection');
  const port = await listen(server, opts.port ?? 0, host);
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

// ---------------------------------------------------------------------------
// node:http origin

function createHttpOrigin(): http.Server {
  const server = http.createServer((req, res) => {
    const body = bodyForPath(req.url ?? '/');
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
    if (req.method === 'HEAD') res.end();
    else res.end(body);
  });
  server.keepAliveTimeout = 60_000;
  server.headersTimeout = 65_000;
  server.requestTimeout = 0;
  return server;
}

// ---------------------------------------------------------------------------
// raw net origin

function responseHead(len: number, close: boolean): Buffer {
  return Buffer.from(
    `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${len}\r\n` +
      (close ? 'Connection: close\r\n' : '') +
      '\r\n',
    'latin1',
  );
}

interface Prebuilt {
  full: Buffer; // head + body, keep-alive
  fullClose: Buffer; // head + body, Connection: close
  head: Buffer; // for HEAD, keep-alive
  headClose: Buffer;
}

function prebuild(body: Buffer): Prebuilt {
  const head = responseHead(body.length, false);
  const headClose = responseHead(body.length, true);
  return { full: Buffer.concat([head, body]), fullClose: Buffer.concat([headClose, body]), head, headClose };
}

const PRE_SMALL = prebuild(SMALL_BODY);
const PRE_LARGE = prebuild(LARGE_BODY);
const BAD_REQUEST = Buffer.from('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n', 'latin1');
const MAX_HEADER_BYTES = 64 * 1024;
const CRLFCRLF = Buffer.from('\r\n\r\n');

function createNetOrigin(): net.Server {
  return net.createServer({ noDelay: true }, (socket) => {
    let pending: Buffer | null = null; // unparsed bytes
    let bodyLeft = 0; // request body bytes still to skip
    let after: Buffer | null = null; // response to send once the body is consumed
    let closeAfter = false;
    let closed = false;

    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk: Buffer) => {
      if (closed) return;
      const data: Buffer = pending ? Buffer.concat([pending, chunk]) : chunk;
      pending = null;
      let off = 0;
      const out: Buffer[] = [];
      while (off < data.length) {
        if (bodyLeft > 0) {
          const n = Math.min(bodyLeft, data.length - off);
          off += n;
          bodyLeft -= n;
          if (bodyLeft > 0) break;
          out.push(after!);
          after = null;
          if (closeAfter) {
            closed = true;
            break;
          }
          continue;
        }
        const end = data.indexOf(CRLFCRLF, off);
        if (end < 0) {
          if (data.length - off > MAX_HEADER_BYTES) {
            out.push(BAD_REQUEST);
            closed = true;
          } else {
            pending = data.subarray(off);
          }
          break;
        }
        const lineEnd = data.indexOf(13 /* \r */, off);
        const line = data.toString('latin1', off, lineEnd);
        const sp1 = line.indexOf(' ');
        const sp2 = line.indexOf(' ', sp1 + 1);
        if (sp1 <= 0 || sp2 <= sp1) {
          out.push(BAD_REQUEST);
          closed = true;
          break;
        }
        const method = line.slice(0, sp1);
        const path = line.slice(sp1 + 1, sp2);
        const http10 = line.endsWith('HTTP/1.0');
        let contentLength = 0;
        let close = http10;
        if (end > lineEnd) {
          // Only look at the headers that change framing or persistence.
          const headers = data.toString('latin1', lineEnd, end).toLowerCase();
          if (headers.includes('\ntransfer-encoding:')) {
            out.push(BAD_REQUEST);
            closed = true;
            break;
          }
          const cl = headers.indexOf('\ncontent-length:');
          if (cl >= 0) {
            contentLength = parseInt(headers.slice(cl + 16, headers.indexOf('\r', cl + 16) >>> 0), 10);
            if (!(contentLength >= 0)) {
              out.push(BAD_REQUEST);
              closed = true;
              break;
            }
          }
          const conn = headers.indexOf('\nconnection:');
          if (conn >= 0) {
            const v = headers.slice(conn + 12, headers.indexOf('\r', conn + 12) >>> 0);
            if (v.includes('close')) close = true;
            else if (http10 && v.includes('keep-alive')) close = false;
          }
        }
        off = end + 4;
        const pre = path.startsWith('/large') ? PRE_LARGE : PRE_SMALL;
        const resp = method === 'HEAD' ? (close ? pre.headClose : pre.head) : close ? pre.fullClose : pre.full;
        if (contentLength > 0) {
          bodyLeft = contentLength;
          after = resp;
          closeAfter = close;
          continue;
        }
        out.push(resp);
        if (close) {
          closed = true;
          break;
        }
      }
      if (out.length > 0) socket.write(out.length === 1 ? out[0]! : Buffer.concat(out));
      if (closed) socket.end();
    });
  });
}

// ---------------------------------------------------------------------------

if (isMain(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      'exit-with-stdin': { type: 'boolean', default: false },
      host: { type: 'string', default: '127.0.0.1' },
      impl: { type: 'string', default: 'net' },
    },
  });
  const impl = values.impl === 'http' ? 'http' : 'net';
  const srv = await startOrigin({ port: Number(values.port), host: values.host, impl });
  process.stdout.write(`LISTENING ${srv.port}\n`);
  if (values['exit-with-stdin']) exitWhenStdinCloses();
}
