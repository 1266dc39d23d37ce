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

/** Paths a tossed cookie may have been planted on: `/`, and every prefix of the request path. */
function candidatePaths(pathname: string): string[] {
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
 * Cookie tossing: a sibling subdomain (or a narrower Path) plants a second cookie with the
 * session cookie's name, and the server picks whichever comes first. A Cookie header that
 * carries the name twice is never resolved to either session.
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
  const secure = options.secure ?? cookieName.toLowerCase().startsWith('__host-');
  const audit = options.audit;

  return function rejectCookieTossingMiddleware(req: Request, res: Response, next: NextFunction): void {
    const header = req.headers.cookie;
    if (!header) return next();
    const reading = readSessionCookie(header, cookieName, []);
    if (reading.count < 2) return next();
    const pathname = (req.originalUrl || req.url).split('?')[0] ?? '/';
    const attributes = `Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly${secure ? '; Secure' : ''}; SameSite=Lax`;
    const clears = candidatePaths(pathname).map((path) => `${cookieName}=; Path=${path}; ${attributes}`);
    res.append('Set-Cookie', clears);
    audit?.emit('cookie_tossing', {
      ip: req.ip,
      reason: action === 'reject' ? 'rejected' : 'ignored',
      detail: { copies: reading.count, path: pathname.slice(0, 200) },
    });
    if (action === 'reject') {
      return next(new SessionGuardError('SESSION_COOKIE_TOSSING', 400, 'The request carries the session cookie more than once; both copies were cleared. Sign in again.'));
    }
    req.headers.cookie = withoutCookie(header, cookieName);
    next();
  };
}
