/**
 * A logout presenting an id another tab's elevation rotated a moment ago ends the session under
 * its new id also when something in the request saved the fresh anonymous session the guard put
 * in place of the presented id first (a middleware that records the last path, a flash message,
 * a CSRF secret). Before, the logout then ended only that fresh record, answered 204, and the
 * elevated session lived on.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { guarded } from '../../src/index.js';
import { buildApp, login, me, post, setCookie } from '../helpers.js';
import { storeKinds } from '../support/login-paths.js';

for (const [name, options] of storeKinds('logout-rotated-fresh-saved')) {
  describe(`logout through a rotated id after the request saved its fresh session (${name})`, () => {
    it('still ends the session the elevation moved to a new id', async () => {
      const { app } = buildApp(await options(), (a) => {
        a.post('/logout-after-save', (req, res, next) => {
          (req.session as unknown as Record<string, unknown>).lastPath = '/logout';
          req.session.save(async (err: unknown) => {
            if (err) return next(err);
            try {
              await guarded(req).logout();
              res.status(204).end();
            } catch (e) {
              next(e);
            }
          });
        });
      });
      const x = await login(app, 'alice');
      const y = setCookie(await post(app, '/elevate', x).expect(200)) as string;
      await post(app, '/logout-after-save', x).expect(204);
      assert.equal((await me(app, y)).status, 401, '"log out" answered 204 and the elevated session lives on');
    });
  });
}
