import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import express from 'express';
import { createRequire } from 'node:module';
import { Passport } from 'passport';
import { Strategy as LocalStrategy } from 'passport-local';
import { allowCrossSiteLogin, guarded, memorySink, rejectCrossSiteLogin, sessionGuard, type SessionGuardOptions } from '../../src/index.js';
import { anonymousCookie, buildApp, https, idOf, me, request, SECRET, setCookie, type TestApp } from '../helpers.js';

// Express 4.22 under its npm alias (it ships no types; its API is the one typed as Express 5's here).
const express4 = createRequire(import.meta.url)('express4') as typeof express;

const EVIL = 'https://evil.example';
const APP = 'https://app.example';

/** The test app plus two cross-site flows: an SSO callback opting out per call, one per route. */
function appWith(options: Partial<SessionGuardOptions> = {}): TestApp {
  return buildApp(options, (app) => {
    app.post('/sso/callback', async (req, res, next) => {
      try {
        await guarded(req).login((req.body as { username: string }).username, { allowCrossSite: true });
        res.json({ user: req.sessionGuard?.principal });
      } catch (err) {
        next(err);
      }
    });
    app.post('/sso/form-post', allowCrossSiteLogin(), async (req, res, next) => {
      try {
        await guarded(req).login((req.body as { username: string }).username);
        res.json({ user: req.sessionGuard?.principal });
      } catch (err) {
        next(err);
      }
    });
    app.post('/step-up-anywhere', async (req, res, next) => {
      try {
        await guarded(req).elevate({ privilege: 'admin', allowCrossSite: true });
        res.json({ ok: true });
      } catch (err) {
        next(err);
      }
    });
  });
}

/** A login POST as the attacker's page makes the victim's browser send it: no cookie (SameSite), the attacker's credentials. */
function forgedLogin(app: express.Express, headers: Record<string, string>, path = '/login') {
  const test = https(request(app).post(path)).set('Host', 'app.example').send({ username: 'mallory' });
  for (const [name, value] of Object.entries(headers)) test.set(name, value);
  return test;
}

/** A plain-HTTP guard with a login route that answers the guard's refusals by their status. */
function plainLogin(app: express.Express): express.Express {
  app.use(sessionGuard({ secret: SECRET, cookie: { name: 'sid', secure: false }, plainHttpDevelopment: true }));
  app.post('/login', async (req, res, next) => {
    try {
      await guarded(req).login('alice');
      res.json({ ok: true });
    } catch (err) {
      next(err);
    }
  });
  app.use((err: { status?: number }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(err.status ?? 500).end();
  });
  return app;
}

const CROSS_SITE = { Origin: EVIL, 'Sec-Fetch-Site': 'cross-site', 'Sec-Fetch-Mode': 'navigate', Referer: `${EVIL}/win-a-prize` };

describe('login CSRF (a cross-site login or elevation)', () => {
  it('with the check off, a cross-site login with the attacker\'s credentials leaves an authenticated cookie in the victim\'s browser', async () => {
    const { app, audit } = appWith({ loginCsrf: false });
    const res = await forgedLogin(app, CROSS_SITE).expect(200);
    const cookie = setCookie(res);
    assert.ok(cookie, 'the forged login set a session cookie');
    const who = await me(app, cookie).expect(200);
    assert.equal(who.body.user, 'mallory', "the victim's browser is now logged in as the attacker");
    assert.equal(audit.of('insecure_configuration').filter((e) => String(e.reason).startsWith('loginCsrf: false')).length, 1, 'turning it off is audited');
  });

  it('refuses it by default: 403 SESSION_CROSS_SITE_LOGIN, no cookie, nothing indexed, an audit event without raw ids', async () => {
    const { app, audit, guard } = appWith();
    const anonymous = await anonymousCookie(app);
    const res = await forgedLogin(app, CROSS_SITE).set('Cookie', anonymous).expect(403);
    assert.equal(res.body.error.code, 'SESSION_CROSS_SITE_LOGIN');
    assert.doesNotMatch(JSON.stringify(res.body), /SessionGuardError|request-api|cross-site\/|\.ts\b/, 'no internal names in the body');
    assert.equal(setCookie(res), undefined, 'no session cookie is set');
    assert.deepEqual(await guard.listSessions('mallory'), [], 'nothing was reserved in the index');
    const [event] = audit.of('cross_site_login_rejected');
    assert.ok(event, 'audited');
    assert.equal(event.severity, 'warn');
    assert.equal(event.reason, 'sec-fetch-site');
    assert.equal(event.principal, 'mallory');
    assert.deepEqual(event.detail, { action: 'login', origin: EVIL, site: 'cross-site' });
    assert.equal(event.session?.length, 16, 'the session is named by its keyed hash');
    assert.ok(!JSON.stringify(audit.events).includes(idOf(anonymous)), 'no raw session id in any event');
    // The anonymous session is untouched and still anonymous.
    await me(app, anonymous).expect(401);
  });

  it('decides by Sec-Fetch-Site first: same-origin and none pass, same-site and cross-site are refused unless trusted', async () => {
    const { app } = appWith();
    await forgedLogin(app, { 'Sec-Fetch-Site': 'same-origin', Origin: APP }).expect(200);
    await forgedLogin(app, { 'Sec-Fetch-Site': 'none' }).expect(200);
    // A sibling subdomain is same-site: where cookie-tossing attackers sit.
    await forgedLogin(app, { 'Sec-Fetch-Site': 'same-site', Origin: 'https://evil.app.example' }).expect(403);
    await forgedLogin(app, { 'Sec-Fetch-Site': 'cross-site' }).expect(403);
    // A lying Origin cannot beat Fetch Metadata: a browser never sends both of these.
    await forgedLogin(app, { 'Sec-Fetch-Site': 'cross-site', Origin: APP }).expect(403);
  });

  it('without Fetch Metadata, checks Origin against the app\'s own origin: own passes, another or null is refused', async () => {
    const { app, audit } = appWith();
    await forgedLogin(app, { Origin: APP }).expect(200);
    await forgedLogin(app, { Origin: `${APP}:443` }).expect(200);
    await forgedLogin(app, { Origin: EVIL }).expect(403);
    await forgedLogin(app, { Origin: 'http://app.example' }).expect(403); // another scheme is another origin
    await forgedLogin(app, { Origin: 'https://app.example:8443' }).expect(403); // another port too
    await forgedLogin(app, { Origin: 'null' }).expect(403); // sandboxed frame, cross-origin redirect
    await forgedLogin(app, { Origin: 'not a url' }).expect(403);
    assert.deepEqual(audit.of('cross_site_login_rejected').map((e) => e.reason), ['origin', 'origin', 'origin', 'origin', 'origin']);
  });

  it('without Fetch Metadata or Origin, checks the Referer the same way', async () => {
    const { app, audit } = appWith();
    await forgedLogin(app, { Referer: `${APP}/login?next=/account` }).expect(200);
    await forgedLogin(app, { Referer: `${EVIL}/page` }).expect(403);
    assert.equal(audit.of('cross_site_login_rejected')[0]?.reason, 'referer');
  });

  it('lets a request with none of the three headers through (a non-browser client logging itself in)', async () => {
    const { app } = appWith();
    const res = await forgedLogin(app, {}).expect(200);
    assert.ok(setCookie(res));
  });

  it('accepts logins from `trustedOrigins`, and only from them', async () => {
    const { app } = appWith({ loginCsrf: { trustedOrigins: ['https://sso.example', 'https://id.app.example/'] } });
    await forgedLogin(app, { 'Sec-Fetch-Site': 'cross-site', Origin: 'https://sso.example' }).expect(200);
    await forgedLogin(app, { 'Sec-Fetch-Site': 'same-site', Origin: 'https://id.app.example' }).expect(200);
    await forgedLogin(app, { Origin: 'https://SSO.example:443' }).expect(200);
    await forgedLogin(app, { 'Sec-Fetch-Site': 'cross-site', Origin: 'https://sso.example.evil.example' }).expect(403);
    await forgedLogin(app, { 'Sec-Fetch-Site': 'cross-site', Origin: EVIL }).expect(403);
  });

  it('computes the app\'s origin with `trust proxy`: X-Forwarded-Host/-Proto count only from a trusted proxy', async () => {
    for (const trusted of [true, false]) {
      const app = express();
      if (trusted) app.set('trust proxy', 'loopback');
      plainLogin(app);
      const res = await request(app)
        .post('/login')
        .set('Host', 'internal:3000')
        .set('X-Forwarded-Host', 'app.example')
        .set('X-Forwarded-Proto', 'https')
        .set('Origin', APP);
      assert.equal(res.status, trusted ? 200 : 403, `trust proxy ${trusted}`);
    }
  });

  it('works the same on Express 4', async () => {
    const app = express4();
    plainLogin(app);
    await request(app).post('/login').set('Host', 'app.example:8080').set('Origin', 'http://app.example:8080').expect(200);
    await request(app).post('/login').set('Host', 'app.example:8080').set('Origin', EVIL).expect(403);
  });

  it('opts out per call: req.login(principal, { allowCrossSite: true }) on an SSO callback', async () => {
    const { app } = appWith();
    const res = await forgedLogin(app, CROSS_SITE, '/sso/callback').expect(200);
    await me(app, setCookie(res) as string).expect(200);
  });

  it('opts out per route: allowCrossSiteLogin() marks that route only', async () => {
    const { app } = appWith();
    const res = await forgedLogin(app, CROSS_SITE, '/sso/form-post').expect(200);
    await me(app, setCookie(res) as string).expect(200);
    await forgedLogin(app, CROSS_SITE).expect(403);
  });

  it('refuses a cross-site elevation, which keeps the session as it was; opts out per call too', async () => {
    const { app, audit } = appWith();
    const login = await forgedLogin(app, { Origin: APP }).expect(200);
    const cookie = setCookie(login) as string;
    const refused = await https(request(app).post('/elevate')).set('Host', 'app.example').set('Cookie', cookie).set(CROSS_SITE).expect(403);
    assert.equal(refused.body.error.code, 'SESSION_CROSS_SITE_LOGIN');
    assert.equal(setCookie(refused), undefined, 'the id did not change');
    const still = await me(app, cookie).expect(200);
    assert.equal(still.body.privilege, null, 'no privilege was raised');
    assert.equal(audit.of('cross_site_login_rejected')[0]?.detail?.action, 'elevate');
    const allowed = await https(request(app).post('/step-up-anywhere')).set('Host', 'app.example').set('Cookie', cookie).set(CROSS_SITE).expect(200);
    assert.ok(setCookie(allowed), 'the opted-out elevation rotated the id');
  });

  it('refuses bad `loginCsrf` options at startup with a message naming the option', () => {
    const cases: Array<[unknown, RegExp]> = [
      ['yes', /^sessionGuard: `loginCsrf` must be a boolean or \{ trustedOrigins \}; got "yes"$/],
      [{ trustedOrigins: 'https://a.example' }, /^sessionGuard: `loginCsrf.trustedOrigins` must be an array of origins/],
      [{ trustedOrigins: ['https://a.example/login'] }, /^sessionGuard: `loginCsrf.trustedOrigins` entries must be origins .*"https:\/\/a.example\/login"$/],
      [{ trustedOrigins: ['https://*.example.com'] }, /entries must be origins/],
      [{ trustedOrigins: ['a.example'] }, /entries must be origins/],
      [{ trustedOrigins: ['ftp://a.example'] }, /entries must be origins/],
      [{ trustedOrigin: [] }, /^sessionGuard: unknown option `loginCsrf.trustedOrigin`; the only one is `trustedOrigins`.$/],
    ];
    for (const [loginCsrf, message] of cases) {
      assert.throws(() => sessionGuard({ secret: SECRET, loginCsrf } as unknown as SessionGuardOptions), { message }, JSON.stringify(loginCsrf));
    }
  });

  for (const mounted of [false, true]) {
    it(`${mounted ? 'refuses' : 'lets through'} a cross-site passport login ${mounted ? 'with' : 'without'} rejectCrossSiteLogin() on the route (passport's req.logIn is not the guard's)`, async () => {
      const audit = memorySink();
      const passport = new Passport();
      passport.use(new LocalStrategy((username, password, done) => (password === `${username}-password` ? done(null, { id: username }) : done(null, false))));
      passport.serializeUser((user, done) => done(null, (user as { id: string }).id));
      passport.deserializeUser((id: string, done) => done(null, { id }));
      const guard = sessionGuard({ secret: SECRET, audit, trustProxy: true });
      const app = express();
      app.use(express.json());
      app.use(guard);
      app.use(passport.initialize());
      app.use(passport.session());
      const check = mounted ? [rejectCrossSiteLogin({ audit: guard.auditor, trustProxy: true })] : [];
      app.post('/login', ...check, passport.authenticate('local'), (req, res) => res.json({ user: (req.user as { id: string }).id }));
      app.get('/me', (req, res) => (req.isAuthenticated() ? res.json({ user: (req.user as { id: string }).id }) : res.status(401).end()));
      app.use((err: { status?: number; code?: string }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
        res.status(err.status ?? 500).json({ error: { code: err.code } });
      });
      const res = await https(request(app).post('/login')).set(CROSS_SITE).send({ username: 'mallory', password: 'mallory-password' });
      if (!mounted) {
        assert.equal(res.status, 200);
        await https(request(app).get('/me')).set('Cookie', setCookie(res) as string).expect(200);
        return;
      }
      assert.equal(res.status, 403);
      assert.equal(res.body.error.code, 'SESSION_CROSS_SITE_LOGIN');
      assert.equal(setCookie(res), undefined);
      assert.deepEqual(audit.of('cross_site_login_rejected').map((e) => e.detail?.action), ['route']);
      await https(request(app).post('/login')).set('Host', 'app.example').set('Origin', APP).send({ username: 'alice', password: 'alice-password' }).expect(200);
    });
  }

  it('records login meta for the devices page, and refuses meta that is not small strings', async () => {
    const audit = memorySink();
    const { app, guard } = buildApp({ audit }, (a) => {
      a.post('/login-meta', async (req, res, next) => {
        try {
          await guarded(req).login('alice', { meta: (req.body as { meta: Record<string, string> }).meta });
          res.json({ handle: req.sessionGuard?.sessionHandle });
        } catch (err) {
          next(err);
        }
      });
    });
    const ok = await https(request(app).post('/login-meta')).send({ meta: { device: 'Firefox on Linux' } }).expect(200);
    const [listed] = await guard.listSessions('alice');
    assert.deepEqual(listed?.meta, { device: 'Firefox on Linux' });
    assert.equal(ok.body.handle, listed?.handle, 'sessionHandle names this session in the list');
    for (const meta of [{ device: 42 }, 'x', Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`k${i}`, 'v'])), { device: 'x'.repeat(201) }]) {
      const res = await https(request(app).post('/login-meta')).send({ meta }).expect(400);
      assert.equal(res.body.error.code, 'INVALID_ARGUMENT');
    }
  });
});
