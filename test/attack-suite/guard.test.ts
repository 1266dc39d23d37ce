import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import express from 'express';
import { runFixationAttacks } from '../../src/attack-suite/index.js';
import { attackIds as outcomes } from './support/apps.js';
import { ManualClock, requireAuth, sessionGuard, type SessionGuardOptions, authenticated, guarded } from '../../src/index.js';
import { createLoginApp } from '../../examples/shared/login-app.js';

const loginBody = { username: 'alice', password: 'alice-password' };

function exampleOptions(clock: unknown) {
  return {
    loginBody,
    elevatePath: '/elevate',
    logoutAllPath: '/logout-all',
    clock: { advance: (ms: number) => (clock as ManualClock).advance(ms) },
  };
}

/** An app on sessionGuard whose body parser runs after the guard, so a held request has loaded its session. */
function guardedApp(guard: Partial<SessionGuardOptions> = {}) {
  const clock = new ManualClock(Date.now());
  const app = express();
  app.use(sessionGuard({ secret: 'attack-suite guard test secret, long enough', clock, plainHttpDevelopment: true, ...guard }));
  app.use(express.json());
  app.get('/', (req, res) => {
    req.session.visits = (req.session.visits ?? 0) + 1;
    res.json({ visits: req.session.visits });
  });
  app.post('/login', async (req, res) => {
    const { username, password } = req.body as { username?: string; password?: string };
    if (username !== 'alice' || password !== 'alice-password') return void res.status(401).end();
    await guarded(req).login(username);
    res.json({ user: username });
  });
  app.get('/me', requireAuth(), (req, res) => res.json({ user: authenticated(req).principal }));
  app.post('/logout', async (req, res) => {
    await guarded(req).logout();
    res.status(204).end();
  });
  return { app, clock };
}

describe('attack suite: against fixation-guard', () => {
  it('finds no attack that succeeds against the protected example app', async () => {
    const { app, clock } = createLoginApp({ testClock: true, guard: { maxSessionsPerUser: 5 } });
    const report = await runFixationAttacks(app, exampleOptions(clock));
    assert.deepEqual(outcomes(report, 'fail'), []);
    assert.deepEqual(outcomes(report, 'not-applicable'), ['cookie-host-prefix', 'cookie-secure']);
    assert.equal(report.cookieName, 'sid');
  });

  it('passes logged-in-id-survives-login on the protected example with a second account, and catches it with rotation off', async () => {
    const attacker = { attackerLoginBody: { username: 'bob', password: 'bob-password' }, only: ['logged-in-id-survives-login' as const] };
    const on = createLoginApp({ testClock: true });
    const [passed] = (await runFixationAttacks(on.app, { ...exampleOptions(on.clock), ...attacker })).results;
    assert.equal(passed?.outcome, 'pass', passed?.reason);
    const off = createLoginApp({ testClock: true, guard: { strategy: 'none', dangerouslyAllowSessionFixation: true } });
    const [caught] = (await runFixationAttacks(off.app, { ...exampleOptions(off.clock), ...attacker })).results;
    assert.equal(caught?.outcome, 'fail', caught?.reason);
  });

  it('catches the example app with rotation switched off by the fixation attacks and the privilege change', async () => {
    const { app, clock } = createLoginApp({ testClock: true, guard: { strategy: 'none', dangerouslyAllowSessionFixation: true } });
    const report = await runFixationAttacks(app, exampleOptions(clock));
    assert.deepEqual(outcomes(report, 'fail'), ['logged-in-id-survives-login', 'login-sets-new-id', 'planted-id-survives-login', 'pre-login-id-dead', 'privilege-change-rotates']);
  });

  it('catches a copy of the example app with the login-CSRF check and the form tokens off at its form login, and the example passes it', async () => {
    const formLogin = { loginPath: '/account/login', loginEncoding: 'form' as const, only: ['login-csrf' as const] };
    const off = createLoginApp({ testClock: true, csrfTokens: false, guard: { maxSessionsPerUser: 5, loginCsrf: false } });
    const [caught] = (await runFixationAttacks(off.app, { ...exampleOptions(off.clock), ...formLogin })).results;
    assert.equal(caught?.outcome, 'fail');
    assert.match(caught?.reason ?? '', /\(Sec-Fetch-Site: cross-site, a urlencoded form\) answered 303, and the session cookie #[0-9a-f]{8} the browser then holds opens \/me \(200\)/);
    const on = createLoginApp({ csrfTokens: false, guard: { maxSessionsPerUser: 5 } });
    const [passed] = (await runFixationAttacks(on.app, { loginBody, ...formLogin })).results;
    assert.equal(passed?.outcome, 'pass');
    assert.match(passed?.reason ?? '', /a urlencoded form: 403, no session cookie/);
  });

  it("judges the example's JSON login by what another site's page can send: a form or text/plain, never JSON without a CORS grant", async () => {
    // With the guard's check off, the JSON login still takes nothing a form can send.
    const off = createLoginApp({ testClock: true, guard: { maxSessionsPerUser: 5, loginCsrf: false } });
    const [result] = (await runFixationAttacks(off.app, { ...exampleOptions(off.clock), only: ['login-csrf'] })).results;
    assert.equal(result?.outcome, 'pass', result?.reason);
    assert.match(result?.reason ?? '', /a urlencoded form: 401, no session cookie; a multipart form: 401, no session cookie; a text\/plain form carrying the JSON: 401, no session cookie/);
  });

  it('provokes the late-save race against the guard and sees the tombstones hold', async () => {
    const { app } = guardedApp();
    const report = await runFixationAttacks(app, { loginBody, only: ['inflight-no-resurrection'] });
    const [result] = report.results;
    assert.equal(result?.outcome, 'pass');
    assert.match(result?.reason ?? '', /logout: .*; login: /);
    // The held request kept its loaded session (no fresh id), so the race really ran.
    assert.deepEqual(result?.evidence.notes, []);
  });
});
