import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HistogramStatistics, SUPPORTED_QUANTILES } from '../../src/stats/histogram_statistics.js';
import { formatG, formatShortest, formatToChars, jsonDouble } from '../../src/stats/fmt.js';

function stats(values: number[]): HistogramStatistics {
  const h = new HistogramStatistics();
  for (const v of values) h.record(v);
  return h;
}

test('circllhist binning: a value v lands in [d.d×10^e, (d.d+0.1)×10^e)', () => {
  assert.deepEqual(stats([200]).detailedBins(), [{ lowerBound: 200, width: 10, count: 1 }]);
  assert.deepEqual(stats([1]).detailedBins(), [{ lowerBound: 1, width: 0.1, count: 1 }]);
  assert.deepEqual(stats([123]).detailedBins(), [{ lowerBound: 120, width: 10, count: 1 }]);
  assert.deepEqual(stats([0]).detailedBins(), [{ lowerBound: 0, width: 0, count: 1 }]);
  assert.deepEqual(stats([0.5]).detailedBins(), [{ lowerBound: 0.5, width: 0.01, count: 1 }]);
});

test('quantiles, sum and buckets follow libcircllhist', () => {
  const h = stats([50, 20, 30, 70, 100, 5000, 200]);
  assert.equal(h.sum, 5532);
  assert.equal(h.count, 7);
  assert.deepEqual(h.cumulativeBucketCounts([25, 50, 100, 250, 5000, 10000]), [1, 2, 4, 6, 6, 7]);
  assert.deepEqual(h.disjointBucketCounts([25, 50, 100]), [1, 1, 2]);
  assert.deepEqual(stats([200, 100]).computedQuantiles(), [100, 105, 110, 205, 208, 209, 209.8, 209.9, 209.98, 210]);
  assert.ok(new HistogramStatistics().computedQuantiles().every(Number.isNaN));
  assert.equal(SUPPORTED_QUANTILES.length, 10);
  const merged = stats([200]);
  merged.merge(stats([100]));
  assert.deepEqual(merged.computedQuantiles(), stats([200, 100]).computedQuantiles());
});

test('C number formatting', () => {
  assert.equal(formatG(3600000), '3.6e+06');
  assert.equal(formatG(600000), '600000');
  assert.equal(formatG(99.9), '99.9');
  assert.equal(formatG(0.5, 32), '0.5');
  assert.equal(formatG(3600000, 32), '3600000');
  assert.equal(formatG(0.1, 32), '0.10000000000000000555111512312578');
  assert.equal(formatG(NaN, 32), 'nan');
  assert.equal(formatG(1e-5), '1e-05');
  assert.equal(formatShortest(202.5), '202.5');
  assert.equal(formatShortest(200), '200');
  assert.equal(formatShortest(1e16), '1e+16');
  assert.equal(formatShortest(1e15), '1000000000000000');
  assert.equal(formatShortest(-1), '-1');
  assert.equal(formatToChars(100000), '1e+05');
  assert.equal(formatToChars(1000), '1000');
  assert.equal(formatToChars(1234567), '1234567');
  assert.equal(jsonDouble(NaN), 'null');
});
