import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import session from 'express-session';
import { buildApp, https, idOf, login, me, post, request, setCookie, setCookieLine } from '../helpers.js';

type Raw = Record<string, unknown>;

function rawRecords(guard: ReturnType<typeof buildApp>['guard']): Record<string, string> {
  return (guard.store.inner as unknown as { sessions: Record<string, string> }).sessions;
}

function storedCookie(guard: ReturnType<typeof buildApp>['guard'], cookiePair: string): Raw {
  const json = rawRecords(guard)[idOf(cookiePair)];
  assert.ok(json, 'the session is stored');
  return (JSON.parse(json) as { cookie: Raw }).cookie;
}

/** The Set-Cookie of the session carries every attribute of the hardened cookie. */
function assertHardened(res: request.Response, name = '__Host-sid', secure = true): string {
  const line = setCookieLine(res, name);
  assert.ok(line, `a Set-Cookie for ${name}`);
  const attributes = line.split('; ').slice(1);
  for (const attribute of ['Path=/', 'HttpOnly', 'SameSite=Lax', 'Priority=High']) assert.ok(attributes.includes(attribute), `${attribute} in ${attributes.join('; ')}`);
  assert.equal(attributes.includes('Secure'), secure, `Secure in ${attributes.join('; ')}`);
  return setCookie(res, name) as string;
}

describe('the session cookie in a stored record', () => {
  it('is stored without what the guard or express-session restores, and every Set-Cookie still carries all of it: first visit, login, elevation, touch, reload', async () => {
    const { app, guard, clock } = buildApp({ idleTimeout: '30m' }, (a) => {
      a.post('/reload', (req, res, next) => {
        req.session.reload((err: unknown) => {
          if (err) return next(err);
          req.session.visits = (req.session.visits ?? 0) + 100;
          // Streamed: the headers (and the cookie) go out before the session is saved.
          res.type('text/plain').write('visits: ');
          res.end(String(req.session.visits));
        });
      });
    });
    const expectCompact = (cookiePair: string) => {
      const stored = storedCookie(guard, cookiePair);
      assert.deepEqual(Object.keys(stored).sort(), ['expires', 'originalMaxAge', 'sameSite', 'secure']);
      assert.equal(stored.secure, true, 'Secure stays in the record (read without the guard, the cookie stays Secure)');
      assert.equal(stored.sameSite, 'lax');
    };
    const first = assertHardened(await https(request(app).get('/')).expect(200));
    expectCompact(first);
    const loggedIn = assertHardened(await https(request(app).post('/login')).set('Cookie', first).send({ username: 'alice' }).expect(200));
    expectCompact(loggedIn);
    const elevated = assertHardened(await post(app, '/elevate', loggedIn).expect(200));
    expectCompact(elevated);
    // Past the last-seen granularity, a request stores the new time and sends the cookie again.
    clock.advance('5m');
    const touched = await me(app, elevated).expect(200);
    assert.equal(assertHardened(touched), elevated, 'the same session');
    expectCompact(elevated);
    clock.advance('5m');
    // A session the app reloads comes from the record alone, and a streamed answer sends its
    // cookie before anything is saved.
    const reloaded = await post(app, '/reload', elevated).expect(200);
    assert.equal(assertHardened(reloaded), elevated);
    expectCompact(elevated);
  });

  it('reads a record stored with every attribute (before this version), serves it, and stores it compactly at its next write', async () => {
    const { app, guard, clock } = buildApp({ idleTimeout: '30m' });
    const cookie = await login(app, 'alice');
    const id = idOf(cookie);
    const records = rawRecords(guard);
    const full = JSON.parse(records[id] as string) as { cookie: Raw };
    full.cookie = { originalMaxAge: full.cookie.originalMaxAge, priority: 'high', expires: full.cookie.expires, secure: true, httpOnly: true, path: '/', sameSite: 'lax' };
    records[id] = JSON.stringify(full);
    assert.equal((await me(app, cookie).expect(200)).body.user, 'alice');
    clock.advance('5m');
    assertHardened(await me(app, cookie).expect(200));
    assert.deepEqual(Object.keys(storedCookie(guard, cookie)).sort(), ['expires', 'originalMaxAge', 'sameSite', 'secure']);
  });

  it('stores no `secure: false` in plain-HTTP development, and express-session alone reads the record back to the same cookie', async () => {
    const { app, guard } = buildApp({ plainHttpDevelopment: true, env: 'development', trustProxy: false });
    const res = await request(app).get('/').expect(200);
    const pair = assertHardened(res, 'sid', false);
    const stored = storedCookie(guard, pair);
    assert.deepEqual(Object.keys(stored).sort(), ['expires', 'originalMaxAge', 'sameSite']);
    // What express-session's store.createSession makes of the record, without the guard.
    const Cookie = session.Cookie as unknown as new (options: Raw) => { data: Raw };
    const cookie = new Cookie(stored);
    assert.deepEqual(
      { httpOnly: cookie.data.httpOnly, path: cookie.data.path, secure: cookie.data.secure, sameSite: cookie.data.sameSite },
      { httpOnly: true, path: '/', secure: undefined, sameSite: 'lax' },
    );
  });
});
