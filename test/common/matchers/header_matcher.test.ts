import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { HeaderMatcher as HeaderMatcherProto } from '../../../src/generated/envoy/config/route/v3/route_components_pb.js';
import type { HeaderMap } from '../../../src/envoy/http/header_map.js';
import { compileHeaderMatcher, getAllOfHeaderAsString } from '../../../src/common/matchers/header_matcher.js';
import { MatcherConfigError } from '../../../src/common/matchers/errors.js';
import { headers, parseYaml } from '../../router/test_util.js';

const hm = (yaml: string) => compileHeaderMatcher(parseYaml<HeaderMatcherProto>('envoy.config.route.v3.HeaderMatcher', yaml));
const H = (...pairs: Array<[string, string]>) => headers(pairs);
const EMPTY = H();

/** A HeaderMap without rawNames(), to test the generic join path. */
function plain(h: HeaderMap): HeaderMap {
  return {
    get: (n) => h.get(n), getAll: (n) => h.getAll(n), has: (n) => h.has(n), set: (n, v) => h.set(n, v),
    add: (n, v) => h.add(n, v), remove: (n) => h.remove(n), removePrefix: (p) => h.removePrefix(p),
    forEach: (cb) => h.forEach(cb), get size() { return h.size; }, byteSize: () => h.byteSize(), clone: () => h.clone(),
  };
}

// [matcher yaml, matching header sets, non-matching header sets] — from Envoy's header_utility_test.cc.
type Case = [string, HeaderMap[], HeaderMap[]];
const X = 'name: match-header';
const cases: Case[] = [
  [X, [H(['match-header', 'value'])], [H(['other-header', 'value']), EMPTY]],
  [`${X}\ntreat_missing_header_as_empty: true`, [H(['match-header', 'value']), H(['other', 'v']), EMPTY], []],
  [`${X}\nexact_match: match-value`, [H(['match-header', 'match-value'])], [H(['match-header', 'other-value']), EMPTY]],
  [`${X}\nexact_match: ""`, [H(['match-header', 'anything'])], [EMPTY]],
  [`${X}\nexact_match: match-value\ninvert_match: true`,
    [H(['match-header', 'other-value'])], [H(['match-header', 'match-value']), EMPTY]],
  [`${X}\nexact_match: match-value\ninvert_match: true\ntreat_missing_header_as_empty: true`,
    [H(['match-header', 'other-value']), EMPTY], [H(['match-header', 'match-value'])]],
  [`${X}\nsafe_regex_match: {regex: '\\d{3}'}`, [H(['match-header', '123'])], [H(['match-header', '1234']), H(['match-header', '123.456'])]],
  [`${X}\nsafe_regex_match: {regex: '\\d{3}'}\ninvert_match: true`, [H(['match-header', '1234'])], [H(['match-header', '123']), EMPTY]],
  [`${X}\nrange_match: {start: -10, end: 0}`, [H(['match-header', '-1']), H(['match-header', '-10']), H(['match-header', ' -5 ']), H(['match-header', '-3'])],
    [H(['match-header', '0']), H(['match-header', 'somestring']), H(['match-header', '10.9']), H(['match-header', '-1somestring']), EMPTY]],
  [`${X}\nrange_match: {start: -10, end: 0}\ninvert_match: true`,
    [H(['match-header', '0']), H(['match-header', 'somestring']), H(['match-header', '10.9'])], [H(['match-header', '-1']), EMPTY]],
  [`${X}\nrange_match: {start: -10, end: 0}\ninvert_match: true\ntreat_missing_header_as_empty: true`,
    [H(['match-header', '0']), EMPTY], [H(['match-header', '-1'])]],
  [`${X}\npresent_match: true`, [H(['match-header', '123'])], [H(['nonmatch-header', '1']), EMPTY]],
  [`${X}\npresent_match: true\ntreat_missing_header_as_empty: true`, [H(['match-header', '123']), H(['x', '1']), EMPTY], []],
  [`${X}\npresent_match: false`, [H(['nonmatch-header', '1']), EMPTY], [H(['match-header', '123'])]],
  [`${X}\npresent_match: false\ntreat_missing_header_as_empty: true`, [], [H(['match-header', '123']), H(['x', '1']), EMPTY]],
  [`${X}\npresent_match: true\ninvert_match: true`, [H(['nonmatch-header', '1']), EMPTY], [H(['match-header', '123'])]],
  [`${X}\npresent_match: true\ninvert_match: true\ntreat_missing_header_as_empty: true`, [], [H(['match-header', '123']), H(['x', '1']), EMPTY]],
  [`${X}\npresent_match: false\ninvert_match: true`, [H(['match-header', '123'])], [H(['nonmatch-header', '1']), EMPTY]],
  [`${X}\npresent_match: false\ninvert_match: true\ntreat_missing_header_as_empty: true`, [H(['match-header', '123']), H(['x', '1']), EMPTY], []],
  [`${X}\nprefix_match: value`, [H(['match-header', 'value123'])], [H(['match-header', '123value']), EMPTY]],
  [`${X}\nprefix_match: value\ninvert_match: true\ntreat_missing_header_as_empty: true`,
    [H(['match-header', '123value']), EMPTY], [H(['match-header', 'value123'])]],
  [`${X}\nsuffix_match: value`, [H(['match-header', '123value'])], [H(['match-header', 'value123']), EMPTY]],
  [`${X}\ncontains_match: onevalue`, [H(['match-header', '123onevalue456'])], [H(['match-header', '123anothervalue456'])]],
  [`${X}\ncontains_match: onevalue\ninvert_match: true`, [H(['match-header', '123anothervalue456'])], [H(['match-header', '123onevalue456']), EMPTY]],
  [`${X}\nstring_match: {exact: match-value}`, [H(['match-header', 'match-value'])], [H(['match-header', 'other-value']), H(['other-header', 'match-value'])]],
  [`${X}\nstring_match: {contains: onevalue, ignore_case: true}`,
    [H(['match-header', '123onevalue456']), H(['match-header', '123OneValue456'])], [H(['match-header', '123anothervalue456']), EMPTY]],
  [`${X}\nstring_match: {exact: match-value}\ninvert_match: true`,
    [H(['match-header', 'other-value'], ['other-header', 'match-value'])], [H(['match-header', 'match-value']), H(['other-header', 'match-value'])]],
  // Two values of the header are matched as one joined value.
  [`${X}\nsafe_regex_match: {regex: '\\d{3}'}\ninvert_match: true`, [H(['match-header', '1234'], ['match-header', '123.456'])], [H(['match-header', '123'])]],
  [`${X}\nstring_match: {exact: match-value}\ninvert_match: true\ntreat_missing_header_as_empty: true`,
    [H(['match-header', 'other-value']), EMPTY], [H(['match-header', 'match-value'])]],
  // Header names in config are case-insensitive.
  ['name: Match-Header\nstring_match: {exact: v}', [H(['match-header', 'v'])], []],
  // Pseudo headers are matchable.
  ['name: ":method"\nstring_match: {exact: POST}', [H([':method', 'POST'])], [H([':method', 'GET'])]],
];

describe('HeaderMatcher (Envoy header_utility_test cases)', () => {
  cases.forEach(([yaml, yes, no], i) => {
    it(`#${i}: ${yaml.replace(/\n/g, ', ')}`, () => {
      const m = hm(yaml);
      yes.forEach((h, j) => assert.equal(m.match(h), true, `should match set ${j}`));
      no.forEach((h, j) => assert.equal(m.match(h), false, `should not match set ${j}`));
      yes.forEach((h) => assert.equal(m.match(plain(h)), true));
      no.forEach((h) => assert.equal(m.match(plain(h)), false));
    });
  });
});

describe('multi-valued headers are joined with a comma', () => {
  it('regex (a|b) matches one value but not "a,b"; exact "a,b" does', () => {
    const h = H(['some-header', 'a'], ['other-header', 'b']);
    const m = hm('name: match-header\nstring_match: {safe_regex: {regex: "(a|b)"}}');
    assert.equal(m.match(h), false);
    h.add('match-header', 'a');
    assert.equal(m.match(h), true);
    h.add('match-header', 'b');
    assert.equal(m.match(h), false);
    assert.equal(hm('name: match-header\nstring_match: {exact: "a,b"}').match(h), true);
    assert.equal(hm('name: match-header\nstring_match: {exact: "a,b"}').match(plain(h)), true);
  });

  it('getAllOfHeaderAsString keeps empty values', () => {
    for (const map of [(p: Array<[string, string]>) => H(...p), (p: Array<[string, string]>) => plain(H(...p))]) {
      assert.equal(getAllOfHeaderAsString(map([]), 'test'), undefined);
      assert.equal(getAllOfHeaderAsString(map([['test', 'foo']]), 'test'), 'foo');
      assert.equal(getAllOfHeaderAsString(map([['test', 'foo'], ['test', 'bar']]), 'test'), 'foo,bar');
      assert.equal(getAllOfHeaderAsString(map([['test', ''], ['test', 'bar']]), 'test'), ',bar');
      assert.equal(getAllOfHeaderAsString(map([['test', 'a'], ['test', 'b'], ['test', 'c'], ['test', ''], ['test', '']]), 'test'), 'a,b,c,,');
    }
  });
});

describe('HeaderMatcher config errors', () => {
  it('names the bad field', () => {
    assert.throws(() => hm('name: x\nsafe_regex_match: {regex: "("}'), (e: unknown) => e instanceof MatcherConfigError && e.field === 'safe_regex_match.regex');
    assert.throws(() => hm('name: x\nstring_match: {prefix: ""}'), (e: unknown) => e instanceof MatcherConfigError && e.field === 'string_match.prefix');
    assert.throws(() => hm('name: ""'), (e: unknown) => e instanceof MatcherConfigError && e.field === 'name');
  });
});
