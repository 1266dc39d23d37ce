/**
 * express-session touches the store on every request that changed nothing, to push the
 * record's expiry out. The guard already records activity itself (lastSeenAt, rewritten once a
 * minute by a save that gives the record a fresh expiry), so between those saves it lets the
 * touch through only when it matters: with a cookie shorter than the idle timeout, or after a
 * save that wrote an expiry short of the session's deadlines. A login's move writes the new
 * record with its new cookie's expiry, so the requests right after it need none either. On a
 * real redis-server: the touches counted, and the record's TTL read back.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient } from 'redis';
import { ManualClock } from '../../src/index.js';
import { createRedisSessionStores, type RedisSessionStores } from '../../src/redis/index.js';
import request from 'supertest';
import { anonymousCookie, buildApp, https, idOf, loginWith, me, setCookie } from '../helpers.js';
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
async function setup(options: { maxAge?: string; idleTimeout?: string } = {}) {
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
  const { app } = buildApp(
    {
      store: stores.store,
      index: stores.index,
      clock,
      idleTimeout: options.idleTimeout ?? '30m',
      absoluteTimeout: '8h',
      ...(options.maxAge ? { cookie: { maxAge: options.maxAge } } : {}),
    },
    (extra) => {
      // "Save, then redirect": the app saves itself; express-session then only touches.
      extra.post('/note', (req, res, next) => {
        (req.session as unknown as Record<string, unknown>).note = 'saved by the app';
        req.session.save((err) => (err ? next(err) : res.json({ ok: true })));
      });
    },
  );
  const ttlOf = async (cookie: string) => await admin.pTTL(`${prefix}sess:${idOf(cookie)}`);
  return { app, clock, prefix, ttlOf, touches: () => touches };
}

async function login(
  app: Parameters<typeof anonymousCookie>[0],
  prefix: string,
  shortTtlMs?: number,
): Promise<string> {
  const anonymous = await anonymousCookie(app);
  // A pre-login record near its end (it was created long ago): a login moves the record, and
  // the moved one must not inherit this expiry (the guard skips touches by its cookie's).
  if (shortTtlMs !== undefined) await admin.pExpire(`${prefix}sess:${idOf(anonymous)}`, shortTtlMs);
  const res = await loginWith(app, anonymous, 'alice').expect(200);
  const cookie = setCookie(res);
  assert.ok(cookie);
  return cookie;
}

describe('touches between activity records (Redis)', () => {
  it('a login writes the moved record with its new cookie’s expiry: no request right after it touches, nor within a minute of the next activity save', async () => {
    const { app, clock, prefix, ttlOf, touches } = await setup();
    const cookie = await login(app, prefix, 5 * MINUTE);
    assert.ok(
      (await ttlOf(cookie)) > 7 * 60 * MINUTE,
      'the moved record lives for the cookie’s maxAge, not the 5 minutes the pre-login record had left',
    );
    for (let i = 0; i < 5; i++) {
      clock.advance('5s');
      await me(app, cookie).expect(200);
    }
    assert.equal(touches(), 0, 'no request in the first minute after login touches Redis');

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
    assert.equal(
      touches(),
      afterSave,
      'no request within the minute after that save touches Redis',
    );
    // The record outlives the session's idle deadline by far: the guard ends it first.
    assert.ok((await ttlOf(cookie)) > 30 * MINUTE);
    clock.advance('31m');
    await me(app, cookie).expect(401);
  });

  it("a save of the app's own, with the expiry the record was loaded with, is followed by the touch that pushes it past the idle deadline", async () => {
    const { app, clock, prefix, ttlOf } = await setup({ maxAge: '45m' });
    const cookie = await login(app, prefix);
    clock.advance('61s');
    await me(app, cookie).expect(200);
    // 25 quiet minutes: the stored cookie's expiry is 20 minutes away (what a write 25 minutes
    // ago left), the store's TTL with it.
    clock.advance('25m');
    const key = `${prefix}sess:${idOf(cookie)}`;
    const record = JSON.parse((await admin.get(key)) as string) as { cookie: { expires: string } };
    record.cookie.expires = new Date(Date.now() + 20 * MINUTE).toISOString();
    await admin.set(key, JSON.stringify(record), { PX: 20 * MINUTE });
    // The app saves (activity is recorded in the same write: the session now lives until 30
    // minutes from now for the guard); the record's expiry must follow, not stay 20 minutes away.
    await https(request(app).post('/note')).set('Cookie', cookie).expect(200);
    assert.ok(
      (await ttlOf(cookie)) > 40 * MINUTE,
      `the record lives past the idle deadline (PTTL ${await ttlOf(cookie)} ms)`,
    );
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
