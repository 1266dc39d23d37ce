import type { SessionData } from 'express-session';

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
  fixationGuardTombstone: { reason: EndReason; at: number };
}

export function isTombstone(record: unknown): record is TombstoneRecord {
  return (
    typeof record === 'object' &&
    record !== null &&
    typeof (record as Partial<TombstoneRecord>).fixationGuardTombstone === 'object'
  );
}

export function makeTombstone(reason: EndReason, now: number, ttlMs: number): TombstoneRecord {
  return {
    // Real expiry: MemoryStore and connect-redis both derive the record's TTL from it.
    cookie: { originalMaxAge: ttlMs, expires: new Date(Date.now() + ttlMs).toISOString(), httpOnly: true, path: '/' },
    fixationGuardTombstone: { reason, at: now },
  };
}

/** What `guardedSet` did. */
export type GuardedSetResult = 'written' | 'tombstoned';

/**
 * Optional atomic operations a Store may offer. `GuardedStore` feature-detects each one
 * (`typeof store.rename === 'function'`) and falls back to get-then-set on the plain
 * express-session Store contract when it is absent. The Redis store implements all of them
 * in single Lua scripts so that no instance of a fleet ever sees a half-done step.
 */
export interface GuardStoreExtensions {
  /** Writes `sess` under `sid` unless `sid` holds a tombstone. */
  guardedSet?(sid: string, sess: SessionData): Promise<GuardedSetResult>;
  /** Replaces whatever is under `sid` by a tombstone living `ttlMs`. */
  tombstone?(sid: string, reason: EndReason, now: number, ttlMs: number): Promise<void>;
  /**
   * Atomically: writes `sess` under `newId` keeping the old record's remaining TTL, and
   * replaces `oldId` by a tombstone. Rejects (and changes nothing) when `oldId` holds no
   * live record or `newId` already exists.
   */
  rename?(oldId: string, newId: string, sess: SessionData, now: number, tombstoneTtlMs: number): Promise<void>;
}

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
 * principal → session ids. connect-redis can only SCAN every session; a "log out everywhere"
 * or a per-user limit needs this index (Spring Session keeps a set per principal the same way).
 * Implementations: `MemorySessionIndex` (one process) and `RedisSessionIndex` (a fleet).
 */
export interface SessionIndex {
  /** Adds `entry` for `principal`, enforcing `limit` atomically when given. */
  admit(principal: string, entry: SessionIndexEntry, limit?: SessionLimit): Promise<AdmitResult>;
  remove(principal: string, sessionId: string): Promise<void>;
  /** Moves an entry to a new id, keeping createdAt. */
  rename(principal: string, oldId: string, newId: string, lastSeenAt: number): Promise<void>;
  touch(principal: string, sessionId: string, lastSeenAt: number): Promise<void>;
  /** Oldest first. */
  list(principal: string): Promise<SessionIndexEntry[]>;
  /** Removes and returns every id of `principal`. */
  removeAll(principal: string): Promise<string[]>;
}
