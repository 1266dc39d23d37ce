/**
 * More apps of shapes the suite was not written for, around what a page of another site can
 * send and which names carry an id in a URL. Each test shows the flaw by hand first (or the
 * browser rule it rests on), then asserts the suite's verdict.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import express from 'express';
import type { FixationAttackId, FixationAttackOptions, FixationReport } from '../../src/attack-suite/index.js';
import { ALICE, ATTACKER, attackApp, cookieOf, isUnboundCsrfToken, logIn, regenerateLogin, served, smallApp, unboundCsrfToken, type SmallAppOptions } from './support/small-apps.js';

const baseApp = (options: Omit<SmallAppOptions, 'forms'> = {}) => smallApp(options);
const attack = (app: express.Express, only: FixationAttackId[], extra: Partial<FixationAttackOptions> = {}): Promise<FixationReport> => attackApp(app, only, extra);

const crossSiteForm = { origin: ATTACKER, referer: `${ATTACKER}/win-a-prize`, 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' };

describe('attack suite, more unseen apps: url-session-id', () => {
  it('fails an app that takes the session id from ?sessionId= (camelCase; rejectUrlSessionIds refuses it, names being case-insensitive)', async () => {
    const app = baseApp({
      before: (a) =>
        a.use((req, _res, next) => {
          const sid = req.query.sessionId;
          if (typeof sid === 'string' && !req.headers.cookie) req.headers.cookie = `connect.sid=${encodeURIComponent(sid)}`;
          next();
        }),
    });
    app.post('/login', regenerateLogin);
    await served(app, async (url) => {
      const victim = cookieOf(await fetch(`${url}/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(ALICE) }));
      const value = decodeURIComponent(victim.slice('connect.sid='.length));
      const byLink = await fetch(`${url}/me?sessionId=${encodeURIComponent(value)}`);
      assert.equal(byLink.status, 200, "by hand: a link with ?sessionId=<victim's cookie> opens the victim's session");
    });
    const [result] = (await attack(app, ['url-session-id'])).results;
    assert.equal(result?.outcome, 'fail', `false PASS: ${result?.reason}`);
  });
});

describe('attack suite, more unseen apps: login-csrf', () => {
  it('fails a JSON login with a nested body (Devise-style user[email]) that a form sends as user[...] fields (qs extended)', async () => {
    const app = baseApp({ before: (a) => a.use(express.urlencoded({ extended: true })) });
    app.post('/login', (req, res, next) => {
      const user = (req.body ?? {}).user as { name?: unknown; password?: unknown } | undefined;
      logIn(req, res, next, user?.name, user?.password);
    });
    await served(app, async (url) => {
      const form = await fetch(`${url}/login`, {
        method: 'POST',
        headers: { ...crossSiteForm, 'content-type': 'application/x-www-form-urlencoded' },
        body: 'user%5Bname%5D=mallory&user%5Bpassword%5D=mallory-password',
      });
      assert.equal(form.status, 204, "by hand: the attacker's form logs in from another site");
      assert.equal((await fetch(`${url}/me`, { headers: { cookie: cookieOf(form) } })).status, 200);
    });
    const [result] = (await attack(app, ['login-csrf'], { loginBody: { user: { name: 'alice', password: 'alice-password' } } })).results;
    assert.equal(result?.outcome, 'fail', `false PASS: ${result?.reason}`);
  });

  it('fails a login whose CSRF token is bound to no session: the attacker reads one on his own visit and puts it in his form', async () => {
    const app = baseApp({ before: (a) => a.use(express.urlencoded({ extended: false })) });
    app.get('/login', (_req, res) => void res.send(`<form method="post" action="/login"><input type="hidden" name="_csrf" value="${unboundCsrfToken()}"></form>`));
    app.post('/login', (req, res, next) => {
      if (!isUnboundCsrfToken(req.body?._csrf)) return void res.status(403).end();
      regenerateLogin(req, res, next);
    });
    await served(app, async (url) => {
      const page = await (await fetch(`${url}/login`)).text();
      const t = /value="([^"]+)"/.exec(page)?.[1] ?? '';
      const form = await fetch(`${url}/login`, {
        method: 'POST',
        headers: { ...crossSiteForm, 'content-type': 'application/x-www-form-urlencoded' },
        body: `username=mallory&password=mallory-password&_csrf=${t}`,
      });
      assert.equal(form.status, 204, "by hand: the attacker's form with a token from his own visit logs in from another site, no cookie");
      assert.equal((await fetch(`${url}/me`, { headers: { cookie: cookieOf(form) } })).status, 200);
    });
    const [result] = (await attack(app, ['login-csrf'], { loginEncoding: 'form', csrf: { from: 'input:_csrf' } })).results;
    assert.equal(result?.outcome, 'fail', `false PASS: ${result?.reason}`);
  });

  it('fails a JSON login whose CORS allowlist has the "null" origin (a sandboxed iframe of the attacker) with credentials', async () => {
    const app = baseApp({
      sameSite: 'none',
      before: (a) =>
        a.use((req, res, next) => {
          const origin = req.get('origin');
          if (origin === 'null' || origin === 'http://app.example') {
            res.setHeader('access-control-allow-origin', origin);
            res.setHeader('access-control-allow-credentials', 'true');
            res.setHeader('access-control-allow-headers', 'content-type');
          }
          if (req.method === 'OPTIONS') return void res.status(204).end();
          // Everything else cross-site is refused unless the CORS policy trusts the origin.
          if (origin !== undefined && origin !== 'null' && origin !== 'http://app.example' && origin !== `http://${req.get('host')}`) return void res.status(403).end();
          next();
        }),
    });
    app.post('/login', regenerateLogin);
    await served(app, async (url) => {
      const pre = await fetch(`${url}/login`, { method: 'OPTIONS', headers: { origin: 'null', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } });
      assert.equal(pre.headers.get('access-control-allow-origin'), 'null');
      assert.equal(pre.headers.get('access-control-allow-credentials'), 'true');
      const json = await fetch(`${url}/login`, { method: 'POST', headers: { origin: 'null', 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'cors', 'content-type': 'application/json' }, body: JSON.stringify({ username: 'mallory', password: 'mallory-password' }) });
      assert.equal(json.status, 204, 'by hand: a sandboxed iframe (Origin: null) sends the JSON login with credentials');
      assert.equal((await fetch(`${url}/me`, { headers: { cookie: cookieOf(json) } })).status, 200);
    });
    const [result] = (await attack(app, ['login-csrf'])).results;
    assert.equal(result?.outcome, 'fail', `false PASS: ${result?.reason}`);
  });

  it('does not fail a JSON login under a CORS grant whose cookie is SameSite=Lax/Strict: a browser ignores that Set-Cookie on a cross-site fetch (RFC 6265bis §5.7, not a top-level navigation)', async () => {
    // The only way in is the CORS fetch: forms and text/plain are refused (415 on anything but JSON).
    for (const sameSite of ['lax', 'strict'] as const) {
      const app = baseApp({
        sameSite,
        before: (a) =>
          a.use((req, res, next) => {
            const origin = req.get('origin');
            if (origin) {
              res.setHeader('access-control-allow-origin', origin);
              res.setHeader('access-control-allow-credentials', 'true');
            }
            if (req.method === 'OPTIONS') {
              res.setHeader('access-control-allow-headers', 'content-type');
              return void res.status(204).end();
            }
            if (req.method === 'POST' && !req.is('application/json')) return void res.status(415).end();
            next();
          }),
      });
      app.post('/login', regenerateLogin);
      await served(app, async (url) => {
        const json = await fetch(`${url}/login`, { method: 'POST', headers: { origin: ATTACKER, 'content-type': 'application/json' }, body: JSON.stringify(ALICE) });
        assert.match(json.headers.get('set-cookie') ?? '', new RegExp(`SameSite=${sameSite}`, 'i'), 'the cookie a cross-site fetch response would have to set');
      });
      const [result] = (await attack(app, ['login-csrf'])).results;
      assert.notEqual(result?.outcome, 'fail', `false FAIL (SameSite=${sameSite}): ${result?.reason}`);
    }
  });
});

describe('attack suite, more unseen apps: the second account through the CLI', () => {
  it('refuses --attacker-username/--attacker-password for a login whose fields are not username and password (the victim’s fields would stay), naming --attacker-login-body', async () => {
    const args = ['--import', 'tsx', 'src/attack-suite/cli.ts', 'attack', 'http://127.0.0.1:9', '--login-field', 'user=alice', '--login-field', 'pass=alice-password', '--attacker-username', 'mallory', '--attacker-password', 'mallory-password'];
    const child = spawn(process.execPath, args, { cwd: new URL('../..', import.meta.url).pathname });
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c));
    const code = await new Promise((resolve) => child.once('close', resolve));
    assert.equal(code, 2, err);
    assert.match(err, /--attacker-username\/--attacker-password replace the fields username and password, and this login has others: give the second account as --attacker-login-body/);
  });
});

describe('attack suite, more unseen apps: a login by GET', () => {
  it('fails login-csrf on a login that also takes its fields from the query: a link of another site logs the victim in', async () => {
    const app = baseApp();
    app.all('/login', (req, res, next) => {
      const source = (req.method === 'GET' ? req.query : req.body ?? {}) as { username?: unknown; password?: unknown };
      if (req.method === 'GET' && source.username === undefined) return void res.send('the login page');
      logIn(req, res, next, source.username, source.password);
    });
    await served(app, async (url) => {
      const res = await fetch(`${url}/login?username=alice&password=alice-password`, { headers: { referer: `${ATTACKER}/x`, 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate' } });
      assert.equal((await fetch(`${url}/me`, { headers: { cookie: cookieOf(res) } })).status, 200, 'by hand: the link logs in');
    });
    const [result] = (await attack(app, ['login-csrf'])).results;
    assert.equal(result?.outcome, 'fail', result?.reason);
    assert.match(result?.reason ?? '', /^GET \/login from another site \(Sec-Fetch-Site: cross-site, a GET navigation carrying the fields in the query, carrying the victim's own cookie\) answered 204/);
  });
});

describe('attack suite, more unseen apps: id-entropy', () => {
  const entropyOf = async (genid: () => string, failOn?: FixationAttackOptions['failOn']) => {
    const app = baseApp({ genid });
    app.post('/login', regenerateLogin);
    return attack(app, ['id-entropy'], { entropySamples: 64, ...(failOn ? { failOn } : {}) });
  };

  it("takes UUIDv4 ids (express-session's README genid) for a hardening finding: not guessable, but below ASVS 5.0's 128 bits", async () => {
    const report = await entropyOf(() => randomUUID());
    const [result] = report.results;
    assert.equal(result?.outcome, 'fail', `ASVS 5.0 asks for 128 bits: ${result?.reason}`);
    assert.deepEqual([result?.class, result?.severity], ['hardening', 'medium'], result?.reason);
    assert.match(result?.reason ?? '', /not guessable.*below the 128 bits ASVS 5\.0 asks for/);
    assert.equal(report.summary.verdict, 'pass', 'a hardening finding does not fail a run with the default --fail-on fixation');
    assert.equal((await entropyOf(() => randomUUID(), 'hardening')).summary.verdict, 'fail', 'it fails one with --fail-on hardening');
  });

  it('takes 48 random bits for guessable ids (fixation), and 24 random bytes for a pass', async () => {
    const weak = (await entropyOf(() => randomBytes(6).toString('hex'))).results[0];
    assert.deepEqual([weak?.outcome, weak?.class, weak?.severity], ['fail', 'fixation', 'high'], weak?.reason);
    assert.match(weak?.reason ?? '', /^Session ids are guessable: about \d+ bits of entropy, below 64\.$/, 'random ids, not read as a counter');
    const strong = (await entropyOf(() => randomBytes(24).toString('base64url'))).results[0];
    assert.equal(strong?.outcome, 'pass', strong?.reason);
  });
});
