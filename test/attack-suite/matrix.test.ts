import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runFixationAttacks, type FixationAttackId, type FixationReport } from '../../src/attack-suite/index.js';
import { attackIds as ids, createTestApp, suiteOptionsFor, type Flaw } from './support/apps.js';

const HTTPS_ONLY: FixationAttackId[] = ['cookie-secure', 'cookie-host-prefix'];

async function attack(flaws: Flaw[], options: { https?: boolean } = {}): Promise<FixationReport> {
  const testApp = createTestApp(flaws, options);
  return runFixationAttacks(testApp.app, { ...suiteOptionsFor(testApp), ...options });
}

describe('attack suite: the flaw matrix', () => {
  it('finds nothing to attack in an app that defends against every attack', async () => {
    const report = await attack([]);
    assert.deepEqual(ids(report, 'fail'), []);
    assert.deepEqual(ids(report, 'not-applicable'), [...HTTPS_ONLY].sort());
    assert.equal(report.summary.secure, true);
    assert.equal(report.summary.passed, report.results.length - HTTPS_ONLY.length);
  });

  it('checks Secure and __Host- when told the app runs behind https, and they pass', async () => {
    const report = await attack([], { https: true });
    assert.equal(report.cookieName, '__Host-sid');
    assert.deepEqual(ids(report, 'fail'), []);
    assert.deepEqual(ids(report, 'not-applicable'), []);
  });

  // Each app is broken in exactly one way; the suite must name exactly the attacks meant for it.
  const matrix: Array<[Flaw, FixationAttackId[], { https?: boolean }?]> = [
    ['no-rotation', ['logged-in-id-survives-login', 'login-sets-new-id', 'planted-id-survives-login', 'pre-login-id-dead']],
    ['old-id-alive', ['pre-login-id-dead']],
    ['rotate-anonymous-only', ['logged-in-id-survives-login']],
    ['url-ids', ['url-session-id']],
    ['no-httponly', ['cookie-httponly']],
    ['no-samesite', ['cookie-samesite']],
    ['domain-cookie', ['cookie-path']],
    ['no-secure', ['cookie-host-prefix', 'cookie-secure'], { https: true }],
    ['no-host-prefix', ['cookie-host-prefix'], { https: true }],
    ['duplicate-cookies-last-wins', ['cookie-tossing']],
    ['logout-clears-cookie-only', ['logout-kills-session']],
    ['logout-all-current-only', ['logout-all-kills-sessions']],
    ['counter-ids', ['id-entropy']],
    ['unsigned-ids', ['tampered-signature-rejected']],
    ['adopt-forged-ids', ['forged-id-not-adopted']],
    ['cross-site-login', ['login-csrf']],
    ['echo-id-in-body', ['id-not-leaked']],
    ['echo-id-in-location', ['id-not-leaked']],
    ['no-elevate-rotation', ['privilege-change-rotates']],
    ['no-tombstones', ['inflight-no-resurrection']],
    ['no-idle-timeout', ['idle-timeout']],
    ['no-absolute-timeout', ['absolute-timeout']],
  ];
  for (const [flaw, expected, options] of matrix) {
    it(`catches an app with the flaw '${flaw}' by exactly ${expected.join(', ')}`, async () => {
      const report = await attack([flaw], options);
      assert.deepEqual(ids(report, 'fail'), expected);
      assert.equal(report.summary.secure, false);
      for (const result of report.results.filter((r) => r.outcome === 'fail')) {
        assert.ok(result.evidence.requests.length > 0, `${result.id} fails with evidence`);
      }
    });
  }

  it('explains why it cannot tell a dead id from a live one when the app adopts unknown ids', async () => {
    const report = await attack(['adopt-forged-ids']);
    const dead = report.results.find((r) => r.id === 'pre-login-id-dead');
    assert.equal(dead?.outcome, 'not-applicable');
    assert.match(dead?.reason ?? '', /unknown id did not answer with a fresh session cookie/);
  });

  it('names the logged-out id that a late request brought back', async () => {
    const report = await attack(['no-tombstones']);
    const inflight = report.results.find((r) => r.id === 'inflight-no-resurrection');
    assert.match(inflight?.reason ?? '', /in flight during logout saved the session back: the logged-out id #[0-9a-f]{8} opens \/me again \(200\)/);
    assert.match(inflight?.reason ?? '', /in flight during login saved the rotated pre-login id #[0-9a-f]{8} back/);
  });

  it('reports a counter as sequential and guessable (below 64 bits): a fixation finding', async () => {
    const report = await attack(['counter-ids']);
    const entropy = report.results.find((r) => r.id === 'id-entropy');
    assert.match(entropy?.reason ?? '', /a counter or a clock/);
    assert.match(entropy?.reason ?? '', /below 64/);
    assert.equal(entropy?.class, 'fixation');
  });
});
