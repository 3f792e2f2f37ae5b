// The reliability benchmark (`npm run bench:chaos`).
//
// 1. Chaos: three origins behind Legate with retries (connect-failure, reset,
//    5xx; previous_hosts), outlier detection and active HTTP health checks.
//    wrk keeps a steady load while, every few seconds, one origin is killed
//    (SIGKILL) and restarted on the same port a little later. Reported: the
//    share of requests answered 2xx (socket errors and timeouts count as
//    failures) and the p99 latency. Target: at least 99.9 % 2xx.
// 2. Cost when idle: requests/s through Legate with the same resilience
//    features configured but nothing failing, against the plain config,
//    alternating runs; median ratio and spread.
//
//   npm run bench:chaos -- [--duration 60] [--kill-every 5] [--down 2] [--rounds 3] [--idle-duration 5] [--quick] [--only chaos|idle]

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort, installCleanupHandlers, sleep, spawnTracked, stopTracked, waitForListening, waitHttpReady, type Tracked } from './proc.js';
import { median } from './stats.js';
import { repoRoot } from './util.js';
import { parseWrkOutput, startWrk, type WrkResult } from './wrk.js';

const { values } = parseArgs({
  options: {
    duration: { type: 'string' }, 'kill-every': { type: 'string' }, down: { type: 'string' },
    rounds: { type: 'string' }, 'idle-duration': { type: 'string' }, quick: { type: 'boolean', default: false },
    only: { type: 'string' },
  },
});
const quick = values.quick === true;
const DURATION_S = Number(values.duration ?? (quick ? 15 : 60));
const KILL_EVERY_S = Number(values['kill-every'] ?? 5);
const DOWN_S = Number(values.down ?? 2);
const ROUNDS = Number(values.rounds ?? (quick ? 1 : 3));
const IDLE_S = Number(values['idle-duration'] ?? (quick ? 3 : 5));
const ROOT = repoRoot();
const LEGATE = join(ROOT, 'bin', 'legate');
const ORIGIN = join(ROOT, 'dist', 'bench', 'origin.js');
const CONNECTIONS = 16;

/** The cluster with (or without) retries, outlier detection and health checks. */
function bootstrap(listenPort: number, adminPort: number, originPorts: number[], resilient: boolean): string {
  const endpoints = originPorts.map((p) => `          - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${p} } } }`).join('\n');
  const retry = resilient ? `
                  retry_policy:
                    retry_on: connect-failure,reset,5xx
                    num_retries: 3
                    per_try_timeout: 1s
                    retry_host_predicate: [{ name: envoy.retry_host_predicates.previous_hosts, typed_config: { "@type": type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate } }]
                    host_selection_retry_max_attempts: 3
                    retry_back_off: { base_interval: 0.005s, max_interval: 0.05s }` : '';
  const clusterExtras = resilient ? `
    outlier_detection:
      consecutive_5xx: 3
      consecutive_gateway_failure: 3
      enforcing_consecutive_gateway_failure: 100
      interval: 1s
      base_ejection_time: 3s
      max_ejection_percent: 50
    health_checks:
    - timeout: 0.25s
      interval: 0.5s
      unhealthy_threshold: 1
      healthy_threshold: 1
      no_traffic_interval: 0.5s
      http_health_check: { path: /small }
    circuit_breakers:
      thresholds: [{ max_retries: 1000 }]` : '';
  return `admin:
  address: { socket_address: { address: 127.0.0.1, port_value: ${adminPort} } }
static_resources:
  listeners:
  - name: chaos
    address: { socket_address: { address: 127.0.0.1, port_value: ${listenPort} } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: chaos
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: { prefix: "/" }
                route:
                  cluster: origins
                  timeout: 5s${retry}
          http_filters: [{ name: envoy.filters.http.router, typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router } }]
  clusters:
  - name: origins
    type: STATIC
    connect_timeout: 0.25s
    load_assignment:
      cluster_name: origins
      endpoints:
      - lb_endpoints:
${endpoints}${clusterExtras}
`;
}

async function startOrigin(port: number): Promise<Tracked> {
  const t = spawnTracked(`origin:${port}`, process.execPath, [ORIGIN, '--port', String(port), '--exit-with-stdin'], { stdinPipe: true });
  await waitForListening(t);
  return t;
}

async function startLegate(yaml: string, port: number): Promise<Tracked> {
  const dir = mkdtempSync(join(tmpdir(), 'legate-chaos-'));
  const file = join(dir, 'bootstrap.yaml');
  writeFileSync(file, yaml);
  const t = spawnTracked('legate', process.execPath, [LEGATE, '-c', file, '-l', 'warning'], { cwd: ROOT });
  await waitHttpReady(t, port, '/small', 10_000);
  return t;
}

function failures(r: WrkResult): number {
  const e = r.socketErrors;
  return (r.json?.non200 ?? r.non2xx) + e.connect + e.read + e.write + e.timeout;
}

async function chaos(): Promise<void> {
  const originPorts = [await freePort(), await freePort(), await freePort()];
  const origins = await Promise.all(originPorts.map(startOrigin));
  const port = await freePort();
  const adminPort = await freePort();
  const legate = await startLegate(bootstrap(port, adminPort, originPorts, true), port);
  let kills = 0;
  let stopping = false;
  try {
    await sleep(1500); // first health-check round
    const run = startWrk({ url: `http://127.0.0.1:${port}/small`, connections: CONNECTIONS, threads: 1, durationS: DURATION_S, timeoutS: 5 });
    // Kill one origin every KILL_EVERY_S seconds, in turn, and bring it back DOWN_S later.
    const chaosLoop = (async () => {
      for (let i = 0; !stopping; i++) {
        await sleep(KILL_EVERY_S * 1000 - DOWN_S * 1000);
        if (stopping) break;
        const k = i % origins.length;
        origins[k]!.proc.kill('SIGKILL');
        await origins[k]!.exited;
        kills++;
        await sleep(DOWN_S * 1000);
        if (stopping) break;
        origins[k] = await startOrigin(originPorts[k]!);
      }
    })();
    const { stdout } = await run.result;
    stopping = true;
    await chaosLoop;
    const r = parseWrkOutput(stdout);
    const failed = failures(r);
    const total = r.requests + r.socketErrors.connect + r.socketErrors.timeout;
    const share = (total - failed) / total;
    const stats = await (await fetch(`http://127.0.0.1:${adminPort}/stats`)).text();
    const stat = (name: string): string => new RegExp(`^${name.replace(/\./g, '\\.')}: (\\d+)$`, 'm').exec(stats)?.[1] ?? '0';
    console.log(`\n== 1. chaos: 3 origins, one killed every ${KILL_EVERY_S} s for ${DOWN_S} s (${kills} kills), wrk -c${CONNECTIONS} for ${DURATION_S} s ==`);
    console.log(`requests ${r.requests.toLocaleString()} (${Math.round(r.rps).toLocaleString()}/s), failed ${failed} (non-2xx ${r.json?.non200 ?? r.non2xx}, socket errors ${JSON.stringify(r.socketErrors)})`);
    console.log(`2xx share: ${(share * 100).toFixed(3)} % (target ≥ 99.9 %)  ${share >= 0.999 ? 'MET' : 'NOT MET'}`);
    console.log(`latency p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms`);
    console.log(`retries ${stat('cluster.origins.upstream_rq_retry')}, retry successes ${stat('cluster.origins.upstream_rq_retry_success')}, ` +
      `ejections ${stat('cluster.origins.outlier_detection.ejections_enforced_total')}, health-check failures ${stat('cluster.origins.health_check.failure')}, ` +
      `cx connect failures ${stat('cluster.origins.upstream_cx_connect_fail')}`);
  } finally {
    stopping = true;
    await stopTracked(legate);
    await Promise.all(origins.map((o) => stopTracked(o)));
  }
}

async function idleCost(): Promise<void> {
  const originPorts = [await freePort(), await freePort(), await freePort()];
  const origins = await Promise.all(originPorts.map(startOrigin));
  const rps: Record<'plain' | 'resilient', number[]> = { plain: [], resilient: [] };
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const kind of round % 2 === 0 ? ['plain', 'resilient'] as const : ['resilient', 'plain'] as const) {
        const port = await freePort();
        const legate = await startLegate(bootstrap(port, await freePort(), originPorts, kind === 'resilient'), port);
        try {
          // Warm-up, then the measured run.
          await startWrk({ url: `http://127.0.0.1:${port}/small`, connections: CONNECTIONS, threads: 1, durationS: 1 }).result;
          const { stdout } = await startWrk({ url: `http://127.0.0.1:${port}/small`, connections: CONNECTIONS, threads: 1, durationS: IDLE_S }).result;
          const r = parseWrkOutput(stdout);
          if (failures(r) > 0) throw new Error(`${kind}: ${failures(r)} failed requests with nothing failing`);
          rps[kind].push(r.rps);
        } finally {
          await stopTracked(legate);
        }
      }
    }
  } finally {
    await Promise.all(origins.map((o) => stopTracked(o)));
  }
  const ratios = rps.resilient.map((r, i) => r / rps.plain[i]!);
  console.log(`\n== 2. cost of retries + outlier detection + health checks when nothing fails (${ROUNDS} alternating rounds, ${IDLE_S} s each) ==`);
  console.log(`req/s plain ${Math.round(median(rps.plain)!).toLocaleString()}, with resilience ${Math.round(median(rps.resilient)!).toLocaleString()} → ratio median ${median(ratios)!.toFixed(3)} (${Math.min(...ratios).toFixed(3)}–${Math.max(...ratios).toFixed(3)})`);
}

installCleanupHandlers();
console.log(`Legate chaos bench (${DURATION_S} s chaos, ${ROUNDS} idle rounds)`);
// --only chaos|idle runs one part.
if (values.only === undefined || values.only === 'chaos') await chaos();
if (values.only === undefined || values.only === 'idle') await idleCost();
process.exit(0);
