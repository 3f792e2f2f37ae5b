/**
 * Micro-benchmark: route lookup on a 100-route table (compiled once), the
 * per-request work of the HCM's route() call. Run:
 *   npx tsc -p . && node dist/bench/micro/route_match.bench.js
 *
 * The table has 5 virtual hosts (exact, suffix and prefix wildcards, `*`); the
 * busy one has 100 routes: 60 prefixes, 20 exact paths, 10 header-conditioned
 * prefixes and 10 safe_regex routes, with a catch-all last. Requests hit the
 * first route, the middle, a regex near the end, the catch-all, and miss the
 * virtual hosts entirely.
 */
import { readFileSync } from 'node:fs';
import { createFileRegistry, fromBinary, fromJson } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import type { JsonValue } from '@bufbuild/protobuf';
import type { RouteConfiguration } from '../../src/generated/envoy/config/route/v3/route_pb.js';
import type { StreamInfo } from '../../src/envoy/stream_info/stream_info.js';
import { HeaderMapImpl } from '../../src/http/codec/header_map_impl.js';
import { compileRouteTable } from '../../src/router/config_impl.js';

function buildConfig(): JsonValue {
  const routes: JsonValue[] = [];
  for (let i = 0; i < 60; i++) routes.push({ match: { prefix: `/svc${i}/` }, route: { cluster: `svc${i}` } });
  for (let i = 0; i < 20; i++) routes.push({ match: { path: `/exact/${i}` }, route: { cluster: `exact${i}` } });
  for (let i = 0; i < 10; i++) {
    routes.push({
      match: { prefix: `/h${i}/`, headers: [{ name: 'x-tenant', string_match: { exact: `t${i}` } }] },
      route: { cluster: `tenant${i}` },
    });
  }
  for (let i = 0; i < 9; i++) routes.push({ match: { safe_regex: { regex: `/re${i}/[0-9]+/items` } }, route: { cluster: `re${i}` } });
  routes.push({ match: { prefix: '/' }, route: { cluster: 'default' } });
  const small = (name: string, domains: string[]) => ({
    name, domains, routes: [{ match: { prefix: '/' }, route: { cluster: name } }],
  });
  return {
    name: 'bench',
    virtual_hosts: [
      small('exact', ['api.example.com', 'api.example.com:8080']),
      { name: 'busy', domains: ['www.example.com', '*.example.org'], routes },
      small('suffix', ['*.example.net']),
      small('prefix', ['static.*']),
      small('star-less', ['other.com']),
    ],
  };
}

function loadConfig(): RouteConfiguration {
  const fds = fromBinary(FileDescriptorSetSchema, readFileSync(new URL('../../../generated/envoy_api.binpb', import.meta.url)));
  const registry = createFileRegistry(fds);
  const schema = registry.getMessage('envoy.config.route.v3.RouteConfiguration')!;
  return fromJson(schema, buildConfig(), { registry }) as unknown as RouteConfiguration;
}

function request(authority: string, path: string, extra: Array<[string, string]> = []): HeaderMapImpl {
  return HeaderMapImpl.fromPairs([
    [':method', 'GET'], [':scheme', 'https'], [':authority', authority], [':path', path],
    ['user-agent', 'bench/1.0'], ['accept', '*/*'], ['x-request-id', '0b8f3c2e-1d2a-4f5e-9a6b-7c8d9e0f1a2b'],
    ...extra,
  ]);
}

const streamInfo = { downstreamLocalAddress: '127.0.0.1:10000' } as unknown as StreamInfo;

export interface BenchResult { name: string; opsPerSec: number; nsPerOp: number }

export function run(iterations = 1_000_000): BenchResult[] {
  const table = compileRouteTable(loadConfig(), {
    formatterFactory: () => { throw new Error('no formatted headers in this bench'); },
    configDir: process.cwd(),
  });
  const cases: Array<[string, HeaderMapImpl, string | null]> = [
    ['first route (prefix)', request('www.example.com', '/svc0/users/42'), 'svc0'],
    ['route 30 (prefix)', request('www.example.com', '/svc30/a?b=c'), 'svc30'],
    ['route 75 (exact path)', request('WWW.Example.com', '/exact/15?x=1'), 'exact15'],
    ['route 85 (header match)', request('a.example.org', '/h5/x', [['x-tenant', 't5']]), 'tenant5'],
    ['route 97 (safe_regex)', request('www.example.com', '/re7/123/items'), 're7'],
    ['catch-all (100th)', request('www.example.com', '/nothing/here'), 'default'],
    ['other vhost (exact)', request('api.example.com:8080', '/x'), 'exact'],
    ['no virtual host', request('unknown.com', '/x'), null],
  ];
  const results: BenchResult[] = [];
  let sink = 0;
  for (const [name, h, want] of cases) {
    const r = table.route(h, streamInfo, 0);
    const got = r === null ? null : r.routeEntry!.clusterName(h, 0);
    if (got !== want) throw new Error(`${name}: routed to ${got}, expected ${want}`);
    for (let i = 0; i < 20_000; i++) if (table.route(h, streamInfo, i) !== null) sink++; // warm up
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) if (table.route(h, streamInfo, i) !== null) sink++;
    const ns = Number(process.hrtime.bigint() - t0);
    results.push({ name, opsPerSec: (iterations * 1e9) / ns, nsPerOp: ns / iterations });
  }
  // Mixed traffic: all cases round-robin.
  const hs = cases.map((c) => c[1]);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) if (table.route(hs[i % hs.length]!, streamInfo, i) !== null) sink++;
  const ns = Number(process.hrtime.bigint() - t0);
  results.push({ name: 'mixed (all of the above)', opsPerSec: (iterations * 1e9) / ns, nsPerOp: ns / iterations });
  if (sink === -1) console.log(sink);
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const n = Number(process.argv[2] ?? 1_000_000);
  const heapBefore = process.memoryUsage().heapUsed;
  for (const r of run(n)) {
    console.log(`${r.name.padEnd(28)} ${Math.round(r.opsPerSec).toLocaleString('en-US').padStart(12)} matches/s  ${r.nsPerOp.toFixed(1).padStart(7)} ns/match`);
  }
  console.log(`heap delta after run: ${((process.memoryUsage().heapUsed - heapBefore) / 1024 / 1024).toFixed(1)} MiB`);
}
