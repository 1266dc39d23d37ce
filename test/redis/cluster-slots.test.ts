/**
 * Redis Cluster runs a script only when every key it declares hashes to one slot. This file
 * records the KEYS of every script call of a busy scenario on a single redis-server and checks
 * them with the cluster's own slot function (CRC16 of the hash tag), for both key layouts.
 * (test/cluster runs the same on a real cluster, which refuses a cross-slot script.)
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RedisSessionIndex, RedisSessionStore, type RedisSessionStores } from '../../src/redis/index.js';
import { slotOf } from '../cluster/support.js';
import { connectedStores, record, uniquePrefix, redisUrl } from './support.js';
import { createClient } from 'redis';

const prefix = uniquePrefix('slots');
let redis: RedisSessionStores;
const calls: string[][] = [];

before(async () => {
  redis = await connectedStores(prefix);
});

after(async () => {
  await redis.close();
});

function recording<T extends object>(client: T): T {
  return new Proxy(client, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (property !== 'eval' && property !== 'evalSha') return typeof value === 'function' ? value.bind(target) : value;
      return function recordKeys(script: string, options: { keys: string[]; arguments: string[] }) {
        calls.push([...options.keys]);
        return (value as (s: string, o: unknown) => Promise<unknown>).call(target, script, options);
      };
    },
  });
}

describe('Redis Cluster slots', () => {
  it('checks the slot function against known values', () => {
    assert.equal(slotOf('123456789'), 12_739); // the CRC16/XMODEM check value 0x31C3
    assert.equal(slotOf('{user1000}.following'), slotOf('{user1000}.followers'));
  });

  it('every script call of a busy scenario declares only keys of one slot, even for principals with braces in their name', async () => {
    const client = recording(redis.client);
    const store = new RedisSessionStore({ client, prefix });
    const index = new RedisSessionIndex({ client, prefix });
    const principal = 'mallory{evil}';
    await store.guardedSet('anon', record(60_000));
    await index.admit(principal, { sessionId: 'auth-1', createdAt: 1, lastSeenAt: 1 }, { max: 2, onLimit: 'evictOldest' });
    await store.rename('anon', 'auth-1', record(60_000, { fixationGuard: { principal } }), 2, 60_000);
    await store.guardedSet('auth-2', record(60_000, { fixationGuard: { principal } }));
    await index.admit(principal, { sessionId: 'auth-2', createdAt: 3, lastSeenAt: 3 }, { max: 2, onLimit: 'evictOldest' });
    await store.touch('auth-2', record(60_000, { fixationGuard: { principal } }));
    await index.touch(principal, 'auth-2', 4);
    await store.rename('auth-2', 'auth-3', record(60_000, { fixationGuard: { principal } }), 5, 60_000);
    await index.rename(principal, 'auth-2', 'auth-3', 5);
    await index.list(principal);
    await store.tombstone('auth-1', 'evicted', 6, 60_000);
    await index.remove(principal, 'auth-1');
    await index.removeAll(principal);

    assert.ok(calls.length >= 12, `${calls.length} script calls recorded`);
    const slot = slotOf(prefix);
    for (const keys of calls) {
      assert.ok(keys.length > 0, 'a script without keys cannot be routed on a cluster');
      for (const key of keys) {
        assert.ok(key.startsWith(prefix), key);
        assert.equal(slotOf(key), slot, `${key} is in slot ${slotOf(key)}, not ${slot}`);
      }
    }
    assert.ok(calls.some((keys) => keys.length >= 4), 'multi-key scripts were exercised');
  });

  it('with the spread layout, every script call is single-slot, a user\'s keys share one slot, and pre-login ids spread', async () => {
    const spreadCalls: string[][] = [];
    const raw = createClient({ url: redisUrl() });
    raw.on('error', () => {});
    await raw.connect();
    try {
      // A cluster-like client: `masters` makes the store move a login across slots in two scripts.
      const client = new Proxy(raw, {
        has: (target, property) => property === 'masters' || Reflect.has(target, property),
        get(target, property, receiver) {
          const value = Reflect.get(target, property, receiver);
          if (property !== 'eval' && property !== 'evalSha') return typeof value === 'function' ? value.bind(target) : value;
          return function recordKeys(script: string, options: { keys: string[]; arguments: string[] }) {
            spreadCalls.push([...options.keys]);
            return (value as (s: string, o: unknown) => Promise<unknown>).call(target, script, options);
          };
        },
      });
      const layout = { prefix: `fgtest-spread-${process.pid}:`, keyLayout: 'spread' as const, tagSecret: 'slot-test-tag-secret-0123456789' };
      const store = new RedisSessionStore({ client, ...layout });
      const index = new RedisSessionIndex({ client, ...layout });
      const principal = 'mallory{evil}';
      const minted = (n: number) => store.sessionIdFor(principal, `random-part-${n}-${'x'.repeat(32)}`);
      await store.guardedSet('anonymous-session-id-0001', record(60_000));
      await index.admit(principal, { sessionId: minted(1), createdAt: 1, lastSeenAt: 1 }, { max: 2, onLimit: 'evictOldest' }, { phase: 'reserve' });
      await store.rename('anonymous-session-id-0001', minted(1), record(60_000, { fixationGuard: { principal } }), 2, 60_000);
      await index.admit(principal, { sessionId: minted(1), createdAt: 1, lastSeenAt: 1 }, { max: 2, onLimit: 'evictOldest' }, { phase: 'confirm' });
      await store.touch(minted(1), record(60_000, { fixationGuard: { principal } }));
      await store.rename(minted(1), minted(2), record(60_000, { fixationGuard: { principal } }), 3, 60_000);
      await index.rename(principal, minted(1), minted(2), 3);
      await index.list(principal);
      assert.deepEqual((await index.endAll(principal, 'logout_everywhere', 4, 60_000)).sort(), [minted(2)]);

      const userSlot = slotOf(index.keys.index(principal));
      assert.equal(slotOf(index.keys.meta(principal)), userSlot);
      assert.equal(slotOf(store.keys.session(minted(1))), userSlot);
      assert.ok(!minted(1).includes('mallory'), 'the id carries a keyed hash of the principal, not its name');
      for (const keys of spreadCalls) {
        const slots = new Set(keys.map(slotOf));
        assert.equal(slots.size, 1, `one script, one slot: ${keys.join(' ')}`);
      }
      assert.ok(spreadCalls.some((keys) => keys.length === 1 && keys[0] === store.keys.session('anonymous-session-id-0001')), 'the login tombstoned the pre-login id in its own slot');
      const anonymousSlots = new Set(Array.from({ length: 64 }, (_, i) => slotOf(store.keys.session(`${i}-${'a'.repeat(40)}`.slice(0, 43)))));
      assert.ok(anonymousSlots.size > 32, 'pre-login ids land in many slots');
      assert.throws(
        () => new RedisSessionStore({ client, keyLayout: 'spread', prefix: 'fg:' }),
        /needs `tagSecret`/,
      );
      await assert.rejects(index.admit(principal, { sessionId: 'not-minted-for-the-principal-0000', createdAt: 1, lastSeenAt: 1 }), /minted for its principal/);
    } finally {
      await raw.close();
    }
  });
});
