/**
 * express-session touches the store on every request that changed nothing, to push the
 * record's expiry out. The guard already records activity itself (lastSeenAt, rewritten once a
 * minute by a save that gives the record a fresh expiry), so between those saves it lets the
 * touch through only when it matters: right after a login or rotation (a moved record keeps the
 * expiry of the one it replaced), and with a cookie shorter than the idle timeout. On a real
 * redis-server: the touches counted, and the record's TTL read back.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient } from 'redis';
import { ManualClock } from '../../src/index.js';
import { createRedisSessionStores, type RedisSessionStores } from '../../src/redis/index.js';
import { anonymousCookie, buildApp, idOf, loginWith, me, setCookie } from '../helpers.js';
import { redisUrl, uniquePrefix } from './support.js';

const MINUTE = 60_000;
const admin = createClient({ url: redisUrl() });
const opened: RedisSessionStores[] = [];

before(async () => {
  await admin.connect();
});

after(async () => {
  for (const stores of opened) await stores.close();
  await admin.close();
});

/** A guard on a fresh prefix whose store counts the touches that reach Redis. */
async function setup(options: { maxAge?: string } = {}) {
  const prefix = uniquePrefix('touch-expiry');
  const stores = createRedisSessionStores({ url: redisUrl(), prefix });
  await stores.ready;
  opened.push(stores);
  let touches = 0;
  const touch = stores.store.touch.bind(stores.store);
  stores.store.touch = (...args: Parameters<typeof touch>) => {
    touches++;
    return touch(...args);
  };
  const clock = new ManualClock();
  const { app } = buildApp({
    store: stores.store,
    index: stores.index,
    clock,
    idleTimeout: '30m',
    absoluteTimeout: '8h',
    ...(options.maxAge ? { cookie: { maxAge: options.maxAge } } : {}),
  });
  const ttlOf = async (cookie: string) => await admin.pTTL(`${prefix}sess:${idOf(cookie)}`);
  return { app, clock, prefix, ttlOf, touches: () => touches };
}

async function login(app: Parameters<typeof anonymousCookie>[0], prefix: string, shortTtlMs?: number): Promise<string> {
  const anonymous = await anonymousCookie(app);
  // A pre-login record near its end (it was created long ago): a login moves the record and
  // the moved one keeps this expiry.
  if (shortTtlMs !== undefined) await admin.pExpire(`${prefix}sess:${idOf(anonymous)}`, shortTtlMs);
  const res = await loginWith(app, anonymous, 'alice').expect(200);
  const cookie = setCookie(res);
  assert.ok(cookie);
  return cookie;
}

describe('touches between activity records (Redis)', () => {
  it('a request right after login touches (the moved record kept the old expiry); within a minute of the next activity save, none does', async () => {
    const { app, clock, prefix, ttlOf, touches } = await setup();
    const cookie = await login(app, prefix, 5 * MINUTE);
    assert.ok((await ttlOf(cookie)) <= 5 * MINUTE, 'the moved record kept the pre-login expiry');
    await me(app, cookie).expect(200);
    assert.equal(touches(), 1, 'the first request after login touches');
    assert.ok((await ttlOf(cookie)) > 7 * 60 * MINUTE, 'and the record lives for the cookie’s maxAge again');

    // The record as touches leave it after hours: Redis's TTL pushed out, the stored cookie's
    // expiry still the one of its last write (10 minutes away now).
    const key = `${prefix}sess:${idOf(cookie)}`;
    const record = JSON.parse((await admin.get(key)) as string) as { cookie: { expires: string } };
    record.cookie.expires = new Date(Date.now() + 10 * MINUTE).toISOString();
    await admin.set(key, JSON.stringify(record), { KEEPTTL: true });
    // A minute later the guard records the activity: a save, with a fresh expiry (not the
    // stored one, which the touches in between would no longer push out).
    clock.advance('61s');
    await me(app, cookie).expect(200);
    const afterSave = touches();
    assert.ok((await ttlOf(cookie)) > 7 * 60 * MINUTE);
    for (let i = 0; i < 10; i++) {
      clock.advance('5s');
      await me(app, cookie).expect(200);
    }
    assert.equal(touches(), afterSave, 'no request within the minute after that save touches Redis');
    // The record outlives the session's idle deadline by far: the guard ends it first.
    assert.ok((await ttlOf(cookie)) > 30 * MINUTE);
    clock.advance('31m');
    await me(app, cookie).expect(401);
  });

  it('with a cookie shorter than the idle timeout, every request touches: touches are what keep that record alive', async () => {
    const { app, clock, prefix, touches } = await setup({ maxAge: '20m' });
    const cookie = await login(app, prefix);
    clock.advance('61s');
    await me(app, cookie).expect(200);
    const before = touches();
    for (let i = 0; i < 5; i++) {
      clock.advance('5s');
      await me(app, cookie).expect(200);
    }
    assert.equal(touches(), before + 5);
  });
});
