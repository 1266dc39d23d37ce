import session, { type SessionData, type Store } from 'express-session';
import type { Auditor } from '../audit/index.js';
import type { Clock } from '../clock/index.js';
import { SessionConflictError, SessionGuardError, SessionLimitError, SessionStoreUnavailableError } from '../errors/index.js';
import { stateOf } from '../policy/state.js';
import { settleAll, settleEach } from '../util/concurrency.js';
import {
  entryEnded,
  isTombstone,
  makeTombstone,
  mayHaveLanded,
  type EndReason,
  type GuardStoreExtensions,
  type GuardedSetResult,
  type InProcessLoginIndex,
  type RenameOptions,
  type SessionIndex,
  type SessionIndexEntry,
  type SessionLimit,
  type TombstoneRecord,
} from './contracts.js';
import { stampActivity, type StoredCookie } from './activity.js';
import { AtomicMemoryStore } from './memory.js';

/** A Store that may offer the guard's atomic extensions. */
export type ExtensibleStore = Store & GuardStoreExtensions;

type Callback = (err?: unknown) => void;
type Record_ = Record<string, unknown>;

export const DEFAULT_STORE_TIMEOUT_MS = 5_000;
/** A revocation follows rotations that were in flight for at most this many rounds. */
const MAX_REVOCATION_ROUNDS = 8;
/** Ids of writes with an unknown outcome still to be ended, at most (the oldest is given up beyond). */
export const MAX_UNSETTLED_IDS = 10_000;
/** Retries of those ends: the first after this long, doubling up to `UNSETTLED_RETRY_MAX_MS`. */
const UNSETTLED_RETRY_MIN_MS = 250;
const UNSETTLED_RETRY_MAX_MS = 5_000;
/** Ids ended per retry round. */
const UNSETTLED_BATCH = 256;

/**
 * Decides, for the layer above, whether express-session may persist a record: it may bind
 * it (mutate), refuse it (throw), or say it is already persisted as is (`'skip'`).
 */
export interface WriteGate {
  beforeSet(sid: string, sess: Record_): 'write' | 'skip' | Promise<'write' | 'skip'>;
  /**
   * Called as the record goes out to the store, after every decision: what it returns (a
   * snapshot of the record as written) is handed to `afterSet`. The caller may go on changing
   * the session while the write is in flight. Each call is followed by exactly one `afterSet`
   * or `writeFailed` for the same write.
   */
  beforeWrite?(sess: Record_): unknown;
  /** After a write under `sid` succeeded (a login through a regenerated session confirms its admission here). */
  afterSet?(sid: string, sess: Record_, written: unknown): void | Promise<void>;
  /**
   * A write under `sid` that `beforeSet` let through failed (`error`: the store's failure, or
   * the conflict of an id that ended meanwhile); the caller then rejects with `error`. A login
   * through a regenerated session abandons its reservation here.
   */
  writeFailed?(sid: string, sess: Record_, error: unknown): void | Promise<void>;
  /**
   * `req.session.regenerate()` is about to end the request's id: why (a logout when the app
   * dropped the identity first, as passport's logout does; a rotation otherwise), and what to do
   * once it ended.
   */
  beforeRegenerate?(req: unknown): { reason: EndReason; ended?(): void };
  /**
   * Whether express-session's `touch` of an unchanged `sess` (every request that changed
   * nothing) must reach the store: false when the expiry the record was last written with
   * already outlasts every deadline of the session.
   */
  beforeTouch?(sid: string, sess: Record_): boolean;
}

export interface GuardedStoreOptions {
  auditor: Auditor;
  clock: Clock;
  index: SessionIndex;
  /** How long a dead id stays refused. */
  tombstoneTtlMs: number;
  /** Every store call fails (503) after this long; 0 disables. */
  operationTimeoutMs: number;
  sessionLimit?: SessionLimit | undefined;
}

export interface RotateOptions {
  /** The principal the new record is authenticated as, if any. */
  principal?: string | undefined;
  /** The principal the old record was authenticated as, if any. */
  oldPrincipal?: string | undefined;
  /** Whether the old id is in the store (false: generated in this request, never saved). */
  oldStored: boolean;
  /** Periodic rotation: the old id resolves to the new one until then. */
  graceUntil?: number | undefined;
  /**
   * A login where `logsInAtOnce`: the index entry to admit with the move, in the same step
   * (`principal` is the one logging in).
   */
  admission?: { entry: SessionIndexEntry; replacing?: string | undefined; ip?: string | undefined } | undefined;
}

/**
 * The sessions express-session made from a record this store returned (its `createSession`, on a
 * load or a `reload()`): how the guard knows a request's session was loaded, whatever the
 * request's Cookie header looked like to anyone else. A WeakSet: nothing on the request or
 * the session itself (a new property on either is a new hidden class per request).
 */
const loadedSessions = new WeakSet<object>();

/** Whether express-session made `sess` from a record a `GuardedStore` returned. */
export function loadedFromStore(sess: object): boolean {
  return loadedSessions.has(sess);
}

function isInProcess(index: SessionIndex | undefined): index is InProcessLoginIndex {
  return typeof (index as Partial<InProcessLoginIndex> | undefined)?.pruneNow === 'function';
}

/** What `get` answers express-session: a live record, or no session for a missing or tombstoned id. */
function answerGet(callback: (err: unknown, session?: SessionData | null) => void, err: unknown, record: Record_ | null | undefined): void {
  if (err) return callback(err);
  if (!record || isTombstone(record)) return callback(null, null);
  callback(null, record as unknown as SessionData);
}

/**
 * A write with an unknown outcome waiting to be ended: its principal, the id its index entry
 * goes back to, and for a one-step login whose evictions are not audited yet, its client's ip.
 */
interface Unsettled {
  principal: string | undefined;
  restore: string | undefined;
  login?: { ip: string | undefined } | undefined;
}

/**
 * The persistence layer under express-session: wraps any `Store` and makes it fail closed.
 * It knows records, tombstones, the index and deadlines — never requests or login rules
 * (those reach it through a `WriteGate` the Express layer installs).
 *
 * - **tombstones**: an ended or rotated id is replaced by a tombstone, so a late `set` from a
 *   request that loaded the old id cannot bring it back; `get` answers no session for it.
 * - **rotation**: `rotate` moves a record to a new id only while its source is live (checked
 *   under a per-id lock on plain stores, inside one script on Redis): an ended id never gets
 *   a successor. The index entry is moved, never removed-then-renamed.
 * - **revocation**: `endAll` tombstones first, then unindexes, and follows rotations that were
 *   in flight; ids it could not end stay indexed so that a retry ends them.
 * - **fail closed**: store errors and time-outs become `SessionStoreUnavailableError` (503), and
 *   the store never tells express-session it "disconnected" (which makes it serve requests
 *   with no session at all).
 *
 * Optional atomic methods of the inner store (`guardedSet`, `tombstone`, `rename`) and of the
 * index (`endAll`) are used when present; otherwise the plain Store contract is used under a
 * per-id lock (atomic within this process).
 */
export class GuardedStore extends session.Store {
  readonly inner: ExtensibleStore;
  readonly options: GuardedStoreOptions;
  /** Per-id queues serialising read-then-write on stores without atomic extensions. */
  readonly #locks = new Map<string, Promise<void>>();
  #gate: WriteGate | undefined;
  #available = true;
  /** Ids whose creating write has an unknown outcome and that could not be ended yet → their principal, and where their index entry goes back to. */
  readonly #unsettled = new Map<string, Unsettled>();
  #retryTimer: NodeJS.Timeout | undefined;
  #retryDelayMs = UNSETTLED_RETRY_MIN_MS;
  #retrying = false;
  /** The store came back while a retry was in flight: the next one runs at once, whatever that one's outcome. */
  #retryAtOnce = false;

  constructor(inner: Store, options: GuardedStoreOptions) {
    super();
    this.inner = inner as ExtensibleStore;
    this.options = options;
    GuardedStore.#watch(inner, this);
  }

  /** The guards wrapping each inner store: one pair of listeners per store, however many guards share it. */
  static readonly #watchers = new WeakMap<Store, Set<WeakRef<GuardedStore>>>();

  /**
   * Infrastructure events are ours to interpret: forwarding 'disconnect' would make
   * express-session serve requests with no session (fail open). A listener per guard would
   * exceed the emitter's limit of 10 (MaxListenersExceededWarning) with several guards on one
   * store, and would keep every guard ever made alive: the store holds one listener that
   * reaches the live guards through weak references.
   */
  static #watch(inner: Store, guarded: GuardedStore): void {
    if (typeof inner.on !== 'function') return;
    let guards = GuardedStore.#watchers.get(inner);
    if (!guards) {
      const set = new Set<WeakRef<GuardedStore>>();
      guards = set;
      GuardedStore.#watchers.set(inner, set);
      const each = (fn: (store: GuardedStore) => void) => {
        for (const ref of set) {
          const store = ref.deref();
          if (store) fn(store);
          else set.delete(ref);
        }
      };
      inner.on('disconnect', function guardedStoresOnDisconnect() {
        each((store) => store.#markDown('disconnect'));
      });
      inner.on('connect', function guardedStoresOnConnect() {
        each((store) => store.#markUp());
      });
    }
    guards.add(new WeakRef(guarded));
  }

  /** Installs the layer above's decision on what express-session may persist (once). */
  useWriteGate(gate: WriteGate): void {
    if (this.#gate) throw new Error('GuardedStore: a write gate is already installed; give each sessionGuard() its own store.');
    this.#gate = gate;
  }

  /** Whether the last store call succeeded. */
  get available(): boolean {
    return this.#available;
  }

  /**
   * Whether a login is one atomic step here (`GuardStoreExtensions#loginAtOnce`, with the
   * store's own index): then `rotate` with `admission` admits, evicts and moves at once, and
   * no `reserveLogin` / `confirmLogin` is needed.
   */
  get logsInAtOnce(): boolean {
    // It is `rename` and admission together: a store whose `rename` is withheld logs in in steps.
    const inner = this.inner;
    return typeof inner.loginAtOnce === 'function' && typeof inner.rename === 'function' && this.options.index.ownsSessionsOf?.(inner) === true;
  }

  /** Whether the inner store writes atomically (then no per-id lock is needed). */
  get atomic(): boolean {
    return typeof this.inner.guardedSet === 'function' && typeof this.inner.tombstone === 'function';
  }

  // ---- plumbing -------------------------------------------------------------------------

  #markDown(operation: string, err?: unknown): void {
    if (!this.#available) return;
    this.#available = false;
    const code = (err as { code?: unknown } | undefined)?.code;
    this.options.auditor.emit('store_unavailable', {
      reason: operation,
      detail: { error: typeof code === 'string' ? code : ((err as Error | undefined)?.name ?? 'disconnect') },
    });
  }

  #markUp(): void {
    if (this.#available) return;
    this.#available = true;
    this.options.auditor.emit('store_recovered', {});
    // Back: what could not be ended during the outage is ended now.
    if (this.#unsettled.size > 0) this.#scheduleRetry(0);
  }

  // ---- writes with an unknown outcome --------------------------------------------------------

  /** How many ids of writes with an unknown outcome still wait to be ended. */
  get unsettled(): number {
    return this.#unsettled.size;
  }

  /**
   * A write that may have created a session under `sid` failed without a known outcome (its
   * reply was lost: a deadline, a connection reset after it was sent). The request answers
   * 503, so `sid` is never sent to anyone — and nothing may live under it: it is tombstoned (a
   * write still on its way then finds the tombstone and refuses) and removed from
   * `principal`'s index, now, or — when the store is still failing — by retries with a capped
   * backoff and as soon as a store call succeeds again. At most `MAX_UNSETTLED_IDS` wait; the
   * oldest is given up beyond (audited). Never rejects.
   *
   * `restore`: the id a rotation moved `principal`'s index entry from; the entry goes back
   * first, to where that session lives by then (`#putBack`; a no-op when it never moved).
   * `login`: `sid` is a one-step login's new id. Its evictions ran in the store with the login;
   * once `sid` is ended, they are read back from the store (`loginEvictions`), audited, and
   * their note dropped.
   */
  async settleUnknown(sid: string, principal: string | undefined, restore?: string, login?: { ip: string | undefined }): Promise<void> {
    this.options.auditor.emit('write_outcome_unknown', { sessionId: sid, principal });
    const unsettled: Unsettled = { principal, restore, login };
    try {
      await this.#settle(sid, unsettled);
    } catch {
      this.#unsettled.delete(sid);
      this.#unsettled.set(sid, unsettled);
      if (this.#unsettled.size > MAX_UNSETTLED_IDS) {
        const [oldest, who] = this.#unsettled.entries().next().value as [string, Unsettled];
        this.#unsettled.delete(oldest);
        this.options.auditor.emit('write_outcome_abandoned', { sessionId: oldest, principal: who.principal, reason: 'queue_full' });
      }
      this.#scheduleRetry(this.#retryDelayMs);
    }
  }

  /**
   * Ends `sid`, after moving its index entry back where a rotation took it from; then audits
   * what a one-step login to `sid` evicted. The note is read (a lost reply: read again by the
   * retry), audited once, and only then dropped (a failed drop leaves it to expire).
   */
  async #settle(sid: string, unsettled: Unsettled): Promise<void> {
    const { principal, restore, login } = unsettled;
    if (principal !== undefined && restore !== undefined) await this.#exclusive(restore, () => this.#putBack(principal, sid, restore));
    await this.#endLineages([sid], 'destroyed', principal, false);
    const inner = this.inner;
    if (login === undefined || typeof inner.loginEvictions !== 'function') return;
    const evicted = await this.#promise('loginEvictions', () => inner.loginEvictions!(sid));
    unsettled.login = undefined;
    for (const id of evicted) {
      this.options.auditor.emit('session_evicted', { sessionId: id, principal, ip: login.ip, reason: 'session_limit', detail: { replyLost: true } });
    }
    if (evicted.length > 0) await this.#forgetEvictions(sid);
  }

  /** Drops a one-step login's note of its evictions, at best (it expires with their tombstones otherwise). */
  async #forgetEvictions(newId: string): Promise<void> {
    await this.inner.forgetLoginEvictions?.(newId).catch(() => undefined);
  }

  /**
   * Moves `principal`'s entry from `movedTo` (a failed rotation's new id) back to where the
   * session lives now: `from`, or the successor a later rotation gave it (whose move found no
   * entry to move). Nothing when the session has ended since, or when `from`'s tombstone names
   * `movedTo` (the failed rotation's tombstone landed): `movedTo` is being ended with its entry.
   * Under `from`'s lock, so that no rotation of it runs in between.
   */
  async #putBack(principal: string, movedTo: string, from: string): Promise<void> {
    const target = await this.#whereSessionLives(principal, movedTo, from);
    if (target !== undefined) await this.index('index', (index) => index.rename(principal, movedTo, target, this.options.clock.now()));
  }

  /**
   * The live id of `principal`'s session that a failed rotation (to `movedTo`) left under
   * `from`: `from`, or the successor a later rotation gave it. Undefined when it has ended, when
   * `from`'s tombstone names `movedTo`, or when the session there is no longer `principal`'s (a
   * login of another user on the same browser moved it on: never theirs to put back or end).
   */
  async #whereSessionLives(principal: string, movedTo: string, from: string): Promise<string | undefined> {
    let target = from;
    for (let round = 0; round < MAX_REVOCATION_ROUNDS; round++) {
      const current = await this.readRaw(target);
      if (current === undefined || current === null) return undefined;
      if (!isTombstone(current)) return stateOf(current as Record_)?.principal === principal ? target : undefined;
      const successor = current.fixationGuardTombstone.successor;
      if (successor === undefined || successor === movedTo) return undefined;
      target = successor;
    }
    return undefined;
  }

  #scheduleRetry(delayMs: number): void {
    if (this.#retrying) {
      // A retry in flight may still fail with errors from before the store came back.
      if (delayMs === 0) this.#retryAtOnce = true;
      return;
    }
    if (this.#retryTimer) {
      if (delayMs > 0) return;
      clearTimeout(this.#retryTimer);
    }
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      void this.#retryUnsettled();
    }, delayMs);
    // Pending ends never keep a process alive that is otherwise done.
    this.#retryTimer.unref?.();
  }

  async #retryUnsettled(): Promise<void> {
    this.#retrying = true;
    let failed = false;
    try {
      while (this.#unsettled.size > 0 && !failed) {
        const batch = [...this.#unsettled].slice(0, UNSETTLED_BATCH);
        const outcomes = await settleEach(batch, ([sid, unsettled]) => this.#settle(sid, unsettled));
        for (const [i, outcome] of outcomes.entries()) {
          const [sid, { principal }] = batch[i] as [string, Unsettled];
          if (!outcome.ok) {
            failed = true;
            continue;
          }
          this.#unsettled.delete(sid);
          this.options.auditor.emit('write_outcome_settled', { sessionId: sid, principal });
        }
      }
    } finally {
      this.#retrying = false;
    }
    const atOnce = this.#retryAtOnce;
    this.#retryAtOnce = false;
    if (failed && atOnce) {
      this.#retryDelayMs = UNSETTLED_RETRY_MIN_MS;
      this.#scheduleRetry(0);
    } else if (failed) {
      this.#retryDelayMs = Math.min(this.#retryDelayMs * 2, UNSETTLED_RETRY_MAX_MS);
      this.#scheduleRetry(this.#retryDelayMs);
    } else this.#retryDelayMs = UNSETTLED_RETRY_MIN_MS;
  }

  /**
   * How long this store's calls may take before they fail (503), or 0 for no timer of ours: a
   * store with its own per-operation deadline (`operationTimeoutMs`, as the Redis store has)
   * needs no second one, and express-session's MemoryStore answers from this process's memory
   * in the next turn of the event loop, with nothing to wait for.
   */
  #deadlineMs(): number {
    const own = (this.inner as { operationTimeoutMs?: unknown }).operationTimeoutMs;
    if (typeof own === 'number' && own > 0 && own <= this.options.operationTimeoutMs) return 0;
    return this.#inMemory() ? 0 : this.options.operationTimeoutMs;
  }

  /**
   * Whether the inner store drops a record when its cookie expires (express-session's
   * MemoryStore; a store that says so, as the Redis store does unless its TTL is a function):
   * only then may the write gate keep a touch from it.
   */
  #expiresByCookie(): boolean {
    return this.#inMemory() || (this.inner as { expiresByCookie?: unknown }).expiresByCookie === true;
  }

  /**
   * Exactly express-session's MemoryStore, or the guard's own (whose extensions answer at once):
   * records in this process's memory, expiring with their cookie. Another subclass may
   * override its calls with slower ones, or keep records otherwise.
   */
  #inMemory(): boolean {
    const proto: unknown = Object.getPrototypeOf(this.inner);
    return proto === session.MemoryStore.prototype || proto === AtomicMemoryStore.prototype;
  }

  /**
   * The error an inner call's outcome is reported as, or undefined for a success (a missing
   * file, ENOENT, is one: no session): store failures become 503s and mark the store down,
   * refusals stay what they are.
   */
  #failure(operation: string, err: unknown, marksUp = true): unknown {
    if (err instanceof SessionGuardError && err.status < 500) {
      // A refusal (a lost rotation race, a conflict) is an answer, not an outage.
      if (marksUp) this.#markUp();
      return err;
    }
    // A setup the store cannot serve (a regenerated login on the Redis `spread` layout): said
    // as it is, never disguised as an outage (503) the app would retry for ever.
    if (err instanceof SessionGuardError && err.code === 'SESSION_CONFIG') return err;
    if (err && (err as { code?: unknown }).code !== 'ENOENT') {
      this.#markDown(operation, err);
      // The store's own message (Redis errors name keys and hosts) stays in `cause`.
      return new SessionStoreUnavailableError(undefined, { cause: err });
    }
    if (!this.#available && marksUp) this.#markUp();
    return undefined;
  }

  /**
   * Runs a callback-style inner call with a time-out; errors become 503s. Callback-based, so
   * the per-request `get` and `touch` cost no promise.
   */
  #invoke<T>(operation: string, invoke: (cb: (err?: unknown, value?: T) => void) => void, done: (err: unknown, value?: T) => void, marksUp = true): void {
    const timeoutMs = this.#deadlineMs();
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (err?: unknown, value?: T) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      const failure = this.#failure(operation, err, marksUp);
      if (failure) done(failure);
      else done(null, err ? undefined : value);
    };
    if (timeoutMs > 0) {
      timer = setTimeout(() => finish(Object.assign(new Error(`session store ${operation} timed out after ${timeoutMs} ms`), { code: 'ETIMEDOUT' })), timeoutMs);
      timer.unref?.();
    }
    try {
      invoke(finish);
    } catch (err) {
      finish(err ?? new Error(`session store ${operation} threw`));
    }
  }

  #call<T>(operation: string, invoke: (cb: (err?: unknown, value?: T) => void) => void, marksUp = true): Promise<T | undefined> {
    return new Promise<T | undefined>((resolve, reject) => {
      this.#invoke<T>(operation, invoke, (err, value) => (err ? reject(err) : resolve(value)), marksUp);
    });
  }

  #promise<T>(operation: string, run: () => Promise<T>, marksUp = true): Promise<T> {
    if (this.#deadlineMs() > 0) {
      return this.#call<T>(
        operation,
        (cb) => {
          run().then((value) => cb(undefined, value), (err: unknown) => cb(err ?? new Error(`${operation} failed`)));
        },
        marksUp,
      ) as Promise<T>;
    }
    // No deadline of ours (the store keeps its own, or answers from memory): one promise, no timer.
    let running: Promise<T>;
    try {
      running = run();
    } catch (err) {
      running = Promise.reject(err);
    }
    return running.then(
      (value) => {
        if (!this.#available && marksUp) this.#markUp();
        return value;
      },
      (err: unknown) => {
        const failure = this.#failure(operation, err ?? new Error(`${operation} failed`), marksUp);
        if (failure) throw failure;
        return undefined as T;
      },
    );
  }

  /**
   * Runs `work` alone for `sid` in this process. Without atomic store extensions, a check and
   * the write that depends on it are two calls: a late save racing a logout would read
   * "live", the logout would write its tombstone, and the save would overwrite it.
   */
  async #exclusive<T>(sid: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#locks.get(sid);
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const queued = previous ? previous.then(() => mine) : mine;
    this.#locks.set(sid, queued);
    if (previous) await previous;
    try {
      return await work();
    } finally {
      release();
      if (this.#locks.get(sid) === queued) this.#locks.delete(sid);
    }
  }

  #set(sid: string, record: object): Promise<unknown> {
    return this.#call('set', (cb) => this.inner.set(sid, record as SessionData, cb));
  }

  // ---- records and tombstones ---------------------------------------------------------------

  /** The raw record under `sid`: a session, a tombstone, or undefined. */
  readRaw(sid: string): Promise<Record_ | undefined> {
    return this.#call<Record_>('get', (cb) => this.inner.get(sid, cb as (err: unknown, s?: SessionData | null) => void)).then((v) => v ?? undefined);
  }

  /** Writes under `sid` unless it is tombstoned. */
  async writeUnlessTombstoned(sid: string, record: Record_): Promise<GuardedSetResult> {
    const inner = this.inner;
    if (typeof inner.guardedSet === 'function') {
      return (await this.#promise('set', () => inner.guardedSet!(sid, record as unknown as SessionData))) ?? 'written';
    }
    return await this.#exclusive(sid, async () => {
      if (isTombstone(await this.readRaw(sid))) return 'tombstoned';
      await this.#set(sid, record);
      return 'written';
    });
  }

  /**
   * Records that `sid`'s session was active at `lastSeenAt` in the record the store holds now
   * (`stampActivity`: what a parallel request of the session wrote meanwhile is kept, its
   * cookie included, and its expiry is renewed). Nothing for an id whose session ended or moved
   * (a parallel request's rotation). Resolves to the record's cookie as written, or undefined.
   * Atomic on a store with `recordActivity` (the default store, Redis); on a store without the
   * atomic extensions the read and the write hold the id's lock; on one with only `guardedSet`,
   * a write of another request between the two is overwritten (a window of one store call).
   */
  async recordActivity(sid: string, lastSeenAt: number): Promise<StoredCookie | undefined> {
    const inner = this.inner;
    if (typeof inner.recordActivity === 'function') return await this.#promise('set', () => inner.recordActivity!(sid, lastSeenAt));
    const stamped = async (): Promise<[Record_, StoredCookie] | undefined> => {
      const current = await this.readRaw(sid);
      if (current === undefined || isTombstone(current)) return undefined;
      const cookie = stampActivity(current, lastSeenAt);
      return cookie === undefined ? undefined : [current, cookie];
    };
    if (typeof inner.guardedSet === 'function') {
      const done = await stamped();
      return done !== undefined && (await this.writeUnlessTombstoned(sid, done[0])) === 'written' ? done[1] : undefined;
    }
    return await this.#exclusive(sid, async () => {
      const done = await stamped();
      if (done === undefined) return undefined;
      await this.#set(sid, done[0]);
      return done[1];
    });
  }

  /**
   * Replaces `sid` by a tombstone. With `ifExists`, writes nothing for an id without a record:
   * a request without a stored session must not be able to make the store write (an
   * anonymous `POST /logout` would otherwise store one tombstone per request). Resolves to the
   * tombstone that was there before, if any.
   */
  async #tombstone(sid: string, reason: EndReason, options: { ifExists?: boolean } = {}): Promise<TombstoneRecord | undefined> {
    const { clock, tombstoneTtlMs } = this.options;
    const inner = this.inner;
    if (typeof inner.tombstone === 'function') {
      return await this.#promise('tombstone', () => inner.tombstone!(sid, reason, clock.now(), tombstoneTtlMs, { ifExists: options.ifExists ?? false }));
    }
    return await this.#exclusive(sid, async () => {
      const current = await this.readRaw(sid);
      if (!current && options.ifExists) return undefined;
      await this.#set(sid, makeTombstone(reason, clock.now(), tombstoneTtlMs));
      return isTombstone(current) ? current : undefined;
    });
  }

  /**
   * Ends one session: tombstone first, then out of `principal`'s index (a failure in between
   * leaves a listed tombstone, which listing prunes — never a live, unlisted session). A
   * session rotated by a parallel request (a periodic renewal, another tab's elevation) lives
   * on under its successor: that is ended too. Nothing is written for an id without a record.
   */
  async endSession(sid: string, reason: EndReason, principal?: string): Promise<void> {
    await this.#endLineages([sid], reason, principal, true);
  }

  /**
   * Ends every session of `principal` that exists when it starts, including one whose
   * rotation is in flight (its successor is followed), and resolves to how many ids it
   * ended. Tombstones first, then unindexes each; an id that could not be ended stays in the
   * index and the call rejects, so a retry ends it.
   */
  async endAll(principal: string, reason: EndReason): Promise<string[]> {
    const { clock, tombstoneTtlMs } = this.options;
    const index = this.options.index;
    if (typeof index.endAll === 'function' && index.ownsSessionsOf?.(this.inner) === true) {
      return await this.#promise('index', () => index.endAll!(principal, reason, clock.now(), tombstoneTtlMs));
    }
    const entries = await this.index('index', (i) => i.list(principal));
    // A session whose entry waits to be put back (a failed rotation's) is ended where it lives.
    const waiting: string[] = [];
    for (const [movedTo, u] of this.#unsettled) {
      if (u.principal !== principal || u.restore === undefined) continue;
      const live = await this.#whereSessionLives(principal, movedTo, u.restore);
      if (live !== undefined) waiting.push(live);
    }
    return await this.endLineages(principal, [...new Set([...entries.map((entry) => entry.sessionId), ...waiting])], reason);
  }

  /**
   * Ends `ids` of `principal` and every successor a rotation in flight gave them (an admin
   * revoking one device, an eviction, or `endAll` on a store without the atomic extension).
   */
  async endLineages(principal: string, ids: readonly string[], reason: EndReason): Promise<string[]> {
    // Not `ifExists`: a listed id without a record is a login in flight; its tombstone makes
    // that login's write fail instead of surviving the revocation.
    return await this.#endLineages(ids, reason, principal, false);
  }

  /**
   * The one way sessions end: each id is tombstoned, then removed from `principal`'s index
   * (when given); a tombstone that was already there and names a successor (the id was rotated
   * while we waited for its lock) sends us on to the successor. Every id is attempted; ids
   * that failed stay indexed and the first failure is thrown, so a retry ends them.
   */
  async #endLineages(ids: readonly string[], reason: EndReason, principal: string | undefined, ifExists: boolean): Promise<string[]> {
    const ended: string[] = [];
    const seen = new Set<string>();
    let failure: unknown;
    let queue = [...ids];
    for (let round = 0; queue.length > 0 && round < MAX_REVOCATION_ROUNDS; round++) {
      for (const id of queue) seen.add(id);
      const outcomes = await settleEach(queue, (id) => this.#tombstone(id, reason, { ifExists }));
      const next: string[] = [];
      const done: string[] = [];
      for (const [i, outcome] of outcomes.entries()) {
        if (!outcome.ok) {
          failure ??= outcome.error;
          continue;
        }
        done.push(queue[i] as string);
        const successor = outcome.value?.fixationGuardTombstone.successor;
        if (successor !== undefined && !seen.has(successor)) next.push(successor);
      }
      // A successor is followed only while it is this principal's session: a login of another
      // user on the same browser also left a tombstone naming its new id.
      if (principal !== undefined && next.length > 0) {
        const owners = await settleEach(next, (id) => this.readRaw(id));
        for (let i = next.length - 1; i >= 0; i--) {
          const outcome = owners[i];
          const record = outcome?.ok ? outcome.value : undefined;
          if (record && !isTombstone(record) && stateOf(record as Record_)?.principal !== principal) next.splice(i, 1);
        }
      }
      if (principal === undefined) ended.push(...done);
      else {
        const removed = await settleEach(done, (id) => this.index('index', (index) => index.remove(principal, id)));
        for (const [i, outcome] of removed.entries()) {
          if (outcome.ok) ended.push(done[i] as string);
          else failure ??= outcome.error;
        }
      }
      queue = next;
    }
    if (failure === undefined && queue.length > 0) failure = new SessionStoreUnavailableError('The sessions kept being rotated while they were ended; try again.');
    if (failure !== undefined) throw failure;
    return ended;
  }

  /**
   * Moves a record to `newId` (a login, an elevation, a periodic rotation): the new record is
   * written, the index entry moved (same principal), and the old id tombstoned naming its
   * successor — atomically where the store offers `rename`, otherwise under the old id's lock
   * after checking that it is still live. Rejects with `SessionConflictError` (changing
   * nothing) when the old id was already rotated or ended: an ended id never gets a successor.
   */
  async rotate(oldId: string, newId: string, record: Record_, options: RotateOptions): Promise<void> {
    const progress = { written: false };
    try {
      await this.#rotate(oldId, newId, record, options, progress);
    } catch (err) {
      // The request answers 503 and keeps the old cookie: whatever reached the store under
      // `newId` must not live (an unreachable session that counts against the user's limit).
      // Without `rename`, the old id lives on unless its tombstone landed: an index entry moved
      // to `newId` goes back to it (with `rename`, the old id died with the move or nothing moved).
      const putBack = options.oldStored && options.principal !== undefined && options.principal === options.oldPrincipal && typeof this.inner.rename !== 'function';
      // A one-step login may also have evicted the user's oldest sessions: audited once settled.
      const login = this.#logsInAtOnce(options) ? { ip: options.admission.ip } : undefined;
      // Once `newId` was written (a store's `rename` resolved, or its record was set), it must
      // end whatever failed after, also an error that says it changed nothing.
      if (progress.written || mayHaveLanded(err)) await this.settleUnknown(newId, options.principal, putBack ? oldId : undefined, login);
      throw err;
    }
  }

  async #rotate(oldId: string, newId: string, record: Record_, options: RotateOptions, progress: { written: boolean }): Promise<void> {
    const { clock, tombstoneTtlMs } = this.options;
    const inner = this.inner;
    if (this.#logsInAtOnce(options)) {
      await this.#loginAtOnce(oldId, newId, record, options.principal, options.admission, options.oldStored);
      return;
    }
    const samePrincipal = options.principal !== undefined && options.principal === options.oldPrincipal;
    if (!options.oldStored) {
      // The old id was generated in this request and never saved: nobody can know it.
      if ((await this.writeUnlessTombstoned(newId, record)) === 'tombstoned') throw new SessionConflictError('revoked');
      return;
    }
    // What the old id's tombstone says besides its successor, written by the store's `rename` or here.
    const renamed: RenameOptions = { graceUntil: options.graceUntil, sameSession: samePrincipal };
    if (typeof inner.rename === 'function') {
      await this.#promise('rename', () => inner.rename!(oldId, newId, record as unknown as SessionData, clock.now(), tombstoneTtlMs, renamed));
      progress.written = true;
      // The store's own index moved with the record (the Redis script, the default MemoryStore);
      // another index is told now.
      const principal = options.principal;
      if (samePrincipal && principal !== undefined && this.options.index.ownsSessionsOf?.(inner) !== true) {
        await this.index('index', (index) => index.rename(principal, oldId, newId, clock.now()));
      }
      return;
    }
    const endNew = () => this.#set(newId, makeTombstone('destroyed', clock.now(), tombstoneTtlMs)).catch(() => undefined);
    await this.#exclusive(oldId, async () => {
      const current = await this.readRaw(oldId);
      if (!current) throw new SessionConflictError('missing');
      if (isTombstone(current)) throw new SessionConflictError(current.fixationGuardTombstone.reason);
      if ((await this.writeUnlessTombstoned(newId, record)) === 'tombstoned') throw new SessionConflictError('revoked');
      progress.written = true;
      const principal = options.principal;
      if (samePrincipal && principal !== undefined) {
        try {
          await this.index('index', (index) => index.rename(principal, oldId, newId, clock.now()));
        } catch (err) {
          // The move may have landed with its reply lost: the entry goes back (again by
          // `rotate`'s settling, should this fail too).
          if (mayHaveLanded(err)) await this.#putBack(principal, newId, oldId).catch(() => undefined);
          await endNew();
          throw err;
        }
      }
      try {
        await this.#set(oldId, makeTombstone('rotated', clock.now(), tombstoneTtlMs, { ...renamed, successor: newId }));
      } catch (err) {
        // Never leave both ids alive: put the entry back (unless the tombstone landed, its
        // reply lost: the old id is dead too) and end the new record.
        if (samePrincipal && principal !== undefined) await this.#putBack(principal, newId, oldId).catch(() => undefined);
        await endNew();
        throw err;
      }
    });
  }

  /** Whether this rotation is a login in one step (`loginAtOnce`). */
  #logsInAtOnce(options: RotateOptions): options is RotateOptions & { principal: string; admission: NonNullable<RotateOptions['admission']> } {
    return options.admission !== undefined && options.principal !== undefined && this.logsInAtOnce;
  }

  /** A login in one step: admitted (or refused at the limit), moved, evicting the oldest beyond it. */
  async #loginAtOnce(oldId: string, newId: string, record: Record_, principal: string, admission: NonNullable<RotateOptions['admission']>, oldStored: boolean): Promise<void> {
    const { auditor, clock, sessionLimit, tombstoneTtlMs } = this.options;
    const login = { oldId, newId, sess: record as unknown as SessionData, oldStored, principal, entry: admission.entry, limit: sessionLimit, replacing: admission.replacing };
    const result = await this.#promise('rename', () => this.inner.loginAtOnce!(login, clock.now(), tombstoneTtlMs));
    if (!result.admitted) throw this.#refuseAtLimit(principal, admission.replacing ?? newId, admission.ip);
    for (const id of result.evicted) auditor.emit('session_evicted', { sessionId: id, principal, ip: admission.ip, reason: 'session_limit' });
    // Audited from the reply: the note kept for a lost one goes, without holding the login up.
    if (result.evicted.length > 0) void this.#forgetEvictions(newId);
  }

  // ---- the index -----------------------------------------------------------------------------

  /** Index operations, with the same time-out and 503 mapping as store calls. */
  index<T>(operation: string, run: (index: SessionIndex) => Promise<T>): Promise<T> {
    const index = this.options.index;
    // Another index than the store's own (one in this process, another deployment's) says
    // nothing about the store when it answers: the store is not reported back up for it.
    return this.#promise(operation, () => run(index), index.ownsSessionsOf?.(this.inner) === true);
  }

  /**
   * Reserves a login's place in `principal`'s index before its rotation. Refused under
   * `rejectLogin` at the limit: audited `login_rejected`, `SessionLimitError`, nothing changed.
   */
  async reserveLogin(principal: string, entry: SessionIndexEntry, request: { replacing?: string | undefined; ip?: string | undefined } = {}): Promise<void> {
    const { sessionLimit, index } = this.options;
    // An index in this process knows nothing of the store: the sessions that ended without a
    // logout (expired) stop counting here, as the Redis admission and the one-step logins prune.
    if (sessionLimit !== undefined && isInProcess(index)) await this.#pruneEnded(index, principal);
    let admitted;
    try {
      admitted = await this.index('index', (index) => index.admit(principal, entry, sessionLimit, { phase: 'reserve', replacing: request.replacing }));
    } catch (err) {
      // The reservation may have landed: drop it now if the store answers (pruning drops a
      // reservation without a record after the index's pending grace otherwise).
      if (mayHaveLanded(err)) await this.index('index', (index) => index.remove(principal, entry.sessionId)).catch(() => undefined);
      throw err;
    }
    if (!admitted.admitted) throw this.#refuseAtLimit(principal, request.replacing ?? entry.sessionId, request.ip);
  }

  /**
   * Drops `principal`'s entries whose session ended without a logout: no record (unless the
   * entry is a reservation, a login in flight), or a tombstone that names no successor (one
   * that does was rotated, and its entry moves next).
   */
  async #pruneEnded(index: InProcessLoginIndex, principal: string): Promise<void> {
    // The reservations as they are now: a login in flight writes its record while the records
    // are read, and is confirmed before the pruning — its entry must not look missing then.
    const reserved = new Set<string>();
    index.pruneNow(principal, (id, pending) => {
      if (pending) reserved.add(id);
      return false;
    });
    const entries = await index.list(principal);
    if (entries.length === 0) return;
    const records = await settleAll(entries, (entry) => this.readRaw(entry.sessionId));
    const read = new Map(entries.map((entry, i) => [entry.sessionId, records[i]]));
    // Only the entries read (one admitted since is not looked at).
    index.pruneNow(principal, (id, pending) => read.has(id) && entryEnded(read.get(id), pending || reserved.has(id)));
  }

  /** A login refused under `rejectLogin` at the limit: audited, nothing changed. */
  #refuseAtLimit(principal: string, sessionId: string, ip: string | undefined): SessionLimitError {
    this.options.auditor.emit('login_rejected', { sessionId, principal, ip, reason: 'session_limit' });
    return new SessionLimitError(`This account already has ${this.options.sessionLimit?.max ?? 0} sessions; log out of one first.`);
  }

  /**
   * A login failed after `reserveLogin`: nothing of it may survive. When its record was
   * written (`written`: the confirmation failed), `newId` is ended like a write with an
   * unknown outcome (`settleUnknown`: tombstoned, unindexed, retried after an outage). A
   * rotation that failed with an unknown outcome was settled by `rotate`; after a refusal (a
   * conflict), nothing was written. Either way the reservation is dropped. Never rejects.
   */
  async abandonLogin(principal: string, newId: string, failure: { written: boolean }): Promise<void> {
    if (failure.written) {
      await this.settleUnknown(newId, principal);
      return;
    }
    // A rotation with an unknown outcome was settled by `rotate`; this drops the reservation.
    await this.index('index', (index) => index.remove(principal, newId)).catch(() => undefined);
  }

  /**
   * Confirms a login whose record is written, and ends the sessions the limit pushes out
   * (`evictOldest`): each is tombstoned, then unindexed.
   */
  async confirmLogin(principal: string, entry: SessionIndexEntry, ip?: string): Promise<void> {
    const { auditor, sessionLimit } = this.options;
    const result = await this.index('index', (index) => index.admit(principal, entry, sessionLimit, { phase: 'confirm' }));
    // Lost in flight (evicted or revoked before it was confirmed): the login did not happen.
    if (!result.admitted) throw new SessionConflictError('evicted');
    if (result.evicted.length === 0) return;
    // Tombstone first, then unindex — following a victim's rotation in flight.
    const ended = await this.endLineages(principal, result.evicted, 'evicted');
    for (const id of ended) auditor.emit('session_evicted', { sessionId: id, principal, ip, reason: 'session_limit' });
  }

  // ---- the express-session Store contract ---------------------------------------------------

  /** express-session makes a loaded record a session here: remembered as loaded (`loadedFromStore`). */
  override createSession(req: Parameters<session.Store['createSession']>[0], data: SessionData): ReturnType<session.Store['createSession']> {
    const created = super.createSession(req, data);
    loadedSessions.add(created);
    return created;
  }

  /** A live record, or no session for a missing or tombstoned id. */
  get(sid: string, callback: (err: unknown, session?: SessionData | null) => void): void {
    this.#invoke<Record_>('get', (cb) => this.inner.get(sid, cb as (err: unknown, s?: SessionData | null) => void), (err, record) => answerGet(callback, err, record));
  }

  set(sid: string, sess: SessionData, callback?: Callback): void {
    const record = sess as unknown as Record_;
    let decision: ReturnType<WriteGate['beforeSet']> = 'write';
    try {
      // Most decisions are synchronous: no promise to wait for.
      if (this.#gate) decision = this.#gate.beforeSet(sid, record);
    } catch (err) {
      decision = Promise.reject(err);
    }
    this.#save(sid, record, decision).then(
      () => callback?.(),
      (err: unknown) => (callback ? callback(err) : undefined),
    );
  }

  async #save(sid: string, sess: Record_, decided: 'write' | 'skip' | Promise<'write' | 'skip'>): Promise<void> {
    if ((typeof decided === 'string' ? decided : await decided) === 'skip') return;
    const gate = this.#gate;
    const written = gate?.beforeWrite?.(sess);
    let result: GuardedSetResult;
    try {
      result = await this.writeUnlessTombstoned(sid, sess);
    } catch (err) {
      await gate?.writeFailed?.(sid, sess, err);
      throw err;
    }
    if (result === 'tombstoned') {
      // A late save of an id that ended meanwhile: it stays dead, and the request is told.
      this.options.auditor.emit('resurrection_blocked', { sessionId: sid, principal: stateOf(sess)?.principal });
      const conflict = new SessionConflictError('ended');
      await gate?.writeFailed?.(sid, sess, conflict);
      throw conflict;
    }
    const after = gate?.afterSet?.(sid, sess, written);
    if (after) await after;
  }

  destroy(sid: string, callback?: Callback): void {
    this.#destroy(sid, 'destroyed').then(
      () => callback?.(),
      (err: unknown) => callback?.(err),
    );
  }

  async #destroy(sid: string, reason: EndReason): Promise<void> {
    const current = await this.readRaw(sid);
    if (!current) return;
    await this.endSession(sid, reason, isTombstone(current) ? undefined : stateOf(current)?.principal);
  }

  /** express-session's `req.session.regenerate()` (passport's login and logout): the old id ends. */
  override regenerate(req: Parameters<Store['regenerate']>[0], callback: (err?: unknown) => unknown): void {
    const ending = this.#gate?.beforeRegenerate?.(req);
    this.#destroy(req.sessionID, ending?.reason ?? 'rotated').then(
      () => {
        ending?.ended?.();
        (this as unknown as { generate(r: typeof req): void }).generate(req);
        callback();
      },
      (err: unknown) => callback(err),
    );
  }

  override touch(sid: string, sess: SessionData, callback?: Callback): void {
    const inner = this.inner;
    if (typeof inner.touch !== 'function' || (this.#expiresByCookie() && this.#gate?.beforeTouch?.(sid, sess as unknown as Record_) === false)) {
      callback?.();
      return;
    }
    this.#invoke('touch', (cb) => inner.touch!(sid, sess, cb as () => void), (err) => (err ? callback?.(err) : callback?.()));
  }

  override all(callback: (err: unknown, obj?: SessionData[] | { [sid: string]: SessionData } | null) => void): void {
    if (typeof this.inner.all !== 'function') return callback(new Error('GuardedStore: the inner store has no all()'));
    this.inner.all(callback);
  }

  override length(callback: (err: unknown, length?: number) => void): void {
    if (typeof this.inner.length !== 'function') return callback(new Error('GuardedStore: the inner store has no length()'));
    this.inner.length(callback);
  }

  override clear(callback?: Callback): void {
    if (typeof this.inner.clear !== 'function') return callback?.(new Error('GuardedStore: the inner store has no clear()'));
    this.inner.clear(callback);
  }
}
