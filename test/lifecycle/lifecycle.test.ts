import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isTombstone } from '../../src/index.js';
import { stateOf } from '../../src/policy/state.js';
import { anonymousCookie, buildApp, https, idOf, loginWith, request, setCookie } from '../helpers.js';

type Built = ReturnType<typeof buildApp>;

async function login(app: Built['app'], username = 'alice'): Promise<string> {
  const cookie = setCookie(await loginWith(app, undefined, username).expect(200));
  assert.ok(cookie, 'login sets a cookie');
  return cookie;
}

function me(app: Built['app'], cookie: string) {
  return https(request(app).get('/me')).set('Cookie', cookie);
}

async function expectEnded(app: Built['app'], cookie: string, code: string): Promise<void> {
  const res = await me(app, cookie);
  assert.equal(res.status, 401, `expected 401 ${code}, got ${res.status} ${JSON.stringify(res.body)}`);
  assert.equal(res.body.error.code, code);
}

describe('lifecycle', () => {
  describe('idle timeout', () => {
    it('a session unused for longer than idleTimeout (30m) ends: 401 SESSION_EXPIRED_IDLE, tombstoned and audited', async () => {
      const { app, clock, audit, guard } = buildApp();
      const cookie = await login(app);
      clock.advance('31m');
      await expectEnded(app, cookie, 'SESSION_EXPIRED_IDLE');
      const expired = audit.of('session_expired');
      assert.equal(expired.length, 1);
      assert.equal(expired[0]?.reason, 'idle_timeout');
      assert.equal(expired[0]?.principal, 'alice');
      assert.equal(expired[0]?.detail?.idleMs, 31 * 60_000);
      const record = await guard.store.readRaw(idOf(cookie));
      assert.ok(isTombstone(record));
      assert.equal(record.fixationGuardTombstone.reason, 'idle_timeout');
      // Ended for good: the next attempt is a dead id, not a second expiry.
      await expectEnded(app, cookie, 'SESSION_EXPIRED_IDLE');
      assert.equal(audit.of('session_expired').length, 1);
    });

    it('a session used exactly at the limit is still alive', async () => {
      const { app, clock } = buildApp();
      const cookie = await login(app);
      clock.advance('30m');
      await me(app, cookie).expect(200);
    });

    it('activity every 20 minutes keeps a session alive well past the idle timeout', async () => {
      const { app, clock } = buildApp();
      const cookie = await login(app);
      for (let i = 0; i < 6; i++) {
        clock.advance('20m');
        await me(app, cookie).expect(200);
      }
    });

    it('a custom idleTimeout applies, and an anonymous session expires too (its data is gone)', async () => {
      const { app, clock } = buildApp({ idleTimeout: '5m' });
      const cookie = await anonymousCookie(app);
      await https(request(app).post('/cart')).set('Cookie', cookie).send({ item: 'book' }).expect(200);
      clock.advance('6m');
      const data = await https(request(app).get('/session-data')).set('Cookie', cookie).expect(200);
      assert.equal(data.body.cart, null);
    });
  });

  describe('absolute timeout', () => {
    it('a session ends 4h after login however active it is: 401 SESSION_EXPIRED_ABSOLUTE', async () => {
      const { app, clock, audit } = buildApp();
      const cookie = await login(app);
      for (let elapsed = 20; elapsed <= 240; elapsed += 20) {
        clock.advance('20m');
        await me(app, cookie).expect(200);
      }
      clock.advance('20m');
      await expectEnded(app, cookie, 'SESSION_EXPIRED_ABSOLUTE');
      assert.deepEqual(audit.of('session_expired').map((e) => e.reason), ['absolute_timeout']);
    });

    it('counts from login, not from the anonymous visit that came before it', async () => {
      const { app, clock } = buildApp({ absoluteTimeout: '1h' });
      const before = await anonymousCookie(app);
      clock.advance('25m');
      await https(request(app).get('/')).set('Cookie', before).expect(200);
      clock.advance('25m');
      const cookie = setCookie(await loginWith(app, before).expect(200)) as string;
      clock.advance('25m');
      await me(app, cookie).expect(200);
      clock.advance('25m');
      await me(app, cookie).expect(200);
      clock.advance('25m');
      await expectEnded(app, cookie, 'SESSION_EXPIRED_ABSOLUTE');
    });
  });

  describe('rotateEvery', () => {
    it('off (the default), the id never changes however long the session lives', async () => {
      const { app, clock } = buildApp();
      const cookie = await login(app);
      clock.advance('20m');
      const res = await me(app, cookie).expect(200);
      const renewed = setCookie(res);
      if (renewed) assert.equal(idOf(renewed), idOf(cookie));
    });

    it('on, renews the id once the period has passed, keeps the data and the login, and kills the old id', async () => {
      const { app, clock, audit } = buildApp({ rotateEvery: '15m' });
      const before = await anonymousCookie(app);
      await https(request(app).post('/cart')).set('Cookie', before).send({ item: 'book' }).expect(200);
      const cookie = setCookie(await loginWith(app, before).expect(200)) as string;
      clock.advance('10m');
      const early = await me(app, cookie).expect(200);
      const earlyCookie = setCookie(early);
      if (earlyCookie) assert.equal(idOf(earlyCookie), idOf(cookie), 'no rotation before the period');
      clock.advance('6m');
      const res = await me(app, cookie).expect(200);
      assert.equal(res.body.user, 'alice');
      const renewed = setCookie(res);
      assert.ok(renewed, 'the renewed id is sent');
      assert.notEqual(idOf(renewed), idOf(cookie));
      const data = await https(request(app).get('/session-data')).set('Cookie', renewed).expect(200);
      assert.deepEqual(data.body.cart, ['book']);
      // Within the grace the old id still resolves to its successor (parallel requests of one page)…
      const parallel = await me(app, cookie).expect(200);
      assert.equal(idOf(setCookie(parallel) as string), idOf(renewed), 'the old id resolves to the one successor');
      // …and past it, it is dead.
      clock.advance('11s');
      await expectEnded(app, cookie, 'SESSION_ROTATED');
      const periodic = audit.of('session_rotated').filter((e) => e.reason === 'periodic');
      assert.equal(periodic.length, 1);
      assert.equal(periodic[0]?.detail?.strategy, 'changeSessionId');
      // And again after another period, from the renewed id.
      clock.advance('16m');
      const again = setCookie(await me(app, renewed).expect(200));
      assert.ok(again);
      assert.notEqual(idOf(again), idOf(renewed));
    });
  });

  describe('credentialVersion', () => {
    function withVersions() {
      const versions = new Map<string, number>([['alice', 1]]);
      const built = buildApp({ credentialVersion: (principal) => versions.get(principal) ?? 0 }, (app) =>
        app.post('/password', async (req, res, next) => {
          try {
            versions.set('alice', (versions.get('alice') ?? 0) + 1);
            await req.sessionGuard?.refreshCredentials();
            res.json({ ok: true });
          } catch (err) {
            next(err);
          }
        }),
      );
      return { ...built, versions };
    }

    it('off, a password change leaves every other session alive (the attack: a thief keeps his stolen session)', async () => {
      const { app } = buildApp();
      const thief = await login(app);
      await login(app); // the owner changes her password from another device: nothing happens to `thief`
      await me(app, thief).expect(200);
    });

    it('on, a changed version ends every session of the principal: 401 SESSION_CREDENTIALS_CHANGED, audited', async () => {
      const { app, versions, audit } = withVersions();
      const laptop = await login(app);
      const phone = await login(app);
      versions.set('alice', 2);
      await expectEnded(app, laptop, 'SESSION_CREDENTIALS_CHANGED');
      await expectEnded(app, phone, 'SESSION_CREDENTIALS_CHANGED');
      assert.equal(audit.of('credentials_changed').length, 2);
    });

    it('refreshCredentials() keeps the current session (under a new id) and ends all the others', async () => {
      const { app, audit, guard } = withVersions();
      const thief = await login(app);
      const owner = await login(app);
      const res = await https(request(app).post('/password')).set('Cookie', owner).expect(200);
      const renewed = setCookie(res);
      assert.ok(renewed, 'the refreshed session gets a new id');
      assert.notEqual(idOf(renewed), idOf(owner));
      assert.equal((await me(app, renewed).expect(200)).body.user, 'alice');
      await expectEnded(app, owner, 'SESSION_ROTATED');
      await expectEnded(app, thief, 'SESSION_CREDENTIALS_CHANGED');
      assert.equal(audit.of('session_rotated').filter((e) => e.reason === 'credentials').length, 1);
      assert.equal(stateOf(await guard.store.readRaw(idOf(renewed)))?.credentialVersion, '2');
    });

    it('refreshCredentials() without the option is a clear SESSION_CONFIG error', async () => {
      const { app } = buildApp({}, (a) =>
        a.post('/password', async (req, res, next) => {
          try {
            await req.sessionGuard?.refreshCredentials();
            res.json({ ok: true });
          } catch (err) {
            next(err);
          }
        }),
      );
      const cookie = await login(app);
      const res = await https(request(app).post('/password')).set('Cookie', cookie).expect(500);
      assert.equal(res.body.error.code, 'SESSION_CONFIG');
      assert.match(res.body.error.message, /credentialVersion/);
    });
  });

  describe('maxSessionsPerUser', () => {
    it('off (the default), any number of sessions live side by side', async () => {
      const { app } = buildApp();
      const cookies = [];
      for (let i = 0; i < 6; i++) cookies.push(await login(app));
      for (const cookie of cookies) await me(app, cookie).expect(200);
    });

    it("evictOldest: a login beyond the limit ends the oldest session: 401 SESSION_EVICTED, audited", async () => {
      const { app, clock, audit } = buildApp({ maxSessionsPerUser: 2 });
      const first = await login(app);
      clock.advance('1m');
      const second = await login(app);
      clock.advance('1m');
      const third = await login(app);
      await expectEnded(app, first, 'SESSION_EVICTED');
      await me(app, second).expect(200);
      await me(app, third).expect(200);
      const evicted = audit.of('session_evicted');
      assert.equal(evicted.length, 1);
      assert.equal(evicted[0]?.principal, 'alice');
      assert.equal(evicted[0]?.reason, 'session_limit');
      // Another principal's sessions are not counted.
      await login(app, 'bob');
      await me(app, second).expect(200);
    });

    it("rejectLogin: a login beyond the limit is refused with 409 SESSION_LIMIT_REACHED and the login's session is untouched", async () => {
      const { app, audit, guard } = buildApp({ maxSessionsPerUser: 1, onSessionLimit: 'rejectLogin' });
      const existing = await login(app);
      const visitor = await anonymousCookie(app);
      await https(request(app).post('/cart')).set('Cookie', visitor).send({ item: 'book' }).expect(200);
      const refused = await loginWith(app, visitor).expect(409);
      assert.equal(refused.body.error.code, 'SESSION_LIMIT_REACHED');
      const renewed = setCookie(refused);
      if (renewed) assert.equal(idOf(renewed), idOf(visitor), 'the id did not change');
      const data = await https(request(app).get('/session-data')).set('Cookie', visitor).expect(200);
      assert.deepEqual(data.body.cart, ['book']);
      await expectEnded(app, visitor, 'UNAUTHENTICATED');
      await me(app, existing).expect(200);
      assert.equal(audit.of('login_rejected').length, 1);
      assert.equal((await guard.store.options.index.list('alice')).length, 1);
      // After logging out of the first session, the login goes through.
      await https(request(app).post('/logout')).set('Cookie', existing).expect(204);
      await loginWith(app, visitor).expect(200);
    });
  });

  describe('ending sessions by principal', () => {
    it('logoutEverywhere ends every session of the principal, this one included, and no one else', async () => {
      const { app, audit } = buildApp();
      const laptop = await login(app);
      const phone = await login(app);
      const bob = await login(app, 'bob');
      const res = await https(request(app).post('/logout-all')).set('Cookie', laptop).expect(200);
      assert.deepEqual(res.body, { ended: 2 });
      await expectEnded(app, laptop, 'SESSION_LOGGED_OUT');
      await expectEnded(app, phone, 'SESSION_LOGGED_OUT');
      await me(app, bob).expect(200);
      assert.equal(audit.of('logout_everywhere').length, 1);
    });

    it('guard.revokeSessions (admin) ends every session of a principal: 401 SESSION_REVOKED', async () => {
      const { app, guard, audit } = buildApp();
      const laptop = await login(app);
      const phone = await login(app);
      const bob = await login(app, 'bob');
      assert.equal(await guard.revokeSessions('alice'), 2);
      await expectEnded(app, laptop, 'SESSION_REVOKED');
      await expectEnded(app, phone, 'SESSION_REVOKED');
      await me(app, bob).expect(200);
      assert.equal(audit.of('session_revoked').length, 2);
      assert.equal(await guard.revokeSessions('alice'), 0);
      assert.equal(await guard.revokeSessions('nobody'), 0);
    });

    it('guard.listSessions shows live sessions oldest first, by handle: a keyed hash, never a raw id', async () => {
      const { app, guard, clock } = buildApp();
      const cookies = [await login(app)];
      clock.advance('1m');
      cookies.push(await login(app));
      const ids = cookies.map(idOf);
      const sessions = await guard.listSessions('alice');
      assert.equal(sessions.length, 2);
      assert.ok((sessions[0]?.createdAt ?? 0) < (sessions[1]?.createdAt ?? 0), 'oldest first');
      const json = JSON.stringify(sessions);
      for (const id of ids) assert.ok(!json.includes(id), 'no raw id in the listing');
      for (const summary of sessions) {
        assert.match(summary.handle, /^[A-Za-z0-9_-]{16}$/);
        assert.deepEqual(Object.keys(summary).sort(), ['createdAt', 'handle', 'lastSeenAt']);
      }
      // A handle is useless as a cookie.
      const forged = `__Host-sid=${encodeURIComponent(`s:${sessions[0]?.handle}`)}`;
      await me(app, forged).expect(401);
      assert.deepEqual(await guard.listSessions('nobody'), []);
    });

    it('guard.listSessions leaves out sessions that have ended, and tracks activity', async () => {
      const { app, guard, clock } = buildApp();
      const first = await login(app);
      const second = await login(app);
      await https(request(app).post('/logout')).set('Cookie', first).expect(204);
      clock.advance('10m');
      await me(app, second).expect(200);
      const sessions = await guard.listSessions('alice');
      assert.equal(sessions.length, 1);
      assert.equal(sessions[0]?.lastSeenAt, clock.now());
    });

    it('guard.revokeSession ends exactly the session behind a handle: 401 SESSION_REVOKED', async () => {
      const { app, guard, clock, audit } = buildApp();
      const laptop = await login(app);
      clock.advance('1m');
      const phone = await login(app);
      const [oldest] = await guard.listSessions('alice');
      assert.ok(oldest);
      assert.equal(await guard.revokeSession('alice', oldest.handle), true);
      await expectEnded(app, laptop, 'SESSION_REVOKED');
      await me(app, phone).expect(200);
      assert.equal(audit.of('session_revoked').length, 1);
      assert.equal(await guard.revokeSession('alice', oldest.handle), false, 'already gone');
      assert.equal(await guard.revokeSession('alice', 'not-a-handle'), false);
      const [phoneHandle] = await guard.listSessions('alice');
      assert.equal(await guard.revokeSession('bob', phoneHandle?.handle ?? ''), false, "a handle only works for its own principal");
      await me(app, phone).expect(200);
    });
  });
});
