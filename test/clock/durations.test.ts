import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fixationAttackSuite, runFixationAttacks } from '../../src/attack-suite/index.js';
import { formatDuration, parseDuration } from '../../src/clock/index.js';
import { hardenedCookie, sessionGuard } from '../../src/index.js';
import { createMcpRateLimiter } from '../../src/mcp/index.js';
import { SECRET } from '../helpers.js';

/**
 * One form for every duration option of the package: a string such as '30m' or a number of
 * milliseconds. Options that used another unit or a unit suffix are refused by their old name,
 * with the new name and the value to write — never read in another unit.
 */
describe('durations', () => {
  it("parse '250ms', '15s', '30m', '4h', '1d' and milliseconds, and print back in the shortest exact form", () => {
    assert.deepEqual(['250ms', '15s', '30m', '4h', '1d', 1500].map((d) => parseDuration(d, 'x')), [250, 15_000, 1_800_000, 14_400_000, 86_400_000, 1500]);
    assert.deepEqual([250, 15_000, 1_800_000, 14_400_000, 86_400_000, 1500, 90_000].map(formatDuration), ['250ms', '15s', '30m', '4h', '1d', '1500ms', '90s']);
    assert.throws(() => parseDuration('30 minutes', 'sessionGuard: `idleTimeout`'), /^Error: sessionGuard: `idleTimeout` must be a duration like '30m', '4h', '15s' or a number of milliseconds; got "30 minutes"$/);
    assert.throws(() => parseDuration(0, 'x'), RangeError);
  });

  it('are accepted in both forms by sessionGuard', () => {
    for (const idleTimeout of ['15m', 15 * 60_000]) {
      assert.doesNotThrow(() => sessionGuard({ secret: SECRET, idleTimeout, absoluteTimeout: '1d', rotateEvery: '10m', rotationGrace: '5s', storeTimeout: 3000, tombstoneTtl: '2d', env: 'test' }));
    }
  });

  const refused: Array<[string, () => unknown, RegExp]> = [
    ["hardenedCookie's `defaultMaxAgeMs`", () => hardenedCookie({}, { plainHttpDevelopment: false, defaultMaxAgeMs: 14_400_000 } as never),
      /^Error: hardenedCookie: `defaultMaxAgeMs` is now `defaultMaxAge`, a duration like '30m' or a number of milliseconds: write `defaultMaxAge: '4h'`\.$/],
    ["runFixationAttacks's `requestTimeoutMs`", () => runFixationAttacks('http://127.0.0.1:9', { loginBody: { username: 'alice' }, requestTimeoutMs: 10_000 } as never),
      /runFixationAttacks: `requestTimeoutMs` is now `requestTimeout`.*write `requestTimeout: '10s'`/],
    ["fixationAttackSuite's `testTimeoutMs`", () => fixationAttackSuite({ target: 'http://127.0.0.1:9', testTimeoutMs: 120_000 } as never),
      /fixationAttackSuite: `testTimeoutMs` is now `testTimeout`.*write `testTimeout: '2m'`/],
    ["a rate-limit rule's `duration` in seconds", () => createMcpRateLimiter({ perIp: { points: 10, duration: 3600 } as never }),
      /`rateLimit.perIp`: `duration` \(seconds\) is now `window`.*write `window: '1h'`/],
  ];
  for (const [what, build, message] of refused) {
    it(`refuse ${what} with the new name and the value to write`, async () => {
      try {
        await build();
      } catch (err) {
        assert.match(String(err), message);
        return;
      }
      assert.fail(`${what} was accepted`);
    });
  }
});
