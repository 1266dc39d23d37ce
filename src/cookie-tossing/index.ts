import type { NextFunction, Request, Response } from 'express';
import type { Auditor } from '../audit/index.js';
import { readSessionCookie, withoutCookie } from '../cookie/read.js';
import { SessionGuardError } from '../errors/index.js';

export interface RejectCookieTossingOptions {
  /** The session cookie's name. Required. */
  cookieName: string;
  /**
   * `'reject'` answers 400; `'ignore'` drops every copy of the cookie so the request proceeds
   * with no session. Either way both copies are cleared. The default value is `'reject'`.
   */
  action?: 'reject' | 'ignore';
  /** Attributes the clearing Set-Cookie needs to match ours (`__Host-` needs Secure). */
  secure?: boolean;
  audit?: Auditor;
}

const MAX_CLEARED_PATHS = 8;
/**
 * At most this many Set-Cookie clears per refused request (a few KB of headers): scopes are
 * taken shallowest path first, and within a path host-only first, then the broadest domain.
 */
const MAX_CLEARS = 16;

/** A hostname the browser could have scoped a cookie to: DNS labels only, no IP, no port. */
const DNS_NAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/;
const NUMERIC_LABEL = /\.\d+$/;

/**
 * Paths a tossed cookie may have been planted on: `/`, and every prefix of the request path up to
 * its first `;` (no cookie Path holds one, and copied into the clear it would add attributes).
 */
function candidatePaths(requestPath: string): string[] {
  const semicolon = requestPath.indexOf(';');
  const pathname = semicolon === -1 ? requestPath : requestPath.slice(0, semicolon);
  const paths = ['/'];
  let at = 0;
  while (paths.length < MAX_CLEARED_PATHS) {
    at = pathname.indexOf('/', at + 1);
    const prefix = at === -1 ? pathname : pathname.slice(0, at);
    if (prefix.length > 1 && !paths.includes(prefix)) paths.push(prefix);
    if (at === -1) break;
  }
  return paths;
}

/**
 * Domains a tossed cookie may have been planted on: the host itself and each parent with at
 * least two labels, broadest first (`example.com`, `eu.example.com`, `app.eu.example.com`).
 * None for an IP address, `localhost`, or a Host header that is not a DNS name (whose value must
 * never reach a Set-Cookie attribute).
 */
function candidateDomains(hostname: string | undefined): string[] {
  const host = hostname?.toLowerCase();
  if (!host || !DNS_NAME.test(host) || NUMERIC_LABEL.test(host)) return [];
  const domains: string[] = [];
  for (let at = host.lastIndexOf('.', host.lastIndexOf('.') - 1); at !== -1; at = host.lastIndexOf('.', at - 1)) {
    domains.push(host.slice(at + 1));
  }
  domains.push(host);
  return domains;
}

/**
 * Cookie tossing: a sibling subdomain (or a narrower Path) plants a second cookie with the
 * session cookie's name, and the server picks whichever comes first. A Cookie header that
 * carries the name twice is never resolved to either session.
 *
 * The refusal also clears the cookie, and a browser only removes a cookie whose name, Domain and
 * Path all match, so for a plain name it clears every scope the server can name: host-only and
 * `Domain=` the Host and each of its parents (`app.eu.example.com`, `eu.example.com`,
 * `example.com`), each for `/` and every prefix of the request path, at most 16 clears in all.
 * Without the Domain variants, a cookie planted from `evil.example.com` with
 * `Domain=example.com` would outlive every refusal and log the victim out after each login.
 * What a server cannot clear: a cookie scoped to a domain it does not see in the Host (another
 * parent, or behind a proxy that rewrites Host without `trust proxy`), a Path that is not a
 * prefix of the refused request's path (cleared when a request under it is refused), a
 * `Partitioned` cookie, and nothing on a public suffix (`Domain=co.uk`), which browsers refuse
 * to set at all. A `__Host-` name gets one host-only clear for `/`: browsers accept such a
 * cookie only host-only, Secure and on `/`, so a duplicate can only come from the same host.
 *
 * @example
 * app.use(rejectCookieTossing({ cookieName: '__Host-sid', secure: true }));
 */
export function rejectCookieTossing(options: RejectCookieTossingOptions) {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`rejectCookieTossing: options must be an object with \`cookieName\`; got ${JSON.stringify(options)}`);
  }
  const { cookieName } = options;
  if (typeof cookieName !== 'string' || cookieName.length === 0) {
    throw new TypeError(`rejectCookieTossing: \`cookieName\` must be the session cookie's name; got ${JSON.stringify(cookieName)}`);
  }
  const action = options.action ?? 'reject';
  if (action !== 'reject' && action !== 'ignore') {
    throw new Error(`rejectCookieTossing: \`action\` must be 'reject' or 'ignore'; got ${JSON.stringify(action)}`);
  }
  const hostPrefixed = cookieName.toLowerCase().startsWith('__host-');
  const secure = options.secure ?? hostPrefixed;
  const audit = options.audit;
  const attributes = `Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly${secure ? '; Secure' : ''}; SameSite=Lax`;
  const hostOnlyClear = `${cookieName}=; Path=/; ${attributes}`;

  function clearsFor(req: Request, pathname: string): string[] {
    if (hostPrefixed) return [hostOnlyClear];
    const domains = candidateDomains(req.hostname);
    const clears: string[] = [];
    for (const path of candidatePaths(pathname)) {
      clears.push(`${cookieName}=; Path=${path}; ${attributes}`);
      for (const domain of domains) clears.push(`${cookieName}=; Domain=${domain}; Path=${path}; ${attributes}`);
      if (clears.length >= MAX_CLEARS) return clears.slice(0, MAX_CLEARS);
    }
    return clears;
  }

  return function rejectCookieTossingMiddleware(req: Request, res: Response, next: NextFunction): void {
    const header = req.headers.cookie;
    if (!header) return next();
    const reading = readSessionCookie(header, cookieName, []);
    if (reading.count < 2) return next();
    const pathname = (req.originalUrl || req.url).split('?')[0] ?? '/';
    res.append('Set-Cookie', clearsFor(req, pathname));
    audit?.emit('cookie_tossing', {
      ip: req.ip,
      reason: action === 'reject' ? 'rejected' : 'ignored',
      detail: { copies: reading.count, path: pathname.slice(0, 200) },
    });
    if (action === 'reject') {
      return next(new SessionGuardError('SESSION_COOKIE_TOSSING', 'The request carries the session cookie more than once; both copies were cleared. Sign in again.'));
    }
    req.headers.cookie = withoutCookie(header, cookieName);
    next();
  };
}
