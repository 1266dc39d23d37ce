import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import express from 'express';
import session from 'express-session';
import { isTombstone, type RotationStrategy, guarded } from '../../src/index.js';
import { stateOf } from '../../src/policy/state.js';
import { anonymousCookie, buildApp, https, idOf, loginWith, request, setCookie, signedCookie, SECRET } from '../helpers.js';

const ROTATING: RotationStrategy[] = ['newSession', 'migrateSession', 'changeSessionId'];

describe('sessionGuard: session fixation', () => {
  for (const strategy of ROTATING) {
    it(`${strategy}: an attacker who planted a pre-login cookie is not authenticated after the victim logs in`, async () => {
      const { app, audit } = buildApp({ strategy });
      const planted = await anonymousCookie(app);
      const login = await loginWith(app, planted).expect(200);
      const victim = setCookie(login);
      assert.ok(victim, 'login sets a session cookie');
      assert.notEqual(idOf(victim), idOf(planted), 'the id after login differs from the id before');
      const attacker = await https(request(app).get('/me')).set('Cookie', planted);
      assert.equal(attacker.status, 401);
      assert.equal(attacker.body.error.code, 'SESSION_ROTATED');
      const owner = await https(request(app).get('/me')).set('Cookie', victim).expect(200);
      assert.equal(owner.body.user, 'alice');
      assert.equal(audit.of('session_rotated').length, 1);
      assert.equal(audit.of('rotated_session_id_presented').length, 1);
    });

    it(`${strategy}: the pre-login id is tombstoned in the store the moment login returns`, async () => {
      const { app, guard } = buildApp({ strategy });
      const planted = await anonymousCookie(app);
      await loginWith(app, planted).expect(200);
      const record = await guard.store.readRaw(idOf(planted));
      assert.ok(isTombstone(record), 'the old id holds a tombstone, not a session');
      assert.equal(record.fixationGuardTombstone.reason, 'rotated');
    });
  }

  it("with strategy 'none' the same attack succeeds: the attacker's cookie is the victim's session", async () => {
    const { app } = buildApp({ strategy: 'none', dangerouslyAllowSessionFixation: true });
    const planted = await anonymousCookie(app);
    const login = await loginWith(app, planted).expect(200);
    const after = setCookie(login);
    if (after) assert.equal(idOf(after), idOf(planted), 'the id is kept');
    const attacker = await https(request(app).get('/me')).set('Cookie', planted).expect(200);
    assert.equal(attacker.body.user, 'alice');
  });

  it('a login on a request with no cookie at all still issues a fresh, working session', async () => {
    const { app } = buildApp();
    const login = await loginWith(app, undefined).expect(200);
    const cookie = setCookie(login);
    assert.ok(cookie);
    await https(request(app).get('/me')).set('Cookie', cookie).expect(200);
  });
});

describe('sessionGuard: what each strategy carries (Spring Security scenarios)', () => {
  async function withCart(strategy: RotationStrategy, extra: Record<string, unknown> = {}, body: Record<string, unknown> = {}) {
    const { app } = buildApp({ strategy, ...extra });
    const before = await anonymousCookie(app);
    await https(request(app).post('/cart')).set('Cookie', before).send({ item: 'book' }).expect(200);
    const login = await loginWith(app, before, 'alice', body).expect(200);
    const after = setCookie(login) ?? before;
    const data = await https(request(app).get('/session-data')).set('Cookie', after).expect(200);
    return { before, after, data: data.body as Record<string, unknown> };
  }

  it('newSession drops the pre-login data but keeps the allowlisted keys', async () => {
    const { before, after, data } = await withCart('newSession', { keep: ['returnTo'] });
    assert.notEqual(idOf(after), idOf(before));
    assert.equal(data.cart, null);
    assert.equal(data.visits, null);
    assert.equal(data.returnTo, '/checkout');
  });

  it('newSession takes a per-login allowlist from req.login(principal, { keep })', async () => {
    const { data } = await withCart('newSession', {}, { keep: ['theme'] });
    assert.equal(data.theme, 'dark');
    assert.equal(data.returnTo, null);
  });

  it('migrateSession keeps the data under a new id, except the denylisted keys', async () => {
    const { before, after, data } = await withCart('migrateSession', { drop: ['theme'] });
    assert.notEqual(idOf(after), idOf(before));
    assert.deepEqual(data.cart, ['book']);
    assert.equal(data.returnTo, '/checkout');
    assert.equal(data.theme, null);
  });

  it('changeSessionId keeps the same record, creation time included, under a new id', async () => {
    const { app, guard, clock } = buildApp({ strategy: 'changeSessionId' });
    const before = await anonymousCookie(app);
    await https(request(app).post('/cart')).set('Cookie', before).send({ item: 'book' }).expect(200);
    const created = stateOf(await guard.store.readRaw(idOf(before)))?.createdAt;
    assert.equal(typeof created, 'number');
    clock.advance('1m');
    const after = setCookie(await loginWith(app, before).expect(200)) as string;
    assert.notEqual(idOf(after), idOf(before));
    const record = (await guard.store.readRaw(idOf(after))) as { cart: string[]; visits: number };
    assert.deepEqual(record.cart, ['book']);
    assert.equal(record.visits, 1);
    assert.equal(stateOf(record)?.createdAt, created);
  });

  it('none keeps the data and the id', async () => {
    const { before, after, data } = await withCart('none', { dangerouslyAllowSessionFixation: true });
    assert.equal(after, before);
    assert.deepEqual(data.cart, ['book']);
  });
});

describe('sessionGuard: privilege change, logout, forged and tampered ids', () => {
  it('elevate() rotates the id, keeps the login, and kills the pre-elevation id', async () => {
    const { app } = buildApp();
    const login = setCookie(await loginWith(app, undefined).expect(200)) as string;
    const res = await https(request(app).post('/elevate')).set('Cookie', login).expect(200);
    const elevated = setCookie(res) as string;
    assert.ok(elevated);
    assert.notEqual(idOf(elevated), idOf(login));
    const me = await https(request(app).get('/me')).set('Cookie', elevated).expect(200);
    assert.deepEqual(me.body, { user: 'alice', privilege: 'admin' });
    await https(request(app).get('/me')).set('Cookie', login).expect(401);
  });

  it("with strategy 'none' elevate() keeps the id: a stolen pre-elevation cookie gains the privilege", async () => {
    const { app } = buildApp({ strategy: 'none', dangerouslyAllowSessionFixation: true });
    const login = setCookie(await loginWith(app, undefined).expect(200)) as string;
    await https(request(app).post('/elevate')).set('Cookie', login).expect(200);
    const me = await https(request(app).get('/me')).set('Cookie', login).expect(200);
    assert.equal(me.body.privilege, 'admin');
  });

  it('logout kills the id server-side: replaying the old cookie is refused with SESSION_LOGGED_OUT', async () => {
    const { app } = buildApp();
    const cookie = setCookie(await loginWith(app, undefined).expect(200)) as string;
    const out = await https(request(app).post('/logout')).set('Cookie', cookie).expect(204);
    const cleared = (out.headers['set-cookie'] as unknown as string[]).find((l) => l.startsWith('__Host-sid=;'));
    assert.ok(cleared && /Expires=Thu, 01 Jan 1970/.test(cleared), 'the cookie is cleared');
    const replay = await https(request(app).get('/me')).set('Cookie', cookie).expect(401);
    assert.equal(replay.body.error.code, 'SESSION_LOGGED_OUT');
  });

  it('a forged, correctly signed but never issued id is not adopted: a fresh id is issued and audited', async () => {
    const { app, guard, audit } = buildApp();
    const forged = signedCookie('attacker-chosen-session-id-0000000000000');
    const res = await https(request(app).get('/')).set('Cookie', forged).expect(200);
    const issued = setCookie(res) as string;
    assert.notEqual(idOf(issued), 'attacker-chosen-session-id-0000000000000');
    assert.equal(await guard.store.readRaw('attacker-chosen-session-id-0000000000000'), undefined);
    assert.equal(audit.of('unknown_session_id').length, 1);
  });

  it('a tampered signature never authenticates and is audited', async () => {
    const { app, audit } = buildApp();
    const cookie = setCookie(await loginWith(app, undefined).expect(200)) as string;
    const value = decodeURIComponent(cookie.slice(cookie.indexOf('=') + 1));
    const flipped = value.slice(0, -2) + (value.at(-2) === 'A' ? 'B' : 'A') + value.slice(-1);
    await https(request(app).get('/me')).set('Cookie', `__Host-sid=${encodeURIComponent(flipped)}`).expect(401);
    const unsigned = `__Host-sid=${encodeURIComponent(idOf(cookie))}`;
    await https(request(app).get('/me')).set('Cookie', unsigned).expect(401);
    assert.deepEqual(audit.of('session_cookie_tampered').map((e) => e.reason), ['tampered', 'unsigned']);
  });

  it('a cookie signed with a retired secret still verifies while it is listed, and only the first secret signs', async () => {
    const old = 'the-old-secret-that-is-long-enough-0123456';
    const first = buildApp({ secret: old });
    const cookie = setCookie(await loginWith(first.app, undefined).expect(200)) as string;
    const rotated = buildApp({ secret: [SECRET, old], store: first.guard.store.inner, index: first.guard.store.options.index });
    for (let i = 0; i < 3; i++) {
      const res = await https(request(rotated.app).get('/me')).set('Cookie', cookie).expect(200);
      assert.equal(res.body.user, 'alice');
      await https(request(rotated.app).post('/cart')).set('Cookie', cookie).send({ item: `i${i}` }).expect(200);
    }
    assert.equal(rotated.audit.of('fixation_tripwire').length, 0, 'rotating the secret logs nobody out');
  });

  it('malformed cookies never crash the server and never authenticate', async () => {
    const { app } = buildApp();
    const valid = setCookie(await loginWith(app, undefined).expect(200)) as string;
    const id = idOf(valid);
    const headers = [
      '__Host-sid=%E0%A4%A',
      '__Host-sid=s:',
      '__Host-sid=s%3A',
      `__Host-sid="s:${id}"`,
      `__Host-sid=s%3A${id}`,
      `__Host-sid=${'x'.repeat(4096)}`,
      ';;;=;==; __Host-sid',
      '__Host-sid=s%3A%00%00.%00',
      `__Host-sid=s%3A${id}.${'A'.repeat(43)}`,
    ];
    for (const header of headers) {
      const res = await https(request(app).get('/me')).set('Cookie', header);
      assert.equal(res.status, 401, `Cookie: ${header.slice(0, 60)} → ${res.status}`);
    }
    await https(request(app).get('/me')).set('Cookie', valid).expect(200);
  });

  it('an oversized Cookie header is refused by Node (431) and the server keeps serving', async () => {
    const { app } = buildApp();
    const server = app.listen(0, '127.0.0.1');
    try {
      const huge = await https(request(server).get('/')).set('Cookie', `__Host-sid=${'a'.repeat(20_000)}`).ok(() => true);
      assert.equal(huge.status, 431);
      await https(request(server).get('/')).expect(200);
    } finally {
      server.close();
    }
  });
});

describe('sessionGuard: an in-flight request cannot resurrect a rotated id', () => {
  function appWithSlowRoute(protectedByGuard: boolean) {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slow = (req: express.Request, res: express.Response) => {
      void gate.then(() => {
        req.session.visits = (req.session.visits ?? 0) + 100;
        res.json({ ok: true });
      });
    };
    if (protectedByGuard) {
      const built = buildApp({}, (app) => app.get('/slow', slow));
      return { ...built, release };
    }
    // The protection off: plain express-session, logging in with regenerate() (the usual fix).
    const store = new session.MemoryStore();
    const app = express();
    app.use(express.json());
    app.use(session({ secret: SECRET, store, resave: false, saveUninitialized: false, name: 'sid' }));
    app.get('/', (req, res) => {
      req.session.visits = (req.session.visits ?? 0) + 1;
      res.json({});
    });
    app.get('/slow', slow);
    app.post('/login', (req, res) => {
      req.session.regenerate(() => {
        req.session.user = 'alice';
        req.session.save(() => res.json({ user: 'alice' }));
      });
    });
    return { app, store, release };
  }

  it('without tombstones, a late save brings the pre-login id back to life (the attack works)', async () => {
    const { app, store, release } = appWithSlowRoute(false) as { app: express.Express; store: session.MemoryStore; release: () => void };
    const first = await request(app).get('/').expect(200);
    const planted = setCookie(first, 'sid') as string;
    const inFlight = request(app).get('/slow').set('Cookie', planted).then((r) => r);
    await new Promise((r) => setImmediate(r));
    await request(app).post('/login').set('Cookie', planted).send({}).expect(200);
    release();
    await inFlight;
    const revived = await new Promise((resolve) => store.get(idOf(planted), (_e, s) => resolve(s)));
    assert.ok(revived, 'the old id exists again in the store');
  });

  it('with the guard, the late save is refused, audited, and the old id stays dead', async () => {
    const { app, guard, audit, release } = appWithSlowRoute(true) as ReturnType<typeof buildApp> & { release: () => void };
    const planted = await anonymousCookie(app);
    const inFlight = https(request(app).get('/slow')).set('Cookie', planted).then((r) => r);
    await new Promise((r) => setTimeout(r, 20));
    const victim = setCookie(await loginWith(app, planted).expect(200)) as string;
    release();
    const late = await inFlight;
    // Its write was refused (the id ended under it): it is told so, never 200 for a lost write.
    assert.equal(late.status, 409, 'the in-flight request is told its session changed');
    assert.equal(late.body.error.code, 'SESSION_CONFLICT');
    assert.ok(isTombstone(await guard.store.readRaw(idOf(planted))));
    assert.equal(audit.of('resurrection_blocked').length, 1);
    await https(request(app).get('/me')).set('Cookie', planted).expect(401);
    await https(request(app).get('/me')).set('Cookie', victim).expect(200);
  });
});

describe('sessionGuard: the tripwire', () => {
  it('without the guard, writing req.session.user on a planted id authenticates the attacker (the attack works)', async () => {
    const app = express();
    app.use(express.json());
    app.use(session({ secret: SECRET, resave: false, saveUninitialized: false, name: 'sid' }));
    app.get('/', (req, res) => {
      req.session.visits = 1;
      res.json({});
    });
    app.post('/naive-login', (req, res) => {
      req.session.user = 'alice';
      res.json({});
    });
    app.get('/me', (req, res) => (req.session.user ? res.json({ user: req.session.user }) : res.sendStatus(401)));
    const planted = setCookie(await request(app).get('/').expect(200), 'sid') as string;
    await request(app).post('/naive-login').set('Cookie', planted).expect(200);
    const me = await request(app).get('/me').set('Cookie', planted).expect(200);
    assert.equal(me.body.user, 'alice');
  });

  it('with the guard, the same app bug destroys the session instead, and audits it', async () => {
    const { app, guard, audit } = buildApp({}, (a) => a.get('/whoami', (req, res) => res.json({ user: req.session?.user ?? null })));
    const planted = await anonymousCookie(app);
    const res = await https(request(app).post('/naive-login')).set('Cookie', planted).send({ username: 'alice' });
    assert.equal(res.status, 500, 'the app is told, instead of answering "logged in"');
    assert.equal(res.body.error.code, 'SESSION_FIXATION_TRIPWIRE');
    const whoami = await https(request(app).get('/whoami')).set('Cookie', planted).expect(200);
    assert.equal(whoami.body.user, null, 'the planted id carries no authentication');
    assert.ok(isTombstone(await guard.store.readRaw(idOf(planted))));
    assert.equal(audit.of('fixation_tripwire').length, 1);
  });

  it("an id the attacker logged in himself cannot be switched to the victim by an app writing req.session.user", async () => {
    const { app, audit } = buildApp({}, (a) => a.get('/whoami', (req, res) => res.json({ user: req.session?.user ?? null })));
    const attacker = setCookie(await loginWith(app, undefined, 'mallory').expect(200)) as string;
    // The victim, carrying the planted (mallory-authenticated) cookie, passes a legacy login route.
    const res = await https(request(app).post('/naive-login')).set('Cookie', attacker).send({ username: 'victim' });
    assert.equal(res.status, 500);
    assert.equal(res.body.error.code, 'SESSION_FIXATION_TRIPWIRE');
    const replay = await https(request(app).get('/whoami')).set('Cookie', attacker).expect(200);
    assert.equal(replay.body.user, null, "the attacker's cookie carries nobody");
    assert.equal(audit.of('fixation_tripwire')[0]?.reason, 'authentication changed to another principal without req.login()');
  });

  it('a second auth key naming another user trips as well (every authKeys path must name the bound principal)', async () => {
    const { app, audit } = buildApp({}, (a) => {
      a.post('/app-login', async (req, res) => {
        await guarded(req).login('mallory');
        req.session.user = { id: 'mallory' };
        res.json({ ok: true });
      });
      a.post('/legacy-login', (req, res) => {
        (req.session as unknown as Record<string, unknown>).userId = 'alice';
        res.json({ ok: true });
      });
      a.get('/inbox', (req, res) => res.json({ of: (req.session as unknown as Record<string, unknown> | undefined)?.userId ?? null }));
    });
    const planted = setCookie(await https(request(app).post('/app-login')).send({}).expect(200)) as string;
    const victim = await https(request(app).post('/legacy-login')).set('Cookie', planted).send({});
    assert.equal(victim.status, 500);
    const replay = await https(request(app).get('/inbox')).set('Cookie', planted).expect(200);
    assert.equal(replay.body.of, null);
    assert.equal(audit.of('fixation_tripwire').length, 1);
  });

  it('an authenticated record the guard never bound (written before it was adopted) is ended when presented, not served', async () => {
    const { app, guard, audit } = buildApp({}, (a) => a.get('/account', (req, res) => (req.session?.user ? res.json({ account: req.session.user }) : res.status(401).json({ error: 'login' }))));
    const legacyId = 'legacy-session-id-written-before-the-guard-000';
    await new Promise<void>((resolve, reject) =>
      guard.store.inner.set(legacyId, { cookie: { originalMaxAge: 3_600_000, expires: new Date(Date.now() + 3_600_000).toISOString(), httpOnly: true, path: '/' }, user: 'alice' } as never, (err) => (err ? reject(err) : resolve())),
    );
    const cookie = signedCookie(legacyId);
    for (let i = 0; i < 2; i++) await https(request(app).get('/account')).set('Cookie', cookie).expect(401);
    assert.equal(audit.of('fixation_tripwire').length, 1);
    assert.ok(isTombstone(await guard.store.readRaw(legacyId)));
  });

  it('an app object without id fields may be edited freely; pointing authKeys at its id path makes a swap trip', async () => {
    const routes = (a: express.Express) => {
      a.post('/app-login', async (req, res) => {
        await guarded(req).login('mallory');
        req.session.user = { uid: 'mallory', name: 'Mallory' };
        res.json({ ok: true });
      });
      a.post('/prefs', (req, res) => {
        (req.session.user as Record<string, unknown>).theme = 'dark';
        res.json({ ok: true });
      });
      a.post('/legacy-login', (req, res) => {
        req.session.user = { uid: 'alice', name: 'Alice' };
        res.json({ ok: true });
      });
    };
    const loose = buildApp({}, routes);
    const cookie = setCookie(await https(request(loose.app).post('/app-login')).send({}).expect(200)) as string;
    await https(request(loose.app).post('/prefs')).set('Cookie', cookie).send({}).expect(200);
    await https(request(loose.app).get('/me')).set('Cookie', cookie).expect(200);
    assert.equal(loose.audit.of('fixation_tripwire').length, 0, 'a theme change is not a change of principal');

    const strict = buildApp({ authKeys: ['user.uid', 'userId'] }, routes);
    const planted = setCookie(await https(request(strict.app).post('/app-login')).send({}).expect(200)) as string;
    await https(request(strict.app).post('/prefs')).set('Cookie', planted).send({}).expect(200);
    await https(request(strict.app).post('/legacy-login')).set('Cookie', planted).send({}).expect(500);
    assert.equal(strict.audit.of('fixation_tripwire').length, 1);
  });

  it('keys naming the same person in different forms (userId 42, user by email) keep the session alive', async () => {
    const { app, audit } = buildApp({}, (a) =>
      a.post('/email-login', async (req, res) => {
        await guarded(req).login('alice@example.com');
        (req.session as unknown as Record<string, unknown>).userId = 42;
        req.session.user = { email: 'alice@example.com', name: 'Alice' };
        res.json({ ok: true });
      }),
    );
    const cookie = setCookie(await https(request(app).post('/email-login')).send({}).expect(200)) as string;
    for (let i = 0; i < 2; i++) await https(request(app).get('/me')).set('Cookie', cookie).expect(200);
    await https(request(app).post('/cart')).set('Cookie', cookie).send({ item: 'x' }).expect(200);
    assert.equal(audit.of('fixation_tripwire').length, 0);
  });

  it('the app may keep its own user object beside req.login, naming the same principal, across requests', async () => {
    const { app, audit } = buildApp({}, (a) =>
      a.post('/profile', (req, res) => {
        req.session.user = { id: req.sessionGuard?.principal, name: 'Alice Liddell' };
        res.json({ ok: true });
      }),
    );
    const cookie = setCookie(await loginWith(app, undefined, 'alice').expect(200)) as string;
    await https(request(app).post('/profile')).set('Cookie', cookie).expect(200);
    await https(request(app).get('/me')).set('Cookie', cookie).expect(200);
    assert.equal(audit.of('fixation_tripwire').length, 0);
  });

  it('an explicit save of an unbound authenticated session fails with a clear error', async () => {
    const { app, audit } = buildApp();
    const planted = await anonymousCookie(app);
    const res = await https(request(app).post('/naive-login-save')).set('Cookie', planted).send({ username: 'alice' });
    assert.equal(res.status, 500);
    assert.equal(res.body.error.code, 'SESSION_FIXATION_TRIPWIRE');
    assert.match(res.body.error.message, /req\.login/);
    assert.equal(audit.of('fixation_tripwire').length, 1);
  });

  it('a session generated in the same request may be authenticated directly (its id is unknown to anyone)', async () => {
    const { app, audit } = buildApp({}, (a) =>
      a.post('/regenerate-login', (req, res, next) => {
        req.session.regenerate((err) => {
          if (err) return next(err);
          req.session.user = 'alice';
          req.session.save((e) => (e ? next(e) : res.json({ ok: true })));
        });
      }),
    );
    const planted = await anonymousCookie(app);
    const res = await https(request(app).post('/regenerate-login')).set('Cookie', planted).expect(200);
    const fresh = setCookie(res) as string;
    assert.notEqual(idOf(fresh), idOf(planted));
    const me = await https(request(app).get('/me')).set('Cookie', fresh).expect(200);
    assert.equal(me.body.user, 'alice');
    await https(request(app).get('/me')).set('Cookie', planted).expect(401);
    assert.equal(audit.of('fixation_tripwire').length, 0);
  });
});
