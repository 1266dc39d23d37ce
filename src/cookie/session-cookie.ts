import signature from 'cookie-signature';
import type { Cookie, CookieOptions } from 'express-session';
import { compactStoredCookie } from '../policy/stored-cookie.js';

type CookieData = Record<string, unknown>;

/** A session cookie's JSON, as a record stores it (`compactStoredCookie`). */
function storedCookieJson(this: Cookie): CookieData {
  return compactStoredCookie((this as unknown as { data: CookieData }).data);
}

/**
 * Gives the request's session cookie the configured `secure` and `priority` — a record holds
 * neither (see `storedCookieJson`), and one written under the other cookie (the plain-HTTP
 * twin) holds that cookie's — and makes it store compactly. Every `Set-Cookie` of the session
 * is written from this object.
 */
export function configureSessionCookie(cookie: Cookie, options: CookieOptions): void {
  const attributes = cookie as CookieOptions;
  if (attributes.secure !== options.secure) attributes.secure = options.secure;
  if (attributes.priority !== options.priority) attributes.priority = options.priority;
  // Own and not enumerable: express-session's `new Cookie(cookie)` (copying one at a rotation)
  // copies enumerable keys only.
  if ((cookie as { toJSON?: unknown }).toJSON !== storedCookieJson) {
    Object.defineProperty(cookie, 'toJSON', { value: storedCookieJson, configurable: true, writable: true, enumerable: false });
  }
}

/** The `Set-Cookie` value express-session writes for `sid`: signed with `secret`, with `cookie`'s attributes. */
export function sessionCookieHeader(cookie: Cookie, name: string, sid: string, secret: string): string {
  // `Cookie#serialize`: express-session's own, untyped in @types/express-session.
  return (cookie as Cookie & { serialize(name: string, value: string): string }).serialize(name, `s:${signature.sign(sid, secret)}`);
}
