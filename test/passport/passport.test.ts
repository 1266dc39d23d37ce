import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import express, { type NextFunction, type Request, type Response } from 'express';
import session from 'express-session';
import { Passport } from 'passport';
import { Strategy as LocalStrategy } from 'passport-local';
import { guarded, isTombstone, ManualClock, memorySink, requireAuth, secureHeaders, sessionGuard, type SessionGuardOptions } from '../../src/index.js';
import { stateOf } from '../../src/policy/state.js';
import { https, idOf, request, SECRET, setCookie } from '../helpers.js';

const USERS: Record<string, string> = { alice: 'alice-password', bob: 'bob-password' };

type Order = 'passport.initialize() before the guard' | 'the guard before passport.initialize()';
const ORDERS: Order[] = ['passport.initialize() before the guard', 'the guard before passport.initialize()'];

function userOf(req: Request): string | undefined {
  return (req.user as { id?: string } | undefined)?.id;
}

function passportApp(order: Order, options: Partial<SessionGuardOptions> & { keepSessionInfo?: boolean; headers?: boolean } = {}) {
  const { keepSessionInfo, headers, ...guardOptions } = options;
  const audit = memorySink();
  const clock = new ManualClock();
  const passport = new Passport();
  passport.use(
    new LocalStrategy((username, password, done) => (USERS[username] === password ? done(null, { id: username }) : done(null, false))),
  );
  passport.serializeUser((user, done) => done(null, (user as { id: string }).id));
  passport.deserializeUser((id: string, done) => done(null, { id }));
  const guard = sessionGuard({ secret: SECRET, audit, clock, trustProxy: true, ...guardOptions });
  const app = express();
  app.use(express.json());
  if (headers) app.use(secureHeaders());
  if (order === 'passport.initialize() before the guard') {
    app.use(passport.initialize());
    app.use(guard);
  } else {
    app.use(guard);
    app.use(passport.initialize());
  }
  app.use(passport.session());
  app.get('/', (req, res) => {
    req.session.visits = (req.session.visits ?? 0) + 1;
    res.json({ visits: req.session.visits });
  });
  app.post('/cart', (req, res) => {
    req.session.cart = ['book'];
    res.json({ ok: true });
  });
  app.post('/login', passport.authenticate('local', keepSessionInfo ? { keepSessionInfo: true } : {}), (req, res) => {
    res.json({ user: userOf(req) });
  });
  app.get('/me', (req, res) => {
    if (!req.isAuthenticated()) return res.status(401).json({ error: 'unauthenticated' });
    res.json({ user: userOf(req), guardPrincipal: req.sessionGuard?.principal ?? null, cart: req.session.cart ?? null });
  });
  app.post('/logout', (req, res, next) => {
    req.logout(keepSessionInfo ? { keepSessionInfo: true } : {}, (err) => (err ? next(err) : res.status(204).end()));
  });
  app.get('/guard-me', requireAuth(), (req, res) => res.json({ guardPrincipal: req.sessionGuard?.principal ?? null }));
  app.get('/guard', (req, res) => res.json({ guardPrincipal: req.sessionGuard?.principal ?? null }));
  app.post('/logout-all', async (req, res, next) => {
    try {
      res.json({ ended: await req.sessionGuard?.logoutEverywhere() });
    } catch (err) {
      next(err);
    }
  });
  app.post('/elevate', async (req, res, next) => {
    try {
      await guarded(req).elevate({ privilege: 'admin' });
      res.json({ ok: true });
    } catch (err) {
      next(err);
    }
  });
  app.use((err: { status?: number; code?: string; message: string }, _req: Request, res: Response, _next: NextFunction) => {
    res.status(err.status ?? 500).json({ error: { code: err.code ?? 'INTERNAL', message: err.message } });
  });
  const inner = guard.store.inner as unknown as { sessions: Record<string, string> };
  const records = () => Object.values(inner.sessions).map((json) => JSON.parse(json) as Record<string, unknown>);
  return { app, guard, audit, clock, records };
}

async function visit(app: express.Express): Promise<string> {
  const cookie = setCookie(await https(request(app).get('/')).expect(200));
  assert.ok(cookie);
  return cookie;
}

function passportLogin(app: express.Express, cookie: string | undefined, username = 'alice') {
  const test = https(request(app).post('/login')).send({ username, password: USERS[username] });
  if (cookie) test.set('Cookie', cookie);
  return test;
}

describe('passport beside the guard', () => {
  it('without the guard, passport 0.7 on express-session rotates at login by itself (what the guard must not break)', async () => {
    const passport = new Passport();
    passport.use(new LocalStrategy((u, p, done) => (USERS[u] === p ? done(null, { id: u }) : done(null, false))));
    passport.serializeUser((user, done) => done(null, (user as { id: string }).id));
    passport.deserializeUser((id: string, done) => done(null, { id }));
    const app = express();
    app.use(express.json());
    app.use(session({ secret: SECRET, resave: false, saveUninitialized: false, name: 'sid' }));
    app.use(passport.initialize());
    app.use(passport.session());
    app.get('/', (req, res) => {
      req.session.visits = 1;
      res.json({});
    });
    app.post('/login', passport.authenticate('local'), (_req, res) => res.json({}));
    const planted = setCookie(await request(app).get('/').expect(200), 'sid') as string;
    const after = setCookie(await request(app).post('/login').set('Cookie', planted).send({ username: 'alice', password: 'alice-password' }).expect(200), 'sid');
    assert.ok(after);
    assert.notEqual(idOf(after), idOf(planted));
  });

  for (const order of ORDERS) {
    describe(`with ${order}`, () => {
      it('passport.authenticate("local") logs in, rotating the id exactly once, and the planted pre-login id is dead', async () => {
        const { app, audit, records } = passportApp(order);
        const planted = await visit(app);
        const res = await passportLogin(app, planted).expect(200);
        assert.deepEqual(res.body, { user: 'alice' });
        const cookie = setCookie(res);
        assert.ok(cookie, 'the login response carries the new id');
        assert.notEqual(idOf(cookie), idOf(planted));
        const all = records();
        assert.equal(all.length, 2, 'one tombstone for the planted id and one live record: no intermediate id');
        assert.equal(all.filter((r) => isTombstone(r)).length, 1);
        const me = await https(request(app).get('/me')).set('Cookie', cookie).expect(200);
        assert.deepEqual(me.body, { user: 'alice', guardPrincipal: 'alice', cart: null });
        await https(request(app).get('/me')).set('Cookie', planted).expect(401);
        assert.equal(audit.of('login').length, 1);
        assert.equal(audit.of('fixation_tripwire').length, 0);
        assert.equal(audit.of('resurrection_blocked').length, 0);
      });

      it('the session keeps working over many requests (no lost session, no second rotation)', async () => {
        const { app, clock } = passportApp(order);
        const cookie = setCookie(await passportLogin(app, await visit(app)).expect(200)) as string;
        for (let i = 0; i < 3; i++) {
          clock.advance('2m');
          const res = await https(request(app).get('/me')).set('Cookie', cookie).expect(200);
          const reissued = setCookie(res);
          if (reissued) assert.equal(idOf(reissued), idOf(cookie));
          await https(request(app).get('/')).set('Cookie', cookie).expect(200);
        }
      });

      it('bad credentials are refused by passport and leave the anonymous session as it was', async () => {
        const { app, audit } = passportApp(order);
        const planted = await visit(app);
        await https(request(app).post('/login')).set('Cookie', planted).send({ username: 'alice', password: 'wrong' }).expect(401);
        assert.deepEqual((await https(request(app).get('/')).set('Cookie', planted).expect(200)).body, { visits: 2 });
        assert.equal(audit.of('login').length, 0);
      });

      it("passport's logout ends the session server-side and takes it out of the index", async () => {
        const { app, guard, audit } = passportApp(order);
        const cookie = setCookie(await passportLogin(app, undefined).expect(200)) as string;
        await https(request(app).post('/logout')).set('Cookie', cookie).expect(204);
        await https(request(app).get('/me')).set('Cookie', cookie).expect(401);
        assert.ok(isTombstone(await guard.store.readRaw(idOf(cookie))));
        assert.deepEqual(await guard.listSessions('alice'), []);
        assert.equal(audit.of('fixation_tripwire').length, 0);
      });

      it("passport's logout is a logout: Clear-Site-Data, the cookie cleared, a logout audited, and the old id ends as SESSION_LOGGED_OUT", async () => {
        const { app, audit } = passportApp(order, { headers: true });
        const cookie = setCookie(await passportLogin(app, undefined).expect(200)) as string;
        await https(request(app).get('/guard-me')).set('Cookie', cookie).expect(200);
        const out = await https(request(app).post('/logout')).set('Cookie', cookie).expect(204);
        assert.equal(out.headers['clear-site-data'], '"cookies"');
        assert.ok((out.headers['set-cookie'] as unknown as string[] | undefined)?.some((line) => /^__Host-sid=;/.test(line)), 'the cookie is cleared');
        const after = await https(request(app).get('/guard-me')).set('Cookie', cookie).expect(401);
        assert.equal(after.body.error.code, 'SESSION_LOGGED_OUT');
        assert.equal(audit.of('logout').length, 1);
        assert.equal(audit.of('logout')[0]?.principal, 'alice');
      });

      it("passport's login on a logged-in session (a switch of user) is a rotation, not a logout: no Clear-Site-Data", async () => {
        const { app, audit } = passportApp(order, { headers: true });
        const alice = setCookie(await passportLogin(app, undefined).expect(200)) as string;
        const res = await https(request(app).post('/login')).set('Cookie', alice).send({ username: 'bob', password: 'bob-password' }).expect(200);
        assert.equal(res.headers['clear-site-data'], undefined);
        const after = await https(request(app).get('/guard-me')).set('Cookie', alice).expect(401);
        assert.equal(after.body.error.code, 'SESSION_ROTATED');
        assert.equal(audit.of('logout').length, 0);
      });

      it('the index knows passport sessions: req.sessionGuard.logoutEverywhere() ends them all', async () => {
        const { app, guard } = passportApp(order);
        const laptop = setCookie(await passportLogin(app, undefined).expect(200)) as string;
        const phone = setCookie(await passportLogin(app, undefined).expect(200)) as string;
        const bob = setCookie(await passportLogin(app, undefined, 'bob').expect(200)) as string;
        assert.equal((await guard.listSessions('alice')).length, 2);
        const res = await https(request(app).post('/logout-all')).set('Cookie', phone).expect(200);
        assert.deepEqual(res.body, { ended: 2 });
        await https(request(app).get('/me')).set('Cookie', laptop).expect(401);
        await https(request(app).get('/me')).set('Cookie', phone).expect(401);
        await https(request(app).get('/me')).set('Cookie', bob).expect(200);
      });

      it('maxSessionsPerUser applies to passport logins too', async () => {
        const { app, clock, audit } = passportApp(order, { maxSessionsPerUser: 1 });
        const first = setCookie(await passportLogin(app, undefined).expect(200)) as string;
        clock.advance('1m');
        const second = setCookie(await passportLogin(app, undefined).expect(200)) as string;
        await https(request(app).get('/me')).set('Cookie', first).expect(401);
        await https(request(app).get('/me')).set('Cookie', second).expect(200);
        assert.equal(audit.of('session_evicted').length, 1);
      });

      it('credentialVersion works with passport logins: the session survives until the version changes', async () => {
        let version = 1;
        const { app } = passportApp(order, { credentialVersion: () => version });
        const cookie = setCookie(await passportLogin(app, undefined).expect(200)) as string;
        await https(request(app).get('/me')).set('Cookie', cookie).expect(200);
        version = 2;
        await https(request(app).get('/me')).set('Cookie', cookie).expect(401);
      });

      it('guarded(req).elevate() works beside passport and rotates the passport session', async () => {
        const { app } = passportApp(order);
        const cookie = setCookie(await passportLogin(app, undefined).expect(200)) as string;
        const res = await https(request(app).post('/elevate')).set('Cookie', cookie).expect(200);
        const elevated = setCookie(res) as string;
        assert.ok(elevated);
        assert.notEqual(idOf(elevated), idOf(cookie));
        assert.equal((await https(request(app).get('/me')).set('Cookie', elevated).expect(200)).body.user, 'alice');
        await https(request(app).get('/me')).set('Cookie', cookie).expect(401);
      });

      it('keepSessionInfo carries the pre-login data into the new session, and the planted id still dies', async () => {
        const { app } = passportApp(order, { keepSessionInfo: true });
        const planted = await visit(app);
        await https(request(app).post('/cart')).set('Cookie', planted).expect(200);
        const cookie = setCookie(await passportLogin(app, planted).expect(200)) as string;
        const me = await https(request(app).get('/me')).set('Cookie', cookie).expect(200);
        assert.deepEqual(me.body, { user: 'alice', guardPrincipal: 'alice', cart: ['book'] });
        await https(request(app).get('/me')).set('Cookie', planted).expect(401);
      });

      it("logout with keepSessionInfo leaves nobody logged in, though passport copies the old session's guard state", async () => {
        const { app } = passportApp(order, { keepSessionInfo: true });
        const cookie = setCookie(await passportLogin(app, undefined).expect(200)) as string;
        const out = await https(request(app).post('/logout')).set('Cookie', cookie).expect(204);
        const after = setCookie(out) ?? cookie;
        await https(request(app).get('/me')).set('Cookie', after).expect(401);
        const guardView = await https(request(app).get('/guard')).set('Cookie', after).expect(200);
        assert.equal(guardView.body.guardPrincipal, null);
      });

      it('keepSessionInfo when switching user: the session belongs to the new user only, with no privilege carried over', async () => {
        const { app, guard, records } = passportApp(order, { keepSessionInfo: true });
        const alice = setCookie(await passportLogin(app, undefined).expect(200)) as string;
        const elevated = setCookie(await https(request(app).post('/elevate')).set('Cookie', alice).expect(200)) as string;
        const bob = setCookie(await passportLogin(app, elevated, 'bob').expect(200)) as string;
        const me = await https(request(app).get('/me')).set('Cookie', bob).expect(200);
        assert.equal(me.body.user, 'bob');
        assert.equal(me.body.guardPrincipal, 'bob', "the guard's principal follows passport's user");
        const state = records()
          .map((r) => stateOf(r))
          .find((s) => s?.principal === 'bob');
        assert.ok(state, "bob's session is recorded as bob's");
        assert.equal(state.privilege, undefined, "alice's elevation is not carried into bob's session");
        assert.equal((await guard.listSessions('bob')).length, 1);
        assert.equal((await guard.listSessions('alice')).length, 0);
      });
    });
  }
});
