/**
 * The suite against small apps of shapes it was not written for: plain express-session apps
 * with one flaw each (or none), each shown by hand first where the flaw is the point. A
 * vulnerable app must fail, a protected one must not.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import express, { type RequestHandler } from 'express';
import session from 'express-session';
import { runFixationAttacks, type FixationAttackId, type FixationAttackOptions, type FixationReport } from '../../src/attack-suite/index.js';

const USERS: Record<string, string> = { alice: 'alice-password', mallory: 'mallory-password' };
const ALICE = { username: 'alice', password: 'alice-password' };
const CORE: FixationAttackId[] = ['planted-id-survives-login', 'login-sets-new-id', 'pre-login-id-dead'];

/** express-session, a start page that writes to the session, /me; `before` runs ahead of the session. */
function sessionApp(before?: (app: express.Express) => void): express.Express {
  const app = express();
  before?.(app);
  app.use(session({ secret: 'unseen-apps-secret-0123456789abcdef', resave: false, saveUninitialized: false, cookie: { httpOnly: true, sameSite: 'lax' } }));
  app.use(express.json());
  app.get('/', (req, res) => {
    req.session.visits = (req.session.visits ?? 0) + 1;
    res.send('home');
  });
  app.get('/me', (req, res) => (req.session.user ? void res.json({ user: req.session.user }) : void res.status(401).json({ error: 'login' })));
  app.post('/logout', (req, res, next) => req.session.destroy((err) => (err ? next(err) : void res.clearCookie('connect.sid').status(204).end())));
  return app;
}

declare module 'express-session' {
  interface SessionData {
    visits?: number;
    csrf?: string;
  }
}

const sameSiteOnly: RequestHandler = (req, res, next) => {
  const origin = req.get('origin');
  if (req.get('sec-fetch-site') === 'cross-site' || (origin !== undefined && origin !== `http://${req.get('host')}`)) return void res.status(403).end();
  next();
};

/** The careful login: regenerate, then authenticate. */
const regenerateLogin: RequestHandler = (req, res, next) => {
  const { username, password } = (req.body ?? {}) as { username?: unknown; password?: unknown };
  if (typeof username !== 'string' || USERS[username] !== password) return void res.status(401).end();
  req.session.regenerate((err) => {
    if (err) return next(err);
    req.session.user = username;
    res.status(204).end();
  });
};

async function served<T>(app: express.Express, run: (url: string) => Promise<T>): Promise<T> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  try {
    return await run(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

function attack(app: express.Express, only?: FixationAttackId[], extra: Partial<FixationAttackOptions> = {}): Promise<FixationReport> {
  return served(app, (url) => runFixationAttacks(url, { loginBody: ALICE, entropySamples: 16, ...(only ? { only } : {}), ...extra }));
}

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
    assert.match((await attack(lenient, ['login-csrf'])).results[0]?.reason ?? '', /text\/plain form carrying the JSON\) answered 204 with the session cookie/);

    const cors = sessionApp((a) =>
      a.use((req, res, next) => {
        // A CORS policy that echoes any Origin, with credentials.
        if (req.get('origin')) {
          res.setHeader('access-control-allow-origin', req.get('origin') as string);
          res.setHeader('access-control-allow-credentials', 'true');
        }
        if (req.method === 'OPTIONS') {
          res.setHeader('access-control-allow-headers', 'content-type');
          return void res.status(204).end();
        }
        next();
      }),
    );
    cors.post('/login', regenerateLogin);
    const [result] = (await attack(cors, ['login-csrf'])).results;
    assert.equal(result?.outcome, 'fail');
    assert.match(result?.reason ?? '', /a JSON fetch with credentials, which the CORS policy allows from that site\) answered 204/);
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
});
