import { RedisStore } from 'connect-redis';
import type { SessionData } from 'express-session';
import {
  isTombstone,
  makeTombstone,
  type EndReason,
  type GuardedSetResult,
  type AdmitResult,
  type GuardStoreExtensions,
  type LoginAtOnce,
  type RenameOptions,
  type TombstoneRecord,
} from '../store/contracts.js';
import { SessionRenameConflictError, scriptRefusal, withDeadline, type RenameConflictReason } from './errors.js';
import { DEFAULT_PREFIX, DEFAULT_SPREAD_PREFIX, KeyLayout, validateLayout, validatePrefix, validateTagSecret, type KeyLayoutKind } from './keys.js';
import { DEFAULT_OPERATION_TIMEOUT_MS, DEFAULT_PENDING_GRACE_MS, RENAMED_REDIS_DURATIONS, checkClient, checkOptionsObject, durationMs } from './options.js';
import { parseDuration, refuseRenamedDurations } from '../clock/index.js';
import { GUARDED_SET, LOGIN, MOVE_IN, MOVE_OUT, RENAME, SET_IF_UNCHANGED, TOMBSTONE, TOUCH, type RedisScriptingClient } from './scripts.js';
import { stampActivity, type StoredCookie } from '../store/activity.js';

type Callback = (err?: unknown, data?: any) => any;

const WHO = 'RedisSessionStore';
/** Reads of a record that another request's writes kept changing, before an activity is given up (the next request records it). */
const ACTIVITY_ATTEMPTS = 3;

/** connect-redis's default when the cookie has no expiry: one day. */
export const DEFAULT_SESSION_TTL_MS = 86_400_000;

export interface RedisSessionStoreOptions {
  /** A connected node-redis client (`createClient()` or `createCluster()`). */
  client: unknown;
  /**
   * Key prefix; session keys are `<prefix>sess:<id>`. With the `deployment` layout it carries a
   * hash tag (default `'fg:{fg}:'`); with `spread` it has none (default `'fg:'`).
   */
  prefix?: string;
  /**
   * `'deployment'` (default): every key in one slot, every step one script. `'spread'`: sessions
   * spread over a Redis Cluster's slots, a principal's sessions next to its index (see keys.ts).
   */
  keyLayout?: KeyLayoutKind;
  /** `spread` only, required: the key of the principals' placement tags, the same on every instance. */
  tagSecret?: string;
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
  /** The same `pendingGrace` as the index's (the login script prunes the index). Default `'1m'`. */
  pendingGrace?: number | string;
}

/**
 * connect-redis's `RedisStore` plus the guard's atomic extras, each a single Lua script:
 * `guardedSet` (refuses to write over a tombstone), `tombstone` and `rename` (moves a record
 * to a new id, living as its cookie says, tombstones the old id and moves the id in its principal's
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
export class RedisSessionStore extends RedisStore implements Required<Omit<GuardStoreExtensions, 'loginAtOnce'>> {
  /** Builds every key name; shared with `RedisSessionIndex` through the prefix. */
  readonly keys: KeyLayout;
  readonly operationTimeoutMs: number;
  /**
   * A whole login in one script, one round trip (admission with eviction, the move, the
   * tombstone, the index entry): on one Redis with the `deployment` layout. Undefined on a
   * cluster client or with `spread`, where a login crosses slots (the guard then reserves,
   * moves and confirms in steps).
   */
  readonly loginAtOnce: LoginAtOnce | undefined;
  /** How long an index entry whose session was never saved survives the login script's pruning (the index's `pendingGrace`). */
  readonly pendingGraceMs: number;
  readonly #scripting: RedisScriptingClient;
  readonly #cluster: boolean;

  constructor(options: RedisSessionStoreOptions) {
    checkOptionsObject(options, WHO, 'an options object with a `client`');
    const scripting = checkClient(options.client, WHO);
    const layout = validateLayout(options.keyLayout, WHO);
    const prefix = validatePrefix(options.prefix ?? (layout === 'spread' ? DEFAULT_SPREAD_PREFIX : DEFAULT_PREFIX), WHO, layout);
    const keys = new KeyLayout(prefix, layout, validateTagSecret(options.tagSecret, layout, WHO));
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
    // node-redis's cluster client (connect-redis tells them apart the same way).
    this.#cluster = typeof options.client === 'object' && options.client !== null && 'masters' in options.client;
    this.operationTimeoutMs = durationMs(options.operationTimeout, DEFAULT_OPERATION_TIMEOUT_MS, WHO, 'operationTimeout');
    this.pendingGraceMs = durationMs(options.pendingGrace, DEFAULT_PENDING_GRACE_MS, WHO, 'pendingGrace');
    this.loginAtOnce = this.#cluster || keys.spread ? undefined : this.#loginAtOnce.bind(this);
  }

  // connect-redis's own operations, with a deadline and typed errors.

  override get(sid: string, cb?: Callback): Promise<any> {
    return settle(this.#deadline('GET', this.keys.spread ? this.#getSpread(sid) : super.get(sid)), cb);
  }

  override set(sid: string, sess: SessionData, cb?: Callback): Promise<any> {
    return settle(this.#deadline('SET', this.keys.spread ? this.#setSpread(sid, sess) : super.set(sid, sess)), cb);
  }

  override destroy(sid: string, cb?: Callback): Promise<any> {
    return settle(this.#deadline('DEL', this.keys.spread ? (this.client as SpreadClient).del([this.keys.session(sid)]) : super.destroy(sid)), cb);
  }

  // connect-redis builds keys as prefix + id; the spread layout puts the id's slot tag in braces.
  async #getSpread(sid: string): Promise<SessionData | null> {
    const data = await (this.client as SpreadClient).get(this.keys.session(sid));
    return data ? (JSON.parse(data) as SessionData) : null;
  }

  async #setSpread(sid: string, sess: SessionData): Promise<void> {
    const ttl = this.#ttlMs(sess);
    if (ttl <= 0) {
      await (this.client as SpreadClient).del([this.keys.session(sid)]);
      return;
    }
    await (this.client as SpreadClient).set(this.keys.session(sid), JSON.stringify(sess), { expiration: { type: 'PX', value: ttl } });
  }

  /** Whether a record expires with its cookie (the TTL is taken from it unless `sessionTtl` is a function). */
  get expiresByCookie(): boolean {
    return typeof this.ttl !== 'function';
  }

  /**
   * Lengthens the record's TTL (express-session calls it on requests that change nothing),
   * but never a tombstone's, and keeps the principal's index alive as long as the record.
   */
  override touch(sid: string, sess: SessionData, cb?: Callback): Promise<any> {
    if (this.disableTouch) return settle(Promise.resolve(null), cb);
    let touched: Promise<null>;
    try {
      touched = TOUCH.run(this.#scripting, this.#keysFor(sid, sess), [String(this.#ttlMs(sess)), sid]).then(toNull);
    } catch (error) {
      // A `sessionTtl` function that throws: reported like a failed command, not thrown.
      touched = Promise.reject(error);
    }
    return settle(this.#deadline('touch', touched), cb);
  }

  /** Every live record (tombstones left out), each with its `id`. */
  override all(cb?: Callback): Promise<any> {
    const run = async (): Promise<SessionData[]> => {
      if (this.keys.spread) return await this.#allSpread();
      const records = (await super.all()) as unknown[];
      return records.filter((record): record is SessionData => !isTombstone(record));
    };
    return settle(run(), cb);
  }

  /** Removes every session key of this prefix (one DEL per key: on a cluster they span slots). */
  override clear(cb?: Callback): Promise<any> {
    if (!this.keys.spread) return super.clear(cb);
    const run = async (): Promise<null> => {
      const client = this.client as SpreadClient;
      for (const key of await this.#sessionKeys()) await client.del([key]);
      return null;
    };
    return settle(run(), cb);
  }

  // The spread layout's keys are in many slots: connect-redis reads them with one MGET and
  // deletes them with one DEL, which a cluster refuses. These go key by key (pipelined).
  async #sessionKeys(): Promise<string[]> {
    const match = `${this.keys.sessionPrefix}*`;
    const count = this.scanCount;
    const found = new Set<string>();
    const client = this.client as unknown as ScanClient & { masters?: unknown[]; nodeClient?(node: unknown): Promise<ScanClient> };
    const nodes: ScanClient[] = client.masters && client.nodeClient ? await Promise.all(client.masters.map((m) => client.nodeClient!(m))) : [client];
    for (const node of nodes) {
      for await (const keys of node.scanIterator({ MATCH: match, COUNT: count })) for (const key of keys) found.add(key);
    }
    return [...found];
  }

  async #allSpread(): Promise<SessionData[]> {
    const keys = await this.#sessionKeys();
    const client = this.client as SpreadClient;
    const values = await Promise.all(keys.map((key) => client.get(key)));
    const records: SessionData[] = [];
    for (const [i, value] of values.entries()) {
      if (!value) continue;
      const record = JSON.parse(value) as SessionData & { id?: string };
      if (isTombstone(record)) continue;
      record.id = this.keys.idOfSessionKey(keys[i] as string);
      records.push(record);
    }
    return records;
  }

  /** How many live records there are (tombstones left out). */
  override length(cb?: Callback): Promise<any> {
    const run = async (): Promise<number> => ((await this.all()) as SessionData[]).length;
    return settle(run(), cb);
  }

  // GuardStoreExtensions.

  /**
   * The id of a new authenticated session of `principal`: with the `spread` layout, the
   * principal's placement tag followed by the guard's random id (so the session lands in its
   * index's slot); otherwise the random id as is.
   */
  sessionIdFor(principal: string, randomId: string): string {
    return this.keys.spread ? this.keys.placementTag(principal) + randomId : randomId;
  }

  /**
   * `stampActivity` in the record under `sid`, compared and set: read, stamped, and written
   * only while the key still holds what was read (a write of another request in between makes
   * it read again, at most three times).
   */
  async recordActivity(sid: string, lastSeenAt: number): Promise<StoredCookie | undefined> {
    const key = this.keys.session(sid);
    for (let attempt = 0; attempt < ACTIVITY_ATTEMPTS; attempt++) {
      const raw = await this.#deadline('GET', (this.client as SpreadClient).get(key));
      if (raw === null) return undefined;
      const record = JSON.parse(raw) as Record<string, unknown>;
      if (isTombstone(record)) return undefined;
      const cookie = stampActivity(record, lastSeenAt);
      if (cookie === undefined) return undefined;
      const sess = record as unknown as SessionData;
      const args = [raw, JSON.stringify(record), String(this.#ttlMs(sess)), sid];
      if (Number(await this.#deadline('recordActivity', SET_IF_UNCHANGED.run(this.#scripting, this.#keysFor(sid, sess), args))) === 1) return cookie;
    }
    return undefined;
  }

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
   * Atomically: `sess` under `newId` living as its cookie says (as `set` writes it), a tombstone
   * (reason `rotated`, naming `newId`, with `graceUntil` and `sameSession` when given) under `oldId`, and the
   * principal's index entry moved to `newId`. Rejects with `SessionRenameConflictError` (and
   * changes nothing) when `oldId` holds no live record or `newId` exists.
   */
  async rename(oldId: string, newId: string, sess: SessionData, now: number, tombstoneTtlMs: number, options: RenameOptions = {}): Promise<void> {
    if (oldId === newId) throw new SessionRenameConflictError('new_exists');
    const ttl = Math.max(1, Math.ceil(tombstoneTtlMs));
    const tombstone = JSON.stringify(makeTombstone('rotated', now, ttl, { ...options, successor: newId }));
    const principal = principalOf(sess);
    if (this.#cluster && !this.keys.sameSlot(oldId, newId)) {
      await this.#moveAcrossSlots(oldId, newId, sess, now, tombstone, ttl, principal);
      return;
    }
    const keys = [this.keys.session(oldId), this.keys.session(newId), ...this.#indexKeys(newId, principal)];
    const args = [JSON.stringify(sess), tombstone, String(ttl), oldId, newId, String(Math.floor(now)), String(this.#movedTtlMs(sess))];
    await this.#deadline('rename', RENAME.run(this.#scripting, keys, args).catch(refusalToConflict));
  }

  async #loginAtOnce(login: Parameters<LoginAtOnce>[0], now: number, tombstoneTtlMs: number): Promise<AdmitResult> {
    const { oldId, newId, sess, entry, limit } = login;
    if (oldId === newId) throw new SessionRenameConflictError('new_exists');
    const ttl = Math.max(1, Math.ceil(tombstoneTtlMs));
    const keys = [this.keys.index(login.principal), this.keys.meta(login.principal), this.keys.session(oldId), this.keys.session(newId), this.keys.evictions(newId)];
    const args = [
      JSON.stringify(sess),
      // A re-login of the same user (its entry replaced) keeps the session's principal.
      JSON.stringify(makeTombstone('rotated', now, ttl, { successor: newId, sameSession: login.replacing === oldId })),
      String(ttl),
      oldId,
      newId,
      String(Math.floor(entry.createdAt)),
      String(Math.floor(entry.lastSeenAt)),
      JSON.stringify(entry.meta ?? {}),
      String(limit?.max ?? 0),
      limit?.onLimit ?? 'evictOldest',
      String(Math.ceil(this.pendingGraceMs)),
      login.replacing ?? '',
      // Only an eviction writes it.
      limit?.onLimit === 'evictOldest' ? JSON.stringify(makeTombstone('evicted', now, ttl)) : '',
      this.keys.sessionPrefix,
      login.oldStored ? '1' : '0',
      String(this.#movedTtlMs(sess)),
    ];
    const reply = (await this.#deadline('login', LOGIN.run(this.#scripting, keys, args).catch(refusalToConflict))) as unknown[];
    const [admitted, ...evicted] = reply;
    return { admitted: Number(admitted) === 1, evicted: evicted.map(String) };
  }

  /** The ids the one-step login to `newId` evicted: the login script's note, read (it stays). */
  async loginEvictions(newId: string): Promise<string[]> {
    if (this.loginAtOnce === undefined) return [];
    const ids = await this.#deadline('loginEvictions', (this.client as SpreadClient).get(this.keys.evictions(newId)));
    return typeof ids === 'string' && ids !== '' ? ids.split(' ') : [];
  }

  /** Drops the login script's note of what the login to `newId` evicted. */
  async forgetLoginEvictions(newId: string): Promise<void> {
    if (this.loginAtOnce === undefined) return;
    await this.#deadline('forgetLoginEvictions', (this.client as SpreadClient).del([this.keys.evictions(newId)]));
  }

  /**
   * `rename` when the two ids live in different slots of a cluster (a login: an anonymous id's
   * slot to the principal's). No script can span them, so it is the plain-store order: the new
   * record first (its index entry marked as having a record), then the old id tombstoned only
   * if it is still live. When that refuses (another request ended or moved the old id first) or
   * fails, the new record is tombstoned before the error goes up: an ended id never gets a
   * successor, and a login that answers 409/503 leaves no session behind. The new id was never
   * sent to anyone, so nobody can use it in between.
   */
  async #moveAcrossSlots(oldId: string, newId: string, sess: SessionData, now: number, tombstone: string, ttl: number, principal: string | undefined): Promise<void> {
    const inKeys = [this.keys.session(newId), ...this.#indexKeys(newId, principal)];
    const value = JSON.stringify(sess);
    await this.#deadline('rename', MOVE_IN.run(this.#scripting, inKeys, [value, String(this.#movedTtlMs(sess)), newId, String(Math.floor(now))]).catch(refusalToConflict));
    try {
      await this.#deadline('rename', MOVE_OUT.run(this.#scripting, [this.keys.session(oldId)], [tombstone, String(ttl)]).catch(refusalToConflict));
    } catch (error) {
      const ended = JSON.stringify(makeTombstone('destroyed', now, ttl));
      await this.#deadline('rename', TOMBSTONE.run(this.#scripting, [this.keys.session(newId)], [ended, String(ttl), '0'])).catch(ignore);
      throw error;
    }
  }

  #keysFor(sid: string, sess: SessionData): string[] {
    return [this.keys.session(sid), ...this.#indexKeys(sid, principalOf(sess))];
  }

  /**
   * The principal's index keys, for a script on `sid`'s record to keep its entry: none without
   * a principal, or for an id minted elsewhere (not in its principal's slot), which cannot
   * touch the index in the same script.
   */
  #indexKeys(sid: string, principal: string | undefined): string[] {
    return principal !== undefined && this.keys.colocated(sid, principal) ? [this.keys.index(principal), this.keys.meta(principal)] : [];
  }

  /** connect-redis's TTL rule (cookie expiry, else `ttl` seconds), in milliseconds. */
  #ttlMs(sess: SessionData): number {
    if (typeof this.ttl === 'function') return Math.ceil(this.ttl(sess) * 1000);
    const expires = sess?.cookie?.expires;
    if (expires) return Math.ceil(new Date(expires).getTime() - Date.now());
    return Math.ceil(this.ttl * 1000);
  }

  /**
   * The TTL of a record written by a move: as `set` gives it, at least 1 ms (a script reads -1
   * as "never expires", which a cookie that expired a millisecond ago must not become).
   */
  #movedTtlMs(sess: SessionData): number {
    return Math.max(1, this.#ttlMs(sess));
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

/** The node-redis commands the `spread` layout's get/set/destroy use. */
interface SpreadClient {
  get(key: string): Promise<string | null>;
  set(key: string, value: string, options: { expiration: { type: 'PX'; value: number } }): Promise<unknown>;
  del(keys: string[]): Promise<unknown>;
}

interface ScanClient {
  scanIterator(options: { MATCH: string; COUNT: number }): AsyncIterable<string[]>;
}

function ignore(): void {}

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

function toNull(): null {
  return null;
}

function settle<T>(promise: Promise<T>, cb: Callback | undefined): Promise<any> {
  if (!cb) return promise;
  return promise.then(
    (value) => cb(null, value),
    (error: unknown) => cb(error),
  );
}
