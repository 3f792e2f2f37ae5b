/**
 * envoy.filters.http.fault end to end: a real Legate process with the fault
 * filter in front of the router, a real HTTP/1 upstream and a real gRPC
 * upstream. The filter-level config aborts every request with 418; each
 * route overrides it through typed_per_filter_config, which replaces the
 * settings for that route (the stats stay the filter's). Faults are checked
 * by status, by the access log's response flags (FI / DI) and by the stats;
 * delays and throttling only by lower bounds on time.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { runLegate, startLegate, writeTempConfig, type LegateProcess } from '../support/legate_process.js';
import { eventually, readStats, startUpstream, type TestServer } from '../support/http_util.js';
import { ECHO_SERVICE, startGrpcServer, type GrpcTestServer } from '../support/grpc_util.js';
import { H2_UPSTREAM, indent, staticCluster } from '../integration/fixtures.js';

const EchoClient = grpc.makeGenericClientConstructor(ECHO_SERVICE, 'Echo');
type Client = InstanceType<typeof EchoClient> & Record<string, (...args: unknown[]) => unknown>;

const FAULT_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault';
const BIG_BODY = 2048;

/** A route item (as one JSON line of YAML) with a fault override. */
function route(match: object, cluster: string, fault: object | null): string {
  const r: Record<string, unknown> = { match, route: { cluster, timeout: '30s' } };
  if (fault !== null) r['typed_per_filter_config'] = { 'envoy.filters.http.fault': { '@type': FAULT_TYPE, ...fault } };
  return `- ${JSON.stringify(r)}`;
}

const pct = (numerator: number, denominator = 'HUNDRED') => ({ numerator, denominator });
const abort503 = { http_status: 503, percentage: pct(100) };

function config(upstreamPort: number, grpcPort: number, logPath: string): string {
  const routes = [
    route({ prefix: '/test.Echo/', headers: [{ name: 'x-mode', string_match: { exact: 'header' } }] }, 'grpc_backend',
      { abort: { header_abort: {}, percentage: pct(100) } }),
    route({ prefix: '/test.Echo/' }, 'grpc_backend',
      { abort: { grpc_status: 8, percentage: pct(100) }, headers: [{ name: 'x-fault', present_match: true }] }),
    route({ prefix: '/abort' }, 'live', { abort: abort503 }),
    route({ prefix: '/delay-abort' }, 'live', { delay: { fixed_delay: '0.2s', percentage: pct(100) }, abort: abort503 }),
    route({ prefix: '/delay-long' }, 'live', { delay: { fixed_delay: '30s', percentage: pct(100) } }),
    route({ prefix: '/delay' }, 'live', { delay: { fixed_delay: '0.3s', percentage: pct(100) } }),
    // Before /header, which would match it as a prefix.
    route({ prefix: '/headers' }, 'live', { abort: abort503, headers: [{ name: 'x-user', string_match: { exact: 'tester' } }, { name: 'x-skip', present_match: true, invert_match: true }] }),
    route({ prefix: '/header' }, 'live', {
      abort: { header_abort: {}, percentage: pct(100) },
      delay: { header_delay: {}, percentage: pct(100) },
    }),
    route({ prefix: '/pct0' }, 'live', { abort: { http_status: 503, percentage: pct(0) } }),
    route({ prefix: '/pct-unset' }, 'live', { abort: { http_status: 503 } }),
    route({ prefix: '/pct-over' }, 'live', { abort: { http_status: 503, percentage: pct(200) } }),
    route({ prefix: '/pct50' }, 'live', { abort: { http_status: 503, percentage: pct(5000, 'TEN_THOUSAND') } }),
    route({ prefix: '/maxactive' }, 'live', { delay: { fixed_delay: '1s', percentage: pct(100) }, max_active_faults: 1 }),
    route({ prefix: '/nodes' }, 'live', { abort: abort503, downstream_nodes: ['node-a', 'node-c'] }),
    route({ prefix: '/upstream-match' }, 'live', { abort: abort503, upstream_cluster: 'live' }),
    route({ prefix: '/upstream-other' }, 'live', { abort: abort503, upstream_cluster: 'elsewhere' }),
    route({ prefix: '/throttle-header' }, 'live', { response_rate_limit: { header_limit: {}, percentage: pct(100) } }),
    route({ prefix: '/throttle' }, 'live', { response_rate_limit: { fixed_limit: { limit_kbps: 1 }, percentage: pct(100) } }),
    route({ prefix: '/big' }, 'live', {}),
    route({ prefix: '/override-off' }, 'live', {}),
    route({ prefix: '/global' }, 'live', null),
  ].join('\n');
  return `
admin: { address: { socket_address: { address: 127.0.0.1, port_value: 0 } } }
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
              path: ${logPath}
              log_format:
                text_format_source:
                  inline_string: "%REQ(X-ID)% %RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS%\\n"
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
${indent(routes, 14)}
          http_filters:
          - name: envoy.filters.http.fault
            typed_config:
              "@type": ${FAULT_TYPE}
              abort: { http_status: 418, percentage: { numerator: 100 } }
          - name: envoy.filters.http.router
  clusters:
${indent(staticCluster('live', upstreamPort), 2)}
${indent(staticCluster('grpc_backend', grpcPort, { extra: H2_UPSTREAM }), 2)}`;
}

interface Timed { status: number; body: string; ms: number; id: string }

let nextId = 0;

describe('envoy.filters.http.fault', () => {
  let upstream: TestServer;
  let grpcUpstream: GrpcTestServer;
  let grpcCalls = 0;
  let legate: LegateProcess;
  let port: number;
  let logPath: string;
  let client: Client;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

  before(async () => {
    upstream = await startUpstream((req, res) => {
      if (req.url!.startsWith('/big') || req.url!.startsWith('/throttle')) {
        res.setHeader('content-type', 'application/octet-stream');
        res.end(Buffer.alloc(BIG_BODY, 97));
        return;
      }
      res.end(`ok ${req.url}`);
    });
    grpcUpstream = await startGrpcServer({
      Unary: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
        grpcCalls++;
        cb(null, Buffer.from(`echo:${call.request.toString()}`));
      },
    });
    logPath = join(mkdtempSync(join(tmpdir(), 'legate-fault-')), 'access.log');
    legate = await startLegate(config(upstream.port, grpcUpstream.port, logPath), {
      expectListeners: ['ingress'], expectAdmin: true, args: ['--file-flush-interval-msec', '50'],
    });
    port = legate.ports.get('ingress')!;
    client = new EchoClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as Client;
  });
  after(async () => {
    client?.close();
    agent.destroy();
    await legate?.stop();
    await upstream?.close();
    await grpcUpstream?.close();
  });

  /** One request on the keep-alive agent, timed from send to the end of the body. */
  function get(path: string, headers: Record<string, string> = {}): Promise<Timed> {
    const id = `r${++nextId}`;
    return new Promise((resolve, reject) => {
      const start = performance.now();
      const req = http.request({ host: '127.0.0.1', port, path, agent, headers: { ...headers, 'x-id': id } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString(), ms: performance.now() - start, id }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
  }

  async function stats(): Promise<Map<string, number>> { return readStats(legate.adminPort!); }
  const stat = (s: Map<string, number>, name: string): number => s.get(`http.ingress_http.fault.${name}`) ?? 0;

  /** The access log line of request `id`: `<code> <flags> <details>`. */
  async function logOf(id: string): Promise<string> {
    let line = '';
    await eventually(() => {
      try {
        line = readFileSync(logPath, 'utf8').split('\n').find((l) => l.startsWith(`${id} `)) ?? '';
      } catch { /* not written yet */ }
      return line !== '';
    }, 5000, `access log line of ${id}`);
    return line.slice(id.length + 1);
  }

  function upstreamSaw(prefix: string): number {
    return upstream.requests.filter((r) => r.url.startsWith(prefix)).length;
  }

  it('abort 100 %: 503 from the filter, flag FI, details fault_filter_abort, aborts_injected counted, upstream untouched', async () => {
    const before = await stats();
    const r = await get('/abort');
    assert.equal(r.status, 503);
    assert.equal(r.body, 'fault filter abort');
    assert.equal(await logOf(r.id), '503 FI fault_filter_abort');
    assert.equal(upstreamSaw('/abort'), 0);
    const s = await stats();
    assert.equal(stat(s, 'aborts_injected') - stat(before, 'aborts_injected'), 1);
    assert.equal(stat(s, 'delays_injected') - stat(before, 'delays_injected'), 0);
    assert.equal(stat(s, 'active_faults'), 0, 'an abort ends with its stream');
  });

  it('the filter-level config applies where no route overrides it; an empty override turns faults off for its route', async () => {
    const global = await get('/global');
    assert.equal(global.status, 418);
    assert.equal(await logOf(global.id), '418 FI fault_filter_abort');
    const off = await get('/override-off');
    assert.equal(off.status, 200);
    assert.equal(off.body, 'ok /override-off');
    assert.equal(await logOf(off.id), '200 - via_upstream');
  });

  it('per downstream cluster: x-envoy-downstream-service-cluster adds fault.<cluster>.aborts_injected / delays_injected', async () => {
    const r = await get('/abort', { 'x-envoy-downstream-service-cluster': 'frontend' });
    assert.equal(r.status, 503);
    const d = await get('/delay', { 'x-envoy-downstream-service-cluster': 'frontend' });
    assert.equal(d.status, 200);
    const s = await stats();
    assert.equal(stat(s, 'frontend.aborts_injected'), 1);
    assert.equal(stat(s, 'frontend.delays_injected'), 1);
  });

  it('grpc_status abort: a real grpc-js client sees RESOURCE_EXHAUSTED; the call never reaches the server', async () => {
    const md = new grpc.Metadata();
    md.set('x-fault', 'yes');
    md.set('x-id', 'grpc-abort');
    const err = await new Promise<grpc.ServiceError | null>((resolve) => {
      client['Unary']!(Buffer.from('hi'), md, (e: grpc.ServiceError | null) => resolve(e));
    });
    assert.ok(err !== null);
    assert.equal(err.code, grpc.status.RESOURCE_EXHAUSTED);
    assert.equal(err.details, 'fault filter abort');
    assert.equal(grpcCalls, 0);
    // gRPC aborts are HTTP 200 carrying grpc-status.
    assert.equal(await logOf('grpc-abort'), '200 FI fault_filter_abort');
    // The same route without the header the override matches on: the call goes through.
    const ok = await new Promise<Buffer>((resolve, reject) => {
      client['Unary']!(Buffer.from('hi'), (e: grpc.ServiceError | null, v: Buffer) => (e ? reject(e) : resolve(v)));
    });
    assert.equal(ok.toString(), 'echo:hi');
    assert.equal(grpcCalls, 1);
  });

  it('header_abort with x-envoy-fault-abort-grpc-request: the gRPC client sees that status', async () => {
    const md = new grpc.Metadata();
    md.set('x-mode', 'header');
    md.set('x-envoy-fault-abort-grpc-request', String(grpc.status.PERMISSION_DENIED));
    const err = await new Promise<grpc.ServiceError | null>((resolve) => {
      client['Unary']!(Buffer.from('hi'), md, (e: grpc.ServiceError | null) => resolve(e));
    });
    assert.equal(err?.code, grpc.status.PERMISSION_DENIED);
    const plain = new grpc.Metadata();
    plain.set('x-mode', 'header');
    const ok = await new Promise<Buffer>((resolve, reject) => {
      client['Unary']!(Buffer.from('h'), plain, (e: grpc.ServiceError | null, v: Buffer) => (e ? reject(e) : resolve(v)));
    });
    assert.equal(ok.toString(), 'echo:h');
  });

  it('fixed delay: the response comes at least the delay later, flag DI, delays_injected counted; the request then reaches upstream', async () => {
    const before = await stats();
    const r = await get('/delay');
    assert.equal(r.status, 200);
    assert.equal(r.body, 'ok /delay');
    assert.ok(r.ms >= 295, `took ${r.ms.toFixed(0)} ms, expected at least the 300 ms delay`);
    assert.equal(await logOf(r.id), '200 DI via_upstream');
    const s = await stats();
    assert.equal(stat(s, 'delays_injected') - stat(before, 'delays_injected'), 1);
    assert.equal(stat(s, 'active_faults'), 0, 'the fault ends with the delay');
  });

  it('delay then abort: 503 after the delay with both DI and FI', async () => {
    const r = await get('/delay-abort');
    assert.equal(r.status, 503);
    assert.ok(r.ms >= 195, `took ${r.ms.toFixed(0)} ms`);
    const line = await logOf(r.id);
    assert.match(line, /^503 \S*DI\S* fault_filter_abort$/);
    assert.match(line, /^503 \S*FI\S* /);
    assert.equal(upstreamSaw('/delay-abort'), 0);
  });

  it('header control: faults only when the header is present (and header_abort / header_delay configured)', async () => {
    const none = await get('/header');
    assert.equal(none.status, 200);
    assert.equal(await logOf(none.id), '200 - via_upstream');

    const aborted = await get('/header', { 'x-envoy-fault-abort-request': '429' });
    assert.equal(aborted.status, 429);
    assert.equal(await logOf(aborted.id), '429 FI fault_filter_abort');

    // The header's percentage lowers the configured 100 %: 0 never aborts.
    const zero = await get('/header', { 'x-envoy-fault-abort-request': '429', 'x-envoy-fault-abort-request-percentage': '0' });
    assert.equal(zero.status, 200);

    // Not a number, or outside [200, 600): ignored.
    assert.equal((await get('/header', { 'x-envoy-fault-abort-request': 'abc' })).status, 200);
    assert.equal((await get('/header', { 'x-envoy-fault-abort-request': '600' })).status, 200);

    // gRPC status header on a plain HTTP request: HTTP 200 with the abort body.
    const g = await get('/header', { 'x-envoy-fault-abort-grpc-request': '5' });
    assert.equal(g.status, 200);
    assert.equal(g.body, 'fault filter abort');
    assert.equal(await logOf(g.id), '200 FI fault_filter_abort');

    const delayed = await get('/header', { 'x-envoy-fault-delay-request': '250' });
    assert.equal(delayed.status, 200);
    assert.ok(delayed.ms >= 245, `took ${delayed.ms.toFixed(0)} ms`);
    assert.equal(await logOf(delayed.id), '200 DI via_upstream');

    const noDelay = await get('/header', { 'x-envoy-fault-delay-request': '250', 'x-envoy-fault-delay-request-percentage': '0' });
    assert.equal(await logOf(noDelay.id), '200 - via_upstream');

    // A route whose settings have no header_abort ignores the header.
    const off = await get('/override-off', { 'x-envoy-fault-abort-request': '429', 'x-envoy-fault-delay-request': '250' });
    assert.equal(off.status, 200);
    assert.equal(await logOf(off.id), '200 - via_upstream');
  });

  it('percentage 0 (and an unset percentage, Envoy\'s 0 %) never faults', async () => {
    const before = await stats();
    for (let i = 0; i < 100; i++) assert.equal((await get('/pct0')).status, 200);
    for (let i = 0; i < 20; i++) assert.equal((await get('/pct-unset')).status, 200);
    const s = await stats();
    assert.equal(stat(s, 'aborts_injected') - stat(before, 'aborts_injected'), 0);
  });

  it('a numerator above the denominator is accepted and always fires, as Envoy caps it', async () => {
    for (let i = 0; i < 20; i++) assert.equal((await get('/pct-over')).status, 503);
  });

  it('50 % (5000 / TEN_THOUSAND) aborts a binomially plausible share; aborts_injected counts exactly those', async () => {
    const before = await stats();
    const n = 400;
    let aborted = 0;
    for (let i = 0; i < n; i += 8) {
      const batch = await Promise.all(Array.from({ length: 8 }, () => get('/pct50')));
      for (const r of batch) {
        if (r.status === 503) aborted++;
        else assert.equal(r.status, 200);
      }
    }
    // Binomial(400, 0.5): mean 200, sd 10; ±6 sd.
    assert.ok(aborted >= 140 && aborted <= 260, `${aborted} of ${n} aborted`);
    const s = await stats();
    assert.equal(stat(s, 'aborts_injected') - stat(before, 'aborts_injected'), aborted);
  });

  it('max_active_faults 1: of two concurrent delayed requests one is not faulted, and faults_overflow counts it', async () => {
    const before = await stats();
    const [a, b] = await Promise.all([get('/maxactive'), get('/maxactive')]);
    assert.equal(a.status, 200);
    assert.equal(b.status, 200);
    const flags = [await logOf(a.id), await logOf(b.id)].sort();
    assert.deepEqual(flags, ['200 - via_upstream', '200 DI via_upstream']);
    const s = await stats();
    assert.equal(stat(s, 'faults_overflow') - stat(before, 'faults_overflow'), 1);
    assert.equal(stat(s, 'delays_injected') - stat(before, 'delays_injected'), 1);
    assert.equal(stat(s, 'active_faults'), 0);
  });

  it('downstream_nodes: only x-envoy-downstream-service-node values in the list are faulted', async () => {
    assert.equal((await get('/nodes')).status, 200);
    assert.equal((await get('/nodes', { 'x-envoy-downstream-service-node': 'node-b' })).status, 200);
    assert.equal((await get('/nodes', { 'x-envoy-downstream-service-node': 'node-a' })).status, 503);
    assert.equal((await get('/nodes', { 'x-envoy-downstream-service-node': 'node-c' })).status, 503);
  });

  it('headers: every matcher must match (exact value, and an inverted presence match)', async () => {
    assert.equal((await get('/headers')).status, 200);
    assert.equal((await get('/headers', { 'x-user': 'someone' })).status, 200);
    assert.equal((await get('/headers', { 'x-user': 'tester' })).status, 503);
    assert.equal((await get('/headers', { 'x-user': 'tester', 'x-skip': '1' })).status, 200);
  });

  it('upstream_cluster: faults only requests routed to that cluster', async () => {
    assert.equal((await get('/upstream-match')).status, 503);
    assert.equal((await get('/upstream-other')).status, 200);
  });

  it('response_rate_limit 1 KiB/s: a 2 KiB body takes at least ~1 s (the first second\'s budget goes at once); response_rl_injected counted', async () => {
    const before = await stats();
    const r = await get('/throttle');
    assert.equal(r.status, 200);
    assert.equal(r.body, 'a'.repeat(BIG_BODY));
    assert.ok(r.ms >= 800, `took ${r.ms.toFixed(0)} ms`);
    const s = await stats();
    assert.equal(stat(s, 'response_rl_injected') - stat(before, 'response_rl_injected'), 1);
    assert.equal(stat(s, 'active_faults'), 0);
    // The same body unthrottled is complete and counts no fault.
    const plain = await get('/big');
    assert.equal(plain.body.length, BIG_BODY);
    assert.equal(stat(await stats(), 'response_rl_injected') - stat(before, 'response_rl_injected'), 1);
  });

  it('header_limit: x-envoy-fault-throughput-response sets the limit; without it no throttling is injected', async () => {
    const before = await stats();
    const none = await get('/throttle-header');
    assert.equal(none.body.length, BIG_BODY);
    assert.equal(stat(await stats(), 'response_rl_injected'), stat(before, 'response_rl_injected'));
    const r = await get('/throttle-header', { 'x-envoy-fault-throughput-response': '1' });
    assert.equal(r.body.length, BIG_BODY);
    assert.ok(r.ms >= 800, `took ${r.ms.toFixed(0)} ms`);
    assert.equal(stat(await stats(), 'response_rl_injected') - stat(before, 'response_rl_injected'), 1);
  });

  it('a delay holds only its request: another stream on the same HTTP/2 connection is answered; resetting the delayed stream ends the fault', async () => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    try {
      const delayed = session.request({ ':path': '/delay-long', 'x-id': 'h2-delayed' });
      let delayedResponded = false;
      delayed.on('response', () => { delayedResponded = true; });
      delayed.on('error', () => {});
      await eventually(async () => stat(await stats(), 'active_faults') === 1, 5000, 'the delay to start');
      const other = session.request({ ':path': '/override-off' });
      const body = await new Promise<string>((resolve, reject) => {
        let b = '';
        other.setEncoding('utf8');
        other.on('data', (c: string) => { b += c; });
        other.on('end', () => resolve(b));
        other.on('error', reject);
        other.end();
      });
      assert.equal(body, 'ok /override-off');
      assert.equal(delayedResponded, false);
      delayed.close(http2.constants.NGHTTP2_CANCEL);
      await eventually(async () => stat(await stats(), 'active_faults') === 0, 5000, 'active_faults back to 0');
      assert.equal(upstreamSaw('/delay-long'), 0);
      assert.match(await logOf('h2-delayed'), /^0 \S*DI\S*/);
    } finally {
      session.destroy();
    }
  });

  it('an HTTP/1 client that goes away during a delay cancels it: the request never reaches upstream', async () => {
    const req = http.request({ host: '127.0.0.1', port, path: '/delay-long', agent: false, headers: { 'x-id': 'h1-gone' } });
    req.on('error', () => {});
    req.end();
    await eventually(async () => stat(await stats(), 'active_faults') === 1, 5000, 'the delay to start');
    req.destroy();
    await eventually(async () => stat(await stats(), 'active_faults') === 0, 5000, 'active_faults back to 0');
    assert.match(await logOf('h1-gone'), /^0 \S*DI\S*/);
    assert.match(await logOf('h1-gone'), /DC/);
    assert.equal(upstreamSaw('/delay-long'), 0);
  });
});

describe('envoy.filters.http.fault config errors (legate --mode validate)', () => {
  /** A bootstrap with `filterConfig` under the fault filter's typed_config and `routeExtra` on the route. */
  function bootstrap(filterConfig: string, routeExtra = ''): string {
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
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: { prefix: "/" }
                route: { cluster: live }
${routeExtra === '' ? '' : indent(routeExtra, 16)}
          http_filters:
          - name: envoy.filters.http.fault
            typed_config:
              "@type": ${FAULT_TYPE}
${filterConfig === '' ? '' : indent(filterConfig, 14)}
          - name: envoy.filters.http.router
  clusters:
${indent(staticCluster('live', 1), 2)}`;
  }

  /** Runs validate; asserts exit 1 and `file:line:col: <path>: <message>` pointing at the line holding `marker`. */
  async function rejects(yaml: string, marker: string, path: string, message: RegExp): Promise<void> {
    const file = writeTempConfig(yaml);
    const r = await runLegate(['--mode', 'validate', '-c', file]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const line = yaml.split('\n').findIndex((l) => l.includes(marker)) + 1;
    assert.ok(line > 0, marker);
    const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    const m = r.stderr.match(new RegExp(`${esc(file)}:(\\d+):\\d+: ${esc(path)}: (.*)`));
    assert.ok(m !== null, r.stderr);
    assert.equal(Number(m[1]), line, r.stderr);
    assert.match(m[2]!, message);
  }

  const HF = 'static_resources.listeners[0].filter_chains[0].filters[0].typed_config.http_filters[0].typed_config';
  const RT = 'static_resources.listeners[0].filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].routes[0].typed_per_filter_config["envoy.filters.http.fault"]';

  it('abort without http_status, grpc_status or header_abort', async () => {
    await rejects(bootstrap('abort: { percentage: { numerator: 100 } }'), 'abort:', `${HF}.abort.error_type`, /value is required: set one of http_status, grpc_status, header_abort/);
  });

  it('delay without fixed_delay or header_delay, and a zero fixed_delay', async () => {
    await rejects(bootstrap('delay: { percentage: { numerator: 100 } }'), 'delay:', `${HF}.delay.fault_delay_secifier`, /value is required: set one of fixed_delay, header_delay/);
    await rejects(bootstrap('delay: { fixed_delay: 0s }'), 'fixed_delay', `${HF}.delay.fixed_delay`, /greater than 0s/);
  });

  it('http_status outside [200, 600), and a rate limit of 0 KiB/s', async () => {
    await rejects(bootstrap('abort: { http_status: 700, percentage: { numerator: 100 } }'), 'http_status', `${HF}.abort.http_status`, /inside range \[200, 600\)/);
    await rejects(bootstrap('response_rate_limit: { fixed_limit: { limit_kbps: 0 } }'), 'limit_kbps', `${HF}.response_rate_limit.fixed_limit.limit_kbps`, /greater than or equal to 1/);
  });

  it('a bad header matcher', async () => {
    await rejects(bootstrap('headers: [{ name: x, string_match: { safe_regex: { regex: "(" } } }]'), 'regex', `${HF}.headers[0].string_match.safe_regex.regex`, /invalid regex/);
  });

  it('a bad route-level override is rejected at its typed_per_filter_config entry', async () => {
    const extra = `typed_per_filter_config:
  envoy.filters.http.fault:
    "@type": ${FAULT_TYPE}
    abort: { http_status: 99, percentage: { numerator: 100 } }`;
    await rejects(bootstrap('', extra), 'http_status: 99', `${RT}.abort.http_status`, /inside range \[200, 600\)/);
  });

  it('route-level config for a filter without route-specific config, or of an unknown type', async () => {
    const router = `typed_per_filter_config:
  envoy.filters.http.fault:
    "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router`;
    await rejects(bootstrap('', router), 'envoy.filters.http.fault:', RT, /The filter envoy\.filters\.http\.fault doesn't support virtual host or route specific configurations/);
    const unknown = `typed_per_filter_config:
  my.filter:
    "@type": type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy`;
    const path = RT.replace('envoy.filters.http.fault', 'my.filter');
    await rejects(bootstrap('', unknown), 'my.filter:', path, /Didn't find a registered implementation for 'my\.filter' with type URL: 'envoy\.extensions\.filters\.http\.cors\.v3\.CorsPolicy'/);
  });

  it('an optional (FilterConfig is_optional) unknown filter is skipped; a good config validates', async () => {
    const optional = `typed_per_filter_config:
  my.filter:
    "@type": type.googleapis.com/envoy.config.route.v3.FilterConfig
    is_optional: true
    config: { "@type": type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy }`;
    const r = await runLegate(['--mode', 'validate', '-c', writeTempConfig(bootstrap('abort: { http_status: 503, percentage: { numerator: 100 } }', optional))]);
    assert.equal(r.code, 0, r.stderr);
  });
});
