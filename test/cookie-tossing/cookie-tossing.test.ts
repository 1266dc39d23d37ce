import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import express, { type NextFunction, type Request, type Response } from 'express';
import session from 'express-session';
import { Auditor, memorySink, rejectCookieTossing } from '../../src/index.js';
import { anonymousCookie, buildApp, https, idOf, loginWith, request, SECRET, setCookie } from '../helpers.js';

function setCookieLines(res: request.Response): string[] {
  return (res.headers['set-cookie'] as unknown as string[] | undefined) ?? [];
}

/** The attacker (mallory) and the victim (alice) each hold a real, authenticated session. */
async function twoSessions(app: express.Express) {
  const mallory = setCookie(await loginWith(app, undefined, 'mallory').expect(200)) as string;
  const alice = setCookie(await loginWith(app, undefined, 'alice').expect(200)) as string;
  return { mallory, alice };
}

describe('rejectCookieTossing', () => {
  it("with the check off, a tossed cookie placed first wins: the victim's requests run in the attacker's session (the attack works)", async () => {
    const { app } = buildApp({ cookieTossing: false });
    const { mallory, alice } = await twoSessions(app);
    // A sibling subdomain set mallory's cookie on a narrower Path: the browser sends it first.
    const res = await https(request(app).get('/me')).set('Cookie', `${mallory}; ${alice}`).expect(200);
    assert.equal(res.body.user, 'mallory', 'the victim is now acting as the attacker');
  });

  it('with the check on, the request is refused (400 SESSION_COOKIE_TOSSING), never resolved to either session, and audited', async () => {
    const { app, audit } = buildApp();
    const { mallory, alice } = await twoSessions(app);
    const res = await https(request(app).get('/me')).set('Cookie', `${mallory}; ${alice}`).expect(400);
    assert.equal(res.body.error.code, 'SESSION_COOKIE_TOSSING');
    assert.equal(res.headers['cache-control'], 'no-store');
    const events = audit.of('cookie_tossing');
    assert.equal(events.length, 1);
    assert.equal(events[0]?.reason, 'rejected');
    assert.deepEqual(events[0]?.detail, { copies: 2, path: '/me' });
    assert.equal(audit.of('login').length, 2, 'no session was loaded for the tossed request');
  });

  it('cookieTossing: true means on with the defaults (as in helmet)', async () => {
    const { app } = buildApp({ cookieTossing: true });
    await https(request(app).get('/me')).set('Cookie', '__Host-sid=a; __Host-sid=b').expect(400);
  });

  it('clears the cookie for / and for every prefix of the request path, with the attributes __Host- needs', async () => {
    const { app } = buildApp();
    const { mallory, alice } = await twoSessions(app);
    const res = await https(request(app).get('/account/settings/email')).set('Cookie', `${mallory}; ${alice}`).expect(400);
    const clears = setCookieLines(res);
    const paths = clears.map((line) => /; Path=([^;]*)/.exec(line)?.[1]);
    assert.deepEqual(paths, ['/', '/account', '/account/settings', '/account/settings/email']);
    for (const line of clears) {
      assert.match(line, /^__Host-sid=; /);
      assert.match(line, /Max-Age=0/);
      assert.match(line, /Expires=Thu, 01 Jan 1970 00:00:00 GMT/);
      assert.match(line, /; Secure/);
      assert.match(line, /HttpOnly/);
    }
  });

  it('clears at most a bounded number of paths for a very deep URL', async () => {
    const { app } = buildApp();
    const deep = `/${Array.from({ length: 40 }, (_, i) => `d${i}`).join('/')}`;
    const res = await https(request(app).get(deep)).set('Cookie', '__Host-sid=a; __Host-sid=b').expect(400);
    assert.equal(setCookieLines(res).length, 8);
  });

  it('both sessions survive server-side: after clearing, each owner signs in again with a single cookie', async () => {
    const { app } = buildApp();
    const { mallory, alice } = await twoSessions(app);
    await https(request(app).get('/me')).set('Cookie', `${mallory}; ${alice}`).expect(400);
    assert.equal((await https(request(app).get('/me')).set('Cookie', alice).expect(200)).body.user, 'alice');
  });

  it('refuses duplicates even when neither copy is validly signed (no session is ever loaded)', async () => {
    const { app, audit } = buildApp();
    await https(request(app).get('/')).set('Cookie', '__Host-sid=garbage; other=1; __Host-sid=more-garbage').expect(400);
    assert.equal(audit.of('cookie_tossing')[0]?.detail?.copies, 2);
    assert.equal(audit.of('unknown_session_id').length, 0);
  });

  it('lets a single session cookie through, beside other cookies and look-alike names', async () => {
    const { app, audit } = buildApp();
    const alice = setCookie(await loginWith(app, undefined).expect(200)) as string;
    await https(request(app).get('/me')).set('Cookie', `sid=x; __host-sid=y; __Host-sidx=z; ${alice}; theme=dark`).expect(200);
    assert.equal(audit.of('cookie_tossing').length, 0);
  });

  it("with action 'ignore', proceeds with no session at all, still clears both copies and audits", async () => {
    const { app, audit } = buildApp({ cookieTossing: { action: 'ignore' } });
    const { mallory, alice } = await twoSessions(app);
    const me = await https(request(app).get('/me')).set('Cookie', `${mallory}; ${alice}`).expect(401);
    assert.equal(me.body.error.code, 'UNAUTHENTICATED');
    assert.ok(setCookieLines(me).some((line) => line.startsWith('__Host-sid=; Path=/;')));
    assert.equal(audit.of('cookie_tossing')[0]?.reason, 'ignored');
    assert.equal(audit.of('session_cookie_tampered').length, 0, 'two valid copies are tossing, not tampering');
    // A request that writes to the session gets a fresh id, neither of the two.
    const visit = await https(request(app).get('/')).set('Cookie', `${mallory}; ${alice}`).expect(200);
    assert.deepEqual(visit.body, { visits: 1 });
    const fresh = setCookie(visit) as string;
    assert.ok(fresh);
    assert.notEqual(idOf(fresh), idOf(mallory));
    assert.notEqual(idOf(fresh), idOf(alice));
    const lines = setCookieLines(visit);
    const freshIndex = lines.findIndex((line) => line.startsWith(`${fresh};`));
    const lastClear = lines.findLastIndex((line) => line.startsWith('__Host-sid=;'));
    assert.ok(freshIndex > lastClear, 'the new cookie comes after the clears, so the browser keeps it');
  });

  it('a planted anonymous cookie beside the victim cookie is refused too (classic tossing before login)', async () => {
    const { app } = buildApp();
    const planted = await anonymousCookie(app);
    const victim = await anonymousCookie(app);
    const res = await loginWith(app, `${planted}; ${victim}`).expect(400);
    assert.equal(res.body.error.code, 'SESSION_COOKIE_TOSSING');
    await https(request(app).get('/me')).set('Cookie', planted).expect(401);
  });

  describe('used on its own, with plain express-session', () => {
    function standalone(options: Parameters<typeof rejectCookieTossing>[0], mount = true) {
      const app = express();
      if (mount) app.use(rejectCookieTossing(options));
      app.use(session({ secret: SECRET, resave: false, saveUninitialized: false, name: 'app.sid' }));
      app.get('/', (req, res) => {
        req.session.visits = (req.session.visits ?? 0) + 1;
        res.json({ visits: req.session.visits });
      });
      app.use((err: { status?: number; code?: string }, _req: Request, res: Response, _next: NextFunction) => {
        res.status(err.status ?? 500).json({ code: err.code });
      });
      return app;
    }

    async function twoVisitors(app: express.Express): Promise<[string, string]> {
      const first = setCookie(await request(app).get('/').expect(200), 'app.sid') as string;
      await request(app).get('/').set('Cookie', first).expect(200);
      const second = setCookie(await request(app).get('/').expect(200), 'app.sid') as string;
      return [first, second];
    }

    it('without it, express-session resolves the duplicate header to the first cookie (the attack works)', async () => {
      const app = standalone({ cookieName: 'app.sid' }, false);
      const [attacker, victim] = await twoVisitors(app);
      const res = await request(app).get('/').set('Cookie', `${attacker}; ${victim}`).expect(200);
      assert.deepEqual(res.body, { visits: 3 }, "the request counted in the attacker's session");
    });

    it('with it, the duplicate is refused with a 400 SessionGuardError through next(), cleared without Secure for a plain name, and audited', async () => {
      const events = memorySink();
      const app = standalone({ cookieName: 'app.sid', audit: new Auditor({ sinks: [events] }) });
      const [attacker, victim] = await twoVisitors(app);
      const res = await request(app).get('/').set('Cookie', `${attacker}; ${victim}`).expect(400);
      assert.deepEqual(res.body, { code: 'SESSION_COOKIE_TOSSING' });
      const clears = setCookieLines(res);
      assert.equal(clears.length, 1);
      assert.match(clears[0] as string, /^app\.sid=; Path=\/; /);
      assert.doesNotMatch(clears[0] as string, /Secure/);
      assert.equal(events.of('cookie_tossing').length, 1);
      await request(app).get('/').set('Cookie', victim).expect(200);
    });

    it("with action 'ignore', express-session sees no session cookie at all", async () => {
      const app = standalone({ cookieName: 'app.sid', action: 'ignore' });
      const [attacker, victim] = await twoVisitors(app);
      const res = await request(app).get('/').set('Cookie', `${attacker}; theme=dark; ${victim}`).expect(200);
      assert.deepEqual(res.body, { visits: 1 }, 'a fresh session, not either of the two');
    });

    it('refuses invalid options at construction', () => {
      assert.throws(() => rejectCookieTossing(undefined as never), {
        name: 'TypeError',
        message: 'rejectCookieTossing: options must be an object with `cookieName`; got undefined',
      });
      assert.throws(() => rejectCookieTossing({} as never), {
        name: 'TypeError',
        message: "rejectCookieTossing: `cookieName` must be the session cookie's name; got undefined",
      });
      assert.throws(() => rejectCookieTossing({ cookieName: 'sid', action: 'drop' as never }), {
        name: 'Error',
        message: "rejectCookieTossing: `action` must be 'reject' or 'ignore'; got \"drop\"",
      });
    });
  });
});
