/**
 * Vulnerable apps whose flaw shows only with what a browser really sends: the victim's own
 * cookie where SameSite lets it go, no Referer, a login that keeps the id it was given without
 * a Set-Cookie, a login page that issues its own id. Each test shows the flaw by hand first,
 * then asserts that the suite fails the app.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type express from 'express';
import type { FixationAttackId, FixationAttackOptions, FixationReport } from '../../src/attack-suite/index.js';
import { ALICE, ATTACKER, USERS, attackApp, cookieOf, isUnboundCsrfToken, logIn, served, smallApp, unboundCsrfToken } from './support/small-apps.js';

declare module 'express-session' {
  interface SessionData {
    loginPage?: boolean;
  }
}

/** A small app parsing forms too; `sameSite: undefined` for a cookie without the attribute. */
function baseApp(opts: { sameSite?: 'lax' | 'strict' | 'none' | undefined; before?: (app: express.Express) => void } = {}): express.Express {
  return smallApp({ forms: true, sameSite: 'sameSite' in opts ? (opts.sameSite ?? 'unset') : 'lax', ...(opts.before ? { before: opts.before } : {}) });
}

const attack = (app: express.Express, only: FixationAttackId[], extra: Partial<FixationAttackOptions> = {}): Promise<FixationReport> => attackApp(app, only, extra);

const crossSiteNav = { referer: `${ATTACKER}/win-a-prize`, 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' };
const crossSiteForm = { origin: ATTACKER, ...crossSiteNav };

describe('attack suite, what a browser sends: login-csrf', () => {
  it("fails a GET login that needs an existing session ('enable cookies'): a top-level GET navigation carries the victim's SameSite=Lax cookie", async () => {
    const app = baseApp({ sameSite: 'lax' });
    app.all('/login', (req, res, next) => {
      const source = (req.method === 'GET' ? req.query : req.body ?? {}) as { username?: unknown; password?: unknown };
      if (req.method === 'GET' && source.username === undefined) return void res.send('the login page');
      // WordPress-style test-cookie check: a login without a session of this site is refused.
      if (!req.session.visits) return void res.status(400).send('Cookies are blocked or not supported by your browser.');
      logIn(req, res, next, source.username, source.password);
    });
    await served(app, async (url) => {
      const victim = cookieOf(await fetch(`${url}/`)); // the victim has browsed the site: a Lax cookie
      // A link on the attacker's page: a top-level cross-site GET, which sends Lax cookies (RFC 6265bis §5.6.7.1).
      const res = await fetch(`${url}/login?username=mallory&password=mallory-password`, { headers: { ...crossSiteNav, cookie: victim } });
      assert.equal(res.status, 204, "by hand: the link logs the victim's browser in");
      assert.equal((await fetch(`${url}/me`, { headers: { cookie: cookieOf(res) } })).status, 200);
    });
    const [result] = (await attack(app, ['login-csrf'])).results;
    assert.equal(result?.outcome, 'fail', `the suite passed it: ${result?.reason}`);
  });

  it("fails a form login that needs an existing session when the session cookie has no SameSite attribute (sent on a cross-site POST by Firefox/Safari, and by Chrome's Lax+POST)", async () => {
    const app = baseApp({ sameSite: undefined });
    app.post('/login', (req, res, next) => {
      if (!req.session.visits) return void res.status(400).send('Cookies are blocked or not supported by your browser.');
      const { username, password } = (req.body ?? {}) as { username?: unknown; password?: unknown };
      logIn(req, res, next, username, password);
    });
    await served(app, async (url) => {
      const first = await fetch(`${url}/`);
      assert.doesNotMatch(first.headers.get('set-cookie') ?? '', /samesite/i, 'the session cookie has no SameSite attribute');
      const res = await fetch(`${url}/login`, {
        method: 'POST',
        headers: { ...crossSiteForm, 'content-type': 'application/x-www-form-urlencoded', cookie: cookieOf(first) },
        body: 'username=mallory&password=mallory-password',
      });
      assert.equal(res.status, 204, "by hand: the attacker's auto-submitted form, with the victim's cookie, logs in");
      assert.equal((await fetch(`${url}/me`, { headers: { cookie: cookieOf(res) } })).status, 200);
    });
    const [result] = (await attack(app, ['login-csrf'], { loginEncoding: 'form' })).results;
    assert.equal(result?.outcome, 'fail', `the suite passed it: ${result?.reason}`);
  });

  it('fails a login whose only CSRF defence is a Referer check that lets a request without Referer through (the attacker sets referrerpolicy="no-referrer")', async () => {
    const app = baseApp();
    app.post('/login', (req, res, next) => {
      const referer = req.get('referer');
      if (referer && new URL(referer).host !== req.get('host')) return void res.status(403).send('cross-site login refused');
      const { username, password } = (req.body ?? {}) as { username?: unknown; password?: unknown };
      logIn(req, res, next, username, password);
    });
    await served(app, async (url) => {
      const { referer: _r, ...noReferer } = crossSiteForm;
      const res = await fetch(`${url}/login`, { method: 'POST', headers: { ...noReferer, 'content-type': 'application/x-www-form-urlencoded' }, body: 'username=mallory&password=mallory-password' });
      assert.equal(res.status, 204, 'by hand: a cross-site form with no Referer (Origin still sent) logs in');
      assert.equal((await fetch(`${url}/me`, { headers: { cookie: cookieOf(res) } })).status, 200);
    });
    const [result] = (await attack(app, ['login-csrf'])).results;
    assert.equal(result?.outcome, 'fail', `the suite passed it: ${result?.reason}`);
  });
});

describe('attack suite, what a browser sends: url-session-id', () => {
  it('fails a login that adopts ?connect.sid= from its URL but sets no cookie (same id, no maxAge): the suite only looks for a Set-Cookie', async () => {
    const app = baseApp({
      before: (a) =>
        // "Resume a cookie-less client's session at login": only on POST /login.
        a.post('/login', (req, _res, next) => {
          const sid = req.query['connect.sid'];
          if (typeof sid === 'string' && !req.headers.cookie) req.headers.cookie = `connect.sid=${encodeURIComponent(sid)}`;
          next();
        }),
    });
    app.post('/login', (req, res) => {
      const { username, password } = (req.body ?? {}) as { username?: unknown; password?: unknown };
      if (typeof username !== 'string' || USERS[username] !== password) return void res.status(401).end();
      req.session.user = username;
      res.status(204).end();
    });
    await served(app, async (url) => {
      const planted = cookieOf(await fetch(`${url}/`));
      const value = decodeURIComponent(planted.split('=')[1] ?? '');
      const login = await fetch(`${url}/login?connect.sid=${encodeURIComponent(value)}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(ALICE) });
      assert.equal(login.status, 204);
      assert.equal(login.headers.get('set-cookie'), null, 'the login set no cookie');
      assert.equal((await fetch(`${url}/me`, { headers: { cookie: planted } })).status, 200, "by hand: the id from the login's URL is now alice's");
    });
    const [result] = (await attack(app, ['url-session-id'])).results;
    assert.equal(result?.outcome, 'fail', `the suite passed it: ${result?.reason}`);
  });
});

describe('attack suite, what a browser sends: planted-id-survives-login', () => {
  it('fails an app whose login page issues a fresh id but whose login keeps the id it is sent: the attacker plants after the page loaded', async () => {
    const app = baseApp();
    app.get('/login', (req, res, next) =>
      req.session.regenerate((err) => {
        if (err) return next(err);
        req.session.loginPage = true;
        res.send(`<form method="post" action="/login"><input type="hidden" name="_csrf" value="${unboundCsrfToken()}"></form>`);
      }),
    );
    app.post('/login', (req, res) => {
      if (!isUnboundCsrfToken(req.body?._csrf)) return void res.status(403).end();
      const { username, password } = (req.body ?? {}) as { username?: unknown; password?: unknown };
      if (typeof username !== 'string' || USERS[username] !== password) return void res.status(401).end();
      req.session.user = username; // no regenerate
      res.status(204).end();
    });
    await served(app, async (url) => {
      const victimPage = await fetch(`${url}/login`);
      const t = /value="([^"]+)"/.exec(await victimPage.text())?.[1] ?? '';
      const planted = cookieOf(await fetch(`${url}/`)); // the attacker's id, tossed into the victim's browser after the page loaded
      const login = await fetch(`${url}/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: planted }, body: `username=alice&password=alice-password&_csrf=${t}` });
      assert.equal(login.status, 204);
      assert.equal((await fetch(`${url}/me`, { headers: { cookie: planted } })).status, 200, 'by hand: the planted id is now logged in');
    });
    const [result] = (await attack(app, ['planted-id-survives-login'], { loginEncoding: 'form', csrf: { from: 'input:_csrf' } })).results;
    assert.equal(result?.outcome, 'fail', `the suite passed it: ${result?.reason}`);
  });
});
