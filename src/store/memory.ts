import session, { type SessionData } from 'express-session';
import { SessionConflictError } from '../errors/index.js';
import { stateOf } from '../policy/state.js';
import { stampActivity, type StoredCookie } from './activity.js';
import {
  entryEnded,
  isTombstone,
  makeTombstone,
  type AdmitResult,
  type EndReason,
  type GuardStoreExtensions,
  type GuardedSetResult,
  type InProcessLoginIndex,
  type LoginAtOnce,
  type RenameOptions,
  type TombstoneRecord,
} from './contracts.js';

type Record_ = Record<string, unknown>;

const TOMBSTONE_MARKER = '"fixationGuardTombstone"';
const COOKIE_START = '{"cookie":{';
const EXPIRES_KEY = '"expires":';
/** Successors followed when an eviction ends a session that was rotated meanwhile (as `GuardedStore` follows them). */
const MAX_LINEAGE = 8;

function isTombstoneHeld(held: TombstoneRecord | 'live' | undefined): held is TombstoneRecord {
  return held !== undefined && held !== 'live';
}

/** The MemoryStore's rule: a record whose cookie has an `expires` at or before now is gone. */
function expired(expires: unknown): boolean {
  return typeof expires === 'string' && Date.parse(expires) <= Date.now();
}

function expiresOf(record: Record_): unknown {
  return (record.cookie as { expires?: unknown } | undefined)?.expires;
}

/**
 * The cookie's `expires` of a stored record, read from its JSON without parsing the session:
 * express-session writes the cookie first, and its attributes are scalars. A bare `"expires":`
 * can only be a key (a quote inside a JSON string is escaped); one found before the cookie's
 * first `}` is the cookie's own. Any other shape is parsed whole.
 */
function storedExpiry(json: string): unknown {
  if (json.startsWith(COOKIE_START)) {
    const at = json.indexOf(EXPIRES_KEY, COOKIE_START.length);
    const end = json.indexOf('}', COOKIE_START.length);
    if (at !== -1 && at < end) {
      const value = at + EXPIRES_KEY.length;
      if (json.startsWith('null', value)) return null;
      if (json[value] === '"') return json.slice(value + 1, json.indexOf('"', value + 1));
    }
  }
  return expiresOf(JSON.parse(json) as Record_);
}

/**
 * express-session's MemoryStore with the guard's atomic extensions (`guardedSet`, `tombstone`,
 * `rename`, and `loginAtOnce` with the index it keeps), the store a guard makes when it is
 * given none. Each extension reads and writes the MemoryStore's records in one synchronous
 * step, so nothing can run between the check and the write: a login is one store step instead
 * of two per-id locks, two reads and two writes (each a promise, a deadline timer and a
 * `setImmediate` of the MemoryStore), and a late save needs no lock either. Records are kept as
 * the MemoryStore keeps them (JSON strings, expired by their cookie's `expires`), so `get`,
 * `set`, `all` & co. are the MemoryStore's own.
 */
export class AtomicMemoryStore extends session.MemoryStore implements Required<Pick<GuardStoreExtensions, 'guardedSet' | 'tombstone' | 'rename' | 'recordActivity'>>, Pick<GuardStoreExtensions, 'loginAtOnce'> {
  declare sessions: Record<string, string>;
  /** The index this store keeps (the guard's default store keeps its default index). */
  readonly index: InProcessLoginIndex | undefined;
  /**
   * With its own index, a login in one synchronous step (`LoginAtOnce`): the checks, the move,
   * the admission and the evictions, where the index would otherwise take two more store calls
   * (reserve, confirm) around the move.
   */
  readonly loginAtOnce: LoginAtOnce | undefined;

  constructor(options: { index?: InProcessLoginIndex | undefined } = {}) {
    super();
    this.index = options.index;
    this.loginAtOnce = options.index === undefined ? undefined : this.#loginAtOnce.bind(this, options.index);
  }

  /**
   * What `sid` holds as the MemoryStore's `get` would see it (an expired record is dropped): a
   * tombstone, `'live'` for a session record, or nothing. Only a record that names the tombstone
   * marker is parsed whole; any other only for its cookie's expiry (a login reads the record it
   * moves, and a parse of the whole session per login is garbage).
   */
  #peek(sid: string): TombstoneRecord | 'live' | undefined {
    const json = this.sessions[sid];
    if (json === undefined) return undefined;
    if (json.includes(TOMBSTONE_MARKER)) {
      const record = JSON.parse(json) as Record_;
      if (expired(expiresOf(record))) return this.#drop(sid);
      return isTombstone(record) ? record : 'live';
    }
    return expired(storedExpiry(json)) ? this.#drop(sid) : 'live';
  }

  #drop(sid: string): undefined {
    delete this.sessions[sid];
    return undefined;
  }

  async guardedSet(sid: string, sess: SessionData): Promise<GuardedSetResult> {
    if (isTombstoneHeld(this.#peek(sid))) return 'tombstoned';
    this.sessions[sid] = JSON.stringify(sess);
    return 'written';
  }

  async recordActivity(sid: string, lastSeenAt: number): Promise<StoredCookie | undefined> {
    if (this.#peek(sid) !== 'live') return undefined;
    const record = JSON.parse(this.sessions[sid] as string) as Record_;
    const cookie = stampActivity(record, lastSeenAt);
    if (cookie !== undefined) this.sessions[sid] = JSON.stringify(record);
    return cookie;
  }

  async tombstone(sid: string, reason: EndReason, now: number, ttlMs: number, options: { ifExists?: boolean } = {}): Promise<TombstoneRecord | undefined> {
    const current = this.#peek(sid);
    if (current === undefined && options.ifExists === true) return undefined;
    this.sessions[sid] = JSON.stringify(makeTombstone(reason, now, ttlMs));
    return isTombstoneHeld(current) ? current : undefined;
  }

  async rename(oldId: string, newId: string, sess: SessionData, now: number, tombstoneTtlMs: number, options: RenameOptions = {}): Promise<void> {
    this.#checkMove(oldId, newId, true);
    this.#move(oldId, newId, sess, now, tombstoneTtlMs, true, options);
    // With its own index, the entry moves in the same step, as the Redis rename script moves it.
    const principal = stateOf(sess)?.principal;
    if (this.index !== undefined && principal !== undefined) this.index.renameNow(principal, oldId, newId, now);
  }

  async #loginAtOnce(index: InProcessLoginIndex, login: Parameters<LoginAtOnce>[0], now: number, tombstoneTtlMs: number): Promise<AdmitResult> {
    const { oldId, newId, principal, limit, replacing } = login;
    this.#checkMove(oldId, newId, login.oldStored);
    // Sessions that ended without a logout (expired) no longer count against the limit, as the
    // Redis login script prunes them; a reservation without its record yet is a login in flight.
    if (limit !== undefined) index.pruneNow(principal, (id, reserved) => this.#ended(id, reserved));
    if (index.refusesLogin(principal, newId, limit, replacing)) return { admitted: false, evicted: [] };
    // A re-login of the same user (its entry replaced) keeps the session's principal.
    this.#move(oldId, newId, login.sess, now, tombstoneTtlMs, login.oldStored, { sameSession: replacing === oldId });
    const evicted: string[] = [];
    // Every id ended is named (the successors followed too): each is audited as evicted.
    for (const id of index.enterLogin(principal, login.entry, limit, replacing)) evicted.push(...this.#endLineage(index, principal, id, now, tombstoneTtlMs));
    return { admitted: true, evicted };
  }

  /** Whether the session of `sid`'s index entry ended without a logout (`entryEnded`, on what this store holds). */
  #ended(sid: string, reserved: boolean): boolean {
    return entryEnded(this.#peek(sid), reserved);
  }

  /** Throws the `SessionConflictError` of a move that may not happen (changing nothing). */
  #checkMove(oldId: string, newId: string, oldStored: boolean): void {
    if (oldStored) {
      const current = this.#peek(oldId);
      // An ended id never gets a successor.
      if (current === undefined) throw new SessionConflictError('missing');
      if (isTombstoneHeld(current)) throw new SessionConflictError(current.fixationGuardTombstone.reason);
    }
    // A login id that a revocation tombstoned meanwhile stays dead; an id is never reused.
    const existing = this.#peek(newId);
    if (existing !== undefined) throw new SessionConflictError(existing === 'live' ? 'new_exists' : 'revoked');
  }

  #move(oldId: string, newId: string, sess: SessionData, now: number, tombstoneTtlMs: number, oldStored: boolean, options?: RenameOptions): void {
    this.sessions[newId] = JSON.stringify(sess);
    if (oldStored) this.sessions[oldId] = JSON.stringify(makeTombstone('rotated', now, tombstoneTtlMs, { ...options, successor: newId }));
  }

  /**
   * Ends an evicted id and every successor a rotation gave it, each tombstoned (even one
   * without a record: a login in flight under it then fails) and then unindexed. Returns the
   * ids ended.
   */
  #endLineage(index: InProcessLoginIndex, principal: string, id: string, now: number, tombstoneTtlMs: number): string[] {
    const tombstone = JSON.stringify(makeTombstone('evicted', now, tombstoneTtlMs));
    const ended: string[] = [];
    let next: string | undefined = id;
    for (let step = 0; next !== undefined && step < MAX_LINEAGE; step++) {
      const held = this.#peek(next);
      // A successor that is another user's session (his login on the same browser) is not followed.
      if (step > 0 && held === 'live' && stateOf(JSON.parse(this.sessions[next] as string) as object)?.principal !== principal) break;
      this.sessions[next] = tombstone;
      index.removeNow(principal, next);
      ended.push(next);
      next = isTombstoneHeld(held) ? held.fixationGuardTombstone.successor : undefined;
    }
    return ended;
  }
}
