import { systemClock, type Clock } from '../../clock/index.js';

/**
 * Remembers which single-use states were already opened. `claim` answers `true` the first time
 * an id is claimed (until `expiresAt`) and `false` every time after; it throws when it cannot
 * tell, and the codec then refuses (fail closed).
 */
export interface ReplayGuard {
  claim(id: string, expiresAt: number): Promise<boolean>;
}

/** The subset of a node-redis v4+ client the Redis replay guard and state store use. */
export interface RedisLikeClient {
  set(key: string, value: string, options?: { condition?: 'NX' | 'XX'; expiration?: { type: 'PX'; value: number } }): Promise<unknown>;
  get(key: string): Promise<string | null | unknown>;
  del(keys: string | string[]): Promise<number | unknown>;
}

/**
 * Single use within one process. Expired ids are forgotten as time passes.
 *
 * @example
 * const codec = createRequestStateCodec({ keys, replay: memoryReplayGuard() });
 */
export function memoryReplayGuard(options: { clock?: Clock; maxEntries?: number } = {}): ReplayGuard {
  const clock = options.clock ?? systemClock;
  const maxEntries = options.maxEntries ?? 100_000;
  const seen = new Map<string, number>();
  function sweep(now: number): void {
    for (const [id, expiresAt] of seen) if (expiresAt <= now) seen.delete(id);
  }
  return {
    async claim(id, expiresAt) {
      const now = clock.now();
      const known = seen.get(id);
      if (known !== undefined && known > now) return false;
      if (seen.size >= maxEntries) sweep(now);
      // Full of live ids: refuse rather than forget one (forgetting would allow a replay).
      if (seen.size >= maxEntries) throw new Error('memoryReplayGuard: full');
      seen.set(id, expiresAt);
      return true;
    },
  };
}

/**
 * Single use across a fleet: `SET key 1 NX PX ttl` on a shared Redis, so exactly one instance
 * wins the first use. A Redis error makes the codec refuse the state.
 *
 * @example
 * const codec = createRequestStateCodec({ keys, replay: redisReplayGuard({ client: redisClient }) });
 */
export function redisReplayGuard(options: { client: unknown; keyPrefix?: string; clock?: Clock }): ReplayGuard {
  const client = options.client as RedisLikeClient;
  if (typeof client?.set !== 'function') throw new TypeError('redisReplayGuard: `client` must be a connected node-redis client');
  const prefix = options.keyPrefix ?? 'fg:mcp:rs:used:';
  const clock = options.clock ?? systemClock;
  return {
    async claim(id, expiresAt) {
      const ttl = Math.max(1, Math.ceil(expiresAt - clock.now()));
      const answer = await client.set(`${prefix}${id}`, '1', { condition: 'NX', expiration: { type: 'PX', value: ttl } });
      return answer === 'OK';
    },
  };
}
