import { createHash } from 'node:crypto';

/** One `Set-Cookie` line, parsed. Attribute names are lower-cased; flags map to `''`. */
export interface SetCookie {
  name: string;
  /** The value exactly as sent (still URL-encoded). */
  value: string;
  attributes: Map<string, string>;
}

/**
 * A session cookie as the attack suite sees it: the raw value to replay and the session id
 * inside it (the part before the signature, if the value is signed).
 */
export interface SessionCookie {
  name: string;
  /** The raw value to put back in a Cookie header. */
  value: string;
  /** The session id: the decoded value without an `s:` prefix and `.signature` suffix. */
  id: string;
  /** Present when the value looks signed (`s:<id>.<sig>` or `<id>.<sig>`). */
  signature?: { prefix: string; sig: string };
  /** Attributes of the Set-Cookie that carried it, when it came from a response. */
  attributes?: Map<string, string>;
}

/** Parses one Set-Cookie header line (RFC 6265 §5.2, lenient like browsers). */
export function parseSetCookie(line: string): SetCookie | undefined {
  const [pair = '', ...rest] = line.split(';');
  const eq = pair.indexOf('=');
  if (eq <= 0) return undefined;
  const attributes = new Map<string, string>();
  for (const part of rest) {
    const at = part.indexOf('=');
    const key = (at === -1 ? part : part.slice(0, at)).trim().toLowerCase();
    if (key) attributes.set(key, at === -1 ? '' : part.slice(at + 1).trim());
  }
  let value = pair.slice(eq + 1).trim();
  if (value.length > 1 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
  return { name: pair.slice(0, eq).trim(), value, attributes };
}

/** `decodeURIComponent` that keeps a malformed value as it is (cookie values are attacker input). */
export function decodeCookieValue(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

// cookie-signature (express-session, cookie-parser) appends '.' + base64 HMAC-SHA256 without
// padding: 43 characters. Accept base64url too, and shorter MACs of at least 128 bits.
const SIGNED_RE = /^(s:)?(.+)\.([A-Za-z0-9+/_-]{22,})$/;

/** Reads the session id out of a cookie value, understanding `s:<id>.<sig>` signing. */
export function toSessionCookie(name: string, value: string, attributes?: Map<string, string>): SessionCookie {
  const decoded = decodeCookieValue(value);
  const match = SIGNED_RE.exec(decoded);
  const cookie: SessionCookie =
    match && (match[1] !== undefined || (match[2] as string).length >= 8)
      ? { name, value, id: match[2] as string, signature: { prefix: match[1] ?? '', sig: match[3] as string } }
      : { name, value, id: decoded.startsWith('s:') ? decoded.slice(2) : decoded };
  if (attributes) cookie.attributes = attributes;
  return cookie;
}

/** The Cookie header that sends these cookies, in order (duplicates included on purpose). */
export function cookieHeader(...cookies: ReadonlyArray<Pick<SessionCookie, 'name' | 'value'>>): string {
  return cookies.map((c) => `${c.name}=${c.value}`).join('; ');
}

/**
 * The short fingerprint that stands for an id in every report: the first 8 hex digits of its
 * SHA-256. Enough to tell ids apart in evidence, useless for replaying them.
 */
export function idHash(id: string): string {
  return `#${createHash('sha256').update(id).digest('hex').slice(0, 8)}`;
}

/** True when a Set-Cookie line removes the cookie instead of setting it. */
export function isClearing(cookie: SetCookie): boolean {
  if (cookie.value === '') return true;
  const maxAge = cookie.attributes.get('max-age');
  if (maxAge !== undefined && Number(maxAge) <= 0) return true;
  const expires = cookie.attributes.get('expires');
  return expires !== undefined && Date.parse(expires) <= Date.parse('2000-01-01T00:00:00Z');
}

// Names that session middlewares use, most specific first; only consulted when an app sets
// several cookies on its first response and the user did not name the session cookie.
const SESSION_NAME_RE = /^(?:__host-|__secure-)?(?:sid|connect\.sid|session|sess|sessionid|session_id|jsessionid|phpsessid)$|sess|sid/i;

/** Picks the session cookie among the cookies of a response. */
export function guessSessionCookieName(cookies: readonly SetCookie[]): string | undefined {
  // A CSRF cookie (XSRF-TOKEN, csrf-csrf's x-csrf-token) is never the session cookie.
  const live = cookies.filter((c) => !isClearing(c) && !/csrf|xsrf/i.test(c.name));
  if (live.length === 0) return undefined;
  if (live.length === 1) return live[0]?.name;
  return (live.find((c) => SESSION_NAME_RE.test(c.name)) ?? live[0])?.name;
}
