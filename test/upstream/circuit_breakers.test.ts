/**
 * Circuit breakers through the data path: a proxy in-process in front of a
 * real upstream that never answers, so connections and requests pile up
 * until a limit is reached. The request over the limit must get 503 UO at
 * once (not wait in an unbounded queue), with Envoy's overflow stats and the
 * `circuit_breakers.<priority>.*_open` / `remaining_*` gauges.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { eventually, request } from '../support/http_util.js';
import { startFaultyUpstream, type FaultyUpstream } from '../support/faulty_upstream.js';
import { startInProcessProxy, type InProcessProxy } from '../support/in_process_proxy.js';

function bootstrap(port: number, circuitBreakers: string, routeExtra = ''): string {
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
          stat_prefix: ingress
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes: [{ match: { prefix: "/" }, route: { cluster: backend, timeout: 0s ${routeExtra} } }]
          http_filters:
          - name: envoy.filters.http.router
            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
  clusters:
  - name: backend
    type: STATIC
    connect_timeout: 1s
    circuit_breakers: ${circuitBreakers}
    load_assignment:
      cluster_name: backend
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${port} } } }
`;
}

/** A request left hanging; abort() resets it. */
function hangingRequest(port: number): { abort(): void; done: Promise<void> } {
  const req = http.request({ host: '127.0.0.1', port, path: '/', agent: false });
  const done = new Promise<void>((resolve) => {
    req.on('error', () => resolve());
    req.on('close', () => resolve());
  });
  req.end();
  return { abort: () => req.destroy(), done };
}

const CB = 'cluster.backend.circuit_breakers.';

describe('circuit breakers', () => {
  let up: FaultyUpstream;
  let proxy: InProcessProxy | undefined;
  const hanging: Array<{ abort(): void; done: Promise<void> }> = [];
  const stat = (n: string): number | undefined => proxy!.stat(n);

  const start = async (cb: string, routeExtra = ''): Promise<number> => {
    up ??= await startFaultyUpstream('u');
    up.setDefault({ kind: 'hang' });
    proxy = await startInProcessProxy(bootstrap(up.port, cb, routeExtra));
    return proxy.ports.get('ingress')!;
  };
  const stop = async (): Promise<void> => {
    for (const h of hanging.splice(0)) { h.abort(); await h.done; }
    proxy?.stop();
    proxy = undefined;
  };
  after(async () => { await stop(); await up?.close(); });

  it('max_connections 1 + max_pending_requests 1: the third request gets 503 UO at once; gauges and remaining_* follow', async () => {
    const port = await start('{ thresholds: [{ max_connections: 1, max_pending_requests: 1, track_remaining: true }] }');
    assert.equal(stat(`${CB}default.cx_open`), 0);
    assert.equal(stat(`${CB}default.remaining_cx`), 1);
    assert.equal(stat(`${CB}default.remaining_pending`), 1);
    assert.equal(stat(`${CB}default.remaining_rq`), 1024);
    assert.equal(stat(`${CB}default.remaining_retries`), 3);
    assert.equal(stat(`${CB}high.remaining_cx`), undefined, 'HIGH does not track remaining');

    hanging.push(hangingRequest(port));
    await eventually(() => up.requests.length === 1, 5000, 'first request upstream');
    assert.equal(stat(`${CB}default.cx_open`), 1, 'the one connection is open');
    assert.equal(stat(`${CB}default.remaining_cx`), 0);

    hanging.push(hangingRequest(port));
    await eventually(() => stat('cluster.backend.upstream_rq_pending_active') === 1, 5000, 'second request queued');
    assert.equal(stat(`${CB}default.rq_pending_open`), 1);
    assert.equal(stat(`${CB}default.remaining_pending`), 0);
    assert.ok(stat('cluster.backend.upstream_cx_overflow')! >= 1, 'no second connection: upstream_cx_overflow');
    assert.equal(stat('cluster.backend.upstream_cx_total'), 1);

    const r = await request(port, { path: '/' });
    assert.equal(r.status, 503);
    assert.equal(r.headers['x-envoy-overloaded'], 'true');
    assert.match(r.body, /overflow/);
    assert.equal(stat('cluster.backend.upstream_rq_pending_overflow'), 1);
    assert.equal(up.requests.length, 1, 'nothing more reached the upstream');

    // Clients give up: everything is released, the breakers close.
    for (const h of hanging.splice(0)) { h.abort(); await h.done; }
    await eventually(() => stat(`${CB}default.cx_open`) === 0 && stat(`${CB}default.rq_pending_open`) === 0, 5000, 'breakers closed');
    assert.equal(stat(`${CB}default.remaining_cx`), 1);
    assert.equal(stat(`${CB}default.remaining_pending`), 1);
    assert.equal(stat(`${CB}default.remaining_rq`), 1024);
    await stop();
  });

  it('max_requests 1: the second request gets 503 UO (upstream_rq_pending_overflow, as Envoy counts it)', async () => {
    const port = await start('{ thresholds: [{ max_requests: 1, track_remaining: true }] }');
    hanging.push(hangingRequest(port));
    await eventually(() => stat(`${CB}default.rq_open`) === 1, 5000, 'rq_open');
    assert.equal(stat(`${CB}default.remaining_rq`), 0);
    const before = up.requests.length;
    const r = await request(port, { path: '/' });
    assert.equal(r.status, 503);
    assert.equal(r.headers['x-envoy-overloaded'], 'true');
    assert.equal(stat('cluster.backend.upstream_rq_pending_overflow'), 1);
    assert.equal(up.requests.length, before);
    await stop();
  });

  it('a route with priority HIGH counts against the HIGH thresholds only', async () => {
    const port = await start('{ thresholds: [{ priority: HIGH, max_connections: 1, max_pending_requests: 1 }] }', ', priority: HIGH');
    hanging.push(hangingRequest(port));
    await eventually(() => up.requests.length >= 1 && stat(`${CB}high.cx_open`) === 1, 5000, 'high cx_open');
    hanging.push(hangingRequest(port));
    await eventually(() => stat(`${CB}high.rq_pending_open`) === 1, 5000, 'high rq_pending_open');
    const r = await request(port, { path: '/' });
    assert.equal(r.status, 503);
    assert.equal(stat('cluster.backend.upstream_rq_pending_overflow'), 1);
    assert.equal(stat(`${CB}default.cx_open`), 0);
    assert.equal(stat(`${CB}default.rq_pending_open`), 0);
    await stop();
  });

  it('refuses thresholds repeated for one priority, naming the repeat', async () => {
    up ??= await startFaultyUpstream('u');
    await assert.rejects(
      startInProcessProxy(bootstrap(up.port, '{ thresholds: [{ max_connections: 5 }, { priority: HIGH }, { priority: DEFAULT, max_connections: 1 }] }')),
      /circuit_breakers\.thresholds\[2\]\.priority.*DEFAULT.*thresholds\[0\]/,
    );
    await assert.rejects(
      startInProcessProxy(bootstrap(up.port, '{ per_host_thresholds: [{ max_connections: 5 }, { max_connections: 1 }] }')),
      /circuit_breakers\.per_host_thresholds\[1\]\.priority/,
    );
  });

  it('refuses a retry budget above 100 %', async () => {
    up ??= await startFaultyUpstream('u');
    await assert.rejects(
      startInProcessProxy(bootstrap(up.port, '{ thresholds: [{ retry_budget: { budget_percent: { value: 150 } } }] }')),
      /budget_percent/,
    );
  });
});
