/**
 * Helpers for the HTTP/1 codec tests: a real server on 127.0.0.1:0 whose
 * connections run Http1ServerConnection with recording streams, and a raw
 * socket client that waits on conditions (never on time).
 */
import net from 'node:net';
import { once } from 'node:events';
import type {
  RequestDecoder,
  ResponseDecoder,
  ResponseEncoder,
  StreamCallbacks,
  StreamResetReason,
} from '../../../src/envoy/http/codec.js';
import type { HeaderMap } from '../../../src/envoy/http/header_map.js';
import { HeaderMapImpl } from '../../../src/http/codec/header_map_impl.js';
import { Http1ServerConnection } from '../../../src/http/codec/http1/server_connection.js';
import type { Http1ServerOptions } from '../../../src/http/codec/http1/settings.js';

/** A promise-based condition variable: `until(pred)` resolves once pred() holds after some change. */
export class Waiter {
  private waiters: Array<{ pred: () => boolean; resolve: () => void }> = [];
  notify(): void {
    const still: typeof this.waiters = [];
    for (const w of this.waiters) {
      if (w.pred()) w.resolve();
      else still.push(w);
    }
    this.waiters = still;
  }
  until(pred: () => boolean): Promise<void> {
    if (pred()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ pred, resolve }));
  }
}

export function headersToPairs(h: HeaderMap): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  h.forEach((n, v) => out.push([n, v]));
  return out;
}

export function responseHeaders(status: number, pairs: Array<[string, string]> = []): HeaderMapImpl {
  return HeaderMapImpl.fromPairs([[':status', String(status)], ...pairs]);
}

/** A request stream as the connection manager would see it: records everything. */
export class RecordedStream implements RequestDecoder, StreamCallbacks {
  headers: HeaderMap | null = null;
  headersEndStream = false;
  readonly data: Buffer[] = [];
  trailers: HeaderMap | null = null;
  ended = false;
  readonly resets: Array<[StreamResetReason, string]> = [];
  highWatermarks = 0;
  lowWatermarks = 0;
  readonly events: string[] = [];
  readonly waiter = new Waiter();

  /** Called once, right after the request headers were decoded. */
  onHeaders: ((s: RecordedStream) => void) | null = null;

  constructor(readonly encoder: ResponseEncoder) {
    encoder.getStream().addCallbacks(this);
  }

  get body(): string {
    return Buffer.concat(this.data).toString('latin1');
  }

  decodeHeaders(headers: HeaderMap, endStream: boolean): void {
    this.headers = headers;
    this.headersEndStream = endStream;
    this.events.push(`headers end=${endStream}`);
    if (endStream) this.ended = true;
    this.waiter.notify();
    const h = this.onHeaders;
    this.onHeaders = null;
    h?.(this);
  }
  decodeData(data: Buffer, endStream: boolean): void {
    this.data.push(Buffer.from(data));
    this.events.push(`data ${data.length} end=${endStream}`);
    if (endStream) this.ended = true;
    this.waiter.notify();
  }
  decodeTrailers(trailers: HeaderMap): void {
    this.trailers = trailers;
    this.events.push('trailers');
    this.ended = true;
    this.waiter.notify();
  }
  onResetStream(reason: StreamResetReason, transportFailureReason: string): void {
    this.resets.push([reason, transportFailureReason]);
    this.events.push(`reset ${reason}`);
    this.waiter.notify();
  }
  onAboveWriteBufferHighWatermark(): void { this.highWatermarks++; this.waiter.notify(); }
  onBelowWriteBufferLowWatermark(): void { this.lowWatermarks++; this.waiter.notify(); }

  /** Sends a complete response (content-length when a body is given). */
  respond(status: number, body = '', pairs: Array<[string, string]> = []): void {
    const h = responseHeaders(status, body === '' ? pairs : [...pairs, ['content-length', String(Buffer.byteLength(body))]]);
    if (body === '') this.encoder.encodeHeaders(h, true);
    else {
      this.encoder.encodeHeaders(h, false);
      this.encoder.encodeData(Buffer.from(body), true);
    }
  }
}

export type StreamHandler = (s: RecordedStream) => void;

export interface TestServer {
  port: number;
  readonly codecs: Http1ServerConnection[];
  readonly streams: RecordedStream[];
  readonly codecErrors: Array<[number, string]>;
  readonly serverSockets: net.Socket[];
  readonly waiter: Waiter;
  close(): Promise<void>;
}

/**
 * Starts a server whose every connection runs the HTTP/1 server codec. Each
 * new stream is recorded and handed to `onStream` once its request headers
 * are decoded (the handler may answer at once or later).
 */
export async function startServer(onStream: StreamHandler, options: Http1ServerOptions = {}): Promise<TestServer> {
  const codecs: Http1ServerConnection[] = [];
  const streams: RecordedStream[] = [];
  const codecErrors: Array<[number, string]> = [];
  const serverSockets: net.Socket[] = [];
  const waiter = new Waiter();
  const server = net.createServer((sock) => {
    serverSockets.push(sock);
    sock.on('close', () => waiter.notify());
    const codec = new Http1ServerConnection(sock, {
      newStream(encoder: ResponseEncoder): RequestDecoder {
        const s = new RecordedStream(encoder);
        streams.push(s);
        // The recording stream forwards its own notifications to the server waiter too.
        const notify = s.waiter.notify.bind(s.waiter);
        s.waiter.notify = () => { notify(); waiter.notify(); };
        s.onHeaders = onStream;
        waiter.notify();
        return s;
      },
      onCodecError(status: number, details: string): void {
        codecErrors.push([status, details]);
        waiter.notify();
      },
    }, options);
    codecs.push(codec);
    waiter.notify();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  return {
    port, codecs, streams, codecErrors, serverSockets, waiter,
    async close(): Promise<void> {
      for (const s of serverSockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** A raw TCP client that accumulates everything it receives. */
export class RawClient {
  readonly socket: net.Socket;
  received = Buffer.alloc(0);
  closed = false;
  readonly waiter = new Waiter();

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      this.received = Buffer.concat([this.received, d]);
      this.waiter.notify();
    });
    socket.on('close', () => { this.closed = true; this.waiter.notify(); });
    socket.on('error', () => { /* close follows */ });
  }

  static async connect(port: number): Promise<RawClient> {
    const s = net.connect(port, '127.0.0.1');
    await once(s, 'connect');
    return new RawClient(s);
  }

  get text(): string {
    return this.received.toString('latin1');
  }

  write(s: string | Buffer): void {
    this.socket.write(typeof s === 'string' ? Buffer.from(s, 'latin1') : s);
  }

  untilClosed(): Promise<void> {
    return this.waiter.until(() => this.closed);
  }

  untilText(pred: (t: string) => boolean): Promise<void> {
    return this.waiter.until(() => pred(this.text));
  }

  /** Waits until `n` complete responses arrived (parsed loosely: content-length or chunked). */
  untilResponses(n: number): Promise<void> {
    return this.waiter.until(() => splitResponses(this.text).length >= n);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Sends `request` on a fresh connection and resolves with everything received until the server closes. */
export async function rawExchange(port: number, request: string | Buffer): Promise<RawClient> {
  const c = await RawClient.connect(port);
  c.write(request);
  await c.untilClosed();
  return c;
}

/**
 * Splits a byte stream of HTTP/1.1 responses (test-grade: content-length,
 * chunked, or headers-only). Returns complete responses only.
 */
export function splitResponses(text: string): string[] {
  const out: string[] = [];
  let p = 0;
  for (;;) {
    const he = text.indexOf('\r\n\r\n', p);
    if (he === -1) return out;
    const head = text.slice(p, he + 4);
    const lower = head.toLowerCase();
    const status = Number(head.slice(9, 12));
    let end = he + 4;
    const cl = /\r\ncontent-length: *(\d+)/.exec(lower);
    if (status >= 100 && status < 200) {
      // informational: no body
    } else if (cl) {
      end += Number(cl[1]);
      if (end > text.length) return out;
    } else if (lower.includes('\r\ntransfer-encoding: chunked')) {
      let q = end;
      for (;;) {
        const le = text.indexOf('\r\n', q);
        if (le === -1) return out;
        const size = parseInt(text.slice(q, le), 16);
        if (size === 0) {
          const te = text.indexOf('\r\n\r\n', le - 2 < q ? q : le - 2);
          if (te === -1) return out;
          end = te + 4;
          break;
        }
        q = le + 2 + size + 2;
        if (q > text.length) return out;
      }
    }
    out.push(text.slice(p, end));
    p = end;
  }
}

/** A response decoder that records what the client codec delivers. */
export class RecordedResponse implements ResponseDecoder, StreamCallbacks {
  readonly informational: HeaderMap[] = [];
  headers: HeaderMap | null = null;
  readonly data: Buffer[] = [];
  trailers: HeaderMap | null = null;
  ended = false;
  readonly resets: Array<[StreamResetReason, string]> = [];
  highWatermarks = 0;
  lowWatermarks = 0;
  readonly events: string[] = [];
  readonly waiter = new Waiter();

  get body(): string {
    return Buffer.concat(this.data).toString('latin1');
  }
  get status(): string | undefined {
    return this.headers?.get(':status');
  }

  decode1xxHeaders(headers: HeaderMap): void {
    this.informational.push(headers);
    this.events.push(`1xx ${headers.get(':status')}`);
    this.waiter.notify();
  }
  decodeHeaders(headers: HeaderMap, endStream: boolean): void {
    this.headers = headers;
    this.events.push(`headers ${headers.get(':status')} end=${endStream}`);
    if (endStream) this.ended = true;
    this.waiter.notify();
  }
  decodeData(data: Buffer, endStream: boolean): void {
    this.data.push(Buffer.from(data));
    this.events.push(`data ${data.length} end=${endStream}`);
    if (endStream) this.ended = true;
    this.waiter.notify();
  }
  decodeTrailers(trailers: HeaderMap): void {
    this.trailers = trailers;
    this.events.push('trailers');
    this.ended = true;
    this.waiter.notify();
  }
  onResetStream(reason: StreamResetReason, transportFailureReason: string): void {
    this.resets.push([reason, transportFailureReason]);
    this.events.push(`reset ${reason}`);
    this.waiter.notify();
  }
  onAboveWriteBufferHighWatermark(): void { this.highWatermarks++; this.waiter.notify(); }
  onBelowWriteBufferLowWatermark(): void { this.lowWatermarks++; this.waiter.notify(); }

  untilEnded(): Promise<void> {
    return this.waiter.until(() => this.ended || this.resets.length > 0);
  }
}

/** A raw TCP upstream: hands each accepted socket (and the bytes it receives) to the test. */
export interface RawUpstream {
  port: number;
  readonly sockets: net.Socket[];
  /** Everything received per connection. */
  readonly received: string[];
  readonly waiter: Waiter;
  closedCount: number;
  close(): Promise<void>;
}

export async function startRawUpstream(onData?: (sock: net.Socket, index: number, all: string) => void): Promise<RawUpstream> {
  const waiter = new Waiter();
  const handle: RawUpstream = {
    port: 0, sockets: [], received: [], waiter, closedCount: 0,
    async close(): Promise<void> {
      for (const s of handle.sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  const server = net.createServer((sock) => {
    const idx = handle.sockets.length;
    handle.sockets.push(sock);
    handle.received.push('');
    sock.on('data', (d: Buffer) => {
      handle.received[idx] += d.toString('latin1');
      onData?.(sock, idx, handle.received[idx]!);
      waiter.notify();
    });
    sock.on('close', () => { handle.closedCount++; waiter.notify(); });
    sock.on('error', () => { /* close follows */ });
    waiter.notify();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  handle.port = (server.address() as net.AddressInfo).port;
  return handle;
}
