/**
 * The store setups a lifecycle promise is checked on, for tests that run the same scenario on
 * each. Redis stores are opened on first use and closed by the `after` hook this registers.
 */
import { randomBytes } from 'node:crypto';
import { after } from 'node:test';
import session from 'express-session';
import { MemorySessionIndex, type SessionGuardOptions } from '../../src/index.js';
import { createRedisSessionStores, type RedisSessionStores } from '../../src/redis/index.js';
import { AtomicMemoryStore } from '../../src/store/memory.js';
import { buildApp, type TestApp } from '../helpers.js';
import { connectedStores, redisUrl, uniquePrefix } from '../redis/support.js';

type Options = Partial<SessionGuardOptions>;

/** Redis stores, each call under a prefix of its own (a test's users are its own), all closed after the file's tests. */
function freshRedis(name: string): () => Promise<RedisSessionStores> {
  const opened: RedisSessionStores[] = [];
  after(async () => {
    for (const stores of opened) await stores.close();
  });
  return async () => {
    const stores = await connectedStores(uniquePrefix(name));
    opened.push(stores);
    return stores;
  };
}

/**
 * Three kinds of store: the default one (atomic, one-step logins), Redis, and a store without
 * the guard's atomic extensions (express-session's MemoryStore). Each entry: its name, and the
 * guard options that select it (a new store on each call).
 */
export function storeKinds(name: string): Array<[kind: string, options: () => Promise<Options>]> {
  const redis = freshRedis(name);
  return [
    ['the default store', async () => ({})],
    ['Redis', async () => {
      const stores = await redis();
      return { store: stores.store, index: stores.index };
    }],
    ['a store without the atomic extensions (MemoryStore)', async () => ({ store: new session.MemoryStore() })],
  ];
}

/**
 * The four ways a login runs: one step on the default store, in steps on an atomic store with a
 * separate in-process index, one Redis script (`deployment`), in steps on Redis (`spread`).
 * Each call makes fresh ones (its own Redis prefixes), all closed after the file's tests.
 */
export function loginPaths(name: string): (common: Options) => Promise<Array<[path: string, app: TestApp]>> {
  const opened: RedisSessionStores[] = [];
  after(async () => {
    for (const stores of opened) await stores.close();
  });
  return async (common) => {
    const dep = createRedisSessionStores({ url: redisUrl(), prefix: uniquePrefix(name) });
    const spread = createRedisSessionStores({ url: redisUrl(), prefix: `${name}-${randomBytes(4).toString('hex')}:`, keyLayout: 'spread', tagSecret: 'tag-secret-0123456789abcdef' });
    opened.push(dep, spread);
    await dep.ready;
    await spread.ready;
    return [
      ['memory one-step', buildApp({ ...common })],
      ['memory steps', buildApp({ ...common, store: new AtomicMemoryStore(), index: new MemorySessionIndex() })],
      ['redis one-step', buildApp({ ...common, store: dep.store, index: dep.index })],
      ['redis spread', buildApp({ ...common, store: spread.store, index: spread.index })],
    ];
  };
}
