/**
 * A passport-style login (regenerate, set `passport.user`, save) refused at its reservation
 * (`rejectLogin` at the limit) answers the app's error, sets no working cookie and lists nothing
 * extra; the request goes on with a fresh anonymous session, so that an app that handles the
 * refusal the usual passport way (a flash message in the session, then a redirect to the login
 * page) still answers — with the session deleted instead, its write threw and answered 500.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { anonymousCookie, buildApp, https, login, me, request, setCookie, regeneratedLoginRoute } from '../helpers.js';

function passportApp() {
  return buildApp({ maxSessionsPerUser: 1, onSessionLimit: 'rejectLogin' }, (express) => {
    regeneratedLoginRoute(express);
    express.post('/passport-login-flash', (req, res, next) => {
      const user = (req.body as { username: string }).username;
      req.session.regenerate((err: unknown) => {
        if (err) return next(err);
        (req.session as unknown as Record<string, unknown>).passport = { user };
        req.session.save((saveErr: unknown) => {
          if (!saveErr) return res.json({ user });
          // connect-flash style: req.flash() writes req.session.flash
          try {
            (req.session as unknown as Record<string, unknown>).flash = { error: ['Too many sessions'] };
          } catch (e) {
            return next(e);
          }
          res.redirect(303, '/login');
        });
      });
    });
  });
}

describe('a passport login refused at the limit (default store)', () => {
  it('answers the error, sets no working cookie, lists one session', async () => {
    const { app, guard } = passportApp();
    const first = await login(app, 'erin');
    const res = await https(request(app).post('/passport-login')).set('Cookie', await anonymousCookie(app)).send({ username: 'erin' });
    assert.ok(res.status >= 400, `answered ${res.status}`);
    const c = setCookie(res);
    if (c) await me(app, c).expect(401);
    assert.equal((await guard.listSessions('erin')).length, 1);
    await me(app, first).expect(200);
  });

  it('an app that writes a flash message on the refusal still answers its redirect', async () => {
    const { app } = passportApp();
    await login(app, 'frank');
    const res = await https(request(app).post('/passport-login-flash')).set('Cookie', await anonymousCookie(app)).send({ username: 'frank' });
    assert.equal(res.status, 303, `answered ${res.status} ${JSON.stringify(res.body)}`);
  });
});
