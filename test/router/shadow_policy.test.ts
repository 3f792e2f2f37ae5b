import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { RouteEntryImpl } from '../../src/router/route_entry_impl.js';
import { RouteConfigError } from '../../src/router/config_error.js';
import { shadowClusterName, shouldShadow } from '../../src/router/shadow_policy.js';
import { shadowAppendedHost } from '../../src/router/shadow_writer.js';
import { req, streamInfo, table } from './test_util.js';

/** The route entry of the first route of a table built from `routeYaml` (with optional vhost / config extras). */
function entry(route: string, vhostExtra = '', configExtra = ''): RouteEntryImpl {
  const t = table(`
name: rc
${configExtra}
virtual_hosts:
- name: vh
  domains: ["*"]
${vhostExtra}
  routes:
  - ${route}`);
  const r = t.route(req('h', '/'), streamInfo(), 0);
  assert.ok(r?.routeEntry);
  return r.routeEntry as RouteEntryImpl;
}

describe('shadowAppendedHost (Envoy: -shadow on the host part, before any port)', () => {
  it('appends before the port, IPv6 literals included', () => {
    assert.equal(shadowAppendedHost('foo'), 'foo-shadow');
    assert.equal(shadowAppendedHost('foo:8080'), 'foo-shadow:8080');
    assert.equal(shadowAppendedHost('10.0.0.1:80'), '10.0.0.1-shadow:80');
    assert.equal(shadowAppendedHost('[::1]:443'), '[::1]-shadow:443');
    assert.equal(shadowAppendedHost('[::1]'), '[::1]-shadow');
  });
});

describe('request_mirror_policies compiled', () => {
  it('defaults: every request, suffix appended, trace_sampled true', () => {
    const [p] = entry('{match: {prefix: /}, route: {cluster: c, request_mirror_policies: [{cluster: m}]}}').shadowPolicies;
    assert.ok(p);
    assert.deepEqual({ ...p }, {
      cluster: 'm', clusterHeader: '', runtimeKey: '', numerator: 100, denominator: 100,
      traceSampled: true, disableShadowHostSuffixAppend: false,
    });
    for (const r of [0, 1, 99, 100, 12345, 0x7fffffff]) assert.equal(shouldShadow(p, r), true);
  });

  it('runtime_fraction: default_value applies (no runtime layer); random % denominator < numerator', () => {
    const e = entry(`{match: {prefix: /}, route: {cluster: c, request_mirror_policies: [
      {cluster_header: X-Mirror, trace_sampled: false, disable_shadow_host_suffix_append: true,
       runtime_fraction: {runtime_key: k, default_value: {numerator: 3, denominator: TEN_THOUSAND}}},
      {cluster: zero, runtime_fraction: {default_value: {numerator: 0}}},
      {cluster: over, runtime_fraction: {default_value: {numerator: 200, denominator: HUNDRED}}},
      {cluster: million, runtime_fraction: {default_value: {numerator: 1, denominator: MILLION}}}]}}`);
    const [a, zero, over, million] = e.shadowPolicies;
    assert.equal(a!.clusterHeader, 'x-mirror');
    assert.equal(a!.runtimeKey, 'k');
    assert.equal(a!.traceSampled, false);
    assert.equal(a!.disableShadowHostSuffixAppend, true);
    assert.deepEqual([a!.numerator, a!.denominator], [3, 10_000]);
    assert.deepEqual([0, 2, 3, 9_999, 10_000, 10_002, 10_003].map((r) => shouldShadow(a!, r)), [true, true, false, false, true, true, false]);
    for (const r of [0, 1, 50, 99, 100]) assert.equal(shouldShadow(zero!, r), false, `0% at ${r}`);
    for (const r of [0, 99, 100, 199]) assert.equal(shouldShadow(over!, r), true, `200/100 at ${r}`);
    assert.deepEqual([0, 1, 1_000_000, 1_000_001].map((r) => shouldShadow(million!, r)), [true, false, true, false]);
    // Over one full period the share is exact.
    let n = 0;
    for (let r = 0; r < 10_000; r++) if (shouldShadow(a!, r)) n++;
    assert.equal(n, 3);
  });

  it('the mirror cluster: static, or the first value of cluster_header (none when absent or empty)', () => {
    const [s, h] = entry('{match: {prefix: /}, route: {cluster: c, request_mirror_policies: [{cluster: m}, {cluster_header: x-m}]}}').shadowPolicies;
    assert.equal(shadowClusterName(s!, req('h', '/')), 'm');
    assert.equal(shadowClusterName(h!, req('h', '/', [['x-m', 'one'], ['x-m', 'two']])), 'one');
    assert.equal(shadowClusterName(h!, req('h', '/')), null);
    assert.equal(shadowClusterName(h!, req('h', '/', [['x-m', '']])), null);
  });

  it('the most specific non-empty list wins: route, else virtual host, else route configuration', () => {
    const vh = '  request_mirror_policies: [{cluster: vh-m}]';
    const rc = 'request_mirror_policies: [{cluster: rc-m}, {cluster: rc-m2}]';
    const names = (e: RouteEntryImpl) => e.shadowPolicies.map((p) => p.cluster);
    assert.deepEqual(names(entry('{match: {prefix: /}, route: {cluster: c, request_mirror_policies: [{cluster: r-m}]}}', vh, rc)), ['r-m']);
    assert.deepEqual(names(entry('{match: {prefix: /}, route: {cluster: c}}', vh, rc)), ['vh-m']);
    assert.deepEqual(names(entry('{match: {prefix: /}, route: {cluster: c}}', '', rc)), ['rc-m', 'rc-m2']);
    assert.deepEqual(names(entry('{match: {prefix: /}, route: {cluster: c}}')), []);
  });

  it('buffer limit for mirroring: route per_request_buffer_limit_bytes, else the virtual host one, else 2^32-1', () => {
    assert.equal(entry('{match: {prefix: /}, per_request_buffer_limit_bytes: 10, route: {cluster: c}}', '  per_request_buffer_limit_bytes: 20').retryShadowBufferLimit, 10);
    assert.equal(entry('{match: {prefix: /}, route: {cluster: c}}', '  per_request_buffer_limit_bytes: 20').retryShadowBufferLimit, 20);
    assert.equal(entry('{match: {prefix: /}, route: {cluster: c}}').retryShadowBufferLimit, null);
  });

  it('runtime_fraction without default_value is rejected, at the level that has it', () => {
    const bad = (f: () => unknown, path: string): void => {
      assert.throws(f, (e: unknown) => e instanceof RouteConfigError && e.path === path && /default_value is required/.test(e.message));
    };
    bad(() => entry('{match: {prefix: /}, route: {cluster: c, request_mirror_policies: [{cluster: m, runtime_fraction: {runtime_key: k}}]}}'),
      'virtual_hosts[0].routes[0].route.request_mirror_policies[0].runtime_fraction.default_value');
    bad(() => entry('{match: {prefix: /}, route: {cluster: c}}', '  request_mirror_policies: [{cluster: a}, {cluster: m, runtime_fraction: {}}]'),
      'virtual_hosts[0].request_mirror_policies[1].runtime_fraction.default_value');
  });
});
