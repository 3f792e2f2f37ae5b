/**
 * envoy.filters.http.local_ratelimit and envoy.filters.network.local_ratelimit
 * on real sockets, in-process with a simulated clock (the buckets refill when
 * the test advances time): 429 + RL after max_tokens, x-ratelimit-* and
 * configured headers, refill, filter_enabled / filter_enforced, per-route
 * buckets, descriptors from the route's rate_limits, connections closed over
 * the limit, and the config errors.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startInProcessProxy, type InProcessProxy } from '../support/in_process_proxy.js';
import { SimulatedTimeSource } from '../support/simulated_time.js';
import { eventually, request, startUpstream, type TestServer } from '../support/http_util.js';
import { defaultAccessLogManager } from '../../src/logging/access_log_file.js';

const LRL = 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit';

function indent(text: string, n: number): string {
  return text.split('\n').map((l) => (l.trim() === '' ? l : ' '.repeat(n) + l)).join('\n');
}

function bootstrap(opts: { upstreamPort: number; filter: string; routes: string; logPath?: string; vhostExtra?: string }): string {
  const log = opts.logPath === undefined ? '' : `
          access_log:
          - name: envoy.access_loggers.file
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: ${opts.logPath}
              log_format: { text_format_source: { inline_string: "%REQ(:PATH)% %RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS%\\n" } }`;
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
          stat_prefix: ingress_http${log}
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
${opts.vhostExtra === undefined ? '' : indent(opts.vhostExtra, 14)}
              routes:
${indent(opts.routes, 14)}
          http_filters:
          - name: envoy.filters.http.local_ratelimit
            typed_config:
              "@type": ${LRL}
${indent(opts.filter, 14)}
          - name: envoy.filters.http.router
  clusters:
  - name: backend
    connect_timeout: 1s
    load_assignment:
      cluster_name: backend
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${opts.upstreamPort} } } } }] }]
`;
}

const ENABLED = `filter_enabled: { runtime_key: rl_enabled, default_value: { numerator: 100, denominator: HUNDRED } }`;
const ENFORCED = `filter_enforced: { runtime_key: rl_enforced, default_value: { numerator: 100, denominator: HUNDRED } }`;

describe('envoy.filters.http.local_ratelimit', () => {
  let upstream: TestServer;
  const proxies: InProcessProxy[] = [];

  before(async () => { upstream = await startUpstream(); });
  after(async () => {
    for (const p of proxies) p.stop();
    await upstream.close();
  });

  async function proxy(yaml: string, clock: SimulatedTimeSource): Promise<{ p: InProcessProxy; port: number }> {
    const p = await startInProcessProxy(yaml, { timeSource: clock });
    proxies.push(p);
    return { p, port: p.ports.get('ingress')! };
  }

  it('answers 429 local_rate_limited with flag RL after max_tokens, with x-ratelimit-* and configured headers, and refills', async () => {
    const clock = new SimulatedTimeSource();
    const logPath = join(mkdtempSync(join(tmpdir(), 'legate-lrl-')), 'access.log');
    const { p, port } = await proxy(bootstrap({
      upstreamPort: upstream.port,
      logPath,
      routes: '- match: { prefix: "/" }\n  route: { cluster: backend }',
      filter: `stat_prefix: lrl
token_bucket: { max_tokens: 2, tokens_per_fill: 1, fill_interval: 60s }
${ENABLED}
${ENFORCED}
enable_x_ratelimit_headers: DRAFT_VERSION_03
response_headers_to_add:
- append_action: OVERWRITE_IF_EXISTS_OR_ADD
  header: { key: x-local-rate-limit, value: "true" }`,
    }), clock);

    const r1 = await request(port, { path: '/a' });
    assert.equal(r1.status, 200);
    assert.equal(r1.headers['x-ratelimit-limit'], '2');
    assert.equal(r1.headers['x-ratelimit-remaining'], '1');
    assert.equal(r1.headers['x-ratelimit-reset'], '60');
    assert.equal(r1.headers['x-local-rate-limit'], undefined, 'configured headers only go on rate limited replies');
    const r2 = await request(port, { path: '/b' });
    assert.equal(r2.status, 200);
    assert.equal(r2.headers['x-ratelimit-remaining'], '0');

    clock.advance(15_000);
    const r3 = await request(port, { path: '/c' });
    assert.equal(r3.status, 429);
    assert.equal(r3.body, 'local_rate_limited');
    assert.equal(r3.headers['x-local-rate-limit'], 'true');
    assert.equal(r3.headers['x-ratelimit-remaining'], '0');
    assert.equal(r3.headers['x-ratelimit-reset'], '45', 'seconds until the next fill');
    assert.equal(upstream.requests.filter((r) => r.url === '/c').length, 0, 'a limited request never reaches the upstream');

    assert.equal(p.stat('lrl.http_local_rate_limit.enabled'), 3);
    assert.equal(p.stat('lrl.http_local_rate_limit.ok'), 2);
    assert.equal(p.stat('lrl.http_local_rate_limit.rate_limited'), 1);
    assert.equal(p.stat('lrl.http_local_rate_limit.enforced'), 1);

    // One fill (tokens_per_fill 1) at 60 s: exactly one more request passes.
    clock.advance(45_000);
    assert.equal((await request(port, { path: '/d' })).status, 200);
    assert.equal((await request(port, { path: '/e' })).status, 429);
    // Fills never exceed max_tokens, however long the wait.
    clock.advance(3_600_000);
    assert.equal((await request(port, { path: '/f' })).status, 200);
    assert.equal((await request(port, { path: '/g' })).status, 200);
    assert.equal((await request(port, { path: '/h' })).status, 429);

    await defaultAccessLogManager().flush();
    await eventually(() => readFileSync(logPath, 'utf8').includes('/h'), 3000, 'access log lines');
    const lines = readFileSync(logPath, 'utf8').trim().split('\n');
    assert.ok(lines.includes('/c 429 RL local_rate_limited'), lines.join('\n'));
    assert.ok(lines.includes('/a 200 - via_upstream'), lines.join('\n'));
  });

  it('filter_enabled 0% (or unset): nothing is counted or limited', async () => {
    const clock = new SimulatedTimeSource();
    for (const enabled of ['filter_enabled: { runtime_key: k, default_value: { numerator: 0, denominator: HUNDRED } }', '']) {
      const { p, port } = await proxy(bootstrap({
        upstreamPort: upstream.port,
        routes: '- match: { prefix: "/" }\n  route: { cluster: backend }',
        filter: `stat_prefix: off\ntoken_bucket: { max_tokens: 1, fill_interval: 60s }\n${enabled}\n${ENFORCED}`,
      }), clock);
      for (let i = 0; i < 3; i++) assert.equal((await request(port, { path: '/' })).status, 200);
      assert.equal(p.stat('off.http_local_rate_limit.enabled') ?? 0, 0);
      assert.equal(p.stat('off.http_local_rate_limit.rate_limited') ?? 0, 0);
    }
  });

  it('filter_enforced 0%: over-limit requests are counted, get request_headers_to_add_when_not_enforced, and go upstream', async () => {
    const clock = new SimulatedTimeSource();
    const { p, port } = await proxy(bootstrap({
      upstreamPort: upstream.port,
      routes: '- match: { prefix: "/" }\n  route: { cluster: backend }',
      filter: `stat_prefix: shadow
token_bucket: { max_tokens: 1, fill_interval: 60s }
${ENABLED}
filter_enforced: { runtime_key: k, default_value: { numerator: 0, denominator: HUNDRED } }
request_headers_to_add_when_not_enforced:
- append_action: OVERWRITE_IF_EXISTS_OR_ADD
  header: { key: x-would-be-limited, value: "true" }`,
    }), clock);
    const first = await request(port, { path: '/shadow1' });
    const second = await request(port, { path: '/shadow2' });
    assert.equal(first.status, 200);
    assert.equal(second.status, 200);
    assert.equal(JSON.parse(first.body).headers['x-would-be-limited'], undefined);
    assert.equal(JSON.parse(second.body).headers['x-would-be-limited'], 'true');
    assert.equal(p.stat('shadow.http_local_rate_limit.enabled'), 2);
    assert.equal(p.stat('shadow.http_local_rate_limit.rate_limited'), 1);
    assert.equal(p.stat('shadow.http_local_rate_limit.enforced') ?? 0, 0);
  });

  it('typed_per_filter_config gives a route (or virtual host) its own bucket and status', async () => {
    const clock = new SimulatedTimeSource();
    const perRoute = (prefix: string, max: number, status?: number) => `envoy.filters.http.local_ratelimit:
  "@type": ${LRL}
  stat_prefix: ${prefix}
  token_bucket: { max_tokens: ${max}, fill_interval: 60s }
  ${ENABLED}
  ${ENFORCED}${status === undefined ? '' : `\n  status: { code: ${status} }`}`;
    const { p, port } = await proxy(bootstrap({
      upstreamPort: upstream.port,
      // The listener's filter is off: only the routes that configure it are limited.
      filter: 'stat_prefix: listener_level',
      vhostExtra: `typed_per_filter_config:\n${indent(perRoute('vhost_rl', 3), 2)}`,
      routes: `- match: { prefix: "/strict" }
  route: { cluster: backend }
  typed_per_filter_config:
${indent(perRoute('strict_rl', 1, 503), 4)}
- match: { prefix: "/" }
  route: { cluster: backend }`,
    }), clock);
    assert.equal((await request(port, { path: '/strict' })).status, 200);
    assert.equal((await request(port, { path: '/strict' })).status, 503, 'the route\'s status');
    // Other routes use the virtual host's bucket of 3, untouched by /strict.
    for (let i = 0; i < 3; i++) assert.equal((await request(port, { path: '/other' })).status, 200);
    assert.equal((await request(port, { path: '/other' })).status, 429);
    assert.equal(p.stat('strict_rl.http_local_rate_limit.enforced'), 1);
    assert.equal(p.stat('vhost_rl.http_local_rate_limit.ok'), 3);
    assert.equal(p.stat('vhost_rl.http_local_rate_limit.enforced'), 1);
    assert.equal(p.stat('listener_level.http_local_rate_limit.enabled') ?? 0, 0);
  });

  it('descriptors: the route\'s rate_limits actions pick a descriptor\'s bucket', async () => {
    const clock = new SimulatedTimeSource();
    const { p, port } = await proxy(bootstrap({
      upstreamPort: upstream.port,
      routes: `- match: { prefix: "/" }
  route:
    cluster: backend
    rate_limits:
    - actions:
      - request_headers: { header_name: x-client, descriptor_key: client }`,
      filter: `stat_prefix: desc
token_bucket: { max_tokens: 4, fill_interval: 1s }
${ENABLED}
${ENFORCED}
enable_x_ratelimit_headers: DRAFT_VERSION_03
descriptors:
- entries: [{ key: client, value: tight }]
  token_bucket: { max_tokens: 1, tokens_per_fill: 1, fill_interval: 60s }`,
    }), clock);
    const tight = { path: '/', headers: { 'x-client': 'tight' } };
    const r1 = await request(port, tight);
    assert.equal(r1.status, 200);
    assert.equal(r1.headers['x-ratelimit-limit'], '1', 'the descriptor\'s bucket is reported');
    const r2 = await request(port, tight);
    assert.equal(r2.status, 429);
    assert.equal(r2.headers['x-ratelimit-reset'], '60');
    // Another client value (no descriptor configured for it) and no header at all use the default bucket (4, minus the one the tight client's first request also took).
    assert.equal((await request(port, { path: '/', headers: { 'x-client': 'loose' } })).status, 200);
    const r4 = await request(port, { path: '/' });
    assert.equal(r4.status, 200);
    assert.equal(r4.headers['x-ratelimit-limit'], '4');
    // The default bucket refills every second; the descriptor's only every 60 s.
    clock.advance(1000);
    assert.equal((await request(port, tight)).status, 429);
    clock.advance(59_000);
    assert.equal((await request(port, tight)).status, 200);
    assert.equal(p.stat('desc.http_local_rate_limit.rate_limited'), 2);
  });

  it('rejects bad token buckets and per-route configs with the field and Envoy\'s reason', async () => {
    const base = (filter: string, routes = '- match: { prefix: "/" }\n  route: { cluster: backend }') =>
      bootstrap({ upstreamPort: upstream.port, filter, routes });
    const cases: Array<[string, string, RegExp]> = [
      ['fill_interval under 50 ms', base('stat_prefix: x\ntoken_bucket: { max_tokens: 1, fill_interval: 0.02s }'),
        /http_filters\[0\]\.typed_config\.token_bucket\.fill_interval: local rate limit token bucket fill timer must be >= 50ms \(got 20ms\)/],
      ['fill_interval 0', base('stat_prefix: x\ntoken_bucket: { max_tokens: 1, fill_interval: 0s }'),
        /token_bucket\.fill_interval.*(greater than|> ?0|gt)/i],
      ['tokens_per_fill 0', base('stat_prefix: x\ntoken_bucket: { max_tokens: 1, tokens_per_fill: 0, fill_interval: 1s }'),
        /token_bucket\.tokens_per_fill.*(greater than|> ?0|gt)/i],
      ['max_tokens 0', base('stat_prefix: x\ntoken_bucket: { max_tokens: 0, fill_interval: 1s }'),
        /token_bucket\.max_tokens.*(greater than|> ?0|gt)/i],
      ['descriptor interval not a multiple', base(`stat_prefix: x
token_bucket: { max_tokens: 1, fill_interval: 1s }
descriptors: [{ entries: [{ key: k, value: v }], token_bucket: { max_tokens: 1, fill_interval: 1.5s } }]`),
        /descriptors\[0\]\.token_bucket\.fill_interval: local rate descriptor limit is not a multiple of token bucket fill timer/],
      ['duplicate descriptor', base(`stat_prefix: x
token_bucket: { max_tokens: 1, fill_interval: 1s }
descriptors:
- { entries: [{ key: k, value: v }], token_bucket: { max_tokens: 1, fill_interval: 1s } }
- { entries: [{ key: k, value: v }], token_bucket: { max_tokens: 2, fill_interval: 1s } }`),
        /descriptors\[1\]: duplicate descriptor in the local rate descriptor: k=v/],
      ['per-route config without a token bucket', base('stat_prefix: x', `- match: { prefix: "/" }
  route: { cluster: backend }
  typed_per_filter_config:
    envoy.filters.http.local_ratelimit: { "@type": ${LRL}, stat_prefix: r }`),
        /routes\[0\]\.typed_per_filter_config\["envoy\.filters\.http\.local_ratelimit"\]\.token_bucket: local rate limit token bucket must be set for per filter configs/],
      ['unsupported rate limit action', base('stat_prefix: x', `- match: { prefix: "/" }
  route:
    cluster: backend
    rate_limits: [{ actions: [{ masked_remote_address: {} }] }]`),
        /route\.rate_limits\[0\]\.actions\[0\]\.masked_remote_address: the masked_remote_address rate limit action is not supported/],
    ];
    for (const [what, yaml, re] of cases) {
      await assert.rejects(startInProcessProxy(yaml), (e: Error) => {
        assert.match(e.message, re, `${what}: ${e.message}`);
        return true;
      });
    }
  });
});

describe('envoy.filters.network.local_ratelimit', () => {
  let echo: net.Server;
  let echoPort: number;
  const proxies: InProcessProxy[] = [];

  before(async () => {
    echo = net.createServer((s) => s.pipe(s));
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    echoPort = (echo.address() as net.AddressInfo).port;
  });
  after(async () => {
    for (const p of proxies) p.stop();
    await new Promise<void>((r) => echo.close(() => r()));
  });

  function yaml(rl: string): string {
    return `
static_resources:
  listeners:
  - name: tcp
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.local_ratelimit
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.local_ratelimit.v3.LocalRateLimit
${indent(rl, 10)}
      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
          stat_prefix: tcp
          cluster: echo
  clusters:
  - name: echo
    connect_timeout: 1s
    load_assignment:
      cluster_name: echo
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${echoPort} } } } }] }]
`;
  }

  /** Connects, sends "ping", and reports whether it echoed back or the connection was closed first. */
  function tryConnection(port: number): Promise<'echoed' | 'closed'> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1');
      let got = '';
      s.on('data', (d) => {
        got += d.toString();
        if (got === 'ping') { s.destroy(); resolve('echoed'); }
      });
      s.on('close', () => resolve(got === 'ping' ? 'echoed' : 'closed'));
      s.on('error', (e: NodeJS.ErrnoException) => { if (e.code === 'ECONNRESET') resolve('closed'); else reject(e); });
      s.write('ping');
    });
  }

  it('closes connections over the token bucket at once and counts them; refills let new ones in', async () => {
    const clock = new SimulatedTimeSource();
    const p = await startInProcessProxy(yaml('stat_prefix: tcp_rl\ntoken_bucket: { max_tokens: 2, tokens_per_fill: 1, fill_interval: 10s }'), { timeSource: clock });
    proxies.push(p);
    const port = p.ports.get('tcp')!;
    assert.equal(await tryConnection(port), 'echoed');
    assert.equal(await tryConnection(port), 'echoed');
    assert.equal(await tryConnection(port), 'closed');
    assert.equal(p.stat('local_ratelimit.tcp_rl.rate_limited'), 1);
    assert.equal(p.stat('tcp.tcp.downstream_cx_total'), 2, 'the closed connection never reached tcp_proxy');
    clock.advance(10_000);
    assert.equal(await tryConnection(port), 'echoed');
    assert.equal(await tryConnection(port), 'closed');
    assert.equal(p.stat('local_ratelimit.tcp_rl.rate_limited'), 2);
  });

  it('runtime_enabled default_value false turns it off', async () => {
    const p = await startInProcessProxy(yaml(`stat_prefix: off_rl
token_bucket: { max_tokens: 1, fill_interval: 10s }
runtime_enabled: { runtime_key: k, default_value: false }`), { timeSource: new SimulatedTimeSource() });
    proxies.push(p);
    const port = p.ports.get('tcp')!;
    for (let i = 0; i < 3; i++) assert.equal(await tryConnection(port), 'echoed');
    assert.equal(p.stat('local_ratelimit.off_rl.rate_limited') ?? 0, 0);
  });

  it('rejects a fill_interval under 50 ms and a missing token bucket', async () => {
    await assert.rejects(startInProcessProxy(yaml('stat_prefix: x\ntoken_bucket: { max_tokens: 1, fill_interval: 0.01s }')),
      /token_bucket\.fill_interval: local rate limit token bucket fill timer must be >= 50ms \(got 10ms\)/);
    await assert.rejects(startInProcessProxy(yaml('stat_prefix: x')), /token_bucket/);
  });
});
