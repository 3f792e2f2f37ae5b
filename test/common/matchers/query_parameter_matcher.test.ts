import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { QueryParameterMatcher as Proto } from '../../../src/generated/envoy/config/route/v3/route_components_pb.js';
import { QueryParameterMatcherImpl, findFirstQueryParameter } from '../../../src/common/matchers/query_parameter_matcher.js';
import { parseYaml } from '../../router/test_util.js';

const qm = (yaml: string) => new QueryParameterMatcherImpl(parseYaml<Proto>('envoy.config.route.v3.QueryParameterMatcher', yaml));

describe('findFirstQueryParameter', () => {
  const cases: Array<[string, string, string | undefined]> = [
    ['/p', 'a', undefined],
    ['/p?a=1', 'a', '1'],
    ['/p?b=2&a=1&a=3', 'a', '1'], // first value only
    ['/p?a', 'a', ''],
    ['/p?a=', 'a', ''],
    ['/p?ab=1', 'a', undefined],
    ['/p?a=1=2', 'a', '1=2'],
    ['/p?x=1&&a=2', 'a', '2'],
    ['/p?a%20b=1', 'a b', undefined], // not decoded
    ['/p?a%20b=1', 'a%20b', '1'],
  ];
  for (const [path, name, want] of cases) {
    it(`${path} [${name}] -> ${want}`, () => assert.equal(findFirstQueryParameter(path, name), want));
  }
});

describe('QueryParameterMatcher', () => {
  it('string_match on the first value', () => {
    const m = qm('name: debug\nstring_match: {exact: "1"}');
    assert.ok(m.match('/x?debug=1'));
    assert.ok(!m.match('/x?debug=2&debug=1'));
    assert.ok(!m.match('/x?debug'));
    assert.ok(!m.match('/x'));
  });
  it('present_match (and no specifier) require presence only', () => {
    for (const y of ['name: debug\npresent_match: true', 'name: debug\npresent_match: false', 'name: debug']) {
      const m = qm(y);
      assert.ok(m.match('/x?debug'), y);
      assert.ok(m.match('/x?a=b&debug=anything'), y);
      assert.ok(!m.match('/x?debugger=1'), y);
      assert.ok(!m.match('/x'), y);
    }
  });
  it('regex and ignore_case', () => {
    assert.ok(qm('name: id\nstring_match: {safe_regex: {regex: "[0-9]+"}}').match('/x?id=42'));
    assert.ok(!qm('name: id\nstring_match: {safe_regex: {regex: "[0-9]+"}}').match('/x?id=42a'));
    assert.ok(qm('name: v\nstring_match: {prefix: beta, ignore_case: true}').match('/x?v=BETA2'));
  });
  it('a name with = or & never matches', () => {
    assert.ok(!qm('name: "a=b"').match('/x?a=b=c'));
  });
});
