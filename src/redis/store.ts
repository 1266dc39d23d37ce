import { RedisStore } from 'connect-redis';
import type { SessionData } from 'express-session';
import {
  isTombstone,
  makeTombstone,
  type EndReason,
  type GuardedSetResult,
  type GuardStoreExtensions,
  type TombstoneRecord,
} from '../store/contracts.js';
import { SessionRenameConflictError, scriptRefusal, withDeadline, type RenameConflictReason } from './errors.js';
import { DEFAULT_PREFIX, KeyLayout, validatePrefix } from './keys.js';
import { DEFAULT_OPERATION_TIMEOUT_MS, RENAMED_REDIS_DURATIONS, checkClient, checkOptionsObject, durationMs } from './options.js';
import { parseDuration, refuseRenamedDurations } from '../clock/index.js';
import { GUARDED_SET, RENAME, TOMBSTONE, TOUCH, type RedisScriptingClient } from './scripts.js';

type Callback = (err?: unknown, data?: any) => any;

const WHO = 'RedisSessionStore';

/** connect-redis's default when the cookie has no expiry: one day. */
export const DEFAULT_SESSION_TTL_MS = 86_400_000;

export interface RedisSessionStoreOptions {
  /** A connected node-redis client (`createClient()` or `createCluster()`). */
  client: unknown;
  /** Key prefix with a hash tag; session keys are `<prefix>sess:<id>`. Default `'fg:{fg}:'`. */
  prefix?: string;
  /**
   * How long a record lives when its cookie has no `expires` (`'1d'` or milliseconds; a
   * function receives the record and returns one). connect-redis's `ttl` (seconds) is refused
   * with a hint. Default `'1d'`.
   */
  sessionTtl?: number | string | ((sess: SessionData) => number | string);
  /** Do not lengthen a record's TTL on `touch`. Default false. */
  disableTouch?: boolean;
  /** COUNT of the SCAN behind `all`, `length` and `clear`. Default 100. */
  scanCount?: number;
  /** How long one operation may take before it fails with a 503 (`'2s'` or milliseconds). Default `'2s'`. */
  operationTimeout?: number | string;
}

/**
 * connect-redis's `RedisStore` plus the guard's atomic extras, each a single Lua script:
 * `guardedSet` (refuses to write over a tombstone), `tombstone` and `rename` (moves a record
 * to a new id keeping its TTL, tombstones the old id and moves the id in its principal's
 * index, all at once). Records are the same JSON connect-redis writes.
 *
 * It never emits express-session's `disconnect` event (which makes express-session skip the
 * session and fail open): a Redis failure rejects the operation with a
 * `SessionStoreUnavailableError`, which the guard answers with a 503.
 *
 * @example
 * import { createClient } from 'redis';
 * import { RedisSessionStore } from 'fixation-guard/redis';
 *
 * const client = createClient({ url: process.env.REDIS_URL, disableOfflineQueue: true });
 * client.on('error', () => {}); // failures reach requests as 503s
 * await client.connect();
 * const store = new RedisSessionStore({ client, prefix: 'myapp:{myapp}:' });
 */
export class RedisSessionStore extends RedisStore implements Required<GuardStoreExtensions> {
  /** Builds every key name; shared with `RedisSessionIndex` through the prefix. */
  readonly keys: KeyLayout;
  readonly operationTimeoutMs: number;
  readonly #scripting: RedisScriptingClient;

  constructor(options: RedisSessionStoreOptions) {
    checkOptionsObject(options, WHO, 'an options object with a `client`');
    const scripting = checkClient(options.client, WHO);
    const keys = new KeyLayout(validatePrefix(options.prefix ?? DEFAULT_PREFIX, WHO));
    refuseRenamedDurations(options, WHO, RENAMED_REDIS_DURATIONS);
    const ttl = secondsTtl(options.sessionTtl);
    super({
      client: options.client,
      prefix: keys.sessionPrefix,
      ttl,
      disableTouch: options.disableTouch ?? false,
      scanCount: options.scanCount ?? 100,
    });
    this.keys = keys;
    this.#scripting = scripting;
    this.operationTimeoutMs = durationMs(options.operationTimeout, DEFAULT_OPERATION_TIMEOUT_MS, WHO, 'operationTimeout');
  }

  // connect-redis's own operations, with a deadline and typed errors.

  override get(sid: string, cb?: Callback): Promise<any> {
    return settle(this.#deadline('GET', super.get(sid)), cb);
  }

  override set(sid: string, sess: SessionData, cb?: Callback): Promise<any> {
    return settle(this.#deadline('SET', super.set(sid, sess)), cb);
  }

  override destroy(sid: string, cb?: Callback): Promise<any> {
    return settle(this.#deadline('DEL', super.destroy(sid)), cb);
  }

  /**
   * Lengthens the record's TTL (express-session calls it on requests that change nothing),
   * but never a tombstone's, and keeps the principal's index alive as long as the record.
   */
  override touch(sid: string, sess: SessionData, cb?: Callback): Promise<any> {
    if (this.disableTouch) return settle(Promise.resolve(null), cb);
    const run = async (): Promise<null> => {
      await TOUCH.run(this.#scripting, this.#keysFor(sid, sess), [String(this.#ttlMs(sess)), sid]);
      return null;
    };
    return settle(this.#deadline('touch', run()), cb);
  }

  /** Every live record (tombstones left out), each with its `id`. */
  override all(cb?: Callback): Promise<any> {
    const run = async (): Promise<SessionData[]> => {
      const records = (await super.all()) as unknown[];
      return records.filter((record): record is SessionData => !isTombstone(record));
    };
    return settle(run(), cb);
  }

  /** How many live records there are (tombstones left out). */
  override length(cb?: Callback): Promise<any> {
    const run = async (): Promise<number> => ((await this.all()) as SessionData[]).length;
    return settle(run(), cb);
  }

  // GuardStoreExtensions.

  /** Writes `sess` under `sid` unless `sid` holds a tombstone (a late save of a dead id). */
  async guardedSet(sid: string, sess: SessionData): Promise<GuardedSetResult> {
    const value = JSON.stringify(sess);
    const reply = await this.#deadline(
      'guardedSet',
      GUARDED_SET.run(this.#scripting, this.#keysFor(sid, sess), [value, String(this.#ttlMs(sess)), sid]),
    );
    return reply === 'tombstoned' ? 'tombstoned' : 'written';
  }

  /**
   * Replaces whatever is under `sid` by a tombstone that lives `ttlMs` (with `ifExists`, only
   * when `sid` holds something). Resolves to the tombstone it replaced, if any.
   */
  async tombstone(sid: string, reason: EndReason, now: number, ttlMs: number, options: { ifExists?: boolean } = {}): Promise<TombstoneRecord | undefined> {
    const ttl = Math.max(1, Math.ceil(ttlMs));
    const value = JSON.stringify(makeTombstone(reason, now, ttl));
    const reply = await this.#deadline('tombstone', TOMBSTONE.run(this.#scripting, [this.keys.session(sid)], [value, String(ttl), options.ifExists ? '1' : '0']));
    if (typeof reply !== 'string') return undefined;
    const previous: unknown = JSON.parse(reply);
    return isTombstone(previous) ? previous : undefined;
  }

  /**
   * Atomically: `sess` under `newId` with the old record's remaining TTL, a tombstone
   * (reason `rotated`, naming `newId`, with `graceUntil` when given) under `oldId`, and the
   * principal's index entry moved to `newId`. Rejects with `SessionRenameConflictError` (and
   * changes nothing) when `oldId` holds no live record or `newId` exists.
   */
  async rename(oldId: string, newId: string, sess: SessionData, now: number, tombstoneTtlMs: number, options: { graceUntil?: number | undefined } = {}): Promise<void> {
    if (oldId === newId) throw new SessionRenameConflictError('new_exists');
    const ttl = Math.max(1, Math.ceil(tombstoneTtlMs));
    const tombstone = JSON.stringify(makeTombstone('rotated', now, ttl, { successor: newId, graceUntil: options.graceUntil }));
    const principal = principalOf(sess);
    const keys = [this.keys.session(oldId), this.keys.session(newId)];
    if (principal !== undefined) keys.push(this.keys.index(principal), this.keys.meta(principal));
    const args = [JSON.stringify(sess), tombstone, String(ttl), oldId, newId, String(Math.floor(now))];
    await this.#deadline('rename', RENAME.run(this.#scripting, keys, args).catch(refusalToConflict));
  }

  #keysFor(sid: string, sess: SessionData): string[] {
    const principal = principalOf(sess);
    const session = this.keys.session(sid);
    return principal === undefined ? [session] : [session, this.keys.index(principal), this.keys.meta(principal)];
  }

  /** connect-redis's TTL rule (cookie expiry, else `ttl` seconds), in milliseconds. */
  #ttlMs(sess: SessionData): number {
    if (typeof this.ttl === 'function') return Math.ceil(this.ttl(sess) * 1000);
    const expires = sess?.cookie?.expires;
    if (expires) return Math.ceil(new Date(expires).getTime() - Date.now());
    return Math.ceil(this.ttl * 1000);
  }

  #deadline<T>(operation: string, promise: Promise<T>): Promise<T> {
    return withDeadline(WHO, operation, this.operationTimeoutMs, promise);
  }
}

/** The principal a record is bound to (the guard keeps it under `fixationGuard`), if any. */
export function principalOf(sess: SessionData): string | undefined {
  // Read structurally: the record is JSON from Redis, whatever the SessionData augmentation says.
  const state: unknown = (sess as unknown as { fixationGuard?: unknown }).fixationGuard;
  if (typeof state !== 'object' || state === null) return undefined;
  const principal: unknown = (state as { principal?: unknown }).principal;
  return typeof principal === 'string' && principal !== '' ? principal : undefined;
}

function refusalToConflict(error: unknown): never {
  const reason = scriptRefusal(error);
  if (reason === 'old_missing' || reason === 'old_dead' || reason === 'new_exists') {
    throw new SessionRenameConflictError(reason satisfies RenameConflictReason);
  }
  throw error;
}

/** Answers through the callback when express-session gave one, else through the promise. */
/** connect-redis counts its `ttl` in whole seconds; the option is a duration. */
function secondsTtl(value: RedisSessionStoreOptions['sessionTtl']): number | ((sess: SessionData) => number) {
  const what = `${WHO}: \`sessionTtl\``;
  if (typeof value === 'function') {
    return function sessionTtlSeconds(sess: SessionData): number {
      return Math.max(1, Math.ceil(parseDuration(value(sess), what) / 1000));
    };
  }
  return Math.max(1, Math.ceil(durationMs(value, DEFAULT_SESSION_TTL_MS, WHO, 'sessionTtl') / 1000));
}

async function settle<T>(promise: Promise<T>, cb: Callback | undefined): Promise<any> {
  if (!cb) return await promise;
  let value: T;
  try {
    value = await promise;
  } catch (error) {
    return cb(error);
  }
  return cb(null, value);
}
