/**
 * The activity the guard records once a minute is written into the record Redis holds, compared
 * and set (`RedisSessionStore.recordActivity`): a write of another request that lands between
 * its read and its write makes it read again, so that change stays. (The default store does it
 * in one synchronous step.) Before, the read-only request's copy could overwrite it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { stateOf } from '../../src/policy/state.js';
import type { RedisSessionStores } from '../../src/redis/index.js';
import { AtomicMemoryStore } from '../../src/store/memory.js';
import { connectedStores, record, uniquePrefix } from './support.js';

const HOUR = 3_600_000;
let redis: RedisSessionStores;
before(async () => {
  redis = await connectedStores(uniquePrefix('activity-cas'));
});
after(async () => {
  await redis.close();
});

const session = (extra: Record<string, unknown>) => record(HOUR, { fixationGuard: { v: 1, createdAt: 1_000, lastSeenAt: 1_000, rotatedAt: 1_000 }, ...extra });

describe('recording a session activity in the record the store holds', () => {
  it('on Redis, a write landing between the read and the write is kept: the activity reads again', async () => {
    const sid = 'activity-cas-1';
    await redis.store.guardedSet(sid, session({ impersonating: 'bob' }));
    const client = redis.store.client as unknown as { get(key: string): Promise<string | null> };
    const get = client.get;
    let reads = 0;
    client.get = async function (this: unknown, key: string) {
      const value = await get.call(this, key);
      // The first read's answer is on its way back when a parallel request saves its change.
      if (reads++ === 0) await redis.store.guardedSet(sid, session({ cart: ['book'] }));
      return value;
    };
    let cookie;
    try {
      cookie = await redis.store.recordActivity(sid, 5_000);
    } finally {
      client.get = get;
    }
    assert.equal(reads, 2, 'read again after the compare failed');
    assert.ok(cookie, 'written');
    const stored = (await redis.store.get(sid)) as Record<string, unknown>;
    assert.deepEqual([stored.impersonating, stored.cart], [undefined, ['book']], 'the parallel change stays');
    assert.equal(stateOf(stored)?.lastSeenAt, 5_000);
  });

  it('on Redis, nothing is written for a tombstoned or missing id', async () => {
    await redis.store.tombstone('activity-cas-2', 'logout', Date.now(), 60_000);
    assert.equal(await redis.store.recordActivity('activity-cas-2', 5_000), undefined);
    assert.equal(await redis.store.recordActivity('activity-cas-missing', 5_000), undefined);
    assert.equal(await redis.client.exists(redis.store.keys.session('activity-cas-missing')), 0);
  });

  it('on the default store, the record as it is now gets the activity, its cookie kept, its expiry renewed', async () => {
    const store = new AtomicMemoryStore();
    const stale = session({ impersonating: 'bob' });
    stale.cookie.expires = new Date(Date.now() + 60_000).toISOString();
    store.sessions.a = JSON.stringify(stale);
    const cookie = await store.recordActivity('a', 5_000);
    const stored = JSON.parse(store.sessions.a as string) as { impersonating?: string; cookie: { originalMaxAge: number; expires: string } };
    assert.equal(stored.impersonating, 'bob');
    assert.equal(stored.cookie.originalMaxAge, HOUR);
    assert.ok(Date.parse(stored.cookie.expires) > Date.now() + HOUR - 5_000, 'renewed from its own maxAge');
    assert.equal(cookie?.originalMaxAge, HOUR);
    assert.equal(stateOf(stored)?.lastSeenAt, 5_000);
    assert.equal(await store.recordActivity('missing', 5_000), undefined);
  });
});
