import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { RouteEntryImpl } from '../../src/router/route_entry_impl.js';
import { req, streamInfo, table } from './test_util.js';

function routeFor(match: string, action: string, host = 'h.com', path = '/') {
  const t = table(`
virtual_hosts:
- name: vh
  domains: ["*"]
  routes:
  - match: ${match}
    route: ${action}`);
  const h = req(host, path);
  const r = t.route(h, streamInfo(), 0);
  assert.ok(r?.routeEntry, `no route for ${path}`);
  return { entry: r.routeEntry as RouteEntryImpl, h };
}

function rewritten(match: string, action: string, path: string, insertOriginal = false) {
  const { entry, h } = routeFor(match, action, 'h.com', path);
  entry.rewriteRequest(h, insertOriginal);
  return { path: h.get(':path'), original: h.get('x-envoy-original-path') };
}

describe('prefix_rewrite (Envoy docs examples)', () => {
  const cases: Array<[string, string, string, string]> = [
    // [match, prefix_rewrite, request path, upstream path]
    ['{prefix: /prefix}', '/', '/prefix', '/'],
    ['{prefix: /prefix/}', '/', '/prefix/etc', '/etc'],
    ['{prefix: /prefix}', '/', '/prefix/etc', '//etc'], // why the docs recommend a trailing slash on both
    ['{prefix: /prefix}', '/', '/prefixetc', '/etc'],
    ['{prefix: /api/v1}', '/v2', '/api/v1/users?x=1', '/v2/users?x=1'],
    ['{prefix: /API, case_sensitive: false}', '/x', '/api/users', '/x/users'],
    ['{path: /old}', '/new', '/old?q=1', '/new?q=1'],
    ['{path_separated_prefix: /api/dev}', '/dev', '/api/dev/x', '/dev/x'],
    ['{safe_regex: {regex: "/a/.*"}}', '/b', '/a/c?q', '/b?q'], // whole path replaced, query kept
  ];
  for (const [match, rw, path, want] of cases) {
    it(`${match} ${rw}: ${path} -> ${want}`, () => {
      assert.equal(rewritten(match, `{cluster: c, prefix_rewrite: "${rw}"}`, path).path, want);
    });
  }

  it('x-envoy-original-path only when asked', () => {
    assert.deepEqual(rewritten('{prefix: /a}', '{cluster: c, prefix_rewrite: /b}', '/a/x', true), { path: '/b/x', original: '/a/x' });
    assert.deepEqual(rewritten('{prefix: /a}', '{cluster: c, prefix_rewrite: /b}', '/a/x', false), { path: '/b/x', original: undefined });
    assert.deepEqual(rewritten('{prefix: /a}', '{cluster: c}', '/a/x', true), { path: '/a/x', original: undefined });
  });
});

describe('regex_rewrite (Envoy docs examples)', () => {
  const cases: Array<[string, string, string, string]> = [
    ['^/service/([^/]+)(/.*)$', '\\2/instance/\\1', '/service/foo/v1/api', '/v1/api/instance/foo'],
    ['one', 'two', '/xxx/one/yyy/one/zzz', '/xxx/two/yyy/two/zzz'],
    ['^(.*?)one(.*)$', '\\1two\\2', '/xxx/one/yyy/one/zzz', '/xxx/two/yyy/one/zzz'],
    ['(?i)/xxx/', '/yyy/', '/aaa/XxX/bbb', '/aaa/yyy/bbb'],
    ['one', 'two', '/one?one=1', '/two?one=1'], // query string untouched
  ];
  for (const [pattern, sub, path, want] of cases) {
    it(`${pattern} -> ${sub}: ${path}`, () => {
      const action = `{cluster: c, regex_rewrite: {pattern: {regex: ${JSON.stringify(pattern)}}, substitution: ${JSON.stringify(sub)}}}`;
      assert.equal(rewritten('{prefix: /}', action, path).path, want);
    });
  }
});

describe('host rewrites', () => {
  it('host_rewrite_literal, with x-envoy-original-host when asked', () => {
    const { entry, h } = routeFor('{prefix: /}', '{cluster: c, host_rewrite_literal: upstream.internal}', 'public.com');
    entry.rewriteRequest(h, true);
    assert.equal(h.get(':authority'), 'upstream.internal');
    assert.equal(h.get('x-envoy-original-host'), 'public.com');
  });

  it('append_x_forwarded_host appends the old host unless it is already last', () => {
    const { entry, h } = routeFor('{prefix: /}', '{cluster: c, host_rewrite_literal: up, append_x_forwarded_host: true}', 'public.com');
    h.set('x-forwarded-host', 'first.com');
    entry.rewriteRequest(h, false);
    assert.equal(h.get('x-forwarded-host'), 'first.com,public.com');
    assert.equal(h.get('x-envoy-original-host'), undefined);
    const h2 = req('public.com', '/', [['x-forwarded-host', 'public.com']]);
    entry.rewriteRequest(h2, false);
    assert.equal(h2.get('x-forwarded-host'), 'public.com');
    const h3 = req('public.com', '/');
    entry.rewriteRequest(h3, false);
    assert.equal(h3.get('x-forwarded-host'), 'public.com');
  });

  it('host_rewrite_header uses the first value; absent leaves the host', () => {
    const { entry } = routeFor('{prefix: /}', '{cluster: c, host_rewrite_header: X-Target}');
    const h = req('public.com', '/', [['x-target', 'b.internal'], ['x-target', 'c.internal']]);
    entry.rewriteRequest(h, false);
    assert.equal(h.get(':authority'), 'b.internal');
    const h2 = req('public.com', '/');
    entry.rewriteRequest(h2, false);
    assert.equal(h2.get(':authority'), 'public.com');
  });

  it('host_rewrite_path_regex', () => {
    const { entry } = routeFor('{prefix: /}',
      '{cluster: c, host_rewrite_path_regex: {pattern: {regex: "^/prefix/(.+)/.*$"}, substitution: "\\\\1"}}');
    const h = req('public.com', '/prefix/service-a.internal/x?q');
    entry.rewriteRequest(h, false);
    assert.equal(h.get(':authority'), 'service-a.internal');
  });

  it('auto_host_rewrite is a flag for the router', () => {
    assert.equal(routeFor('{prefix: /}', '{cluster: c, auto_host_rewrite: true}').entry.autoHostRewrite, true);
    assert.equal(routeFor('{prefix: /}', '{cluster: c}').entry.autoHostRewrite, false);
  });
});
