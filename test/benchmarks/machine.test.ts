/**
 * The machine header's CPU steal: the share of the machine's CPU time the host gave other guests
 * between two readings of /proc/stat.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cpuTicks, stealPercent } from '../../benchmarks/lib/machine.js';

describe('CPU steal in the benchmark header', () => {
  it('is the stolen share of the CPU time between two readings, in percent with one decimal', () => {
    assert.equal(stealPercent({ total: 1_000, steal: 10 }, { total: 2_000, steal: 60 }), 5);
    assert.equal(stealPercent({ total: 0, steal: 0 }, { total: 3_000, steal: 1 }), 0);
    assert.equal(stealPercent({ total: 0, steal: 0 }, { total: 3, steal: 1 }), 33.3);
  });

  it('is unknown without two readings, or when no time passed between them', () => {
    assert.equal(stealPercent(undefined, { total: 10, steal: 1 }), undefined);
    assert.equal(stealPercent({ total: 10, steal: 1 }, undefined), undefined);
    assert.equal(stealPercent({ total: 10, steal: 1 }, { total: 10, steal: 1 }), undefined);
  });

  it('reads /proc/stat on Linux (the total includes the steal), and is unknown elsewhere', () => {
    const ticks = cpuTicks();
    if (process.platform !== 'linux') {
      assert.equal(ticks, undefined);
      return;
    }
    assert.ok(ticks, 'read');
    assert.ok(ticks.total > 0 && ticks.steal >= 0 && ticks.steal <= ticks.total, JSON.stringify(ticks));
  });
});
