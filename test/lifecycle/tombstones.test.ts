import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  anonymousCookie,
  buildApp,
  https,
  login,
  me,
  post,
  request,
  signedCookie,
} from '../helpers.js';

const TOMBSTONE_TTL_MS = 15 * 60_000;

/** What the app's MemoryStore holds: live records and tombstones, and the longest a tombstone still lives. */
function census(guard: ReturnType<typeof buildApp>['guard']): {
  records: number;
  tombstones: number;
  longestMs: number;
} {
  const sessions = (guard.store.inner as unknown as { sessions: Record<string, string> }).sessions;
  let records = 0;
  let tombstones = 0;
  let longestMs = 0;
  for (const json of Object.values(sessions)) {
    const record = JSON.parse(json) as {
      fixationGuardTombstone?: unknown;
      cookie: { expires: string };
    };
    if (record.fixationGuardTombstone === undefined) {
      records++;
      continue;
    }
    tombstones++;
    longestMs = Math.max(longestMs, Date.parse(record.cookie.expires) - Date.now());
  }
  return { records, tombstones, longestMs };
}

describe('tombstones are bounded', () => {
  it('stores nothing at all for requests that have no stored session, whatever cookie they bring', async () => {
    const { app, guard } = buildApp({ tombstoneTtl: TOMBSTONE_TTL_MS });
    for (let i = 0; i < 5; i++) {
      // No cookie; a correctly signed id the server never issued; an unsigned value.
      for (const cookie of [
        undefined,
        signedCookie(randomBytes(32).toString('base64url')),
        `__Host-sid=${randomBytes(32).toString('base64url')}`,
      ]) {
        await post(app, '/logout', cookie).expect(204);
        await post(app, '/logout-all', cookie).expect(401);
        const read = https(request(app).get('/me'));
        await (cookie ? read.set('Cookie', cookie) : read).expect(401);
      }
    }
    assert.deepEqual(census(guard), { records: 0, tombstones: 0, longestMs: 0 });
  });

  it('holds one tombstone per rotation or logout, however often a dead cookie is replayed, each living at most tombstoneTtl', async () => {
    const { app, guard } = buildApp({ tombstoneTtl: TOMBSTONE_TTL_MS });
    const users = ['alice', 'bob', 'carol', 'dave'];
    const sessions: string[] = [];
    // Four logins from a pre-login session each: four rotations.
    for (const user of users) sessions.push(await login(app, user, await anonymousCookie(app)));
    // Two logouts, each replayed three times.
    for (const cookie of sessions.slice(0, 2)) {
      await post(app, '/logout', cookie).expect(204);
      for (let i = 0; i < 3; i++) {
        await post(app, '/logout', cookie).expect(204);
        await me(app, cookie).expect(401);
      }
    }
    // One elevation: a fifth rotation.
    await post(app, '/elevate', sessions[2]).expect(200);
    const { records, tombstones, longestMs } = census(guard);
    assert.equal(tombstones, 4 + 2 + 1, 'four logins, two logouts and one elevation');
    assert.equal(records, 2, 'the elevated session and the one left alone');
    assert.ok(longestMs > 0 && longestMs <= TOMBSTONE_TTL_MS, `a tombstone lives ${longestMs} ms`);
  });
});
