/**
 * A logout that presents an id a parallel request of the same session has just rotated (an
 * elevation in another tab, whose answer with the new cookie is still on its way) ends the
 * session under its new id: "log out" answers 204 and nothing of the session stays alive. The
 * rotation's tombstone says whether it kept the session's principal (`sameSession`); a login's
 * does not, so a planted pre-login id cannot log its victim out. Before, the logout found no
 * stored session, wrote nothing and answered 204, and the elevated session lived on.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { guarded, requireAuth } from '../../src/index.js';
import { Gate, alive, anonymousCookie, buildApp, login, me, post, setCookie } from '../helpers.js';
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
  });
}
