/**
 * "Log out everywhere" racing a re-login and an
 * elevation of the same user's other sessions, on the four paths. When it answers 200, no
 * session that existed when it started lives on, nor any successor a rotation in flight gave one.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { MemorySessionIndex } from '../../src/index.js';
import { createRedisSessionStores, type RedisSessionStores } from '../../src/redis/index.js';
import { AtomicMemoryStore } from '../../src/store/memory.js';
import { anonymousCookie, buildApp, https, loginWith, me, post, setCookie, type TestApp } from '../helpers.js';
import { redisUrl, uniquePrefix } from '../redis/support.js';

const opened: RedisSessionStores[] = [];
after(async () => {
  for (const s of opened) await s.close();
});

async function systems(common: Record<string, unknown>): Promise<Array<[string, TestApp]>> {
  const dep = createRedisSessionStores({ url: redisUrl(), prefix: uniquePrefix('logout-everywhere-race') });
  const spread = createRedisSessionStores({ url: redisUrl(), prefix: `h2race-${randomBytes(4).toString('hex')}:`, keyLayout: 'spread', tagSecret: 'tag-secret-0123456789abcdef' });
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

describe('logoutEverywhere racing a re-login and an elevation', () => {
  it('leaves nothing of the sessions that existed (nor their successors) when it answers 200', async () => {
    for (const [name, { app }] of await systems({ maxSessionsPerUser: 5 })) {
      for (let trial = 0; trial < 25; trial++) {
        const user = `racer${trial}`;
        const s = [];
        for (let i = 0; i < 3; i++) s.push(setCookie(await loginWith(app, await anonymousCookie(app), user).expect(200)) as string);
        const [all, relogin, elevate] = await Promise.all([
          https(post(app, '/logout-all', s[0])),
          loginWith(app, s[1], user),
          https(post(app, '/elevate', s[2])),
        ]);
        if (all.status !== 200) continue;
        const survivors: string[] = [];
        for (const [what, c] of [['s0', s[0]], ['s1', s[1]], ['s2', s[2]], ['relogin', setCookie(relogin)], ['elevated', setCookie(elevate)]] as const) {
          if (c && (await me(app, c)).status === 200) survivors.push(`${what}(${what === 'relogin' ? relogin.status : what === 'elevated' ? elevate.status : ''})`);
        }
        assert.deepEqual(survivors, [], `${name}, trial ${trial}: alive after logoutEverywhere answered 200`);
      }
    }
  });
});
