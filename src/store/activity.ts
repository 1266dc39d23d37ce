/**
 * A session's activity, written into the record a store holds (not a request's copy of the
 * session: what a parallel request of the session wrote meanwhile stays).
 */
import { raiseLastSeenAt, stateOf } from '../policy/state.js';
import { compactStoredCookie } from '../policy/stored-cookie.js';

/** A stored record's cookie, as express-session serialises it. */
export interface StoredCookie {
  originalMaxAge?: number | null;
  expires?: string | null;
}

/**
 * In a live record: raises its guard state's `lastSeenAt` to `lastSeenAt` (never lowers it),
 * and renews its expiry from its own cookie's `originalMaxAge`, as express-session's `touch()`
 * renews a session's (the record keeps its cookie: "remember me" set by another request stays;
 * only what a record leaves out of its cookie goes, `compactStoredCookie`).
 * Returns the record's cookie, or undefined for a record without the guard's state (nothing
 * changed then).
 */
export function stampActivity(record: Record<string, unknown>, lastSeenAt: number): StoredCookie | undefined {
  const state = stateOf(record);
  if (state === undefined) return undefined;
  raiseLastSeenAt(state, lastSeenAt);
  const cookie = (typeof record.cookie === 'object' && record.cookie !== null ? record.cookie : (record.cookie = {})) as StoredCookie;
  if (typeof cookie.originalMaxAge === 'number') cookie.expires = new Date(Date.now() + cookie.originalMaxAge).toISOString();
  // Written as any write of the guard writes a record's cookie (one stored by an older version
  // with every attribute is stored compactly from now on).
  compactStoredCookie(cookie as Record<string, unknown>);
  return cookie;
}
