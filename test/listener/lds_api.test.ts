/**
 * LDS: listeners added, replaced and removed at runtime through LdsApi and
 * ListenerManagerImpl, with real listeners on 127.0.0.1, real HTTP/1.1 and
 * HTTP/2 clients and real upstreams; updates under load drop no request.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { ConfigError } from '../../src/config/config_error.js';
import { ConfigUpdateFailureReason, TypeUrl, type DecodedResource } from '../../src/envoy/config/subscription.js';
import type { Listener } from '../../src/generated/envoy/config/listener/v3/listener_pb.js';
import type { ConfigSource } from '../../src/generated/envoy/config/core/v3/config_source_pb.js';
import { LdsApi } from '../../src/listener/lds_api.js';
import { staticCluster } from '../integration/fixtures.js';
import { startUpstream, type TestServer } from '../support/http_util.js';
import { createListenerHarness, hcmListener, hcmListenerYaml, listenerFromYaml, type ListenerHarness } from '../support/listener_harness.js';
import { canConnect, freePort, h1Get, startH1Loop, startH2Loop, until } from '../support/traffic.js';
import { parseYaml } from '../router/test_util.js';

const ADS: ConfigSource = parseYaml<ConfigSource>('envoy.config.core.v3.ConfigSource', '{ ads: {} }');

let upA: TestServer;
let upB: TestServer;

/** Upstream `name`: answers its name; `/slow` after 400 ms. */
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

function harness(drainTimeMs = 2000): ListenerHarness {
  return createListenerHarness({ clustersYaml: staticCluster('a', upA.port) + staticCluster('b', upB.port), drainTimeMs });
}

function res(listener: Listener, version = '1'): DecodedResource<Listener> {
  return { name: listener.name, version, resource: listener };
}

/** An LdsApi on the harness' in-memory subscriptions, started. */
function lds(h: ListenerHarness): { api: LdsApi; ready: () => boolean } {
  const api = new LdsApi(ADS, h.manager, h.subscriptions, h.stats.rootScope);
  let ready = false;
  api.initialize(() => { ready = true; });
  return { api, ready: () => ready };
}

function portOf(h: ListenerHarness, name: string): number {
  const l = h.manager.getListener(name);
  assert.ok(l !== undefined, `listener ${name} is active`);
  return l.boundPort;
}

describe('LdsApi', () => {
  it('subscribes to every Listener under listener_manager.lds. and applies the first update', async () => {
    const h = harness();
    try {
      const { ready } = lds(h);
      const [sub] = h.subscriptions.active(TypeUrl.Listener);
      assert.ok(sub !== undefined);
      assert.deepEqual(sub.names, [], 'wildcard');
      assert.equal(sub.scope.prefix, 'listener_manager.lds.');
      assert.equal(ready(), false);
      assert.deepEqual(h.subscriptions.push(TypeUrl.Listener, [res(hcmListener('web', { cluster: 'a' }))], [], 'v1'), []);
      assert.equal(ready(), true);
      await h.manager.settled();
      const r = await h1Get(portOf(h, 'web'), '/');
      assert.equal(r.status, 200);
      assert.equal(r.body, 'A');
      assert.equal(h.counter('listener_manager.listener_added'), 1);
      assert.equal(h.counter('listener_manager.listener_create_success'), 1);
      assert.equal(h.gauge('listener_manager.total_listeners_active'), 1);
      assert.equal(h.gauge('listener_manager.total_listeners_warming'), 0);
      // The same bytes again: nothing to do.
      assert.deepEqual(h.subscriptions.push(TypeUrl.Listener, [res(hcmListener('web', { cluster: 'a' }), 'v2')], [], 'v2'), []);
      assert.equal(h.counter('listener_manager.listener_modified'), 0);
      assert.equal(h.manager.addOrUpdateListener(hcmListener('web', { cluster: 'a' }), 'v3', ''), false);
    } finally {
      h.close();
    }
  });

  it('is ready when the subscription gives up (FetchTimedout), not on a connection failure', () => {
    const h = harness();
    try {
      const { ready } = lds(h);
      h.subscriptions.fail(TypeUrl.Listener, ConfigUpdateFailureReason.ConnectionFailure);
      assert.equal(ready(), false);
      h.subscriptions.fail(TypeUrl.Listener, ConfigUpdateFailureReason.FetchTimedout);
      assert.equal(ready(), true);
    } finally {
      h.close();
    }
  });

  it('is ready at its config source\'s initial_fetch_timeout when nothing arrives', async () => {
    const h = harness();
    try {
      const source = parseYaml<ConfigSource>('envoy.config.core.v3.ConfigSource', '{ ads: {}, initial_fetch_timeout: 0.2s }');
      const api = new LdsApi(source, h.manager, h.subscriptions, h.stats.rootScope);
      const started = Date.now();
      await new Promise<void>((r) => api.initialize(r));
      assert.ok(Date.now() - started >= 190);
      // Listeners arriving later are applied as usual.
      h.subscriptions.push(TypeUrl.Listener, [res(hcmListener('late', { cluster: 'a' }))]);
      await h.manager.settled();
      assert.equal((await h1Get(portOf(h, 'late'), '/')).body, 'A');
      api.stop();
      assert.equal(h.subscriptions.active(TypeUrl.Listener).length, 0);
    } finally {
      h.close();
    }
  });

  it('replaces a listener on the same address under HTTP/1.1 and HTTP/2 load without failing a request', async () => {
    const h = harness(3000);
    try {
      lds(h);
      h.subscriptions.push(TypeUrl.Listener, [res(hcmListener('web', { cluster: 'a' }))], [], 'v1');
      await h.manager.settled();
      const port = portOf(h, 'web');
      const old = h.manager.getListener('web')!;
      const h1 = startH1Loop(port, '/', { parallel: 2 });
      const h2 = startH2Loop(port, '/');
      // An idle keep-alive HTTP/1.1 connection that sends nothing after the update.
      const idle = net.connect(port, '127.0.0.1');
      let idleReply = '';
      idle.on('data', (d) => { idleReply += d.toString(); });
      idle.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n');
      const idleClosed = new Promise<number>((r) => idle.on('close', () => r(Date.now())));
      await until(() => h1.result.bodies.length >= 20 && h2.result.bodies.length >= 20 && idleReply.includes('\r\n\r\nA'), 'traffic on v1');

      assert.deepEqual(h.subscriptions.push(TypeUrl.Listener, [res(hcmListener('web', { cluster: 'b' }), 'v2')], [], 'v2'), []);
      const updatedAt = Date.now();
      const current = h.manager.getListener('web')!;
      assert.notEqual(current, old, 'the new version is active at once (no init targets)');
      assert.equal(current.boundPort, port, 'same socket');
      assert.equal(h.counter('listener_manager.listener_modified'), 1);
      assert.equal(h.gauge('listener_manager.total_listeners_draining'), 1);
      assert.equal((await h1Get(port, '/')).body, 'B', 'a new connection gets the new filter chain');

      const countB = (bodies: string[]) => bodies.filter((b) => b === 'B').length;
      await until(() => countB(h1.result.bodies) >= 20 && countB(h2.result.bodies) >= 20, 'the loops to move to v2');
      const r1 = await h1.stop();
      const r2 = await h2.stop();
      assert.deepEqual(r1.failures, [], 'no HTTP/1.1 request failed');
      // (A stream that crossed the GOAWAY is refused unprocessed and retried, as RFC 9113 §8.7 allows.)
      assert.deepEqual(r2.failures, [], 'no HTTP/2 request failed');
      assert.ok(r1.connectionClose >= 1, 'old HTTP/1.1 connections were told connection: close');
      assert.ok(r1.connections >= 3, `HTTP/1.1 reconnected (${r1.connections} connections)`);
      assert.ok(r2.goaways >= 1, 'the old HTTP/2 connection got GOAWAY');
      assert.ok(r2.connections >= 2);
      // The HTTP/2 loop left the old connection at its GOAWAY: after its first B, no A.
      assert.ok(r2.bodies.indexOf('B') > r2.bodies.lastIndexOf('A'), 'HTTP/2 moved to the new version in one step');
      // The idle HTTP/1.1 connection stayed until the drain time ended, then was closed.
      const closedAt = await idleClosed;
      assert.ok(closedAt - updatedAt >= 2500, `idle connection closed after ${closedAt - updatedAt} ms`);
      await until(() => h.gauge('listener_manager.total_listeners_draining') === 0, 'the drain to end');
      await until(() => old.activeConnections === 0, 'the old listener\'s connections to close');
      assert.equal((await h1Get(port, '/')).body, 'B');
    } finally {
      h.close();
    }
  });

  it('moves a listener to a new address: binds the new one, closes the old port, drains its connections', async () => {
    const h = harness(2000);
    try {
      lds(h);
      const p1 = await freePort();
      h.subscriptions.push(TypeUrl.Listener, [res(hcmListener('web', { cluster: 'a', port: p1 }))], [], 'v1');
      await h.manager.settled();
      assert.equal((await h1Get(p1, '/')).body, 'A');
      const h1 = startH1Loop(p1, '/', { max: 100000 });
      await until(() => h1.result.bodies.length >= 5, 'traffic on the old address');
      const p2 = await freePort();
      h.subscriptions.push(TypeUrl.Listener, [res(hcmListener('web', { cluster: 'b', port: p2 }), 'v2')], [], 'v2');
      await h.manager.settled();
      assert.equal(portOf(h, 'web'), p2);
      assert.equal((await h1Get(p2, '/')).body, 'B');
      assert.equal(await canConnect(p1), false, 'the old port is closed');
      // The loop's keep-alive connection was told to close, and its next connect is refused.
      await until(() => h1.result.connectionClose >= 1 && h1.result.failures.length >= 1, 'connection: close, then a refused reconnect');
      const r = await h1.stop();
      assert.ok(r.failures.length >= 1 && r.failures.every((f) => f.includes('ECONNREFUSED')), `only refused reconnects: ${r.failures.slice(0, 3).join('; ')}`);
      await until(() => h.gauge('listener_manager.total_listeners_draining') === 0, 'the drain to end');
    } finally {
      h.close();
    }
  });

  it('removes a listener: the port closes and an in-flight request completes', async () => {
    const h = harness(2000);
    try {
      lds(h);
      const port = await freePort();
      h.subscriptions.push(TypeUrl.Listener, [res(hcmListener('web', { cluster: 'a', port }))], [], 'v1');
      await h.manager.settled();
      const slow = h1Get(port, '/slow');
      await until(() => upA.requests.some((r) => r.url === '/slow'), 'the slow request upstream');
      assert.deepEqual(h.subscriptions.push(TypeUrl.Listener, [], ['web'], 'v2'), []);
      assert.equal(h.manager.getListener('web'), undefined);
      assert.equal(await canConnect(port), false, 'port closed');
      assert.equal(h.counter('listener_manager.listener_removed'), 1);
      assert.equal(h.gauge('listener_manager.total_listeners_active'), 0);
      const r = await slow;
      assert.equal(r.status, 200);
      assert.equal(r.body, 'A');
      assert.equal(r.headers.connection, 'close');
      await until(() => h.gauge('listener_manager.total_listeners_draining') === 0, 'the drain to end');
      // Removing it again is no change.
      assert.equal(h.manager.removeListener('web'), false);
    } finally {
      h.close();
    }
  });

  it('applies the valid listeners of an update and rejects the rest, naming each listener and field', async () => {
    const h = harness();
    try {
      lds(h);
      const taken = await freePort();
      h.subscriptions.push(TypeUrl.Listener, [res(hcmListener('keep', { cluster: 'a', port: taken }))], [], 'v1');
      await h.manager.settled();
      const keepPort = portOf(h, 'keep');
      const terminalFirst = hcmListener('terminal_first', { filtersYaml: `
    - name: envoy.filters.network.http_connection_manager
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
        stat_prefix: t
        route_config: { name: r, virtual_hosts: [{ name: all, domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: a } }] }] }
        http_filters: [{ name: envoy.filters.http.router, typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router } }]
    - name: envoy.filters.network.tcp_proxy
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
        stat_prefix: tcp
        cluster: a` });
      const badField = listenerFromYaml(hcmListenerYaml('bad_field', { cluster: 'nope' }));
      const noAddress = listenerFromYaml(`
name: no_address
filter_chains: [{ filters: [{ name: envoy.filters.network.tcp_proxy, typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, stat_prefix: t, cluster: a } }] }]`);
      const conflict = hcmListener('conflict', { cluster: 'a', port: taken });
      const good = hcmListener('good', { cluster: 'b' });
      const errors = h.subscriptions.push(TypeUrl.Listener, [
        res(hcmListener('keep', { cluster: 'a', port: taken }), 'v2'),
        res(terminalFirst, 'v2'), res(badField, 'v2'), res(noAddress, 'v2'), res(conflict, 'v2'), res(good, 'v2'),
        res(hcmListener('good', { cluster: 'a' }), 'v2'),
      ], [], 'v2');
      assert.equal(errors.length, 1);
      const e = errors[0]!;
      assert.ok(e instanceof ConfigError);
      const m = e.message;
      assert.match(m, /^Error adding\/updating listener\(s\) /);
      assert.match(m, /terminal_first: filter_chains\[0\]\.filters\[0\]: terminal filter named envoy\.filters\.network\.http_connection_manager .* must be the last filter/);
      assert.match(m, /bad_field: filter_chains\[0\]\.filters\[0\]\.typed_config\.route_config: route: unknown cluster 'nope'/);
      assert.match(m, /no_address: address: .*required/);
      assert.match(m, new RegExp(`conflict: address: error adding listener 'conflict': it has the address 127\\.0\\.0\\.1:${taken} of the existing listener 'keep'`));
      assert.match(m, /good: name: duplicate listener good found/);
      assert.equal(e.others.length, 5);
      // The valid sibling was applied, the first 'good' wins; the old one keeps serving.
      await h.manager.settled();
      assert.equal((await h1Get(portOf(h, 'good'), '/')).body, 'B');
      assert.equal((await h1Get(keepPort, '/')).body, 'A');
      assert.deepEqual(h.manager.listeners.map((l) => l.name).sort(), ['good', 'keep']);
      assert.equal(h.counter('listener_manager.listener_added'), 2);
      assert.equal(h.gauge('listener_manager.total_listeners_warming'), 0);
      const dump = h.manager.configDump();
      const failed = dump.dynamicListeners.find((d) => d.name === 'bad_field');
      assert.ok(failed?.errorState !== undefined && failed.activeState === undefined);
      assert.match(failed.errorState.details, /unknown cluster 'nope'/);
      assert.equal(failed.errorState.versionInfo, 'v2');
    } finally {
      h.close();
    }
  });

  it('rejects an invalid update of a serving listener and keeps the last good version', async () => {
    const h = harness();
    try {
      lds(h);
      h.subscriptions.push(TypeUrl.Listener, [res(hcmListener('web', { cluster: 'a' }))], [], 'v1');
      await h.manager.settled();
      const port = portOf(h, 'web');
      const bad = listenerFromYaml(hcmListenerYaml('web', { cluster: 'a', extra: 'listener_filters: [{ name: envoy.filters.listener.nope }]' }));
      const errors = h.subscriptions.push(TypeUrl.Listener, [res(bad, 'v2')], [], 'v2');
      assert.equal(errors.length, 1);
      assert.match(errors[0]!.message, /web: listener_filters\[0\]/);
      assert.equal((await h1Get(port, '/')).body, 'A');
      assert.equal(h.manager.getListener('web')!.config.versionInfo, '1');
      assert.equal(h.counter('listener_manager.listener_modified'), 0);
      // A listener that fails its PGV rules is rejected the same way.
      const pgv = listenerFromYaml(hcmListenerYaml('web', { filtersYaml: `
    - name: ""
      typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, stat_prefix: t, cluster: a }` }));
      const e2 = h.subscriptions.push(TypeUrl.Listener, [res(pgv, 'v3')], [], 'v3');
      assert.equal(e2.length, 1);
      assert.match(e2[0]!.message, /web: filter_chains\[0\]\.filters\[0\]\.name: /);
      assert.equal((await h1Get(port, '/')).body, 'A');
    } finally {
      h.close();
    }
  });

  it('refuses to change or remove a static (bootstrap) listener', async () => {
    const h = harness();
    try {
      await h.manager.addStaticListeners([hcmListener('static_web', { cluster: 'a' })], true);
      const port = portOf(h, 'static_web');
      lds(h);
      const errors = h.subscriptions.push(TypeUrl.Listener, [res(hcmListener('static_web', { cluster: 'b' }))], [], 'v1');
      assert.equal(errors.length, 1);
      assert.match(errors[0]!.message, /static_web: name: listener 'static_web' is a static listener \(from the bootstrap\); LDS cannot add, change or remove it/);
      assert.equal(h.manager.removeListener('static_web'), false);
      assert.equal((await h1Get(port, '/')).body, 'A');
      const dump = h.manager.configDump();
      assert.deepEqual(dump.staticListeners.map((l) => l.name), ['static_web']);
    } finally {
      h.close();
    }
  });

  it('counts a listener that cannot bind as listener_create_failure and keeps it out', async () => {
    const h = harness();
    const squatter = net.createServer();
    await new Promise<void>((r) => squatter.listen(0, '127.0.0.1', r));
    try {
      lds(h);
      const port = (squatter.address() as net.AddressInfo).port;
      assert.deepEqual(h.subscriptions.push(TypeUrl.Listener, [res(hcmListener('web', { cluster: 'a', port }))], [], 'v1'), []);
      await h.manager.settled();
      assert.equal(h.counter('listener_manager.listener_create_failure'), 1);
      assert.equal(h.manager.getListener('web'), undefined);
      assert.equal(h.gauge('listener_manager.total_listeners_warming'), 0);
      assert.equal(h.gauge('listener_manager.total_listeners_active'), 0);
      const state = h.manager.configDump().dynamicListeners.find((d) => d.name === 'web');
      assert.match(state?.errorState?.details ?? '', /cannot bind listener 'web' to 127\.0\.0\.1:\d+: .*EADDRINUSE/);
    } finally {
      h.close();
      await new Promise<void>((r) => squatter.close(() => r()));
    }
  });

  it('lists static and dynamic listeners with version_info and last_updated for /config_dump', async () => {
    const h = harness();
    try {
      await h.manager.addStaticListeners([hcmListener('static_web', { cluster: 'a' })], true);
      lds(h);
      const before = new Date();
      h.subscriptions.push(TypeUrl.Listener, [res(hcmListener('dyn', { cluster: 'a' }), 'v7')], [], 'v7');
      await h.manager.settled();
      const dump = h.manager.configDump();
      assert.deepEqual(dump.staticListeners.map((l) => [l.name, l.versionInfo]), [['static_web', '']]);
      assert.equal(dump.dynamicListeners.length, 1);
      const d = dump.dynamicListeners[0]!;
      assert.equal(d.name, 'dyn');
      assert.equal(d.activeState?.versionInfo, 'v7');
      assert.equal(d.activeState?.listener.name, 'dyn');
      assert.ok(d.activeState!.lastUpdated >= before);
      assert.equal(d.warmingState, undefined);
    } finally {
      h.close();
    }
  });
});
