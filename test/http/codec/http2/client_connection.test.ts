// Legate's own HTTP/2 client codec (Http2ClientConnection) against a real
// node:http2 server (the happy paths, flow control, GOAWAY, PING) and against a
// raw-frame server that misbehaves on purpose (each protocol error must end in
// the right stream or connection error, and the right frame on the wire).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { StreamResetReason } from '../../../../src/envoy/http/codec.js';
import {
  Http2ClientConnection,
  type Http2ClientConnectionOptions,
  type Http2ClientStreamCallbacks,
} from '../../../../src/http/codec/http2/client_connection.js';
import { ErrorCode } from '../../../../src/http/codec/http2/frames.js';
import { FrameType, Flags, PREFACE, frame, headerBlock, headersFrame, parseFrames, rstStreamFrame, settingsAck, settingsFrame } from '../../../support/h2_frames.js';

const DEFAULTS: Http2ClientConnectionOptions = {
  initialStreamWindowSize: 256 * 1024 * 1024,
  initialConnectionWindowSize: 256 * 1024 * 1024,
  headerTableSize: 4096,
  maxHeaderListSize: 60 * 1024,
  highWatermark: 1024 * 1024,
};

interface Client {
  conn: Http2ClientConnection;
  socket: net.Socket;
  settings: Promise<number>;
  closed: Promise<void>;
  goAway: Promise<[number, number]>;
  protocolErrors: string[];
}

function connect(port: number, options: Partial<Http2ClientConnectionOptions> = {}): Client {
  const socket = net.connect({ host: '127.0.0.1', port });
  let settled: (n: number) => void = () => {};
  let closed: () => void = () => {};
  let goAway: (v: [number, number]) => void = () => {};
  const protocolErrors: string[] = [];
  const c: Client = {
    socket,
    protocolErrors,
    settings: new Promise((r) => (settled = r)),
    closed: new Promise((r) => (closed = r)),
    goAway: new Promise((r) => (goAway = r)),
    conn: null as unknown as Http2ClientConnection,
  };
  c.conn = new Http2ClientConnection(socket, { ...DEFAULTS, ...options }, {
    onConnected: () => {},
    onRemoteSettings: (max, first) => { if (first) settled(max); },
    onGoAway: (last, code) => goAway([last, code]),
    onProtocolError: (d) => protocolErrors.push(d),
    onTransportError: () => {},
    onClose: () => closed(),
  });
  return c;
}

interface Exchange {
  informational: string[][];
  headers: string[] | null;
  headersEnd: boolean;
  body: Buffer[];
  trailers: string[] | null;
  reset: StreamResetReason | null;
  resetDetail: string;
  done: Promise<void>;
}

/** A stream recorder: `done` resolves on onStreamClosed. */
function recorder(onData?: (chunk: Buffer) => void): Exchange & Http2ClientStreamCallbacks {
  let resolve: () => void = () => {};
  const ex: Exchange & Http2ClientStreamCallbacks = {
    informational: [],
    headers: null,
    headersEnd: false,
    body: [],
    trailers: null,
    reset: null,
    resetDetail: '',
    done: new Promise((r) => (resolve = r)),
    onInformationalHeaders: (f) => ex.informational.push(f),
    onResponseHeaders: (f, end) => { ex.headers = f; ex.headersEnd = end; },
    onResponseData: (d) => { ex.body.push(Buffer.from(d)); onData?.(d); },
    onResponseTrailers: (f) => { ex.trailers = f; },
    onStreamReset: (reason, detail) => { ex.reset = reason; ex.resetDetail = detail; },
    onStreamClosed: () => resolve(),
    onSendBufferAboveHighWatermark: () => {},
    onSendBufferBelowLowWatermark: () => {},
  };
  return ex;
}

function field(fields: readonly string[] | null, name: string): string | undefined {
  if (fields === null) return undefined;
  for (let i = 0; i < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

const GET = (path: string): string[] => [':method', 'GET', ':scheme', 'http', ':authority', 'test', ':path', path];
const POST = (path: string): string[] => [':method', 'POST', ':scheme', 'http', ':authority', 'test', ':path', path];

async function withNodeServer(
  handler: (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => void,
  fn: (port: number, server: http2.Http2Server) => Promise<void>,
  settings: http2.Settings = {},
): Promise<void> {
  const server = http2.createServer({ settings });
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {}); // streams the client refuses or resets
    handler(stream, headers);
  });
  server.on('session', (s) => s.on('error', () => {}));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    await fn((server.address() as AddressInfo).port, server);
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
}

test('node:http2 server: GET, POST bodies past the peer window, trailers both ways, 50 concurrent streams', async () => {
  await withNodeServer((stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on('data', (d: Buffer) => chunks.push(d));
    stream.on('end', () => {
      const body = Buffer.concat(chunks);
      const wantsTrailers = headers['te'] === 'trailers';
      stream.respond({ ':status': 200, 'x-path': String(headers[':path']), 'x-len': String(body.length) }, { waitForTrailers: wantsTrailers });
      if (wantsTrailers) stream.once('wantTrailers', () => stream.sendTrailers({ 'x-sum': String(body.length), 'x-req-trailer': String((stream as unknown as { reqTrailer?: string }).reqTrailer ?? '') }));
      stream.end(body);
    });
    stream.on('trailers', (t) => { (stream as unknown as { reqTrailer?: string }).reqTrailer = String(t['x-checksum']); });
  }, async (port) => {
    const c = connect(port);
    await c.settings;

    const get = recorder();
    c.conn.openStream(get).sendHeaders(GET('/a'), true);
    await get.done;
    assert.equal(get.reset, null);
    assert.equal(field(get.headers, ':status'), '200');
    assert.equal(field(get.headers, 'x-path'), '/a');

    // 300 KiB upload: node's server window is 65535, so this waits for WINDOW_UPDATEs.
    const body = Buffer.alloc(300 * 1024, 7);
    const post = recorder();
    const s = c.conn.openStream(post);
    s.sendHeaders([...POST('/up'), 'te', 'trailers'], false);
    s.sendData(body.subarray(0, 100_000), false);
    s.sendData(body.subarray(100_000), false);
    s.sendTrailers(['x-checksum', 'abc']);
    await post.done;
    assert.equal(post.reset, null);
    assert.equal(field(post.headers, 'x-len'), String(body.length));
    assert.ok(Buffer.concat(post.body).equals(body));
    assert.deepEqual(post.trailers, ['x-sum', String(body.length), 'x-req-trailer', 'abc']);

    const many = Array.from({ length: 50 }, (_, i) => {
      const r = recorder();
      const st = c.conn.openStream(r);
      st.sendHeaders(POST(`/m${i}`), false);
      st.sendData(Buffer.from(`body-${i}`), true);
      return r;
    });
    await Promise.all(many.map((r) => r.done));
    many.forEach((r, i) => {
      assert.equal(r.reset, null);
      assert.equal(field(r.headers, 'x-path'), `/m${i}`);
      assert.equal(Buffer.concat(r.body).toString(), `body-${i}`);
    });
    assert.equal(c.conn.activeStreamCount, 0);
    c.conn.close();
    await c.closed;
  });
});

test('node:http2 server: a paused stream stops the sender (no window credit) and resumes to the full body', async () => {
  const total = 4 * 1024 * 1024;
  await withNodeServer((stream) => {
    stream.respond({ ':status': 200 });
    stream.end(Buffer.alloc(total, 1));
  }, async (port) => {
    const c = connect(port, { initialStreamWindowSize: 65535, initialConnectionWindowSize: 65535 * 4 });
    await c.settings;
    const r = recorder();
    const s = c.conn.openStream(r);
    s.sendHeaders(GET('/big'), true);
    s.setReadPaused(true);
    await new Promise((res) => setTimeout(res, 300));
    const received = c.socket.bytesRead;
    assert.equal(r.body.length, 0, 'nothing delivered while paused');
    assert.ok(received < 200 * 1024, `the server stopped at the window: ${received} bytes read`);
    s.setReadPaused(false);
    await r.done;
    assert.equal(r.reset, null);
    assert.equal(Buffer.concat(r.body).length, total);
    c.conn.destroy();
  });
});

test('node:http2 server: SETTINGS max concurrent streams reported; PING acknowledged; GOAWAY refuses streams above last-stream-id', async () => {
  let sessions: http2.ServerHttp2Session[] = [];
  await withNodeServer((stream, headers) => {
    if (headers[':path'] === '/hold') return; // never answered
    stream.respond({ ':status': 200 });
    stream.end('ok');
  }, async (port, server) => {
    server.on('session', (s) => sessions.push(s));
    const c = connect(port);
    assert.equal(await c.settings, 7);
    const pinged = await new Promise<boolean>((r) => c.conn.ping(r));
    assert.equal(pinged, true);

    const first = recorder();
    c.conn.openStream(first).sendHeaders(GET('/one'), true);
    await first.done;
    const held = recorder();
    c.conn.openStream(held).sendHeaders(GET('/hold'), true); // stream 3
    await new Promise((res) => setTimeout(res, 50));
    sessions[0]!.goaway(http2.constants.NGHTTP2_NO_ERROR, 1);
    const [last, code] = await c.goAway;
    assert.equal(last, 1);
    assert.equal(code, 0);
    await held.done;
    assert.equal(held.reset, StreamResetReason.RemoteRefusedStreamReset);
    assert.equal(c.conn.canOpenStream, false);
    c.conn.destroy();
    for (const s of sessions) s.destroy();
    sessions = [];
  }, { maxConcurrentStreams: 7 });
});

// ---- a raw-frame server that misbehaves on purpose ----

interface RawConn {
  socket: net.Socket;
  /** Frames the client sent (after the preface). */
  frames: Array<{ type: number; flags: number; streamId: number; payload: Buffer }>;
  /** Resolves with the next client frame of `type`. */
  next(type: number): Promise<{ type: number; flags: number; streamId: number; payload: Buffer }>;
}

async function withRawServer(
  onHeaders: (conn: RawConn, streamId: number) => void,
  fn: (port: number, conns: RawConn[]) => Promise<void>,
  opening: Buffer = settingsFrame(),
): Promise<void> {
  const conns: RawConn[] = [];
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    const waiters: Array<{ type: number; resolve: (f: RawConn['frames'][number]) => void }> = [];
    const rc: RawConn = {
      socket,
      frames: [],
      next: (type) => {
        const seen = rc.frames.find((f) => f.type === type && !(f as { taken?: boolean }).taken);
        if (seen) { (seen as { taken?: boolean }).taken = true; return Promise.resolve(seen); }
        return new Promise((resolve) => waiters.push({ type, resolve }));
      },
    };
    conns.push(rc);
    socket.write(opening);
    let buf = Buffer.alloc(0);
    let preface = false;
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (!preface) {
        if (buf.length < PREFACE.length) return;
        assert.ok(buf.subarray(0, PREFACE.length).equals(PREFACE));
        buf = buf.subarray(PREFACE.length);
        preface = true;
      }
      const { frames, rest } = parseFrames(buf);
      buf = Buffer.from(rest);
      for (const f of frames) {
        const copy = { ...f, payload: Buffer.from(f.payload) };
        rc.frames.push(copy);
        const w = waiters.findIndex((x) => x.type === f.type);
        if (w !== -1) { (copy as { taken?: boolean }).taken = true; waiters.splice(w, 1)[0]!.resolve(copy); }
        if (f.type === FrameType.SETTINGS && (f.flags & Flags.ACK) === 0) socket.write(settingsAck());
        if (f.type === FrameType.HEADERS) onHeaders(rc, f.streamId);
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    await fn((server.address() as AddressInfo).port, conns);
  } finally {
    for (const c of conns) c.socket.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  }
}

function dataFrame(streamId: number, data: Buffer | string, endStream: boolean, padding = -1): Buffer {
  const body = Buffer.from(data);
  if (padding < 0) return frame(FrameType.DATA, endStream ? Flags.END_STREAM : 0, streamId, body);
  const payload = Buffer.concat([Buffer.from([padding]), body, Buffer.alloc(padding)]);
  return frame(FrameType.DATA, (endStream ? Flags.END_STREAM : 0) | 0x8, streamId, payload);
}

async function oneRequest(port: number, options: Partial<Http2ClientConnectionOptions> = {}): Promise<{ c: Client; r: Exchange }> {
  const c = connect(port, options);
  await c.settings;
  const r = recorder();
  c.conn.openStream(r).sendHeaders(GET('/'), true);
  await r.done;
  return { c, r };
}

test('raw server: malformed responses are stream errors (RST_STREAM PROTOCOL_ERROR), and the connection keeps serving', async () => {
  const bad: Array<ReadonlyArray<readonly [string, string]>> = [
    [[':status', '200'], ['X-Upper', 'v']],
    [['x-no-status', 'v']],
    [[':status', '200'], ['connection', 'close']],
    [[':status', '2000']],
    [[':status', '200'], [':path', '/']],
    [['x-first', 'v'], [':status', '200']],
  ];
  let n = 0;
  await withRawServer((rc, id) => {
    const block = n < bad.length ? bad[n]! : [[':status', '204']] as const;
    n++;
    rc.socket.write(headersFrame(id, block, true));
  }, async (port, conns) => {
    const c = connect(port);
    await c.settings;
    for (let i = 0; i < bad.length; i++) {
      const r = recorder();
      c.conn.openStream(r).sendHeaders(GET(`/bad${i}`), true);
      await r.done;
      assert.equal(r.reset, StreamResetReason.ProtocolError, `case ${i}: ${r.resetDetail}`);
      const rst = await conns[0]!.next(FrameType.RST_STREAM);
      assert.equal(rst.payload.readUInt32BE(0), ErrorCode.ProtocolError);
      assert.equal(rst.streamId, 2 * i + 1);
    }
    const ok = recorder();
    c.conn.openStream(ok).sendHeaders(GET('/ok'), true);
    await ok.done;
    assert.equal(ok.reset, null);
    assert.equal(field(ok.headers, ':status'), '204');
    assert.equal(c.protocolErrors.length, 0);
    c.conn.destroy();
  });
});

test('raw server: connection errors send GOAWAY with the right code and reset open streams with ProtocolError', async () => {
  const cases: Array<{ name: string; code: ErrorCode; send: (id: number) => Buffer; opening?: Buffer }> = [
    { name: 'PUSH_PROMISE', code: ErrorCode.ProtocolError, send: (id) => frame(5, 0x4, id, Buffer.concat([Buffer.from([0, 0, 0, 2]), headerBlock([[':method', 'GET']])])) },
    { name: 'oversize frame', code: ErrorCode.FrameSizeError, send: (id) => dataFrame(id, Buffer.alloc(16385), false) },
    { name: 'HPACK index past the table', code: ErrorCode.CompressionError, send: (id) => frame(FrameType.HEADERS, 0x5, id, Buffer.from([0x80 | 0x7e])) },
    { name: 'DATA on stream 0', code: ErrorCode.ProtocolError, send: () => dataFrame(0, 'x', false) },
    { name: 'HEADERS on an idle stream', code: ErrorCode.ProtocolError, send: () => headersFrame(99, [[':status', '200']], true) },
    { name: 'SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1', code: ErrorCode.FlowControlError, send: () => settingsFrame([[4, 0x80000000]]) },
    { name: 'CONTINUATION expected', code: ErrorCode.ProtocolError, send: (id) => Buffer.concat([frame(FrameType.HEADERS, 0, id, headerBlock([[':status', '200']])), dataFrame(id, 'x', true)]) },
    { name: 'preface without SETTINGS', code: ErrorCode.ProtocolError, send: () => Buffer.alloc(0), opening: frame(FrameType.PING, 0, 0, Buffer.alloc(8)) },
  ];
  for (const k of cases) {
    await withRawServer((rc, id) => rc.socket.write(k.send(id)), async (port, conns) => {
      const c = connect(port);
      if (k.opening === undefined) await c.settings;
      const r = recorder();
      c.conn.openStream(r).sendHeaders(GET('/'), true);
      await r.done;
      await c.closed;
      assert.equal(r.reset, StreamResetReason.ProtocolError, k.name);
      assert.equal(c.protocolErrors.length, 1, k.name);
      const goaway = await conns[0]!.next(FrameType.GOAWAY);
      assert.equal(goaway.payload.readUInt32BE(4), k.code, `${k.name}: GOAWAY code`);
    }, k.opening);
  }
});

test('raw server: HEADERS + CONTINUATION, padded DATA and HEADERS, 100-continue, trailers', async () => {
  await withRawServer((rc, id) => {
    const info = headersFrame(id, [[':status', '100']], false);
    const block = headerBlock([[':status', '200'], ['x-long', 'y'.repeat(100)], ['x-two', '2']]);
    const head = frame(FrameType.HEADERS, 0x8, id, Buffer.concat([Buffer.from([3]), block.subarray(0, 10), Buffer.alloc(3)]));
    const cont = frame(9, Flags.END_HEADERS, id, block.subarray(10));
    const trailers = headersFrame(id, [['x-trailer', 't']], true);
    rc.socket.write(Buffer.concat([info, head, cont, dataFrame(id, 'hello ', false, 5), dataFrame(id, 'world', false), trailers]));
  }, async (port) => {
    const { c, r } = await oneRequest(port);
    assert.equal(r.reset, null);
    assert.deepEqual(r.informational, [[':status', '100']]);
    assert.equal(field(r.headers, 'x-long'), 'y'.repeat(100));
    assert.equal(field(r.headers, 'x-two'), '2');
    assert.equal(Buffer.concat(r.body).toString(), 'hello world');
    assert.deepEqual(r.trailers, ['x-trailer', 't']);
    c.conn.destroy();
  });
});

test('raw server: stream-level errors — RST_STREAM codes, trailers without END_STREAM, connection closed mid-response', async () => {
  const scripts: Array<{ name: string; expect: StreamResetReason; rst?: ErrorCode; write: (id: number) => Buffer; end?: boolean }> = [
    { name: 'REFUSED_STREAM', expect: StreamResetReason.RemoteRefusedStreamReset, write: (id) => rstStreamFrame(id, ErrorCode.RefusedStream) },
    { name: 'INTERNAL_ERROR', expect: StreamResetReason.RemoteReset, write: (id) => rstStreamFrame(id, ErrorCode.InternalError) },
    {
      name: 'trailers without END_STREAM',
      expect: StreamResetReason.ProtocolError,
      rst: ErrorCode.ProtocolError,
      write: (id) => Buffer.concat([headersFrame(id, [[':status', '200']], false), headersFrame(id, [['x-t', '1']], false)]),
    },
    { name: 'closed mid-response', expect: StreamResetReason.ConnectionTermination, write: (id) => headersFrame(id, [[':status', '200']], false), end: true },
  ];
  for (const k of scripts) {
    await withRawServer((rc, id) => {
      rc.socket.write(k.write(id));
      if (k.end) setTimeout(() => rc.socket.destroy(), 20);
    }, async (port, conns) => {
      const { c, r } = await oneRequest(port, { initialStreamWindowSize: 65535 });
      assert.equal(r.reset, k.expect, `${k.name}: ${r.resetDetail}`);
      if (k.rst !== undefined) {
        const rst = await conns[0]!.next(FrameType.RST_STREAM);
        assert.equal(rst.payload.readUInt32BE(0), k.rst, k.name);
      }
      c.conn.destroy();
    });
  }
});

test('raw server: DATA beyond the window of a paused stream (no credit returned) is a stream FLOW_CONTROL_ERROR', async () => {
  await withRawServer((rc, id) => {
    rc.socket.write(Buffer.concat([headersFrame(id, [[':status', '200']], false), ...Array.from({ length: 5 }, () => dataFrame(id, Buffer.alloc(14000), false))]));
  }, async (port, conns) => {
    const c = connect(port, { initialStreamWindowSize: 65535 });
    await c.settings;
    const r = recorder();
    const s = c.conn.openStream(r);
    s.sendHeaders(GET('/'), true);
    s.setReadPaused(true);
    await r.done;
    assert.equal(r.reset, StreamResetReason.ProtocolError, r.resetDetail);
    const rst = await conns[0]!.next(FrameType.RST_STREAM);
    assert.equal(rst.payload.readUInt32BE(0), ErrorCode.FlowControlError);
    assert.equal(conns[0]!.frames.some((f) => f.type === FrameType.WINDOW_UPDATE && f.streamId !== 0), false, 'no stream credit while paused');
    c.conn.destroy();
  });
});

test('raw server: our DATA respects the peer window and resumes on WINDOW_UPDATE; PINGs are answered', async () => {
  let serverConn: RawConn | null = null;
  let streamId = 0;
  await withRawServer((rc, id) => {
    serverConn = rc;
    streamId = id;
  }, async (port) => {
    const c = connect(port);
    await c.settings;
    const r = recorder();
    const s = c.conn.openStream(r);
    s.sendHeaders(POST('/'), false);
    s.sendData(Buffer.alloc(100, 'a'), true);
    await new Promise((res) => setTimeout(res, 100));
    const rc = serverConn as RawConn | null;
    assert.ok(rc !== null);
    const data = rc.frames.filter((f) => f.type === FrameType.DATA);
    assert.equal(data.reduce((n, f) => n + f.payload.length, 0), 10, 'only the window (10 bytes) was sent');
    assert.equal(s.bufferedBytes, 90);

    const inc = Buffer.alloc(4);
    inc.writeUInt32BE(1000, 0);
    rc.socket.write(frame(FrameType.WINDOW_UPDATE, 0, streamId, inc));
    const ping = Buffer.from('12345678');
    rc.socket.write(frame(FrameType.PING, 0, 0, ping));
    const ack = await rc.next(FrameType.PING);
    assert.equal(ack.flags & Flags.ACK, Flags.ACK);
    assert.ok(ack.payload.equals(ping));
    const all = rc.frames.filter((f) => f.type === FrameType.DATA);
    assert.equal(all.reduce((n, f) => n + f.payload.length, 0), 100);
    assert.equal(all.at(-1)!.flags & Flags.END_STREAM, Flags.END_STREAM);
    rc.socket.write(headersFrame(streamId, [[':status', '200']], true));
    await r.done;
    assert.equal(r.reset, null);
    c.conn.destroy();
  }, settingsFrame([[4, 10]]));
});
