// `npm run bench:xds`: how fast dynamic configuration takes effect, and what
// big configurations cost (issue 4's benchmark):
//
//   1. propagation: a route file changed in `legate control-plane --dir` →
//      the first request Legate (fed over ADS) serves with the new route;
//      median and p99 over repeated changes, plus Legate's own share (its log
//      line "rds: loaded" minus the control plane's push log line);
//   2. EDS: a ClusterLoadAssignment of 10,000 endpoints — decoding and
//      validating it (what the transport does per response) and applying it
//      to a warm EDS cluster (what the cluster does), heap growth;
//   3. routes: compiling a RouteConfiguration of 10,000 routes, and requests/s
//      through Legate with 10,000 routes against 10 (wrk, random paths over
//      the table, alternating runs).
//
// Flags: --rounds N (3), --changes N (30), --duration S (5), --quick.
import { spawn } from 'node:child_process';
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { create } from '@bufbuild/protobuf';
import { anyPack } from '@bufbuild/protobuf/wkt';
import { messageSchema } from '../src/config/type_registry.js';
import { TypeUrl } from '../src/envoy/config/subscription.js';
import { decodeResource } from '../src/xds/xds_resource.js';
import { compileRouteTable } from '../src/router/config_impl.js';
import { compileFormat } from '../src/logging/substitution_formatter.js';
import type { RouteConfiguration } from '../src/generated/envoy/config/route/v3/route_pb.js';
import type { ClusterLoadAssignment } from '../src/generated/envoy/config/endpoint/v3/endpoint_pb.js';
import { edsClusterYaml, startProxy } from '../test/support/xds_proxy.js';
import { adsBootstrapYaml } from '../test/support/xds_bootstrap.js';
import { freePort, spawnTracked, stopTracked, sleep, installCleanupHandlers } from './proc.js';
import { median } from './stats.js';
import { repoRoot } from './util.js';
import { parseWrkOutput } from './wrk.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string' }, changes: { type: 'string' }, duration: { type: 'string' }, quick: { type: 'boolean', default: false },
    only: { type: 'string' },
  },
});
const quick = values.quick === true;
const ROUNDS = Number(values.rounds ?? (quick ? 1 : 3));
const CHANGES = Number(values.changes ?? (quick ? 10 : 30));
const DURATION_S = Number(values.duration ?? (quick ? 2 : 5));
const ROOT = repoRoot();
const LEGATE = join(ROOT, 'bin', 'legate');

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};
const ms = (x: number): string => `${x.toFixed(1)} ms`;
const gc = (): void => (globalThis as { gc?: () => void }).gc?.();

function writeAtomically(path: string, text: string): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

function get(port: number, agent: http.Agent): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
  });
}

// ---- 1. propagation ----

const listenerYaml = `"@type": type.googleapis.com/envoy.config.listener.v3.Listener
name: http
address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
filter_chains:
- filters:
  - name: envoy.filters.network.http_connection_manager
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
      stat_prefix: bench
      rds: { route_config_name: local, config_source: { ads: {}, resource_api_version: V3 } }
      http_filters: [{ name: envoy.filters.http.router, typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router } }]
`;
const routeYaml = (tag: string) => `"@type": type.googleapis.com/envoy.config.route.v3.RouteConfiguration
name: local
virtual_hosts:
- name: all
  domains: ["*"]
  routes: [{ match: { prefix: "/" }, direct_response: { status: 200, body: { inline_string: "${tag}" } } }]
`;

async function propagation(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'legate-bench-xds-'));
  writeAtomically(join(dir, 'listener.yaml'), listenerYaml);
  writeAtomically(join(dir, 'route.yaml'), routeYaml('v0'));
  const cpPort = await freePort();
  const cp = spawnTracked('control-plane', process.execPath, [LEGATE, 'control-plane', '--dir', dir, '--port', String(cpPort), '--admin-port', '0'], { cwd: ROOT });
  await waitFor(cp, /xDS listening on/);
  const boot = join(dir, '..', `legate-bench-proxy-${process.pid}.yaml`);
  writeFileSync(boot, adsBootstrapYaml({ xdsPort: cpPort, nodeId: 'bench', cds: false }));
  const proxy = spawnTracked('legate', process.execPath, [LEGATE, '-c', boot], { cwd: ROOT });
  const m = await waitFor(proxy, /listener 'http' listening on \S+:(\d+)/);
  const port = Number(m[1]);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const samples: number[] = [];
  try {
    for (let i = 1; i <= CHANGES; i++) {
      const tag = `v${i}`;
      const t0 = performance.now();
      writeAtomically(join(dir, 'route.yaml'), routeYaml(tag));
      for (;;) {
        if ((await get(port, agent)) === tag) break;
        if (performance.now() - t0 > 10_000) throw new Error(`change ${tag} not served within 10 s`);
      }
      samples.push(performance.now() - t0);
      await sleep(150 + Math.random() * 100);
    }
  } finally {
    agent.destroy();
    await stopTracked(proxy, 1000);
    await stopTracked(cp, 1000);
  }
  console.log(`\n== 1. file change in the control plane's directory → first request on the new route (${CHANGES} changes) ==`);
  console.log(`median ${ms(median(samples)!)}, p99 ${ms(pct(samples, 99))}, min ${ms(Math.min(...samples))}, max ${ms(Math.max(...samples))}`);
  console.log('(includes the control plane noticing the file: fs.watch plus its 25 ms debounce)');
}

function waitFor(p: ReturnType<typeof spawnTracked>, re: RegExp, timeoutMs = 15000): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => reject(new Error(`timed out waiting for ${re}:\n${out}`)), timeoutMs);
    p.proc.once('exit', (code) => { clearTimeout(t); reject(new Error(`${p.name} exited (${code}) before ${re}:\n${out}${p.tail()}`)); });
    const on = (d: Buffer): void => {
      out += d.toString();
      const m = out.match(re);
      if (m) { clearTimeout(t); p.proc.stdout?.off('data', on); p.proc.stderr?.off('data', on); resolve(m); }
    };
    p.proc.stdout?.on('data', on);
    p.proc.stderr?.on('data', on);
  });
}

// ---- 2. EDS of 10,000 endpoints ----

function bigAssignment(n: number, offset: number): ClusterLoadAssignment {
  const lbEndpoints = [];
  for (let i = 0; i < n; i++) {
    const k = i + offset;
    const socketAddress = { address: `10.${(k >> 16) & 255}.${(k >> 8) & 255}.${k & 255}`, portSpecifier: { case: 'portValue', value: 8080 } };
    lbEndpoints.push({ hostIdentifier: { case: 'endpoint', value: { address: { address: { case: 'socketAddress', value: socketAddress } } } } });
  }
  return create(messageSchema('envoy.config.endpoint.v3.ClusterLoadAssignment'), {
    clusterName: 'big',
    endpoints: [{ lbEndpoints, loadBalancingWeight: 1 }],
  } as never) as unknown as ClusterLoadAssignment;
}

async function eds(): Promise<void> {
  const N = 10_000;
  const cluster = edsClusterYaml('big').trim().split('\n').map((l, i) => (i === 0 ? `  - ${l}` : `    ${l}`)).join('\n');
  const proxy = await startProxy({ clusters: cluster });
  void proxy.cm.initialized(); // starts the EDS subscription
  const decodeMs: number[] = [];
  const applyMs: number[] = [];
  let heapMb = 0;
  try {
    gc();
    const heapBefore = process.memoryUsage().heapUsed;
    // The assignments are built (and serialized) up front: the rounds time only what the proxy does.
    const anys = [0, 1].map((k) => anyPack(messageSchema('envoy.config.endpoint.v3.ClusterLoadAssignment'), bigAssignment(N, k * (N / 2)) as never));
    // No forced gc() between rounds: a full GC shrinks V8's young generation, and the
    // next update then pays for many more scavenges than a running proxy ever would.
    for (let r = 0; r < ROUNDS + 1; r++) {
      // Half of the endpoints change each time, as a rolling deployment would.
      const any = anys[r % 2]!;
      const t0 = performance.now();
      const decoded = decodeResource(any, TypeUrl.ClusterLoadAssignment, 'bench');
      const t1 = performance.now();
      const errors = proxy.pushAssignments([decoded.message as ClusterLoadAssignment], [], `v${r}`);
      const t2 = performance.now();
      if (errors.length > 0) throw errors[0]!;
      if (proxy.stat('cluster.big.membership_total') !== N) throw new Error(`membership_total ${proxy.stat('cluster.big.membership_total')}`);
      if (r === 0) continue; // warm-up (first build of every host)
      decodeMs.push(t1 - t0);
      applyMs.push(t2 - t1);
    }
    anys.length = 0;
    gc();
    heapMb = (process.memoryUsage().heapUsed - heapBefore) / 1e6;
  } finally {
    proxy.close();
  }
  console.log(`\n== 2. EDS: a ClusterLoadAssignment of ${N.toLocaleString()} endpoints (half of them new each time; ${ROUNDS} rounds after a warm-up) ==`);
  console.log(`decode + validate (per response, the transport): median ${ms(median(decodeMs)!)} (${ms(Math.min(...decodeMs))}–${ms(Math.max(...decodeMs))})`);
  console.log(`apply to the EDS cluster:                         median ${ms(median(applyMs)!)} (${ms(Math.min(...applyMs))}–${ms(Math.max(...applyMs))})`);
  console.log(`heap held by the ${N.toLocaleString()} hosts (after GC):       ${heapMb.toFixed(1)} MB`);
  const total = decodeMs.map((d, i) => d + applyMs[i]!);
  console.log(`decode + validate + apply:                        median ${ms(median(total)!)} (${ms(Math.min(...total))}–${ms(Math.max(...total))}), p90 ${ms(pct(total, 90))}`);
}

// ---- 3. route tables ----

function routeConfig(n: number): RouteConfiguration {
  const routes = [];
  for (let i = 0; i < n; i++) {
    routes.push({ match: { pathSpecifier: { case: 'prefix', value: `/r${i}/` } }, action: { case: 'directResponse', value: { status: 200 } } });
  }
  return create(messageSchema('envoy.config.route.v3.RouteConfiguration'), {
    name: 'big', virtualHosts: [{ name: 'all', domains: ['*'], routes }],
  } as never) as unknown as RouteConfiguration;
}

function routesYaml(n: number, port: number): string {
  const routes: string[] = [];
  for (let i = 0; i < n; i++) routes.push(`              - { match: { prefix: "/r${i}/" }, direct_response: { status: 200, body: { inline_string: "ok" } } }`);
  return `static_resources:
  listeners:
  - name: http
    address: { socket_address: { address: 127.0.0.1, port_value: ${port} } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: bench
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
${routes.join('\n')}
          http_filters: [{ name: envoy.filters.http.router, typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router } }]
`;
}

async function routeTables(): Promise<void> {
  const compile: Record<number, number[]> = { 10: [], 10000: [] };
  for (let r = 0; r < 5; r++) {
    for (const n of [10, 10000]) {
      const cfg = routeConfig(n);
      const t0 = performance.now();
      compileRouteTable(cfg, { formatterFactory: (f: string) => compileFormat(f, { omitEmptyValues: true }), configDir: ROOT } as never);
      compile[n]!.push(performance.now() - t0);
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'legate-bench-routes-'));
  const rps: Record<number, number[]> = { 10: [], 10000: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const n of round % 2 === 0 ? [10, 10000] : [10000, 10]) {
      const port = await freePort();
      const cfg = join(dir, `routes-${n}.yaml`);
      writeFileSync(cfg, routesYaml(n, port));
      const legate = spawnTracked(`legate-${n}`, process.execPath, [LEGATE, '-c', cfg], { cwd: ROOT, cpu: '0' });
      await waitFor(legate, /listener 'http' listening/, 30000);
      const script = join(dir, `random-${n}.lua`);
      writeFileSync(script, `math.randomseed(${round + 1})\nrequest = function() return wrk.format("GET", "/r" .. math.random(0, ${n - 1}) .. "/x") end\n`);
      const wrk = spawn('taskset', ['-c', '1', 'wrk', '-t1', '-c16', `-d${DURATION_S}s`, '--latency', '-s', script, `http://127.0.0.1:${port}/`], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      wrk.stdout.on('data', (d) => { out += d; });
      await new Promise((r) => wrk.on('exit', r));
      await stopTracked(legate, 1000);
      const res = parseWrkOutput(out);
      if (res.non2xx > 0) throw new Error(`${n} routes: ${res.non2xx} non-2xx responses`);
      rps[n]!.push(res.rps);
      console.log(`  round ${round + 1}: ${n} routes ${Math.round(res.rps).toLocaleString()} req/s`);
    }
  }
  const ratio = median(rps[10000]!)! / median(rps[10]!)!;
  console.log(`\n== 3. route tables ==`);
  console.log(`compile a RouteConfiguration: 10 routes ${ms(median(compile[10]!)!)}, 10,000 routes ${ms(median(compile[10000]!)!)} (median of 5)`);
  console.log(`req/s (wrk -c16, random route, direct_response): 10 routes ${Math.round(median(rps[10]!)!).toLocaleString()}, 10,000 routes ${Math.round(median(rps[10000]!)!).toLocaleString()} → ${ratio.toFixed(2)}× (cost ${((1 - ratio) * 100).toFixed(1)}%)`);
}

installCleanupHandlers();
console.log(`Legate xDS bench (${ROUNDS} rounds, ${CHANGES} changes, ${DURATION_S} s runs)`);
// --only propagation|eds|routes runs one part (for profiling one of them).
const only = values.only;
if (only === undefined || only === 'propagation') await propagation();
if (only === undefined || only === 'eds') await eds();
if (only === undefined || only === 'routes') await routeTables();
process.exit(0);
