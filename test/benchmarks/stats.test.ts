/**
 * The benchmark report's statistics (no timing here: the benchmarks measure, tests only check
 * the arithmetic the report rests on).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCpuList } from '../../benchmarks/lib/pinning.js';
import { median, pairRatios, pairSpread, pairedRatio, quantile } from '../../benchmarks/lib/stats.js';

test('a ratio is the median of the per-round ratios, not the ratio of the medians', () => {
  // Round 2 ran on a slow machine for both sides: its pair says 1.0, as do the others.
  const plain = [100, 300, 110];
  const guard = [100, 300, 110];
  assert.equal(pairedRatio(plain, guard), 1);
  // The ratio of the medians would mix rounds: 110 / 110 here, but 150 / 110 below.
  const slowGuard = [150, 300, 100];
  assert.deepEqual(pairRatios(plain, slowGuard), [1.5, 1, 100 / 110]);
  assert.equal(pairedRatio(plain, slowGuard), 1);
});

test('a round with a missing or zero baseline is left out', () => {
  assert.deepEqual(pairRatios([0, 100, Number.NaN], [50, 120, 80]), [1.2]);
  assert.ok(Number.isNaN(pairedRatio([], [])));
});

test('quantiles interpolate between the sorted values', () => {
  assert.equal(quantile([4, 1, 3, 2], 0), 1);
  assert.equal(quantile([4, 1, 3, 2], 1), 4);
  assert.equal(quantile([4, 1, 3, 2], 0.5), 2.5);
  assert.equal(quantile([4, 1, 3, 2], 0.25), 1.75);
  assert.equal(quantile([1, 2, 3, 4, 5], 0.75), 4);
  assert.equal(median([5, 1, 3]), 3);
});

test('the spread is the middle half of the per-round ratios', () => {
  const base = [100, 100, 100, 100, 100];
  const variant = [80, 90, 100, 110, 200];
  assert.deepEqual(pairSpread(base, variant), [0.9, 1.1]);
  assert.equal(pairedRatio(base, variant), 1);
});

test('a kernel CPU list reads as its cores, however they are numbered', () => {
  assert.deepEqual(parseCpuList('0-1'), [0, 1]);
  assert.deepEqual(parseCpuList('2,3'), [2, 3]);
  assert.deepEqual(parseCpuList('0-2,5\n'), [0, 1, 2, 5]);
  assert.deepEqual(parseCpuList('x'), []);
});
