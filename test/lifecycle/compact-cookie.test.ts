/**
 * Every record the guard writes stores its cookie in the compact form (no `path: '/'`, no
 * `httpOnly: true`, no `priority`, `secure` only when true): a login, an elevation, the activity
 * record, and a save after the route reloaded its session (`req.session.reload()`: a Cookie
 * express-session made from the record).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildApp, https, idOf, login, me, post, request, setCookie } from '../helpers.js';

const MINUTE = 60_000;

function cookieOf(record: unknown): Record<string, unknown> {
  return (record as { cookie: Record<string, unknown> }).cookie;
}
function assertCompact(cookie: Record<string, unknown>, what: string): void {
  assert.ok(!('path' in cookie) && !('httpOnly' in cookie) && !('priority' in cookie), `${what} stores the full cookie: ${JSON.stringify(cookie)}`);
}

describe('the compact stored cookie, on every write (default store)', () => {
  it('a login, an elevation, an activity', async () => {
    const { app, guard, clock } = buildApp();
    const c = await login(app, 'alice');
    assertCompact(cookieOf(await guard.store.readRaw(idOf(c))), 'a login');
    const e = setCookie(await post(app, '/elevate', c).expect(200)) as string;
    assertCompact(cookieOf(await guard.store.readRaw(idOf(e))), 'an elevation');
    clock.advance(2 * MINUTE);
    await me(app, e).expect(200);
    assertCompact(cookieOf(await guard.store.readRaw(idOf(e))), 'an activity');
  });

  it('a save after req.session.reload()', async () => {
    const { app, guard } = buildApp({}, (a) => {
      a.post('/reload-and-change', (req, res, next) => {
        req.session.reload((err: unknown) => {
          if (err) return next(err);
          req.session.theme = 'light';
          res.json({ ok: true });
        });
      });
    });
    const c = await login(app, 'alice');
    await https(request(app).post('/reload-and-change')).set('Cookie', c).expect(200);
    const record = await guard.store.readRaw(idOf(c));
    assert.equal((record as { theme?: string }).theme, 'light');
    assertCompact(cookieOf(record), 'a save after reload');
  });
});
