/**
 * On Redis, a login made through a regenerated session (passport >= 0.6: regenerate, write the
 * app's key, save) is stepwise even on one Redis: the write gate reserves the index entry
 * before the write and confirms it after. When the write or the confirmation fails (a reply
 * lost: the command ran; or refused: nothing ran), nothing of the login survives: no live
 * record, no cookie that works, no reservation that refuses (`rejectLogin`) or outlives the
 * limit (`evictOldest`). Before, the request answered 503 while the authenticated session lived
 * on, its cookie went out with the 503, and its entry stayed a reservation no login evicts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RedisClientType } from 'redis';
import type { RedisSessionStores } from '../../src/redis/index.js';
import { GUARDED_SET } from '../../src/redis/scripts.js';
import { anonymousCookie, buildApp, https, loginWith, me, request, setCookie, type TestApp, regeneratedLoginRoute } from '../helpers.js';
import type { TcpProxy } from '../support/tcp-proxy.js';
import { eventually, liveRecordsOf, storesBehindProxy } from './support.js';

let prefix: string;
let proxy: TcpProxy;
let stores: RedisSessionStores;
let admin: RedisClientType;
let app: TestApp;
let rejecting: TestApp;
let closeStores: () => Promise<void>;

before(async () => {
  const behind = await storesBehindProxy('regen-login-failure');
  ({ prefix, proxy, stores, admin } = behind);
  closeStores = () => behind.close();
  app = buildApp({ store: stores.store, index: stores.index, storeTimeout: 2_000, maxSessionsPerUser: 1 }, (express) => {
    regeneratedLoginRoute(express);
  });
  rejecting = buildApp({ store: stores.store, index: stores.index, storeTimeout: 2_000, maxSessionsPerUser: 1, onSessionLimit: 'rejectLogin' }, (express) => {
    regeneratedLoginRoute(express);
  });
  // Warm the script cache (a NOSCRIPT answer would hide the lost reply).
  await https(request(app.app).post('/passport-login')).set('Cookie', await anonymousCookie(app.app)).send({ username: 'warm' }).expect(200);
});

after(async () => {
  await closeStores();
});

const liveRecords = (user: string) => liveRecordsOf(admin, prefix, user);

describe('regenerated (passport) login whose confirmation fails', () => {
  it('answers 503 and leaves no authenticated session behind (no cookie that works, no live record, no reservation)', async () => {
    const anon = await anonymousCookie(app.app);
    proxy.loseRepliesTo(['confirm']);
    let res;
    try {
      res = await https(request(app.app).post('/passport-login')).set('Cookie', anon).send({ username: 'dave' });
    } finally {
      proxy.heal();
    }
    assert.equal(res.status, 503, JSON.stringify(res.body));
    // The guard ends the written record (at once, or by its retries once Redis answers again).
    await eventually(async () => (await liveRecords('dave')) === 0, 5_000, 'the written record is ended');
    const cookie = setCookie(res);
    const meta = await admin.hGetAll(`${prefix}meta:dave`);
    const details = `set-cookie with the 503: ${cookie ? 'yes' : 'no'}; index entries: ${JSON.stringify(Object.values(meta))}`;
    if (cookie) assert.equal((await me(app.app, cookie)).status, 401, `the cookie sent with the 503 is an authenticated session (${details})`);
    assert.equal(await liveRecords('dave'), 0, `a live authenticated record of dave survives the 503 (${details})`);
  });

  it('under rejectLogin (max 1), a regenerated login whose write landed with its reply lost does not lock the user out', async () => {
    const anon = await anonymousCookie(rejecting.app);
    // The write (guardedSet) runs in Redis, its reply is lost and nothing after it arrives: the
    // confirmation never runs. The request answers 503 and sends no cookie.
    proxy.loseRepliesTo([GUARDED_SET.sha1], { thenDrop: true });
    let res;
    try {
      res = await https(request(rejecting.app).post('/passport-login')).set('Cookie', anon).send({ username: 'erin' });
    } finally {
      proxy.heal();
    }
    assert.equal(res.status, 503, JSON.stringify(res.body));
    // The guard's retries end the record and drop its entry once Redis answers again.
    await eventually(async () => (await liveRecords('erin')) === 0 && Object.keys(await admin.hGetAll(`${prefix}meta:erin`)).length === 0, 8_000, 'the written record is ended and unlisted');
    const meta = await admin.hGetAll(`${prefix}meta:erin`);
    const again = await loginWith(rejecting.app, await anonymousCookie(rejecting.app), 'erin');
    assert.equal(
      again.status,
      200,
      `erin is refused (${again.status} ${again.body?.error?.code}) by a session nobody holds; live records of erin: ${await liveRecords('erin')}; index: ${JSON.stringify(Object.values(meta))}`,
    );
  });

  it('a regenerated login whose confirmation was refused (Redis down: nothing ran) is not a live session beyond maxSessionsPerUser that no login ever evicts', async () => {
    // The store's own index, delegated, whose `confirm` fails once as a refused connection does.
    let failConfirm = false;
    const index = stores.index;
    const flaky = {
      admit: (principal: string, entry: any, limit: any, options: any) => {
        if (options?.phase === 'confirm' && failConfirm) {
          failConfirm = false;
          return Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
        }
        return index.admit(principal, entry, limit, options);
      },
      remove: index.remove.bind(index),
      rename: index.rename.bind(index),
      touch: index.touch.bind(index),
      list: index.list.bind(index),
      endAll: index.endAll.bind(index),
      ownsSessionsOf: index.ownsSessionsOf.bind(index),
    };
    const evicting = buildApp({ store: stores.store, index: flaky, maxSessionsPerUser: 1 }, (express) => {
      regeneratedLoginRoute(express);
    });
    failConfirm = true;
    const res = await https(request(evicting.app).post('/passport-login')).set('Cookie', await anonymousCookie(evicting.app)).send({ username: 'hank' });
    assert.equal(res.status, 503, JSON.stringify(res.body));
    const stranded = setCookie(res);
    await eventually(async () => (await liveRecords('hank')) === 0, 5_000, 'the written record is ended');
    // Two ordinary logins (one Redis script each) under maxSessionsPerUser 1, evictOldest.
    const a = setCookie(await loginWith(evicting.app, await anonymousCookie(evicting.app), 'hank').expect(200)) as string;
    const b = setCookie(await loginWith(evicting.app, await anonymousCookie(evicting.app), 'hank').expect(200)) as string;
    const live: string[] = [];
    for (const [name, c] of [['sent with the 503', stranded], ['a', a], ['b', b]] as const) if (c && (await me(evicting.app, c)).status === 200) live.push(name);
    const meta = await admin.hGetAll(`${prefix}meta:hank`);
    assert.deepEqual(live, ['b'], `live sessions of hank with maxSessionsPerUser 1: ${JSON.stringify(live)}; index: ${JSON.stringify(Object.values(meta))}`);
  });
});
