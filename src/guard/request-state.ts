/**
 * Per-request state of the guard, kept on the request (never in the store): which id the
 * client's cookie loaded, which ids exist in the store, which authentications this request
 * bound, and what the store already holds of the current session.
 */
import type { Request, Response } from 'express';
import type { Cookie } from 'express-session';
import type { ResolvedCookie } from '../cookie/hardened.js';
import { sessionCookieHeader } from '../cookie/session-cookie.js';
import type { EndReason } from '../store/contracts.js';
import type { GuardContext } from './context.js';

/**
 * Where the request API (`req.sessionGuard`) keeps the request's state. Kept on the API object
 * rather than as a second property of the request: every extra own property reshapes the
 * request objects of the hot path.
 */
export const REQUEST_STATE = Symbol('fixation-guard.request');

// The per-request objects below are classes, not object literals. V8 tracks where each object
// literal is allocated, and when most objects of one site are still alive at a young-generation
// collection it allocates that site's next objects directly in the old generation. These live as
// long as their request, and Express keeps request objects alive through collections (each has a
// hidden class of its own), so as literals they were moved to the old generation, where each one,
// once dead, still held its young session, strings and sets through every young collection until
// the next full one. Measured in-process on the hot path: 18 → 13 KB surviving per request, a
// third less collection time. Instances of a class carry no allocation site.

export class Baseline {
  constructor(
    /** The session object this describes (`req.session` may be replaced by a rotation). */
    readonly session: object,
    readonly sid: string,
    /** `sessionJson` of it when loaded, generated or last saved. */
    readonly json: string,
    /** Whether the store holds exactly this (false: generated in this request, never saved). */
    readonly stored: boolean,
    /**
     * Its cookie's `originalMaxAge` then. `sessionJson` leaves the cookie out (every response
     * moves its expiry), but an app that sets `req.session.cookie.maxAge` (or `expires`) changes
     * how long the record lives, and that must be saved.
     */
    readonly maxAge: unknown,
  ) {}
}

/** A snapshot of `sess` for a baseline: `sessionJson` and the cookie's `originalMaxAge`. */
export interface SessionSnapshot {
  readonly json: string;
  readonly maxAge: unknown;
}

export function snapshotOf(sess: object): SessionSnapshot {
  return { json: sessionJson(sess), maxAge: cookieMaxAge(sess) };
}

function cookieMaxAge(sess: object): unknown {
  return (sess as { cookie?: { originalMaxAge?: unknown } }).cookie?.originalMaxAge;
}

export class RequestState {
  /** The id the client's cookie loaded from the store, if any. */
  loadedId: string | undefined = undefined;
  // The three below are made on first use: most requests never need them, and a collection
  // per request is garbage-collector work on the hot path.
  /** Ids written in this request (with `loadedId`, the ids known to hold a record). */
  writtenIds: Set<string> | undefined = undefined;
  /** Ids whose authentication `req.login` & co. bound in this request. */
  boundIds: Set<string> | undefined = undefined;
  /** Session objects the tripwire refused: never persisted again. */
  tripped: object[] | undefined = undefined;
  baseline: Baseline | undefined = undefined;
  /**
   * When the store drops the record of `baseline` (ms since the epoch, the stores' own clock):
   * the cookie expiry it was loaded or last written with; undefined when it has none.
   */
  storedExpiresAt: number | undefined = undefined;
  /** Why the session the client presented is not in use. */
  endedReason: EndReason | 'unknown' | undefined = undefined;
  /**
   * The presented id was rotated by a request that kept the session (another tab's elevation,
   * a renewal past its grace): the id the session lives on under, which a logout ends.
   */
  presentedSuccessor: string | undefined = undefined;
  /**
   * The fresh anonymous session a failed regenerated login left the request: never saved, and no
   * cookie of it sent, unless the app writes to it (express-session would save it regardless,
   * its id being neither the one it loaded nor the one it generated).
   */
  dropped: object | undefined = undefined;
  /** A login through a regenerated session (passport), admitted before its write and confirmed after. */
  pendingConfirm: { sid: string; principal: string; createdAt: number } | undefined = undefined;
  /**
   * The loaded session's activity (its `lastSeenAt`) to record in the store when the request
   * ends without changing it otherwise (`GuardedStore.recordActivity`); undefined when none is due.
   */
  activityAt: number | undefined = undefined;
  /**
   * Writes of this request's session gone out and not answered yet. While one is in flight the
   * store may hold what it carries or what it replaces, so the session never counts as unchanged.
   */
  writesInFlight = 0;
  /** `req.ip` once read for an audit event (null: not yet); see `clientIp`. */
  ip: string | undefined | null = null;
  /** A store call of this request failed without a known outcome: see `markUnknownOutcome`. */
  unknownOutcome = false;

  constructor(
    readonly ctx: GuardContext,
    /** This request's cookie: the configured one, or its plain-HTTP twin on loopback in development. */
    readonly cookie: ResolvedCookie,
    /** The cookie is Secure and the request is plain HTTP: express-session would silently not send it. */
    readonly cookieUnsendable: boolean,
    /**
     * `res.end` as it was before express-session wrapped it. A session this request moved to a
     * new id and stored as it is needs nothing of express-session's end, which would hash it
     * again to decide to save it and then hand the save to the store for nothing.
     */
    readonly endBeforeSession: Response['end'],
  ) {}
}

/**
 * The client's address for audit events, as Express gives it: undefined while no audit sink
 * listens (it only ever goes into events), else read once per request — `req.ip` parses the
 * forwarding headers against the trust setting on every read, and a login's admission, its
 * confirmation and two events each ask for it.
 */
export function clientIp(state: RequestState, req: Request | undefined): string | undefined {
  if (!state.ctx.auditor.listening) return undefined;
  if (state.ip === null) state.ip = req?.ip;
  return state.ip;
}

export function requestStateOf(req: Request | undefined): RequestState | undefined {
  return (req?.sessionGuard as unknown as Record<symbol, RequestState | undefined> | undefined)?.[
    REQUEST_STATE
  ];
}

/**
 * The session as express-session hashes it (without the cookie), to tell whether it changed.
 * Serialised without a replacer (a replacer function is called for every key at every depth
 * and takes JSON.stringify off its fast path, twice the time per request) and without a copy:
 * the cookie is set aside for the synchronous moment of the serialisation, for a result that
 * only has to compare equal to itself.
 */
export function sessionJson(sess: object): string {
  const data = sess as { cookie?: unknown };
  if (!Object.prototype.hasOwnProperty.call(data, 'cookie')) return JSON.stringify(data);
  const cookie = data.cookie;
  // A session whose cookie cannot be set aside (frozen) is copied instead.
  if (!Reflect.set(data, 'cookie', undefined)) return JSON.stringify({ ...data, cookie: undefined });
  try {
    return JSON.stringify(data);
  } finally {
    data.cookie = cookie;
  }
}

/** Whether `sid` holds a record: loaded from the cookie, or written in this request. */
export function isStored(state: RequestState, sid: string): boolean {
  return sid === state.loadedId || state.writtenIds?.has(sid) === true;
}

/**
 * The `Set-Cookie` of the id this request moved its session to (a periodic renewal, an
 * elevation, a login), for an answer that drops the session after a failure: the session is
 * stored under that id, and the old one is a tombstone, so the client must still learn it.
 * Undefined when the session did not move.
 */
export function movedSessionCookie(ctx: GuardContext, req: Request, state: RequestState): string | undefined {
  const sid = req.sessionID;
  const cookie = (req.session as { cookie?: Cookie } | undefined)?.cookie;
  if (!cookie || sid === state.loadedId || !isStored(state, sid)) return undefined;
  return sessionCookieHeader(cookie, state.cookie.name, sid, ctx.secrets[0] as string);
}

/**
 * A store call of this request failed without a known outcome (a logout's tombstone, a
 * rotation's writes: the session may have ended). The response saves nothing more into the
 * session: a save would find the tombstone and answer 409 over the failure's 503 (see the
 * response hook).
 */
export function markUnknownOutcome(state: RequestState): void {
  state.unknownOutcome = true;
}

/** Whether `req.login` & co. bound `sid` in this request. */
export function isBoundNow(state: RequestState, sid: string): boolean {
  return state.boundIds?.has(sid) === true;
}

export function markBoundNow(state: RequestState, sid: string): void {
  (state.boundIds ??= new Set()).add(sid);
}

export function isTripped(state: RequestState, sess: object): boolean {
  return state.tripped?.includes(sess) === true;
}

export function markTripped(state: RequestState, sess: object): void {
  (state.tripped ??= []).push(sess);
}

/**
 * Records that the store holds `sess` under `sid`: as it is now, or as `written` (its snapshot
 * taken as the write went out; the session may have changed since, while the write was in flight).
 */
export function markStored(state: RequestState, sid: string, sess: object, written?: SessionSnapshot): void {
  if (sid !== state.loadedId) (state.writtenIds ??= new Set()).add(sid);
  state.baseline = new Baseline(sess, sid, written?.json ?? sessionJson(sess), true, written ? written.maxAge : cookieMaxAge(sess));
  const expires = (sess as { cookie?: { expires?: unknown } }).cookie?.expires;
  state.storedExpiresAt = expires instanceof Date ? expires.getTime() : typeof expires === 'string' ? Date.parse(expires) : undefined;
}

/** Records the current session as generated in this request and never saved. */
export function markGenerated(state: RequestState, sid: string, sess: object): void {
  state.baseline = new Baseline(sess, sid, sessionJson(sess), false, cookieMaxAge(sess));
}

/** Whether `sess` is exactly what the baseline says, with no write of it in flight (nothing to save). */
export function unchanged(state: RequestState, sess: object): boolean {
  const baseline = state.baseline;
  return baseline !== undefined && state.writesInFlight === 0 && sameAs(baseline, sess);
}

/**
 * Whether `sess` is the baseline's session, as the baseline describes it. The cookie's maxAge
 * counts for a stored session only ("remember me" reaches its record); a session never saved
 * whose only change is its cookie stays unsaved, as express-session leaves it (its hash has no
 * cookie, and the guard saves no uninitialized session).
 */
function sameAs(baseline: Baseline, sess: object): boolean {
  return baseline.session === sess && (!baseline.stored || sameMaxAge(baseline.maxAge, cookieMaxAge(sess))) && baseline.json === sessionJson(sess);
}

/**
 * express-session's `touch()` recomputes `originalMaxAge` from the new expiry a moment later,
 * which can take a millisecond or two off it: only a change of a second or more is the app's.
 */
function sameMaxAge(a: unknown, b: unknown): boolean {
  return typeof a === 'number' && typeof b === 'number' ? Math.abs(a - b) < 1000 : a === b;
}
