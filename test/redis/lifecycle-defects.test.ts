/**
 * Regression tests for reproduced lifecycle defects on the real Redis store and index
 * (`createRedisSessionStores`): races between rotations, logout-everywhere and the session
 * limit that only an atomic, shared store shows, and the error bodies those races produce.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient } from 'redis';
import { ManualClock, type SessionGuardOptions } from '../../src/index.js';
import type { RedisSessionStores } from '../../src/redis/index.js';
import {
  Gate,
  anonymousCookie,
  buildApp,
  heldRoutes,
  idOf,
  loginWith,
  setCookie,
  signedCookie,
  type TestApp,
  alive,
  login,
  me,
  post,
} from '../helpers.js';
import { connectedStores, redisUrl, uniquePrefix } from './support.js';

type App = TestApp['app'];

const prefix = uniquePrefix('lifecycle-defects');
let redis: RedisSessionStores;
/** A separate client that only counts keys, as an operator would. */
let observer: ReturnType<typeof createClient>;

before(async () => {
  redis = await connectedStores(prefix);
  observer = createClient({ url: redisUrl() });
  observer.on('error', () => undefined);
  await observer.connect();
});

after(async () => {
  await redis.close();
  await observer.close();
});

let users = 0;
/** A principal no other test of this file uses (the index is shared by the file's prefix). */
function freshUser(): string {
  return `alice-${++users}`;
}

/** Keys under this file's prefix: sessions, tombstones and index entries. */
async function keyCount(): Promise<number> {
  return (await observer.keys(`${prefix}*`)).length;
}

function redisApp(options: Partial<SessionGuardOptions> = {}, gate = new Gate()) {
  const built = buildApp(
    { store: redis.store, index: redis.index, clock: new ManualClock(), ...options },
    heldRoutes(gate),
  );
  return { ...built, gate };
}

/** Words that name the implementation, not the problem: never in a response body. */
const INTERNALS = /RedisSessionStore|GuardedStore|rename|Lua|script/i;

describe('lifecycle defects on Redis', () => {
  it('after req.elevate() the session is still listed, and revokeSessions ends the elevated session', async () => {
    const user = freshUser();
    const { app, guard } = redisApp();
    const cookie = await login(app, user);
    const elevated = setCookie(await post(app, '/elevate', cookie).expect(200));
    assert.ok(elevated);
    assert.equal((await guard.listSessions(user)).length, 1);
    assert.ok((await guard.revokeSessions(user)) >= 1);
    await me(app, elevated).expect(401);
  });

  it('an elevate held open across "log out everywhere" produces no live session', async () => {
    const user = freshUser();
    const gate = new Gate();
    const { app, guard } = redisApp({}, gate);
    const a = await login(app, user);
    const b = await login(app, user);
    const held = post(app, '/elevate-held', a).then((res) => res);
    await gate.arrived(1);
    await post(app, '/logout-all', b).expect(200);
    gate.open();
    const res = await held;
    assert.ok(
      [401, 409].includes(res.status),
      `expected 401 or 409, got ${res.status} ${JSON.stringify(res.body)}`,
    );
    const issued = setCookie(res);
    if (issued) await me(app, issued).expect(401);
    assert.deepEqual(await guard.listSessions(user), []);
    await guard.revokeSessions(user);
    assert.deepEqual(await alive(app, [a, b, ...(issued ? [issued] : [])]), []);
    if (res.status === 409)
      assert.equal(res.body.error.code, 'SESSION_CONFLICT', `409 body ${JSON.stringify(res.body)}`);
    assert.doesNotMatch(JSON.stringify(res.body), INTERNALS);
  });

  it('logout-everywhere racing an elevation of another session of the user never leaves a session alive (30 trials)', async () => {
    const { app, guard } = redisApp();
    const failures: string[] = [];
    const leaks: string[] = [];
    let confirmed = 0;
    for (let trial = 0; trial < 30; trial++) {
      const user = freshUser();
      const a = await login(app, user);
      const b = await login(app, user);
      // Both orders, each with the second request fired 0–4 event-loop turns after the first:
      // the interleavings where the rename lands inside the logout.
      const logoutFirst = trial % 2 === 0;
      const turns = Math.floor(trial / 2) % 5;
      const fire = (which: 'elevate' | 'logout') =>
        (which === 'elevate' ? post(app, '/elevate', a) : post(app, '/logout-all', b)).then(
          (r) => r,
        );
      const first = fire(logoutFirst ? 'logout' : 'elevate');
      for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));
      const second = fire(logoutFirst ? 'elevate' : 'logout');
      const [elevate, logoutAll] = logoutFirst
        ? [await second, await first]
        : [await first, await second];
      for (const res of [elevate, logoutAll])
        if (INTERNALS.test(JSON.stringify(res.body ?? {}))) leaks.push(JSON.stringify(res.body));
      if (logoutAll.status < 200 || logoutAll.status >= 300) continue;
      confirmed++;
      const elevated = setCookie(elevate);
      const live = await alive(app, [a, b, ...(elevated ? [elevated] : [])]);
      const listed = await guard.listSessions(user);
      if (live.length > 0 || listed.length > 0) {
        failures.push(
          `trial ${trial} (${logoutFirst ? 'logout' : 'elevate'} first, +${turns} turns): elevate ${elevate.status}, ${live.length} alive, ${listed.length} listed`,
        );
      }
    }
    assert.ok(confirmed > 0, 'logout-everywhere answered 2xx in at least one trial');
    assert.deepEqual(
      failures,
      [],
      `${failures.length} of ${confirmed} confirmed logouts left a session alive`,
    );
    assert.deepEqual(leaks, [], 'no error body names an internal');
  });

  it('six parallel requests carrying the id due for periodic rotation all succeed and share one successor; the old id ends after the grace', async () => {
    const user = freshUser();
    const { app, guard, clock } = redisApp({ rotateEvery: '1m' });
    const cookie = await login(app, user);
    clock.advance('61s');
    const responses = await Promise.all(
      Array.from({ length: 6 }, () => me(app, cookie).then((res) => res)),
    );
    for (const res of responses) {
      assert.equal(
        res.status,
        200,
        `a parallel request answered ${res.status} ${JSON.stringify(res.body)}`,
      );
      assert.equal(res.body.user, user);
    }
    const newIds = new Set(
      responses
        .map((r) => setCookie(r))
        .filter((c): c is string => c !== undefined)
        .map(idOf),
    );
    newIds.delete(idOf(cookie));
    assert.equal(newIds.size, 1, `distinct new ids sent: ${newIds.size}`);
    const [successor] = [...newIds] as [string];
    const successorCookie = signedCookie(successor);
    assert.equal((await me(app, successorCookie).expect(200)).body.user, user);
    assert.equal((await guard.listSessions(user)).length, 1, 'exactly one session is listed');
    // Still within the grace: a late request of the same page resolves to the same successor.
    const late = await me(app, cookie).expect(200);
    const lateCookie = setCookie(late);
    if (lateCookie) assert.equal(idOf(lateCookie), successor);
    clock.advance('11s');
    const afterGrace = await me(app, cookie);
    assert.equal(afterGrace.status, 401);
    assert.equal(afterGrace.body.error.code, 'SESSION_ROTATED');
    await me(app, successorCookie).expect(200);
  });

  it('with maxSessionsPerUser 2, logging in again on the oldest session (the limit reached) works', async () => {
    const user = freshUser();
    const { app, guard, clock } = redisApp({ maxSessionsPerUser: 2 });
    const s1 = await login(app, user);
    clock.advance('1m');
    const s2 = await login(app, user);
    clock.advance('1m');
    const res = await loginWith(app, s1, user);
    assert.equal(
      res.status,
      200,
      `the second login on the oldest session answered ${res.status} ${JSON.stringify(res.body)}`,
    );
    const renewed = setCookie(res);
    assert.ok(renewed, 'the login sends its new id');
    assert.notEqual(idOf(renewed), idOf(s1));
    assert.equal((await me(app, renewed).expect(200)).body.user, user);
    await me(app, s1).expect(401);
    const listed = await guard.listSessions(user);
    assert.ok(listed.length <= 2, `${listed.length} sessions listed`);
    assert.equal(
      (await alive(app, [s2, renewed])).length,
      listed.length,
      'every live session is listed',
    );
  });

  describe('concurrent logins of one user beyond maxSessionsPerUser', () => {
    async function loginsAtOnce(app: App, gate: Gate, user: string, count: number) {
      const anonymous = await Promise.all(
        Array.from({ length: count }, () => anonymousCookie(app)),
      );
      const pending = anonymous.map((cookie) =>
        post(app, '/login-held', cookie)
          .send({ username: user })
          .then((res) => res),
      );
      await gate.arrived(count);
      gate.open();
      return await Promise.all(pending);
    }

    for (const count of [8, 20]) {
      it(`evictOldest: ${count} logins at once all answer 200 and at most 5 sessions stay, each listed`, async () => {
        const user = freshUser();
        const gate = new Gate();
        const { app, guard } = redisApp({ maxSessionsPerUser: 5 }, gate);
        const responses = await loginsAtOnce(app, gate, user, count);
        const failed = responses.filter((r) => r.status !== 200);
        assert.equal(
          failed.length,
          0,
          `${failed.length} of ${count} logins failed, e.g. ${failed[0]?.status} ${JSON.stringify(failed[0]?.body)}`,
        );
        const listed = await guard.listSessions(user);
        assert.ok(listed.length <= 5, `${listed.length} sessions listed`);
        const live = await alive(
          app,
          responses.map((r) => setCookie(r)).filter((c): c is string => c !== undefined),
        );
        assert.equal(
          live.length,
          listed.length,
          `${live.length} cookies work but ${listed.length} sessions are listed`,
        );
      });
    }

    it('rejectLogin: of 20 logins at once exactly 5 answer 200 and the others 409 SESSION_LIMIT_REACHED, never 503', async () => {
      const user = freshUser();
      const gate = new Gate();
      const { app, guard } = redisApp(
        { maxSessionsPerUser: 5, onSessionLimit: 'rejectLogin' },
        gate,
      );
      const responses = await loginsAtOnce(app, gate, user, 20);
      const statuses = JSON.stringify(responses.map((r) => r.status));
      assert.equal(responses.filter((r) => r.status === 200).length, 5, `answers: ${statuses}`);
      assert.equal(responses.filter((r) => r.status === 409).length, 15, `answers: ${statuses}`);
      for (const res of responses.filter((r) => r.status === 409))
        assert.equal(res.body.error.code, 'SESSION_LIMIT_REACHED');
      assert.equal((await guard.listSessions(user)).length, 5);
    });
  });

  it('50 anonymous POST /logout requests (no cookie, or a forged cookie for an unknown id) write no key to Redis', async () => {
    const { app } = redisApp();
    await login(app, freshUser());
    const before = await keyCount();
    const forged = signedCookie('x'.repeat(43));
    for (let batch = 0; batch < 5; batch++) {
      await Promise.all(
        Array.from({ length: 10 }, async (_, i) => {
          const res = await post(app, '/logout', i % 2 === 0 ? undefined : forged);
          assert.ok(res.status < 500, `an anonymous logout answered ${res.status}`);
        }),
      );
    }
    const afterCount = await keyCount();
    assert.equal(
      afterCount,
      before,
      `Redis went from ${before} to ${afterCount} keys under the prefix`,
    );
  });

  it('two concurrent elevations of one session: one succeeds, the other is a 409 SESSION_CONFLICT whose body names no internals', async () => {
    const user = freshUser();
    const gate = new Gate();
    const { app, guard } = redisApp({}, gate);
    const cookie = await login(app, user);
    const pending = [
      post(app, '/elevate-held', cookie).then((r) => r),
      post(app, '/elevate-held', cookie).then((r) => r),
    ];
    await gate.arrived(2);
    gate.open();
    const responses = await Promise.all(pending);
    for (const res of responses) {
      if (res.status !== 409) continue;
      assert.equal(res.body.error.code, 'SESSION_CONFLICT', `409 body ${JSON.stringify(res.body)}`);
      assert.doesNotMatch(
        res.body.error.message,
        INTERNALS,
        `409 message ${JSON.stringify(res.body.error.message)}`,
      );
    }
    assert.deepEqual(responses.map((r) => r.status).sort(), [200, 409]);
    assert.equal((await guard.listSessions(user)).length, 1);
  });
});
