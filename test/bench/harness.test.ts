// Unit tests for the macro bench's pure parts: wrk output parsing, run
// validity, round ordering, statistics, and the generated configs.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { legateBootstrapYaml } from '../../bench/peers/legate.js';
import { nginxConf } from '../../bench/peers/nginx.js';
import { median, ratios, roundOrder, summarize, type RunRecord } from '../../bench/stats.js';
import { invalidReasons, parseWrkOutput } from '../../bench/wrk.js';

const WRK_OK = `Running 10s test @ http://127.0.0.1:40000/small
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.31ms  450.12us  12.34ms   90.00%
    Req/Sec    21.80k     1.20k   23.00k    80.00%
  Latency Distribution
     50%  850.00us
     75%    2.45ms
     90%    2.70ms
     99%    1.02s
  217000 requests in 10.00s, 25.00MB read
Requests/sec:  21700.50
Transfer/sec:      2.50MB
WRK_JSON {"requests":217000,"duration_us":10000000,"bytes":1,"non200":0,"first_bad_status":0,"bad_body":0,"connect_errors":0,"read_errors":0,"write_errors":0,"status_errors":0,"timeouts":0,"lat_mean_us":2310.0,"lat_max_us":12340,"p50_us":850,"p90_us":2700,"p99_us":1020000,"p999_us":1100000}
`;

describe('wrk output', () => {
  it('parses req/s and the latency distribution', () => {
    const r = parseWrkOutput(WRK_OK);
    assert.equal(r.rps, 21700.5);
    assert.equal(r.p50Ms, 0.85);
    assert.equal(r.p75Ms, 2.45);
    assert.equal(r.p99Ms, 1020);
    assert.equal(r.requests, 217000);
    assert.equal(r.durationS, 10);
    assert.equal(r.json?.non200, 0);
    assert.deepEqual(invalidReasons(r), []);
  });

  it('marks runs with non-2xx, non-200 or socket errors invalid', () => {
    const bad = WRK_OK.replace(
      'Requests/sec',
      '  Non-2xx or 3xx responses: 12\n  Socket errors: connect 0, read 3, write 0, timeout 7\nRequests/sec',
    ).replace('"non200":0,"first_bad_status":0', '"non200":15,"first_bad_status":503');
    const r = parseWrkOutput(bad);
    const why = invalidReasons(r).join('; ');
    assert.match(why, /12 non-2xx/);
    assert.match(why, /3 socket read/);
    assert.match(why, /7 socket timeout/);
    assert.match(why, /15 responses not 200 \(e\.g\. 503\)/);
  });

  it('requires the status-check script to have reported', () => {
    const r = parseWrkOutput(WRK_OK.replace(/^WRK_JSON.*$/m, ''));
    assert.match(invalidReasons(r).join(), /WRK_JSON/);
  });

  it('rejects output without a latency distribution', () => {
    assert.throws(() => parseWrkOutput(WRK_OK.replace(/Latency Distribution[\s\S]*?99%.*\n/, '')));
  });
});

describe('round order', () => {
  for (const n of [4, 5, 8]) {
    it(`n=${n}: every combo once per round, once per slot, every ordered neighbour pair equally often`, () => {
      const combos = Array.from({ length: n }, (_, i) => String.fromCharCode(97 + i));
      const rounds = n % 2 === 0 ? n : 2 * n;
      const slots = combos.map(() => new Map<string, number>());
      const pairs = new Map<string, number>();
      for (let r = 0; r < rounds; r++) {
        const o = roundOrder(combos, r);
        assert.deepEqual([...o].sort(), combos);
        o.forEach((c, i) => slots[i]!.set(c, (slots[i]!.get(c) ?? 0) + 1));
        for (let i = 1; i < o.length; i++) pairs.set(o[i - 1]! + o[i]!, (pairs.get(o[i - 1]! + o[i]!) ?? 0) + 1);
      }
      for (const m of slots) assert.deepEqual(new Set(m.values()), new Set([rounds / n]));
      assert.equal(pairs.size, n * (n - 1));
      assert.deepEqual(new Set(pairs.values()), new Set([rounds / n]));
    });
  }
});

describe('stats', () => {
  const run = (round: number, peer: string, rps: number, valid = true): RunRecord => ({
    round,
    slot: 0,
    attempt: 0,
    peer,
    size: 'small',
    valid,
    invalidReasons: valid ? [] : ['x'],
    rps,
    p50Ms: 1,
    p99Ms: peer === 'legate' ? 4 : 2,
    peerCpuPct: 100,
    startedAt: '',
  });

  it('median', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 2, 3]), 2.5);
    assert.equal(median([]), undefined);
  });

  it('summarizes valid runs only and computes ratios', () => {
    const runs = [
      run(0, 'legate', 10),
      run(1, 'legate', 12),
      run(2, 'legate', 1000, false),
      { ...run(0, 'undici', 99), superseded: true },
      run(0, 'undici', 20),
      run(1, 'undici', 30),
      run(2, 'undici', 25),
    ];
    const sl = summarize(runs, 'legate', 'small');
    assert.equal(sl.validRuns, 2);
    assert.equal(sl.runs, 3);
    assert.equal(sl.rpsMedian, 11);
    assert.equal(sl.rpsMin, 10);
    assert.equal(sl.rpsMax, 12);
    const su = summarize(runs, 'undici', 'small');
    const [r] = ratios(runs, [sl, su], ['small'], [['legate', 'undici']]);
    assert.equal(r!.rps, 11 / 25);
    assert.equal(r!.pairedRounds, 2);
    assert.equal(r!.pairedMedian, (0.5 + 0.4) / 2);
    assert.equal(r!.p99, 2);
  });
});

describe('generated configs', () => {
  it('legate bootstrap: one listener, HCM + router, one STATIC cluster', () => {
    const doc = parseYaml(legateBootstrapYaml({ listenPort: 1111, originPort: 2222, adminPort: 3333 }));
    const sr = doc.static_resources;
    assert.equal(sr.listeners.length, 1);
    assert.equal(sr.listeners[0].address.socket_address.port_value, 1111);
    const hcm = sr.listeners[0].filter_chains[0].filters[0];
    assert.equal(hcm.name, 'envoy.filters.network.http_connection_manager');
    assert.equal(hcm.typed_config.stat_prefix, 'bench');
    assert.equal(hcm.typed_config.codec_type, 'AUTO');
    assert.equal(hcm.typed_config.access_log, undefined);
    assert.equal(hcm.typed_config.route_config.virtual_hosts[0].routes[0].route.cluster, 'origin');
    assert.deepEqual(
      hcm.typed_config.http_filters.map((f: { name: string }) => f.name),
      ['envoy.filters.http.router'],
    );
    assert.equal(sr.clusters.length, 1);
    assert.equal(sr.clusters[0].type, 'STATIC');
    assert.equal(
      sr.clusters[0].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value,
      2222,
    );
    assert.equal(doc.admin.address.socket_address.port_value, 3333);
  });

  it('nginx conf: one worker, keep-alive upstream, everything under the prefix', () => {
    const conf = nginxConf({ prefix: '/tmp/x', listenPort: 1111, originPort: 2222 });
    assert.match(conf, /worker_processes 1;/);
    assert.match(conf, /daemon off;/);
    assert.match(conf, /access_log off;/);
    assert.match(conf, /server 127\.0\.0\.1:2222;\s+keepalive 64;/);
    assert.match(conf, /proxy_http_version 1\.1;/);
    assert.match(conf, /proxy_set_header Connection "";/);
    assert.match(conf, /listen 127\.0\.0\.1:1111/);
    for (const m of conf.matchAll(/(?:pid|error_log|_temp_path) (\S+)/g)) assert.ok(m[1]!.startsWith('/tmp/x/'), m[0]);
  });
});
