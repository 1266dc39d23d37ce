import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import express, { type NextFunction, type Request, type Response } from 'express';
import session from 'express-session';
import { Auditor, memorySink, rejectCookieTossing } from '../../src/index.js';
import { anonymousCookie, buildApp, https, idOf, loginWith, request, SECRET, setCookie } from '../helpers.js';

function setCookieLines(res: request.Response): string[] {
  return (res.headers['set-cookie'] as unknown as string[] | undefined) ?? [];
}

/** `Domain` (or `host-only`) and `Path` of each clearing Set-Cookie line, in order. */
function clearedScopes(res: request.Response): string[] {
  return setCookieLines(res).map((line) => `${/; Domain=([^;]*)/.exec(line)?.[1] ?? 'host-only'} ${/; Path=([^;]*)/.exec(line)?.[1]}`);
}

/**
 * A browser's cookie jar, reduced to what decides whether a clear reaches a cookie: a cookie is
 * named by (name, domain, path), and a host-only cookie is not the same cookie as one with
 * `Domain=<host>` (Chromium keeps the two apart). An expiring Set-Cookie removes its match.
 */
class BrowserJar {
  readonly cookies = new Map<string, string>();

  constructor(readonly host: string) {}

  set(line: string): void {
    const [pair = '', ...attributes] = line.split(';').map((part) => part.trim());
    const name = pair.slice(0, pair.indexOf('='));
    const attribute = (key: string) => attributes.find((a) => a.toLowerCase().startsWith(`${key.toLowerCase()}=`))?.split('=')[1];
    const domain = attribute('Domain');
    // A Domain must domain-match the host that sent it; anything else is ignored by the browser.
    if (domain !== undefined && domain !== this.host && !this.host.endsWith(`.${domain}`)) return;
    const key = `${name} ${domain === undefined ? this.host : `.${domain}`} ${attribute('Path') ?? '/'}`;
    if (attribute('Max-Age') === '0') this.cookies.delete(key);
    else this.cookies.set(key, pair);
  }
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

  it('for a plain cookie name, clears the cookie for / and for every prefix of the request path, keeping Secure and SameSite', async () => {
    const { app } = buildApp({ cookie: { name: 'app.sid' } });
    const res = await https(request(app).get('/account/settings/email')).set('Cookie', 'app.sid=a; app.sid=b').expect(400);
    const clears = setCookieLines(res);
    const paths = clears.map((line) => /; Path=([^;]*)/.exec(line)?.[1]);
    assert.deepEqual(paths, ['/', '/account', '/account/settings', '/account/settings/email']);
    for (const line of clears) {
      assert.match(line, /^app\.sid=; /);
      assert.match(line, /Max-Age=0/);
      assert.match(line, /Expires=Thu, 01 Jan 1970 00:00:00 GMT/);
      assert.match(line, /; Secure/);
      assert.match(line, /HttpOnly/);
      assert.match(line, /SameSite=Lax/);
    }
  });

  it('clears at most a bounded number of paths for a very deep URL', async () => {
    const { app } = buildApp({ cookie: { name: 'app.sid' } });
    const deep = `/${Array.from({ length: 40 }, (_, i) => `d${i}`).join('/')}`;
    const res = await https(request(app).get(deep)).set('Cookie', 'app.sid=a; app.sid=b').expect(400);
    assert.equal(setCookieLines(res).length, 8);
  });

  it('for a plain cookie name, also clears Domain=<host> and every parent domain of the Host, for each path', async () => {
    const { app } = buildApp({ cookie: { name: 'app.sid' } });
    const res = await https(request(app).get('/a/b')).set('Host', 'app.example.com:8443').set('Cookie', 'app.sid=a; app.sid=b').expect(400);
    assert.deepEqual(clearedScopes(res), [
      'host-only /',
      'example.com /',
      'app.example.com /',
      'host-only /a',
      'example.com /a',
      'app.example.com /a',
      'host-only /a/b',
      'example.com /a/b',
      'app.example.com /a/b',
    ]);
    for (const line of setCookieLines(res)) {
      assert.match(line, /^app\.sid=; /);
      assert.match(line, /Max-Age=0/);
      assert.match(line, /; Secure/);
      assert.match(line, /SameSite=Lax/);
    }
  });

  it('a cookie planted from a sibling subdomain (Domain=example.com, a narrower Path) does not survive the refusal', async () => {
    const events = memorySink();
    const app = express();
    app.use(rejectCookieTossing({ cookieName: 'sid', audit: new Auditor({ sinks: [events] }) }));
    app.get('/account/settings', (_req, res) => res.json({ ok: true }));
    app.use((err: { status?: number }, _req: Request, res: Response, _next: NextFunction) => res.status(err.status ?? 500).end());
    const browser = new BrowserJar('app.example.com');
    browser.set('sid=victim; Path=/; HttpOnly');
    // Set by evil.example.com: it reaches app.example.com, and its longer Path puts it first.
    browser.set('sid=planted; Domain=example.com; Path=/account');
    assert.equal(browser.cookies.size, 2);
    const res = await request(app).get('/account/settings').set('Host', 'app.example.com').set('Cookie', 'sid=planted; sid=victim').expect(400);
    for (const line of setCookieLines(res)) browser.set(line);
    assert.deepEqual([...browser.cookies.values()], [], 'both copies are gone: the next login is not tossed again');
    assert.equal(events.of('cookie_tossing').length, 1);
  });

  it('clears no Domain variant for an IP address, localhost, or a Host that is not a DNS name', async () => {
    const { app } = buildApp({ cookie: { name: 'app.sid' } });
    for (const host of ['192.168.1.20', '192.168.1.20:8080', 'localhost:3000', 'localhost', '[::1]:3000', 'app.example.com;Domain=evil.com', 'app..example.com']) {
      const res = await https(request(app).get('/a')).set('Host', host).set('Cookie', 'app.sid=a; app.sid=b').expect(400);
      assert.deepEqual(clearedScopes(res), ['host-only /', 'host-only /a'], host);
    }
  });

  it('never copies a `;` from the request path into a clear (no attribute injection through the URL)', async () => {
    const { app } = buildApp({ cookie: { name: 'app.sid' } });
    const res = await https(request(app).get('/a;Domain=evil.com;Max-Age=999/b')).set('Cookie', 'app.sid=a; app.sid=b').expect(400);
    assert.deepEqual(clearedScopes(res), ['host-only /', 'host-only /a']);
    for (const line of setCookieLines(res)) assert.doesNotMatch(line, /evil|999/);
  });

  it('keeps the number of clears bounded (16) for a deep Host and a deep path, shallowest paths and broadest domains first', async () => {
    const { app } = buildApp({ cookie: { name: 'app.sid' } });
    const res = await https(request(app).get('/p1/p2/p3/p4/p5/p6/p7/p8/p9'))
      .set('Host', 'a.b.c.d.e.example.com')
      .set('Cookie', 'app.sid=a; app.sid=b')
      .expect(400);
    const scopes = clearedScopes(res);
    assert.equal(scopes.length, 16);
    assert.ok(scopes.includes('example.com /'));
    assert.ok(scopes.includes('host-only /'));
    assert.ok(scopes.includes('example.com /p1'));
  });

  it('for a __Host- name, sends exactly one host-only clear for Path=/ (browsers refuse any other Domain or Path for it)', async () => {
    const { app } = buildApp();
    const { mallory, alice } = await twoSessions(app);
    const res = await https(request(app).get('/account/settings/email')).set('Host', 'app.example.com').set('Cookie', `${mallory}; ${alice}`).expect(400);
    const clears = setCookieLines(res);
    assert.equal(clears.length, 1);
    assert.equal(clears[0], '__Host-sid=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Secure; SameSite=Lax');
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
