/**
 * The health checkers' `receive` matching, after Envoy's PayloadMatcher
 * (source/extensions/health_checkers/common/health_checker_base_impl.h): a
 * response matches when every expected block appears in it, in order, each
 * after the end of the previous one.
 */
export function payloadMatches(expected: ReadonlyArray<Buffer>, data: Buffer): boolean {
  let start = 0;
  for (const block of expected) {
    const at = data.indexOf(block, start);
    if (at < 0) return false;
    start = at + block.length;
  }
  return true;
}
