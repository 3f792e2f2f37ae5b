// Smoke test for the macro bench's Node pieces: the origin (both
// implementations) and the two Node proxy peers. No nginx, no wrk, no timing.

import { strict as assert } from 'node:assert';
import * as http from 'node:http';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { LARGE_BODY, SMALL_BODY, startOrigin, type RunningServer } from '../../bench/origin.js';
import { startNodeHttpProxy } from '../../bench/peers/node_http_proxy.js';
import { startUndiciProxy } from '../../bench/peers/undici_proxy.js';

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

function request(
  agent: http.Agent,
  port: number,
  path: string,
  opts: { method?: string; body?: string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** A few keep-alive requests of each size (sequential and concurrent). */
async function exercise(port: number): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  try {
    for (let i = 0; i < 3; i++) {
      const s = await request(agent, port, '/small');
      assert.equal(s.status, 200);
      assert.deepEqual(s.body, SMALL_BODY);
      const l = await request(agent, port, '/large');
      assert.equal(l.status, 200);
      assert.equal(l.body.length, 16 * 1024);
      assert.deepEqual(l.body, LARGE_BODY);
    }
    const many = await Promise.all(
      Array.from({ length: 20 }, (_, i) => request(agent, port, i % 2 ? '/large' : '/small')),
    );
    many.forEach((r, i) => {
      assert.equal(r.status, 200);
      assert.deepEqual(r.body, i % 2 ? LARGE_BODY : SMALL_BODY);
    });
    // A request with a body is forwarded and still answered with the fixed body.
    const post = await request(agent, port, '/small', { method: 'POST', body: 'x'.repeat(1000) });
    assert.equal(post.status, 200);
    assert.deepEqual(post.body, SMALL_BODY);
  } finally {
    agent.destroy();
  }
}

/** Raw socket round trip: pipelined requests and Connection: close. */
function raw(port: number, payload: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.end(payload));
    let out = '';
    s.setEncoding('latin1');
    s.on('data', (d: string) => (out += d));
    s.on('end', () => resolve(out));
    s.on('error', reject);
  });
}

describe('bench origin', () => {
  for (const impl of ['net', 'http'] as const) {
    it(`${impl}: serves both bodies with 200 over keep-alive`, async () => {
      const origin = await startOrigin({ port: 0, impl });
      try {
        assert.ok(origin.port > 0);
        await exercise(origin.port);
      } finally {
        await origin.close();
      }
    });
  }

  it('net: handles pipelined requests and Connection: close', async () => {
    const origin = await startOrigin({ port: 0, impl: 'net' });
    try {
      const out = await raw(
        origin.port,
        'GET /small HTTP/1.1\r\nHost: x\r\n\r\n' +
          'POST /large HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello' +
          'GET /small HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      );
      const statuses = out.match(/HTTP\/1\.1 200 OK/g) ?? [];
      assert.equal(statuses.length, 3);
      assert.ok(out.includes(`Content-Length: ${LARGE_BODY.length}\r\n`));
      assert.ok(out.endsWith('\r\n\r\nok'));
    } finally {
      await origin.close();
    }
  });
});

describe('bench Node proxy peers', () => {
  let origin: RunningServer;
  before(async () => {
    origin = await startOrigin({ port: 0 });
  });
  after(async () => {
    await origin.close();
  });

  it('node-http proxy forwards to the origin', async () => {
    const proxy = await startNodeHttpProxy({ port: 0, upstreamPort: origin.port, maxSockets: 4 });
    try {
      assert.ok(proxy.port > 0 && proxy.port !== origin.port);
      await exercise(proxy.port);
    } finally {
      await proxy.close();
    }
  });

  it('undici proxy forwards to the origin', async () => {
    const proxy = await startUndiciProxy({ port: 0, upstreamPort: origin.port, connections: 4 });
    try {
      assert.ok(proxy.port > 0 && proxy.port !== origin.port);
      await exercise(proxy.port);
    } finally {
      await proxy.close();
    }
  });
});
