/**
 * RDS: HCM `rds` route tables fed through the SubscriptionFactory, with real
 * listeners, clients and upstreams: warming until the RouteConfiguration
 * arrives (or initial_fetch_timeout), atomic swaps, one subscription shared
 * by HCMs, and rejected versions that leave the last good table serving.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/config/config_error.js';
import { ConfigUpdateFailureReason, TypeUrl, type DecodedResource } from '../../src/envoy/config/subscription.js';
import type { RouteConfiguration } from '../../src/generated/envoy/config/route/v3/route_pb.js';
import { staticCluster } from '../integration/fixtures.js';
import { startUpstream, type TestServer } from '../support/http_util.js';
import { routeConfigProviderManagerFor } from '../../src/router/route_config_provider_manager.js';
import { createListenerHarness, hcmListener, routeConfigFromYaml, simpleRouteConfig, type ListenerHarness } from '../support/listener_harness.js';
import { canConnect, freePort, h1Get, startH1Loop, until } from '../support/traffic.js';

let upA: TestServer;
let upB: TestServer;

function upstream(name: string): Promise<TestServer> {
  return startUpstream((req, res) => {
    const reply = (): void => { res.setHeader('content-type', 'text/plain'); res.end(name); };
    if (req.url?.startsWith('/slow')) setTimeout(reply, 400); else reply();
  });
}

before(async () => {
  upA = await upstream('A');
  upB = await upstream('B');
});
after(async () => {
  await upA.close();
  await upB.close();
});

function harness(opts: { withSubscriptionFactory?: boolean; drainTimeMs?: number } = {}): ListenerHarness {
  return createListenerHarness({ clustersYaml: staticCluster('a', upA.port) + staticCluster('b', upB.port), drainTimeMs: opts.drainTimeMs ?? 1000, ...opts });
}

function rc(r: RouteConfiguration, version = '1'): DecodedResource<RouteConfiguration> {
  return { name: r.name, version, resource: r };
}

function port(h: ListenerHarness, name: string): number {
  const l = h.manager.getListener(name);
  assert.ok(l !== undefined, `listener ${name} is active`);
  return l.boundPort;
}

describe('RDS', () => {
  it('keeps a listener warming (not bound) until its RouteConfiguration arrives', async () => {
    const h = harness();
    try {
      const p = await freePort();
      assert.equal(h.manager.addOrUpdateListener(hcmListener('web', { port: p, rds: { name: 'r1' } }), 'v1', ''), true);
      assert.equal(h.manager.getListener('web'), undefined);
      assert.deepEqual(h.manager.warmingListeners.map((l) => l.name), ['web']);
      assert.equal(h.gauge('listener_manager.total_listeners_warming'), 1);
      assert.equal(h.gauge('listener_manager.total_listeners_active'), 0);
      assert.equal(await canConnect(p), false, 'not bound while warming');
      const subs = h.subscriptions.active(TypeUrl.RouteConfiguration);
      assert.equal(subs.length, 1);
      assert.deepEqual(subs[0]!.names, ['r1']);
      assert.equal(subs[0]!.scope.prefix, 'http.web.rds.r1.');
      // Relative to the HCM config: a ConfigError the transport throws gets the listener's prefix on its way up.
      assert.equal(subs[0]!.path, 'rds.config_source');

      assert.deepEqual(h.subscriptions.push(TypeUrl.RouteConfiguration, [rc(simpleRouteConfig('r1', 'a'))]), []);
      await h.manager.settled();
      assert.equal(h.gauge('listener_manager.total_listeners_warming'), 0);
      assert.equal(h.gauge('listener_manager.total_listeners_active'), 1);
      assert.equal(port(h, 'web'), p);
      assert.equal((await h1Get(p, '/')).body, 'A');
      assert.equal(h.counter('http.web.rds.r1.config_reload'), 1);
      assert.ok(h.gauge('http.web.rds.r1.config_reload_time_ms') > 0);
      const dump = routeConfigProviderManagerFor(h.subscriptions).dynamicRouteConfigs();
      assert.deepEqual(dump.map((d) => [d.name, d.versionInfo, d.routeConfig?.name]), [['r1', '1', 'r1']]);
      assert.ok(dump[0]!.lastUpdated instanceof Date);
    } finally {
      h.close();
    }
  });

  it('holds a static listener with rds back until its routes arrive, then binds it', async () => {
    const h = harness();
    try {
      let bound = false;
      const adding = h.manager.addStaticListeners([hcmListener('static_web', { rds: { name: 'sr' } })], true).then(() => { bound = true; });
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(bound, false);
      assert.equal(h.manager.getListener('static_web'), undefined);
      h.subscriptions.push(TypeUrl.RouteConfiguration, [rc(simpleRouteConfig('sr', 'a'))]);
      await adding;
      assert.equal((await h1Get(port(h, 'static_web'), '/')).body, 'A');
    } finally {
      h.close();
    }
  });

  it('stops warming at initial_fetch_timeout and answers 404 NR until routes arrive', async () => {
    const h = harness();
    try {
      const started = Date.now();
      h.manager.addOrUpdateListener(hcmListener('web', { rds: { name: 'r1', initialFetchTimeout: '0.3s' } }), 'v1', '');
      assert.equal(h.manager.getListener('web'), undefined);
      await until(() => h.manager.getListener('web') !== undefined, 'the listener to activate after the timeout');
      assert.ok(Date.now() - started >= 290, 'not before the timeout');
      await h.manager.settled();
      const r = await h1Get(port(h, 'web'), '/');
      assert.equal(r.status, 404);
      assert.equal(h.counter('http.web.no_route'), 1);
      h.subscriptions.push(TypeUrl.RouteConfiguration, [rc(simpleRouteConfig('r1', 'b'))]);
      assert.equal((await h1Get(port(h, 'web'), '/')).body, 'B');
    } finally {
      h.close();
    }
  });

  it('stops warming when the subscription reports FetchTimedout (initial_fetch_timeout kept by the transport)', async () => {
    const h = harness();
    try {
      h.manager.addOrUpdateListener(hcmListener('web', { rds: { name: 'r1' } }), 'v1', '');
      h.subscriptions.fail(TypeUrl.RouteConfiguration, ConfigUpdateFailureReason.ConnectionFailure);
      assert.equal(h.manager.warmingListeners.length, 1, 'a connection failure is retried: still warming');
      h.subscriptions.fail(TypeUrl.RouteConfiguration, ConfigUpdateFailureReason.FetchTimedout);
      await h.manager.settled();
      assert.equal((await h1Get(port(h, 'web'), '/')).status, 404);
    } finally {
      h.close();
    }
  });

  it('swaps the route table for new requests while an in-flight request keeps its route, under load', async () => {
    const h = harness();
    try {
      h.manager.addOrUpdateListener(hcmListener('web', { rds: { name: 'r1' } }), 'v1', '');
      h.subscriptions.push(TypeUrl.RouteConfiguration, [rc(simpleRouteConfig('r1', 'a'), 'v1')], [], 'v1');
      await h.manager.settled();
      const p = port(h, 'web');
      const loop = startH1Loop(p, '/', { parallel: 2 });
      await until(() => loop.result.bodies.length >= 10, 'traffic on v1');
      const slow = h1Get(p, '/slow', false);
      await until(() => upA.requests.some((r) => r.url === '/slow'), 'the slow request upstream');
      assert.deepEqual(h.subscriptions.push(TypeUrl.RouteConfiguration, [rc(simpleRouteConfig('r1', 'b'), 'v2')], [], 'v2'), []);
      assert.equal((await h1Get(p, '/')).body, 'B', 'a new request takes the new table at once');
      const n = loop.result.bodies.length;
      await until(() => loop.result.bodies.length >= n + 10, 'traffic on v2');
      const r = await loop.stop();
      assert.deepEqual(r.failures, []);
      assert.equal(r.connectionClose, 0, 'an RDS update does not drain connections');
      assert.equal(r.bodies.at(-1), 'B');
      const s = await slow;
      assert.equal(s.status, 200);
      assert.equal(s.body, 'A', 'the in-flight request kept the route it had');
      assert.equal(h.counter('http.web.rds.r1.config_reload'), 2);
      // The same RouteConfiguration again is no reload.
      h.subscriptions.push(TypeUrl.RouteConfiguration, [rc(simpleRouteConfig('r1', 'b'), 'v3')], [], 'v3');
      assert.equal(h.counter('http.web.rds.r1.config_reload'), 2);
    } finally {
      h.close();
    }
  });

  it('shares one subscription between HCMs asking for the same route configuration', async () => {
    const h = harness({ drainTimeMs: 300 });
    try {
      h.manager.addOrUpdateListener(hcmListener('one', { statPrefix: 'p1', rds: { name: 'shared' } }), 'v1', '');
      h.manager.addOrUpdateListener(hcmListener('two', { statPrefix: 'p2', rds: { name: 'shared' } }), 'v1', '');
      const subs = h.subscriptions.active(TypeUrl.RouteConfiguration);
      assert.equal(subs.length, 1, 'one subscription');
      assert.equal(subs[0]!.scope.prefix, 'http.p1.rds.shared.', 'stats under the first HCM');
      assert.equal(h.manager.warmingListeners.length, 2);
      h.subscriptions.push(TypeUrl.RouteConfiguration, [rc(simpleRouteConfig('shared', 'a'))]);
      await h.manager.settled();
      assert.equal((await h1Get(port(h, 'one'), '/')).body, 'A');
      assert.equal((await h1Get(port(h, 'two'), '/')).body, 'A');
      // A new version of a listener reuses the subscription and is warm at once.
      assert.equal(h.manager.addOrUpdateListener(hcmListener('two', { statPrefix: 'p2b', rds: { name: 'shared' } }), 'v2', ''), true);
      assert.equal(h.manager.warmingListeners.length, 0);
      assert.equal(h.subscriptions.subscriptions.length, 1, 'no second subscription was made');
      h.subscriptions.push(TypeUrl.RouteConfiguration, [rc(simpleRouteConfig('shared', 'b'), '2')]);
      assert.equal((await h1Get(port(h, 'one'), '/')).body, 'B');
      assert.equal((await h1Get(port(h, 'two'), '/')).body, 'B');
      // The subscription stops with the last listener using it.
      h.manager.removeListener('one');
      await until(() => h.gauge('listener_manager.total_listeners_draining') === 0, 'drain of one');
      assert.equal(h.subscriptions.active(TypeUrl.RouteConfiguration).length, 1);
      h.manager.removeListener('two');
      await until(() => h.gauge('listener_manager.total_listeners_draining') === 0, 'drain of two');
      assert.equal(h.subscriptions.active(TypeUrl.RouteConfiguration).length, 0);
      assert.equal(h.subscriptions.subscriptions[0]!.stopped, true);
    } finally {
      h.close();
    }
  });

  it('rejects an invalid RouteConfiguration naming it and the field; the last good table keeps serving', async () => {
    const h = harness();
    try {
      h.manager.addOrUpdateListener(hcmListener('web', { rds: { name: 'r1' } }), 'v1', '');
      h.subscriptions.push(TypeUrl.RouteConfiguration, [rc(simpleRouteConfig('r1', 'a'))]);
      await h.manager.settled();
      const p = port(h, 'web');
      const cases: Array<[RouteConfiguration, RegExp]> = [
        [simpleRouteConfig('r1', 'b', `  - match: { safe_regex: { regex: "(" } }
    route: { cluster: b }`), /RouteConfiguration 'r1'\.virtual_hosts\[0\]\.routes\[0\]\.match\.safe_regex.*regex/],
        [routeConfigFromYaml('name: r1\nvirtual_hosts: [{ name: all, domains: [], routes: [{ match: { prefix: "/" }, route: { cluster: b } }] }]'),
          /RouteConfiguration 'r1'\.virtual_hosts\[0\]\.domains: /],
        [routeConfigFromYaml('name: r1\nvalidate_clusters: true\nvirtual_hosts: [{ name: all, domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: nope } }] }]'),
          /RouteConfiguration 'r1'.*unknown cluster 'nope'/],
      ];
      for (const [bad, expected] of cases) {
        const errors = h.subscriptions.push(TypeUrl.RouteConfiguration, [rc(bad, '2')], [], '2');
        assert.equal(errors.length, 1);
        assert.ok(errors[0] instanceof ConfigError);
        assert.match(errors[0].message, expected);
        assert.equal((await h1Get(p, '/')).body, 'A', 'the last good table serves');
      }
      // A resource of another name is not ours.
      const other = h.subscriptions.subscriptions[0]!.callbacks;
      assert.throws(() => other.onConfigUpdate({ added: [rc(simpleRouteConfig('r2', 'b'))], removed: [], versionInfo: '3' }),
        /Unexpected RDS configuration \(expecting r1\): r2/);
      assert.equal(h.counter('http.web.rds.r1.config_reload'), 1, 'no rejected version was loaded');
    } finally {
      h.close();
    }
  });

  it('accepts routes to unknown clusters by default (validate_clusters is off for RDS): 503 at request time', async () => {
    const h = harness();
    try {
      h.manager.addOrUpdateListener(hcmListener('web', { rds: { name: 'r1' } }), 'v1', '');
      assert.deepEqual(h.subscriptions.push(TypeUrl.RouteConfiguration, [rc(simpleRouteConfig('r1', 'later'))]), []);
      await h.manager.settled();
      assert.equal((await h1Get(port(h, 'web'), '/')).status, 503);
    } finally {
      h.close();
    }
  });

  it('serves 404 NR after the RouteConfiguration is removed', async () => {
    const h = harness();
    try {
      h.manager.addOrUpdateListener(hcmListener('web', { rds: { name: 'r1' } }), 'v1', '');
      h.subscriptions.push(TypeUrl.RouteConfiguration, [rc(simpleRouteConfig('r1', 'a'))]);
      await h.manager.settled();
      assert.equal((await h1Get(port(h, 'web'), '/')).body, 'A');
      assert.deepEqual(h.subscriptions.push(TypeUrl.RouteConfiguration, [], ['r1'], '2'), []);
      assert.equal((await h1Get(port(h, 'web'), '/')).status, 404);
      assert.equal(h.counter('http.web.no_route'), 1);
    } finally {
      h.close();
    }
  });

  it('ends warming on a rejected first version (no routes until a good one)', async () => {
    const h = harness();
    try {
      h.manager.addOrUpdateListener(hcmListener('web', { rds: { name: 'r1' } }), 'v1', '');
      const errors = h.subscriptions.push(TypeUrl.RouteConfiguration, [rc(simpleRouteConfig('r1', 'a', `  - match: { safe_regex: { regex: "[" } }
    route: { cluster: a }`))]);
      assert.equal(errors.length, 1);
      await h.manager.settled();
      assert.equal((await h1Get(port(h, 'web'), '/')).status, 404);
    } finally {
      h.close();
    }
  });

  it('rejects rds when no subscription factory is configured', () => {
    const h = harness({ withSubscriptionFactory: false });
    try {
      assert.throws(() => h.manager.addOrUpdateListener(hcmListener('web', { rds: { name: 'r1' } }), 'v1', ''), (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.equal(e.fieldPath, 'filter_chains[0].filters[0].typed_config.rds');
        assert.match(e.message, /rds requires dynamic_resources \/ an xDS subscription factory/);
        return true;
      });
      assert.equal(h.manager.warmingListeners.length, 0);
    } finally {
      h.close();
    }
  });

  it('releases the subscription of a listener that fails to build after its HCM', () => {
    const h = harness();
    try {
      // The first chain's HCM subscribes, the second chain fails.
      const twoChains = hcmListener('web2', { rds: { name: 'r2' } });
      twoChains.filterChains.push({ ...twoChains.filterChains[0]!, filters: [{ ...twoChains.filterChains[0]!.filters[0]!, name: 'envoy.filters.network.nope', configType: { case: undefined } }] });
      assert.throws(() => h.manager.addOrUpdateListener(twoChains, 'v1', ''), /filter_chains\[1\]\.filters\[0\]/);
      assert.equal(h.subscriptions.subscriptions.length, 1);
      assert.equal(h.subscriptions.subscriptions[0]!.stopped, true, 'released');
      assert.equal(h.subscriptions.subscriptions[0]!.started, false, 'never started');
    } finally {
      h.close();
    }
  });
});
