import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RedisStore } from 'connect-redis';
import express from 'express';
import session from 'express-session';
import { createClient } from 'redis';
import { memorySink, requireAuth, sessionGuard } from '../../src/index.js';
import { createRedisSessionStores, migrateSessionPrefix, type RedisSessionStores } from '../../src/redis/index.js';
import { isTombstone, makeTombstone } from '../../src/store/contracts.js';
import { https, idOf, request, SECRET, setCookie } from '../helpers.js';
import { redisUrl, uniquePrefix } from './support.js';

/**
 * An app on plain express-session + connect-redis (its default `sess:` prefix) moves to the
 * guard: its records are migrated on the real Redis while requests flow, and its cookies keep
 * working (same secret, a cookie name the guard accepts). A database of its own, so that the
 * default `sess:` prefix meets no other test's keys.
 */
const DATABASE = 7;
const url = `${redisUrl()}/${DATABASE}`;
const prefix = uniquePrefix('migrate');
let client: ReturnType<typeof createClient>;
let guardStores: RedisSessionStores;

before(async () => {
  client = createClient({ url });
  await client.connect();
  guardStores = createRedisSessionStores({ url, prefix });
  await guardStores.ready;
});
after(async () => {
  for await (const keys of client.scanIterator({ MATCH: 'sess:*', COUNT: 500 })) if (keys.length) await client.del(keys);
  await guardStores.close();
  await client.close();
});

/** The app before the guard: express-session on connect-redis, cookie `sid`. */
function legacyApp() {
  const app = express();
  app.use(express.json());
  app.use(session({ name: 'sid', secret: SECRET, store: new RedisStore({ client }), resave: false, saveUninitialized: false }));
  app.post('/cart', (req, res) => {
    req.session.cart = ['book', 'lamp'];
    res.json({ ok: true });
  });
  app.post('/login', (req, res) => {
    req.session.user = 'alice';
    res.json({ ok: true });
  });
  return app;
}

/** The same app on the guard: same secret, cookie name `sid` (the guard refuses `connect.sid`). */
function guardedApp() {
  const audit = memorySink();
  const app = express();
  app.use(sessionGuard({ secret: SECRET, store: guardStores.store, index: guardStores.index, cookie: { name: 'sid' }, trustProxy: true, audit, env: 'development' }));
  app.get('/cart', (req, res) => res.json({ cart: req.session.cart ?? null }));
  app.get('/me', requireAuth(), (req, res) => res.json({ user: req.sessionGuard?.principal }));
  return { app, audit };
}

describe('migrateSessionPrefix (connect-redis `sess:` records to the guard)', () => {
  it('moves every record once, keeping value and TTL, even with two runs at once; a rerun moves nothing', async () => {
    const legacy = legacyApp();
    const carts: string[] = [];
    for (let i = 0; i < 25; i++) carts.push(setCookie(await request(legacy).post('/cart').expect(200), 'sid') as string);
    const ttlBefore = await client.pTTL(`sess:${idOf(carts[0] as string)}`);
    const [first, second] = await Promise.all([
      migrateSessionPrefix({ client, prefix, count: 5 }),
      migrateSessionPrefix({ client, prefix, count: 5 }),
    ]);
    assert.equal(first.moved + second.moved, 25, `moved once each: ${JSON.stringify([first, second])}`);
    assert.equal(await client.exists(`sess:${idOf(carts[0] as string)}`), 0, 'the old key is gone');
    const ttlAfter = await client.pTTL(guardStores.store.keys.session(idOf(carts[0] as string)));
    assert.ok(ttlAfter > 0 && ttlAfter <= ttlBefore, `the TTL carries over (${ttlBefore} → ${ttlAfter} ms)`);
    assert.deepEqual(await migrateSessionPrefix({ client, prefix }), { scanned: 0, moved: 0, kept: 0, gone: 0 });

    // The browsers' cookies now load their sessions through the guard.
    const { app } = guardedApp();
    for (const cookie of carts.slice(0, 3)) {
      assert.deepEqual((await https(request(app).get('/cart')).set('Cookie', cookie).expect(200)).body, { cart: ['book', 'lamp'] });
    }
  });

  it('ends a migrated session that was authenticated before the guard, the first time it is presented', async () => {
    const cookie = setCookie(await request(legacyApp()).post('/login').expect(200), 'sid') as string;
    assert.equal((await migrateSessionPrefix({ client, prefix })).moved, 1);
    const { app, audit } = guardedApp();
    await https(request(app).get('/me')).set('Cookie', cookie).expect(401);
    assert.equal(audit.of('fixation_tripwire').length, 1);
    assert.ok(isTombstone(JSON.parse((await client.get(guardStores.store.keys.session(idOf(cookie)))) as string)));
  });

  it('never overwrites what the guard already holds under that id (a tombstone stays a tombstone)', async () => {
    const cookie = setCookie(await request(legacyApp()).post('/cart').expect(200), 'sid') as string;
    const id = idOf(cookie);
    const tombstone = makeTombstone('logout', Date.now(), 60_000);
    await client.set(guardStores.store.keys.session(id), JSON.stringify(tombstone), { PX: 60_000 });
    assert.deepEqual(await migrateSessionPrefix({ client, prefix }), { scanned: 1, moved: 0, kept: 1, gone: 0 });
    assert.ok(isTombstone(JSON.parse((await client.get(guardStores.store.keys.session(id))) as string)));
    assert.equal(await client.exists(`sess:${id}`), 0);
  });

  it('refuses options that would scan its own output or cannot move keys', async () => {
    await assert.rejects(migrateSessionPrefix({ client, from: 'fgtest:', prefix }), /the guard's keys .* start with `from`/);
    await assert.rejects(migrateSessionPrefix({ client, from: 'sess:*', prefix }), /`from` must be the old key prefix/);
    await assert.rejects(migrateSessionPrefix({ client, prefix: 'sess:' }), /`prefix` must contain a Redis Cluster hash tag/);
    await assert.rejects(migrateSessionPrefix({ client: { eval() {}, evalSha() {} }, prefix }), /a cluster client cannot move keys between slots/);
  });
});
