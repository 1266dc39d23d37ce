/**
 * Regression tests for reproduced lifecycle defects, on the MemoryStore and on a plain
 * third-party-style store (get/set/destroy only, like connect-pg-simple). Each test states
 * the planned behaviour; the invariants behind them are DESIGN.md's "Lifecycle invariants":
 * every live authenticated session is indexed; an ended id never serves and never gets a
 * successor; a revocation that reports success leaves nothing of it alive; one successor per
 * rotation; every write of a request is saved before its response; a request without a
 * stored session writes nothing.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import express, { type NextFunction, type Request, type Response } from 'express';
import session, { type SessionData } from 'express-session';
import {
  ManualClock,
  MemorySessionIndex,
  requireAuth,
  sessionGuard,
  type SessionGuardOptions,
  authenticated,
  guarded,
} from '../../src/index.js';
import { FlakyStore, connectionError } from '../support/flaky-store.js';
import { PlainStore } from '../support/plain-store.js';
import {
  Gate,
  SECRET,
  anonymousCookie,
  buildApp,
  heldRoutes,
  https,
  idOf,
  request,
  setCookie,
  signedCookie,
  type TestApp,
  alive,
  expectListedAndRevocable,
  login,
  me,
  post,
  shortIds,
} from '../helpers.js';

declare module 'express-session' {
  interface SessionData {
    // Keys a legacy app writes to mean "logged in" (some named as other test files name them).
    username?: string;
    uid?: string;
    userID?: string;
    account?: string;
    loggedIn?: boolean;
    mfaPending?: boolean;
  }
}

type App = TestApp['app'];

/** A MemoryStore whose `set` of a record matching `when` fails once. */
class FailingMemoryStore extends session.MemoryStore {
  #when: ((record: Record<string, unknown>) => boolean) | undefined;

  failNextSetWhere(when: (record: Record<string, unknown>) => boolean): void {
    this.#when = when;
  }

  override set(sid: string, sess: SessionData, callback?: (err?: unknown) => void): void {
    const when = this.#when;
    if (when && when(JSON.parse(JSON.stringify(sess)) as Record<string, unknown>)) {
      this.#when = undefined;
      setImmediate(() => callback?.(connectionError()));
      return;
    }
    super.set(sid, sess, callback);
  }
}

function memoryRecords(store: session.MemoryStore): number {
  return Object.keys((store as unknown as { sessions: Record<string, string> }).sessions).length;
}

interface Backend {
  name: string;
  /** Store options for the guard, and how many records the store holds. */
  create(): { options: Partial<SessionGuardOptions>; records(): number; writes?(): number };
}

const MEMORY: Backend = {
  name: 'the MemoryStore',
  create() {
    const store = new session.MemoryStore();
    return { options: { store }, records: () => memoryRecords(store) };
  },
};

const PLAIN: Backend = {
  name: 'a plain get/set/destroy store',
  create() {
    const store = new PlainStore();
    return {
      options: { store, index: new MemorySessionIndex() },
      records: () => store.size,
      writes: () => store.calls.set + store.calls.destroy,
    };
  },
};

const BACKENDS = [MEMORY, PLAIN];

/**
 * An app with the held routes, legacy login routes, a login followed by a write, and (with
 * `credentials`) the `credentialVersion` option and a password-change route.
 */
function defectsApp(
  options: Partial<SessionGuardOptions> = {},
  gate = new Gate(),
  credentials = false,
) {
  const versions = new Map<string, number>();
  const built = buildApp(
    {
      ...(credentials
        ? { credentialVersion: (principal: string) => versions.get(principal) ?? 1 }
        : {}),
      ...options,
    },
    (app) => {
      heldRoutes(gate)(app);
      app.post('/password', requireAuth(), async (req, res, next) => {
        try {
          const principal = req.sessionGuard?.principal as string;
          versions.set(principal, (versions.get(principal) ?? 1) + 1);
          await req.sessionGuard?.refreshCredentials();
          res.json({ ok: true });
        } catch (err) {
          next(err);
        }
      });
      app.post('/login-then-write', async (req, res, next) => {
        try {
          await guarded(req).login((req.body as { username: string }).username);
          req.session.mfaPending = true;
          res.json({ ok: true });
        } catch (err) {
          next(err);
        }
      });
      // A legacy app that marks the session logged in itself, without req.login().
      app.post('/legacy-login/:key', (req, res) => {
        switch (req.params.key) {
          case 'username':
            req.session.username = 'alice';
            break;
          case 'uid':
            req.session.uid = 'alice';
            break;
          case 'userID':
            req.session.userID = 'alice';
            break;
          case 'account':
            req.session.account = 'alice';
            break;
          case 'loggedIn':
            req.session.loggedIn = true;
            break;
          default:
            res.status(404).end();
            return;
        }
        res.json({ ok: true });
      });
      app.get('/legacy-whoami', (req, res) => {
        const s = req.session;
        res.json({
          username: s?.username ?? null,
          uid: s?.uid ?? null,
          userID: s?.userID ?? null,
          account: s?.account ?? null,
          loggedIn: s?.loggedIn ?? null,
        });
      });
    },
  );
  return { ...built, gate, versions };
}

describe('lifecycle defects (MemoryStore and a plain store)', () => {
  describe('a rotation keeps the session indexed', () => {
    for (const backend of BACKENDS) {
      describe(`on ${backend.name}`, () => {
        it('after req.elevate() the session is still listed, and revoking the principal ends the elevated session', async () => {
          const { options } = backend.create();
          const { app, guard } = defectsApp(options);
          const cookie = await login(app);
          const elevated = setCookie(await post(app, '/elevate', cookie).expect(200));
          assert.ok(elevated, 'the elevated session has a new id');
          assert.notEqual(idOf(elevated), idOf(cookie));
          await expectListedAndRevocable(guard, app, 'alice', elevated, 'elevated');
          assert.deepEqual(await guard.listSessions('alice'), []);
        });

        it('after a periodic rotation (rotateEvery) the session is still listed, and revoking the principal ends it', async () => {
          const { options } = backend.create();
          const { app, guard, clock } = defectsApp({ ...options, rotateEvery: '15m' });
          const cookie = await login(app);
          clock.advance('16m');
          const renewed = setCookie(await me(app, cookie).expect(200));
          assert.ok(renewed, 'the periodic rotation sends the new id');
          assert.notEqual(idOf(renewed), idOf(cookie));
          await expectListedAndRevocable(guard, app, 'alice', renewed, 'renewed');
        });

        it('after refreshCredentials() (credentialVersion) the session is still listed, and revoking the principal ends it', async () => {
          const { options } = backend.create();
          const { app, guard } = defectsApp(options, new Gate(), true);
          const cookie = await login(app);
          const refreshed = setCookie(await post(app, '/password', cookie).expect(200));
          assert.ok(refreshed, 'the refreshed session has a new id');
          assert.notEqual(idOf(refreshed), idOf(cookie));
          await me(app, refreshed).expect(200);
          await expectListedAndRevocable(guard, app, 'alice', refreshed, 'refreshed');
        });
      });
    }

    it('in a production configuration on a plain store, an elevated session is still listed and revokeSessions ends it', async () => {
      const store = new PlainStore();
      const { app, guard } = defectsApp({
        env: 'production',
        store,
        index: new MemorySessionIndex(),
        trustProxy: true,
      });
      const cookie = await login(app);
      const elevated = setCookie(await post(app, '/elevate', cookie).expect(200));
      assert.ok(elevated);
      await expectListedAndRevocable(guard, app, 'alice', elevated, 'elevated');
      assert.deepEqual(store.liveIds(), [], 'no live record is left in the store');
    });
  });

  describe('a rotation gives no successor to a session that was ended or rotated after the rotation loaded it', () => {
    for (const backend of BACKENDS) {
      it(`on ${backend.name}, an elevate held open across "log out everywhere" produces no live session`, async () => {
        const { options } = backend.create();
        const gate = new Gate();
        const { app, guard } = defectsApp(options, gate);
        const a = await login(app);
        const b = await login(app);
        const held = post(app, '/elevate-held', a).then((res) => res);
        await gate.arrived(1); // A's session is loaded, its rotation not yet begun
        await post(app, '/logout-all', b).expect(200);
        gate.open();
        const res = await held;
        assert.notEqual(
          res.status,
          200,
          `the held elevate answered 200 ${JSON.stringify(res.body)} after the principal logged out everywhere`,
        );
        assert.ok(
          [401, 409].includes(res.status),
          `expected 401 or 409, got ${res.status} ${JSON.stringify(res.body)}`,
        );
        const issued = setCookie(res);
        if (issued) await me(app, issued).expect(401);
        assert.deepEqual(await guard.listSessions('alice'), []);
        await guard.revokeSessions('alice');
        const cookies = [a, b, ...(issued ? [issued] : [])];
        const live = await alive(app, cookies);
        assert.deepEqual(
          live,
          [],
          `still alive after logout-everywhere and revokeSessions: ${shortIds(live)}`,
        );
        if (res.status === 409)
          assert.equal(
            res.body.error.code,
            'SESSION_CONFLICT',
            `409 body ${JSON.stringify(res.body)}`,
          );
      });

      it(`on ${backend.name}, two concurrent elevations of one session leave exactly one successor: the loser gets 409 SESSION_CONFLICT`, async () => {
        const { options } = backend.create();
        const gate = new Gate();
        const { app, guard } = defectsApp(options, gate);
        const cookie = await login(app);
        const first = post(app, '/elevate-held', cookie).then((res) => res);
        const second = post(app, '/elevate-held', cookie).then((res) => res);
        await gate.arrived(2); // both loaded the same session
        gate.open();
        const responses = await Promise.all([first, second]);
        const statuses = responses.map((r) => r.status).sort();
        assert.deepEqual(
          statuses,
          [200, 409],
          `statuses ${JSON.stringify(responses.map((r) => [r.status, r.body]))}`,
        );
        const loser = responses.find((r) => r.status === 409);
        assert.equal(loser?.body.error.code, 'SESSION_CONFLICT');
        const issued = responses
          .map((r) => setCookie(r))
          .filter((c): c is string => c !== undefined && idOf(c) !== idOf(cookie));
        const live = await alive(app, issued);
        assert.equal(live.length, 1, `live successors: ${live.length}`);
        assert.equal((await guard.listSessions('alice')).length, 1);
        await me(app, cookie).expect(401);
      });
    }
  });

  describe('parallel requests of one page that all carry the id due for periodic rotation', () => {
    for (const backend of BACKENDS) {
      it(`on ${backend.name}, six parallel requests all succeed, fork nothing, and share one successor; the old id ends after the grace`, async () => {
        const { options } = backend.create();
        const { app, guard, clock } = defectsApp({ ...options, rotateEvery: '1m' });
        const cookie = await login(app);
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
          assert.equal(res.body.user, 'alice');
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
        assert.equal((await me(app, successorCookie).expect(200)).body.user, 'alice');
        assert.equal(
          (await guard.listSessions('alice')).length,
          1,
          'exactly one session is listed',
        );
        // Still within the grace: a late request of the same page resolves to the same successor.
        const late = await me(app, cookie).expect(200);
        const lateCookie = setCookie(late);
        if (lateCookie) assert.equal(idOf(lateCookie), successor);
        clock.advance('11s');
        const after = await me(app, cookie);
        assert.equal(after.status, 401);
        assert.equal(after.body.error.code, 'SESSION_ROTATED');
        await me(app, successorCookie).expect(200);
      });
    }

    it('an elevation has no grace: the id before it is dead at once', async () => {
      const { app } = defectsApp({ rotateEvery: '1m' });
      const cookie = await login(app);
      const elevated = setCookie(await post(app, '/elevate', cookie).expect(200));
      assert.ok(elevated);
      const res = await me(app, cookie);
      assert.equal(res.status, 401);
      assert.equal(res.body.error.code, 'SESSION_ROTATED');
    });
  });

  describe('a failed write during logout-everywhere leaves nothing alive unlisted, and a retry ends everything', () => {
    const stores: Array<{
      name: string;
      make(): { store: PlainStore | FlakyStore; options: Partial<SessionGuardOptions> };
    }> = [
      {
        name: 'a plain store',
        make() {
          const store = new PlainStore();
          return { store, options: { store, index: new MemorySessionIndex() } };
        },
      },
      {
        name: 'a flaky MemoryStore',
        make() {
          const store = new FlakyStore();
          return { store, options: { store: store as never } };
        },
      },
    ];
    for (const { name, make } of stores) {
      it(`on ${name}, one failed tombstone write answers 503, the sessions not yet ended stay listed, and a retry ends them all`, async () => {
        const { store, options } = make();
        const { app, guard } = defectsApp(options);
        const a = await login(app);
        const b = await login(app);
        const c = await login(app);
        store.failNext('set');
        const first = await post(app, '/logout-all', a);
        assert.equal(
          first.status,
          503,
          `the failed logout-everywhere answered ${first.status} ${JSON.stringify(first.body)}`,
        );
        assert.equal(first.body.error.code, 'SESSION_STORE_UNAVAILABLE');
        const survivors = await alive(app, [a, b, c]);
        const listed = await guard.listSessions('alice');
        assert.equal(
          listed.length,
          survivors.length,
          `${survivors.length} sessions still alive (${shortIds(survivors)}) but ${listed.length} listed`,
        );
        if (survivors.includes(a)) await post(app, '/logout-all', a).expect(200);
        else await guard.revokeSessions('alice');
        const live = await alive(app, [a, b, c]);
        assert.deepEqual(live, [], `still alive after the retry: ${shortIds(live)}`);
        assert.deepEqual(await guard.listSessions('alice'), []);
      });
    }
  });

  describe('a login on the oldest session when the limit is reached', () => {
    for (const backend of BACKENDS) {
      it(`on ${backend.name}, with maxSessionsPerUser 2, logging in again on the oldest session works and every live session is listed`, async () => {
        const { options } = backend.create();
        const { app, guard, clock } = defectsApp({ ...options, maxSessionsPerUser: 2 });
        const s1 = await login(app);
        clock.advance('1m');
        const s2 = await login(app);
        clock.advance('1m');
        const renewed = await login(app, 'alice', s1);
        assert.notEqual(idOf(renewed), idOf(s1));
        assert.equal((await me(app, renewed).expect(200)).body.user, 'alice');
        await me(app, s1).expect(401);
        const listed = await guard.listSessions('alice');
        assert.ok(listed.length <= 2, `${listed.length} sessions listed`);
        assert.equal(
          (await alive(app, [s2, renewed])).length,
          listed.length,
          'every live session is listed',
        );
      });
    }
  });

  describe('concurrent logins of one user beyond maxSessionsPerUser', () => {
    /** `count` logins of alice, each on its own stored anonymous session, all released at once. */
    async function loginsAtOnce(app: App, gate: Gate, count: number) {
      const anonymous = await Promise.all(
        Array.from({ length: count }, () => anonymousCookie(app)),
      );
      const pending = anonymous.map((cookie) =>
        post(app, '/login-held', cookie)
          .send({ username: 'alice' })
          .then((res) => res),
      );
      await gate.arrived(count);
      gate.open();
      return await Promise.all(pending);
    }

    for (const backend of BACKENDS) {
      for (const count of [8, 20]) {
        it(`on ${backend.name}, evictOldest: ${count} logins at once all answer 200 and at most 5 sessions stay, each listed`, async () => {
          const { options } = backend.create();
          const gate = new Gate();
          const { app, guard } = defectsApp({ ...options, maxSessionsPerUser: 5 }, gate);
          const responses = await loginsAtOnce(app, gate, count);
          const failed = responses.filter((r) => r.status !== 200);
          assert.equal(
            failed.length,
            0,
            `${failed.length} of ${count} logins failed, e.g. ${failed[0]?.status} ${JSON.stringify(failed[0]?.body)}`,
          );
          const listed = await guard.listSessions('alice');
          assert.ok(listed.length <= 5, `${listed.length} sessions listed`);
          const cookies = responses
            .map((r) => setCookie(r))
            .filter((c): c is string => c !== undefined);
          const live = await alive(app, cookies);
          assert.equal(
            live.length,
            listed.length,
            `${live.length} cookies work but ${listed.length} sessions are listed`,
          );
        });
      }

      it(`on ${backend.name}, rejectLogin: of 20 logins at once exactly 5 answer 200 and the others 409 SESSION_LIMIT_REACHED`, async () => {
        const { options } = backend.create();
        const gate = new Gate();
        const { app, guard } = defectsApp(
          { ...options, maxSessionsPerUser: 5, onSessionLimit: 'rejectLogin' },
          gate,
        );
        const responses = await loginsAtOnce(app, gate, 20);
        const ok = responses.filter((r) => r.status === 200);
        const refused = responses.filter((r) => r.status === 409);
        assert.equal(ok.length, 5, `answers: ${JSON.stringify(responses.map((r) => r.status))}`);
        assert.equal(
          refused.length,
          15,
          `answers: ${JSON.stringify(responses.map((r) => r.status))}`,
        );
        for (const res of refused) assert.equal(res.body.error.code, 'SESSION_LIMIT_REACHED');
        const live = await alive(
          app,
          ok.map((r) => setCookie(r) as string),
        );
        assert.equal(live.length, 5);
        assert.equal((await guard.listSessions('alice')).length, 5);
      });
    }
  });

  describe('every write of a request is saved before its response', () => {
    const stores: Array<{
      name: string;
      make(): { options: Partial<SessionGuardOptions>; failAfterLogin(): void };
    }> = [
      {
        name: 'a plain store',
        make() {
          const store = new PlainStore();
          return {
            options: { store, index: new MemorySessionIndex() },
            failAfterLogin: () =>
              store.failNext('set', { when: (_sid, record) => record?.mfaPending === true }),
          };
        },
      },
      {
        name: 'the MemoryStore',
        make() {
          const store = new FailingMemoryStore();
          return {
            options: { store },
            failAfterLogin: () => store.failNextSetWhere((record) => record.mfaPending === true),
          };
        },
      },
    ];
    for (const { name, make } of stores) {
      it(`on ${name}, a session write after await guarded(req).login() whose save fails answers 503, not 200`, async () => {
        const { options, failAfterLogin } = make();
        const { app } = defectsApp(options);
        const anonymous = await anonymousCookie(app);
        failAfterLogin();
        const res = await post(app, '/login-then-write', anonymous).send({ username: 'alice' });
        assert.equal(
          res.status,
          503,
          `answered ${res.status} ${JSON.stringify(res.body)} although the write after login was lost`,
        );
        assert.equal(res.body.error.code, 'SESSION_STORE_UNAVAILABLE');
      });
    }
  });

  describe('a request without a stored session writes nothing', () => {
    for (const backend of BACKENDS) {
      it(`on ${backend.name}, 50 anonymous POST /logout requests (no cookie, or a forged cookie for an unknown id) store nothing`, async () => {
        const { options, records, writes } = backend.create();
        const { app } = defectsApp(options);
        await login(app); // something in the store already
        const before = records();
        const writesBefore = writes?.();
        const forged = signedCookie('x'.repeat(43));
        for (let batch = 0; batch < 5; batch++) {
          await Promise.all(
            Array.from({ length: 10 }, async (_, i) => {
              const res = await post(app, '/logout', i % 2 === 0 ? undefined : forged);
              assert.ok(res.status < 500, `an anonymous logout answered ${res.status}`);
            }),
          );
        }
        assert.equal(records(), before, `the store went from ${before} to ${records()} records`);
        if (writesBefore !== undefined)
          assert.equal(writes?.(), writesBefore, 'no set or destroy reached the store');
      });
    }
  });

  describe('the tripwire knows the usual legacy login keys', () => {
    for (const key of ['username', 'uid', 'userID', 'account', 'loggedIn']) {
      it(`a legacy route writing req.session.${key} on a planted id without req.login does not authenticate the planted id`, async () => {
        const { app, audit } = defectsApp();
        const planted = await anonymousCookie(app);
        const res = await post(app, `/legacy-login/${key}`, planted);
        const replay = await https(request(app).get('/legacy-whoami'))
          .set('Cookie', planted)
          .expect(200);
        assert.equal(
          replay.body[key],
          null,
          `the planted cookie carries ${key}=${JSON.stringify(replay.body[key])} after a ${res.status}`,
        );
        assert.ok(audit.of('fixation_tripwire').length >= 1, 'the tripwire fired and was audited');
        const issued = setCookie(res);
        if (issued && res.status >= 200 && res.status < 300) {
          const other = await https(request(app).get('/legacy-whoami'))
            .set('Cookie', issued)
            .expect(200);
          assert.equal(
            other.body[key],
            null,
            'no cookie the response set carries the legacy login',
          );
        }
      });
    }
  });

  describe("requireAuth() with errorResponse: 'next'", () => {
    function nextApp() {
      const seen: Array<{ status?: number; code?: string }> = [];
      const app = express();
      app.use(express.json());
      app.use(
        sessionGuard({
          secret: SECRET,
          errorResponse: 'next',
          trustProxy: true,
          clock: new ManualClock(),
        }),
      );
      app.post('/login', async (req, res, next) => {
        try {
          await guarded(req).login('alice');
          res.json({ user: 'alice' });
        } catch (err) {
          next(err);
        }
      });
      app.post('/logout', async (req, res, next) => {
        try {
          await guarded(req).logout();
          res.status(204).end();
        } catch (err) {
          next(err);
        }
      });
      app.get('/me', requireAuth(), (req, res) => res.json({ user: authenticated(req).principal }));
      app.use(
        (
          err: { status?: number; code?: string },
          _req: Request,
          res: Response,
          _next: NextFunction,
        ) => {
          seen.push(err);
          res.status(err.status ?? 500).json({ handledBy: 'app', code: err.code ?? null });
        },
      );
      return { app, seen };
    }

    it("passes a 401 UNAUTHENTICATED error to the app's error handler instead of answering JSON itself", async () => {
      const { app, seen } = nextApp();
      const res = await https(request(app).get('/me')).expect(401);
      assert.equal(seen.length, 1, "the app's error handler saw the error");
      assert.equal(seen[0]?.status, 401);
      assert.equal(seen[0]?.code, 'UNAUTHENTICATED');
      assert.deepEqual(res.body, { handledBy: 'app', code: 'UNAUTHENTICATED' });
    });

    it("passes the reason a session ended (SESSION_LOGGED_OUT) to the app's error handler", async () => {
      const { app, seen } = nextApp();
      const cookie = setCookie(await https(request(app).post('/login')).expect(200)) as string;
      await https(request(app).post('/logout')).set('Cookie', cookie).expect(204);
      await https(request(app).get('/me')).set('Cookie', cookie).expect(401);
      assert.equal(seen.length, 1, "the app's error handler saw the error");
      assert.equal(seen[0]?.status, 401);
      assert.equal(seen[0]?.code, 'SESSION_LOGGED_OUT');
    });
  });
});
