import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { CompiledRewrite, RegexError, compileRegex } from '../../../src/common/matchers/regex.js';

const replace = (pattern: string, sub: string, input: string) => {
  const re = compileRegex(pattern);
  return re.replaceAll(input, new CompiledRewrite(sub, re.groupCount));
};

describe('RE2 regex', () => {
  it('full-matches (safe_regex semantics)', () => {
    const re = compileRegex('/api/v[0-9]+');
    assert.ok(re.fullMatch('/api/v12'));
    assert.ok(!re.fullMatch('/api/v12/x'));
    assert.ok(!re.fullMatch('x/api/v12'));
    assert.ok(re.partialMatch('x/api/v12/y'));
  });

  it('rejects non-RE2 syntax with the pattern in the error', () => {
    for (const p of ['(a', 'a(?=b)', '(a)\\1', '(?<!x)y', '[z-a]']) {
      assert.throws(() => compileRegex(p), (e: unknown) => e instanceof RegexError && e.pattern === p && e.message.includes(p), p);
    }
    assert.throws(() => compileRegex(''), RegexError);
  });

  it('matches a hostile pattern on a long input without catastrophic backtracking', () => {
    // (a+)+$ against "aaaa...ab" takes exponential time in a backtracking engine.
    const re = compileRegex('(a+)+$');
    const input = `${'a'.repeat(100_000)}b`;
    assert.equal(re.fullMatch(input), false);
    assert.equal(re.partialMatch(input), false);
    const re2 = compileRegex('(x+x+)+y');
    assert.equal(re2.fullMatch('x'.repeat(50_000)), false);
  });

  it('replaceAll follows RE2::GlobalReplace', () => {
    assert.equal(replace('^/service/([^/]+)(/.*)$', '\\2/instance/\\1', '/service/foo/v1/api'), '/v1/api/instance/foo');
    assert.equal(replace('one', 'two', '/xxx/one/yyy/one/zzz'), '/xxx/two/yyy/two/zzz');
    assert.equal(replace('a', 'b', 'xyz'), 'xyz');
    // \0 is the whole match; \\ is a backslash.
    assert.equal(replace('b+', '[\\0\\\\]', 'abbc'), 'a[bb\\]c');
    // An empty match right after a match is not replaced (differs from JS String.replace).
    assert.equal(replace('a*', '-', 'baaac'), '-b-c-');
    // Non-ASCII input keeps code points intact.
    assert.equal(replace('é', 'e', 'café/été'), 'cafe/ete');
    assert.equal(replace('x*', '-', '😀'), '-😀-');
  });

  it('rejects substitutions RE2 cannot apply', () => {
    assert.throws(() => new CompiledRewrite('\\2', 1), /group \\2/);
    assert.throws(() => new CompiledRewrite('\\x', 0), /backslash/);
    assert.throws(() => new CompiledRewrite('trailing\\', 0), /backslash/);
    assert.doesNotThrow(() => new CompiledRewrite('$1 literal', 0));
  });
});
