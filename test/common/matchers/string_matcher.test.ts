import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { StringMatcher as StringMatcherProto } from '../../../src/generated/envoy/type/matcher/v3/string_pb.js';
import { MatcherConfigError } from '../../../src/common/matchers/errors.js';
import { RegexError } from '../../../src/common/matchers/regex.js';
import { compileStringMatcher } from '../../../src/common/matchers/string_matcher.js';
import { asciiLower, equalsIgnoreCase } from '../../../src/common/matchers/ascii.js';
import { parseYaml } from '../../router/test_util.js';

const sm = (yaml: string) => compileStringMatcher(parseYaml<StringMatcherProto>('envoy.type.matcher.v3.StringMatcher', yaml));

describe('StringMatcher', () => {
  const cases: Array<[string, string, boolean]> = [
    ['exact: foo', 'foo', true],
    ['exact: foo', 'Foo', false],
    ['exact: foo', 'foox', false],
    ['{exact: foo, ignore_case: true}', 'FoO', true],
    ['exact: ""', '', true],
    ['exact: ""', 'a', false],
    ['prefix: /api', '/api/v1', true],
    ['prefix: /api', '/API/v1', false],
    ['{prefix: /api, ignore_case: true}', '/API/v1', true],
    ['suffix: .png', 'a.png', true],
    ['suffix: .png', 'a.PNG', false],
    ['{suffix: .png, ignore_case: true}', 'a.PNG', true],
    ['contains: mid', 'amidb', true],
    ['contains: mid', 'aMIDb', false],
    ['{contains: MiD, ignore_case: true}', 'amIdb', true],
    ['{safe_regex: {regex: "a+b"}}', 'aaab', true],
    ['{safe_regex: {regex: "a+b"}}', 'xaaab', false], // full match, not partial
    ['{safe_regex: {regex: "a+b"}}', 'aaabx', false],
    // ignore_case has no effect on safe_regex (as Envoy); (?i) does.
    ['{safe_regex: {regex: "ab"}, ignore_case: true}', 'AB', false],
    ['{safe_regex: {regex: "(?i)ab"}}', 'AB', true],
    // Only ASCII folds (absl semantics): 'É' vs 'é' differ.
    ['{exact: "é", ignore_case: true}', 'É', false],
  ];
  for (const [cfg, value, want] of cases) {
    it(`${cfg} on '${value}' -> ${want}`, () => assert.equal(sm(cfg).match(value), want));
  }

  it('rejects an empty prefix/suffix/contains', () => {
    for (const k of ['prefix', 'suffix', 'contains']) {
      assert.throws(() => sm(`${k}: ""`), (e: unknown) => e instanceof MatcherConfigError && e.field === k);
    }
  });

  it('rejects invalid RE2 naming the pattern and field', () => {
    assert.throws(() => sm('{safe_regex: {regex: "a(?=b)"}}'), (e: unknown) => {
      assert.ok(e instanceof RegexError);
      assert.equal(e.pattern, 'a(?=b)');
      assert.equal(e.field, 'safe_regex.regex');
      assert.match(e.message, /a\(\?=b\)/);
      return true;
    });
  });

  it('rejects a missing pattern', () => {
    assert.throws(() => sm('ignore_case: true'), MatcherConfigError);
  });
});

describe('ascii helpers', () => {
  it('asciiLower returns the same string when already lower-case', () => {
    const s = 'www.example.com';
    assert.equal(asciiLower(s), s);
    assert.equal(asciiLower('WwW.ExAmple.COM'), 'www.example.com');
    assert.equal(asciiLower('ÀB'), 'Àb');
  });
  it('equalsIgnoreCase', () => {
    assert.ok(equalsIgnoreCase('Host', 'hOST'));
    assert.ok(!equalsIgnoreCase('Host', 'hosts'));
  });
});
