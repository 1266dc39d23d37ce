/**
 * Whether express-session loaded the request's session from the store is what decides that the
 * guard's lifecycle runs on it (idle and absolute timeouts, the credential version, periodic
 * rotation, the load-time tripwire). The guard knows it from the store (express-session makes a
 * loaded record a session through the store's `createSession`), not from its own reading of
 * the Cookie header, which could differ from express-session's:
 * - a decoy cookie whose name starts with U+00A0 (a byte Node accepts in a header) is another
 *   cookie to express-session's parser, which trims only spaces and tabs; the guard's reader
 *   trimmed it with `String#trim` and took the decoy for the session cookie;
 * - express-session also reads the id from `req.cookies` (cookie-parser, or any middleware
 *   before it) when the header has none.
 * Before, both made a loaded, idle-expired or outdated session look new, and it was served.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import express from 'express';
import { ManualClock, authenticated, guarded, memorySink, requireAuth, sessionGuard } from '../../src/index.js';
import { SECRET, buildApp, https, login, me, request } from '../helpers.js';

const NBSP = '\u00a0';

/** An app whose middleware before the guard puts the `x-session` header's value in `req.cookies`, as cookie-parser would put a cookie. */
function appReadingReqCookies(clock: ManualClock): express.Express {
  const app = express();
  app.use(express.json());
  app.use((req, _res, next) => {
    const value = req.headers['x-session'];
    if (typeof value === 'string') (req as unknown as { cookies: Record<string, string> }).cookies = { '__Host-sid': decodeURIComponent(value) };
    next();
  });
  app.use(sessionGuard({ secret: SECRET, audit: memorySink(), clock, trustProxy: true, idleTimeout: '30m' }));
  app.get('/', (req, res) => {
    req.session.visits = (req.session.visits ?? 0) + 1;
    res.json({ visits: req.session.visits });
  });
  app.post('/login', async (req, res, next) => {
    try {
      await guarded(req).login((req.body as { username: string }).username);
      res.json({ ok: true });
    } catch (err) {
      next(err);
    }
  });
  app.get('/me', requireAuth(), (req, res) => {
    res.json({ user: authenticated(req).principal });
  });
  return app;
}

describe('a loaded session gets its lifecycle, however its id reached express-session', () => {
  it('an idle-expired session is not served through a decoy cookie named with a leading U+00A0 (cookieTossing: false)', async () => {
    const { app, clock } = buildApp({ cookieTossing: false, idleTimeout: '30m' });
    const stolen = await login(app, 'alice');
    clock.advance('31m');
    const res = await https(request(app).get('/me')).set('Cookie', `${NBSP}__Host-sid=x; ${stolen}`);
    assert.equal(res.status, 401, `idle-expired session served with the decoy: ${res.status} ${JSON.stringify(res.body)}`);
    // The same cookie without the decoy: refused too.
    assert.equal((await me(app, stolen)).status, 401);
  });

  it('a session whose credentials changed is not served through the same decoy (cookieTossing: false)', async () => {
    const versions = new Map<string, number>([['alice', 1]]);
    const { app } = buildApp({ cookieTossing: false, credentialVersion: (p) => versions.get(p) ?? 0 });
    const stolen = await login(app, 'alice');
    const before = await https(request(app).get('/me')).set('Cookie', `${NBSP}__Host-sid=x; ${stolen}`);
    assert.equal(before.status, 200, 'the decoy alone changes nothing for a live session');
    versions.set('alice', 2);
    const res = await https(request(app).get('/me')).set('Cookie', `${NBSP}__Host-sid=x; ${stolen}`);
    assert.equal(res.status, 401, `session with an old credential version served with the decoy: ${res.status}`);
  });

  it('the decoy is not counted as a second session cookie: one session cookie is not cookie tossing (default cookieTossing)', async () => {
    const { app } = buildApp();
    const cookie = await login(app, 'alice');
    const res = await https(request(app).get('/me')).set('Cookie', `${NBSP}__Host-sid=x; ${cookie}`);
    assert.equal(res.status, 200, `${res.status} ${JSON.stringify(res.body)}`);
  });

  it('an idle-expired session that express-session reads from req.cookies (no Cookie header) is not served', async () => {
    const clock = new ManualClock();
    const app = appReadingReqCookies(clock);
    const cookie = await login(app, 'alice');
    const value = cookie.slice(cookie.indexOf('=') + 1);
    const fresh = await https(request(app).get('/me')).set('x-session', value);
    assert.equal(fresh.status, 200, 'express-session loads the session from req.cookies');
    clock.advance('31m');
    const res = await https(request(app).get('/me')).set('x-session', value);
    assert.equal(res.status, 401, `idle-expired session served from req.cookies: ${res.status} ${JSON.stringify(res.body)}`);
  });
});
