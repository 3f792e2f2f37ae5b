import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { req, streamInfo, table } from './test_util.js';

/** Location for a request to `url` (scheme://host/path) with `x-forwarded-proto` = its scheme, through `redirect`. */
function location(redirect: string, url: string, match = '{prefix: /}', xfp?: string): { code: number; location: string } {
  const t = table(`
name: rc
virtual_hosts:
- name: vh
  domains: ["*"]
  routes:
  - match: ${match}
    redirect: ${redirect}
`);
  const u = /^(\w+):\/\/([^/]+)(.*)$/.exec(url)!;
  const h = req(u[2]!, u[3]!, [[':scheme', u[1]!], ['x-forwarded-proto', xfp ?? u[1]!]]);
  const r = t.route(h, streamInfo(), 0);
  assert.ok(r?.redirect, 'expected a redirect route');
  return { code: r.redirect.responseCode, location: r.redirect.newLocation(h) };
}

describe('redirect Location construction (Envoy Http::Utility::newUri)', () => {
  const cases: Array<[string, string, string, string?]> = [
    // [redirect action, request URL, expected Location, match]
    ['{host_redirect: new.com}', 'http://old.com/a?b=c', 'http://new.com/a?b=c'],
    ['{host_redirect: new.com}', 'http://old.com:8080/a', 'http://new.com/a'],
    ['{path_redirect: /new}', 'http://h.com/old?x=1', 'http://h.com/new?x=1'],
    ['{path_redirect: "/new?y=2"}', 'http://h.com/old?x=1', 'http://h.com/new?y=2'],
    ['{path_redirect: "/new?y=2", strip_query: true}', 'http://h.com/old?x=1', 'http://h.com/new?y=2'],
    ['{path_redirect: /new, strip_query: true}', 'http://h.com/old?x=1', 'http://h.com/new'],
    ['{strip_query: true}', 'http://h.com/p?x=1', 'http://h.com/p'],
    ['{https_redirect: true}', 'http://h.com/p?x=1', 'https://h.com/p?x=1'],
    ['{https_redirect: true}', 'http://h.com:80/p', 'https://h.com/p'], // default http port dropped on scheme change
    ['{https_redirect: true}', 'http://h.com:8080/p', 'https://h.com:8080/p'], // other ports kept
    ['{scheme_redirect: http}', 'https://h.com:443/p', 'http://h.com/p'],
    ['{scheme_redirect: https}', 'https://h.com:443/p', 'https://h.com:443/p'], // same scheme: port kept
    ['{scheme_redirect: ws}', 'http://h.com:80/p', 'ws://h.com/p'],
    ['{port_redirect: 8443}', 'http://h.com:8080/p', 'http://h.com:8443/p'],
    ['{port_redirect: 8443}', 'http://h.com/p', 'http://h.com:8443/p'],
    ['{https_redirect: true, port_redirect: 8443}', 'http://h.com:80/p', 'https://h.com:8443/p'],
    ['{host_redirect: new.com, port_redirect: 9000}', 'http://h.com:80/p', 'http://new.com:9000/p'],
    ['{port_redirect: 8443}', 'http://[::1]:8080/p', 'http://[::1]:8443/p'],
    ['{https_redirect: true}', 'http://[::1]:80/p', 'https://[::1]/p'],
    ['{https_redirect: true}', 'http://[::1]/p', 'https://[::1]/p'],
    ['{https_redirect: true, host_redirect: secure.com, path_redirect: /login, response_code: PERMANENT_REDIRECT}',
      'http://h.com/x?r=1', 'https://secure.com/login?r=1'],
    // prefix_rewrite replaces the matched prefix.
    ['{prefix_rewrite: /v2/}', 'http://h.com/v1/users?x=1', 'http://h.com/v2/users?x=1', '{prefix: /v1/}'],
    ['{prefix_rewrite: /}', 'http://h.com/prefix/etc', 'http://h.com/etc', '{prefix: /prefix/}'],
    ['{prefix_rewrite: /}', 'http://h.com/prefix', 'http://h.com/', '{prefix: /prefix}'],
    ['{prefix_rewrite: /new, strip_query: true}', 'http://h.com/old/a?q', 'http://h.com/new/a', '{prefix: /old}'],
    // regex_rewrite rewrites the path and keeps the query.
    ['{regex_rewrite: {pattern: {regex: "^/service/([^/]+)(/.*)$"}, substitution: "\\\\2/instance/\\\\1"}}',
      'http://h.com/service/foo/v1/api?x', 'http://h.com/v1/api/instance/foo?x'],
    // A path without a leading '/' gets one.
    ['{path_redirect: new}', 'http://h.com/old', 'http://h.com/new'],
  ];
  for (const [action, url, want, match] of cases) {
    it(`${action} on ${url}`, () => assert.equal(location(action, url, match).location, want));
  }

  it('port dropping follows x-forwarded-proto, not :scheme', () => {
    // URL says http on port 80 but the request arrived over TLS (x-forwarded-proto https): port kept.
    assert.equal(location('{https_redirect: true}', 'http://h.com:80/p', '{prefix: /}', 'https').location, 'https://h.com:80/p');
  });

  it('response codes', () => {
    const code = (c?: string) => location(c === undefined ? '{host_redirect: a}' : `{host_redirect: a, response_code: ${c}}`, 'http://h/').code;
    assert.equal(code(), 301);
    assert.equal(code('MOVED_PERMANENTLY'), 301);
    assert.equal(code('FOUND'), 302);
    assert.equal(code('SEE_OTHER'), 303);
    assert.equal(code('TEMPORARY_REDIRECT'), 307);
    assert.equal(code('PERMANENT_REDIRECT'), 308);
  });

  it('prefix_rewrite on a regex route replaces the whole path (query kept)', () => {
    assert.equal(location('{prefix_rewrite: /fixed}', 'http://h.com/a/b?q=1', '{safe_regex: {regex: "/a/.*"}}').location,
      'http://h.com/fixed?q=1');
  });

  it('no Location without :path', () => {
    const t = table(`
virtual_hosts:
- name: vh
  domains: ["*"]
  routes: [{match: {connect_matcher: {}}, redirect: {host_redirect: x}}]`);
    const h = req('h:443', '/', [[':method', 'CONNECT']]);
    h.remove(':path');
    assert.equal(t.route(h, streamInfo(), 0)?.redirect?.newLocation(h), '');
  });
});

describe('require_tls', () => {
  const t = table(`
virtual_hosts:
- name: secure
  domains: [secure.com]
  require_tls: ALL
  routes: [{match: {prefix: /}, route: {cluster: s}}]
- name: ext
  domains: [ext.com]
  require_tls: EXTERNAL_ONLY
  routes: [{match: {prefix: /}, route: {cluster: e}}]`);

  it('ALL redirects any non-https request with a 301 to https://host/path', () => {
    const h = req('secure.com', '/a?b', [['x-forwarded-proto', 'http']]);
    const r = t.route(h, streamInfo(), 0)!;
    assert.equal(r.redirect?.responseCode, 301);
    assert.equal(r.redirect?.newLocation(h), 'https://secure.com/a?b');
    assert.equal(t.route(req('secure.com', '/', [['x-forwarded-proto', 'https']]), streamInfo(), 0)?.routeEntry?.clusterName(req('h', '/'), 0), 's');
  });

  it('EXTERNAL_ONLY lets x-envoy-internal requests through', () => {
    assert.ok(t.route(req('ext.com', '/', [['x-forwarded-proto', 'http']]), streamInfo(), 0)?.redirect);
    assert.ok(t.route(req('ext.com', '/', [['x-forwarded-proto', 'http'], ['x-envoy-internal', 'true']]), streamInfo(), 0)?.routeEntry);
  });

  it('without x-forwarded-proto there is no route (as Envoy)', () => {
    assert.equal(t.route(req('secure.com', '/'), streamInfo(), 0), null);
  });
});
