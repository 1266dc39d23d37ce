/**
 * What a session record stores of its cookie. express-session stores every attribute
 * (`Cookie#toJSON`); the guard sets `secure` and `priority` from its configuration on every
 * request, so the record leaves out what its reader restores anyway: `priority`, `secure` unless
 * true, `httpOnly` when true and `path` when '/' (express-session's `Cookie` starts with both).
 * About 60 bytes of every record, and the record stays one any express-session reads back
 * with the same cookie. `secure: true` stays, so that a record read without the guard (a fleet
 * mid-upgrade, an app that drops it) still gets a Secure cookie.
 */
export function compactStoredCookie(data: Record<string, unknown>): Record<string, unknown> {
  data.priority = undefined;
  if (data.secure !== true) data.secure = undefined;
  if (data.httpOnly === true) data.httpOnly = undefined;
  if (data.path === '/') data.path = undefined;
  return data;
}
