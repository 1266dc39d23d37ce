/**
 * The profile comparison of `npm run bench:profile -- … compare` (arithmetic only: no profiling
 * or timing here).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compareProfiles, groupOf, selfTimes, type CpuProfile } from '../../benchmarks/lib/cpu-profile.js';

/** A file of this checkout, as a profile names it. */
const file = (path: string) => new URL(`../../${path}`, import.meta.url).href;
const frame = (id: number, functionName: string, url: string, children: number[] = []) => ({ id, callFrame: { functionName, url, lineNumber: 0 }, children });

/** A profile of `samples` ([node id, µs since the previous sample]) starting at 1,000 µs. */
function profile(samples: Array<[number, number]>): CpuProfile {
  return {
    nodes: [
      frame(1, '(root)', '', [2, 3, 4, 5]),
      frame(2, 'login', file('dist/index.js')),
      frame(3, 'session', file('node_modules/express-session/index.js')),
      frame(4, '(garbage collector)', ''),
      frame(5, 'parse', file('node_modules/@scope/pkg/index.js')),
    ],
    startTime: 1_000,
    samples: samples.map(([id]) => id),
    timeDeltas: samples.map(([, dt]) => dt),
  };
}

test('a frame is grouped by where its code lives', () => {
  assert.equal(groupOf('login dist/index.js:1'), 'fixation-guard (dist/)');
  assert.equal(groupOf('session ~/express-session/index.js:185'), 'express-session');
  assert.equal(groupOf('parse ~/@scope/pkg/lib/x.js:3'), '@scope/pkg');
  assert.equal(groupOf('writeHead node:_http_server:341'), 'node (JS)');
  assert.equal(groupOf('(garbage collector) :0'), '(garbage collector)');
  assert.equal(groupOf('writev :0'), 'node (native)');
});

test('only the samples inside the window count', () => {
  // Samples at 1,010 (login), 1,030 (session), 1,100 (gc), 1,200 (login).
  const p = profile([[2, 10], [3, 20], [4, 70], [2, 100]]);
  const all = selfTimes(p);
  assert.equal(all.totalUs, 200);
  const inside = selfTimes(p, { fromUs: 1_020, toUs: 1_150 });
  assert.equal(inside.totalUs, 90);
  assert.deepEqual([...inside.self.values()].sort((a, b) => a - b), [20, 70]);
});

test('the comparison is per request and names what differs', () => {
  const window = { fromUs: 0, toUs: Number.MAX_SAFE_INTEGER };
  // a: 100 requests, 2,000 µs of express-session. b: 50 requests, 1,000 µs of it, 500 of the guard, 250 of GC.
  const a = { label: 'plain', profile: profile([[3, 2_000]]), window, requests: 100 };
  const b = { label: 'guard', profile: profile([[3, 1_000], [2, 500], [4, 250]]), window, requests: 50 };
  const report = compareProfiles(a, b);
  const line = (name: string) => report.split('\n').find((l) => l.endsWith(name))?.trim().split(/\s+/).slice(0, 3).map(Number);
  assert.deepEqual(line('total sampled, idle included'), [20, 35, 15]);
  assert.deepEqual(line('  express-session'), [20, 20, 0]);
  assert.deepEqual(line('  fixation-guard (dist/)'), [0, 10, 10]);
  assert.deepEqual(line('  (garbage collector)'), [0, 5, 5]);
  // The frames: the largest difference first.
  const frames = report.slice(report.indexOf('frames that differ most'));
  assert.ok(frames.includes('login dist/index.js') && frames.includes('(garbage collector)'));
  assert.ok(frames.indexOf('login dist/') < frames.indexOf('(garbage collector)'));
});
