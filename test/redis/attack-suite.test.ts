/** The attack suite's whole catalogue against the example login app running on the Redis store. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ManualClock } from '../../src/index.js';
import { runFixationAttacks } from '../../src/attack-suite/index.js';
import type { RedisSessionStores } from '../../src/redis/index.js';
import { createLoginApp } from '../../examples/shared/login-app.js';
import { connectedStores, uniquePrefix } from './support.js';

const prefix = uniquePrefix('attacks');
let redis: RedisSessionStores;

before(async () => {
  redis = await connectedStores(prefix);
});

after(async () => {
  await redis.close();
});

function attackOptions(clock: unknown) {
  return {
    loginBody: { username: 'alice', password: 'alice-password' },
    elevatePath: '/elevate',
    logoutAllPath: '/logout-all',
    clock: { advance: (ms: number) => (clock as ManualClock).advance(ms) },
  };
}

function failed(report: Awaited<ReturnType<typeof runFixationAttacks>>): string[] {
  return report.results.filter((result) => result.outcome === 'fail').map((result) => `${result.id}: ${result.reason}`);
}

describe('attack suite on the Redis store', () => {
  it('finds no attack that succeeds against the example app on Redis', async () => {
    const { app, clock } = createLoginApp({ testClock: true, store: redis.store, index: redis.index, guard: { maxSessionsPerUser: 5 } });
    const report = await runFixationAttacks(app, attackOptions(clock));
    assert.deepEqual(failed(report), []);
    // Only the checks a plain-http target cannot answer are left out, as on the MemoryStore.
    const notApplicable = report.results.filter((result) => result.outcome === 'not-applicable').map((result) => result.id);
    assert.deepEqual(notApplicable.sort(), ['cookie-host-prefix', 'cookie-secure']);
    assert.ok(report.results.filter((result) => result.outcome === 'pass').length >= 10);
  });

  it('catches the same app on Redis with rotation switched off (the control)', async () => {
    const { app, clock } = createLoginApp({
      testClock: true,
      store: redis.store,
      index: redis.index,
      guard: { strategy: 'none', dangerouslyAllowSessionFixation: true },
    });
    const report = await runFixationAttacks(app, attackOptions(clock));
    assert.ok(failed(report).some((line) => line.startsWith('planted-id-survives-login')), failed(report).join('\n'));
  });
});
