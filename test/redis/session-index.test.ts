import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RedisSessionIndex, type RedisSessionStores } from '../../src/redis/index.js';
import { connectedStores, eventually, record, uniquePrefix } from './support.js';

const prefix = uniquePrefix('index');
let a: RedisSessionStores;
let b: RedisSessionStores;

before(async () => {
  a = await connectedStores(prefix, { pendingGrace: '300ms' });
  b = await connectedStores(prefix, { pendingGrace: '300ms' });
});

after(async () => {
  await a.close();
  await b.close();
});

/** Saves a live session for `principal` and admits it, like a login does. */
async function login(principal: string, sessionId: string, createdAt: number, ttlMs = 60_000) {
  await a.store.guardedSet(sessionId, record(ttlMs, { fixationGuard: { principal, createdAt, lastSeenAt: createdAt } }));
  return await a.index.admit(principal, { sessionId, createdAt, lastSeenAt: createdAt });
}

function ids(entries: Array<{ sessionId: string }>): string[] {
  return entries.map((entry) => entry.sessionId);
}

describe('RedisSessionIndex', () => {
  it('lists a principal’s sessions oldest first with created and last-seen times and meta', async () => {
    await login('list-user', 's2', 2_000);
    await login('list-user', 's1', 1_000);
    await a.index.admit('list-user', { sessionId: 's3', createdAt: 3_000, lastSeenAt: 3_500, meta: { device: 'Firefox' } });
    await a.store.guardedSet('s3', record(60_000));
    await a.index.touch('list-user', 's1', 9_000);
    assert.deepEqual(await b.index.list('list-user'), [
      { sessionId: 's1', createdAt: 1_000, lastSeenAt: 9_000 },
      { sessionId: 's2', createdAt: 2_000, lastSeenAt: 2_000 },
      { sessionId: 's3', createdAt: 3_000, lastSeenAt: 3_500, meta: { device: 'Firefox' } },
    ]);
    assert.deepEqual(await b.index.list('nobody'), []);
  });

  it('keeps principals apart, whatever characters their names contain', async () => {
    await login('user:with:colons', 'c1', 1);
    await login('user', 'c2', 1);
    assert.deepEqual(ids(await a.index.list('user:with:colons')), ['c1']);
    assert.deepEqual(ids(await a.index.list('user')), ['c2']);
  });

  it('evictOldest confirms the new session and names the oldest live ids to end (still listed until the caller removes them)', async () => {
    const limit = { max: 2, onLimit: 'evictOldest' } as const;
    await a.store.guardedSet('e1', record(60_000));
    await a.store.guardedSet('e2', record(60_000));
    await a.store.guardedSet('e3', record(60_000));
    assert.deepEqual(await a.index.admit('evict-user', { sessionId: 'e1', createdAt: 10, lastSeenAt: 10 }, limit), { admitted: true, evicted: [] });
    assert.deepEqual(await b.index.admit('evict-user', { sessionId: 'e2', createdAt: 20, lastSeenAt: 20 }, limit), { admitted: true, evicted: [] });
    assert.deepEqual(await a.index.admit('evict-user', { sessionId: 'e3', createdAt: 30, lastSeenAt: 30 }, limit), { admitted: true, evicted: ['e1'] });
    // Tombstone first, then unindex: the caller removes the victim once it is ended.
    assert.deepEqual(ids(await a.index.list('evict-user')), ['e1', 'e2', 'e3']);
    await a.index.remove('evict-user', 'e1');
    assert.deepEqual(ids(await a.index.list('evict-user')), ['e2', 'e3']);
  });

  it('ties on createdAt are broken by order of admission', async () => {
    const limit = { max: 1, onLimit: 'evictOldest' } as const;
    for (const id of ['zz', 'aa']) await a.store.guardedSet(id, record(60_000));
    await a.index.admit('tie-user', { sessionId: 'zz', createdAt: 5, lastSeenAt: 5 });
    const result = await a.index.admit('tie-user', { sessionId: 'aa', createdAt: 5, lastSeenAt: 5 }, limit);
    assert.deepEqual(result, { admitted: true, evicted: ['zz'] });
  });

  it('rejectLogin refuses a reservation at the limit, admitting and evicting nothing', async () => {
    const limit = { max: 1, onLimit: 'rejectLogin' } as const;
    await login('reject-user', 'r1', 1);
    assert.deepEqual(await b.index.admit('reject-user', { sessionId: 'r2', createdAt: 2, lastSeenAt: 2 }, limit, { phase: 'reserve' }), { admitted: false, evicted: [] });
    assert.deepEqual(ids(await a.index.list('reject-user')), ['r1']);
  });

  it('rejectLogin does not count the session a re-login replaces, and counts logins in flight', async () => {
    const limit = { max: 1, onLimit: 'rejectLogin' } as const;
    await login('again-reject', 'q1', 1);
    assert.deepEqual(await a.index.admit('again-reject', { sessionId: 'q2', createdAt: 2, lastSeenAt: 2 }, limit, { phase: 'reserve', replacing: 'q1' }), { admitted: true, evicted: [] });
    assert.deepEqual(await b.index.admit('again-reject', { sessionId: 'q3', createdAt: 3, lastSeenAt: 3 }, limit, { phase: 'reserve', replacing: 'q1' }), { admitted: false, evicted: [] });
  });

  it('admitting an id already listed only refreshes it and never counts against the limit', async () => {
    const limit = { max: 1, onLimit: 'rejectLogin' } as const;
    await login('again-user', 'g1', 1);
    assert.deepEqual(await a.index.admit('again-user', { sessionId: 'g1', createdAt: 99, lastSeenAt: 50 }, limit), { admitted: true, evicted: [] });
    assert.deepEqual(await a.index.list('again-user'), [{ sessionId: 'g1', createdAt: 1, lastSeenAt: 50 }]);
  });

  it('enforces the limit across instances when logins race', async () => {
    const limit = { max: 3, onLimit: 'evictOldest' } as const;
    const sessions = Array.from({ length: 12 }, (_, i) => `race-${String(i).padStart(2, '0')}`);
    await Promise.all(sessions.map((id) => a.store.guardedSet(id, record(60_000))));
    const results = await Promise.all(
      sessions.map((id, i) => (i % 2 ? a : b).index.admit('race-user', { sessionId: id, createdAt: i, lastSeenAt: i }, limit)),
    );
    const evicted = [...new Set(results.flatMap((result) => result.evicted))];
    for (const id of evicted) await a.index.remove('race-user', id);
    const listed = ids(await a.index.list('race-user'));
    assert.equal(listed.length, 3);
    assert.equal(evicted.length, 9);
    assert.deepEqual([...listed, ...evicted].sort(), sessions);
  });

  it('prunes entries whose session expired or was tombstoned, so the limit counts live sessions only', async () => {
    await login('prune-user', 'p-dead', 1);
    await login('prune-user', 'p-short', 2, 200);
    await login('prune-user', 'p-live', 3);
    await a.store.tombstone('p-dead', 'logout', Date.now(), 60_000);
    await eventually(async () => (await a.store.get('p-short')) === null, 2_000, 'p-short expired');
    assert.deepEqual(ids(await a.index.list('prune-user')), ['p-live']);
    assert.equal(await a.client.zCard(`${prefix}idx:prune-user`), 1);
    assert.equal(await a.client.hLen(`${prefix}meta:prune-user`), 1);
  });

  it('keeps an admitted entry whose session is not saved yet for the grace period, then prunes it', async () => {
    await a.index.admit('pending-user', { sessionId: 'not-saved-yet', createdAt: 1, lastSeenAt: 1 });
    assert.deepEqual(ids(await b.index.list('pending-user')), ['not-saved-yet']);
    await eventually(async () => (await b.index.list('pending-user')).length === 0, 2_000, 'pending entry pruned');
  });

  it('admit prunes dead entries before applying the limit', async () => {
    const limit = { max: 1, onLimit: 'rejectLogin' } as const;
    await login('prune-limit', 'pl-1', 1);
    await a.store.tombstone('pl-1', 'logout', Date.now(), 60_000);
    await a.store.guardedSet('pl-2', record(60_000));
    assert.deepEqual(await a.index.admit('prune-limit', { sessionId: 'pl-2', createdAt: 2, lastSeenAt: 2 }, limit), { admitted: true, evicted: [] });
  });

  it('the index keys expire with the longest-lived session they list', async () => {
    await login('expiry-user', 'x1', 1, 400);
    await login('expiry-user', 'x2', 2, 800);
    const pttl = await a.client.pTTL(`${prefix}idx:expiry-user`);
    assert.ok(pttl > 600 && pttl <= 800, `index PTTL ${pttl}`);
    assert.ok((await a.client.pTTL(`${prefix}meta:expiry-user`)) > 600);
    await eventually(async () => (await a.client.exists([`${prefix}idx:expiry-user`, `${prefix}meta:expiry-user`])) === 0, 3_000, 'index keys expired');
  });

  it('a save or touch of a listed session keeps its index alive as long as the session', async () => {
    await login('extend-user', 'ext-1', 1, 500);
    await a.store.guardedSet('ext-1', record(60_000, { fixationGuard: { principal: 'extend-user' } }));
    assert.ok((await a.client.pTTL(`${prefix}idx:extend-user`)) > 50_000);
    await login('extend-user-2', 'ext-2', 1, 500);
    await a.store.touch('ext-2', record(60_000, { fixationGuard: { principal: 'extend-user-2' } }));
    assert.ok((await a.client.pTTL(`${prefix}meta:extend-user-2`)) > 50_000);
  });

  it('remove drops one entry; touch never brings a removed entry back', async () => {
    await login('remove-user', 'rm-1', 1);
    await login('remove-user', 'rm-2', 2);
    await b.index.remove('remove-user', 'rm-1');
    await a.index.touch('remove-user', 'rm-1', 10);
    assert.deepEqual(ids(await a.index.list('remove-user')), ['rm-2']);
  });

  it('rename moves an entry keeping createdAt, and does not resurrect a removed one', async () => {
    await login('rn-user', 'rn-1', 7);
    await a.store.guardedSet('rn-2', record(60_000));
    await b.index.rename('rn-user', 'rn-1', 'rn-2', 70);
    assert.deepEqual(await a.index.list('rn-user'), [{ sessionId: 'rn-2', createdAt: 7, lastSeenAt: 70 }]);
    await a.index.remove('rn-user', 'rn-2');
    await a.index.rename('rn-user', 'rn-2', 'rn-3', 80);
    assert.deepEqual(await a.index.list('rn-user'), []);
  });

  it('removeAll returns every id and empties the index', async () => {
    await login('all-user', 'all-1', 1);
    await login('all-user', 'all-2', 2);
    assert.deepEqual((await b.index.removeAll('all-user')).sort(), ['all-1', 'all-2']);
    assert.deepEqual(await a.index.list('all-user'), []);
    assert.deepEqual(await a.index.removeAll('all-user'), []);
  });

  it('rejects bad arguments with a message naming them', async () => {
    await assert.rejects(a.index.admit('', { sessionId: 'x', createdAt: 1, lastSeenAt: 1 }), /RedisSessionIndex#admit: `principal` must be a non-empty string/);
    await assert.rejects(
      a.index.admit('u', { sessionId: 'x', createdAt: 1, lastSeenAt: 1 }, { max: 0, onLimit: 'evictOldest' }),
      /`limit.max` must be a positive integer; got 0/,
    );
    await assert.rejects(
      a.index.admit('u', { sessionId: 'x', createdAt: 1, lastSeenAt: 1 }, { max: 1, onLimit: 'kick' as any }),
      /`limit.onLimit` must be 'evictOldest' or 'rejectLogin'; got "kick"/,
    );
    assert.throws(() => new RedisSessionIndex({ client: a.client, pendingGrace: 0 }), /`pendingGrace` must be a positive number of milliseconds; got 0/);
  });
});
