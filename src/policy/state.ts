/**
 * The guard's own state inside every session record (`fixationGuard`), and the pure rules
 * that create and strip it. No I/O here: the store layer persists it, the Express layer
 * decides when it changes.
 */

/** The key of the guard's state in a session record. */
export const GUARD_KEY = 'fixationGuard';

/** What the guard keeps in each session record, under `fixationGuard`. */
export interface GuardState {
  v: 1;
  createdAt: number;
  lastSeenAt: number;
  rotatedAt: number;
  /** Set only by `req.login` (or a fresh session saved by passport's own regenerate). */
  principal?: string;
  /** Keyed hash of the id the authentication was bound to: persisted anywhere else, it trips. */
  boundTo?: string;
  authAt?: number;
  /** Who the app's own keys (`authKeys`) named when the authentication was bound (the first). */
  authPrincipal?: string;
  /** What each `authKeys` path named when the authentication was bound. */
  authNames?: Record<string, string>;
  elevatedAt?: number;
  privilege?: string;
  credentialVersion?: string;
}

declare module 'express-session' {
  interface SessionData {
    fixationGuard?: GuardState;
  }
}

export function newGuardState(now: number): GuardState {
  return { v: 1, createdAt: now, lastSeenAt: now, rotatedAt: now };
}

/** The guard state of a session that is not (or no longer) authenticated. */
export function withoutAuthentication(state: GuardState): GuardState {
  const { principal: _p, boundTo: _b, authAt: _a, authPrincipal: _ap, authNames: _an, elevatedAt: _e, privilege: _pr, credentialVersion: _c, ...rest } = state;
  return rest;
}

/** The guard state of a record, read structurally (records come back from stores as JSON). */
export function stateOf(record: object | undefined): GuardState | undefined {
  const state = (record as Record<string, unknown> | undefined)?.[GUARD_KEY];
  return typeof state === 'object' && state !== null ? (state as GuardState) : undefined;
}
