/**
 * Hash-based load balancing and priorities/localities through the proxy, with
 * real upstreams:
 *   - RING_HASH and MAGLEV with route hash_policy: header, cookie (generated
 *     with Set-Cookie when missing), source IP (from x-forwarded-for): one key
 *     always reaches one upstream, different keys spread;
 *   - priority failover and EDS health_status (a real Legate process reading
 *     EDS from a file): UNHEALTHY/TIMEOUT hosts get nothing, DRAINING hosts do
 *     not count toward the level's size, DEGRADED hosts only take what healthy
 *     hosts cannot, and the P0/P1 split follows the 1.4 overprovisioning factor;
 *   - locality_weighted_lb_config: traffic per locality follows its weight
 *     scaled by its availability;
 *   - impossible LB / hash_policy values are refused at load with the field.
 * Splits decided by random numbers are checked to 5 binomial standard deviations.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startInProcessProxy, type InProcessProxy } from '../support/in_process_proxy.js';
import { startLegate, type LegateProcess } from '../support/legate_process.js';
import { eventually, request, startUpstream, type TestServer } from '../support/http_util.js';

const N_UPSTREAMS = 5;

function endpoint(port: number, extra = ''): string {
  return `{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${port} } } }${extra} }`;
}

function hcm(routes: string): string {
  return `
  - name: ingress
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress
          route_config: { virtual_hosts: [{ name: all, domains: ["*"], routes: [${routes}] }] }
          http_filters: [{ name: envoy.filters.http.router, typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router } }]`;
}

/** Counts responses (upstream names) over `n` requests made by `make(i)`. */
async function tally(port: number, n: number, make: (i: number) => Parameters<typeof request>[1]): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const r = await request(port, make(i));
    assert.equal(r.status, 200, r.body);
    counts.set(r.body, (counts.get(r.body) ?? 0) + 1);
  }
  return counts;
}

function assertBinomial(count: number, n: number, p: number, what: string): void {
  const sd = Math.sqrt(n * p * (1 - p));
  assert.ok(Math.abs(count - n * p) <= 5 * sd, `${what}: ${count} of ${n}, expected ${(n * p).toFixed(1)} ± ${(5 * sd).toFixed(1)}`);
}

describe('hash-based load balancing through the proxy', () => {
  const upstreams: TestServer[] = [];
  let proxy: InProcessProxy;
  let port: number;

  before(async () => {
    for (let i = 0; i < N_UPSTREAMS; i++) upstreams.push(await startUpstream((_q, res) => res.end(`u${i}`)));
    const eps = upstreams.map((u) => endpoint(u.port)).join(', ');
    proxy = await startInProcessProxy(`
static_resources:
  listeners:${hcm(`
            { match: { prefix: /ring }, route: { cluster: ring, hash_policy: [{ header: { header_name: x-user } }] } },
            { match: { prefix: /maglev }, route: { cluster: maglev, hash_policy: [{ header: { header_name: x-user } }] } },
            { match: { prefix: /cookie }, route: { cluster: ring, hash_policy: [{ cookie: { name: sticky, ttl: 60s, path: / } }] } },
            { match: { prefix: /ip }, route: { cluster: maglev, hash_policy: [{ connection_properties: { source_ip: true } }] } },
            { match: { prefix: /none }, route: { cluster: ring } }`)}
  clusters:
  - name: ring
    lb_policy: RING_HASH
    ring_hash_lb_config: { minimum_ring_size: 2048 }
    load_assignment: { cluster_name: ring, endpoints: [{ lb_endpoints: [${eps}] }] }
  - name: maglev
    lb_policy: MAGLEV
    load_assignment: { cluster_name: maglev, endpoints: [{ lb_endpoints: [${eps}] }] }
`);
    port = proxy.ports.get('ingress')!;
  });
  after(async () => {
    proxy?.stop();
    for (const u of upstreams) await u.close();
  });

  for (const path of ['/ring', '/maglev']) {
    it(`${path}: each x-user sticks to one upstream; users spread over the upstreams`, async () => {
      const owner = new Map<string, string>();
      for (let round = 0; round < 3; round++) {
        for (let u = 0; u < 40; u++) {
          const r = await request(port, { path, headers: { 'x-user': `user-${u}` } });
          assert.equal(r.status, 200);
          const prev = owner.get(`user-${u}`);
          if (prev === undefined) owner.set(`user-${u}`, r.body);
          else assert.equal(r.body, prev, `user-${u} moved from ${prev} to ${r.body}`);
        }
      }
      // 40 users over 5 equal hosts: each host gets some (P(a host gets none) = 0.8^40 < 1e-3 per host).
      assert.equal(new Set(owner.values()).size, N_UPSTREAMS);
    });
  }

  it('ring stats: ring_hash_lb.size and hashes per host', () => {
    assert.equal(proxy.stat('cluster.ring.ring_hash_lb.size'), 2050); // ceil(2048 / 5) * 5
    assert.equal(proxy.stat('cluster.ring.ring_hash_lb.min_hashes_per_host'), 410);
    assert.ok((proxy.stat('cluster.maglev.maglev_lb.min_entries_per_host') ?? 0) >= 13000);
  });

  it('cookie: a missing cookie is generated and set (Max-Age, Path, HttpOnly); sending it back sticks', async () => {
    const first = await request(port, { path: '/cookie' });
    assert.equal(first.status, 200);
    const setCookie = first.headers['set-cookie'];
    assert.ok(Array.isArray(setCookie) && setCookie.length === 1, `set-cookie: ${String(setCookie)}`);
    const m = /^sticky="([0-9a-f]{16})"; Max-Age=60; Path=\/; HttpOnly$/.exec(setCookie[0]!);
    assert.ok(m, setCookie[0]);
    for (let i = 0; i < 10; i++) {
      const r = await request(port, { path: '/cookie', headers: { cookie: `other=1; sticky=${m[1]}` } });
      assert.equal(r.body, first.body, 'the generated value hashed to the host that served the first request');
      assert.equal(r.headers['set-cookie'], undefined, 'a present cookie is not set again');
    }
    // Different cookie values spread.
    const seen = new Set<string>();
    for (let i = 0; i < 40; i++) seen.add((await request(port, { path: '/cookie', headers: { cookie: `sticky=v${i}` } })).body);
    assert.ok(seen.size >= 3, `cookies reached ${seen.size} upstreams`);
  });

  it('source_ip: the client IP (x-forwarded-for) picks the upstream', async () => {
    const owner = new Map<string, string>();
    for (let round = 0; round < 2; round++) {
      for (let i = 1; i <= 30; i++) {
        const ip = `10.0.0.${i}`;
        const r = await request(port, { path: '/ip', headers: { 'x-forwarded-for': ip } });
        const prev = owner.get(ip);
        if (prev === undefined) owner.set(ip, r.body);
        else assert.equal(r.body, prev);
      }
    }
    assert.ok(new Set(owner.values()).size >= 3);
  });

  it('no hash_policy: ring hash picks at random over every upstream', async () => {
    const counts = await tally(port, 500, () => ({ path: '/none' }));
    assert.equal(counts.size, N_UPSTREAMS);
  });
});

describe('priorities and EDS health_status through a Legate process', () => {
  const p0: TestServer[] = [];
  let p1: TestServer;
  let legate: LegateProcess;
  let port: number;
  let edsFile: string;
  let version = 0;

  function writeEds(p0Statuses: string[], withP1 = true): void {
    const p0Eps = p0.map((u, i) => endpoint(u.port, p0Statuses[i] === 'ABSENT' ? '' : `, health_status: ${p0Statuses[i]}`)).join(', ');
    const text = `version_info: "v${++version}"
resources:
- "@type": type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment
  cluster_name: backend
  endpoints:
  - priority: 0
    lb_endpoints: [${p0Eps}]
${withP1 ? `  - priority: 1
    lb_endpoints: [${endpoint(p1.port)}]` : ''}
`;
    const tmp = `${edsFile}.tmp`;
    writeFileSync(tmp, text);
    renameSync(tmp, edsFile);
  }

  /** Waits until the proxy serves the new assignment: `probe` sees only what it allows. */
  async function settle(allowed: (name: string) => boolean): Promise<void> {
    await eventually(async () => {
      const counts = await tally(port, 40, () => ({ path: '/' }));
      return [...counts.keys()].every(allowed);
    }, 10000, 'EDS update applied');
  }

  before(async () => {
    for (let i = 0; i < 4; i++) p0.push(await startUpstream((_q, res) => res.end(`p0-${i}`)));
    p1 = await startUpstream((_q, res) => res.end('p1'));
    edsFile = join(mkdtempSync(join(tmpdir(), 'legate-eds-')), 'eds.yaml');
    writeEds(['HEALTHY', 'HEALTHY', 'UNHEALTHY', 'TIMEOUT']);
    legate = await startLegate(`
node: { id: n, cluster: c }
static_resources:
  listeners:${hcm('{ match: { prefix: / }, route: { cluster: backend } }')}
  clusters:
  - name: backend
    type: EDS
    connect_timeout: 1s
    eds_cluster_config:
      eds_config: { path_config_source: { path: ${edsFile} }, resource_api_version: V3 }
`, { expectListeners: ['ingress'] });
    port = legate.ports.get('ingress')!;
  });
  after(async () => {
    await legate?.stop();
    for (const u of [...p0, p1]) await u?.close();
  });

  it('2 of 4 P0 hosts healthy (UNHEALTHY, TIMEOUT): P0 gets 70 %, P1 30 %, the unhealthy get nothing', async () => {
    const n = 600;
    const counts = await tally(port, n, () => ({ path: '/' }));
    assert.equal(counts.get('p0-2') ?? 0, 0);
    assert.equal(counts.get('p0-3') ?? 0, 0);
    assertBinomial(counts.get('p1') ?? 0, n, 0.3, 'P1');
  });

  it('DRAINING hosts are excluded from the level size: 2 healthy + 2 draining keep P0 at 100 %', async () => {
    writeEds(['HEALTHY', 'HEALTHY', 'DRAINING', 'DRAINING']);
    await settle((name) => name === 'p0-0' || name === 'p0-1');
    const counts = await tally(port, 300, () => ({ path: '/' }));
    assert.deepEqual([...counts.keys()].sort(), ['p0-0', 'p0-1']);
  });

  it('every P0 host down: everything fails over to P1', async () => {
    writeEds(['UNHEALTHY', 'UNHEALTHY', 'TIMEOUT', 'UNHEALTHY']);
    await settle((name) => name === 'p1');
    const counts = await tally(port, 100, () => ({ path: '/' }));
    assert.deepEqual([...counts.entries()], [['p1', 100]]);
  });

  it('DEGRADED P0 hosts are not used while P1 has healthy capacity', async () => {
    writeEds(['DEGRADED', 'DEGRADED', 'UNHEALTHY', 'UNHEALTHY']);
    await settle((name) => name === 'p1');
    const counts = await tally(port, 200, () => ({ path: '/' }));
    assert.deepEqual([...counts.entries()], [['p1', 200]]);
  });

  it('DEGRADED hosts take the load healthy ones cannot: 1 healthy + 1 degraded of 4, no P1 -> 50/50', async () => {
    writeEds(['HEALTHY', 'DEGRADED', 'UNHEALTHY', 'UNHEALTHY'], false);
    await settle((name) => name === 'p0-0' || name === 'p0-1');
    const n = 600;
    const counts = await tally(port, n, () => ({ path: '/' }));
    assert.deepEqual([...counts.keys()].sort(), ['p0-0', 'p0-1']);
    // Healthy 35 and degraded 35 of 100 available, normalized to 50/50.
    assertBinomial(counts.get('p0-1') ?? 0, n, 0.5, 'degraded host');
  });
});

describe('locality_weighted_lb_config through the proxy', () => {
  const x: TestServer[] = [];
  const y: TestServer[] = [];
  let proxy: InProcessProxy;
  let port: number;

  before(async () => {
    for (let i = 0; i < 2; i++) x.push(await startUpstream((_q, res) => res.end(`x${i}`)));
    for (let i = 0; i < 2; i++) y.push(await startUpstream((_q, res) => res.end(`y${i}`)));
    const cluster = (name: string, xStatus: string) => `
  - name: ${name}
    common_lb_config: { locality_weighted_lb_config: {} }
    load_assignment:
      cluster_name: ${name}
      endpoints:
      - locality: { region: r, zone: x }
        load_balancing_weight: 1
        lb_endpoints: [${endpoint(x[0]!.port)}, ${endpoint(x[1]!.port, `, health_status: ${xStatus}`)}]
      - locality: { region: r, zone: y }
        load_balancing_weight: 2
        lb_endpoints: [${y.map((u) => endpoint(u.port)).join(', ')}]`;
    proxy = await startInProcessProxy(`
static_resources:
  listeners:${hcm(`
            { match: { prefix: /full }, route: { cluster: full } },
            { match: { prefix: /half }, route: { cluster: half } }`)}
  clusters:${cluster('full', 'HEALTHY')}${cluster('half', 'UNHEALTHY')}
`);
    port = proxy.ports.get('ingress')!;
  });
  after(async () => {
    proxy?.stop();
    for (const u of [...x, ...y]) await u.close();
  });

  it('every host healthy: localities get 1/3 and 2/3 (weighted round robin, exact over whole cycles)', async () => {
    const counts = await tally(port, 300, () => ({ path: '/full' }));
    const inX = (counts.get('x0') ?? 0) + (counts.get('x1') ?? 0);
    assert.ok(Math.abs(inX - 100) <= 1, `locality x got ${inX} of 300`);
    // Round robin inside each locality.
    assert.ok(Math.abs((counts.get('x0') ?? 0) - (counts.get('x1') ?? 0)) <= 1);
    assert.ok(Math.abs((counts.get('y0') ?? 0) - (counts.get('y1') ?? 0)) <= 1);
  });

  it('half of x unhealthy: x keeps weight 1 x min(1, 1.4 x 50 %) = 0.7, so 0.7/2.7 of the traffic', async () => {
    const counts = await tally(port, 270, () => ({ path: '/half' }));
    assert.equal(counts.get('x1') ?? 0, 0, 'the unhealthy host gets nothing');
    const inX = counts.get('x0') ?? 0;
    assert.ok(Math.abs(inX - 70) <= 1, `locality x got ${inX} of 270 (Envoy's table: 26 %)`);
  });
});

describe('impossible values are refused at load, naming the field', () => {
  async function rejects(clusterExtra: string, routeExtra: string, re: RegExp): Promise<void> {
    const yaml = `
static_resources:
  listeners:${hcm(`{ match: { prefix: / }, route: { cluster: c${routeExtra} } }`)}
  clusters:
  - name: c
${clusterExtra}
    load_assignment: { cluster_name: c, endpoints: [{ lb_endpoints: [${endpoint(1)}] }] }
`;
    await assert.rejects(startInProcessProxy(yaml), (e: Error) => {
      assert.match(e.message, re);
      return true;
    });
  }

  it('maglev table_size not prime, or above 5000011', async () => {
    await rejects('    lb_policy: MAGLEV\n    maglev_lb_config: { table_size: 65536 }', '',
      /clusters\[0\]\.maglev_lb_config\.table_size: The table size of maglev must be prime number, got 65536/);
    await rejects('    lb_policy: MAGLEV\n    maglev_lb_config: { table_size: 5000012 }', '',
      /clusters\[0\]\.maglev_lb_config\.table_size: value must be less than or equal to 5000011/);
  });

  it('minimum_ring_size above maximum_ring_size', async () => {
    await rejects('    lb_policy: RING_HASH\n    ring_hash_lb_config: { minimum_ring_size: 4096, maximum_ring_size: 1024 }', '',
      /clusters\[0\]\.ring_hash_lb_config: ring hash: minimum_ring_size \(4096\) > maximum_ring_size \(1024\)/);
  });

  it('bounded-load hash_balance_factor is refused as not supported yet, not ignored', async () => {
    await rejects('    lb_policy: RING_HASH\n    common_lb_config: { consistent_hashing_lb_config: { hash_balance_factor: 150 } }', '',
      /consistent_hashing_lb_config\.hash_balance_factor: bounded-load consistent hashing \(hash_balance_factor\) is not supported yet/);
  });

  it('a hash_policy entry without a policy', async () => {
    await rejects('    lb_policy: RING_HASH', ', hash_policy: [{ terminal: true }]',
      /route\.hash_policy\[0\]\.policy_specifier: value is required: set one of header, cookie, connection_properties, query_parameter, filter_state/);
  });
});
