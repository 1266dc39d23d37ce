/**
 * Moving sessions written by connect-redis under its default `sess:` prefix (or any other
 * prefix without a hash tag) to the guard's key layout, once, while the app keeps serving.
 */
import { DEFAULT_PREFIX, KeyLayout, validatePrefix } from './keys.js';
import { checkClient, checkOptionsObject } from './options.js';
import { LuaScript } from './scripts.js';

const WHO = 'migrateSessionPrefix';
const GLOB_CHARACTERS = /[*?[\]\\]/;

/** connect-redis's default prefix. */
export const CONNECT_REDIS_DEFAULT_PREFIX = 'sess:';

export interface MigrateSessionPrefixOptions {
  /** A connected node-redis client of a single Redis (or a primary); the one both layouts live in. */
  client: unknown;
  /** The prefix the records were written under (connect-redis's `prefix`). The default value is `'sess:'`. */
  from?: string;
  /** The guard's prefix (`createRedisSessionStores({ prefix })`). The default value is `'fg:{fg}:'`. */
  prefix?: string;
  /** SCAN's COUNT hint: keys looked at per round trip. The default value is `200`. */
  count?: number;
}

export interface MigrateSessionPrefixResult {
  /** Keys under `from` that the scan returned. */
  scanned: number;
  /** Records moved to the guard's layout (value and remaining TTL kept). */
  moved: number;
  /** Records whose id already had a record or tombstone in the guard's layout: that one wins, the old copy is deleted. */
  kept: number;
  /** Keys gone before their turn (expired, or moved by a run going on at the same time). */
  gone: number;
}

// One key at a time, atomically: a second run (or a crash and a rerun) cannot move a record
// twice or lose it, and a record the guard already holds under that id (a tombstone above
// all) is never overwritten.
const MOVE = new LuaScript(
  'migrate',
  String.raw`
local value = redis.call('GET', KEYS[1])
if not value then return 0 end
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('DEL', KEYS[1])
  return 2
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then
  redis.call('SET', KEYS[2], value, 'PX', ttl)
else
  redis.call('SET', KEYS[2], value)
end
redis.call('DEL', KEYS[1])
return 1
`,
);

interface ScanningClient {
  scanIterator(options: { MATCH: string; COUNT: number }): AsyncIterable<string | string[]>;
}

/**
 * Moves every `<from><id>` record (connect-redis's default `sess:<id>`) to `<prefix>sess:<id>`,
 * keeping its value and remaining TTL. Idempotent (a rerun moves nothing twice), safe beside
 * live traffic and beside a second run (each key moves in one script), and it never
 * overwrites a record or tombstone the guard already has under that id. Single Redis only: on
 * a Redis Cluster the two keys of one move live in different slots.
 *
 * The cookie must carry over too: the same `secret`, and a cookie name the guard accepts
 * (`cookie.name`; `connect.sid` is refused, so such sessions cannot be carried — see the
 * README). A migrated record that was authenticated before the guard was adopted (a
 * `passport.user`, a `user` key) is ended the first time it is presented — the guard cannot
 * know whether its id was planted — so that user logs in again; anonymous data (a cart,
 * preferences) is served as it was.
 *
 * @example
 * import { createClient } from 'redis';
 * import { migrateSessionPrefix } from 'fixation-guard/redis';
 *
 * const client = await createClient({ url: process.env.REDIS_URL }).connect();
 * console.log(await migrateSessionPrefix({ client, from: 'sess:', prefix: 'myapp:{myapp}:' }));
 * // { scanned: 1204, moved: 1198, kept: 0, gone: 6 }
 * await client.close();
 */
export async function migrateSessionPrefix(options: MigrateSessionPrefixOptions): Promise<MigrateSessionPrefixResult> {
  checkOptionsObject(options, WHO, 'an options object with a `client`');
  const scripting = checkClient(options.client, WHO);
  if (typeof (options.client as Partial<ScanningClient>).scanIterator !== 'function') {
    throw new TypeError(`${WHO}: \`client\` must be a node-redis client of a single Redis (createClient()); a cluster client cannot move keys between slots`);
  }
  const from = options.from ?? CONNECT_REDIS_DEFAULT_PREFIX;
  if (typeof from !== 'string' || from.length === 0 || GLOB_CHARACTERS.test(from)) {
    throw new Error(`${WHO}: \`from\` must be the old key prefix (e.g. 'sess:'), without glob characters * ? [ ] \\; got ${JSON.stringify(options.from)}`);
  }
  const keys = new KeyLayout(validatePrefix(options.prefix ?? DEFAULT_PREFIX, WHO));
  if (keys.sessionPrefix.startsWith(from)) {
    throw new Error(`${WHO}: the guard's keys (${JSON.stringify(keys.sessionPrefix)}…) start with \`from\` (${JSON.stringify(from)}): the scan would find the migrated records again. Give the full old prefix.`);
  }
  const count = options.count ?? 200;
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`${WHO}: \`count\` must be a positive integer; got ${JSON.stringify(options.count)}`);

  const result: MigrateSessionPrefixResult = { scanned: 0, moved: 0, kept: 0, gone: 0 };
  const client = options.client as ScanningClient;
  for await (const batch of client.scanIterator({ MATCH: `${from}*`, COUNT: count })) {
    const found = Array.isArray(batch) ? batch : [batch];
    result.scanned += found.length;
    const outcomes = await Promise.all(found.map((key) => MOVE.run(scripting, [key, keys.session(key.slice(from.length))], [])));
    for (const outcome of outcomes) {
      if (outcome === 1) result.moved++;
      else if (outcome === 2) result.kept++;
      else result.gone++;
    }
  }
  return result;
}
