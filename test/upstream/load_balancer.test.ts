/**
 * Load balancer behaviour: round robin (plain and EDF-weighted), least
 * request (P2C, full scan, weighted), random, panic mode, priority spill-over
 * by the overprovisioning factor, and host-selection retries.
 *
 * Statistical tests use a seeded generator, thousands of picks and tolerances
 * of many standard deviations, so they cannot flake.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { LoadBalancerContext } from '../../src/envoy/upstream/cluster_manager.js';
import { HealthFlag, type Host } from '../../src/envoy/upstream/host.js';
import { StatsStore } from '../../src/stats/stats_impl.js';
import { ClusterInfoImpl } from '../../src/upstream/cluster_info_impl.js';
import { HostImpl } from '../../src/upstream/host_impl.js';
import { LeastRequestLoadBalancer } from '../../src/upstream/least_request_lb.js';
import { LoadBalancerBase, type RandomGenerator } from '../../src/upstream/load_balancer_impl.js';
import { PrioritySetImpl } from '../../src/upstream/priority_set_impl.js';
import { RandomLoadBalancer } from '../../src/upstream/random_lb.js';
import { RoundRobinLoadBalancer } from '../../src/upstream/round_robin_lb.js';
import { clusterFromYaml, seededRandom } from './helpers.js';

interface HostSpec {
  weight?: number;
  flags?: number;
  active?: number;
}

class Fixture {
  readonly store = new StatsStore();
  readonly info = new ClusterInfoImpl(clusterFromYaml('name: lb'), { statsScope: this.store.rootScope, addedViaApi: false });
  readonly ps = new PrioritySetImpl();
  readonly random: RandomGenerator;

  constructor(seed = 42) {
    this.random = seededRandom(seed);
  }

  /** Sets the hosts of `priority`; names are `p<priority>-<i>`. */
  hosts(priority: number, specs: HostSpec[], overprovisioningFactor?: number): HostImpl[] {
    const hosts = specs.map(
      (s, i) =>
        new HostImpl({
          cluster: this.info,
          address: `10.${priority}.0.${i + 1}`,
          port: 80,
          hostname: `p${priority}-${i}`,
          priority,
          weight: s.weight ?? 1,
          healthFlags: s.flags ?? 0,
        }),
    );
    specs.forEach((s, i) => {
      hosts[i].activeRequests = s.active ?? 0;
    });
    this.ps.updateHosts(priority, hosts, hosts, [], overprovisioningFactor);
    return hosts;
  }

  rr(panic = 50): RoundRobinLoadBalancer {
    return new RoundRobinLoadBalancer(this.ps, this.info.stats, this.random, panic);
  }

  lr(opts: Partial<{ choiceCount: number; activeRequestBias: number; fullScan: boolean }> = {}, panic = 50): LeastRequestLoadBalancer {
    return new LeastRequestLoadBalancer(this.ps, this.info.stats, this.random, panic, {
      choiceCount: opts.choiceCount ?? 2,
      activeRequestBias: opts.activeRequestBias ?? 1,
      fullScan: opts.fullScan ?? false,
    });
  }

  random_(panic = 50): RandomLoadBalancer {
    return new RandomLoadBalancer(this.ps, this.info.stats, this.random, panic);
  }

  panicCount(): number {
    return this.store.counters.get('cluster.lb.lb_healthy_panic')?.value() ?? 0;
  }
}

function counts(lb: { chooseHost(c: LoadBalancerContext | null): Host | null }, n: number): Map<string, number> {
  const m = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const h = lb.chooseHost(null);
    const k = h === null ? 'null' : h.hostname;
    m.set(k, (m.get(k) ?? 0) + 1);
  }
  return m;
}

const UNHEALTHY = HealthFlag.FailedActiveHc;

describe('round robin', () => {
  test('equal weights: strict rotation over every host', () => {
    const f = new Fixture();
    f.hosts(0, [{}, {}, {}]);
    const lb = f.rr();
    const picks = Array.from({ length: 12 }, () => lb.chooseHost(null)?.hostname);
    // Every window of 3 has each host once, and the order repeats with period 3.
    for (let i = 0; i + 3 <= picks.length; i++) {
      assert.deepEqual(new Set(picks.slice(i, i + 3)).size, 3, `window ${i}: ${picks.join(',')}`);
    }
    for (let i = 3; i < picks.length; i++) assert.equal(picks[i], picks[i - 3]);
  });

  test('rotation skips unhealthy hosts', () => {
    const f = new Fixture();
    f.hosts(0, [{}, { flags: UNHEALTHY }, {}, {}]);
    const c = counts(f.rr(), 300);
    assert.equal(c.get('p0-1'), undefined);
    assert.deepEqual([c.get('p0-0'), c.get('p0-2'), c.get('p0-3')], [100, 100, 100]);
  });

  test('weighted: EDF gives exact proportions over whole cycles', () => {
    const f = new Fixture();
    f.hosts(0, [{ weight: 1 }, { weight: 2 }, { weight: 3 }]);
    const c = counts(f.rr(), 600);
    // EDF is deterministic: each host is within one pick of its exact share.
    assert.ok(Math.abs((c.get('p0-0') ?? 0) - 100) <= 1, `${[...c]}`);
    assert.ok(Math.abs((c.get('p0-1') ?? 0) - 200) <= 1, `${[...c]}`);
    assert.ok(Math.abs((c.get('p0-2') ?? 0) - 300) <= 1, `${[...c]}`);
  });

  test('weighted: smooth, the heavy host is never picked many times in a row', () => {
    const f = new Fixture();
    f.hosts(0, [{ weight: 1 }, { weight: 1 }, { weight: 4 }]);
    const lb = f.rr();
    let run = 0;
    let maxRun = 0;
    for (let i = 0; i < 600; i++) {
      run = lb.chooseHost(null)?.hostname === 'p0-2' ? run + 1 : 0;
      maxRun = Math.max(maxRun, run);
    }
    assert.ok(maxRun <= 4, `max run ${maxRun}`);
  });

  test('host updates re-schedule: a new host gets traffic', () => {
    const f = new Fixture();
    f.hosts(0, [{}, {}]);
    const lb = f.rr();
    f.hosts(0, [{}, {}, {}]);
    const c = counts(lb, 300);
    assert.deepEqual([c.get('p0-0'), c.get('p0-1'), c.get('p0-2')], [100, 100, 100]);
  });
});

describe('least request', () => {
  test('full scan always picks the idle host', () => {
    const f = new Fixture();
    f.hosts(0, [{ active: 5 }, { active: 0 }, { active: 3 }]);
    const c = counts(f.lr({ fullScan: true }), 200);
    assert.equal(c.get('p0-1'), 200);
  });

  test('P2C prefers idle hosts: the idle one of three wins ~5/9 of picks (random would be 1/3)', () => {
    const f = new Fixture();
    f.hosts(0, [{ active: 0 }, { active: 5 }, { active: 5 }]);
    const n = 4000;
    const c = counts(f.lr(), n);
    const frac = (c.get('p0-0') ?? 0) / n;
    // Expected 1 - (2/3)^2 = 0.556; sd ~0.008. Tolerance > 10 sd.
    assert.ok(frac > 0.46 && frac < 0.65, `idle fraction ${frac}`);
  });

  test('choice_count: more samples, (almost) always the idle host', () => {
    const f = new Fixture();
    f.hosts(0, [{ active: 7 }, { active: 0 }]);
    const n = 2000;
    const c = counts(f.lr({ choiceCount: 10 }), n);
    // Busy only if all 10 samples hit the busy host: 1/1024.
    assert.ok((c.get('p0-1') ?? 0) / n > 0.98, `${[...c]}`);
  });

  test('weighted mode: weight / (active + 1)^bias steers away from a loaded heavy host', () => {
    const f = new Fixture();
    // Weights differ -> EDF with effective weights 2/10 = 0.2 vs 1/1 = 1.
    f.hosts(0, [{ weight: 2, active: 9 }, { weight: 1, active: 0 }]);
    const c = counts(f.lr(), 1200);
    const light = (c.get('p0-1') ?? 0) / 1200;
    assert.ok(light > 0.75, `light host fraction ${light}`);
  });

  test('weighted mode with active_request_bias 0 is weighted round robin', () => {
    const f = new Fixture();
    f.hosts(0, [{ weight: 1, active: 0 }, { weight: 3, active: 50 }]);
    const c = counts(f.lr({ activeRequestBias: 0 }), 400);
    assert.ok(Math.abs((c.get('p0-1') ?? 0) - 300) <= 1, `${[...c]}`);
  });
});

describe('random', () => {
  test('covers every healthy host about uniformly', () => {
    const f = new Fixture();
    f.hosts(0, [{}, {}, {}, {}, { flags: UNHEALTHY }]);
    const c = counts(f.random_(), 4000);
    assert.equal(c.get('p0-4'), undefined);
    for (let i = 0; i < 4; i++) {
      const v = c.get(`p0-${i}`) ?? 0;
      // Expected 1000, sd ~27.
      assert.ok(v > 800 && v < 1200, `p0-${i}: ${v}`);
    }
  });
});

describe('panic threshold', () => {
  test('below 50% healthy: balance over all hosts and count lb_healthy_panic', () => {
    const f = new Fixture();
    f.hosts(0, [{}, { flags: UNHEALTHY }, { flags: UNHEALTHY }, { flags: UNHEALTHY }]);
    const c = counts(f.rr(), 400);
    assert.deepEqual([c.get('p0-0'), c.get('p0-1'), c.get('p0-2'), c.get('p0-3')], [100, 100, 100, 100]);
    assert.equal(f.panicCount(), 400);
  });

  test('at 50% healthy: no panic, only healthy hosts', () => {
    const f = new Fixture();
    f.hosts(0, [{}, { flags: UNHEALTHY }, {}, { flags: UNHEALTHY }]);
    const c = counts(f.rr(), 400);
    assert.deepEqual([c.get('p0-0'), c.get('p0-2')], [200, 200]);
    assert.equal(f.panicCount(), 0);
  });

  test('a custom threshold: 3 of 4 healthy is below 80% but the overprovisioned total is 100%, so no panic', () => {
    const f = new Fixture();
    f.hosts(0, [{}, {}, {}, { flags: UNHEALTHY }]);
    const c = counts(f.rr(80), 300);
    assert.equal(c.get('p0-3'), undefined);
    assert.equal(f.panicCount(), 0);
  });

  test('panic when health falls later (updates recompute)', () => {
    const f = new Fixture();
    const hosts = f.hosts(0, [{}, {}, {}, {}]);
    const lb = f.rr();
    assert.equal(counts(lb, 40).size, 4);
    for (const h of hosts.slice(1)) h.healthFlags |= UNHEALTHY;
    f.ps.refreshHealth(0);
    counts(lb, 40);
    assert.equal(f.panicCount(), 40);
  });

  test('threshold 0 and nothing healthy: no host (null)', () => {
    const f = new Fixture();
    f.hosts(0, [{ flags: UNHEALTHY }, { flags: UNHEALTHY }]);
    assert.equal(f.rr(0).chooseHost(null), null);
    assert.equal(f.random_(0).chooseHost(null), null);
    assert.equal(f.lr({}, 0).chooseHost(null), null);
  });

  test('no hosts at all: null', () => {
    const f = new Fixture();
    assert.equal(f.rr().chooseHost(null), null);
    assert.equal(f.lr().chooseHost(null), null);
    assert.equal(f.random_().chooseHost(null), null);
  });
});

describe('priorities and the 1.4 overprovisioning factor', () => {
  function loads(lb: LoadBalancerBase) {
    return lb.priorityLoad();
  }

  test('healthy P=0 takes all traffic', () => {
    const f = new Fixture();
    f.hosts(0, [{}, {}, {}, {}]);
    f.hosts(1, [{}, {}]);
    const lb = f.rr();
    assert.deepEqual(loads(lb).healthy, [100, 0]);
    const c = counts(lb, 200);
    assert.equal([...c.keys()].every((k) => k.startsWith('p0-')), true);
  });

  test('3 of 4 healthy in P=0: 75% x 1.4 >= 100%, still all P=0', () => {
    const f = new Fixture();
    f.hosts(0, [{}, {}, {}, { flags: UNHEALTHY }]);
    f.hosts(1, [{}, {}]);
    assert.deepEqual(loads(f.rr()).healthy, [100, 0]);
  });

  test('2 of 4 healthy in P=0: P=0 gets 70%, P=1 30%', () => {
    const f = new Fixture();
    f.hosts(0, [{}, {}, { flags: UNHEALTHY }, { flags: UNHEALTHY }]);
    f.hosts(1, [{}, {}]);
    const lb = f.rr();
    assert.deepEqual(loads(lb).healthy, [70, 30]);
    const n = 10000;
    const c = counts(lb, n);
    const p0 = ((c.get('p0-0') ?? 0) + (c.get('p0-1') ?? 0)) / n;
    // Expected 0.70, sd ~0.005.
    assert.ok(Math.abs(p0 - 0.7) < 0.03, `P=0 share ${p0}`);
    assert.equal(c.get('p0-2'), undefined);
  });

  test('P=0 all down: everything to P=1 (no panic while P=1 is fully available)', () => {
    const f = new Fixture();
    f.hosts(0, [{ flags: UNHEALTHY }, { flags: UNHEALTHY }]);
    f.hosts(1, [{}, {}]);
    const lb = f.rr();
    assert.deepEqual(loads(lb).healthy, [0, 100]);
    const c = counts(lb, 100);
    assert.deepEqual([c.get('p1-0'), c.get('p1-1')], [50, 50]);
    assert.equal(f.panicCount(), 0);
  });

  test('a custom overprovisioning factor (100): 50% healthy gives 50/50', () => {
    const f = new Fixture();
    f.hosts(0, [{}, { flags: UNHEALTHY }], 100);
    f.hosts(1, [{}, {}], 100);
    assert.deepEqual(loads(f.rr()).healthy, [50, 50]);
  });

  test('degraded hosts get the load left after healthy ones', () => {
    const f = new Fixture();
    f.hosts(0, [{ flags: HealthFlag.DegradedEdsHealth }, { flags: HealthFlag.DegradedEdsHealth }]);
    const lb = f.rr();
    assert.deepEqual(loads(lb), { healthy: [0], degraded: [100], panic: [false] });
    const c = counts(lb, 100);
    assert.deepEqual([c.get('p0-0'), c.get('p0-1')], [50, 50]);
  });

  test('degraded P=0 spills to healthy P=1 before using degraded hosts', () => {
    const f = new Fixture();
    f.hosts(0, [{}, { flags: HealthFlag.DegradedEdsHealth }, { flags: HealthFlag.DegradedEdsHealth }, { flags: UNHEALTHY }]);
    f.hosts(1, [{}, {}]);
    // P0 healthy 140*1/4 = 35, degraded 70; P1 healthy 100 -> normalized 100.
    assert.deepEqual(loads(f.rr()), { healthy: [35, 65], degraded: [0, 0], panic: [false, false] });
  });

  test('every level in panic: load by host count', () => {
    const f = new Fixture();
    f.hosts(0, [{ flags: UNHEALTHY }, { flags: UNHEALTHY }, { flags: UNHEALTHY }]);
    f.hosts(1, [{ flags: UNHEALTHY }]);
    const l = loads(f.rr());
    assert.deepEqual(l.healthy, [75, 25]);
    assert.deepEqual(l.panic, [true, true]);
  });
});

describe('host selection retries (LoadBalancerContext)', () => {
  function ctx(reject: (h: Host) => boolean, retries: number): LoadBalancerContext {
    return {
      computeHashKey: () => null,
      downstreamHeaders: () => null,
      shouldSelectAnotherHost: reject,
      hostSelectionRetryCount: () => retries,
    };
  }

  test('shouldSelectAnotherHost makes the balancer pick again', () => {
    const f = new Fixture();
    f.hosts(0, [{}, {}]);
    const lb = f.rr();
    for (let i = 0; i < 20; i++) {
      assert.equal(lb.chooseHost(ctx((h) => h.hostname === 'p0-0', 3))?.hostname, 'p0-1');
    }
  });

  test('after the retry budget the last pick is returned', () => {
    const f = new Fixture();
    f.hosts(0, [{}]);
    let asked = 0;
    const h = f.rr().chooseHost(
      ctx(() => {
        asked++;
        return true;
      }, 2),
    );
    assert.equal(h?.hostname, 'p0-0');
    assert.equal(asked, 3);
  });
});
