/** Shared helpers of the Redis tests: a client on REDIS_URL and a key prefix per test file. */
import { randomBytes } from 'node:crypto';
import { createRedisSessionStores, type RedisSessionStores } from '../../src/redis/index.js';

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
