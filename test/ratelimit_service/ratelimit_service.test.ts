/**
 * Legate's Rate Limit Service: the limits file (and its errors, with file,
 * line and field), the decision (exact and any-value keys, nested
 * descriptors, fixed windows on a test clock, shadow_mode, unlimited,
 * hits_addend), and `legate ratelimit-service` as a real process answering
 * ShouldRateLimit to a grpc-js client and to a real legate process.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { create } from '@bufbuild/protobuf';
import type { RateLimitRequest, RateLimitResponse } from '../../src/generated/envoy/service/ratelimit/v3/rls_pb.js';
import { messageSchema } from '../../src/config/type_registry.js';
import { parseLimitsConfig } from '../../src/ratelimit_service/limits_config.js';
import { Code, InvalidRequestError, RateLimiter, type LimitRequest } from '../../src/ratelimit_service/rate_limiter.js';
import { RATE_LIMIT_SERVICE } from '../../src/ratelimit_service/ratelimit_server.js';
import { LEGATE_BIN, runLegate, startLegate, type LegateProcess } from '../support/legate_process.js';
import { readStats, request, startUpstream } from '../support/http_util.js';

const LIMITS = `
domain: shop
descriptors:
- key: generic_key
  value: checkout
  rate_limit: { unit: second, requests_per_unit: 2 }
- key: client                 # any value: one counter per client
  rate_limit: { unit: MINUTE, requests_per_unit: 3, name: per-client }
  descriptors:
  - key: path
    value: /expensive
    rate_limit: { unit: hour, requests_per_unit: 1 }
- key: client
  value: trusted
  rate_limit: { unlimited: true }
- key: shadow
  shadow_mode: true
  rate_limit: { unit: day, requests_per_unit: 1 }
`;

function req(...descriptors: Array<Array<[string, string]>>): LimitRequest {
  return { domain: 'shop', descriptors: descriptors.map((d) => ({ entries: d.map(([key, value]) => ({ key, value })) })), hitsAddend: 0 };
}

describe('limits file', () => {
  it('reports every mistake with file:line:column and the field path', () => {
    const cases: Array<[string, RegExp]> = [
      ['domain: d\ndescriptors:\n- key: k\n  rate_limit: { unit: fortnight, requests_per_unit: 1 }\n',
        /^limits\.yaml:4:23: descriptors\[0\]\.rate_limit\.unit: unknown unit "fortnight" \(expected one of: second, minute, hour, day, month, year\)$/],
      ['domain: d\ndescriptors:\n- key: k\n  rate_limit: { unit: second }\n',
        /descriptors\[0\]\.rate_limit\.requests_per_unit: requests_per_unit is required/],
      ['domain: d\ndescriptors:\n- key: k\n  rate_limit: { unit: second, requests_per_unit: -1 }\n',
        /descriptors\[0\]\.rate_limit\.requests_per_unit: expected a whole number/],
      ['domain: d\ndescriptors:\n- key: k\n  value: v\n  ratelimit: {}\n',
        /^limits\.yaml:\d+:\d+: descriptors\[0\]\.ratelimit: unknown field "ratelimit"/],
      ['descriptors: []\n', /domain: domain is required/],
      ['domain: d\ndescriptors:\n- key: k\n- key: k\n', /descriptors\[1\]: duplicate descriptor k/],
      ['domain: d\ndescriptors:\n- value: v\n', /descriptors\[0\]\.key: key is required/],
      ['domain: d\ndescriptors: {}\n', /descriptors: expected a list of descriptors, got a map/],
    ];
    for (const [text, re] of cases) {
      assert.throws(() => parseLimitsConfig(text, 'limits.yaml'), (e: Error) => { assert.match(e.message, re); return true; });
    }
    const d = parseLimitsConfig('domain: a\n', 'a.yaml');
    assert.throws(() => new RateLimiter([d, parseLimitsConfig('domain: a\n', 'b.yaml')]), /domain "a" is defined in both a\.yaml and b\.yaml/);
  });
});

describe('rate limiter decisions', () => {
  it('exact values, any-value keys with per-value counters, nested descriptors and fixed windows', () => {
    let now = Date.UTC(2026, 0, 1, 0, 0, 0, 500);
    const rl = new RateLimiter([parseLimitsConfig(LIMITS, 'limits.yaml')], () => now);

    const checkout = req([['generic_key', 'checkout']]);
    const a = rl.shouldRateLimit(checkout);
    assert.equal(a.overallCode, Code.Ok);
    assert.deepEqual(a.statuses[0], { code: Code.Ok, currentLimit: { name: '', requestsPerUnit: 2, unit: 1 }, limitRemaining: 1, durationUntilResetSeconds: 1 });
    assert.equal(rl.shouldRateLimit(checkout).statuses[0]!.limitRemaining, 0);
    const over = rl.shouldRateLimit(checkout);
    assert.equal(over.overallCode, Code.OverLimit);
    assert.equal(over.statuses[0]!.code, Code.OverLimit);
    now += 600; // the next one-second window
    assert.equal(rl.shouldRateLimit(checkout).overallCode, Code.Ok);

    // Unknown values of an exact key, and unknown keys, have no limit.
    assert.deepEqual(rl.shouldRateLimit(req([['generic_key', 'browse']])).statuses[0],
      { code: Code.Ok, currentLimit: null, limitRemaining: 0, durationUntilResetSeconds: 0 });

    // `client` without a value: each client has its own 3 per minute.
    for (let i = 0; i < 3; i++) assert.equal(rl.shouldRateLimit(req([['client', 'a']])).overallCode, Code.Ok);
    assert.equal(rl.shouldRateLimit(req([['client', 'a']])).overallCode, Code.OverLimit);
    assert.equal(rl.shouldRateLimit(req([['client', 'b']])).overallCode, Code.Ok);
    // The exact `client: trusted` entry wins over the any-value one: unlimited.
    for (let i = 0; i < 5; i++) {
      const t = rl.shouldRateLimit(req([['client', 'trusted']]));
      assert.equal(t.overallCode, Code.Ok);
      assert.equal(t.statuses[0]!.currentLimit, null);
    }
    // Nested: (client, path) has its own limit; one over-limit descriptor makes the whole answer OVER_LIMIT.
    const nested = req([['client', 'c'], ['path', '/expensive']], [['client', 'c']]);
    assert.equal(rl.shouldRateLimit(nested).overallCode, Code.Ok);
    const second = rl.shouldRateLimit(nested);
    assert.equal(second.overallCode, Code.OverLimit);
    assert.deepEqual(second.statuses.map((s) => s.code), [Code.OverLimit, Code.Ok]);
    assert.equal(second.statuses[0]!.currentLimit!.unit, 3, 'HOUR');
    // A longer descriptor than the tree has no limit.
    assert.equal(rl.shouldRateLimit(req([['generic_key', 'checkout'], ['x', 'y']])).statuses[0]!.currentLimit, null);
  });

  it('shadow_mode never answers OVER_LIMIT; hits_addend counts several hits; empty requests are refused', () => {
    const rl = new RateLimiter([parseLimitsConfig(LIMITS, 'limits.yaml')], () => Date.UTC(2026, 0, 1));
    rl.shouldRateLimit(req([['shadow', 'x']]));
    const s = rl.shouldRateLimit(req([['shadow', 'x']]));
    assert.equal(s.overallCode, Code.Ok);
    assert.equal(s.statuses[0]!.limitRemaining, 0);
    const big = rl.shouldRateLimit({ ...req([['client', 'z']]), hitsAddend: 4 });
    assert.equal(big.overallCode, Code.OverLimit);
    assert.throws(() => rl.shouldRateLimit({ domain: '', descriptors: [], hitsAddend: 0 }), InvalidRequestError);
    assert.throws(() => rl.shouldRateLimit({ domain: 'shop', descriptors: [], hitsAddend: 0 }), /descriptor list must not be empty/);
  });
});

/** Starts `legate ratelimit-service --config <file> --port 0` and waits for its port. */
async function startService(file: string): Promise<{ proc: ChildProcess; port: number }> {
  const proc = spawn(process.execPath, [LEGATE_BIN, 'ratelimit-service', '--config', file, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stderr!.on('data', (d) => { out += d; });
  const port = await new Promise<number>((resolve, reject) => {
    proc.stdout!.on('data', (d) => {
      out += d;
      const m = /ratelimit service listening on 127\.0\.0\.1:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    proc.on('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
  });
  return { proc, port };
}

async function stopProcess(proc: ChildProcess): Promise<number | null> {
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  proc.kill('SIGTERM');
  return exited;
}

describe('legate ratelimit-service', () => {
  it('rejects bad usage and bad limits files; --help works', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'legate-rls-'));
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'domain: d\ndescriptors:\n- key: k\n  rate_limit: { unit: weekly, requests_per_unit: 1 }\n');
    const [none, unknown, badPort, badFile, missing, help] = await Promise.all([
      runLegate(['ratelimit-service']),
      runLegate(['ratelimit-service', '--config', bad, '--bogus']),
      runLegate(['ratelimit-service', '--config', bad, '--port', '99999']),
      runLegate(['ratelimit-service', '--config', bad, '--port', '0']),
      runLegate(['ratelimit-service', '--config', join(dir, 'nope.yaml'), '--port', '0']),
      runLegate(['ratelimit-service', '--help']),
    ]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no limits: give --config/);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /unknown argument "--bogus"/);
    assert.equal(badPort.code, 1);
    assert.match(badPort.stderr, /--port: not a port number: 99999/);
    assert.equal(badFile.code, 1);
    assert.match(badFile.stderr, /bad\.yaml:4:23: descriptors\[0\]\.rate_limit\.unit: unknown unit "weekly"/);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /cannot read limits file .*nope\.yaml/);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: legate ratelimit-service --config <limits\.yaml>/);
  });

  it('serves ShouldRateLimit from its limits file and stops on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'legate-rls-'));
    const file = join(dir, 'limits.yaml');
    writeFileSync(file, 'domain: api\ndescriptors:\n- key: k\n  value: v\n  rate_limit: { unit: day, requests_per_unit: 1 }\n');
    const { proc, port } = await startService(file);
    const Client = grpc.makeGenericClientConstructor(RATE_LIMIT_SERVICE, 'RateLimitService');
    const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
      ShouldRateLimit(r: RateLimitRequest, cb: (e: grpc.ServiceError | null, r?: RateLimitResponse) => void): void;
    };
    const call = (r: RateLimitRequest) => new Promise<RateLimitResponse>((resolve, reject) =>
      client.ShouldRateLimit(r, (e, res) => (e ? reject(e) : resolve(res!))));
    const rlsRequest = create(messageSchema('envoy.service.ratelimit.v3.RateLimitRequest'), {
      domain: 'api', descriptors: [{ entries: [{ key: 'k', value: 'v' }] }],
    }) as RateLimitRequest;
    try {
      const first = await call(rlsRequest);
      assert.equal(first.overallCode, 1);
      assert.equal(first.statuses[0]!.currentLimit!.requestsPerUnit, 1);
      assert.equal(first.statuses[0]!.currentLimit!.unit, 4);
      assert.ok(first.statuses[0]!.durationUntilReset!.seconds > 0n);
      assert.equal((await call(rlsRequest)).overallCode, 2);
      await assert.rejects(call(create(messageSchema('envoy.service.ratelimit.v3.RateLimitRequest'), { domain: 'api' }) as RateLimitRequest),
        (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT && /descriptor list must not be empty/.test(e.details));
    } finally {
      client.close();
      assert.equal(await stopProcess(proc), 0);
    }
  });

  it('end to end: a legate process rate limits through a legate ratelimit-service process', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'legate-rls-'));
    const file = join(dir, 'limits.yaml');
    writeFileSync(file, 'domain: edge\ndescriptors:\n- key: generic_key\n  value: api\n  rate_limit: { unit: day, requests_per_unit: 2 }\n');
    const { proc, port: rlsPort } = await startService(file);
    const upstream = await startUpstream();
    let legate: LegateProcess | null = null;
    try {
      legate = await startLegate(`
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
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: { prefix: "/" }
                route:
                  cluster: backend
                  rate_limits: [{ actions: [{ generic_key: { descriptor_value: api } }] }]
          http_filters:
          - name: envoy.filters.http.ratelimit
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.ratelimit.v3.RateLimit
              domain: edge
              timeout: 5s
              rate_limit_service:
                transport_api_version: V3
                grpc_service: { envoy_grpc: { cluster_name: ratelimit } }
          - name: envoy.filters.http.router
  clusters:
  - name: backend
    connect_timeout: 1s
    load_assignment:
      cluster_name: backend
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${upstream.port} } } } }] }]
  - name: ratelimit
    connect_timeout: 1s
    load_assignment:
      cluster_name: ratelimit
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${rlsPort} } } } }] }]
`, { expectListeners: ['ingress'], expectAdmin: true });
      const port = legate.ports.get('ingress')!;
      assert.equal((await request(port, { path: '/' })).status, 200);
      assert.equal((await request(port, { path: '/' })).status, 200);
      const limited = await request(port, { path: '/' });
      assert.equal(limited.status, 429);
      assert.equal(limited.headers['x-envoy-ratelimited'], 'true');
      const stats = await readStats(legate.adminPort!);
      assert.equal(stats.get('cluster.backend.ratelimit.ok'), 2);
      assert.equal(stats.get('cluster.backend.ratelimit.over_limit'), 1);
    } finally {
      await legate?.stop();
      await upstream.close();
      await stopProcess(proc);
    }
  });
});
