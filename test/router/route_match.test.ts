import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { req, table, target } from './test_util.js';

/** A table with one catch-all vhost whose routes are given as YAML list items. */
function routes(items: string, extra = ''): ReturnType<typeof table> {
  return table(`
name: rc
${extra}
virtual_hosts:
- name: vh
  domains: ["*"]
  routes:
${items.split('\n').map((l) => `  ${l}`).join('\n')}
`);
}

type Case = [path: string, want: string | null, extra?: Array<[string, string]>];
function check(t: ReturnType<typeof table>, cases: Case[]): void {
  for (const [path, want, extra] of cases) {
    assert.equal(target(t, req('h', path, extra ?? [])), want, `${path} ${JSON.stringify(extra ?? [])}`);
  }
}

describe('path specifiers', () => {
  it('prefix (case-sensitive by default; /api also matches /apiary)', () => {
    const t = routes('- {match: {prefix: /api}, route: {cluster: api}}');
    check(t, [['/api', 'api'], ['/api/v1', 'api'], ['/apiary', 'api'], ['/api?x=1', 'api'], ['/API', null], ['/ap', null]]);
  });

  it('prefix with case_sensitive: false', () => {
    const t = routes('- {match: {prefix: /Api, case_sensitive: false}, route: {cluster: api}}');
    check(t, [['/api/x', 'api'], ['/API/x', 'api'], ['/aPi', 'api'], ['/ap', null]]);
  });

  it('empty prefix and "/" match everything', () => {
    check(routes('- {match: {prefix: ""}, route: {cluster: all}}'), [['/', 'all'], ['/x', 'all'], ['*', 'all']]);
    check(routes('- {match: {prefix: /}, route: {cluster: all}}'), [['/', 'all'], ['/x', 'all'], ['*', null]]);
  });

  it('path: exact, query string and fragment ignored', () => {
    const t = routes('- {match: {path: /exact}, route: {cluster: ex}}');
    check(t, [['/exact', 'ex'], ['/exact?a=b', 'ex'], ['/exact#frag', 'ex'], ['/exact/', null], ['/exactly', null], ['/EXACT', null]]);
    const ci = routes('- {match: {path: /Exact, case_sensitive: false}, route: {cluster: ex}}');
    check(ci, [['/exact', 'ex'], ['/EXACT?q', 'ex'], ['/exact2', null]]);
  });

  it('a prefix or path containing ? never matches (Envoy strips the query before matching)', () => {
    check(routes('- {match: {prefix: "/a?b"}, route: {cluster: c}}'), [['/a?b', null], ['/a?bc', null]]);
    check(routes('- {match: {path: "/a?b"}, route: {cluster: c}}'), [['/a?b', null]]);
  });

  it('safe_regex: full match on the path without query', () => {
    const t = routes('- {match: {safe_regex: {regex: "/users/[0-9]+"}}, route: {cluster: users}}');
    check(t, [['/users/42', 'users'], ['/users/42?x=1', 'users'], ['/users/42/x', null], ['/v1/users/42', null], ['/users/abc', null]]);
  });

  it('safe_regex ignores case_sensitive (use (?i))', () => {
    check(routes('- {match: {safe_regex: {regex: "/a"}, case_sensitive: false}, route: {cluster: c}}'), [['/a', 'c'], ['/A', null]]);
    check(routes('- {match: {safe_regex: {regex: "(?i)/a"}}, route: {cluster: c}}'), [['/A', 'c']]);
  });

  it('path_separated_prefix (Envoy doc: /api/dev)', () => {
    const t = routes('- {match: {path_separated_prefix: /api/dev}, route: {cluster: dev}}');
    check(t, [['/api/dev', 'dev'], ['/api/dev/', 'dev'], ['/api/dev/x', 'dev'], ['/api/dev?q', 'dev'], ['/api/dev#f', 'dev'],
      ['/api/developer', null], ['/api/de', null], ['/API/dev', null]]);
    const ci = routes('- {match: {path_separated_prefix: /api/dev, case_sensitive: false}, route: {cluster: dev}}');
    check(ci, [['/API/Dev/x', 'dev'], ['/api/devx', null]]);
  });

  it('connect_matcher matches CONNECT only, with or without :path', () => {
    const t = routes(`- {match: {connect_matcher: {}}, route: {cluster: tunnel}}
- {match: {prefix: /}, route: {cluster: web}}`);
    const connect = req('h:443', '/');
    connect.set(':method', 'CONNECT');
    connect.remove(':path');
    assert.equal(target(t, connect), 'tunnel');
    check(t, [['/', 'web']]);
    const udp = req('h', '/', [['upgrade', 'CONNECT-UDP']]);
    assert.equal(target(t, udp), 'tunnel');
  });

  it('requests without :path only match connect routes', () => {
    const t = routes('- {match: {prefix: ""}, route: {cluster: all}}');
    const h = req('h', '/');
    h.remove(':path');
    assert.equal(target(t, h), null);
  });

  it('ignore_path_parameters_in_path_matching cuts ";params" before matching', () => {
    const t = routes('- {match: {path: /a/b}, route: {cluster: c}}', 'ignore_path_parameters_in_path_matching: true');
    check(t, [['/a/b;jsessionid=1', 'c'], ['/a/b;x?q=1', 'c'], ['/a/b', 'c']]);
    check(routes('- {match: {path: /a/b}, route: {cluster: c}}'), [['/a/b;jsessionid=1', null]]);
  });

  it('routes are tried in order; the first match wins', () => {
    const t = routes(`- {match: {prefix: /api/v2}, route: {cluster: v2}}
- {match: {prefix: /api}, route: {cluster: api}}
- {match: {prefix: /api/v3}, route: {cluster: never}}
- {match: {prefix: /}, route: {cluster: default}}`);
    check(t, [['/api/v2/x', 'v2'], ['/api/v3', 'api'], ['/other', 'default']]);
  });
});

describe('header matching on routes', () => {
  const t = routes(`- match: {prefix: /, headers: [{name: x-canary, string_match: {exact: "true"}}, {name: x-user, present_match: true}]}
  route: {cluster: canary}
- match: {prefix: /, headers: [{name: x-version, range_match: {start: 2, end: 4}}]}
  route: {cluster: v2or3}
- match: {prefix: /, headers: [{name: x-env, string_match: {exact: prod}, invert_match: true}]}
  route: {cluster: notprod}
- match: {prefix: /, headers: [{name: ":method", string_match: {exact: POST}}]}
  route: {cluster: post}
- {match: {prefix: /}, route: {cluster: default}}`);

  it('all matchers are ANDed', () => {
    check(t, [
      ['/', 'canary', [['x-canary', 'true'], ['x-user', 'bob'], ['x-env', 'prod']]],
      ['/', 'default', [['x-canary', 'true'], ['x-env', 'prod']]],
    ]);
  });
  it('range_match is [start, end)', () => {
    check(t, [['/', 'v2or3', [['x-version', '2'], ['x-env', 'prod']]], ['/', 'v2or3', [['x-version', '3'], ['x-env', 'prod']]],
      ['/', 'default', [['x-version', '4'], ['x-env', 'prod']]], ['/', 'default', [['x-version', '1'], ['x-env', 'prod']]]]);
  });
  it('invert_match: an absent header does not match an inverted exact', () => {
    check(t, [['/', 'notprod', [['x-env', 'staging']]], ['/', 'default', [['x-env', 'prod']]], ['/', 'default']]);
  });
  it('pseudo-headers', () => {
    check(t, [['/', 'post', [[':method', 'POST'], ['x-env', 'prod']]]]);
  });
  it('multi-valued headers are joined with ","', () => {
    const t2 = routes(`- match: {prefix: /, headers: [{name: x-a, string_match: {exact: "1,2"}}]}
  route: {cluster: joined}
- match: {prefix: /, headers: [{name: x-a, string_match: {exact: "1"}}]}
  route: {cluster: one}`);
    check(t2, [['/', 'joined', [['x-a', '1'], ['x-a', '2']]], ['/', 'one', [['x-a', '1']]]]);
  });
});

describe('query parameters, grpc and runtime_fraction', () => {
  it('query_parameters', () => {
    const t = routes(`- match: {prefix: /, query_parameters: [{name: debug, string_match: {exact: "1"}}, {name: trace, present_match: true}]}
  route: {cluster: debug}
- {match: {prefix: /}, route: {cluster: default}}`);
    check(t, [['/x?debug=1&trace', 'debug'], ['/x?trace=0&debug=1', 'debug'], ['/x?debug=1', 'default'],
      ['/x?debug=2&trace', 'default'], ['/x?debug=2&debug=1&trace', 'default'], ['/x', 'default']]);
  });

  it('grpc: content-type application/grpc or application/grpc+*', () => {
    const t = routes(`- {match: {prefix: /, grpc: {}}, route: {cluster: grpc}}
- {match: {prefix: /}, route: {cluster: http}}`);
    check(t, [
      ['/svc/M', 'grpc', [['content-type', 'application/grpc']]],
      ['/svc/M', 'grpc', [['content-type', 'application/grpc+proto']]],
      ['/svc/M', 'http', [['content-type', 'application/grpc-web']]],
      ['/svc/M', 'http', [['content-type', 'application/json']]],
      ['/svc/M', 'http'],
    ]);
  });

  it('runtime_fraction uses random % denominator < numerator (default_value)', () => {
    const t = routes(`- match: {prefix: /, runtime_fraction: {default_value: {numerator: 1, denominator: TEN_THOUSAND}, runtime_key: k2}}
  route: {cluster: rare}
- match: {prefix: /, runtime_fraction: {default_value: {numerator: 25, denominator: HUNDRED}, runtime_key: k}}
  route: {cluster: canary}
- match: {prefix: /, runtime_fraction: {default_value: {numerator: 500000, denominator: MILLION}, runtime_key: k3}}
  route: {cluster: half}
- {match: {prefix: /}, route: {cluster: stable}}`);
    const at = (r: number) => target(t, req('h', '/'), r);
    assert.equal(at(0), 'rare');
    assert.equal(at(10000), 'rare');
    assert.equal(at(1), 'canary');
    assert.equal(at(24), 'canary');
    assert.equal(at(10024), 'canary');
    assert.equal(at(25), 'half'); // 25 % 1e6 < 500000
    assert.equal(at(125), 'half');
    assert.equal(at(500025), 'stable'); // 500025 % 100 = 25, % 1e6 = 500025
    assert.equal(at(999999), 'stable');
  });
});
