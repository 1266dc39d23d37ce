import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RedisStore } from 'connect-redis';
import { SessionStoreUnavailableError } from '../../src/errors/index.js';
import { isTombstone } from '../../src/store/contracts.js';
import {
  RedisSessionIndex,
  RedisSessionStore,
  SessionRenameConflictError,
  createRedisSessionStores,
  type RedisSessionStores,
} from '../../src/redis/index.js';
import { connectedStores, eventually, record, redisUrl, uniquePrefix } from './support.js';

const prefix = uniquePrefix('store');
let a: RedisSessionStores;
let b: RedisSessionStores;

before(async () => {
  // Two clients: two app instances of a fleet.
  a = await connectedStores(prefix);
  b = await connectedStores(prefix);
});

after(async () => {
  await a.close();
  await b.close();
});

function signedIn(principal: string, ttlMs = 60_000, extra: Record<string, unknown> = {}): any {
  return record(ttlMs, { fixationGuard: { principal, createdAt: 1, lastSeenAt: 1 }, ...extra });
}

describe('RedisSessionStore', () => {
  it('stores and reads the same JSON as a plain connect-redis RedisStore on the same keys', async () => {
    const plain = new RedisStore({ client: a.client, prefix: `${prefix}sess:` });
    await a.store.guardedSet('compat-1', record(60_000, { cart: [1, 2] }));
    assert.deepEqual((await plain.get('compat-1')).cart, [1, 2]);
    await plain.set('compat-2', record(60_000, { visits: 3 }));
    assert.equal((await a.store.get('compat-2')).visits, 3);
    assert.equal(await a.client.get(`${prefix}sess:compat-1`), JSON.stringify(await plain.get('compat-1')));
  });

  it('answers express-session through callbacks as connect-redis does', async () => {
    await new Promise<void>((resolve, reject) => {
      a.store.set('cb-1', record(60_000, { n: 1 }), (err?: unknown) => (err ? reject(err) : resolve()));
    });
    const read = await new Promise<any>((resolve, reject) => {
      a.store.get('cb-1', (err?: unknown, data?: unknown) => (err ? reject(err) : resolve(data)));
    });
    assert.equal(read.n, 1);
    await new Promise<void>((resolve, reject) => a.store.destroy('cb-1', (err?: unknown) => (err ? reject(err) : resolve())));
    assert.equal(await a.store.get('cb-1'), null);
  });

  it('derives the TTL from cookie.expires like connect-redis', async () => {
    await a.store.guardedSet('ttl-1', record(30_000));
    const pttl = await a.client.pTTL(`${prefix}sess:ttl-1`);
    assert.ok(pttl > 28_000 && pttl <= 30_000, `PTTL ${pttl}`);
  });

  it('guardedSet writes a live id and refuses to write over a tombstone', async () => {
    assert.equal(await a.store.guardedSet('gs-1', record(60_000, { v: 1 })), 'written');
    await a.store.tombstone('gs-1', 'logout', Date.now(), 60_000);
    assert.equal(await a.store.guardedSet('gs-1', record(60_000, { v: 2 })), 'tombstoned');
    const stored = await a.store.get('gs-1');
    assert.ok(isTombstone(stored));
    assert.equal(stored.fixationGuardTombstone.reason, 'logout');
  });

  it('a tombstone written by one instance refuses the late save of another instance', async () => {
    await a.store.guardedSet('late-1', signedIn('alice'));
    // B loaded the session before A ended it; B's request finishes after.
    const loadedOnB = await b.store.get('late-1');
    await a.store.tombstone('late-1', 'logout', Date.now(), 60_000);
    assert.equal(await b.store.guardedSet('late-1', { ...loadedOnB, touched: true }), 'tombstoned');
    assert.ok(isTombstone(await b.store.get('late-1')));
  });

  it('a record merely mentioning the tombstone marker in its data is not mistaken for a tombstone', async () => {
    const sneaky = record(60_000, { note: '"fixationGuardTombstone":{}', nested: { fixationGuardTombstone: { reason: 'x' } } });
    await a.store.guardedSet('sneaky-1', sneaky);
    assert.equal(await a.store.guardedSet('sneaky-1', sneaky), 'written');
  });

  it('a tombstone lives for its own TTL and then disappears', async () => {
    await a.store.tombstone('tomb-ttl', 'rotated', Date.now(), 300);
    const pttl = await a.client.pTTL(`${prefix}sess:tomb-ttl`);
    assert.ok(pttl > 0 && pttl <= 300, `PTTL ${pttl}`);
    await eventually(async () => (await a.store.get('tomb-ttl')) === null, 2_000, 'tombstone expired');
  });

  it('guardedSet with an expired cookie deletes the record like connect-redis', async () => {
    await a.store.guardedSet('exp-1', record(60_000));
    assert.equal(await a.store.guardedSet('exp-1', record(-1_000)), 'written');
    assert.equal(await a.store.get('exp-1'), null);
  });

  it('touch lengthens a live record but never a tombstone', async () => {
    await a.store.guardedSet('touch-1', record(5_000));
    await a.store.touch('touch-1', record(60_000));
    assert.ok((await a.client.pTTL(`${prefix}sess:touch-1`)) > 50_000);
    await a.store.tombstone('touch-2', 'logout', Date.now(), 5_000);
    await a.store.touch('touch-2', record(60_000));
    assert.ok((await a.client.pTTL(`${prefix}sess:touch-2`)) <= 5_000);
    await a.store.touch('touch-missing', record(60_000));
    assert.equal(await a.client.exists(`${prefix}sess:touch-missing`), 0);
  });

  it('all and length leave tombstones out', async () => {
    const own = uniquePrefix('store-all');
    const s = await connectedStores(own);
    try {
      await s.store.guardedSet('x1', record(60_000, { n: 1 }));
      await s.store.guardedSet('x2', record(60_000, { n: 2 }));
      await s.store.tombstone('x3', 'logout', Date.now(), 60_000);
      const all = (await s.store.all()) as Array<{ id: string }>;
      assert.deepEqual(all.map((r) => r.id).sort(), ['x1', 'x2']);
      assert.equal(await s.store.length(), 2);
    } finally {
      await s.store.clear();
      await s.close();
    }
  });
});

describe('RedisSessionStore#rename', () => {
  it('moves the record to the new id, living as its own cookie says, and leaves a tombstone under the old id', async () => {
    await a.store.guardedSet('old-1', record(40_000, { cart: ['book'] }));
    const now = Date.now();
    // A login's moved record carries a fresh cookie: its expiry is the one the guard reads back
    // (and skips touches by), not the 40 s the old record had left.
    const moved = { ...(await a.store.get('old-1')), rotatedAt: now, cookie: record(90_000).cookie };
    await a.store.rename('old-1', 'new-1', moved, now, 10_000);

    const fresh = await b.store.get('new-1');
    assert.deepEqual(fresh.cart, ['book']);
    assert.equal(fresh.rotatedAt, now);
    const newTtl = await a.client.pTTL(`${prefix}sess:new-1`);
    assert.ok(newTtl > 88_000 && newTtl <= 90_000, `new PTTL ${newTtl}`);

    const old = await b.store.get('old-1');
    assert.ok(isTombstone(old));
    assert.equal(old.fixationGuardTombstone.reason, 'rotated');
    const oldTtl = await a.client.pTTL(`${prefix}sess:old-1`);
    assert.ok(oldTtl > 0 && oldTtl <= 10_000, `tombstone PTTL ${oldTtl}`);
    // The other instance's late save of the old id is refused.
    assert.equal(await b.store.guardedSet('old-1', moved), 'tombstoned');
  });

  it('rejects and changes nothing when the old id is missing, tombstoned, or the new id exists', async () => {
    const now = Date.now();
    await assert.rejects(a.store.rename('nope', 'r-new', record(1_000), now, 1_000), (error: unknown) => {
      assert.ok(error instanceof SessionRenameConflictError);
      assert.equal(error.reason, 'old_missing');
      return true;
    });
    assert.equal(await a.store.get('r-new'), null);

    await a.store.guardedSet('r-a', record(60_000, { v: 'a' }));
    await a.store.guardedSet('r-b', record(60_000, { v: 'b' }));
    await assert.rejects(a.store.rename('r-a', 'r-b', record(60_000, { v: 'x' }), now, 1_000), { reason: 'new_exists' });
    assert.equal((await a.store.get('r-a')).v, 'a');
    assert.equal((await a.store.get('r-b')).v, 'b');

    await a.store.rename('r-a', 'r-c', record(60_000, { v: 'a' }), now, 60_000);
    await assert.rejects(a.store.rename('r-a', 'r-d', record(60_000), now, 1_000), { reason: 'old_dead' });
    assert.equal(await a.store.get('r-d'), null);
  });

  it('two instances rotating the same id at once: exactly one wins', async () => {
    await a.store.guardedSet('race-1', record(60_000, { v: 1 }));
    const now = Date.now();
    const results = await Promise.allSettled([
      a.store.rename('race-1', 'race-a', record(60_000, { v: 'a' }), now, 60_000),
      b.store.rename('race-1', 'race-b', record(60_000, { v: 'b' }), now, 60_000),
    ]);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    const winners = [await a.store.get('race-a'), await a.store.get('race-b')].filter(Boolean);
    assert.equal(winners.length, 1);
  });

  it("moves the id in its principal's index in the same step, keeping createdAt", async () => {
    const index = new RedisSessionIndex({ client: a.client, prefix });
    await a.store.guardedSet('idx-old', signedIn('rename-user'));
    await index.admit('rename-user', { sessionId: 'idx-old', createdAt: 1_000, lastSeenAt: 1_000 });
    await a.store.rename('idx-old', 'idx-new', signedIn('rename-user'), 5_000, 60_000);
    assert.deepEqual(await index.list('rename-user'), [{ sessionId: 'idx-new', createdAt: 1_000, lastSeenAt: 5_000 }]);
    // The guard then also calls index.rename: idempotent.
    await index.rename('rename-user', 'idx-old', 'idx-new', 6_000);
    assert.deepEqual(await index.list('rename-user'), [{ sessionId: 'idx-new', createdAt: 1_000, lastSeenAt: 6_000 }]);
  });

  it('a login (admit the new id, then rotate the anonymous record into it) leaves a live entry covering the session TTL', async () => {
    const index = new RedisSessionIndex({ client: a.client, prefix, pendingGrace: 200 });
    await a.store.guardedSet('pre-auth', record(50_000, { visits: 1 }));
    await index.admit('login-user', { sessionId: 'post-auth', createdAt: 10, lastSeenAt: 10 });
    await a.store.rename('pre-auth', 'post-auth', signedIn('login-user', 50_000, { visits: 1 }), 20, 60_000);
    assert.ok((await a.client.pTTL(`${prefix}idx:login-user`)) > 40_000);
    await new Promise((resolve) => setTimeout(resolve, 250)); // past the pending grace
    assert.deepEqual(await index.list('login-user'), [{ sessionId: 'post-auth', createdAt: 10, lastSeenAt: 20 }]);
  });

  it('an anonymous record moves without touching any index', async () => {
    await a.store.guardedSet('anon-old', record(60_000, { visits: 2 }));
    await a.store.rename('anon-old', 'anon-new', record(60_000, { visits: 2 }), Date.now(), 60_000);
    assert.equal((await a.store.get('anon-new')).visits, 2);
  });
});

describe('RedisSessionStore login in one step (the login script)', () => {
  const login = (oldId: string, newId: string, principal: string, ttlMs = 60_000) =>
    a.store.loginAtOnce!({ oldId, newId, principal, oldStored: true, sess: signedIn(principal, ttlMs), entry: { sessionId: newId, createdAt: 5, lastSeenAt: 5 }, limit: undefined, replacing: undefined }, Date.now(), 60_000);

  it('refuses an existing new id (new_exists) and writes nothing: the old id stays live, the taken id untouched, no entry', async () => {
    await a.store.guardedSet('l-old', record(60_000, { v: 'old' }));
    await a.store.guardedSet('l-taken', record(60_000, { v: 'taken' }));
    await assert.rejects(login('l-old', 'l-taken', 'taken-user'), { reason: 'new_exists' });
    assert.equal((await a.store.get('l-old')).v, 'old');
    assert.equal((await a.store.get('l-taken')).v, 'taken');
    assert.equal(await a.client.exists([`${prefix}idx:taken-user`, `${prefix}meta:taken-user`]), 0);
    // The same login into a free id goes through: the refusal left nothing in its way.
    assert.deepEqual(await login('l-old', 'l-free', 'taken-user'), { admitted: true, evicted: [] });
    assert.ok(isTombstone(JSON.parse((await a.client.get(`${prefix}sess:l-old`)) ?? 'null')));
  });

  it("sets the index's expiry to its longest member's, shorter than before too (every member was looked at)", async () => {
    await a.store.guardedSet('e-old-1', record(60_000));
    assert.deepEqual(await login('e-old-1', 'e-long', 'expiry-user', 50_000), { admitted: true, evicted: [] });
    assert.ok((await a.client.pTTL(`${prefix}idx:expiry-user`)) > 45_000);
    // The long session ends (logged out elsewhere): the next login's index lives as its own session.
    await a.store.tombstone('e-long', 'logout', Date.now(), 1_000);
    await a.store.guardedSet('e-old-2', record(60_000));
    await login('e-old-2', 'e-short', 'expiry-user', 20_000);
    for (const key of [`${prefix}idx:expiry-user`, `${prefix}meta:expiry-user`]) {
      const ttl = await a.client.pTTL(key);
      assert.ok(ttl > 15_000 && ttl <= 20_000, `${key} lives ${ttl} ms`);
    }
  });

  it("never shortens the index's expiry under a login in flight elsewhere, reserved by an index with a longer grace", async () => {
    const index = new RedisSessionIndex({ client: a.client, prefix, pendingGrace: '10m' });
    assert.deepEqual(await index.admit('flight-user', { sessionId: 'f-reserved', createdAt: 1, lastSeenAt: 1 }, undefined, { phase: 'reserve' }), { admitted: true, evicted: [] });
    await a.store.guardedSet('f-old', record(60_000));
    await login('f-old', 'f-new', 'flight-user', 20_000);
    // The store's own grace (1 minute) and the new session (20 s) are shorter than the reservation's 10 minutes.
    for (const key of [`${prefix}idx:flight-user`, `${prefix}meta:flight-user`]) {
      const ttl = await a.client.pTTL(key);
      assert.ok(ttl > 500_000, `${key} lives ${ttl} ms`);
    }
  });
});

describe('RedisSessionStore evictions of a login in one step (for a login whose reply was lost)', () => {
  const limited = (oldId: string, newId: string, principal: string, createdAt: number) =>
    a.store.loginAtOnce!({ oldId, newId, principal, oldStored: true, sess: signedIn(principal), entry: { sessionId: newId, createdAt, lastSeenAt: createdAt }, limit: { max: 1, onLimit: 'evictOldest' }, replacing: undefined }, Date.now(), 30_000);

  it('names what the login evicted, living as the tombstones, until it is forgotten; a login that evicts nobody leaves no note', async () => {
    await a.store.guardedSet('n-old-1', record(60_000));
    assert.deepEqual(await limited('n-old-1', 'n-first', 'note-user', 1), { admitted: true, evicted: [] });
    assert.equal(await a.client.exists(`${prefix}evicted:n-first`), 0);
    assert.deepEqual(await a.store.loginEvictions('n-first'), []);
    await a.store.guardedSet('n-old-2', record(60_000));
    assert.deepEqual(await limited('n-old-2', 'n-second', 'note-user', 2), { admitted: true, evicted: ['n-first'] });
    const ttl = await a.client.pTTL(`${prefix}evicted:n-second`);
    assert.ok(ttl > 25_000 && ttl <= 30_000, `the note lives ${ttl} ms, as the tombstones`);
    // Reading changes nothing (a read whose reply is lost is read again); any instance reads it.
    assert.deepEqual(await b.store.loginEvictions('n-second'), ['n-first']);
    assert.deepEqual(await a.store.loginEvictions('n-second'), ['n-first']);
    await a.store.forgetLoginEvictions('n-second');
    assert.deepEqual(await b.store.loginEvictions('n-second'), []);
    assert.equal(await a.client.exists(`${prefix}evicted:n-second`), 0);
  });
});

describe('RedisSessionStore configuration', () => {
  const cases: Array<[string, () => unknown, RegExp]> = [
    ['no options', () => new (RedisSessionStore as any)(), /RedisSessionStore: expected an options object/],
    ['no client', () => new RedisSessionStore({ client: undefined }), /RedisSessionStore: `client` must be a node-redis client/],
    [
      'a prefix without a hash tag',
      () => new RedisSessionStore({ client: a.client, prefix: 'myapp:' }),
      /RedisSessionStore: `prefix` must contain a Redis Cluster hash tag .*"myapp:".*"myapp:\{myapp\}:"/,
    ],
    ['a prefix with glob characters', () => new RedisSessionStore({ client: a.client, prefix: 'a*:{a}:' }), /must not contain the glob/],
    ['a non-string prefix', () => new RedisSessionStore({ client: a.client, prefix: 3 as any }), /`prefix` must be a string/],
    ['a zero sessionTtl', () => new RedisSessionStore({ client: a.client, sessionTtl: 0 }), /`sessionTtl` must be a positive number of milliseconds; got 0/],
    ['a sessionTtl that is no duration', () => new RedisSessionStore({ client: a.client, sessionTtl: '1 day' }), /`sessionTtl` must be a duration like '30m'/],
    [
      'a negative operationTimeout',
      () => new RedisSessionStore({ client: a.client, operationTimeout: -1 }),
      /`operationTimeout` must be a positive number of milliseconds; got -1/,
    ],
    [
      "connect-redis's `ttl` in seconds (renamed: a number would be read in another unit)",
      () => new RedisSessionStore({ client: a.client, ttl: 3600 } as never),
      /^Error: RedisSessionStore: `ttl` \(seconds\) is now `sessionTtl`, a duration like '30m' or a number of milliseconds: write `sessionTtl: '1h'`\.$/,
    ],
    [
      'the old `operationTimeoutMs`',
      () => createRedisSessionStores({ url: redisUrl(), operationTimeoutMs: 1500 } as never),
      /^Error: createRedisSessionStores: `operationTimeoutMs` is now `operationTimeout`, a duration like '30m' or a number of milliseconds: write `operationTimeout: '1500ms'`\.$/,
    ],
    ['the old `connectTimeoutMs`', () => createRedisSessionStores({ url: redisUrl(), connectTimeoutMs: 2000 } as never), /`connectTimeoutMs` is now `connectTimeout`.*write `connectTimeout: '2s'`/],
    ['the old `reconnectMaxDelayMs`', () => createRedisSessionStores({ url: redisUrl(), reconnectMaxDelayMs: 60000 } as never), /`reconnectMaxDelayMs` is now `reconnectMaxDelay`.*write `reconnectMaxDelay: '1m'`/],
    ['the old `pendingGraceMs`', () => new RedisSessionIndex({ client: a.client, pendingGraceMs: 5000 } as never), /RedisSessionIndex: `pendingGraceMs` is now `pendingGrace`.*write `pendingGrace: '5s'`/],
    ['a bad index client', () => new RedisSessionIndex({ client: {} }), /RedisSessionIndex: `client` must be a node-redis client/],
    ['both url and client', () => createRedisSessionStores({ url: redisUrl(), client: a.client }), /give either `url` or `client`/],
    ['a non-redis url', () => createRedisSessionStores({ url: 'http://x' }), /`url` must be a redis:\/\/ or rediss:\/\/ URL/],
  ];
  for (const [what, build, message] of cases) {
    it(`rejects ${what} at construction with a message naming the option`, () => {
      assert.throws(build, message);
    });
  }

  it('failures of the store surface as SessionStoreUnavailableError (503), never as raw client errors', async () => {
    const closed = createRedisSessionStores({ url: redisUrl(), prefix });
    await closed.ready;
    await closed.close();
    await assert.rejects(closed.store.get('x'), SessionStoreUnavailableError);
    await assert.rejects(closed.store.guardedSet('x', record(1_000)), { status: 503, code: 'SESSION_STORE_UNAVAILABLE' });
  });
});
