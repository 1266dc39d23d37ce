import type { SessionData } from 'express-session';
import type { StoredCookie } from './activity.js';

/** Why a session id stopped working. Stored in its tombstone and told to its next request. */
export type EndReason =
  | 'rotated'
  | 'logout'
  | 'logout_everywhere'
  | 'evicted'
  | 'revoked'
  | 'idle_timeout'
  | 'absolute_timeout'
  | 'credentials_changed'
  | 'tripwire'
  | 'destroyed';

/** The record left under a dead id: a late `set` under it is refused while it lives. */
export interface TombstoneRecord {
  cookie: { originalMaxAge: number; expires: string; httpOnly: true; path: '/' };
  fixationGuardTombstone: {
    reason: EndReason;
    at: number;
    /** A rotated id: the id it was rotated to (a revocation follows it; the grace resolves it). */
    successor?: string;
    /** A periodic rotation: until when the old id still resolves to `successor` (parallel requests of one page). */
    graceUntil?: number;
    /**
     * A rotation that kept the session's principal (an elevation, a periodic renewal, a
     * re-login of the same user): `successor` is this session under a new id, so a logout
     * presenting this id ends it. Never set for a login that changed whom the id names.
     */
    sameSession?: true;
  };
}

/** What a rotation's `rename` writes into the old id's tombstone besides its successor. */
export type RenameOptions = Pick<TombstoneOptions, 'graceUntil' | 'sameSession'>;

export interface TombstoneOptions {
  successor?: string | undefined;
  graceUntil?: number | undefined;
  sameSession?: boolean | undefined;
}

export function isTombstone(record: unknown): record is TombstoneRecord {
  return (
    typeof record === 'object' &&
    record !== null &&
    typeof (record as Partial<TombstoneRecord>).fixationGuardTombstone === 'object'
  );
}

/**
 * Whether the session of an index entry ended without a logout, so that it stops counting
 * against a limit: what the store `holds` under its id is nothing (unless the entry is a
 * reservation: a login in flight writes its record after), or a tombstone naming no successor
 * (one that names one was rotated: its entry moves next, and an eviction follows it).
 */
export function entryEnded(holds: unknown, reserved: boolean): boolean {
  if (holds === undefined) return !reserved;
  return isTombstone(holds) && holds.fixationGuardTombstone.successor === undefined;
}

export function makeTombstone(reason: EndReason, now: number, ttlMs: number, options: TombstoneOptions = {}): TombstoneRecord {
  const mark: TombstoneRecord['fixationGuardTombstone'] = { reason, at: now };
  if (options.successor !== undefined) mark.successor = options.successor;
  if (options.graceUntil !== undefined) mark.graceUntil = options.graceUntil;
  if (options.sameSession === true) mark.sameSession = true;
  return {
    // Real expiry: MemoryStore and connect-redis both derive the record's TTL from it.
    cookie: { originalMaxAge: ttlMs, expires: new Date(Date.now() + ttlMs).toISOString(), httpOnly: true, path: '/' },
    fixationGuardTombstone: mark,
  };
}

/**
 * Whether a failed store write may nevertheless have landed. A store marks a failure
 * `notApplied: true` (on the error or any error in its `cause` chain) when the write provably
 * changed nothing: the command never left (the client was offline or closed), or the store
 * answered with an error; a refused connection (`ECONNREFUSED`) counts too. Any other failure — a deadline passed, the connection dropped after
 * the command was sent — has an unknown outcome, and so has a refusal-free failure of a store
 * that marks nothing. A refusal (a `SessionGuardError` below 500: a conflict, a limit) is an
 * answer, never unknown.
 */
export function mayHaveLanded(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; typeof e === 'object' && e !== null && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    // A refused connection carried nothing.
    if ((e as { notApplied?: unknown }).notApplied === true || (e as { code?: unknown }).code === 'ECONNREFUSED') return false;
    const status = (e as { status?: unknown }).status;
    if (depth === 0 && typeof status === 'number' && status < 500) return false;
  }
  return true;
}

/** Marks `error` as a failure that provably changed nothing in the store (see `mayHaveLanded`). */
export function markNotApplied<E extends object>(error: E): E & { notApplied: true } {
  return Object.assign(error, { notApplied: true as const });
}

/** What `guardedSet` did. */
export type GuardedSetResult = 'written' | 'tombstoned';

/**
 * Optional atomic operations a Store may offer. `GuardedStore` feature-detects each one
 * (`typeof store.rename === 'function'`) and falls back to the plain express-session Store
 * contract (get/set/destroy) under a per-id lock when it is absent. The Redis store
 * implements all of them in single Lua scripts so that no instance of a fleet ever sees a
 * half-done step.
 */
export interface GuardStoreExtensions {
  /** Writes `sess` under `sid` unless `sid` holds a tombstone. */
  guardedSet?(sid: string, sess: SessionData): Promise<GuardedSetResult>;
  /**
   * Atomically, in the live record under `sid`: `stampActivity` (its guard state's
   * `lastSeenAt` raised to `lastSeenAt`, its expiry renewed from its own cookie), written back
   * with that expiry. Nothing for a missing or tombstoned record, or one that kept changing.
   * Resolves to the record's cookie as written, or undefined when nothing was written.
   */
  recordActivity?(sid: string, lastSeenAt: number): Promise<StoredCookie | undefined>;
  /**
   * Replaces whatever is under `sid` by a tombstone living `ttlMs`. With `ifExists`, writes
   * nothing when `sid` holds no record (an id that never existed needs no tombstone).
   * Resolves to the tombstone that was replaced, if `sid` held one (a revocation follows its
   * successor).
   */
  tombstone?(sid: string, reason: EndReason, now: number, ttlMs: number, options?: { ifExists?: boolean }): Promise<TombstoneRecord | undefined>;
  /**
   * Atomically: writes `sess` under `newId` with the expiry a `set` of it would have (not the
   * old record's remaining TTL: a store that says its records expire with their cookie is
   * trusted on that for moved records too), replaces
   * `oldId` by a `rotated` tombstone naming `newId` (with `graceUntil` and `sameSession` when
   * given: `makeTombstone` writes them), and moves
   * `oldId`'s index entry to `newId` where the store keeps the index. Rejects with a
   * `SessionConflictError` (and changes nothing) when `oldId` holds no live record or `newId`
   * already exists: a lost race, not an outage.
   */
  rename?(oldId: string, newId: string, sess: SessionData, now: number, tombstoneTtlMs: number, options?: RenameOptions): Promise<void>;
  /**
   * A whole login in one atomic step, where the store can (see `LoginAtOnce`); undefined
   * otherwise. Used only with the store's own index (`SessionIndex#ownsSessionsOf`).
   */
  loginAtOnce?: LoginAtOnce | undefined;
  /**
   * The ids a `loginAtOnce` to `newId` evicted (the store notes them while their tombstones
   * live; reading changes nothing): for a login whose reply was lost, so that its evictions are
   * still audited. Only a store whose `loginAtOnce` can lose its reply needs it (not one in this
   * process), with `forgetLoginEvictions`.
   */
  loginEvictions?(newId: string): Promise<string[]>;
  /** Drops the note of what a `loginAtOnce` to `newId` evicted: once audited, or once its reply arrived. */
  forgetLoginEvictions?(newId: string): Promise<void>;
  /**
   * The id of a new authenticated session of `principal`, built from `randomId` (the guard's
   * own 256-bit random id, which must stay in it whole). A store that places records by id
   * (Redis Cluster: a principal's sessions in its index's slot) embeds its placement here.
   */
  sessionIdFor?(principal: string, randomId: string): string;
}

/**
 * Atomically, a login: admits `entry` (its id is `newId`) to `principal`'s index under `limit`
 * — refusing under `rejectLogin` at the limit (`replacing` does not count) with
 * `{ admitted: false }` and changing nothing — then does what `rename` does (or, when
 * `oldStored` is false, writes `newId` only), adds the entry live, and under `evictOldest`
 * tombstones (reason `evicted`) and unindexes the oldest live entries beyond the limit, named in
 * `evicted`. Rejects with a `SessionConflictError` (changing nothing) as `rename` does.
 */
export type LoginAtOnce = (
  login: {
    oldId: string;
    newId: string;
    sess: SessionData;
    oldStored: boolean;
    principal: string;
    entry: SessionIndexEntry;
    limit: SessionLimit | undefined;
    replacing: string | undefined;
  },
  now: number,
  tombstoneTtlMs: number,
) => Promise<AdmitResult>;

/** One entry of a principal's session index ("your devices"). */
export interface SessionIndexEntry {
  sessionId: string;
  createdAt: number;
  lastSeenAt: number;
  /** Small free-form facts shown on a devices page (user agent family, …). Never secrets. */
  meta?: Record<string, string>;
}

export interface SessionLimit {
  max: number;
  onLimit: 'evictOldest' | 'rejectLogin';
}

export interface AdmitResult {
  admitted: boolean;
  /** Ids removed from the index to make room: the caller tombstones them with reason `evicted`. */
  evicted: string[];
}

/**
 * How a login enters a principal's index, in two steps around the rotation:
 * - `reserve` (before): adds a pending entry. Under `rejectLogin` it refuses when the
 *   principal already holds `max` entries (pending ones count: concurrent logins cannot slip
 *   past the limit), not counting `replacing`.
 * - `confirm` (after the record is written): marks the entry live and, under `evictOldest`,
 *   names the oldest *live* entries beyond `max` in `evicted` (never the confirmed one, never
 *   a reserved one: a login in flight is not evicted before it answered). They stay listed:
 *   the caller tombstones each, then removes it. A confirmation of an entry no longer listed
 *   (the login was evicted or revoked in flight) admits nothing (`admitted: false`).
 */
export interface AdmitOptions {
  phase: 'reserve' | 'confirm';
  /** The id this login rotates away from (re-login on the same session): it does not count. */
  replacing?: string | undefined;
}

/**
 * principal → session ids. connect-redis can only SCAN every session; a "log out everywhere"
 * or a per-user limit needs this index (Spring Session keeps a set per principal the same way).
 * Implementations: `MemorySessionIndex` (one process) and `RedisSessionIndex` (a fleet).
 */
export interface SessionIndex {
  /** Adds or confirms `entry` for `principal`, enforcing `limit` (see `AdmitOptions`). */
  admit(principal: string, entry: SessionIndexEntry, limit?: SessionLimit, options?: AdmitOptions): Promise<AdmitResult>;
  remove(principal: string, sessionId: string): Promise<void>;
  /** Moves an entry to a new id, keeping createdAt. */
  rename(principal: string, oldId: string, newId: string, lastSeenAt: number): Promise<void>;
  touch(principal: string, sessionId: string, lastSeenAt: number): Promise<void>;
  /** Oldest first. */
  list(principal: string): Promise<SessionIndexEntry[]>;
  /**
   * Optional, atomic: tombstones every session listed for `principal` (with `tombstone`,
   * living `ttlMs`) and empties the index in one step, so a rotation cannot slip between the
   * two. Resolves to the ids ended. `RedisSessionIndex` implements it as one script.
   */
  endAll?(principal: string, reason: EndReason, now: number, ttlMs: number): Promise<string[]>;
  /**
   * Whether this index and `store` work as one: `endAll` may write tombstones into its records,
   * the store's `rename` moves this index's entry in the same step, and its `loginAtOnce`
   * admits to this index in the same step.
   */
  ownsSessionsOf?(store: unknown): boolean;
}

/**
 * The synchronous steps of a login in an index kept in the store's own process, for a store
 * that logs in at once with it (`AtomicMemoryStore` with its `MemorySessionIndex`): nothing
 * runs between the store's checks, its writes and the index's.
 */
export interface InProcessLoginIndex extends SessionIndex {
  /** Whether `admit` would refuse this login (`rejectLogin` at the limit; `replacing` does not count). Changes nothing. */
  refusesLogin(principal: string, sessionId: string, limit: SessionLimit | undefined, replacing: string | undefined): boolean;
  /**
   * Lists `entry` live: in the place of `replacing` (its creation, order and meta kept) when
   * that is listed. Returns the oldest live entries beyond the limit under `evictOldest`, still
   * listed: the store ends each, then removes it (`removeNow`).
   */
  enterLogin(principal: string, entry: SessionIndexEntry, limit: SessionLimit | undefined, replacing: string | undefined): string[];
  removeNow(principal: string, sessionId: string): void;
  /** `rename`, synchronously: the store's `rename` moves the entry in the same step as the record. */
  renameNow(principal: string, oldId: string, newId: string, lastSeenAt: number): void;
  /** Removes `principal`'s entries whose session `gone` says ended (told whether the entry is a reservation). */
  pruneNow(principal: string, gone: (sessionId: string, reserved: boolean) => boolean): void;
}
