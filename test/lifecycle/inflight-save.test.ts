/**
 * A change the request undoes while its own save is in flight is saved too, as express-session
 * saves it. The guard's baseline (what the store holds) moves to a write's snapshot when the
 * write has answered; while a write is in flight, the store may hold either, so the session
 * never counts as unchanged then. Before, a request that (a) changed the session, (b) called
 * `req.session.save()` without waiting (or waited on something else that finished first, as a
 * DB call can before a Redis reply), and (c) put the session back as it was at load ended with
 * a session equal to the stale baseline: nothing saved (c), and the store kept (a).
 *
 * Why it matters: an optimistic flag set and saved, then rolled back when a check fails
 * (`otpOk = true; save(); … check fails → delete otpOk; 401`). The store kept `otpOk: true`, and
 * the next request passed the second factor.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import express, { type Request, type Response } from 'express';
import session from 'express-session';
import request from 'supertest';
import type { RedisSessionStores } from '../../src/redis/index.js';
import { anonymousCookie, buildApp, https, idOf, login } from '../helpers.js';
import { connectedStores, uniquePrefix } from '../redis/support.js';

declare module 'express-session' {
  interface SessionData {
    otpOk?: boolean;
  }
}

/**
 * The routes under test, the same for the guard and for plain express-session:
 * - POST /verify-otp: sets `otpOk`, saves without waiting, then the code turns out wrong (the
 *   check is asynchronous when `asyncCheck`: one macrotask, as a DB round trip would be), rolls back.
 * - GET /secret: 200 only when `otpOk`.
 */
function otpRoutes(app: express.Express, asyncCheck: boolean): void {
  app.post('/verify-otp', async (req: Request, res: Response) => {
    req.session.otpOk = true;
    req.session.save(); // fire and forget: "make sure it is persisted"
    if (asyncCheck) await new Promise((resolve) => setImmediate(resolve));
    const codeIsRight = false;
    if (!codeIsRight) {
      delete req.session.otpOk; // roll back
      res.status(401).json({ error: 'wrong code' });
      return;
    }
    res.json({ ok: true });
  });
  app.get('/secret', (req, res) => {
    if (req.session.otpOk) res.json({ secret: 'the second factor was passed' });
    else res.status(403).json({ error: 'second factor required' });
  });
}

/** What plain express-session (MemoryStore) does with the same routes: the rollback is saved. */
async function plainExpressSessionKeepsRollback(): Promise<void> {
  const app = express();
  app.use(session({ secret: 'plain-secret-plain-secret-plain-secret', resave: false, saveUninitialized: false }));
  app.get('/', (req, res) => {
    req.session.visits = (req.session.visits ?? 0) + 1;
    res.json({ visits: req.session.visits });
  });
  otpRoutes(app, false);
  const first = await request(app).get('/').expect(200);
  const cookie = (first.headers['set-cookie'] as unknown as string[])[0]!.split(';')[0]!;
  await request(app).post('/verify-otp').set('Cookie', cookie).expect(401);
  await request(app).get('/secret').set('Cookie', cookie).expect(403);
}

describe('a change undone while its save is in flight', () => {
  it('control: plain express-session saves the rollback (GET /secret answers 403)', async () => {
    await plainExpressSessionKeepsRollback();
  });

  it('on a loaded session, the rollback is saved: /secret answers 403', async () => {
    const { app, guard } = buildApp({}, (a) => otpRoutes(a, false));
    const cookie = await anonymousCookie(app);
    await https(request(app).post('/verify-otp')).set('Cookie', cookie).expect(401);
    const stored = await guard.store.readRaw(idOf(cookie));
    assert.equal(stored?.otpOk, undefined, `the store still holds otpOk=${String(stored?.otpOk)} after the request rolled it back`);
    await https(request(app).get('/secret')).set('Cookie', cookie).expect(403);
  });

  it('on an authenticated session (the usual place for a second factor), the rollback is saved', async () => {
    const { app, guard } = buildApp({}, (a) => otpRoutes(a, false));
    const cookie = await login(app, 'alice');
    await https(request(app).post('/verify-otp')).set('Cookie', cookie).expect(401);
    const stored = await guard.store.readRaw(idOf(cookie));
    assert.equal(stored?.otpOk, undefined, `the store still holds otpOk=${String(stored?.otpOk)} after the request rolled it back`);
    await https(request(app).get('/secret')).set('Cookie', cookie).expect(403);
  });
});

describe('the same on Redis, with an asynchronous check finishing before the Redis reply', () => {
  let redis: RedisSessionStores;
  before(async () => {
    redis = await connectedStores(uniquePrefix('inflight-save'));
  });
  after(async () => {
    await redis.close();
  });

  it('an awaited check (one macrotask) that rolls back while the save is still on the wire: the rollback is saved', async () => {
    const { app } = buildApp({ store: redis.store, index: redis.index }, (a) => otpRoutes(a, true));
    const cookie = await login(app, 'alice');
    await https(request(app).post('/verify-otp')).set('Cookie', cookie).expect(401);
    await https(request(app).get('/secret')).set('Cookie', cookie).expect(403);
  });
});
