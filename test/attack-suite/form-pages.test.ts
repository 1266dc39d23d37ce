import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runFixationAttacks } from '../../src/attack-suite/index.js';
import type { ManualClock } from '../../src/index.js';
import { createLoginApp } from '../../examples/shared/login-app.js';
import { attackIds as outcomes } from './support/apps.js';

/**
 * The example's HTML pages: a form login whose csrf-csrf token is tied to the session, so the
 * token read before login is no good after it, and the login page redirects a signed-in user to
 * the account page (where the logout form's token is). The suite must follow that redirect to
 * a fresh token, or it sends the logout without one and blames the app for a session that
 * survives logout.
 */
describe('attack suite: the example\'s HTML form login (session-bound CSRF tokens)', () => {
  it('passes the protected example through its pages, logging out with a token read after login', async () => {
    const { app, clock } = createLoginApp({ testClock: true, guard: { maxSessionsPerUser: 5 } });
    const report = await runFixationAttacks(app, {
      startPath: '/account/login',
      loginPath: '/account/login',
      loginEncoding: 'form',
      loginBody: { username: 'alice', password: 'alice-password' },
      protectedPath: '/account',
      logoutPath: '/account/logout',
      logoutAllPath: '/account/devices/logout-all',
      clock: { advance: (ms: number) => (clock as ManualClock).advance(ms) },
    });
    assert.deepEqual(outcomes(report, 'fail'), []);
    assert.ok(outcomes(report, 'pass').includes('logout-kills-session'), JSON.stringify(outcomes(report, 'pass')));
    assert.ok(outcomes(report, 'pass').includes('logout-all-kills-sessions'), JSON.stringify(outcomes(report, 'pass')));
  });
});
