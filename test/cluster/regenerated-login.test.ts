/**
 * A login made by the app regenerating the session itself (passport's `req.login`) on the
 * Redis Cluster `spread` layout: the regenerated id carries no placement tag of its user, so
 * its session could not sit next to the user's index. It is refused with a clear
 * configuration error (500 SESSION_CONFIG naming the fix) — not a 503 that reads as an outage
 * — and leaves nothing behind. `req.sessionGuard.login()` works on the same app. Runs on the
 * cluster named by REDIS_CLUSTER_URLS (scripts/run-tests.ts starts one).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RedisClusterSessionStores } from '../../src/redis/index.js';
import { anonymousCookie, buildApp, https, loginWith, me, request, setCookie, type TestApp } from '../helpers.js';
import { clusterStores, uniqueSpreadPrefix } from './support.js';

let stores: RedisClusterSessionStores;
let app: TestApp;

before(async () => {
  stores = await clusterStores(uniqueSpreadPrefix('regenerated-login'));
  app = buildApp({ store: stores.store, index: stores.index }, (express) => {
    // What passport ≥0.6 does at login: regenerate, write its key, save.
    express.post('/passport-login', (req, res, next) => {
      req.session.regenerate((err: unknown) => {
        if (err) return next(err);
        (req.session as unknown as Record<string, unknown>).passport = { user: 'carol' };
        req.session.save((saveErr: unknown) => (saveErr ? next(saveErr) : res.json({ user: 'carol' })));
      });
    });
  });
});

after(async () => {
  await stores.close();
});

describe('Redis Cluster (spread): a login through a regenerated session', () => {
  it('is refused with 500 SESSION_CONFIG naming req.login, not a 503, and leaves no session of the user', async () => {
    const cookie = await anonymousCookie(app.app);
    const res = await https(request(app.app).post('/passport-login')).set('Cookie', cookie);
    assert.equal(res.status, 500, JSON.stringify(res.body));
    assert.equal(res.body.error.code, 'SESSION_CONFIG');
    assert.equal(app.audit.of('store_unavailable').length, 0, 'not reported as an outage');
    assert.deepEqual(await stores.index.list('carol'), []);
    const passed = setCookie(res);
    if (passed) await me(app.app, passed).expect(401);
  });

  it('req.sessionGuard.login() on the same app logs the user in', async () => {
    const cookie = setCookie(await loginWith(app.app, await anonymousCookie(app.app), 'carol').expect(200)) as string;
    await me(app.app, cookie).expect(200);
    assert.equal((await stores.index.list('carol')).length, 1);
  });
});
