/**
 * Attacks on the lifecycle invariants (DESIGN.md, "Lifecycle invariants"), each a real express
 * app over HTTP with a ManualClock and test gates, on the MemoryStore, on a plain
 * get/set/destroy store and, where the race exists there too, on real Redis.
 *
 * The first group states behaviour the guard promises and that a concrete interleaving broke
 * when these tests were written; the second group keeps attacks that did not get through, as
 * regression tests.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import session, { type SessionData } from 'express-session';
import {
  ManualClock,
  MemorySessionIndex,
  isTombstone,
  requireAuth,
  type AdmitOptions,
  type AdmitResult,
  type EndReason,
  type SessionGuardOptions,
  type SessionIndex,
  type SessionIndexEntry,
  type SessionLimit,
  guarded,
} from '../../src/index.js';
import type { RedisSessionStores } from '../../src/redis/index.js';
import { FlakyStore, connectionError } from '../support/flaky-store.js';
import { PlainStore } from '../support/plain-store.js';
import { AtomicMemoryStore } from '../../src/store/memory.js';
import { connectedStores, uniquePrefix } from '../redis/support.js';
import {
  Gate,
  SECRET,
  anonymousCookie,
  buildApp,
  https,
  idOf,
  loginWith,
  request,
  setCookie,
  signedCookie,
  type TestApp,
  alive,
  login,
  me,
  post,
  shortIds,
} from '../helpers.js';

type App = TestApp['app'];
type Record_ = Record<string, unknown>;

// ---- instruments ------------------------------------------------------------------------------

/** A MemoryStore whose next `set` matching a predicate fails once with a connection error. */
class FailingMemoryStore extends session.MemoryStore {
  #when: ((sid: string, record: Record_) => boolean) | undefined;
  /** Calls of `set` and `destroy` that reached the store. */
  writes = 0;

  override destroy(sid: string, callback?: (err?: unknown) => void): void {
    this.writes++;
    super.destroy(sid, callback);
  }

  failNextSetWhere(when: (sid: string, record: Record_) => boolean): void {
    this.#when = when;
  }

  override set(sid: string, sess: SessionData, callback?: (err?: unknown) => void): void {
    this.writes++;
    const when = this.#when;
    if (when && when(sid, JSON.parse(JSON.stringify(sess)) as Record_)) {
      this.#when = undefined;
      setImmediate(() => callback?.(connectionError()));
      return;
    }
    super.set(sid, sess, callback);
  }
}

/**
 * A session index that forwards to a real one (memory or Redis) and can hold one call at a
 * gate: the next confirmation of a login (before or after the real admit), or the next list.
 * It stands for a slower index, or simply for a request that the event loop parks there.
 */
class HeldIndex implements SessionIndex {
  readonly inner: SessionIndex;
  holdConfirm: { gate: Gate; when: 'before' | 'after' } | undefined;
  holdList: Gate | undefined;
  endAll?: SessionIndex['endAll'];
  ownsSessionsOf?: SessionIndex['ownsSessionsOf'];

  /**
   * With `steps`, the index does not claim the store's records (`ownsSessionsOf`): on Redis the
   * guard then logs in in steps (reserve, move, confirm) as on a cluster, so that a race can be
   * held between them; a one-script login has no such gap.
   */
  constructor(inner: SessionIndex, options: { steps?: boolean } = {}) {
    this.inner = inner;
    if (options.steps) return;
    if (inner.endAll) this.endAll = inner.endAll.bind(inner);
    if (inner.ownsSessionsOf) this.ownsSessionsOf = inner.ownsSessionsOf.bind(inner);
  }

  async admit(principal: string, entry: SessionIndexEntry, limit?: SessionLimit, options?: AdmitOptions): Promise<AdmitResult> {
    const hold = options?.phase === 'confirm' ? this.holdConfirm : undefined;
    if (hold) this.holdConfirm = undefined;
    if (hold?.when === 'before') await hold.gate.pass();
    const result = await this.inner.admit(principal, entry, limit, options);
    if (hold?.when === 'after') await hold.gate.pass();
    return result;
  }

  remove(principal: string, sessionId: string): Promise<void> {
    return this.inner.remove(principal, sessionId);
  }

  /** The next renames: `lost` applies, then loses its reply; `refused` fails without applying. */
  readonly renameFaults: Array<'lost' | 'refused'> = [];

  async rename(principal: string, oldId: string, newId: string, lastSeenAt: number): Promise<void> {
    const fault = this.renameFaults.shift();
    if (fault === 'refused') throw connectionError();
    await this.inner.rename(principal, oldId, newId, lastSeenAt);
    if (fault === 'lost') throw new Error('the index did not answer in time');
  }

  touch(principal: string, sessionId: string, lastSeenAt: number): Promise<void> {
    return this.inner.touch(principal, sessionId, lastSeenAt);
  }

  async list(principal: string): Promise<SessionIndexEntry[]> {
    const entries = await this.inner.list(principal);
    const gate = this.holdList;
    if (gate) {
      this.holdList = undefined;
      await gate.pass();
    }
    return entries;
  }
}

// ---- backends ---------------------------------------------------------------------------------

interface Backend {
  name: string;
  /** Guard options (store and a held index over the backend's own), and a one-shot set failure. */
  create(): {
    options: Partial<SessionGuardOptions>;
    index: HeldIndex;
    failNextSetWhere(when: (sid: string, record: Record_) => boolean): void;
    /** Writes (set, destroy) that reached the store so far. */
    writes(): number;
  };
}

const MEMORY: Backend = {
  name: 'the MemoryStore',
  create() {
    const store = new FailingMemoryStore();
    const index = new HeldIndex(new MemorySessionIndex());
    return { options: { store, index }, index, failNextSetWhere: (when) => store.failNextSetWhere(when), writes: () => store.writes };
  },
};

const PLAIN: Backend = {
  name: 'a plain get/set/destroy store',
  create() {
    const store = new PlainStore();
    const index = new HeldIndex(new MemorySessionIndex());
    return {
      options: { store, index },
      index,
      failNextSetWhere: (when) => store.failNext('set', { when: (sid, record) => record !== undefined && when(sid, record) }),
      writes: () => store.calls.set + store.calls.destroy,
    };
  },
};

const BACKENDS = [MEMORY, PLAIN];

// ---- the app ----------------------------------------------------------------------------------

/** buildApp's routes plus a held logout and routes whose response goes out before res.end. */
function attackApp(options: Partial<SessionGuardOptions>, gate = new Gate()) {
  const built = buildApp(options, (app) => {
    app.post('/logout-held', async (req, res, next) => {
      try {
        await gate.pass();
        await guarded(req).logout();
        res.status(204).end();
      } catch (err) {
        next(err);
      }
    });
    // The same, answering with a stream (its status goes out before the end).
    app.post('/elevate-swallowed-streamed', requireAuth(), async (req, res) => {
      try {
        await guarded(req).elevate();
      } catch {
        req.session.cart = ['noted'];
      }
      res.setHeader('Content-Type', 'application/json');
      res.write('{"ok":');
      res.end('true}');
    });
    // An app that swallows a failed elevation, writes to the session and answers 200.
    app.post('/elevate-swallowed', requireAuth(), async (req, res) => {
      try {
        await guarded(req).elevate();
      } catch {
        req.session.cart = ['noted'];
      }
      res.json({ ok: true });
    });
    // A response streamed in parts (res.write, then res.end), as res.sendFile or SSE do.
    app.post('/cart-streamed', requireAuth(), (req, res) => {
      req.session.cart = ['streamed'];
      res.setHeader('Content-Type', 'application/json');
      res.write('{"ok":');
      res.end('true}');
    });
    // Headers written explicitly before the body.
    app.post('/cart-writehead', requireAuth(), (req, res) => {
      req.session.cart = ['writehead'];
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end('{"ok":true}');
    });
  });
  return { ...built, gate };
}

function tombstoneOf(reason: EndReason, sid: string) {
  return (id: string, record: Record_) => id === sid && isTombstone(record) && record.fixationGuardTombstone.reason === reason;
}

// ---- Redis ------------------------------------------------------------------------------------

const prefix = uniquePrefix('lifecycle-attacks');
let redis: RedisSessionStores | undefined;
let users = 0;
function freshUser(): string {
  return `mallory-victim-${++users}`;
}

before(async () => {
  redis = await connectedStores(prefix);
});

after(async () => {
  await redis?.close();
});

function redisBackend(options: { steps?: boolean } = {}): { options: Partial<SessionGuardOptions>; index: HeldIndex } {
  assert.ok(redis, 'Redis is connected');
  const index = new HeldIndex(redis.index, options);
  return { options: { store: redis.store, index, clock: new ManualClock() }, index };
}

// ================================================================================================

describe('lifecycle attacks that once broke an invariant', () => {
  describe('an eviction whose tombstone write fails leaves the evicted session listed (invariants 1 and 3)', () => {
    for (const backend of BACKENDS) {
      it(`on ${backend.name}, a login over maxSessionsPerUser whose eviction fails answers 503, and the session it failed to evict stays listed and revocable`, async () => {
        const { options, failNextSetWhere } = backend.create();
        const { app, guard, clock } = attackApp({ ...options, maxSessionsPerUser: 1 });
        const first = await login(app);
        clock.advance('1m');
        // The store drops exactly the write that would end the first session.
        failNextSetWhere(tombstoneOf('evicted', idOf(first)));
        const second = await loginWith(app, undefined, 'alice');
        assert.equal(second.status, 503, `the login answered ${second.status} ${JSON.stringify(second.body)}`);
        const live = await alive(app, [first]);
        const listed = await guard.listSessions('alice');
        assert.equal(
          listed.length,
          live.length,
          `${live.length} session(s) of alice still answer 200 (${shortIds(live)}) but ${listed.length} are listed: the failed eviction unindexed a live session`,
        );
        await guard.revokeSessions('alice');
        assert.deepEqual(await alive(app, [first]), [], 'revokeSessions("alice") reported success but the session survives it');
      });
    }
  });

  describe('an eviction racing a rotation of the evicted session (invariants 1 and 3)', () => {
    async function evictWhileElevating(app: App, index: HeldIndex, principal: string, clock: ManualClock) {
      const oldest = await login(app, principal);
      clock.advance('1m');
      const gate = new Gate();
      // The eviction has chosen its victim (the oldest session) but not yet ended it …
      index.holdConfirm = { gate, when: 'after' };
      const evicting = loginWith(app, undefined, principal).then((res) => res);
      await gate.arrived(1);
      // … when the victim's own tab elevates (or renews its id periodically).
      const elevated = setCookie(await post(app, '/elevate', oldest).expect(200));
      assert.ok(elevated, 'the elevation issued a new id');
      gate.open();
      const newest = await evicting;
      assert.equal(newest.status, 200, `the evicting login answered ${newest.status} ${JSON.stringify(newest.body)}`);
      return { oldest, elevated, newest: setCookie(newest) as string };
    }

    for (const backend of BACKENDS) {
      it(`on ${backend.name}, with maxSessionsPerUser 1 the evicted session does not live on under the id its elevation gave it`, async () => {
        const { options, index } = backend.create();
        const { app, guard, clock } = attackApp({ ...options, maxSessionsPerUser: 1 });
        const { elevated, newest } = await evictWhileElevating(app, index, 'alice', clock);
        const live = await alive(app, [elevated, newest]);
        const listed = await guard.listSessions('alice');
        assert.equal(listed.length, live.length, `${live.length} live (${shortIds(live)}) but ${listed.length} listed`);
        assert.deepEqual(await alive(app, [elevated]), [], 'the evicted session answers 200 under its elevated id');
      });
    }

    it('on Redis, with logins in steps and maxSessionsPerUser 1, the evicted session does not live on under the id its elevation gave it', async () => {
      const { options, index } = redisBackend({ steps: true });
      const { app, guard, clock } = attackApp({ ...options, maxSessionsPerUser: 1 });
      const principal = freshUser();
      const { elevated, newest } = await evictWhileElevating(app, index, principal, clock);
      const live = await alive(app, [elevated, newest]);
      assert.deepEqual(await alive(app, [elevated]), [], `the evicted session answers 200 under its elevated id; ${live.length} sessions alive with a limit of 1`);
      await guard.revokeSessions(principal);
    });

    it('on Redis, with one-script logins and maxSessionsPerUser 1, a login and an elevation of the oldest session at once leave one live, listed session', async () => {
      const { options } = redisBackend();
      const { app, guard, clock } = attackApp({ ...options, maxSessionsPerUser: 1 });
      const principal = freshUser();
      for (let round = 0; round < 10; round++) {
        const oldest = await login(app, principal);
        clock.advance('1m');
        const [evicting, elevating] = await Promise.all([loginWith(app, undefined, principal), post(app, '/elevate', oldest)]);
        assert.equal(evicting.status, 200, `the login answered ${evicting.status}`);
        // The elevation either ran first (and its id was evicted) or found its session ended.
        assert.ok(elevating.status === 200 || elevating.status === 401 || elevating.status === 409, `the elevation answered ${elevating.status}`);
        const cookies = [setCookie(evicting) as string, ...(setCookie(elevating) ? [setCookie(elevating) as string] : []), oldest];
        const live = await alive(app, cookies);
        assert.equal(live.length, 1, `${live.length} live sessions (${shortIds(live)}) with a limit of 1`);
        assert.equal((await guard.listSessions(principal)).length, 1);
        await guard.revokeSessions(principal);
      }
    });
  });

  describe('concurrent logins over maxSessionsPerUser (evictOldest)', () => {
    for (const backend of BACKENDS) {
      it(`on ${backend.name}, evictOldest with a limit of 1: two logins whose confirmations cross leave one session, not two`, async () => {
        const { options, index } = backend.create();
        const { app, guard } = attackApp({ ...options, maxSessionsPerUser: 1 });
        const gate = new Gate();
        // The first login has reserved its entry (it is the older one) and written its record;
        // its confirmation waits while a second login of the same user completes.
        index.holdConfirm = { gate, when: 'before' };
        const first = loginWith(app, undefined, 'alice').then((res) => res);
        await gate.arrived(1);
        const second = await loginWith(app, undefined, 'alice').expect(200);
        gate.open();
        const firstRes = await first;
        assert.equal(firstRes.status, 200);
        const cookies = [setCookie(firstRes) as string, setCookie(second) as string];
        const live = await alive(app, cookies);
        assert.equal(live.length, 1, `${live.length} sessions of alice answer 200 with maxSessionsPerUser 1 (${shortIds(live)})`);
        assert.ok((await guard.listSessions('alice')).length <= 1);
      });
    }
    it('on Redis, with logins in steps, evictOldest with a limit of 1: two logins whose confirmations cross both answer 200 and leave exactly one working session', async () => {
      const { options, index } = redisBackend({ steps: true });
      const { app, guard, audit } = attackApp({ ...options, maxSessionsPerUser: 1 });
      const principal = freshUser();
      const gate = new Gate();
      index.holdConfirm = { gate, when: 'before' };
      const first = loginWith(app, undefined, principal).then((res) => res);
      await gate.arrived(1);
      const second = await loginWith(app, undefined, principal).expect(200);
      gate.open();
      const firstRes = await first;
      assert.equal(firstRes.status, 200);
      const live = await alive(app, [setCookie(firstRes) as string, setCookie(second) as string]);
      const listed = await guard.listSessions(principal);
      assert.equal(
        live.length,
        1,
        `${live.length} of the two sessions whose logins answered 200 work with maxSessionsPerUser 1 (${listed.length} listed, ${audit.of('session_evicted').length} evictions): the login in flight was evicted before it answered, and its confirmation then evicted the other`,
      );
      await guard.revokeSessions(principal);
    });
  });

  describe('a logout racing a rotation of the same session (invariant 2)', () => {
    for (const backend of BACKENDS) {
      it(`on ${backend.name}, a logout that loaded the session before a parallel request renewed its id ends the renewed id too`, async () => {
        const { options } = backend.create();
        const gate = new Gate();
        const { app, clock } = attackApp({ ...options, rotateEvery: '1m' }, gate);
        const cookie = await login(app);
        clock.advance('50s'); // not yet due for renewal
        const loggingOut = post(app, '/logout-held', cookie).then((res) => res);
        await gate.arrived(1); // the logout loaded the session
        clock.advance('11s'); // now due: a parallel request of the page renews the id
        const renewed = setCookie(await me(app, cookie).expect(200));
        assert.ok(renewed, 'the parallel request renewed the id');
        gate.open();
        assert.equal((await loggingOut).status, 204, 'the logout reported success');
        const after = await me(app, renewed);
        assert.equal(after.status, 401, `after a successful logout the renewed id answers ${after.status} ${JSON.stringify(after.body)}`);
      });

      it(`on ${backend.name}, a logout that loaded the session before another tab elevated it ends the elevated id too`, async () => {
        const { options } = backend.create();
        const gate = new Gate();
        const { app } = attackApp(options, gate);
        const cookie = await login(app);
        const loggingOut = post(app, '/logout-held', cookie).then((res) => res);
        await gate.arrived(1);
        const elevated = setCookie(await post(app, '/elevate', cookie).expect(200));
        assert.ok(elevated);
        gate.open();
        assert.equal((await loggingOut).status, 204, 'the logout reported success');
        const after = await me(app, elevated);
        assert.equal(after.status, 401, `after a successful logout the elevated id answers ${after.status} ${JSON.stringify(after.body)}`);
      });
    }

    it('on Redis, a logout that loaded the session before another tab elevated it ends the elevated id too', async () => {
      const { options } = redisBackend();
      const gate = new Gate();
      const { app, guard } = attackApp(options, gate);
      const principal = freshUser();
      const cookie = await login(app, principal);
      const loggingOut = post(app, '/logout-held', cookie).then((res) => res);
      await gate.arrived(1);
      const elevated = setCookie(await post(app, '/elevate', cookie).expect(200));
      assert.ok(elevated);
      gate.open();
      assert.equal((await loggingOut).status, 204, 'the logout reported success');
      const after = await me(app, elevated);
      await guard.revokeSessions(principal);
      assert.equal(after.status, 401, `after a successful logout the elevated id answers ${after.status} ${JSON.stringify(after.body)}`);
    });
  });

  describe("a revocation racing another user's login on the same browser (invariant 3, no further)", () => {
    for (const backend of BACKENDS) {
      it(`on ${backend.name}, revoking alice while bob logs in over her session leaves bob's session alive`, async () => {
        const { options, index } = backend.create();
        const { app, guard } = attackApp(options);
        const alice = await login(app, 'alice');
        const gate = new Gate();
        index.holdList = gate; // the revocation has listed alice's sessions, not yet ended them …
        const revoking = guard.revokeSessions('alice');
        await gate.arrived(1);
        const bob = setCookie(await loginWith(app, alice, 'bob').expect(200)) as string; // … when bob logs in on her browser
        gate.open();
        await revoking;
        // Before: the revocation followed alice's old id to its successor, bob's new session, and ended it.
        await me(app, bob).expect(200);
        await me(app, alice).expect(401);
      });
    }
  });

  describe('a rotation whose index move landed but whose reply was lost (invariant 1)', () => {
    for (const backend of BACKENDS) {
      it(`on ${backend.name}, an elevation that answers 503 leaves the session it kept listed, so logging out everywhere still ends it`, async () => {
        const { options, index } = backend.create();
        const { app, guard } = attackApp(options);
        const cookie = await login(app);
        index.renameFaults.push('lost');
        const elevating = await post(app, '/elevate', cookie);
        assert.equal(elevating.status, 503, `the elevation answered ${elevating.status}`);
        assert.equal(setCookie(elevating), undefined, 'the failed elevation set no cookie');
        await me(app, cookie).expect(200);
        // Before: the entry had moved to the id the failed elevation ended; the live session was unlisted.
        assert.deepEqual((await index.list('alice')).map((entry) => entry.sessionId), [idOf(cookie)]);
        await guard.revokeSessions('alice');
        assert.deepEqual(await alive(app, [cookie]), [], 'revokeSessions("alice") reported success but the session survives it');
      });

      /** An elevation whose index move landed with its reply lost, and whose two put-backs failed: the entry waits under the new id. */
      async function elevationWaitingForPutBack(extra: Partial<SessionGuardOptions> = {}) {
        const { options, index } = backend.create();
        const built = attackApp({ ...options, ...extra });
        const cookie = await login(built.app);
        index.renameFaults.push('lost', 'refused', 'refused');
        assert.equal((await post(built.app, '/elevate', cookie)).status, 503);
        assert.equal(built.guard.store.unsettled, 1, 'the put-back waits for the index');
        const retried = async () => {
          for (let i = 0; i < 100 && built.guard.store.unsettled > 0; i++) await new Promise((resolve) => setTimeout(resolve, 0));
          assert.equal(built.guard.store.unsettled, 0);
        };
        return { ...built, index, cookie, retried };
      }

      it(`on ${backend.name}, when putting the entry back fails too, it goes back once the index answers again`, async () => {
        const { app, index, cookie, retried } = await elevationWaitingForPutBack();
        await me(app, cookie).expect(200); // a store call that succeeds: the retry runs at once
        await retried();
        assert.deepEqual((await index.list('alice')).map((entry) => entry.sessionId), [idOf(cookie)]);
      });

      it(`on ${backend.name}, logging out everywhere while the entry waits to go back ends the session it belongs to`, async () => {
        const { app, guard, cookie } = await elevationWaitingForPutBack();
        await guard.revokeSessions('alice');
        assert.deepEqual(await alive(app, [cookie]), [], 'revokeSessions("alice") reported success but the session survives it');
      });

      it(`on ${backend.name}, a logout while the entry waits to go back leaves no entry of it (a limit of 1 still admits the next login)`, async () => {
        const { app, index, cookie, retried } = await elevationWaitingForPutBack({ maxSessionsPerUser: 1, onSessionLimit: 'rejectLogin' });
        await post(app, '/logout', cookie).expect(204);
        await retried();
        assert.deepEqual(await index.list('alice'), [], 'the put-back moved the entry onto the logged-out id');
        await loginWith(app, undefined, 'alice').expect(200);
      });

      it(`on ${backend.name}, another user logging in on the same browser while alice's entry waits to go back keeps his session out of alice's index and her revocation`, async () => {
        const { app, guard, index, cookie, retried } = await elevationWaitingForPutBack();
        const bob = setCookie(await loginWith(app, cookie, 'bob').expect(200)) as string;
        // Before: revoking alice followed her old id's successor, which is bob's session now.
        await guard.revokeSessions('alice');
        await me(app, bob).expect(200);
        await retried();
        assert.deepEqual(await index.list('alice'), [], "the put-back moved alice's entry onto bob's session");
        await me(app, bob).expect(200);
      });

      it(`on ${backend.name}, a rotation that succeeds while the entry waits to go back is where the entry goes`, async () => {
        const { app, guard, index, cookie, retried } = await elevationWaitingForPutBack();
        const elevated = setCookie(await post(app, '/elevate', cookie).expect(200)) as string;
        await retried();
        assert.deepEqual((await index.list('alice')).map((entry) => entry.sessionId), [idOf(elevated)]);
        await guard.revokeSessions('alice');
        assert.deepEqual(await alive(app, [elevated]), [], 'the elevated session survived revokeSessions');
      });
    }
  });

  describe('a rotation whose new record was written and whose next two writes failed (invariant 1)', () => {
    it('on a plain get/set/destroy store, the never-sent new id does not live on unlisted when ending it failed too', async () => {
      const store = new PlainStore();
      const { app } = attackApp({ store, index: new MemorySessionIndex() });
      const cookie = await login(app);
      const tombstoned = (reason: EndReason) => (_sid: string, record: Record_ | undefined) => record !== undefined && isTombstone(record) && record.fixationGuardTombstone.reason === reason;
      store.failNext('set', { when: tombstoned('rotated') }); // the old id's tombstone: refused, nothing written
      store.failNext('set', { when: tombstoned('destroyed') }); // ending the new record: refused too
      assert.equal((await post(app, '/elevate', cookie)).status, 503);
      // Before: "refused" said nothing landed, so nothing settled the new id: a live session nobody held.
      assert.deepEqual(store.liveIds(), [idOf(cookie)], 'only the old id lives');
    });
  });

  describe("a rotation whose store move landed but whose index move failed (invariant 1)", () => {
    /** The records of `principal` that are live in `store` (any store with `all`). */
    async function liveOf(store: { all(callback: (err: unknown, records?: unknown) => void): void }, principal: string): Promise<number> {
      const records = await new Promise<unknown>((resolve, reject) => store.all((err, all) => (err ? reject(err) : resolve(all))));
      const list = Array.isArray(records) ? records : Object.values(records as object);
      return list.filter((record) => !isTombstone(record) && (record as { fixationGuard?: { principal?: string } }).fixationGuard?.principal === principal).length;
    }

    async function elevateWithIndexDown(options: Partial<SessionGuardOptions>, index: HeldIndex, principal: string, store: Parameters<typeof liveOf>[0]) {
      const { app } = attackApp(options);
      const cookie = await login(app, principal);
      index.renameFaults.push('refused');
      const elevating = await post(app, '/elevate', cookie);
      assert.equal(elevating.status, 503, `the elevation answered ${elevating.status}`);
      assert.equal(setCookie(elevating), undefined, 'the failed elevation set no cookie');
      // Before: the store had moved the session to the new id, which nobody was told; it lived
      // on unlisted (logging out everywhere missed it) until its idle timeout.
      assert.equal(await liveOf(store, principal), 0, 'a session lives on under the id the failed elevation never sent');
    }

    it('on a MemoryStore with atomic extensions and an index of its own, the id the elevation never sent is ended', async () => {
      const store = new AtomicMemoryStore();
      const index = new HeldIndex(new MemorySessionIndex());
      await elevateWithIndexDown({ store, index }, index, 'alice', store);
    });

    it('on Redis with an index of another deployment, the id the elevation never sent is ended', async () => {
      const { options, index } = redisBackend({ steps: true });
      await elevateWithIndexDown(options, index, freshUser(), redis!.store as never);
    });

    it("on Redis with its own index, the script's move is the only index write: a failing index call after it cannot log the user out", async () => {
      const { options, index } = redisBackend();
      const { app, clock } = attackApp({ ...options, rotateEvery: '1m' });
      const cookie = await login(app, freshUser());
      index.renameFaults.push('refused');
      clock.advance('2m');
      const renewed = setCookie(await me(app, cookie).expect(200));
      assert.ok(renewed && idOf(renewed) !== idOf(cookie), 'the renewal moved the session');
      assert.deepEqual(index.renameFaults, ['refused'], 'no index call after the script');
      await me(app, renewed).expect(200);
    });
  });

  describe('an elevation whose tombstone of the old id landed but whose reply was lost (invariant 5)', () => {
    it('answers 503 (not a 409 from saving the session over the tombstone), and both ids are ended', async () => {
      const store = new FlakyStore();
      const { app, clock } = attackApp({ store, index: new MemorySessionIndex() });
      const cookie = await login(app);
      clock.advance('1m'); // the session's activity is due to be saved with this request
      store.failNext('set', { after: 1, mode: 'lost' }); // the new record lands; then the old id's tombstone, its reply lost
      const res = await post(app, '/elevate', cookie);
      assert.equal(res.status, 503, `the elevation answered ${res.status} ${JSON.stringify(res.body)}`);
      assert.equal(setCookie(res), undefined);
      await me(app, cookie).expect(401);
    });

    it('turns a 200 that an app answers after swallowing that failure, with the session changed, into the 503', async () => {
      const store = new FlakyStore();
      const { app } = attackApp({ store, index: new MemorySessionIndex() });
      const cookie = await login(app);
      store.failNext('set', { after: 1, mode: 'lost' });
      const res = await post(app, '/elevate-swallowed', cookie);
      assert.equal(res.status, 503, `answered ${res.status} ${JSON.stringify(res.body)} for a session write that was not saved`);
      await me(app, cookie).expect(401);
    });

    it('cuts off a streamed answer that an app sends after swallowing that failure, with the session changed', async () => {
      const store = new FlakyStore();
      const { app } = attackApp({ store, index: new MemorySessionIndex() });
      const cookie = await login(app);
      store.failNext('set', { mode: 'lost' }); // the new record's write: applied, its reply lost
      // Before: a complete 200 while the change to the session was dropped.
      await assert.rejects(post(app, '/elevate-swallowed-streamed', cookie).then((res) => res), 'a finished 200 for a session write that was not saved');
      const after = await https(request(app).get('/session-data')).set('Cookie', cookie).expect(200);
      assert.equal(after.body.cart, null);
    });

    it('saves what an app writes after swallowing a failure that changed nothing (a refused write)', async () => {
      const store = new FlakyStore();
      const { app } = attackApp({ store, index: new MemorySessionIndex() });
      const cookie = await login(app);
      store.failNext('set'); // the new record: refused, nothing written
      await post(app, '/elevate-swallowed', cookie).expect(200);
      const after = await https(request(app).get('/session-data')).set('Cookie', cookie).expect(200);
      assert.deepEqual(after.body.cart, ['noted']);
    });
  });

  describe('a logout whose tombstone landed but whose reply was lost (invariant 5)', () => {
    it('answers 503 (not a 409 from saving the session over its own tombstone), keeps the cookie, and the logout holds', async () => {
      const store = new FlakyStore();
      const { app, clock } = attackApp({ store, index: new MemorySessionIndex() });
      const cookie = await login(app);
      clock.advance('1m'); // the session's activity is due to be saved with this request
      store.failNext('set', { mode: 'lost' });
      const res = await post(app, '/logout', cookie);
      // Before: the tombstone landed, then the request saved its session's activity, found the
      // tombstone and answered 409 "changed in another request" over the logout's failure.
      assert.equal(res.status, 503, `the logout answered ${res.status} ${JSON.stringify(res.body)}`);
      assert.equal(setCookie(res), undefined, 'the cookie stays for a retry');
      await me(app, cookie).expect(401);
      await post(app, '/logout', cookie).expect(204);
    });
  });

  describe("a request whose session was renewed and whose own save then failed (invariant 1, one live session per device)", () => {
    for (const backend of BACKENDS) {
      it(`on ${backend.name}, the 503 still carries the renewed id, so the session is not left live with nobody holding it`, async () => {
        const { options, failNextSetWhere } = backend.create();
        const { app, clock } = attackApp({ ...options, rotateEvery: '1m' });
        const cookie = await login(app);
        clock.advance('2m'); // due for renewal, and past the grace of any earlier one
        failNextSetWhere((_sid, record) => (record as { visits?: number }).visits === 1);
        const res = await https(request(app).get('/')).set('Cookie', cookie);
        assert.equal(res.status, 503, `the visit answered ${res.status}`);
        const renewed = setCookie(res);
        // Before: no cookie; the old id was a tombstone and the renewed session lived on unheld.
        assert.ok(renewed && idOf(renewed) !== idOf(cookie), 'the 503 names the renewed id');
        clock.advance('1m');
        const after = await me(app, renewed).expect(200);
        assert.equal(after.body.user, 'alice');
      });

      it(`on ${backend.name}, a logout everywhere that fails after the renewal answers 503 with the renewed id too`, async () => {
        const { options, failNextSetWhere } = backend.create();
        const { app, clock } = attackApp({ ...options, rotateEvery: '1m' });
        const cookie = await login(app);
        clock.advance('2m');
        failNextSetWhere((_sid, record) => isTombstone(record) && record.fixationGuardTombstone.reason === 'logout_everywhere');
        const res = await post(app, '/logout-all', cookie);
        assert.equal(res.status, 503, `logout everywhere answered ${res.status}`);
        const renewed = setCookie(res);
        assert.ok(renewed && idOf(renewed) !== idOf(cookie), 'the 503 names the renewed id');
        await me(app, renewed).expect(200); // nothing was ended: the session is where the cookie says
      });
    }
  });

  describe('a request that loses its periodic renewal to a parallel elevation of the same cookie (no orphaned session)', () => {
    it('answers 409 with no cookie, so the elevated session\'s cookie stands in the browser whichever answer arrives last', async () => {
      const { app, guard, clock } = buildApp({ rotateEvery: '1m' });
      const cookie = await login(app);
      clock.advance('2m'); // the id is due for renewal
      // The first renewal (the GET's) waits until the parallel elevation is done.
      const inner = guard.store.inner as unknown as { rename: (...args: unknown[]) => Promise<void> };
      const rename = inner.rename.bind(inner);
      const gate = new Gate();
      let calls = 0;
      inner.rename = async (...args: unknown[]) => {
        if (calls++ === 0) await gate.pass();
        return rename(...args);
      };
      const reading = me(app, cookie).then((res) => res);
      await gate.arrived(1);
      const elevated = setCookie(await post(app, '/elevate', cookie).expect(200));
      assert.ok(elevated, 'the elevation renewed, then rotated the id');
      gate.open();
      const lost = await reading;
      // Before: 401 with a fresh anonymous session's cookie, which replaced the elevated one
      // when it arrived last and left the elevated session live with nobody holding it.
      assert.equal(lost.status, 409, `the losing request answered ${lost.status} ${JSON.stringify(lost.body)}`);
      assert.equal(setCookie(lost), undefined, 'the losing request set no cookie');
      await me(app, elevated).expect(200);
    });
  });

  describe('a revocation that follows successors gives up after a fixed number of rounds (invariant 3)', () => {
    it('on a plain store, revokeSessions does not report success while the last id of a rotation chain is alive', async () => {
      const { options, index } = PLAIN.create();
      const { app, guard } = attackApp(options);
      let cookie = await login(app);
      const gate = new Gate();
      // A slow index (a remote one): the revocation has listed the session, then waits.
      index.holdList = gate;
      const revoking = guard.revokeSessions('alice').then(
        (n) => ({ ok: true as const, n }),
        (error: unknown) => ({ ok: false as const, error }),
      );
      await gate.arrived(1);
      // Meanwhile the session rotates eight times (elevations): a chain of eight successors.
      for (let i = 0; i < 8; i++) cookie = setCookie(await post(app, '/elevate', cookie).expect(200)) as string;
      gate.open();
      const outcome = await revoking;
      const live = await alive(app, [cookie]);
      assert.ok(
        !outcome.ok || live.length === 0,
        `revokeSessions resolved ${outcome.ok ? outcome.n : ''} (success) while the session answers 200 under ${shortIds(live)}`,
      );
    });
  });

  describe('every write of a request is saved before its response (invariant 5)', () => {
    for (const backend of BACKENDS) {
      for (const route of ['/cart-streamed', '/cart-writehead']) {
        it(`on ${backend.name}, a session write whose save fails never answers 200, even when the route sends headers before res.end (${route})`, async () => {
          const { options, failNextSetWhere } = backend.create();
          const { app } = attackApp(options);
          const cookie = await login(app);
          failNextSetWhere((_sid, record) => Array.isArray(record.cart));
          // The headers are out: the guard cuts the response off instead of completing it.
          const res = await post(app, route, cookie).then(
            (r) => r,
            () => ({ status: 0, text: '(connection cut off)' }),
          );
          const saved = await https(request(app).get('/session-data')).set('Cookie', cookie).expect(200);
          assert.ok(
            res.status !== 200 || saved.body.cart !== null,
            `answered ${res.status} ${JSON.stringify(res.text)} although the session write was lost (cart is ${JSON.stringify(saved.body.cart)})`,
          );
        });
      }
    }
  });
});

// ================================================================================================

describe('lifecycle attacks that did not get through (regression)', () => {
  for (const backend of BACKENDS) {
    describe(`on ${backend.name}`, () => {
      it('a periodically renewed id whose successor was revoked within the grace answers 401 and resolves to nothing', async () => {
        const { options } = backend.create();
        const { app, guard, clock } = attackApp({ ...options, rotateEvery: '1m' });
        const cookie = await login(app);
        clock.advance('61s');
        const renewed = setCookie(await me(app, cookie).expect(200));
        assert.ok(renewed);
        assert.ok((await guard.revokeSessions('alice')) >= 1);
        const old = await me(app, cookie);
        assert.equal(old.status, 401);
        assert.equal(setCookie(old), undefined, 'no cookie for the revoked successor');
        await me(app, renewed).expect(401);
      });

      it('a periodically renewed id whose successor logged out within the grace answers 401', async () => {
        const { options } = backend.create();
        const { app, clock } = attackApp({ ...options, rotateEvery: '1m' });
        const cookie = await login(app);
        clock.advance('61s');
        const renewed = setCookie(await me(app, cookie).expect(200)) as string;
        await post(app, '/logout', renewed).expect(204);
        await me(app, cookie).expect(401);
        await me(app, renewed).expect(401);
      });

      it('a pre-login id renewed periodically never resolves, within the grace, to the session the victim then logged in on', async () => {
        const { options } = backend.create();
        const { app, clock } = attackApp({ ...options, rotateEvery: '1m' });
        const planted = await anonymousCookie(app);
        clock.advance('61s');
        // The victim's request renews the planted id; the victim logs in on the successor.
        const renewed = setCookie(await https(request(app).get('/')).set('Cookie', planted).expect(200)) as string;
        assert.notEqual(idOf(renewed), idOf(planted));
        const victim = await login(app, 'alice', renewed);
        // The attacker, still within the grace, presents the planted id and the renewed one.
        for (const cookie of [planted, renewed]) {
          const res = await me(app, cookie);
          assert.equal(res.status, 401);
          const issued = setCookie(res);
          assert.ok(issued === undefined || idOf(issued) !== idOf(victim));
        }
        await me(app, victim).expect(200);
      });

      it('a logged-in request held open across logout-everywhere cannot write, rotate or log in on the dead id', async () => {
        const { options } = backend.create();
        const gate = new Gate();
        const { app } = buildApp(options, (a) => {
          a.post('/held-write-then-login', requireAuth(), async (req, res, next) => {
            try {
              await gate.pass();
              req.session.cart = ['late'];
              await guarded(req).login('alice');
              res.json({ ok: true });
            } catch (err) {
              next(err);
            }
          });
        });
        const a = await login(app);
        const b = await login(app);
        const held = post(app, '/held-write-then-login', a).then((res) => res);
        await gate.arrived(1);
        await post(app, '/logout-all', b).expect(200);
        gate.open();
        const res = await held;
        assert.equal(res.status, 409, `${res.status} ${JSON.stringify(res.body)}`);
        assert.equal(res.body.error.code, 'SESSION_CONFLICT');
        const issued = setCookie(res);
        assert.deepEqual(await alive(app, [a, b, ...(issued ? [issued] : [])]), []);
      });

      it('a correctly signed cookie for a logged-out id, and a badly signed one, write nothing and authenticate nothing', async () => {
        const { options, writes } = backend.create();
        const { app } = attackApp(options);
        const cookie = await login(app);
        await post(app, '/logout', cookie).expect(204);
        const writesBefore = writes();
        const forgedBadSig = `__Host-sid=${encodeURIComponent(`s:${idOf(cookie)}.AAAA`)}`;
        for (const presented of [cookie, signedCookie(idOf(cookie), '__Host-sid', SECRET), forgedBadSig]) {
          const res = await me(app, presented);
          assert.equal(res.status, 401);
          assert.equal(setCookie(res), undefined);
          await post(app, '/logout', presented).expect(204);
        }
        assert.equal(writes(), writesBefore, 'requests presenting a dead id wrote to the store');
      });
    });
  }
});
