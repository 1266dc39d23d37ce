/**
 * A cookie-only change (`req.session.cookie.maxAge`, e.g. a "remember me" box read before the
 * password is checked) on a request without a stored session writes nothing and sets no
 * cookie, as express-session (`saveUninitialized: false`, which the guard sets) leaves a session
 * whose only change is its cookie. The guard compares the cookie's maxAge for a stored session
 * only (so that "remember me" after a login reaches its record); before, it compared it for a
 * session never saved too, and every such request of a client without a cookie stored a record:
 * a write amplifier for unauthenticated clients.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import express, { type Request, type Response } from 'express';
import session from 'express-session';
import request from 'supertest';
import { buildApp, https, setCookie } from '../helpers.js';

const DAY = 86_400_000;

/** A login form that reads the "remember me" box first, then refuses the password. */
function failedRememberMeLogin(req: Request, res: Response): void {
  const { remember } = req.body as { remember?: boolean };
  req.session.cookie.maxAge = remember ? 30 * DAY : undefined;
  res.status(401).json({ error: 'bad credentials' });
}

function records(store: unknown): number {
  return Object.keys((store as { sessions: Record<string, string> }).sessions).length;
}

describe('a cookie-only change on a request without a stored session', () => {
  it('control: plain express-session writes nothing and sets no cookie', async () => {
    const store = new session.MemoryStore();
    const app = express();
    app.use(express.json());
    app.use(session({ secret: 'plain-secret-plain-secret-plain-secret', resave: false, saveUninitialized: false, store }));
    app.post('/login', failedRememberMeLogin);
    for (const remember of [true, false]) {
      const res = await request(app).post('/login').send({ remember }).expect(401);
      assert.equal(res.headers['set-cookie'], undefined);
    }
    assert.equal(records(store), 0);
  });

  it('under the guard, a failed "remember me" login of a client without a cookie stores nothing and sets no cookie', async () => {
    const { app, guard } = buildApp({}, (a) => a.post('/failed-login', failedRememberMeLogin));
    const inner = guard.store.inner;
    const before = records(inner);
    const cookies: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await https(request(app).post('/failed-login')).send({ remember: i % 2 === 0 }).expect(401);
      const cookie = setCookie(res);
      if (cookie) cookies.push(cookie);
    }
    assert.deepEqual({ written: records(inner) - before, cookies: cookies.length }, { written: 0, cookies: 0 }, 'anonymous requests that only set the cookie\'s maxAge write records');
  });
});
