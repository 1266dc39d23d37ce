/** Shared helpers of the Redis tests: a client on REDIS_URL and a key prefix per test file. */
import { randomBytes } from 'node:crypto';
import { createClient, type RedisClientType } from 'redis';
import { createRedisSessionStores, type RedisSessionStores } from '../../src/redis/index.js';
import { TcpProxy } from '../support/tcp-proxy.js';

export function redisUrl(): string {
  const url = process.env.REDIS_URL;
  if (!url) throw new Error('REDIS_URL is not set: run the tests with `npx tsx scripts/run-tests.ts test/redis`');
  return url;
}

/** A prefix no other test file (running in parallel) uses, with its own hash tag. */
export function uniquePrefix(name: string): string {
  const tag = `${name}-${randomBytes(4).toString('hex')}`;
  return `fgtest:{${tag}}:`;
}

/** Stores on their own client (one per simulated app instance), connected. */
export async function connectedStores(
  prefix: string,
  options: Parameters<typeof createRedisSessionStores>[0] = {},
): Promise<RedisSessionStores> {
  const stores = createRedisSessionStores({ url: redisUrl(), prefix, reconnectMaxDelay: 100, ...options });
  await stores.ready;
  return stores;
}

/** A session record as express-session would save it, expiring in `ttlMs`. */
export function record(ttlMs: number, extra: Record<string, unknown> = {}): any {
  return {
    cookie: { originalMaxAge: ttlMs, expires: new Date(Date.now() + ttlMs).toISOString(), httpOnly: true, path: '/' },
    ...extra,
  };
}

/** Polls `check` every 25 ms until it returns true or `withinMs` passes. */
export async function eventually(check: () => Promise<boolean> | boolean, withinMs: number, what: string): Promise<void> {
  const started = Date.now();
  for (;;) {
    if (await check()) return;
    if (Date.now() - started > withinMs) throw new Error(`not within ${withinMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * Stores whose connection to Redis runs through a TCP proxy the test controls (to lose a reply,
 * or drop the connection), and a direct client to look at what Redis holds.
 */
export async function storesBehindProxy(name: string): Promise<{ prefix: string; proxy: TcpProxy; stores: RedisSessionStores; admin: RedisClientType; close(): Promise<void> }> {
  const prefix = uniquePrefix(name);
  const admin = createClient({ url: redisUrl() }) as RedisClientType;
  await admin.connect();
  const proxy = await TcpProxy.start(Number(new URL(redisUrl()).port));
  const stores = createRedisSessionStores({ url: proxy.url, prefix, operationTimeout: '1s', reconnectMaxDelay: '50ms', onError: () => {} });
  await stores.ready;
  return {
    prefix,
    proxy,
    stores,
    admin,
    async close() {
      await stores.close();
      await proxy.close();
      await admin.close();
    },
  };
}

/** How many live (not tombstoned) records under `prefix` are authenticated as `user`. */
export async function liveRecordsOf(admin: RedisClientType, prefix: string, user: string): Promise<number> {
  let live = 0;
  for await (const keys of admin.scanIterator({ MATCH: `${prefix}sess:*`, COUNT: 1000 })) {
    if (keys.length === 0) continue;
    for (const value of await admin.mGet(keys)) {
      if (!value) continue;
      const record = JSON.parse(value) as { fixationGuardTombstone?: unknown; fixationGuard?: { principal?: string } };
      if (!record.fixationGuardTombstone && record.fixationGuard?.principal === user) live++;
    }
  }
  return live;
}
