/**
 * envoy.filters.http.fault on a simulated clock: the server composition runs
 * in-process with a SimulatedTimeSource in its factory context, so a 10 s
 * delay and a 1 KiB/s response limit are checked exactly (the request is
 * held until the clock reaches the delay; the body leaves in token-bucket
 * slices) without sleeping. Also: per-route config found by the filter's
 * own config name, by its canonical name, and at the virtual-host level.
 * Real sockets, real upstreams, real clients throughout.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import * as grpc from '@grpc/grpc-js';
import { startInProcessProxy, type InProcessProxy } from '../support/in_process_proxy.js';
import { SimulatedTimeSource } from '../support/simulated_time.js';
import { eventually, request, startUpstream, type TestServer } from '../support/http_util.js';
import { ECHO_SERVICE, startGrpcServer, type GrpcTestServer } from '../support/grpc_util.js';
import { H2_UPSTREAM, indent, staticCluster } from '../integration/fixtures.js';

const EchoClient = grpc.makeGenericClientConstructor(ECHO_SERVICE, 'Echo');
type Client = InstanceType<typeof EchoClient> & Record<string, (...args: unknown[]) => unknown>;

const FAULT_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault';
const BODY = 3072;
/** 1 KiB/s in 20 slices a second (Envoy's 50 ms fill interval). */
const SLICE = Math.floor(1024 / 20);

function override(key: string, fault: object): Record<string, unknown> {
  return { [key]: { '@type': FAULT_TYPE, ...fault } };
}

function route(prefix: string, cluster: string, perFilter: Record<string, unknown> | null): string {
  const r: Record<string, unknown> = { match: { prefix }, route: { cluster, timeout: '0s' } };
  if (perFilter !== null) r['typed_per_filter_config'] = perFilter;
  return `- ${JSON.stringify(r)}`;
}

function config(upstreamPort: number, grpcPort: number): string {
  const abort = (code: number) => ({ abort: { http_status: code, percentage: { numerator: 100 } } });
  const routes = [
    route('/test.Echo/', 'grpc_backend', override('chaos', { response_rate_limit: { fixed_limit: { limit_kbps: 1 }, percentage: { numerator: 100 } } })),
    route('/delay', 'live', override('chaos', { delay: { fixed_delay: '10s', percentage: { numerator: 100 } } })),
    route('/throttle', 'live', override('chaos', { response_rate_limit: { fixed_limit: { limit_kbps: 1 }, percentage: { numerator: 100 } } })),
    route('/by-config-name', 'live', override('chaos', abort(503))),
    route('/by-canonical-name', 'live', override('envoy.filters.http.fault', abort(504))),
    route('/none', 'live', null),
    route('/wrapped', 'live', {
      chaos: { '@type': 'type.googleapis.com/envoy.config.route.v3.FilterConfig', config: { '@type': FAULT_TYPE, ...abort(507) } },
    }),
  ].join('\n');
  const special = [
    route('/by-vhost', 'live', null),
    route('/route-beats-vhost', 'live', override('envoy.filters.http.fault', abort(504))),
  ].join('\n');
  return `
static_resources:
  listeners:
  - name: ingress
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: sim
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
${indent(routes, 14)}
            - name: special
              domains: ["special"]
              typed_per_filter_config: ${JSON.stringify(override('chaos', abort(502)))}
              routes:
${indent(special, 14)}
          http_filters:
          - name: chaos
            typed_config: { "@type": ${FAULT_TYPE} }
          - name: envoy.filters.http.router
  clusters:
${indent(staticCluster('live', upstreamPort), 2)}
${indent(staticCluster('grpc_backend', grpcPort, { extra: H2_UPSTREAM }), 2)}`;
}

describe('envoy.filters.http.fault on a simulated clock', () => {
  const time = new SimulatedTimeSource();
  let upstream: TestServer;
  let grpcUpstream: GrpcTestServer;
  let proxy: InProcessProxy;
  let port: number;

  before(async () => {
    upstream = await startUpstream((req, res, body) => {
      if (req.url === '/throttle') { res.end(Buffer.alloc(BODY, 98)); return; }
      res.end(`ok ${req.url} ${body}`);
    });
    grpcUpstream = await startGrpcServer({
      Unary: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.alloc(BODY, 99)),
    });
    proxy = await startInProcessProxy(config(upstream.port, grpcUpstream.port), { timeSource: time });
    port = proxy.ports.get('ingress')!;
  });
  after(async () => {
    proxy?.stop();
    await upstream?.close();
    await grpcUpstream?.close();
  });

  it('a 10 s delay holds the request (and its body) until the clock reaches 10 s, then it goes upstream', async () => {
    let response: { status: number; body: string } | null = null;
    const req = http.request({ host: '127.0.0.1', port, path: '/delay', method: 'POST', agent: false }, (res) => {
      let b = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { b += c; });
      res.on('end', () => { response = { status: res.statusCode!, body: b }; });
    });
    req.end('payload');
    await eventually(() => proxy.stat('http.sim.fault.active_faults') === 1, 5000, 'the delay to start');
    assert.equal(proxy.stat('http.sim.fault.delays_injected'), 1);
    await time.advanceAndSettle(9_999, 50);
    assert.equal(upstream.requests.filter((r) => r.url === '/delay').length, 0);
    assert.equal(response, null);
    await time.advanceAndSettle(1);
    await eventually(() => response !== null, 5000, 'the response');
    assert.deepEqual(response, { status: 200, body: 'ok /delay payload' });
    assert.equal(proxy.stat('http.sim.fault.active_faults'), 0);
  });

  it('a client that goes away during the delay cancels its timer', async () => {
    const pendingBefore = time.pendingCount();
    const req = http.request({ host: '127.0.0.1', port, path: '/delay', agent: false });
    req.on('error', () => {});
    req.end();
    await eventually(() => time.pendingCount() === pendingBefore + 1, 5000, 'the delay timer');
    req.destroy();
    await eventually(() => time.pendingCount() === pendingBefore, 5000, 'the timer cancelled');
    assert.equal(proxy.stat('http.sim.fault.active_faults'), 0);
    await time.advanceAndSettle(20_000);
    assert.equal(upstream.requests.filter((r) => r.url === '/delay').length, 1, 'only the first test\'s request went upstream');
  });

  it('1 KiB/s: the first second\'s budget (20 slices) goes at once, then one slice per 50 ms; the body ends only when the clock allows', async () => {
    let received = 0;
    let ended = false;
    const req = http.request({ host: '127.0.0.1', port, path: '/throttle', agent: false }, (res) => {
      res.on('data', (c: Buffer) => { received += c.length; });
      res.on('end', () => { ended = true; });
    });
    req.end();
    await eventually(() => upstream.requests.some((r) => r.url === '/throttle') && time.pendingCount() > 0, 5000, 'the response to reach the limiter');
    await time.advanceAndSettle(0, 50);
    // A full bucket: 20 slices of 51 bytes (Envoy's integer bytes-per-slice).
    await eventually(() => received === 20 * SLICE, 5000, 'the first second\'s budget');
    await time.advanceAndSettle(500, 50);
    await eventually(() => received === 30 * SLICE, 5000, `10 more slices after 500 ms (got ${received})`);
    assert.equal(ended, false);
    // The rest in 51-byte slices, one per 50 ms.
    const slicesLeft = Math.ceil((BODY - 30 * SLICE) / SLICE);
    await time.advanceAndSettle(50 * (slicesLeft - 1), 50);
    assert.equal(ended, false);
    assert.ok(received < BODY);
    await time.advanceAndSettle(50, 50);
    await eventually(() => ended, 5000, 'the end of the body');
    assert.equal(received, BODY);
    assert.equal(proxy.stat('http.sim.fault.response_rl_injected'), 1);
    await eventually(() => proxy.stat('http.sim.fault.active_faults') === 0, 5000, 'the fault to end with the stream');
  });

  it('a throttled gRPC response keeps its trailers until the body has drained; the call then succeeds', async () => {
    const client = new EchoClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as Client;
    try {
      let result: Buffer | null = null;
      let error: grpc.ServiceError | null = null;
      client['Unary']!(Buffer.from('x'), (e: grpc.ServiceError | null, v: Buffer) => { error = e; result = v; });
      await eventually(() => time.pendingCount() > 0, 5000, 'the response to reach the limiter');
      for (let i = 0; i < 40 && result === null && error === null; i++) await time.advanceAndSettle(100, 20);
      await eventually(() => result !== null || error !== null, 5000, 'the call to finish');
      assert.equal(error, null);
      assert.equal((result as Buffer | null)?.length, BODY);
    } finally {
      client.close();
    }
  });

  it('per-route config is found by the filter\'s config name, else by its canonical name; route beats virtual host', async () => {
    assert.equal((await request(port, { path: '/by-config-name' })).status, 503);
    assert.equal((await request(port, { path: '/by-canonical-name' })).status, 504);
    assert.equal((await request(port, { path: '/by-vhost', headers: { host: 'special' } })).status, 502);
    // As Envoy: every level is searched by the config name before the canonical name is tried.
    assert.equal((await request(port, { path: '/route-beats-vhost', headers: { host: 'special' } })).status, 502);
    // An envoy.config.route.v3.FilterConfig wrapper is unwrapped.
    assert.equal((await request(port, { path: '/wrapped' })).status, 507);
    // The filter's own config (no faults) where nothing overrides it.
    assert.equal((await request(port, { path: '/none' })).status, 200);
  });
});
