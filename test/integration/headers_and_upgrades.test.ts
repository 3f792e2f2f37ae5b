/**
 * x-forwarded-for / use_remote_address / xff_num_trusted_hops, x-request-id
 * handling, and WebSocket upgrades (allowed by upgrade_configs, 403 otherwise).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { startLegate, type LegateProcess } from '../support/legate_process.js';
import { rawRequest, request, startUpstream, type TestServer } from '../support/http_util.js';
import { proxyConfig } from './fixtures.js';

describe('x-forwarded-for and request ids', () => {
  let upstream: TestServer;
  const procs: LegateProcess[] = [];
  before(async () => { upstream = await startUpstream(); });
  after(async () => {
    for (const p of procs) await p.stop();
    await upstream.close();
  });

  async function start(hcmExtra: string): Promise<number> {
    const p = await startLegate(proxyConfig({ upstreamPort: upstream.port, hcmExtra, admin: false }), { expectListeners: ['ingress'] });
    procs.push(p);
    return p.ports.get('ingress')!;
  }

  it('use_remote_address appends the peer to XFF and sets x-envoy-internal for loopback', async () => {
    const port = await start('use_remote_address: true');
    const r = await request(port, { path: '/', headers: { 'x-forwarded-for': '203.0.113.7', 'x-request-id': 'keep-me' } });
    const seen = JSON.parse(r.body).headers;
    assert.equal(seen['x-forwarded-for'], '203.0.113.7,127.0.0.1');
    assert.equal(seen['x-envoy-internal'], 'true');
    assert.equal(seen['x-request-id'], 'keep-me', 'internal requests keep their id');
  });

  it('without use_remote_address XFF is passed on untouched and x-forwarded-proto kept', async () => {
    const port = await start('use_remote_address: false');
    const r = await request(port, { path: '/', headers: { 'x-forwarded-for': '198.51.100.1', 'x-forwarded-proto': 'https' } });
    const seen = JSON.parse(r.body).headers;
    assert.equal(seen['x-forwarded-for'], '198.51.100.1');
    assert.equal(seen['x-forwarded-proto'], 'https');
    assert.equal(seen['x-envoy-internal'], undefined);
  });

  it('always_set_request_id_in_response echoes the id', async () => {
    const port = await start('always_set_request_id_in_response: true');
    const r = await request(port, { path: '/' });
    assert.match(String(r.headers['x-request-id']), /^[0-9a-f-]{36}$/);
    assert.equal(JSON.parse(r.body).headers['x-request-id'], r.headers['x-request-id']);
  });
});

describe('WebSocket upgrades', () => {
  let wsServer: http.Server;
  let wsPort: number;
  const procs: LegateProcess[] = [];
  const upgraded = new Set<net.Socket>();

  before(async () => {
    // A minimal upgrade server: answers 101 and echoes raw bytes, upper-cased.
    wsServer = http.createServer((_req, res) => res.end('plain'));
    wsServer.on('upgrade', (req, socket: net.Socket) => {
      upgraded.add(socket);
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: test\r\n\r\n');
      socket.on('data', (d) => socket.write(d.toString().toUpperCase()));
      void req;
    });
    await new Promise<void>((r) => wsServer.listen(0, '127.0.0.1', r));
    wsPort = (wsServer.address() as net.AddressInfo).port;
  });
  after(async () => {
    for (const p of procs) await p.stop();
    // Upgraded sockets are no longer the http.Server's: destroy them ourselves.
    for (const s of upgraded) s.destroy();
    wsServer.closeAllConnections();
    await new Promise<void>((r) => wsServer.close(() => r()));
  });

  it('relays raw bytes both ways after 101 when upgrade_configs allows websocket', async () => {
    const p = await startLegate(proxyConfig({ upstreamPort: wsPort, admin: false, hcmExtra: 'upgrade_configs: [{ upgrade_type: websocket }]' }), { expectListeners: ['ingress'] });
    procs.push(p);
    const port = p.ports.get('ingress')!;
    const echoed = await new Promise<string>((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1');
      let buf = '';
      let upgraded = false;
      s.on('data', (d) => {
        buf += d.toString();
        if (!upgraded && buf.includes('\r\n\r\n')) {
          upgraded = true;
          assert.match(buf, /^HTTP\/1.1 101/);
          buf = buf.slice(buf.indexOf('\r\n\r\n') + 4);
          s.write('hello over the tunnel');
        }
        if (upgraded && buf === 'HELLO OVER THE TUNNEL') { s.destroy(); resolve(buf); }
      });
      s.on('error', reject);
      s.write('GET /chat HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
    });
    assert.equal(echoed, 'HELLO OVER THE TUNNEL');
  });

  it('refuses an upgrade the HCM does not allow with 403', async () => {
    const p = await startLegate(proxyConfig({ upstreamPort: wsPort, admin: false }), { expectListeners: ['ingress'] });
    procs.push(p);
    const out = await rawRequest(p.ports.get('ingress')!, 'GET /chat HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
    assert.match(out, /^HTTP\/1.1 403 /);
  });
});
