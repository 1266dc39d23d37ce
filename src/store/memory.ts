import session, { type SessionData } from 'express-session';
import { SessionConflictError } from '../errors/index.js';
import {
  isTombstone,
  makeTombstone,
  type EndReason,
  type GuardStoreExtensions,
  type GuardedSetResult,
  type TombstoneRecord,
} from './contracts.js';

type Record_ = Record<string, unknown>;

/**
 * express-session's MemoryStore with the guard's atomic extensions (`guardedSet`, `tombstone`,
 * `rename`), the store a guard makes when it is given none. Each extension reads and writes
 * the MemoryStore's records in one synchronous step, so nothing can run between the check and
 * the write: a login is one store step instead of two per-id locks, two reads and two writes
 * (each a promise, a deadline timer and a `setImmediate` of the MemoryStore), and a late save
 * needs no lock either. Records are kept as the MemoryStore keeps them (JSON strings, expired
 * by their cookie's `expires`), so `get`, `set`, `all` & co. are the MemoryStore's own.
 */
export class AtomicMemoryStore extends session.MemoryStore implements Required<Pick<GuardStoreExtensions, 'guardedSet' | 'tombstone' | 'rename'>> {
  declare sessions: Record<string, string>;

  /** The record under `sid` as the MemoryStore's `get` reads it: parsed, and none once expired. */
  #read(sid: string): Record_ | undefined {
    const json = this.sessions[sid];
    if (json === undefined) return undefined;
    const record = JSON.parse(json) as Record_;
    const expires = (record.cookie as { expires?: unknown } | undefined)?.expires;
    if (typeof expires === 'string' && Date.parse(expires) <= Date.now()) {
      delete this.sessions[sid];
      return undefined;
    }
    return record;
  }

  async guardedSet(sid: string, sess: SessionData): Promise<GuardedSetResult> {
    if (isTombstone(this.#read(sid))) return 'tombstoned';
    this.sessions[sid] = JSON.stringify(sess);
    return 'written';
  }

  async tombstone(sid: string, reason: EndReason, now: number, ttlMs: number, options: { ifExists?: boolean } = {}): Promise<TombstoneRecord | undefined> {
    const current = this.#read(sid);
    if (current === undefined && options.ifExists === true) return undefined;
    this.sessions[sid] = JSON.stringify(makeTombstone(reason, now, ttlMs));
    return isTombstone(current) ? current : undefined;
  }

  async rename(oldId: string, newId: string, sess: SessionData, now: number, tombstoneTtlMs: number, options: { graceUntil?: number | undefined } = {}): Promise<void> {
    const current = this.#read(oldId);
    // An ended id never gets a successor.
    if (current === undefined) throw new SessionConflictError('missing');
    if (isTombstone(current)) throw new SessionConflictError(current.fixationGuardTombstone.reason);
    // A reserved login id that a revocation tombstoned meanwhile stays dead; an id is never reused.
    const existing = this.#read(newId);
    if (existing !== undefined) throw new SessionConflictError(isTombstone(existing) ? 'revoked' : 'new_exists');
    this.sessions[newId] = JSON.stringify(sess);
    this.sessions[oldId] = JSON.stringify(makeTombstone('rotated', now, tombstoneTtlMs, { successor: newId, graceUntil: options.graceUntil }));
  }
}
