/**
 * The suite against small apps of shapes it was not written for: plain express-session apps
 * with one flaw each (or none), each shown by hand first where the flaw is the point. A
 * vulnerable app must fail, a protected one must not.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import signature from 'cookie-signature';
import express, { type RequestHandler } from 'express';
import type { FixationAttackId, FixationReport } from '../../src/attack-suite/index.js';
import { ALICE, MALLORY, SECRET, USERS, attackApp as attack, regenerateLogin, served, smallApp } from './support/small-apps.js';

const CORE: FixationAttackId[] = ['planted-id-survives-login', 'login-sets-new-id', 'pre-login-id-dead'];

/** A small app (JSON only); `sameSite: 'none'` for a cookie a cross-site fetch can leave (a browser drops a Lax or Strict one from its response). */
const sessionApp = (before?: (app: express.Express) => void, sameSite: 'lax' | 'none' = 'lax') => smallApp({ ...(before ? { before } : {}), sameSite });


declare module 'express-session' {
  interface SessionData {
    csrf?: string;
  }
}


/** The string fields of a `multipart/form-data` body (what a form with that enctype sends). */
const multipartFields: RequestHandler = (req, _res, next) => {
  const boundary = /boundary=([^;]+)/.exec(req.get('content-type') ?? '')?.[1];
  if (!req.is('multipart/form-data') || !boundary) return next();
  let raw = '';
  req.setEncoding('utf8');
  req.on('data', (chunk: string) => (raw += chunk));
  req.on('end', () => {
    const fields: Record<string, string> = {};
    for (const part of raw.split(`--${boundary}`)) {
      const m = /name="([^"]+)"\r\n\r\n([\s\S]*?)\r\n$/.exec(part);
      if (m) fields[m[1] as string] = m[2] as string;
    }
    req.body = fields;
    next();
  });
};

/** A CORS policy that echoes any Origin with credentials, allowing `allowHeaders` on a preflight. */
function echoCors(allowHeaders: string): RequestHandler {
  return (req, res, next) => {
    const origin = req.get('origin');
    if (origin) {
      res.setHeader('access-control-allow-origin', origin);
      res.setHeader('access-control-allow-credentials', 'true');
    }
    if (req.method === 'OPTIONS') {
      res.setHeader('access-control-allow-headers', allowHeaders);
      return void res.status(204).end();
    }
    next();
  };
}

const sameSiteOnly: RequestHandler = (req, res, next) => {
  const origin = req.get('origin');
  if (req.get('sec-fetch-site') === 'cross-site' || (origin !== undefined && origin !== `http://${req.get('host')}`)) return void res.status(403).end();
  next();
};

const outcome = (report: FixationReport, id: FixationAttackId) => report.results.find((r) => r.id === id)?.outcome;

function login(url: string, who: Record<string, string>, cookie?: string): Promise<Response> {
  return fetch(`${url}/login`, { method: 'POST', headers: { 'content-type': 'application/json', ...(cookie ? { cookie } : {}) }, body: JSON.stringify(who) });
}

describe('attack suite: apps it was not written for', () => {
  it('fails an app that rotates only an anonymous session at login: the attacker plants the cookie of his own logged-in session', async () => {
    const app = sessionApp();
    app.post('/login', sameSiteOnly, (req, res, next) => {
      const { username, password } = (req.body ?? {}) as { username?: string; password?: string };
      if (req.session.user && typeof username === 'string' && USERS[username] === password) {
        req.session.user = username; // "switch account" on the same id
        return void res.status(204).end();
      }
      regenerateLogin(req, res, next);
    });
    await served(app, async (url) => {
      const mallory = (await login(url, { username: 'mallory', password: 'mallory-password' })).headers.get('set-cookie')?.split(';')[0] ?? '';
      await login(url, ALICE, mallory);
      const me = (await (await fetch(`${url}/me`, { headers: { cookie: mallory } })).json()) as { user?: string };
      assert.equal(me.user, 'alice', "by hand: the attacker's cookie now opens alice's session");
    });
    const report = await attack(app);
    assert.equal(outcome(report, 'logged-in-id-survives-login'), 'fail');
    for (const id of CORE) assert.equal(outcome(report, id), 'pass', `${id}: a pre-login id is rotated`);
    assert.equal(report.summary.verdict, 'fail');
  });

  it('fails an app that takes the session id from ?session_id=, a name the library refuses in URLs', async () => {
    const app = sessionApp((a) =>
      a.use((req, _res, next) => {
        const id = req.query.session_id;
        if (typeof id === 'string' && !req.headers.cookie) req.headers.cookie = `connect.sid=${encodeURIComponent(id)}`;
        next();
      }),
    );
    app.post('/login', sameSiteOnly, regenerateLogin);
    const report = await attack(app, ['url-session-id', ...CORE]);
    assert.equal(outcome(report, 'url-session-id'), 'fail');
    assert.match(report.results.find((r) => r.id === 'url-session-id')?.reason ?? '', /\?session_id=/);
    assert.equal(report.summary.verdict, 'fail');
  });

  it('passes login-csrf on a JSON-only login without an Origin check: no form another site can send logs in', async () => {
    const app = sessionApp();
    app.post('/login', regenerateLogin);
    await served(app, async (url) => {
      const form = await fetch(`${url}/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'username=alice&password=alice-password' });
      const text = await fetch(`${url}/login`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify(ALICE) });
      assert.deepEqual([form.status, text.status], [401, 401], 'by hand: neither form encoding logs in');
    });
    const report = await attack(app, ['login-csrf', ...CORE]);
    assert.equal(outcome(report, 'login-csrf'), 'pass', report.results.find((r) => r.id === 'login-csrf')?.reason);
    assert.equal(report.summary.verdict, 'pass');
  });

  it('fails login-csrf on that login once it also parses text/plain as JSON, or its CORS policy lets another site send JSON with credentials', async () => {
    const lenient = sessionApp((a) => a.use(express.json({ type: ['application/json', 'text/plain'] })));
    lenient.post('/login', regenerateLogin);
    assert.match((await attack(lenient, ['login-csrf'])).results[0]?.reason ?? '', /text\/plain form carrying the JSON\) answered 204, and the session cookie #[0-9a-f]{8} the browser then holds opens/);

    const cors = sessionApp((a) => a.use(echoCors('content-type')), 'none');
    cors.post('/login', regenerateLogin);
    const [result] = (await attack(cors, ['login-csrf'])).results;
    assert.equal(result?.outcome, 'fail');
    assert.match(result?.reason ?? '', /a JSON fetch with credentials from Origin https:\/\/attacker\.invalid, which the CORS policy allows(, carrying the victim's own cookie)?\) answered 204/);
  });

  it('logs in to an SPA whose CSRF token comes from a JSON endpoint (json:csrfToken, sent back as X-CSRF-Token), and passes it', async () => {
    const app = sessionApp();
    app.get('/api/csrf-token', (req, res) => {
      req.session.csrf ??= randomBytes(16).toString('hex');
      res.json({ csrfToken: req.session.csrf });
    });
    app.use((req, res, next) => (req.method === 'POST' && (!req.session.csrf || req.get('x-csrf-token') !== req.session.csrf) ? void res.status(403).end() : next()));
    app.post('/login', regenerateLogin);
    await served(app, async (url) => {
      assert.equal((await login(url, ALICE)).status, 403, 'by hand: no token, no login');
    });
    const report = await attack(app, [...CORE, 'logged-in-id-survives-login'], { csrf: { from: 'json:csrfToken', page: '/api/csrf-token' } });
    assert.equal(report.summary.verdict, 'pass', JSON.stringify(report.results.map((r) => [r.id, r.outcome, r.reason])));
  });

  it('fails login-csrf on a JSON login that also takes multipart/form-data, which a form of another site can send', async () => {
    const app = sessionApp((a) => a.use(multipartFields));
    app.post('/login', regenerateLogin);
    const [result] = (await attack(app, ['login-csrf'])).results;
    assert.equal(result?.outcome, 'fail', result?.reason);
    assert.match(result?.reason ?? '', /a multipart form\) answered 204/);
  });

  it("sends the JSON login under a CORS grant as a page's fetch does (Sec-Fetch-Mode: cors), and passes a grant that does not allow Content-Type", async () => {
    // Fetch Metadata lets CORS-mode requests through to the CORS policy, which grants the attacker's site.
    const fetchMetadata: RequestHandler = (req, res, next) => (req.get('sec-fetch-site') === 'cross-site' && req.get('sec-fetch-mode') !== 'cors' ? void res.status(403).end() : next());
    const granted = sessionApp((a) => a.use(echoCors('content-type'), fetchMetadata), 'none');
    granted.post('/login', regenerateLogin);
    assert.equal((await attack(granted, ['login-csrf'])).results[0]?.outcome, 'fail');
    // A preflight that does not allow Content-Type: no browser sends the JSON.
    const narrow = sessionApp((a) => a.use(echoCors('authorization')), 'none');
    narrow.post('/login', regenerateLogin);
    const [result] = (await attack(narrow, ['login-csrf'])).results;
    assert.equal(result?.outcome, 'pass', result?.reason);
  });

  it('sends the cross-site login without the extra headers the suite was given: a required X-Requested-With keeps login-csrf out', async () => {
    const app = sessionApp((a) => a.use(express.urlencoded({ extended: false })));
    app.post('/login', (req, res, next) => (req.get('x-requested-with') === 'XMLHttpRequest' ? next() : void res.status(403).end()), regenerateLogin);
    const report = await attack(app, ['login-csrf', ...CORE], { loginEncoding: 'form', headers: { 'x-requested-with': 'XMLHttpRequest' } });
    assert.equal(outcome(report, 'login-csrf'), 'pass', report.results[0]?.reason);
    assert.equal(report.summary.verdict, 'pass', 'the suite itself logs in with the header');
  });

  it('fails an app that takes the bare session id (not the signed cookie value) from ?session_id=', async () => {
    const app = sessionApp((a) =>
      a.use((req, _res, next) => {
        const id = req.query.session_id;
        if (typeof id === 'string' && !req.headers.cookie) req.headers.cookie = `connect.sid=${encodeURIComponent(`s:${signature.sign(id, SECRET)}`)}`;
        next();
      }),
    );
    app.post('/login', sameSiteOnly, regenerateLogin);
    await served(app, async (url) => {
      const cookie = (await login(url, ALICE)).headers.get('set-cookie')?.split(';')[0] ?? '';
      const bare = decodeURIComponent(cookie.split('=')[1] ?? '').slice(2).split('.')[0] ?? '';
      assert.equal((await fetch(`${url}/me?session_id=${bare}`)).status, 200, 'by hand: the bare id in the URL opens the session');
    });
    assert.equal(outcome(await attack(app, ['url-session-id']), 'url-session-id'), 'fail');
  });

  it('fails, with a second account, an app that switches account on the same id only when another user logs in; with one account it says so', async () => {
    const app = sessionApp();
    app.post('/login', sameSiteOnly, (req, res, next) => {
      const { username, password } = (req.body ?? {}) as { username?: string; password?: string };
      if (req.session.user && req.session.user !== username && typeof username === 'string' && USERS[username] === password) {
        req.session.user = username; // switch account on the same id
        return void res.status(204).end();
      }
      regenerateLogin(req, res, next);
    });
    await served(app, async (url) => {
      const mallory = (await login(url, MALLORY)).headers.get('set-cookie')?.split(';')[0] ?? '';
      await login(url, ALICE, mallory);
      assert.deepEqual(await (await fetch(`${url}/me`, { headers: { cookie: mallory } })).json(), { user: 'alice' }, "by hand: mallory's planted cookie opens alice's session");
    });
    const two = (await attack(app, ['logged-in-id-survives-login'], { attackerLoginBody: MALLORY })).results[0];
    assert.equal(two?.outcome, 'fail', two?.reason);
    assert.match(two?.reason ?? '', /on the victim's account: the victim's login went into the attacker's session/);
    const one = (await attack(app, ['logged-in-id-survives-login'])).results[0];
    assert.equal(one?.outcome, 'pass');
    assert.match(one?.reason ?? '', /With one account, .* give `attackerLoginBody` \(a second account\)/);
  });

  it('does not fail an app that refuses a login on a logged-in session, by 409 or by a redirect, nor one that keeps the attacker his own session', async () => {
    const refusing = (answer: (res: express.Response) => void) => {
      const app = sessionApp();
      app.post('/login', (req, res, next) => (req.session.user ? answer(res) : regenerateLogin(req, res, next)));
      return app;
    };
    for (const app of [refusing((res) => void res.status(409).end()), refusing((res) => res.redirect(303, '/me'))]) {
      for (const extra of [{}, { attackerLoginBody: MALLORY }]) {
        const [result] = (await attack(app, ['logged-in-id-survives-login'], extra)).results;
        assert.equal(result?.outcome, 'not-applicable', `${JSON.stringify(extra)}: ${result?.reason}`);
      }
    }
    // A new session for the victim, the attacker's left as it was (a login never ends the session it came with).
    const keeps = sessionApp();
    keeps.post('/login', (req, res) => {
      const { username, password } = (req.body ?? {}) as { username?: string; password?: string };
      if (typeof username !== 'string' || USERS[username] !== password) return void res.status(401).end();
      req.sessionStore.generate(req);
      req.session.user = username;
      res.status(204).end();
    });
    const [kept] = (await attack(keeps, ['logged-in-id-survives-login'], { attackerLoginBody: MALLORY })).results;
    assert.equal(kept?.outcome, 'pass', kept?.reason);
  });
});
