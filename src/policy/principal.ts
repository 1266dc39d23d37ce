/**
 * Who a session record is authenticated as. The guard's own `principal` wins; otherwise the
 * app's own keys (`authKeys`: `user`, `userId`, `passport.user`, …) say who logged in. One
 * `principalOf` for every layer.
 */
import { stateOf } from './state.js';

type Record_ = Record<string, unknown>;

/**
 * Session keys whose presence means "authenticated" to the tripwire: the names apps and
 * login libraries use for "who is logged in". A legacy login that writes any of them on a
 * planted id without `req.login()` is caught.
 */
export const DEFAULT_AUTH_KEYS: readonly string[] = Object.freeze([
  'user',
  'userId',
  'userID',
  'user_id',
  'uid',
  'username',
  'account',
  'accountId',
  'loggedIn',
  'isLoggedIn',
  'authenticated',
  'isAuthenticated',
  'passport.user',
]);

/** Dotted `authKeys` paths, split once (they are read on every request that loads a session). */
const SPLIT_PATHS = new Map<string, readonly string[]>();
const MAX_SPLIT_PATHS = 1_000;

function partsOf(path: string): readonly string[] {
  let parts = SPLIT_PATHS.get(path);
  if (parts === undefined) {
    parts = path.split('.');
    if (SPLIT_PATHS.size < MAX_SPLIT_PATHS) SPLIT_PATHS.set(path, parts);
  }
  return parts;
}

function getPath(record: Record_, path: string): unknown {
  if (path.indexOf('.') === -1) return Object.prototype.hasOwnProperty.call(record, path) ? record[path] : undefined;
  let value: unknown = record;
  for (const part of partsOf(path)) {
    if (typeof value !== 'object' || value === null || !Object.prototype.hasOwnProperty.call(value, part)) return undefined;
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
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  if (typeof value === 'object' && value !== null) {
    for (const key of ['id', 'username', 'email', 'sub']) {
      const v = (value as Record_)[key];
      if (typeof v === 'string' || typeof v === 'number') return String(v);
    }
    return '(object)';
  }
  return String(value);
}

/** Whether an `authKeys` value names someone: absent, null, false and '' name nobody. */
function namesSomeone(value: unknown): boolean {
  return value !== undefined && value !== null && value !== false && value !== '';
}

/** Whom one `authKeys` path names, if anyone. */
export function authKeyName(record: Record_, key: string): string | undefined {
  const value = getPath(record, key);
  return namesSomeone(value) ? principalString(value) : undefined;
}

/** What each present `authKeys` path names. */
export function authKeyNames(record: Record_, authKeys: readonly string[]): Record<string, string> {
  const names: Record<string, string> = {};
  for (const key of authKeys) {
    const named = authKeyName(record, key);
    if (named !== undefined) names[key] = named;
  }
  return names;
}

/** The principal the app's own keys name (the first present key), ignoring the guard's state. */
export function authKeyPrincipal(record: Record_, authKeys: readonly string[]): string | undefined {
  for (const key of authKeys) {
    const value = getPath(record, key);
    if (namesSomeone(value)) return principalString(value);
  }
  return undefined;
}

/** The principal a record is authenticated as, if any. */
export function principalOf(record: Record_, authKeys: readonly string[]): string | undefined {
  const principal = stateOf(record)?.principal;
  if (principal) return principal;
  return authKeyPrincipal(record, authKeys);
}
