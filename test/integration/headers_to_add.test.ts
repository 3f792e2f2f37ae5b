/**
 * Header mutations with command operators through the real formatter,
 * xff_num_trusted_hops, request_timeout, --service-node in /server_info, and
 * SIGINT draining like SIGTERM.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startLegate, type LegateProcess } from '../support/legate_process.js';
import { request, startUpstream, type TestServer } from '../support/http_util.js';
import { proxyConfig } from './fixtures.js';

describe('header mutations, XFF trust, request_timeout, node identity', () => {
  let upstream: TestServer;
  let legate: LegateProcess;
  let port: number;

  before(async () => {
    upstream = await startUpstream();
    const yaml = proxyConfig({
      upstreamPort: upstream.port,
      hcmExtra: 'xff_num_trusted_hops: 1\nrequest_timeout: 0.3s',
      vhostExtra: `request_headers_to_add:
- header: { key: x-client, value: "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%" }
- header: { key: x-ua-copy, value: "ua=%REQ(user-agent)%" }
response_headers_to_add:
- header: { key: x-upstream-status, value: "%RESPONSE_CODE%" }
request_headers_to_remove: [x-secret]`,
      routes: `- match: { prefix: "/" }
  route: { cluster: backend }
  request_headers_to_add:
  - header: { key: x-route, value: "yes" }
    append_action: OVERWRITE_IF_EXISTS_OR_ADD`,
    });
    legate = await startLegate(yaml, { expectListeners: ['ingress'], expectAdmin: true, args: ['--service-node', 'node-7', '--service-cluster', 'edge'] });
    port = legate.ports.get('ingress')!;
  });
  after(async () => {
    await legate?.stop('SIGINT');
    await upstream?.close();
  });

  it('adds and removes headers with %VAR% values at vhost and route level', async () => {
    const r = await request(port, { path: '/', headers: { 'user-agent': 'probe/1', 'x-secret': 's3cr3t', 'x-route': 'client' } });
    const seen = JSON.parse(r.body).headers;
    assert.equal(seen['x-client'], '127.0.0.1');
    assert.equal(seen['x-ua-copy'], 'ua=probe/1');
    assert.equal(seen['x-route'], 'yes');
    assert.equal(seen['x-secret'], undefined);
    assert.equal(r.headers['x-upstream-status'], '200');
  });

  it('xff_num_trusted_hops: 1 picks the client from the right of XFF', async () => {
    const r = await request(port, { path: '/', headers: { 'x-forwarded-for': '203.0.113.9, 10.0.0.2' } });
    // %DOWNSTREAM_REMOTE_ADDRESS% follows the trusted XFF entry (one trusted hop: the second from the right).
    assert.equal(JSON.parse(r.body).headers['x-client'], '203.0.113.9');
  });

  it('request_timeout: a request body that never completes gets 408', async () => {
    const out = await new Promise<string>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => s.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc'));
      let got = '';
      s.on('data', (d) => { got += d; });
      s.on('close', () => resolve(got));
    });
    assert.match(out, /^HTTP\/1.1 408 /);
    assert.match(out, /request timeout$/);
  });

  it('/server_info reports the --service-node and --service-cluster', async () => {
    const j = JSON.parse((await request(legate.adminPort!, { path: '/server_info' })).body);
    assert.equal(j.node.id, 'node-7');
    assert.equal(j.node.cluster, 'edge');
  });

  it('SIGINT drains and exits 0 like SIGTERM', async () => {
    const code = await legate.stop('SIGINT');
    assert.equal(code, 0);
  });
});
