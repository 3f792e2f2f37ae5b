/** Compiled matchers shared by the router and filters (RBAC, rate limits, ...). */
export { asciiLower, equalsIgnoreCase, startsWithIgnoreCase, endsWithIgnoreCase } from './ascii.js';
export { MatcherConfigError, withFieldPrefix } from './errors.js';
export {
  CompiledRegex, CompiledRewrite, RegexError, type RegexSubstitution,
  compileRegex, compileRegexMatcher, compileRegexMatchAndSubstitute,
} from './regex.js';
export { type StringMatcher, type StringMatchKind, compileStringMatcher, createStringMatcher } from './string_matcher.js';
export {
  HeaderMatcherImpl, compileHeaderMatcher, compileHeaderMatchers, getAllOfHeaderAsString, matchHeaders,
} from './header_matcher.js';
export {
  QueryParameterMatcherImpl, compileQueryParameterMatchers, findFirstQueryParameter, matchQueryParameters,
} from './query_parameter_matcher.js';
