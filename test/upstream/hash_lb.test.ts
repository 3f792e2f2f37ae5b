/**
 * Ring hash and Maglev load balancers: placement identical to Envoy (the ring
 * positions and table assignments of Envoy's own ring_hash_lb_test.cc and
 * maglev_lb_test.cc), weights, panic and priorities, host-selection retries,
 * random picks without a hash, and consistency when a host goes away.
 *
 * Statistical checks use a seeded generator and bounds of 5 binomial standard
 * deviations around the value an independent computation predicts, so they
 * neither flake nor pass for a broken balancer.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { LoadBalancerContext } from '../../src/envoy/upstream/cluster_manager.js';
import { HealthFlag, type Host } from '../../src/envoy/upstream/host.js';
import { xxHash64String } from '../../src/common/hash/xxhash64.js';
import { StatsStore } from '../../src/stats/stats_impl.js';
import { ClusterInfoImpl } from '../../src/upstream/cluster_info_impl.js';
import { HostImpl, type Locality } from '../../src/upstream/host_impl.js';
import { MaglevLoadBalancer, isPrime } from '../../src/upstream/maglev_lb.js';
import { PrioritySetImpl } from '../../src/upstream/priority_set_impl.js';
import { RingHashLoadBalancer, type RingHashOptions } from '../../src/upstream/ring_hash_lb.js';
import { localityKey } from '../../src/upstream/host_impl.js';
import { clusterFromYaml, seededRandom } from './helpers.js';

const U64_MAX = 0xffffffffffffffffn;

interface HostSpec {
  port: number;
  weight?: number;
  flags?: number;
  hostname?: string;
  hashKey?: string;
  locality?: Locality;
}

class Fixture {
  readonly store = new StatsStore();
  readonly info = new ClusterInfoImpl(clusterFromYaml('name: h'), { statsScope: this.store.rootScope, addedViaApi: false });
  readonly ps = new PrioritySetImpl();
  readonly random = seededRandom(7);

  hosts(priority: number, specs: HostSpec[], localityWeights?: Map<string, number>): HostImpl[] {
    const hosts = specs.map((s) => new HostImpl({
      cluster: this.info,
      address: '127.0.0.1',
      port: s.port,
      hostname: s.hostname ?? '',
      priority,
      weight: s.weight ?? 1,
      healthFlags: s.flags ?? 0,
      locality: s.locality,
      metadata: s.hashKey === undefined ? {} : { 'envoy.lb': { hash_key: s.hashKey } },
    }));
    this.ps.updateHosts(priority, hosts, hosts, [], undefined, localityWeights);
    return hosts;
  }

  ring(opts: Partial<RingHashOptions> = {}, panic = 50): RingHashLoadBalancer {
    return new RingHashLoadBalancer(this.ps, this.info.stats, this.random, panic, {
      minimumRingSize: opts.minimumRingSize ?? 1024,
      maximumRingSize: opts.maximumRingSize ?? 8 * 1024 * 1024,
      hashFunction: opts.hashFunction ?? 'xx_hash',
      useHostnameForHashing: opts.useHostnameForHashing ?? false,
      localityWeightedBalancing: opts.localityWeightedBalancing ?? false,
    }, this.info.statsScope);
  }

  maglev(tableSize = 65537, opts: { useHostname?: boolean; locality?: boolean } = {}): MaglevLoadBalancer {
    return new MaglevLoadBalancer(this.ps, this.info.stats, this.random, 50, {
      tableSize,
      useHostnameForHashing: opts.useHostname ?? false,
      localityWeightedBalancing: opts.locality ?? false,
    }, this.info.statsScope);
  }

  gauge(name: string): number | undefined {
    return this.store.gauges.get(`cluster.h.${name}`)?.value();
  }

  panicCount(): number {
    return this.store.counters.get('cluster.h.lb_healthy_panic')?.value() ?? 0;
  }
}

/** A context that hashes to `hash` (null: no hash policy produced one). */
function ctx(hash: bigint | null, reject?: (h: Host) => boolean, retries = 0): LoadBalancerContext {
  return {
    computeHashKey: () => hash,
    downstreamHeaders: () => null,
    shouldSelectAnotherHost: (h) => reject?.(h) ?? false,
    hostSelectionRetryCount: () => retries,
  };
}

const ports = (from: number, n: number): HostSpec[] => Array.from({ length: n }, (_, i) => ({ port: from + i }));
const portOf = (h: Host | null): number | undefined => h?.port;

/** Keys as a hash policy would produce them: XXH64 of distinct strings. */
function keys(n: number, prefix = 'user-'): bigint[] {
  return Array.from({ length: n }, (_, i) => xxHash64String(`${prefix}${i}`));
}

describe('ring hash: Envoy placement (ring_hash_lb_test.cc)', () => {
  test('Basic: 6 hosts, minimum_ring_size 12, xxHash of "ip:port_i"', () => {
    const f = new Fixture();
    f.hosts(0, ports(90, 6));
    const lb = f.ring({ minimumRingSize: 12 });
    assert.equal(f.gauge('ring_hash_lb.size'), 12);
    assert.equal(f.gauge('ring_hash_lb.min_hashes_per_host'), 2);
    assert.equal(f.gauge('ring_hash_lb.max_hashes_per_host'), 2);
    // Ring: :94 833437586790550860 (first), ... :95 3551244743356806947, :93 3851675632748031481 ...
    assert.equal(portOf(lb.chooseHost(ctx(0n))), 94);
    assert.equal(portOf(lb.chooseHost(ctx(U64_MAX))), 94, 'past the last point wraps to the first');
    assert.equal(portOf(lb.chooseHost(ctx(3551244743356806947n))), 95, 'a hash equal to a point picks that point');
    assert.equal(portOf(lb.chooseHost(ctx(3551244743356806948n))), 93);
    assert.equal(portOf(lb.chooseHost(ctx(16117243373044804880n))), 90);
    assert.equal(f.panicCount(), 0);

    // Every host unhealthy: panic, the ring is built over all hosts.
    for (const h of f.ps.hostSetsPerPriority[0].hosts) (h as HostImpl).healthFlags = HealthFlag.FailedActiveHc;
    f.ps.refreshHealth(0);
    assert.equal(portOf(lb.chooseHost(ctx(0n))), 94);
    assert.equal(f.panicCount(), 1);
  });

  test('MURMUR_HASH_2 ring', () => {
    const f = new Fixture();
    f.hosts(0, ports(80, 6));
    const lb = f.ring({ minimumRingSize: 12, hashFunction: 'murmur_hash_2' });
    assert.equal(f.gauge('ring_hash_lb.size'), 12);
    assert.equal(portOf(lb.chooseHost(ctx(0n))), 85);
    assert.equal(portOf(lb.chooseHost(ctx(U64_MAX))), 85);
    assert.equal(portOf(lb.chooseHost(ctx(1358027074129602068n))), 85);
    assert.equal(portOf(lb.chooseHost(ctx(1358027074129602069n))), 83);
    assert.equal(portOf(lb.chooseHost(ctx(10150910876324007730n))), 82);
  });

  test('use_hostname_for_hashing, and the envoy.lb hash_key metadata, place hosts by that string', () => {
    for (const mode of ['hostname', 'hash_key'] as const) {
      const f = new Fixture();
      f.hosts(0, ports(90, 6).map((s) => mode === 'hostname' ? { ...s, hostname: String(s.port) } : { ...s, hashKey: String(s.port) }));
      const lb = f.ring({ minimumRingSize: 12, useHostnameForHashing: mode === 'hostname' });
      // Ring: 95 1975508444536362413, ..., 93 6803900775736438537, 92 7225015537174310577, ...
      assert.equal(portOf(lb.chooseHost(ctx(0n))), 95, mode);
      assert.equal(portOf(lb.chooseHost(ctx(U64_MAX))), 95, mode);
      assert.equal(portOf(lb.chooseHost(ctx(7225015537174310577n))), 92, mode);
      assert.equal(portOf(lb.chooseHost(ctx(6803900775736438537n))), 93, mode);
    }
  });

  test('use_hostname_for_hashing on hosts without a hostname places them by ip:port (not all on one key)', () => {
    const f = new Fixture();
    f.hosts(0, ports(90, 6));
    const lb = f.ring({ minimumRingSize: 12, useHostnameForHashing: true });
    assert.equal(portOf(lb.chooseHost(ctx(0n))), 94);
    assert.equal(portOf(lb.chooseHost(ctx(3551244743356806948n))), 93);
  });

  test('failover: the hash picks the priority (hash % 100 against the 70/30 load), as Envoy', () => {
    const f = new Fixture();
    f.hosts(0, [{ port: 80 }, { port: 81, flags: HealthFlag.FailedActiveHc }]);
    f.hosts(1, [{ port: 82 }]);
    const lb = f.ring({ minimumRingSize: 12 });
    assert.equal(portOf(lb.chooseHost(ctx(69n))), 80);
    assert.equal(portOf(lb.chooseHost(ctx(71n))), 82);
    assert.equal(portOf(lb.chooseHost(ctx(169n))), 80);
    assert.equal(portOf(lb.chooseHost(ctx(199n))), 82);
  });
});

describe('maglev: Envoy placement (maglev_lb_test.cc)', () => {
  test('Basic: 6 hosts in a table of 7', () => {
    const f = new Fixture();
    f.hosts(0, ports(90, 6));
    const lb = f.maglev(7);
    assert.equal(f.gauge('maglev_lb.min_entries_per_host'), 1);
    assert.equal(f.gauge('maglev_lb.max_entries_per_host'), 2);
    const expected = [92, 94, 90, 91, 95, 90, 93];
    for (let i = 0; i < 21; i++) assert.equal(portOf(lb.chooseHost(ctx(BigInt(i)))), expected[i % 7], `hash ${i}`);
  });

  test('isPrime', () => {
    assert.deepEqual([1, 2, 3, 4, 7, 8, 9, 65537, 65541, 5000011, 5000013].map(isPrime),
      [false, true, true, false, true, false, false, true, false, true, false]);
  });

  test('a table size that is not prime is refused', () => {
    const f = new Fixture();
    assert.throws(() => f.maglev(8), /not a prime/);
  });
});

describe('weights', () => {
  test('ring: points per host follow the normalized weights (1:2:3 -> 171:342:513 of 1026)', () => {
    const f = new Fixture();
    f.hosts(0, [{ port: 1, weight: 1 }, { port: 2, weight: 2 }, { port: 3, weight: 3 }]);
    f.ring();
    assert.equal(f.gauge('ring_hash_lb.size'), 1026);
    assert.equal(f.gauge('ring_hash_lb.min_hashes_per_host'), 171);
    assert.equal(f.gauge('ring_hash_lb.max_hashes_per_host'), 513);
  });

  test('ring: maximum_ring_size caps the ring', () => {
    const f = new Fixture();
    f.hosts(0, [{ port: 1, weight: 1 }, { port: 2, weight: 1000 }]);
    f.ring({ maximumRingSize: 2000 });
    assert.equal(f.gauge('ring_hash_lb.size'), 2000);
    assert.equal(f.gauge('ring_hash_lb.min_hashes_per_host'), 2);
  });

  test('maglev: table entries follow the weights (1:3 of 65537)', () => {
    const f = new Fixture();
    f.hosts(0, [{ port: 1, weight: 1 }, { port: 2, weight: 3 }]);
    const lb = f.maglev();
    const min = f.gauge('maglev_lb.min_entries_per_host')!;
    const max = f.gauge('maglev_lb.max_entries_per_host')!;
    assert.equal(min + max, 65537);
    assert.ok(Math.abs(min - 65537 / 4) <= 2, `light host has ${min} entries`);
    // Hash values are uniform over the table: the share of random keys follows the entries.
    const n = 20000;
    let light = 0;
    for (const k of keys(n)) if (portOf(lb.chooseHost(ctx(k))) === 1) light++;
    const p = min / 65537;
    const sd = Math.sqrt(n * p * (1 - p));
    assert.ok(Math.abs(light - n * p) <= 5 * sd, `light host got ${light} of ${n}, expected ${n * p} ± ${5 * sd}`);
  });
});

describe('picks', () => {
  test('the same key always reaches the same host, also from a second balancer over the same hosts', () => {
    const f = new Fixture();
    f.hosts(0, ports(8000, 10));
    for (const make of [() => f.ring(), () => f.maglev()]) {
      const a = make();
      const b = make();
      const seen = new Set<number>();
      for (const k of keys(500)) {
        const h = a.chooseHost(ctx(k));
        assert.equal(a.chooseHost(ctx(k)), h);
        assert.equal(b.chooseHost(ctx(k)), h);
        seen.add(h!.port);
      }
      assert.equal(seen.size, 10, 'different keys spread over every host');
    }
  });

  test('without a hash the pick is random over 64 bits: shares match each host’s arc of the ring', () => {
    const f = new Fixture();
    f.hosts(0, ports(90, 6));
    const lb = f.ring({ minimumRingSize: 60 });
    // Oracle: the arc of the ring (fraction of 2^64) that ends at each host's points.
    const points: Array<{ h: bigint; port: number }> = [];
    for (let port = 90; port < 96; port++) for (let i = 0; i < 10; i++) points.push({ h: xxHash64String(`127.0.0.1:${port}_${i}`), port });
    points.sort((a, b) => (a.h < b.h ? -1 : a.h > b.h ? 1 : 0));
    const share = new Map<number, number>();
    for (let i = 0; i < points.length; i++) {
      const prev = i === 0 ? points[points.length - 1].h - (1n << 64n) : points[i - 1].h;
      share.set(points[i].port, (share.get(points[i].port) ?? 0) + Number(points[i].h - prev) / 2 ** 64);
    }
    const n = 12000;
    const counts = new Map<number, number>();
    for (let i = 0; i < n; i++) {
      const port = lb.chooseHost(null)!.port;
      counts.set(port, (counts.get(port) ?? 0) + 1);
    }
    for (const [port, p] of share) {
      const sd = Math.sqrt(n * p * (1 - p));
      const c = counts.get(port) ?? 0;
      assert.ok(Math.abs(c - n * p) <= 5 * sd, `:${port} got ${c}, expected ${(n * p).toFixed(0)} ± ${(5 * sd).toFixed(0)}`);
    }
  });

  test('priorities by hash: 2 of 4 P0 hosts healthy sends 70% of keys to P0, 30% to P1', () => {
    const f = new Fixture();
    const down = HealthFlag.FailedOutlierCheck;
    f.hosts(0, [{ port: 1 }, { port: 2 }, { port: 3, flags: down }, { port: 4, flags: down }]);
    f.hosts(1, [{ port: 5 }, { port: 6 }]);
    for (const lb of [f.ring(), f.maglev()]) {
      const n = 10000;
      let p1 = 0;
      for (const k of keys(n)) {
        const port = lb.chooseHost(ctx(k))!.port;
        assert.ok(port !== 3 && port !== 4, 'unhealthy hosts are not in the ring');
        if (port >= 5) p1++;
      }
      const sd = Math.sqrt(n * 0.3 * 0.7);
      assert.ok(Math.abs(p1 - 0.3 * n) <= 5 * sd, `P1 got ${p1} of ${n}`);
    }
  });

  test('below the panic threshold the ring spans every host; panic is counted', () => {
    const f = new Fixture();
    const down = HealthFlag.FailedActiveHc;
    f.hosts(0, [{ port: 1 }, { port: 2, flags: down }, { port: 3, flags: down }, { port: 4, flags: down }]);
    const lb = f.ring();
    const seen = new Set<number>();
    for (const k of keys(400)) seen.add(lb.chooseHost(ctx(k))!.port);
    assert.deepEqual([...seen].sort(), [1, 2, 3, 4]);
    assert.equal(f.panicCount(), 400);
  });

  test('a level with only degraded hosts is served by them (not an empty ring)', () => {
    const f = new Fixture();
    f.hosts(0, [{ port: 1, flags: HealthFlag.DegradedEdsHealth }, { port: 2, flags: HealthFlag.DegradedEdsHealth }]);
    for (const lb of [f.ring(), f.maglev()]) {
      const seen = new Set<number>();
      for (const k of keys(200)) seen.add(lb.chooseHost(ctx(k))!.port);
      assert.deepEqual([...seen].sort(), [1, 2]);
    }
    assert.equal(f.panicCount(), 0);
  });

  test('no hosts: null', () => {
    const f = new Fixture();
    assert.equal(f.ring().chooseHost(ctx(1n)), null);
    assert.equal(f.maglev().chooseHost(null), null);
  });

  test('host-selection retries move to another position until the predicate accepts', () => {
    const f = new Fixture();
    f.hosts(0, ports(90, 6));
    for (const lb of [f.ring({ minimumRingSize: 12 }), f.maglev(7)]) {
      const first = lb.chooseHost(ctx(0n))!;
      let asked = 0;
      const other = lb.chooseHost(ctx(0n, (h) => { asked++; return h === first; }, 5))!;
      assert.notEqual(other, first);
      assert.ok(asked >= 2);
      // Without a retry budget the rejected host is still returned.
      assert.equal(lb.chooseHost(ctx(0n, (h) => h === first, 0)), first);
    }
  });
});

describe('consistency when one of 10 hosts goes away (10,000 keys)', () => {
  const N = 10;
  const K = 10000;

  function mapping(lb: { chooseHost(c: LoadBalancerContext | null): Host | null }, ks: bigint[]): number[] {
    return ks.map((k) => lb.chooseHost(ctx(k))!.port);
  }

  test('maglev: the removed host’s keys move, and only a few others', () => {
    const f = new Fixture();
    const hosts = f.hosts(0, ports(7000, N));
    const lb = f.maglev();
    const ks = keys(K);
    const before = mapping(lb, ks);
    const removed = 7004;
    f.ps.updateHosts(0, hosts.filter((h) => h.port !== removed), [], [hosts[4]]);
    const after = mapping(lb, ks);
    let onRemoved = 0;
    let survivorsMoved = 0;
    for (let i = 0; i < K; i++) {
      assert.notEqual(after[i], removed);
      if (before[i] === removed) onRemoved++;
      else if (after[i] !== before[i]) survivorsMoved++;
    }
    // The removed host had ~1/N of the keys (binomial, 5 sd)...
    const sd = Math.sqrt(K * (1 / N) * (1 - 1 / N));
    assert.ok(Math.abs(onRemoved - K / N) <= 5 * sd, `removed host had ${onRemoved}`);
    // ...and Maglev disturbs few other slots (the paper's "minimal disruption"; about 1-2% here).
    assert.ok(survivorsMoved <= 0.03 * K, `${survivorsMoved} keys moved between surviving hosts`);
    // Putting the host back restores the exact mapping.
    f.ps.updateHosts(0, hosts, [hosts[4]], []);
    assert.deepEqual(mapping(lb, ks), before);
  });

  test('ring hash: the removed host’s keys move; a key moves between survivors only to a point the rescaled ring added', () => {
    const f = new Fixture();
    const hosts = f.hosts(0, ports(7000, N));
    const lb = f.ring();
    const perHostBefore = f.gauge('ring_hash_lb.min_hashes_per_host')!;
    assert.equal(perHostBefore, 103); // ceil(1024 / 10)
    const ks = keys(K);
    const before = mapping(lb, ks);
    const removed = 7004;
    f.ps.updateHosts(0, hosts.filter((h) => h.port !== removed), [], [hosts[4]]);
    const perHostAfter = f.gauge('ring_hash_lb.min_hashes_per_host')!;
    assert.equal(perHostAfter, 114); // ceil(1024 / 9): Envoy keeps the ring size, so survivors gain points
    const after = mapping(lb, ks);

    // Oracle: the rescaled ring, with each point marked new when its index is past the old count.
    const points: Array<{ h: bigint; isNew: boolean }> = [];
    for (const h of hosts) {
      if (h.port === removed) continue;
      for (let i = 0; i < perHostAfter; i++) points.push({ h: xxHash64String(`127.0.0.1:${h.port}_${i}`), isNew: i >= perHostBefore });
    }
    points.sort((a, b) => (a.h < b.h ? -1 : a.h > b.h ? 1 : 0));
    const successor = (k: bigint): { h: bigint; isNew: boolean } => points.find((p) => p.h >= k) ?? points[0];

    let onRemoved = 0;
    let survivorsMoved = 0;
    for (let i = 0; i < K; i++) {
      assert.notEqual(after[i], removed);
      if (before[i] === removed) {
        onRemoved++;
      } else if (after[i] !== before[i]) {
        survivorsMoved++;
        assert.ok(successor(ks[i]).isNew, `key ${i} moved from :${before[i]} to :${after[i]} without a new point`);
      }
    }
    const sd = (p: number): number => Math.sqrt(K * p * (1 - p));
    // The removed host's share: its 103 of 1030 points, ~1/N of the keys.
    assert.ok(Math.abs(onRemoved - K / N) <= 5 * sd(1 / N) + 0.05 * K, `removed host had ${onRemoved}`);
    // At most the keys the 99 new points (of 1026) capture.
    const newShare = (9 * (perHostAfter - perHostBefore)) / (9 * perHostAfter);
    assert.ok(survivorsMoved <= K * newShare + 5 * sd(newShare), `${survivorsMoved} keys moved between survivors`);
    f.ps.updateHosts(0, hosts, [hosts[4]], []);
    assert.deepEqual(mapping(lb, ks), before);
  });
});

describe('locality weights (locality_weighted_lb_config)', () => {
  const X: Locality = { region: 'r', zone: 'x', subZone: '' };
  const Y: Locality = { region: 'r', zone: 'y', subZone: '' };

  test('ring and maglev shares follow locality weight x host weight', () => {
    const f = new Fixture();
    const w = new Map([[localityKey(X), 1], [localityKey(Y), 3]]);
    f.hosts(0, [{ port: 1, locality: X }, { port: 2, locality: Y }], w);
    f.ring({ localityWeightedBalancing: true });
    // Normalized 0.25 / 0.75: ceil(0.25 * 1024) / 0.25 = 1024 points, 256 and 768.
    assert.equal(f.gauge('ring_hash_lb.size'), 1024);
    assert.equal(f.gauge('ring_hash_lb.min_hashes_per_host'), 256);
    assert.equal(f.gauge('ring_hash_lb.max_hashes_per_host'), 768);
    f.maglev(65537, { locality: true });
    assert.ok(Math.abs(f.gauge('maglev_lb.min_entries_per_host')! - 65537 / 4) <= 2);
  });

  test('a locality of weight 0 gets no keys; without locality weighting it does', () => {
    const f = new Fixture();
    const w = new Map([[localityKey(X), 0], [localityKey(Y), 1]]);
    f.hosts(0, [{ port: 1, locality: X }, { port: 2, locality: Y }], w);
    const weighted = f.ring({ localityWeightedBalancing: true });
    const plain = f.ring();
    const seenWeighted = new Set<number>();
    const seenPlain = new Set<number>();
    for (const k of keys(300)) {
      seenWeighted.add(weighted.chooseHost(ctx(k))!.port);
      seenPlain.add(plain.chooseHost(ctx(k))!.port);
    }
    assert.deepEqual([...seenWeighted], [2]);
    assert.deepEqual([...seenPlain].sort(), [1, 2]);
  });
});
