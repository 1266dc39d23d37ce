/**
 * "Both index keys expire with the longest-lived session they list … so an index
 * never outlives its sessions" (README, Redis key layout). The one-step LOGIN script sets the
 * index's expiry from the members still listed after the evictions and the replaced entry;
 * before, it counted every member it looked at, and a long-lived session it then evicted kept
 * the index alive for its whole TTL, listing only a short-lived one.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient } from 'redis';
import type { RedisSessionStores } from '../../src/redis/index.js';
import { connectedStores, record, redisUrl, uniquePrefix } from '../redis/support.js';

const prefix = uniquePrefix('index-expiry-eviction');
let stores: RedisSessionStores;
const admin = createClient({ url: redisUrl() });
const HOUR = 3_600_000;
const TOMBSTONE_TTL = 60_000;

before(async () => {
  await admin.connect();
  stores = await connectedStores(prefix);
});

after(async () => {
  await stores.close();
  await admin.close();
});

const authed = (ttlMs: number) => record(ttlMs, { fixationGuard: { v: 1, principal: 'gina', createdAt: 0, lastSeenAt: 0, rotatedAt: 0 } });

describe('one-step Redis login: the index expiry after an eviction', () => {
  it('does not outlive the sessions left listed', async () => {
    const login = stores.store.loginAtOnce!;
    const limit = { max: 1, onLimit: 'evictOldest' as const };
    const now = Date.now();
    // A remember-me session of 10 days, then a one-hour session: the first is evicted.
    await login({ oldId: 'pre-1', newId: 'long-lived', sess: authed(240 * HOUR), oldStored: false, principal: 'gina', entry: { sessionId: 'long-lived', createdAt: now, lastSeenAt: now }, limit, replacing: undefined }, now, TOMBSTONE_TTL);
    const second = await login({ oldId: 'pre-2', newId: 'short-lived', sess: authed(HOUR), oldStored: false, principal: 'gina', entry: { sessionId: 'short-lived', createdAt: now + 1, lastSeenAt: now + 1 }, limit, replacing: undefined }, now + 1, TOMBSTONE_TTL);
    assert.deepEqual(second.evicted, ['long-lived']);
    assert.deepEqual(await admin.zRange(`${prefix}idx:gina`, 0, -1), ['short-lived']);
    const indexTtl = await admin.pTTL(`${prefix}idx:gina`);
    const memberTtl = await admin.pTTL(`${prefix}sess:short-lived`);
    assert.ok(indexTtl <= memberTtl + 1000, `the index lives ${Math.round(indexTtl / HOUR)} h, its only session ${Math.round(memberTtl / HOUR)} h`);
  });
});
