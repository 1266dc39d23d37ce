/**
 * A logout that presents an id a parallel request of the same session has just rotated (an
 * elevation in another tab, whose answer with the new cookie is still on its way) ends the
 * session under its new id: "log out" answers 204 and nothing of the session stays alive. The
 * rotation's tombstone says whether it kept the session's principal (`sameSession`); a login's
 * does not, so a planted pre-login id cannot log its victim out; the walk to the live session
 * follows only such rotations (never into a session a login gave to someone else), at most a
 * few, and only for an id rotated in the last minute (the time the other tab's answer takes):
 * an old copy of a rotated id is no switch that ends the session. Before, the logout found no
 * stored session, wrote nothing and answered 204, and the elevated session lived on.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { guarded, requireAuth } from '../../src/index.js';
import { Gate, alive, anonymousCookie, buildApp, https, login, me, post, request, setCookie } from '../helpers.js';
import { storeKinds } from '../support/login-paths.js';

const stores = storeKinds('logout-rotated-id');

for (const [name, options] of stores) {
  describe(`a logout presenting an id rotated a moment ago (${name})`, () => {
    it("ends the session another tab's elevation moved to a new id", async () => {
      const gate = new Gate();
      const { app, guard, audit } = buildApp((await options()), (a) => {
        // Tab 1: a step-up whose answer (with the new cookie) is still on its way.
        a.post('/step-up', requireAuth(), async (req, res, next) => {
          try {
            await guarded(req).elevate({ privilege: 'admin' });
            await gate.pass();
            res.json({ ok: true });
          } catch (err) {
            next(err);
          }
        });
      });
      const cookie = await login(app, 'alice');
      const stepUp = post(app, '/step-up', cookie).then((r) => r);
      await gate.arrived(1);
      // Tab 2: "log out", with the cookie the browser still holds.
      await post(app, '/logout', cookie).expect(204);
      gate.open();
      const elevated = setCookie(await stepUp);
      assert.ok(elevated, 'the step-up answered with the new cookie');
      assert.deepEqual(await alive(app, [cookie, elevated]), [], 'no session of alice answers /me');
      assert.equal((await guard.listSessions('alice')).length, 0, 'nothing listed');
      assert.ok(audit.of('logout').some((e) => e.principal === 'alice'), 'audited as a logout of alice');
    });

    it("a planted pre-login id does not log out the session its victim's login moved it to", async () => {
      const { app } = buildApp((await options()));
      const planted = await anonymousCookie(app);
      const victim = await login(app, 'alice', planted);
      await post(app, '/logout', planted).expect(204);
      await me(app, victim).expect(200);
    });

    it('ends the session a same-user re-login in another tab moved to a new id', async () => {
      const gate = new Gate();
      const { app } = buildApp(await options(), (a) => {
        a.post('/reauth', async (req, res, next) => {
          try {
            await guarded(req).login('alice');
            await gate.pass();
            res.json({ ok: true });
          } catch (err) {
            next(err);
          }
        });
      });
      const x = await login(app, 'alice');
      const reauth = https(request(app).post('/reauth')).set('Cookie', x).then((r) => r);
      await gate.arrived(1);
      await post(app, '/logout', x).expect(204);
      gate.open();
      const y = setCookie(await reauth);
      assert.ok(y, 'the re-login answered with its new cookie');
      assert.deepEqual(await alive(app, [x, y]), [], 'the re-logged-in session lives on after "log out"');
    });

    it('ends the live session through an id rotated twice, and unlists it', async () => {
      const { app, guard } = buildApp(await options());
      const x = await login(app, 'alice');
      const y = setCookie(await post(app, '/elevate', x).expect(200)) as string;
      const z = setCookie(await post(app, '/elevate', y).expect(200)) as string;
      await post(app, '/logout', x).expect(204);
      assert.deepEqual(await alive(app, [x, y, z]), [], 'a session of alice still answers');
      assert.equal((await guard.listSessions('alice')).length, 0, 'still listed');
    });

    it("never crosses into another principal's session: mallory's dead id, elevated (or re-logged) then planted, does not log out alice who logged in on it", async () => {
      for (const rotate of ['elevate', 're-login'] as const) {
        const { app, audit } = buildApp(await options());
        const x = await login(app, 'mallory');
        const y = rotate === 'elevate' ? setCookie(await post(app, '/elevate', x).expect(200)) : await login(app, 'mallory', x);
        assert.ok(y, 'the rotation moved the session to a new id');
        // y is planted in alice's browser; alice logs in on it.
        const z = await login(app, 'alice', y);
        await post(app, '/logout', x).expect(204);
        const res = await me(app, z);
        assert.equal(res.status, 200, `${rotate}: alice's session was ended by mallory's logout (audit: ${JSON.stringify(audit.of('logout'))})`);
      }
    });
  });
}

describe('a rotated id presented long after its rotation (default store)', () => {
  const MINUTE = 60_000;

  it('an id rotated away 10 periodic rotations ago: the logout answers 204 and ends nothing of the live session', async () => {
    const { app, clock } = buildApp({ rotateEvery: '10m', rotationGrace: '30s', idleTimeout: '30m', absoluteTimeout: '8h' });
    const old = await login(app, 'alice');
    let current = old;
    for (let i = 0; i < 10; i++) {
      clock.advance(10 * MINUTE + 1_000);
      current = setCookie(await me(app, current).expect(200)) ?? current;
    }
    const res = await post(app, '/logout', old);
    assert.equal(res.status, 204, `logout answered ${res.status} ${JSON.stringify(res.body)}`);
    await me(app, current).expect(200);
  });

  it('an id rotated away two hours ago does not log out the session it became', async () => {
    const { app, clock } = buildApp({ idleTimeout: '3h', absoluteTimeout: '8h' });
    const stolen = await login(app, 'alice');
    const elevated = setCookie(await post(app, '/elevate', stolen).expect(200)) as string;
    clock.advance(120 * MINUTE);
    await post(app, '/logout', stolen).expect(204);
    assert.equal((await me(app, elevated)).status, 200, 'a two-hour-old rotated id ended the live session');
  });
});
