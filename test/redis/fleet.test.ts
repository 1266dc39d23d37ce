/**
 * Two app instances (two Express apps, each with its own guard and its own Redis client) in
 * front of one Redis: every guarantee of the guard must hold across them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ManualClock, type RotationStrategy, type SessionGuardOptions } from '../../src/index.js';
import type { RedisSessionStores } from '../../src/redis/index.js';
import { anonymousCookie, buildApp, https, idOf, loginWith, me, request, setCookie, signIn, type TestApp } from '../helpers.js';
import { connectedStores, uniquePrefix } from './support.js';

const prefix = uniquePrefix('fleet');
let redisA: RedisSessionStores;
let redisB: RedisSessionStores;

before(async () => {
  redisA = await connectedStores(prefix, { pendingGrace: '5s' });
  redisB = await connectedStores(prefix, { pendingGrace: '5s' });
});

after(async () => {
  await redisA.close();
  await redisB.close();
});

/** Instances A and B of one deployment: same secret, same Redis, same wall clock. */
function fleet(options: Partial<SessionGuardOptions> = {}, extra?: Parameters<typeof buildApp>[1]): { a: TestApp; b: TestApp } {
  const clock = new ManualClock();
  return {
    a: buildApp({ store: redisA.store, index: redisA.index, clock, ...options }, extra),
    b: buildApp({ store: redisB.store, index: redisB.index, clock, ...options }, extra),
  };
}



let users = 0;
/** A user name no other test uses (the index is per principal and shared by the file). */
function freshUser(): string {
  return `user-${++users}-${process.pid}`;
}

describe('fleet on Redis: two app instances', () => {
  it(
    'a login on a request with no stored session yet (no cookie) works on the Redis store',
    async () => {
      const { a, b } = fleet();
      const cookie = setCookie(await loginWith(a.app, undefined, freshUser()).expect(200)) as string;
      await me(b.app, cookie).expect(200);
    },
  );

  it('a session logged in on A works on B, with its data', async () => {
    const { a, b } = fleet();
    const anon = await anonymousCookie(a.app);
    await https(request(b.app).post('/cart')).set('Cookie', anon).send({ item: 'book' }).expect(200);
    const user = freshUser();
    const cookie = setCookie(await loginWith(a.app, anon, user).expect(200)) as string;
    assert.deepEqual((await me(b.app, cookie).expect(200)).body, { user, privilege: null });
    const data = await https(request(b.app).get('/session-data')).set('Cookie', cookie).expect(200);
    assert.deepEqual(data.body.cart, ['book'], 'changeSessionId carried the cart through Redis');
  });

  it('an id rotated on A is dead on B at once, and the new one works on B', async () => {
    const { a, b } = fleet();
    const user = freshUser();
    const login = setCookie(await signIn(a.app, user)) as string;
    const elevated = setCookie(await https(request(a.app).post('/elevate')).set('Cookie', login).expect(200)) as string;
    assert.notEqual(idOf(elevated), idOf(login));
    const stale = await me(b.app, login).expect(401);
    assert.equal(stale.body.error.code, 'SESSION_ROTATED');
    assert.deepEqual((await me(b.app, elevated).expect(200)).body, { user, privilege: 'admin' });
    assert.equal(b.audit.of('rotated_session_id_presented').length, 1);
  });

  it('logout on B kills the session on A', async () => {
    const { a, b } = fleet();
    const cookie = setCookie(await signIn(a.app, freshUser())) as string;
    await https(request(b.app).post('/logout')).set('Cookie', cookie).expect(204);
    assert.equal((await me(a.app, cookie).expect(401)).body.error.code, 'SESSION_LOGGED_OUT');
  });

  it('logout-all on B ends every session of the user, including those created on A', async () => {
    const { a, b } = fleet();
    const user = freshUser();
    const onA1 = setCookie(await signIn(a.app, user)) as string;
    const onA2 = setCookie(await signIn(a.app, user)) as string;
    const onB = setCookie(await signIn(b.app, user)) as string;
    const other = setCookie(await signIn(a.app, freshUser())) as string;
    const res = await https(request(b.app).post('/logout-all')).set('Cookie', onB).expect(200);
    assert.equal(res.body.ended, 3);
    for (const cookie of [onA1, onA2]) assert.equal((await me(a.app, cookie).expect(401)).body.error.code, 'SESSION_LOGGED_OUT');
    await me(b.app, onB).expect(401);
    await me(a.app, other).expect(200);
    assert.deepEqual(await redisA.index.list(user), []);
  });

  it('maxSessionsPerUser (evictOldest) holds across instances and the evicted session learns why', async () => {
    const { a, b } = fleet({ maxSessionsPerUser: 2 });
    const user = freshUser();
    const first = setCookie(await signIn(a.app, user)) as string;
    a.clock.advance('1s');
    const second = setCookie(await signIn(b.app, user)) as string;
    a.clock.advance('1s');
    const third = setCookie(await signIn(a.app, user)) as string;
    const evicted = await me(b.app, first).expect(401);
    assert.equal(evicted.body.error.code, 'SESSION_EVICTED');
    await me(b.app, second).expect(200);
    await me(b.app, third).expect(200);
    assert.equal((await redisB.index.list(user)).length, 2);
    assert.equal(a.audit.of('session_evicted').length, 1);
  });

  it('maxSessionsPerUser (rejectLogin) refuses a login on B when A holds the limit', async () => {
    const { a, b } = fleet({ maxSessionsPerUser: 1, onSessionLimit: 'rejectLogin' });
    const user = freshUser();
    const first = setCookie(await signIn(a.app, user)) as string;
    const refused = await signIn(b.app, user, 409);
    assert.equal(refused.body.error.code, 'SESSION_LIMIT_REACHED');
    await me(b.app, first).expect(200);
  });

  it('parallel logins of one user on both instances never exceed the limit', async () => {
    const { a, b } = fleet({ maxSessionsPerUser: 2 });
    const user = freshUser();
    const anonymous = await Promise.all(Array.from({ length: 8 }, (_, i) => anonymousCookie((i % 2 ? a : b).app)));
    const responses = await Promise.all(anonymous.map((cookie, i) => loginWith((i % 2 ? a : b).app, cookie, user)));
    // A login whose freshly admitted id is evicted by a concurrent one before it finishes fails
    // closed (see the report on GuardedStore's error mapping); none may answer 500.
    for (const res of responses) assert.ok([200, 409, 503].includes(res.status), `status ${res.status}`);
    let live = 0;
    for (const res of responses) {
      const cookie = setCookie(res);
      if (res.status === 200 && cookie && (await me(a.app, cookie)).status === 200) live++;
    }
    assert.ok(live >= 1 && live <= 2, `${live} live sessions`);
    assert.equal((await redisA.index.list(user)).length, live);
  });

  it('listSessions and revokeSessions on one instance see and end sessions of both', async () => {
    const { a, b } = fleet();
    const user = freshUser();
    const onA = setCookie(await signIn(a.app, user)) as string;
    const onB = setCookie(await signIn(b.app, user)) as string;
    assert.equal((await a.guard.listSessions(user)).length, 2);
    assert.equal(await b.guard.revokeSessions(user), 2);
    assert.equal((await me(a.app, onA).expect(401)).body.error.code, 'SESSION_REVOKED');
    await me(b.app, onB).expect(401);
  });

  it('a request on B that loaded the id before A rotated it cannot bring the old id back when it saves', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let loaded!: () => void;
    const hasLoaded = new Promise<void>((resolve) => (loaded = resolve));
    const { a, b } = fleet({}, (app) => {
      app.post('/slow-write', async (req, res) => {
        loaded();
        await gate;
        req.session.theme = 'late';
        res.json({ ok: true });
      });
    });
    const login = setCookie(await signIn(a.app, freshUser())) as string;
    const slow = https(request(b.app).post('/slow-write')).set('Cookie', login).then((res) => res);
    await hasLoaded;
    const rotated = setCookie(await https(request(a.app).post('/elevate')).set('Cookie', login).expect(200)) as string;
    release();
    await slow;
    const raw = await b.guard.store.readRaw(idOf(login));
    assert.ok(raw && 'fixationGuardTombstone' in raw, 'the old id still holds its tombstone');
    await me(a.app, login).expect(401);
    await me(a.app, rotated).expect(200);
    assert.equal(b.audit.of('resurrection_blocked').length, 1);
  });
});

describe('fleet on Redis: the fixation attack, for every strategy', () => {
  const rotating: RotationStrategy[] = ['newSession', 'migrateSession', 'changeSessionId'];
  for (const strategy of rotating) {
    it(`${strategy}: a pre-login id planted from A is worthless after the victim logs in on B`, async () => {
      const { a, b } = fleet({ strategy });
      const planted = await anonymousCookie(a.app);
      const victim = setCookie(await loginWith(b.app, planted, freshUser()).expect(200)) as string;
      assert.ok(victim);
      assert.notEqual(idOf(victim), idOf(planted));
      for (const instance of [a, b]) {
        const attacker = await me(instance.app, planted).expect(401);
        assert.equal(attacker.body.error.code, 'SESSION_ROTATED');
      }
      await me(a.app, victim).expect(200);
      const raw = await a.guard.store.readRaw(idOf(planted));
      assert.equal((raw as { fixationGuardTombstone?: { reason: string } }).fixationGuardTombstone?.reason, 'rotated');
    });
  }

  it('none: the same attack succeeds across the fleet (the control that proves the test can fail)', async () => {
    const { a, b } = fleet({ strategy: 'none', dangerouslyAllowSessionFixation: true });
    const planted = await anonymousCookie(a.app);
    const user = freshUser();
    await loginWith(b.app, planted, user).expect(200);
    assert.equal((await me(a.app, planted).expect(200)).body.user, user);
  });
});
