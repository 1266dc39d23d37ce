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

  it('catches the example app with rotation switched off by the fixation attacks and the privilege change', async () => {
    const { app, clock } = createLoginApp({ testClock: true, guard: { strategy: 'none', dangerouslyAllowSessionFixation: true } });
    const report = await runFixationAttacks(app, exampleOptions(clock));
    assert.deepEqual(outcomes(report, 'fail'), ['login-sets-new-id', 'planted-id-survives-login', 'pre-login-id-dead', 'privilege-change-rotates']);
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
