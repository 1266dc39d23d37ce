/** Shared helpers of the Redis Cluster tests: stores on the cluster named by REDIS_CLUSTER_URLS. */
import { randomBytes } from 'node:crypto';
import { createRedisClusterSessionStores, type RedisClusterSessionStores } from '../../src/redis/index.js';

export const TAG_SECRET = 'cluster-tag-secret-0123456789abcdef';

export function clusterUrls(): string[] {
  const urls = process.env.REDIS_CLUSTER_URLS;
  if (!urls) throw new Error('REDIS_CLUSTER_URLS is not set: run the tests with `npx tsx scripts/run-tests.ts test/cluster`');
  return urls.split(',').map((url) => url.trim()).filter(Boolean);
}

/** A prefix (without hash tag) no other test file uses. */
export function uniqueSpreadPrefix(name: string): string {
  return `fgtest-${name}-${randomBytes(4).toString('hex')}:`;
}

/** Stores on their own cluster client (one per simulated app instance), connected. */
export async function clusterStores(
  prefix: string,
  options: Partial<Parameters<typeof createRedisClusterSessionStores>[0]> = {},
): Promise<RedisClusterSessionStores> {
  const stores = createRedisClusterSessionStores({ rootUrls: clusterUrls(), tagSecret: TAG_SECRET, prefix, reconnectMaxDelay: 100, ...options });
  await stores.ready;
  return stores;
}

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
export function slotOf(key: string): number {
  const open = key.indexOf('{');
  if (open !== -1) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) key = key.slice(open + 1, close);
  }
  return crc16(Buffer.from(key)) % 16_384;
}

/** Which primary (by its `host:port`) serves each slot, from CLUSTER SLOTS. */
export async function slotOwners(stores: RedisClusterSessionStores): Promise<(slot: number) => string> {
  const ranges = stores.client.slots;
  return (slot: number) => {
    const shard = ranges[slot];
    if (!shard) throw new Error(`no shard for slot ${slot}`);
    return `${shard.master.host}:${shard.master.port}`;
  };
}
