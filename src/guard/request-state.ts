/**
 * Per-request state of the guard, kept on the request (never in the store): which id the
 * client's cookie loaded, which ids exist in the store, which authentications this request
 * bound, and what the store already holds of the current session.
 */
import type { Request } from 'express';
import type { EndReason } from '../store/contracts.js';
import type { GuardContext } from './context.js';

const REQUEST_STATE = Symbol('fixation-guard.request');

export interface Baseline {
  /** The session object this describes (`req.session` may be replaced by a rotation). */
  session: object;
  sid: string;
  /** `sessionJson` of it when loaded, generated or last saved. */
  json: string;
  /** Whether the store holds exactly this (false: generated in this request, never saved). */
  stored: boolean;
}

export interface RequestState {
  ctx: GuardContext;
  /** The id the client's cookie loaded from the store, if any. */
  loadedId: string | undefined;
  /** Ids known to hold a record: the loaded one and those written in this request. */
  storedIds: Set<string>;
  /** Ids whose authentication `req.login` & co. bound in this request. */
  boundIds: Set<string>;
  /** Session objects the tripwire refused: never persisted again. */
  tripped: WeakSet<object>;
  baseline: Baseline | undefined;
  /** Why the session the client presented is not in use. */
  endedReason: EndReason | 'unknown' | undefined;
  /** A login through a regenerated session (passport), admitted before its write and confirmed after. */
  pendingConfirm: { sid: string; principal: string; createdAt: number } | undefined;
}

export function createRequestState(req: Request, ctx: GuardContext): RequestState {
  const state: RequestState = {
    ctx,
    loadedId: undefined,
    storedIds: new Set(),
    boundIds: new Set(),
    tripped: new WeakSet(),
    baseline: undefined,
    endedReason: undefined,
    pendingConfirm: undefined,
  };
  (req as unknown as Record<symbol, RequestState>)[REQUEST_STATE] = state;
  return state;
}

export function requestStateOf(req: Request | undefined): RequestState | undefined {
  return req ? (req as unknown as Record<symbol, RequestState | undefined>)[REQUEST_STATE] : undefined;
}

/** The session as express-session hashes it (without the cookie), to tell whether it changed. */
export function sessionJson(sess: object): string {
  return JSON.stringify(sess, function omitCookie(this: unknown, key: string, value: unknown) {
    return this === sess && key === 'cookie' ? undefined : value;
  });
}

/** Records that the store holds `sess` as it is now under `sid`. */
export function markStored(state: RequestState, sid: string, sess: object): void {
  state.storedIds.add(sid);
  state.baseline = { session: sess, sid, json: sessionJson(sess), stored: true };
}

/** Records the current session as generated in this request and never saved. */
export function markGenerated(state: RequestState, sid: string, sess: object): void {
  state.baseline = { session: sess, sid, json: sessionJson(sess), stored: false };
}

/** Whether `sess` is exactly what the baseline says (nothing to save). */
export function unchanged(state: RequestState, sess: object): boolean {
  const baseline = state.baseline;
  return baseline !== undefined && baseline.session === sess && baseline.json === sessionJson(sess);
}
