export { readSessionCookie, withoutCookie, type SessionCookieReading } from './read.js';
export {
  hardenedCookie,
  DEFAULT_SECURE_COOKIE_NAME,
  DEFAULT_PLAIN_HTTP_COOKIE_NAME,
  type HardenedCookieOptions,
  type ResolvedCookie,
} from './hardened.js';
