/**
 * envoy.filters.http.ratelimit against real Rate Limit Services over gRPC:
 * Legate's own (src/ratelimit_service, in this process, on a fixed clock so
 * no window ends mid-test), a scripted grpc-js one (response headers, a
 * service that never answers), and a dead one (failure_mode_deny false and
 * true). Checks the descriptors the service received for each action, the
 * 429 / 500 replies with their flags, headers and cluster stats, and the
 * config errors.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { create } from '@bufbuild/protobuf';
import type { RateLimitRequest, RateLimitResponse } from '../../src/generated/envoy/service/ratelimit/v3/rls_pb.js';
import { messageSchema } from '../../src/config/type_registry.js';
import { defaultAccessLogManager } from '../../src/logging/access_log_file.js';
import { parseLimitsConfig } from '../../src/ratelimit_service/limits_config.js';
import { RateLimiter, type LimitRequest } from '../../src/ratelimit_service/rate_limiter.js';
import { RATE_LIMIT_SERVICE, RateLimitServer } from '../../src/ratelimit_service/ratelimit_server.js';
import { startInProcessProxy, type InProcessProxy } from '../support/in_process_proxy.js';
import { eventually, request, startUpstream, type TestServer } from '../support/http_util.js';

const LIMITS = `
domain: edge
descriptors:
- key: generic_key
  value: api
  rate_limit: { unit: minute, requests_per_unit: 2, name: api-per-minute }
- key: user
  rate_limit: { unit: hour, requests_per_unit: 1 }
- key: remote_address
  rate_limit: { unit: second, requests_per_unit: 100 }
- key: header_match
  value: debug
  rate_limit: { unit: day, requests_per_unit: 1000 }
- key: generic_key
  value: vhost
  rate_limit: { unit: minute, requests_per_unit: 1000 }
`;

async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const p = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

function indent(text: string, n: number): string {
  return text.split('\n').map((l) => (l.trim() === '' ? l : ' '.repeat(n) + l)).join('\n');
}

function proxyYaml(o: { upstreamPort: number; rlsPort: number; filter?: string; logPath: string }): string {
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
          stat_prefix: ingress_http
          access_log:
          - name: envoy.access_loggers.file
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: ${o.logPath}
              log_format: { text_format_source: { inline_string: "%REQ(:PATH)% %RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS%\\n" } }
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              rate_limits:
              - actions: [{ generic_key: { descriptor_value: vhost } }]
              routes:
              - match: { prefix: "/generic" }
                route:
                  cluster: backend
                  rate_limits:
                  - actions: [{ generic_key: { descriptor_value: api } }]
                  - stage: 1
                    actions: [{ generic_key: { descriptor_value: stage-one } }]
              - match: { prefix: "/user" }
                route:
                  cluster: backend
                  rate_limits:
                  - actions: [{ request_headers: { header_name: x-user, descriptor_key: user } }]
              - match: { prefix: "/addr" }
                route:
                  cluster: backend
                  rate_limits:
                  - actions: [{ remote_address: {} }]
              - match: { prefix: "/match" }
                route:
                  cluster: backend
                  rate_limits:
                  - actions:
                    - header_value_match: { descriptor_value: debug, headers: [{ name: x-debug, present_match: true }] }
                    - destination_cluster: {}
              - match: { prefix: "/other-domain" }
                route:
                  cluster: backend
                  rate_limits:
                  - actions: [{ generic_key: { descriptor_value: api } }]
                typed_per_filter_config:
                  envoy.filters.http.ratelimit:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.ratelimit.v3.RateLimitPerRoute
                    domain: other
              - match: { prefix: "/" }
                route: { cluster: backend }
          http_filters:
          - name: envoy.filters.http.ratelimit
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.ratelimit.v3.RateLimit
              domain: edge
${indent(o.filter ?? '', 14)}
              rate_limit_service:
                transport_api_version: V3
                grpc_service: { envoy_grpc: { cluster_name: ratelimit } }
          - name: envoy.filters.http.router
  clusters:
  - name: backend
    connect_timeout: 1s
    load_assignment:
      cluster_name: backend
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${o.upstreamPort} } } } }] }]
  - name: ratelimit
    connect_timeout: 1s
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config: { http2_protocol_options: {} }
    load_assignment:
      cluster_name: ratelimit
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${o.rlsPort} } } } }] }]
`;
}

async function accessLogLines(logPath: string, lastPath: string): Promise<string[]> {
  await defaultAccessLogManager().flush();
  await eventually(() => readFileSync(logPath, 'utf8').includes(lastPath), 3000, 'access log');
  return readFileSync(logPath, 'utf8').trim().split('\n');
}

describe('envoy.filters.http.ratelimit with Legate\'s Rate Limit Service', () => {
  let upstream: TestServer;
  let rls: RateLimitServer;
  let proxy: InProcessProxy;
  let port: number;
  let logPath: string;
  const received: LimitRequest[] = [];

  before(async () => {
    upstream = await startUpstream();
    const fixedNow = Date.UTC(2026, 0, 1, 12, 0, 15); // 15 s into a minute
    rls = new RateLimitServer(new RateLimiter([parseLimitsConfig(LIMITS, 'limits.yaml')], () => fixedNow), {
      onRequest: (r) => received.push(r),
    });
    await rls.listen('127.0.0.1', 0);
    logPath = join(mkdtempSync(join(tmpdir(), 'legate-rl-')), 'access.log');
    proxy = await startInProcessProxy(proxyYaml({
      upstreamPort: upstream.port, rlsPort: rls.port, logPath,
      filter: 'enable_x_ratelimit_headers: DRAFT_VERSION_03\ntimeout: 2s',
    }));
    port = proxy.ports.get('ingress')!;
  });
  after(async () => {
    proxy?.stop();
    await rls?.stop();
    await upstream?.close();
  });

  function lastReceived(): LimitRequest {
    const r = received.at(-1);
    assert.ok(r !== undefined, 'the service was asked');
    return r;
  }

  it('allows under the limit, then answers 429 with x-envoy-ratelimited, x-ratelimit-* and flag RL', async () => {
    const r1 = await request(port, { path: '/generic' });
    assert.equal(r1.status, 200);
    assert.equal(r1.headers['x-ratelimit-limit'], '2, 2;w=60;name="api-per-minute"');
    assert.equal(r1.headers['x-ratelimit-remaining'], '1');
    assert.equal(r1.headers['x-ratelimit-reset'], '45');
    assert.equal(r1.headers['x-envoy-ratelimited'], undefined);
    assert.deepEqual(lastReceived(), { domain: 'edge', descriptors: [{ entries: [{ key: 'generic_key', value: 'api' }] }], hitsAddend: 0 },
      'only stage 0 entries are sent, and the route\'s own rate_limits override the virtual host\'s');
    assert.equal((await request(port, { path: '/generic' })).status, 200);
    const r3 = await request(port, { path: '/generic/3' });
    assert.equal(r3.status, 429);
    assert.equal(r3.headers['x-envoy-ratelimited'], 'true');
    assert.equal(r3.headers['x-ratelimit-remaining'], '0');
    assert.equal(upstream.requests.filter((r) => r.url === '/generic/3').length, 0);
    assert.equal(proxy.stat('cluster.backend.ratelimit.ok'), 2);
    assert.equal(proxy.stat('cluster.backend.ratelimit.over_limit'), 1);
    const lines = await accessLogLines(logPath, '/generic/3');
    assert.ok(lines.includes('/generic/3 429 RL request_rate_limited'), lines.join('\n'));
  });

  it('sends the descriptors of request_headers, remote_address, header_value_match + destination_cluster and the virtual host', async () => {
    assert.equal((await request(port, { path: '/user', headers: { 'x-user': 'alice' } })).status, 200);
    assert.deepEqual(lastReceived().descriptors, [{ entries: [{ key: 'user', value: 'alice' }] }]);
    assert.equal((await request(port, { path: '/user', headers: { 'x-user': 'alice' } })).status, 429, 'alice: 1 per hour');
    assert.equal((await request(port, { path: '/user', headers: { 'x-user': 'bob' } })).status, 200, 'a key without value counts per value');

    // No x-user header: the descriptor is dropped, so there is nothing to ask.
    const before = received.length;
    assert.equal((await request(port, { path: '/user' })).status, 200);
    assert.equal(received.length, before);

    assert.equal((await request(port, { path: '/addr' })).status, 200);
    assert.deepEqual(lastReceived().descriptors, [{ entries: [{ key: 'remote_address', value: '127.0.0.1' }] }]);

    assert.equal((await request(port, { path: '/match', headers: { 'x-debug': '1' } })).status, 200);
    assert.deepEqual(lastReceived().descriptors, [{ entries: [{ key: 'header_match', value: 'debug' }, { key: 'destination_cluster', value: 'backend' }] }]);
    const n = received.length;
    assert.equal((await request(port, { path: '/match' })).status, 200, 'no x-debug: the header_value_match does not produce a descriptor');
    assert.equal(received.length, n);

    assert.equal((await request(port, { path: '/plain' })).status, 200);
    assert.deepEqual(lastReceived().descriptors, [{ entries: [{ key: 'generic_key', value: 'vhost' }] }], 'a route without rate_limits uses the virtual host\'s');

    assert.equal((await request(port, { path: '/other-domain' })).status, 200);
    assert.equal(lastReceived().domain, 'other', 'RateLimitPerRoute.domain');
  });
});

/** A grpc-js RateLimitService whose answer each test scripts ('hang': never answers). */
async function startScriptedRls(): Promise<{ port: number; next: RateLimitResponse | 'hang'; calls: number; stop(): void }> {
  const server = new grpc.Server();
  const state = {
    port: 0, next: 'hang' as RateLimitResponse | 'hang', calls: 0,
    stop: () => server.forceShutdown(),
  };
  server.addService(RATE_LIMIT_SERVICE, {
    ShouldRateLimit: (_call: grpc.ServerUnaryCall<RateLimitRequest, RateLimitResponse>, cb: grpc.sendUnaryData<RateLimitResponse>) => {
      state.calls++;
      if (state.next !== 'hang') cb(null, state.next);
    },
  });
  state.port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  return state;
}

function rlsResponse(init: Record<string, unknown>): RateLimitResponse {
  return create(messageSchema('envoy.service.ratelimit.v3.RateLimitResponse'), init) as RateLimitResponse;
}

describe('envoy.filters.http.ratelimit when the service fails or adds headers', () => {
  let upstream: TestServer;
  const proxies: InProcessProxy[] = [];

  before(async () => { upstream = await startUpstream(); });
  after(async () => {
    for (const p of proxies) p.stop();
    await upstream.close();
  });

  /** `filter` adds RateLimit fields; a service that answers gets `timeout: 2s`, not the 20 ms default, which the first call's connect can exceed. */
  async function start(rlsPort: number, filter = ''): Promise<{ p: InProcessProxy; port: number; logPath: string }> {
    const logPath = join(mkdtempSync(join(tmpdir(), 'legate-rl-')), 'access.log');
    const p = await startInProcessProxy(proxyYaml({ upstreamPort: upstream.port, rlsPort, logPath, filter }));
    proxies.push(p);
    return { p, port: p.ports.get('ingress')!, logPath };
  }

  it('a dead service with failure_mode_deny false (the default): the request goes on, error and failure_mode_allowed count', async () => {
    const { p, port } = await start(await closedPort());
    const r = await request(port, { path: '/generic' });
    assert.equal(r.status, 200);
    assert.equal(p.stat('cluster.backend.ratelimit.error'), 1);
    assert.equal(p.stat('cluster.backend.ratelimit.failure_mode_allowed'), 1);
    assert.equal((await request(port, { path: '/' })).status, 200);
    assert.equal(p.stat('cluster.backend.ratelimit.error'), 2);
  });

  it('a dead service with failure_mode_deny true: 500 with flag RLSE', async () => {
    const { p, port, logPath } = await start(await closedPort(), 'failure_mode_deny: true');
    const r = await request(port, { path: '/generic/denied' });
    assert.equal(r.status, 500);
    assert.equal(p.stat('cluster.backend.ratelimit.error'), 1);
    assert.equal(p.stat('cluster.backend.ratelimit.failure_mode_allowed') ?? 0, 0);
    assert.equal(upstream.requests.filter((q) => q.url === '/generic/denied').length, 0);
    const lines = await accessLogLines(logPath, '/generic/denied');
    assert.ok(lines.includes('/generic/denied 500 RLSE rate_limiter_error'), lines.join('\n'));
  });

  it('a service that does not answer within the timeout counts as an error', async () => {
    const scripted = await startScriptedRls();
    try {
      const { p, port } = await start(scripted.port, 'timeout: 0.1s');
      scripted.next = 'hang';
      assert.equal((await request(port, { path: '/generic' })).status, 200);
      assert.equal(scripted.calls, 1);
      assert.equal(p.stat('cluster.backend.ratelimit.error'), 1);
      assert.equal(p.stat('cluster.backend.ratelimit.failure_mode_allowed'), 1);
    } finally {
      scripted.stop();
    }
  });

  it('puts the service\'s response_headers_to_add on the response and request_headers_to_add on the request; OVER_LIMIT uses rate_limited_status and the filter\'s own headers', async () => {
    const scripted = await startScriptedRls();
    try {
      const { port } = await start(scripted.port, `timeout: 2s
rate_limited_status: { code: 503 }
response_headers_to_add:
- append_action: OVERWRITE_IF_EXISTS_OR_ADD
  header: { key: x-limited-by, value: legate }`);
      scripted.next = rlsResponse({
        overallCode: 1,
        responseHeadersToAdd: [{ key: 'x-quota', value: 'plenty' }],
        requestHeadersToAdd: [{ key: 'x-rls-checked', value: 'yes' }],
      });
      // A body waits (buffered) while the service is asked, then goes on whole.
      const ok = await request(port, { path: '/generic', method: 'POST', body: 'hello body' });
      assert.equal(ok.status, 200);
      assert.equal(JSON.parse(ok.body).body, 'hello body');
      assert.equal(ok.headers['x-quota'], 'plenty');
      assert.equal(ok.headers['x-limited-by'], undefined, 'the filter\'s response_headers_to_add are for rate limited replies');
      assert.equal(JSON.parse(ok.body).headers['x-rls-checked'], 'yes');

      scripted.next = rlsResponse({ overallCode: 2, responseHeadersToAdd: [{ key: 'x-quota', value: 'none' }] });
      const limited = await request(port, { path: '/generic' });
      assert.equal(limited.status, 503);
      assert.equal(limited.headers['x-quota'], 'none');
      assert.equal(limited.headers['x-limited-by'], 'legate');
      assert.equal(limited.headers['x-envoy-ratelimited'], 'true');
    } finally {
      scripted.stop();
    }
  });

  it('disable_x_envoy_ratelimited_header leaves the header out', async () => {
    const scripted = await startScriptedRls();
    try {
      const { port } = await start(scripted.port, 'timeout: 2s\ndisable_x_envoy_ratelimited_header: true');
      scripted.next = rlsResponse({ overallCode: 2 });
      const r = await request(port, { path: '/generic' });
      assert.equal(r.status, 429);
      assert.equal(r.headers['x-envoy-ratelimited'], undefined);
    } finally {
      scripted.stop();
    }
  });

  it('rejects configs without transport_api_version V3, with an unknown cluster, or without a domain', async () => {
    const good = proxyYaml({ upstreamPort: upstream.port, rlsPort: 1, logPath: '/dev/null' });
    await assert.rejects(startInProcessProxy(good.replace('transport_api_version: V3', '')),
      /rate_limit_service\.transport_api_version: only transport_api_version V3 is supported/);
    await assert.rejects(startInProcessProxy(good.replace('cluster_name: ratelimit', 'cluster_name: nowhere')),
      /rate_limit_service\.grpc_service\.envoy_grpc\.cluster_name: unknown rate limit service cluster 'nowhere'/);
    await assert.rejects(startInProcessProxy(good.replace('domain: edge', 'domain: ""')), /http_filters\[0\]\.typed_config\.domain/);
    await assert.rejects(startInProcessProxy(good.replace('- actions: [{ remote_address: {} }]', '- stage: 11\n                    actions: [{ remote_address: {} }]')),
      /rate_limits\[0\]\.stage/);
  });
});
