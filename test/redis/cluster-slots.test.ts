/**
 * Redis Cluster runs a script only when every key it declares hashes to one slot. The suite
 * runs on a single redis-server, so this file records the KEYS of every script call of a
 * busy scenario and checks them with the cluster's own slot function (CRC16 of the hash tag).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RedisSessionIndex, RedisSessionStore, type RedisSessionStores } from '../../src/redis/index.js';
import { connectedStores, record, uniquePrefix } from './support.js';

/** CRC16/XMODEM, as Redis Cluster uses for key slots. */
function crc16(data: Buffer): number {
  let crc = 0;
  for (const byte of data) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/** The cluster slot of a key: only the first non-empty `{…}` counts when there is one. */
function slotOf(key: string): number {
  const open = key.indexOf('{');
  if (open !== -1) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) key = key.slice(open + 1, close);
  }
  return crc16(Buffer.from(key)) % 16_384;
}

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
});
