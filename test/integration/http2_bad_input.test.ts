/**
 * Downstream HTTP/2 under abuse: oversize header lists, protocol errors,
 * rapid reset (CVE-2023-44487) and SETTINGS/PING floods. Each offender is cut
 * off with the right code while a well-behaved client on another connection
 * keeps getting answers.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { startLegate, type LegateProcess } from '../support/legate_process.js';
import { eventually, readStats, startUpstream, type TestServer } from '../support/http_util.js';
import * as F from '../support/h2_frames.js';
import { proxyConfig } from './fixtures.js';

const REQUEST: ReadonlyArray<readonly [string, string]> = [[':method', 'GET'], [':path', '/'], [':scheme', 'http'], [':authority', 'test']];

/** A raw HTTP/2 connection that records the frames the proxy sends and when it closes. */
async function rawConnection(port: number, opts: { read: boolean }): Promise<{ socket: net.Socket; frames: Array<{ type: number; streamId: number; payload: Buffer }>; closed: Promise<void>; isClosed(): boolean }> {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise<void>((r) => socket.once('connect', () => r()));
  const frames: Array<{ type: number; streamId: number; payload: Buffer }> = [];
  let rest: Buffer = Buffer.alloc(0);
  let closed = false;
  if (opts.read) {
    socket.on('data', (d: Buffer) => {
      const parsed = F.parseFrames(Buffer.concat([rest, d]));
      rest = parsed.rest;
      frames.push(...parsed.frames);
    });
  } else {
    socket.pause();
  }
  socket.on('error', () => {});
  const closedP = new Promise<void>((r) => socket.on('close', () => { closed = true; r(); }));
  socket.write(Buffer.concat([F.PREFACE, F.settingsFrame()]));
  return { socket, frames, closed: closedP, isClosed: () => closed };
}

/** Writes batches from `make` until the proxy closes the connection (or `maxBatches`). */
async function floodUntilClosed(conn: Awaited<ReturnType<typeof rawConnection>>, make: (batch: number) => Buffer, maxBatches = 400): Promise<number> {
  let batches = 0;
  while (!conn.isClosed() && batches < maxBatches) {
    const ok = conn.socket.write(make(batches++));
    if (!ok) await Promise.race([new Promise((r) => conn.socket.once('drain', r)), conn.closed, new Promise((r) => setTimeout(r, 100))]);
    await new Promise((r) => setImmediate(r));
  }
  await Promise.race([conn.closed, new Promise((r) => setTimeout(r, 3000))]);
  return batches;
}

/** A well-behaved client making requests in a loop until stopped; returns the statuses it got. */
function wellBehavedClient(port: number): { stop(): Promise<number[]> } {
  const statuses: number[] = [];
  let running = true;
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on('error', () => {});
  const loop = (async () => {
    while (running) {
      const status = await new Promise<number>((resolve) => {
        const req = session.request({ ':path': '/good' });
        req.on('response', (h) => resolve(Number(h[':status'])));
        req.on('error', () => resolve(-1));
        req.resume();
        req.end();
      });
      statuses.push(status);
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  return { stop: async () => { running = false; await loop; session.close(); return statuses; } };
}

describe('HTTP/2 bad input', () => {
  let upstream: TestServer;
  let legate: LegateProcess;
  let port: number;

  before(async () => {
    upstream = await startUpstream((_req, res) => res.end('ok'));
    legate = await startLegate(proxyConfig({ upstreamPort: upstream.port, hcmExtra: 'codec_type: AUTO\nmax_request_headers_kb: 2' }), { expectListeners: ['ingress'], expectAdmin: true });
    port = legate.ports.get('ingress')!;
  });
  after(async () => { await legate.stop(); await upstream.close(); });

  const stat = async (name: string): Promise<number> => (await readStats(legate.adminPort!)).get(name) ?? 0;

  it('resets a stream whose header list is over max_request_headers_kb; the connection serves the next stream', async () => {
    const c = await rawConnection(port, { read: true });
    try {
      c.socket.write(F.headersFrame(1, [...REQUEST, ['x-big', 'a'.repeat(4096)]], true));
      c.socket.write(F.headersFrame(3, REQUEST, true));
      await eventually(() => c.frames.some((f) => f.type === F.FrameType.HEADERS && f.streamId === 3), 3000, 'response on stream 3');
      const rst = c.frames.find((f) => f.type === F.FrameType.RST_STREAM && f.streamId === 1);
      assert.ok(rst !== undefined, 'stream 1 is reset');
      assert.equal(rst.payload.readUInt32BE(0), http2.constants.NGHTTP2_INTERNAL_ERROR);
      assert.ok(!c.frames.some((f) => f.type === F.FrameType.HEADERS && f.streamId === 1), 'no response on the oversize stream');
      assert.equal(upstream.requests.filter((r) => r.headers['x-big'] !== undefined).length, 0, 'nothing forwarded');
      assert.ok(await stat('http2.header_overflow') >= 1);
    } finally { c.socket.destroy(); }
  });

  it('answers a protocol error with GOAWAY(PROTOCOL_ERROR) and closes only that connection', async () => {
    const c = await rawConnection(port, { read: true });
    // HEADERS on stream 0 is a connection error (RFC 9113 §6.2).
    c.socket.write(F.headersFrame(0, REQUEST, true));
    await Promise.race([c.closed, new Promise((r) => setTimeout(r, 3000))]);
    const goaway = c.frames.find((f) => f.type === F.FrameType.GOAWAY);
    assert.ok(goaway !== undefined, 'GOAWAY sent');
    assert.equal(goaway.payload.readUInt32BE(4), http2.constants.NGHTTP2_PROTOCOL_ERROR);
    c.socket.destroy();
    const good = wellBehavedClient(port);
    await new Promise((r) => setTimeout(r, 100));
    assert.ok((await good.stop()).every((s) => s === 200));
  });

  it('closes a rapid-reset connection (CVE-2023-44487) while another client is served', async () => {
    const before = await stat('http.ingress_http.downstream_rq_too_many_premature_resets');
    const good = wellBehavedClient(port);
    const attacker = await rawConnection(port, { read: true });
    let next = 1;
    const batches = await floodUntilClosed(attacker, () => {
      const out: Buffer[] = [];
      for (let i = 0; i < 50; i++, next += 2) out.push(F.headersFrame(next, REQUEST, false), F.rstStreamFrame(next, http2.constants.NGHTTP2_CANCEL));
      return Buffer.concat(out);
    });
    assert.ok(attacker.isClosed(), `attacker still connected after ${batches} batches`);
    const statuses = await good.stop();
    assert.ok(statuses.length > 0 && statuses.every((s) => s === 200), `well-behaved client got ${JSON.stringify(statuses.slice(0, 20))}`);
    assert.equal(await stat('http.ingress_http.downstream_rq_too_many_premature_resets'), before + 1);
  });

  for (const kind of ['PING', 'SETTINGS'] as const) {
    it(`closes a ${kind} flood from a peer that does not read, while another client is served`, async () => {
      const before = await stat('http2.outbound_control_flood');
      const good = wellBehavedClient(port);
      const attacker = await rawConnection(port, { read: false });
      await floodUntilClosed(attacker, (b) => {
        const out: Buffer[] = [];
        for (let i = 0; i < 500; i++) out.push(kind === 'PING' ? F.pingFrame(b * 500 + i) : F.settingsFrame());
        return Buffer.concat(out);
      });
      assert.ok(attacker.isClosed(), 'flooding connection closed');
      const statuses = await good.stop();
      assert.ok(statuses.length > 0 && statuses.every((s) => s === 200), `well-behaved client got ${JSON.stringify(statuses.slice(0, 20))}`);
      assert.ok(await stat('http2.outbound_control_flood') > before);
      attacker.socket.destroy();
    });
  }
});
