/**
 * Concurrent logins of one user on the four paths never
 * leave more than `maxSessionsPerUser` live sessions; under rejectLogin exactly `max` are admitted.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { MemorySessionIndex } from '../../src/index.js';
import { createRedisSessionStores, type RedisSessionStores } from '../../src/redis/index.js';
import { AtomicMemoryStore } from '../../src/store/memory.js';
import { anonymousCookie, buildApp, loginWith, me, setCookie, type TestApp } from '../helpers.js';
import { redisUrl, uniquePrefix } from '../redis/support.js';

const opened: RedisSessionStores[] = [];
after(async () => {
  for (const s of opened) await s.close();
});

async function systems(common: Record<string, unknown>): Promise<Array<[string, TestApp]>> {
  const dep = createRedisSessionStores({ url: redisUrl(), prefix: uniquePrefix('concurrent-limits') });
  const spread = createRedisSessionStores({ url: redisUrl(), prefix: `h2conc-${randomBytes(4).toString('hex')}:`, keyLayout: 'spread', tagSecret: 'tag-secret-0123456789abcdef' });
  await dep.ready;
  await spread.ready;
  opened.push(dep, spread);
  return [
    ['memory one-step', buildApp({ ...common })],
    ['memory steps', buildApp({ ...common, store: new AtomicMemoryStore(), index: new MemorySessionIndex() })],
    ['redis one-step', buildApp({ ...common, store: dep.store, index: dep.index })],
    ['redis spread', buildApp({ ...common, store: spread.store, index: spread.index })],
  ];
}

for (const onLimit of ['evictOldest', 'rejectLogin'] as const) {
  describe(`20 concurrent logins, max 3, ${onLimit}`, () => {
    it('never more than 3 live sessions; rejectLogin admits exactly 3; evictOldest admits all', async () => {
      for (const [name, { app }] of await systems({ maxSessionsPerUser: 3, onSessionLimit: onLimit })) {
        const anons = await Promise.all(Array.from({ length: 20 }, () => anonymousCookie(app)));
        const results = await Promise.all(anons.map((c) => loginWith(app, c, 'zed')));
        const ok = results.filter((r) => r.status === 200);
        const statuses = results.map((r) => r.status).sort().join(',');
        if (onLimit === 'rejectLogin') assert.equal(ok.length, 3, `${name}: ${statuses}`);
        else assert.equal(ok.length, 20, `${name}: ${statuses}`);
        let live = 0;
        for (const r of ok) if ((await me(app, setCookie(r) as string)).status === 200) live++;
        assert.equal(live, 3, `${name}: ${live} live sessions`);
      }
    });
  });
}
