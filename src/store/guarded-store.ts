import session, { type SessionData, type Store } from 'express-session';
import type { Request } from 'express';
import type { Auditor } from '../audit/index.js';
import type { Clock } from '../clock/index.js';
import { FixationTripwireError, SessionGuardError, SessionLimitError, SessionStoreUnavailableError } from '../errors/index.js';
import type { GuardState } from '../types.js';
import { shortHash } from '../util/hash.js';
import {
  isTombstone,
  makeTombstone,
  type EndReason,
  type GuardStoreExtensions,
  type GuardedSetResult,
  type SessionIndex,
  type SessionIndexEntry,
  type SessionLimit,
} from './contracts.js';

/** A Store that may offer the guard's atomic extensions. */
export type ExtensibleStore = Store & GuardStoreExtensions;

type Callback = (err?: unknown) => void;
type Record_ = Record<string, unknown>;

export const DEFAULT_STORE_TIMEOUT_MS = 5_000;
const MAX_PENDING_END_REASONS = 10_000;
const MAX_VERIFIED_BINDINGS = 10_000;

export interface GuardedStoreOptions {
  auditor: Auditor;
  clock: Clock;
  /**
   * Keys for the binding hash written into authenticated records: the first binds, all are
   * accepted (one per secret, so rotating `secret` logs nobody out).
   */
  bindingKeys: readonly Buffer[];
  index: SessionIndex;
  /** How long a dead id stays refused. */
  tombstoneTtlMs: number;
  /** Session keys whose presence means "authenticated" (dotted paths). */
  authKeys: readonly string[];
  /** Every store call fails (503) after this long; 0 disables. */
  operationTimeoutMs: number;
  sessionLimit?: SessionLimit | undefined;
  /** The guard's `credentialVersion`: recorded when a regenerated session (passport) is bound. */
  credentialVersion?: ((principal: string) => unknown) | undefined;
  development: boolean;
}

function getPath(record: Record_, path: string): unknown {
  let value: unknown = record;
  for (const part of path.split('.')) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record_)[part];
  }
  return value;
}

/**
 * Who an `authKeys` value names: itself, or an object's id / username / email / sub. An object
 * with none of those names nobody in particular (`'(object)'`): editing it (a theme, a display
 * name) is not a change of principal. Point `authKeys` at an id-like path (`user.uid`) to have
 * such objects checked.
 */
function principalString(value: unknown): string {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (typeof value === 'object' && value !== null) {
    for (const key of ['id', 'username', 'email', 'sub']) {
      const v = (value as Record_)[key];
      if (typeof v === 'string' || typeof v === 'number') return String(v);
    }
    return '(object)';
  }
  return String(value);
}

/** The guard state of a session that is not (or no longer) authenticated. */
function withoutAuthentication(state: GuardState): GuardState {
  const { principal: _p, boundTo: _b, authAt: _a, authPrincipal: _ap, authNames: _an, elevatedAt: _e, privilege: _pr, credentialVersion: _c, ...rest } = state;
  return rest;
}

export function newGuardState(now: number): GuardState {
  return { v: 1, createdAt: now, lastSeenAt: now, rotatedAt: now };
}

/**
 * Wraps any express-session `Store` and makes it fail closed:
 *
 * - **tombstones**: a destroyed or rotated id is replaced by a tombstone, so a late `set` from
 *   a request that loaded the old id before the rotation cannot bring it back;
 * - **strict ids**: an unknown or dead id presented by a client is audited (express-session
 *   silently replaces it) and its reason is kept for the request to read;
 * - **tripwire**: an authenticated record is persisted only under the id `req.login` bound it
 *   to; anything else destroys the session;
 * - **fail closed**: store errors and time-outs become `SessionStoreUnavailableError` (503), and
 *   the store never tells express-session it "disconnected" (which makes it serve requests
 *   with no session at all).
 *
 * Optional atomic methods of the inner store (`guardedSet`, `tombstone`, `rename`) are used
 * when present; otherwise the plain Store contract is used with get-then-set.
 */
export class GuardedStore extends session.Store {
  readonly inner: ExtensibleStore;
  readonly options: GuardedStoreOptions;
  readonly #fresh = new WeakSet<object>();
  readonly #tripped = new WeakSet<object>();
  /** Sessions whose authentication was (re)bound in this request by req.login & co. */
  readonly #boundNow = new WeakSet<object>();
  readonly #verifiedBindings = new Map<string, string>();
  /** Per-id queues serialising read-then-write on stores without atomic extensions. */
  readonly #locks = new Map<string, Promise<void>>();
  readonly #pendingEnds = new Map<string, EndReason | 'unknown'>();
  #available = true;
  #expressSessionGenerate: ((req: Request) => void) | undefined;

  constructor(inner: Store, options: GuardedStoreOptions) {
    super();
    this.inner = inner as ExtensibleStore;
    this.options = options;
    // Infrastructure events are ours to interpret: forwarding 'disconnect' would make
    // express-session serve requests with no session (fail open).
    inner.on?.('disconnect', () => this.#markDown('disconnect'));
    inner.on?.('connect', () => this.#markUp());
  }

  // express-session installs `store.generate`; wrapping it lets the tripwire tell a session
  // created in this very request (an id no attacker can know) from one loaded from a cookie.
  get generate(): (req: Request) => void {
    return this.#generate;
  }

  set generate(fn: (req: Request) => void) {
    this.#expressSessionGenerate = fn;
  }

  readonly #generate = (req: Request): void => {
    if (!this.#expressSessionGenerate) throw new Error('GuardedStore: used before express-session installed `generate`');
    this.#expressSessionGenerate(req);
    this.#fresh.add(req.session);
  };

  /** Whether the last store call succeeded. */
  get available(): boolean {
    return this.#available;
  }

  /** Keyed hash binding an authenticated record to its id (under the first key). */
  bindingHash(sessionId: string): string {
    return shortHash(this.options.bindingKeys[0] as Buffer, sessionId);
  }

  /** Whether `state` was bound to `sessionId` under any of the binding keys. */
  isBound(state: GuardState | undefined, sessionId: string): boolean {
    const boundTo = state?.boundTo;
    if (boundTo === undefined) return false;
    // Verified bindings are remembered (bounded), so a logged-in request costs no HMAC.
    if (this.#verifiedBindings.get(sessionId) === boundTo) return true;
    const bound = this.options.bindingKeys.some((key) => shortHash(key, sessionId) === boundTo);
    if (bound) {
      if (this.#verifiedBindings.size >= MAX_VERIFIED_BINDINGS) this.#verifiedBindings.clear();
      this.#verifiedBindings.set(sessionId, boundTo);
    }
    return bound;
  }

  /** Marks a session whose authentication req.login / elevate / rotation just bound. */
  markBound(sess: object): void {
    this.#boundNow.add(sess);
  }

  /**
   * Why persisting `sess` under `sessionId` must trip the wire, or undefined when it may be
   * persisted: an authenticated record under an id it was not bound to, or a bound record
   * whose app-level identity (`authKeys`) changed to someone else without a new req.login.
   */
  tripReason(sess: Record_, sessionId: string): string | undefined {
    if (this.#fresh.has(sess)) return undefined; // bound when saved: nobody can know its id
    if (this.#boundNow.has(sess)) return undefined; // bound by req.login & co. in this request
    const principal = this.principalOf(sess);
    if (principal === undefined) return undefined;
    const state = sess.fixationGuard as GuardState | undefined;
    if (!this.isBound(state, sessionId)) return 'authenticated record under an unbound id';
    // Every app key must still name whom it named when the authentication was bound (or the
    // bound principal itself, for a key set later, e.g. a user object loaded lazily).
    const recorded = state?.authNames;
    for (const [key, named] of Object.entries(this.#authKeyNames(sess))) {
      if (named === state?.principal) continue;
      const expected = recorded ? recorded[key] : state?.authPrincipal;
      if (named !== expected) return 'authentication changed to another principal without req.login()';
    }
    return undefined;
  }

  /** What each present `authKeys` path names. */
  #authKeyNames(record: Record_): Record<string, string> {
    const names: Record<string, string> = {};
    for (const key of this.options.authKeys) {
      const value = getPath(record, key);
      if (value !== undefined && value !== null && value !== false && value !== '') names[key] = principalString(value);
    }
    return names;
  }

  /** Why a presented id yielded no session (consumed once). */
  takeEndReason(sessionId: string): EndReason | 'unknown' | undefined {
    const reason = this.#pendingEnds.get(sessionId);
    if (reason !== undefined) this.#pendingEnds.delete(sessionId);
    return reason;
  }

  /** The principal a record is authenticated as, if any. */
  principalOf(record: Record_): string | undefined {
    const state = record.fixationGuard as GuardState | undefined;
    if (state?.principal) return state.principal;
    return this.#authKeyPrincipal(record);
  }

  /** The principal the app's own keys (`authKeys`, e.g. passport's) name, ignoring the guard's state. */
  #authKeyPrincipal(record: Record_): string | undefined {
    return Object.values(this.#authKeyNames(record))[0];
  }

  isFresh(sess: object): boolean {
    return this.#fresh.has(sess);
  }

  isTripped(sess: object): boolean {
    return this.#tripped.has(sess);
  }

  markTripped(sess: object): void {
    this.#tripped.add(sess);
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
  }

  /**
   * Runs a callback-style inner call with a time-out; errors become 503s. Callback-based, so
   * the per-request `get` and `touch` cost no promise. A store with its own per-operation
   * deadline (`operationTimeoutMs`, as the Redis store has) gets no second timer.
   */
  #invoke<T>(operation: string, invoke: (cb: (err?: unknown, value?: T) => void) => void, done: (err: unknown, value?: T) => void): void {
    const own = (this.inner as { operationTimeoutMs?: unknown }).operationTimeoutMs;
    const timeoutMs = typeof own === 'number' && own > 0 && own <= this.options.operationTimeoutMs ? 0 : this.options.operationTimeoutMs;
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (err?: unknown, value?: T) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      if (err instanceof SessionGuardError && err.status < 500) {
        // A refusal (a lost rotation race, a conflict) is an answer, not an outage.
        this.#markUp();
        done(err);
        return;
      }
      if (err && (err as { code?: unknown }).code !== 'ENOENT') {
        this.#markDown(operation, err);
        // The store's own message (Redis errors name keys and hosts) stays in `cause`.
        done(new SessionStoreUnavailableError(undefined, { cause: err }));
        return;
      }
      if (!this.#available) this.#markUp();
      done(null, err ? undefined : value);
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

  #call<T>(operation: string, invoke: (cb: (err?: unknown, value?: T) => void) => void): Promise<T | undefined> {
    return new Promise<T | undefined>((resolve, reject) => {
      this.#invoke<T>(operation, invoke, (err, value) => (err ? reject(err) : resolve(value)));
    });
  }

  #promise<T>(operation: string, run: () => Promise<T>): Promise<T> {
    return this.#call<T>(operation, (cb) => {
      run().then((value) => cb(undefined, value), (err: unknown) => cb(err ?? new Error(`${operation} failed`)));
    }) as Promise<T>;
  }

  #rememberEnd(sessionId: string, reason: EndReason | 'unknown'): void {
    if (this.#pendingEnds.size >= MAX_PENDING_END_REASONS) this.#pendingEnds.clear();
    this.#pendingEnds.set(sessionId, reason);
  }

  // ---- promise API used by the guard ------------------------------------------------------

  /** The raw record under `sid`: a session, a tombstone, or undefined. */
  readRaw(sid: string): Promise<Record_ | undefined> {
    return this.#call<Record_>('get', (cb) => this.inner.get(sid, cb as (err: unknown, s?: SessionData | null) => void)).then((v) => v ?? undefined);
  }

  /**
   * Runs `work` alone for `sid` in this process. Without atomic store extensions, the
   * tombstone check and the write are two calls: a late save racing a logout would read
   * "live", the logout would write its tombstone, and the save would overwrite it.
   */
  async #exclusive<T>(sid: string, work: () => Promise<T>): Promise<T> {
    if (typeof this.inner.guardedSet === 'function') return await work();
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

  /** Writes under `sid` unless it is tombstoned. */
  async writeUnlessTombstoned(sid: string, record: Record_): Promise<GuardedSetResult> {
    const inner = this.inner;
    if (typeof inner.guardedSet === 'function') {
      return (await this.#promise('set', () => inner.guardedSet!(sid, record as unknown as SessionData))) ?? 'written';
    }
    return await this.#exclusive(sid, async () => {
      const current = await this.readRaw(sid);
      if (isTombstone(current)) return 'tombstoned';
      await this.#call('set', (cb) => inner.set(sid, record as unknown as SessionData, cb));
      return 'written';
    });
  }

  /**
   * Replaces `sid` by a tombstone and drops it from `principal`'s index. `indexed: false` says
   * the id is already out of the index (`removeAll`, an eviction by `admit`): one round trip
   * fewer per session, which is what makes revoking a thousand sessions fast.
   */
  async endSession(sid: string, reason: EndReason, principal?: string, options: { indexed?: boolean } = {}): Promise<void> {
    const { clock, tombstoneTtlMs, index } = this.options;
    const indexed = options.indexed ?? true;
    let owner = principal;
    if (owner === undefined && indexed) {
      const current = await this.readRaw(sid);
      if (current && !isTombstone(current)) owner = this.principalOf(current);
    }
    const inner = this.inner;
    if (typeof inner.tombstone === 'function') {
      await this.#promise('tombstone', () => inner.tombstone!(sid, reason, clock.now(), tombstoneTtlMs));
    } else {
      const tombstone = makeTombstone(reason, clock.now(), tombstoneTtlMs);
      await this.#exclusive(sid, () => this.#call('set', (cb) => inner.set(sid, tombstone as unknown as SessionData, cb)));
    }
    if (owner !== undefined && indexed) await this.#promise('index', () => index.remove(owner, sid));
  }

  /**
   * Moves a record to a new id: atomically where the store offers `rename`, otherwise write
   * the new record, then tombstone the old id (so no moment exists with neither).
   * `oldMayBeUnsaved`: the old session was generated in this request and may never have been
   * stored; `rename` refuses a missing old record, and no one else can know that id anyway.
   */
  async moveSession(oldId: string, newId: string, record: Record_, principal: string | undefined, oldMayBeUnsaved = false): Promise<void> {
    const { clock, tombstoneTtlMs, index } = this.options;
    const inner = this.inner;
    if (typeof inner.rename === 'function' && !oldMayBeUnsaved) {
      await this.#promise('rename', () => inner.rename!(oldId, newId, record as unknown as SessionData, clock.now(), tombstoneTtlMs));
    } else {
      const written = await this.writeUnlessTombstoned(newId, record);
      if (written === 'tombstoned') throw new SessionStoreUnavailableError('A freshly generated session id was already taken; try again.');
      try {
        await this.endSession(oldId, 'rotated', undefined);
      } catch (err) {
        // Never leave both ids alive: undo the new record, keep the old one.
        await this.endSession(newId, 'destroyed', undefined).catch(() => undefined);
        throw err;
      }
    }
    if (principal !== undefined) await this.#promise('index', () => index.rename(principal, oldId, newId, clock.now()));
  }

  /**
   * Admits a login to `principal`'s index under the session limit: refused → audited
   * `login_rejected` and `SessionLimitError`; admitted → the sessions the limit pushed out are
   * tombstoned (`evicted`) and audited. Shared by `req.login` and passport-style logins.
   */
  async admitLogin(principal: string, entry: SessionIndexEntry, request: { sessionId?: string; ip?: string | undefined } = {}): Promise<void> {
    const { auditor, sessionLimit } = this.options;
    const ip = request.ip;
    const admitted = await this.index('index', (index) => index.admit(principal, entry, sessionLimit));
    if (!admitted.admitted) {
      auditor.emit('login_rejected', { sessionId: request.sessionId ?? entry.sessionId, principal, ip, reason: 'session_limit' });
      throw new SessionLimitError(`${principal} already has ${sessionLimit?.max ?? 0} sessions; log out of one first.`);
    }
    for (const evicted of admitted.evicted) {
      await this.endSession(evicted, 'evicted', principal, { indexed: false });
      auditor.emit('session_evicted', { sessionId: evicted, principal, ip, reason: 'session_limit' });
    }
  }

  /** Index operations, with the same time-out and 503 mapping as store calls. */
  index<T>(operation: string, run: (index: SessionIndex) => Promise<T>): Promise<T> {
    return this.#promise(operation, () => run(this.options.index));
  }

  // ---- the express-session Store contract -------------------------------------------------

  /**
   * The id express-session last asked for. express-session calls `get` synchronously from its
   * middleware, only for a cookie whose signature it verified: the guard reads this right
   * after calling it, instead of verifying the signature a second time.
   */
  lastRequestedId: string | undefined;

  get(sid: string, callback: (err: unknown, session?: SessionData | null) => void): void {
    this.lastRequestedId = sid;
    this.#invoke<Record_>(
      'get',
      (cb) => this.inner.get(sid, cb as (err: unknown, s?: SessionData | null) => void),
      (err, record) => {
        if (err) return callback(err);
        if (!record) {
          this.#rememberEnd(sid, 'unknown');
          this.options.auditor.emit('unknown_session_id', { sessionId: sid });
          return callback(null, null);
        }
        if (isTombstone(record)) {
          const reason = record.fixationGuardTombstone.reason;
          this.#rememberEnd(sid, reason);
          this.options.auditor.emit('rotated_session_id_presented', { sessionId: sid, reason });
          return callback(null, null);
        }
        callback(null, record as unknown as SessionData);
      },
    );
  }

  set(sid: string, sess: SessionData, callback?: Callback): void {
    this.#save(sid, sess as unknown as Record_).then(
      () => callback?.(),
      (err: unknown) => (callback ? callback(err) : undefined),
    );
  }

  async #save(sid: string, sess: Record_): Promise<void> {
    if (this.#tripped.has(sess)) throw new FixationTripwireError('This session was destroyed by the fixation tripwire.');
    const { auditor, clock } = this.options;
    const now = clock.now();
    let principal = this.principalOf(sess);
    let state = sess.fixationGuard as GuardState | undefined;
    if (principal !== undefined && this.#fresh.has(sess) && !this.isBound(state, sid) && this.#authKeyPrincipal(sess) === undefined) {
      // A fresh session whose only claim to a login is a guard state copied from the old one
      // (passport's logout/login with keepSessionInfo merges it in): nobody logged in here.
      sess.fixationGuard = state = withoutAuthentication(state as GuardState);
      principal = undefined;
    }
    if (principal !== undefined) {
      const reason = this.tripReason(sess, sid);
      if (reason) return this.#trip(sid, sess, principal, reason);
      if (this.#fresh.has(sess) && !this.isBound(state, sid)) {
        // A session generated in this request that became authenticated (passport's
        // regenerate-then-login): the app's own keys say who logged in.
        await this.#bindFresh(sid, sess, this.#authKeyPrincipal(sess) ?? principal, now);
      }
      const bound = sess.fixationGuard as GuardState;
      if (this.#boundNow.has(sess) || this.#fresh.has(sess)) {
        // The request that authenticated fixes whom each of the app's own keys may name.
        const names = this.#authKeyNames(sess);
        const first = Object.values(names)[0];
        if (first !== undefined) bound.authPrincipal = first;
        else delete bound.authPrincipal;
        bound.authNames = names;
      }
      // Bound under a retired secret: re-bind under the current one.
      bound.boundTo = this.bindingHash(sid);
    }
    const record = sess.fixationGuard ? sess : { ...sess, fixationGuard: newGuardState(now) };
    const result = await this.writeUnlessTombstoned(sid, record);
    if (result === 'tombstoned') {
      auditor.emit('resurrection_blocked', { sessionId: sid, principal });
      return;
    }
    if (this.#fresh.has(sess) && !state) auditor.emit('session_created', { sessionId: sid });
  }

  /**
   * A session generated in this request (`req.session.regenerate()`, as passport ≥0.6 does at
   * login) that became authenticated: its id was never seen by anyone, so it is bound here.
   */
  async #bindFresh(sid: string, sess: Record_, principal: string, now: number): Promise<void> {
    const { auditor, credentialVersion } = this.options;
    const previous = sess.fixationGuard as GuardState | undefined;
    const state: GuardState = { ...(previous ?? newGuardState(now)), principal, boundTo: this.bindingHash(sid), authAt: now, lastSeenAt: now, rotatedAt: now };
    // A new authentication, as in req.login: no privilege survives it, and the credential
    // version is the principal's current one (without it, the next request would end the session).
    delete state.elevatedAt;
    delete state.privilege;
    if (credentialVersion) state.credentialVersion = String(await credentialVersion(principal));
    else delete state.credentialVersion;
    await this.admitLogin(principal, { sessionId: sid, createdAt: state.createdAt, lastSeenAt: now });
    sess.fixationGuard = state;
    auditor.emit('login', { sessionId: sid, principal, detail: { via: 'regenerated-session' } });
  }

  /**
   * The tripwire fires: `sess` is never persisted again, the event is audited and the id is
   * tombstoned. Shared by the store (a refused save), the load-time check and the response hook.
   */
  async destroyTripped(sid: string, sess: object, principal: string | undefined, reason: string, ip?: string): Promise<void> {
    this.#tripped.add(sess);
    this.options.auditor.emit('fixation_tripwire', { sessionId: sid, principal, ip, reason });
    await this.endSession(sid, 'tripwire', principal);
  }

  async #trip(sid: string, sess: Record_, principal: string, reason: string): Promise<never> {
    await this.destroyTripped(sid, sess, principal, reason).catch(() => undefined);
    throw new FixationTripwireError(
      this.options.development
        ? `fixation-guard tripwire: the session was marked authenticated (as ${principal}) without req.login(), so its id — which may have been planted by an attacker — was never rotated. The session has been destroyed. Authenticate with \`await req.login(userId)\` instead of writing \`req.session.user\` directly.`
        : 'The session was destroyed by the session-fixation tripwire.',
    );
  }

  destroy(sid: string, callback?: Callback): void {
    this.endSession(sid, 'destroyed').then(
      () => callback?.(),
      (err: unknown) => callback?.(err),
    );
  }

  override regenerate(req: Request, callback: (err?: unknown) => unknown): void {
    this.endSession(req.sessionID, 'rotated').then(
      () => {
        this.generate(req);
        callback();
      },
      (err: unknown) => callback(err),
    );
  }

  override touch(sid: string, sess: SessionData, callback?: Callback): void {
    const inner = this.inner;
    if (typeof inner.touch !== 'function') {
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
