/**
 * Route `hash_policy` (Envoy's source/common/http/hash_policy.cc): what each
 * policy hashes, how several combine (rotate-left-1 xor), `terminal`, the
 * generated cookie, and config errors naming the field.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { AddCookieCallback, CookieAttribute } from '../../src/envoy/router/router.js';
import { xxHash64String, xxHash64Strings } from '../../src/common/hash/xxhash64.js';
import { RouteConfigError } from '../../src/router/config_error.js';
import {
  firstQueryParameter, generatedCookieValue, makeSetCookieValue, parseCookieValue,
} from '../../src/router/hash_policy_impl.js';
import type { RouteEntryImpl } from '../../src/router/route_entry_impl.js';
import { headers, req, streamInfo, table } from './test_util.js';

const MASK = 0xffffffffffffffffn;
const rotl1 = (h: bigint): bigint => ((h << 1n) | (h >> 63n)) & MASK;

function entry(hashPolicy: string): RouteEntryImpl {
  const t = table(`
virtual_hosts:
- name: vh
  domains: ["*"]
  routes:
  - match: {prefix: /}
    route: {cluster: c, hash_policy: ${hashPolicy}}`);
  return t.route(req('h', '/'), streamInfo(), 0)!.routeEntry as RouteEntryImpl;
}

const noCookie: AddCookieCallback = () => assert.fail('no cookie expected');

function hash(policy: string, h: Array<[string, string]>, si = streamInfo(), addCookie = noCookie): bigint | null {
  return entry(policy).hashPolicy!.generateHash(headers(h), si, addCookie);
}

describe('hash_policy', () => {
  it('a route without hash_policy has none', () => {
    const t = table('virtual_hosts: [{name: vh, domains: ["*"], routes: [{match: {prefix: /}, route: {cluster: c}}]}]');
    assert.equal((t.route(req('h', '/'), streamInfo(), 0)!.routeEntry as RouteEntryImpl).hashPolicy, null);
  });

  it('header: XXH64 of the value; absent header gives no hash; the name is case-insensitive', () => {
    assert.equal(hash('[{header: {header_name: X-User}}]', [['x-user', 'alice']]), xxHash64String('alice'));
    assert.equal(hash('[{header: {header_name: x-user}}]', [['x-other', 'alice']]), null);
    assert.notEqual(hash('[{header: {header_name: x-user}}]', [['x-user', 'bob']]), xxHash64String('alice'));
  });

  it('header with several values: sorted, hashed in sequence, so order does not matter', () => {
    const a = hash('[{header: {header_name: x-k}}]', [['x-k', 'foo'], ['x-k', 'bar']]);
    const b = hash('[{header: {header_name: x-k}}]', [['x-k', 'bar'], ['x-k', 'foo']]);
    assert.equal(a, b);
    assert.equal(a, xxHash64Strings(['bar', 'foo']));
  });

  it('header regex_rewrite: the rewritten value is hashed', () => {
    const p = '[{header: {header_name: ":path", regex_rewrite: {pattern: {regex: "^/users/([0-9]+)/.*$"}, substitution: "\\\\1"}}}]';
    assert.equal(hash(p, [[':path', '/users/42/profile']]), xxHash64String('42'));
    assert.equal(hash(p, [[':path', '/users/42/orders']]), xxHash64String('42'));
  });

  it('cookie: the value (quotes removed) among several cookies and cookie headers', () => {
    const p = '[{cookie: {name: session}}]';
    assert.equal(hash(p, [['cookie', 'a=1; session=abc; b=2']]), xxHash64String('abc'));
    assert.equal(hash(p, [['cookie', 'a=1'], ['cookie', 'session="abc"']]), xxHash64String('abc'));
    assert.equal(hash(p, [['cookie', 'xsession=abc']]), null);
    assert.equal(hash(p, []), null, 'missing and no ttl: no hash, no cookie');
  });

  it('cookie with ttl and no cookie: the callback makes the value, which is hashed', () => {
    const calls: Array<[string, string, number, ReadonlyArray<CookieAttribute>]> = [];
    const add: AddCookieCallback = (name, path, ttl, attrs) => { calls.push([name, path, ttl, attrs]); return 'generated'; };
    const p = '[{cookie: {name: sticky, ttl: 3600s, path: /app, attributes: [{name: SameSite, value: Strict}, {name: Secure}]}}]';
    assert.equal(hash(p, [], streamInfo(), add), xxHash64String('generated'));
    assert.deepEqual(calls, [['sticky', '/app', 3600, [{ name: 'SameSite', value: 'Strict' }, { name: 'Secure', value: '' }]]]);
    // A present cookie is used as is.
    assert.equal(hash(p, [['cookie', 'sticky=v1']], streamInfo(), add), xxHash64String('v1'));
    assert.equal(calls.length, 1);
  });

  it('connection_properties.source_ip: the downstream IP, IPv4 and IPv6; source_ip false hashes nothing', () => {
    const p = '[{connection_properties: {source_ip: true}}]';
    assert.equal(hash(p, [], streamInfo({ downstreamRemoteAddress: '10.1.2.3:5555' })), xxHash64String('10.1.2.3'));
    assert.equal(hash(p, [], streamInfo({ downstreamRemoteAddress: '10.1.2.3:6666' })), xxHash64String('10.1.2.3'), 'port ignored');
    assert.equal(hash(p, [], streamInfo({ downstreamRemoteAddress: '[2001:db8::1]:80' })), xxHash64String('2001:db8::1'));
    assert.equal(hash('[{connection_properties: {source_ip: false}}]', [], streamInfo({ downstreamRemoteAddress: '10.1.2.3:1' })), null);
  });

  it('query_parameter: the first value, undecoded; absent gives none', () => {
    const p = '[{query_parameter: {name: user}}]';
    assert.equal(hash(p, [[':path', '/x?a=1&user=al%20ice&user=bob']]), xxHash64String('al%20ice'));
    assert.equal(hash(p, [[':path', '/x?user']]), xxHash64String(''));
    assert.equal(hash(p, [[':path', '/x?users=1']]), null);
    assert.equal(hash(p, [[':path', '/x']]), null);
    assert.equal(firstQueryParameter('/p?x=1&y=2', 'y'), '2');
  });

  it('filter_state: a Hashable object or a string', () => {
    const si = streamInfo();
    si.filterState.set('obj', { hash: () => 1234n });
    si.filterState.set('str', 'tenant-7');
    si.filterState.set('other', { notHash: true });
    assert.equal(hash('[{filter_state: {key: obj}}]', [], si), 1234n);
    assert.equal(hash('[{filter_state: {key: str}}]', [], si), xxHash64String('tenant-7'));
    assert.equal(hash('[{filter_state: {key: other}}]', [], si), null);
    assert.equal(hash('[{filter_state: {key: missing}}]', [], si), null);
  });

  it('several policies combine as rotl(previous, 1) xor next; duplicates do not cancel', () => {
    const a = xxHash64String('A');
    const b = xxHash64String('B');
    const p = '[{header: {header_name: x-a}}, {header: {header_name: x-b}}]';
    assert.equal(hash(p, [['x-a', 'A'], ['x-b', 'B']]), rotl1(a) ^ b);
    assert.equal(hash(p, [['x-b', 'B']]), b, 'a policy without a hash is skipped');
    const dup = hash('[{header: {header_name: x-a}}, {header: {header_name: x-a}}]', [['x-a', 'A']]);
    assert.equal(dup, rotl1(a) ^ a);
    assert.notEqual(dup, 0n);
  });

  it('terminal: the first policy that produced a hash ends the list', () => {
    const p = '[{header: {header_name: x-a}, terminal: true}, {header: {header_name: x-b}}]';
    assert.equal(hash(p, [['x-a', 'A'], ['x-b', 'B']]), xxHash64String('A'));
    // A terminal policy that produced nothing does not stop the list.
    assert.equal(hash(p, [['x-b', 'B']]), xxHash64String('B'));
  });

  it('Set-Cookie values as Envoy writes them', () => {
    assert.equal(makeSetCookieValue('s', 'v', '/p', 60, true, []), 's="v"; Max-Age=60; Path=/p; HttpOnly');
    assert.equal(makeSetCookieValue('s', 'v', '', 0, true, [{ name: 'SameSite', value: 'Lax' }, { name: 'Secure', value: '' }]),
      's="v"; SameSite=Lax; Secure; HttpOnly');
  });

  it('the generated cookie value: 16 hex digits of XXH64(remote + local address), fixed per connection', () => {
    const si = streamInfo({ downstreamDirectRemoteAddress: '127.0.0.1:40000', downstreamLocalAddress: '127.0.0.1:10000' });
    const v = generatedCookieValue(si);
    assert.match(v, /^[0-9a-f]{16}$/);
    assert.equal(BigInt(`0x${v}`), xxHash64String('127.0.0.1:40000127.0.0.1:10000'));
    assert.notEqual(generatedCookieValue({ ...si, downstreamDirectRemoteAddress: '127.0.0.1:40001' }), v);
  });

  it('parseCookieValue skips malformed pieces', () => {
    assert.equal(parseCookieValue(headers([['cookie', 'junk; k=v']]), 'k'), 'v');
    assert.equal(parseCookieValue(headers([['cookie', '  k=""']]), 'k'), '');
  });
});

describe('hash_policy config errors name the field', () => {
  function rejects(policy: string, path: string, re: RegExp): void {
    let err: unknown;
    try {
      entry(policy);
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof RouteConfigError, `expected RouteConfigError, got ${String(err)}`);
    assert.equal(err.path, path);
    assert.match(err.message, re);
  }
  const base = 'virtual_hosts[0].routes[0].route.hash_policy';

  it('a policy with no specifier', () => {
    rejects('[{header: {header_name: x}}, {terminal: true}]', `${base}[1]`,
      /one of header, cookie, connection_properties, query_parameter or filter_state is required/);
  });

  it('empty names and a bad regex', () => {
    rejects('[{header: {header_name: ""}}]', `${base}[0].header.header_name`, /must not be empty/);
    rejects('[{cookie: {name: ""}}]', `${base}[0].cookie.name`, /must not be empty/);
    rejects('[{cookie: {name: c, attributes: [{name: ""}]}}]', `${base}[0].cookie.attributes[0].name`, /must not be empty/);
    rejects('[{query_parameter: {name: ""}}]', `${base}[0].query_parameter.name`, /must not be empty/);
    rejects('[{filter_state: {key: ""}}]', `${base}[0].filter_state.key`, /must not be empty/);
    rejects('[{header: {header_name: x, regex_rewrite: {pattern: {regex: "("}, substitution: y}}}]',
      `${base}[0].header.regex_rewrite.pattern.regex`, /invalid regex/);
  });
});
