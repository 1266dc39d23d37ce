/**
 * A login through a regenerated session (passport ≥0.6's way: regenerate, set `passport.user`,
 * save) whose index confirmation fails after the record was written leaves nothing behind, as
 * a failed `req.sessionGuard.login()` does: the answer is a 503 without the new id's cookie, and
 * the written record is ended and unlisted (`abandonLogin`). Before, the write gate marked the
 * id stored before confirming it, the 503 carried its cookie, and that id was a live,
 * authenticated session beyond `maxSessionsPerUser`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import session from 'express-session';
import { MemorySessionIndex, type AdmitOptions, type AdmitResult, type SessionIndexEntry, type SessionLimit } from '../../src/index.js';
import { connectionError } from '../support/flaky-store.js';
import { alive, anonymousCookie, buildApp, https, idOf, login, me, request, setCookie } from '../helpers.js';

/** An in-process index whose next confirmation fails as a dropped connection would. */
class ConfirmFailsIndex extends MemorySessionIndex {
  failNextConfirm = false;

  override async admit(principal: string, entry: SessionIndexEntry, limit?: SessionLimit, options?: AdmitOptions): Promise<AdmitResult> {
    if (options?.phase === 'confirm' && this.failNextConfirm) {
      this.failNextConfirm = false;
      throw connectionError();
    }
    return await super.admit(principal, entry, limit, options);
  }
}

describe('a regenerated (passport-style) login whose index confirmation fails', () => {
  it('answers 503 and leaves no live session behind (no half-logged-in state)', async () => {
    const index = new ConfirmFailsIndex();
    const store = new session.MemoryStore();
    const { app, guard } = buildApp({ store, index, maxSessionsPerUser: 1 }, (a) => {
      // passport.authenticate's login, without passport: regenerate, mark the user, save.
      a.post('/regenerate-login', (req, res, next) => {
        req.session.regenerate((err) => {
          if (err) return next(err);
          (req.session as unknown as Record<string, unknown>).passport = { user: 'alice' };
          req.session.save((saveErr) => (saveErr ? next(saveErr) : res.json({ user: 'alice' })));
        });
      });
    });
    // alice is already signed in elsewhere; maxSessionsPerUser 1 (evictOldest) ends that session at her next login.
    const elsewhere = await login(app, 'alice');
    const anonymous = await anonymousCookie(app);
    index.failNextConfirm = true;
    const res = await https(request(app).post('/regenerate-login')).set('Cookie', anonymous);
    assert.equal(res.status, 503, `the login answered ${res.status}`);
    const cookie = setCookie(res);
    const problems: string[] = [];
    if (cookie) {
      const record = await guard.store.readRaw(idOf(cookie));
      const principal = (record?.fixationGuard as { principal?: string } | undefined)?.principal;
      if (record && !('fixationGuardTombstone' in record) && principal !== undefined) problems.push(`the 503 set the cookie of a live session authenticated as ${principal}`);
      const who = await me(app, cookie);
      if (who.status === 200) problems.push(`that cookie answers GET /me with 200 ${JSON.stringify(who.body)}`);
    }
    const listed = await guard.listSessions('alice');
    if (listed.length > 1) problems.push(`listSessions('alice') lists ${listed.length} sessions with maxSessionsPerUser 1`);
    const live = await alive(app, cookie ? [elsewhere, cookie] : [elsewhere]);
    if (live.length > 1) problems.push(`${live.length} sessions of alice answer /me with maxSessionsPerUser 1`);
    assert.deepEqual(problems, []);
  });
});
