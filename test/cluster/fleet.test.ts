/**
 * Two app instances on a real three-primary Redis Cluster (REDIS_CLUSTER_URLS, started by
 * scripts/run-tests.ts), key layout `spread`: anonymous sessions spread over the shards, each
 * user's sessions next to their index, a login moved across slots — and every guarantee of the
 * fleet still holds.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isTombstone, ManualClock, type SessionGuardOptions } from '../../src/index.js';
import { createRedisClusterSessionStores, SLOT_TAG_LENGTH, type RedisClusterSessionStores } from '../../src/redis/index.js';
import { anonymousCookie, buildApp, https, idOf, loginWith, me, request, setCookie, signIn, type TestApp } from '../helpers.js';
import { clusterStores, clusterUrls, slotOf, slotOwners, TAG_SECRET, uniqueSpreadPrefix } from './support.js';

const prefix = uniqueSpreadPrefix('cluster-fleet');
let redisA: RedisClusterSessionStores;
let redisB: RedisClusterSessionStores;

before(async () => {
  redisA = await clusterStores(prefix, { pendingGrace: 5_000 });
  redisB = await clusterStores(prefix, { pendingGrace: 5_000 });
  // Every test builds its own guards over the two shared stores.
  for (const r of [redisA, redisB]) r.store.setMaxListeners(50);
});

after(async () => {
  await redisA.close();
  await redisB.close();
});

function fleet(options: Partial<SessionGuardOptions> = {}): { a: TestApp; b: TestApp } {
  const clock = new ManualClock();
  return {
    a: buildApp({ store: redisA.store, index: redisA.index, clock, ...options }),
    b: buildApp({ store: redisB.store, index: redisB.index, clock, ...options }),
  };
}



let users = 0;
function freshUser(): string {
  return `cluster-user-${++users}-${process.pid}`;
}

describe('fleet on a Redis Cluster (spread key layout)', () => {
  it('spreads anonymous sessions over all three primaries, and keeps a user\'s sessions and index in one slot', async () => {
    const { a, b } = fleet();
    const owner = await slotOwners(redisA);
    const shards = new Set<string>();
    for (let i = 0; i < 24; i++) shards.add(owner(slotOf(redisA.store.keys.session(idOf(await anonymousCookie(i % 2 ? a.app : b.app))))));
    assert.equal(shards.size, 3, `24 anonymous sessions landed on ${shards.size} shard(s)`);

    const user = freshUser();
    const ids = [idOf(setCookie(await signIn(a.app, user)) as string), idOf(setCookie(await signIn(b.app, user)) as string)];
    const slot = slotOf(redisA.index.keys.index(user));
    assert.equal(slotOf(redisA.index.keys.meta(user)), slot);
    for (const id of ids) assert.equal(slotOf(redisA.store.keys.session(id)), slot, 'an authenticated session sits in its index\'s slot');
    // The id carries a keyed hash of the principal, never the principal itself.
    for (const id of ids) {
      assert.ok(!id.includes(user));
      assert.ok(id.length >= SLOT_TAG_LENGTH + 43, 'the placement tag comes on top of a full 256-bit random id');
    }
    assert.equal((await redisB.index.list(user)).length, 2);
  });

  it('logs in on A (a move across slots) and serves on B, with the anonymous data carried and the old id dead', async () => {
    const { a, b } = fleet();
    const anon = await anonymousCookie(a.app);
    await https(request(b.app).post('/cart')).set('Cookie', anon).send({ item: 'book' }).expect(200);
    const user = freshUser();
    const cookie = setCookie(await loginWith(a.app, anon, user).expect(200)) as string;
    assert.notEqual(slotOf(redisA.store.keys.session(idOf(anon))), slotOf(redisA.store.keys.session(idOf(cookie))), 'the login crossed slots');
    assert.deepEqual((await me(b.app, cookie).expect(200)).body, { user, privilege: null });
    assert.deepEqual((await https(request(b.app).get('/session-data')).set('Cookie', cookie).expect(200)).body.cart, ['book']);
    // The pre-login id is a tombstone naming its successor: dead on every instance.
    const old = await redisB.store.get(idOf(anon));
    assert.ok(isTombstone(old) && old.fixationGuardTombstone.successor === idOf(cookie));
    const stale = await https(request(b.app).get('/session-data')).set('Cookie', anon).expect(200);
    assert.equal(stale.body.cart, null, 'the old cookie gets a fresh anonymous session, not the user\'s');
    await me(b.app, anon).expect(401);
  });

  it('an elevation on B rotates within the user\'s slot, and the old id is dead on A', async () => {
    const { a, b } = fleet();
    const user = freshUser();
    const login = setCookie(await signIn(a.app, user)) as string;
    const elevated = setCookie(await https(request(b.app).post('/elevate')).set('Cookie', login).expect(200)) as string;
    assert.equal(slotOf(redisA.store.keys.session(idOf(elevated))), slotOf(redisA.store.keys.session(idOf(login))));
    assert.equal((await me(a.app, login).expect(401)).body.error.code, 'SESSION_ROTATED');
    assert.deepEqual((await me(a.app, elevated).expect(200)).body, { user, privilege: 'admin' });
    assert.deepEqual((await redisA.index.list(user)).map((e) => e.sessionId), [idOf(elevated)]);
  });

  it('two logins of one anonymous session on A and B at once: one succeeds, the other gets 409 and leaves nothing behind', async () => {
    for (let round = 0; round < 5; round++) {
      const { a, b } = fleet();
      const anon = await anonymousCookie(a.app);
      const user = freshUser();
      const [ra, rb] = await Promise.all([loginWith(a.app, anon, user), loginWith(b.app, anon, user)]);
      const statuses = [ra.status, rb.status].sort();
      assert.deepEqual(statuses, [200, 409], `round ${round}: ${statuses.join(', ')}`);
      const winner = setCookie(ra.status === 200 ? ra : rb) as string;
      const listed = (await redisA.index.list(user)).map((e) => e.sessionId);
      assert.deepEqual(listed, [idOf(winner)], 'one successor, one index entry');
      await me(b.app, winner).expect(200);
    }
  });

  it('a move across slots gives a pre-login id one successor: written naively (write new, tombstone old) two concurrent logins both win; through rename one is refused and leaves nothing', async () => {
    const principal = freshUser();
    const rec = (extra: Record<string, unknown> = {}) => ({ cookie: { originalMaxAge: 60_000, expires: new Date(Date.now() + 60_000).toISOString(), httpOnly: true, path: '/' }, ...extra }) as any;
    const mint = (n: number) => redisA.store.sessionIdFor(principal, `${n}-${'r'.repeat(42)}`);

    // The attack on a naive move: both requests write their successor, both tombstone the source.
    const naive = `naive-pre-login-id-${process.pid}-${'n'.repeat(20)}`;
    await redisA.store.guardedSet(naive, rec());
    await Promise.all([1, 2].map(async (n) => {
      await (n === 1 ? redisA : redisB).store.guardedSet(mint(n), rec({ fixationGuard: { principal } }));
      await (n === 1 ? redisA : redisB).store.tombstone(naive, 'rotated', Date.now(), 60_000);
    }));
    const forked = await Promise.all([1, 2].map(async (n) => await redisA.store.get(mint(n))));
    assert.equal(forked.filter((r) => r && !isTombstone(r)).length, 2, 'the naive move forked the session');

    // The store's move: the old id is tombstoned only while live, and the loser ends its record.
    const source = `real-pre-login-id-${process.pid}-${'m'.repeat(20)}`;
    await redisA.store.guardedSet(source, rec());
    const outcomes = await Promise.allSettled([3, 4].map((n) => (n === 3 ? redisA : redisB).store.rename(source, mint(n), rec({ fixationGuard: { principal } }), Date.now(), 60_000)));
    assert.deepEqual(outcomes.map((o) => o.status).sort(), ['fulfilled', 'rejected']);
    const rejected = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult;
    assert.equal(rejected.reason.code, 'SESSION_CONFLICT');
    const live = (await Promise.all([3, 4].map(async (n) => await redisA.store.get(mint(n))))).filter((r) => r && !isTombstone(r));
    assert.equal(live.length, 1, 'one successor; the loser\'s record is a tombstone');
    const old = await redisA.store.get(source);
    assert.ok(isTombstone(old));
  });

  it('logout-everywhere on B ends every session of the user, made on either instance; others live on', async () => {
    const { a, b } = fleet();
    const user = freshUser();
    const onA = [setCookie(await signIn(a.app, user)) as string, setCookie(await signIn(a.app, user)) as string];
    const onB = setCookie(await signIn(b.app, user)) as string;
    const other = setCookie(await signIn(a.app, freshUser())) as string;
    assert.equal((await https(request(b.app).post('/logout-all')).set('Cookie', onB).expect(200)).body.ended, 3);
    for (const cookie of [...onA, onB]) assert.equal((await me(a.app, cookie).expect(401)).body.error.code, 'SESSION_LOGGED_OUT');
    await me(b.app, other).expect(200);
    assert.deepEqual(await redisA.index.list(user), []);
  });

  it('maxSessionsPerUser holds across instances: evictOldest ends the oldest, rejectLogin refuses the extra login', async () => {
    const evicting = fleet({ maxSessionsPerUser: 2 });
    const user = freshUser();
    const first = setCookie(await signIn(evicting.a.app, user)) as string;
    evicting.a.clock.advance('1s');
    const second = setCookie(await signIn(evicting.b.app, user)) as string;
    evicting.a.clock.advance('1s');
    const third = setCookie(await signIn(evicting.a.app, user)) as string;
    assert.equal((await me(evicting.b.app, first).expect(401)).body.error.code, 'SESSION_EVICTED');
    await me(evicting.b.app, second).expect(200);
    await me(evicting.b.app, third).expect(200);

    const rejecting = fleet({ maxSessionsPerUser: 2, onSessionLimit: 'rejectLogin' });
    const limited = freshUser();
    const anons = await Promise.all([0, 1, 2, 3].map((i) => anonymousCookie(i % 2 ? rejecting.a.app : rejecting.b.app)));
    const results = await Promise.all(anons.map(async (anon, i) => (await loginWith(i % 2 ? rejecting.a.app : rejecting.b.app, anon, limited)).status));
    assert.deepEqual(results.sort(), [200, 200, 409, 409], 'concurrent logins on both instances cannot slip past the limit');
    assert.equal((await redisA.index.list(limited)).length, 2);
  });

  it('all, length and clear work across the shards (key by key: one MGET or DEL cannot span slots)', async () => {
    const own = await clusterStores(uniqueSpreadPrefix('cluster-all'));
    try {
      const rec = (extra: Record<string, unknown> = {}) => ({ cookie: { originalMaxAge: 60_000, expires: new Date(Date.now() + 60_000).toISOString(), httpOnly: true, path: '/' }, ...extra }) as any;
      const ids = Array.from({ length: 12 }, (_, i) => `all-${i}-${process.pid}-${'z'.repeat(30)}`);
      const minted = own.store.sessionIdFor('alice', 'q'.repeat(43));
      for (const id of ids) await own.store.guardedSet(id, rec({ n: id }));
      await own.store.guardedSet(minted, rec({ fixationGuard: { principal: 'alice' } }));
      await own.store.tombstone(ids[0] as string, 'logout', Date.now(), 60_000);
      const all = (await own.store.all()) as { id: string }[];
      assert.deepEqual(all.map((r) => r.id).sort(), [...ids.slice(1), minted].sort(), 'live records with their ids, tombstones left out');
      assert.equal(await own.store.length(), 12);
      await own.store.clear();
      assert.equal(await own.store.length(), 0);
    } finally {
      await own.close();
    }
  });

  it('refuses a prefix with a hash tag and a missing tagSecret, naming the option', () => {
    assert.throws(() => createRedisClusterSessionStores({ rootUrls: clusterUrls(), tagSecret: TAG_SECRET, prefix: 'fg:{fg}:' }), /must not contain '\{' or '\}'/);
    assert.throws(() => createRedisClusterSessionStores({ rootUrls: clusterUrls(), tagSecret: 'short' }), /needs `tagSecret`/);
    assert.throws(() => createRedisClusterSessionStores({ rootUrls: ['localhost:6379'], tagSecret: TAG_SECRET }), /`rootUrls` must be/);
  });
});
