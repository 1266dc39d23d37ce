import type { NextFunction, Request, Response } from 'express';
import type { Auditor } from '../audit/index.js';
import { SessionGuardError } from '../errors/index.js';

/** Parameter names that carry a session id in the wild. The cookie's own name is added. */
export const DEFAULT_URL_SESSION_ID_NAMES: readonly string[] = Object.freeze([
  'sid',
  'sessionid',
  'session_id',
  'jsessionid',
  'phpsessid',
  'connect.sid',
  'aspsessionid',
]);

export interface RejectUrlSessionIdsOptions {
  /** Extra parameter names (case-insensitive). The default list is `DEFAULT_URL_SESSION_ID_NAMES`. */
  names?: string[];
  /** The session cookie's name, also refused in URLs. */
  cookieName?: string;
  /** `'reject'` answers 400; `'strip'` removes the parameters and continues. The default value is `'reject'`. */
  action?: 'reject' | 'strip';
  audit?: Auditor;
}

function findPathParams(path: string, names: ReadonlySet<string>): string[] {
  const found: string[] = [];
  if (path.indexOf(';') === -1) return found;
  // `;jsessionid=…` matrix parameters, in any segment (servlet containers honour them anywhere).
  for (const match of path.matchAll(/;([^=;/?#]+)=[^;/?#]*/g)) {
    const name = decodeName(match[1] ?? '');
    if (names.has(name)) found.push(name);
  }
  return found;
}

/**
 * qs (Express's `extended` query parser) turns `%5B`/`%5D` into brackets before it decodes, so a
 * broken escape elsewhere in the key (`%5Bsid%5D%ZZ`) does not keep it from reading `sid`.
 */
const ENCODED_BRACKET = /%5[bd]/gi;
/**
 * qs reads a key that opens with a bracket as the bracket's content (`[sid]=X` is `sid=X`), and a
 * later bracket as nesting under the name before it (`sid[]`, `sid[0]`, `sid[x]` are `sid`).
 */
const LEADING_BRACKETS = /^[[\]]+/;
const NAME_END = /[[\]]/;

/** A parameter's name as a server would read it: decoded, lower-cased, `sid[]` / `[sid]` as `sid`. */
function decodeName(raw: string): string {
  let name = raw.indexOf('%') === -1 ? raw : raw.replace(ENCODED_BRACKET, (escape) => (escape[2] === 'b' || escape[2] === 'B' ? '[' : ']'));
  try {
    name = decodeURIComponent(name.replace(/\+/g, ' '));
  } catch {
    // Left as it is: qs, too, keeps a key it cannot decode.
  }
  name = name.replace(LEADING_BRACKETS, '');
  const end = name.search(NAME_END);
  return (end === -1 ? name : name.slice(0, end)).trim().toLowerCase();
}

/** `%3B` is a `;` to servers that decode the path before splitting matrix parameters. */
const ENCODED_SEMICOLON = /%3b/gi;

/**
 * Session ids come only from the cookie: a URL carrying one (`?sid=…`, `;jsessionid=…`) is the
 * classic fixation vector (a link the victim clicks), so it is refused or stripped, and audited.
 *
 * @example
 * app.use(rejectUrlSessionIds({ cookieName: '__Host-sid' }));
 */
export function rejectUrlSessionIds(options: RejectUrlSessionIdsOptions = {}) {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`rejectUrlSessionIds: options must be an object; got ${JSON.stringify(options)}`);
  }
  const action = options.action ?? 'reject';
  if (action !== 'reject' && action !== 'strip') {
    throw new Error(`rejectUrlSessionIds: \`action\` must be 'reject' or 'strip'; got ${JSON.stringify(action)}`);
  }
  if (options.names !== undefined && (!Array.isArray(options.names) || options.names.some((n) => typeof n !== 'string' || !n))) {
    throw new TypeError(`rejectUrlSessionIds: \`names\` must be an array of non-empty strings; got ${JSON.stringify(options.names)}`);
  }
  const names = new Set([...DEFAULT_URL_SESSION_ID_NAMES, ...(options.names ?? [])].map((n) => n.toLowerCase()));
  if (options.cookieName) names.add(options.cookieName.toLowerCase());
  const audit = options.audit;

  return function rejectUrlSessionIdsMiddleware(req: Request, _res: Response, next: NextFunction): void {
    const url = req.url;
    if (url.indexOf('?') === -1 && url.indexOf(';') === -1 && url.indexOf('%') === -1) return next();
    const q = url.indexOf('?');
    const rawPath = q === -1 ? url : url.slice(0, q);
    const path = rawPath.indexOf('%') === -1 ? rawPath : rawPath.replace(ENCODED_SEMICOLON, ';');
    const query = q === -1 ? '' : url.slice(q + 1);
    const inPath = findPathParams(path, names);
    const inQuery: string[] = [];
    if (query) {
      for (const pair of query.split('&')) {
        const eq = pair.indexOf('=');
        const name = decodeName(eq === -1 ? pair : pair.slice(0, eq));
        if (names.has(name)) inQuery.push(name);
      }
    }
    if (inPath.length === 0 && inQuery.length === 0) return next();
    const params = [...inPath, ...inQuery].join(',');
    audit?.emit('url_session_id_rejected', {
      ip: req.ip,
      reason: action === 'reject' ? 'rejected' : 'stripped',
      detail: { params, location: inPath.length ? 'path' : 'query', method: req.method },
    });
    if (action === 'reject') {
      return next(new SessionGuardError('SESSION_ID_IN_URL', `Session ids are only accepted from the session cookie, not from the URL (parameter: ${params}).`));
    }
    const cleanPath = inPath.length ? path.replace(/;([^=;/?#]+)=[^;/?#]*/g, (whole, name: string) => (names.has(decodeName(name)) ? '' : whole)) : rawPath;
    const cleanQuery = query
      .split('&')
      .filter((pair) => {
        const eq = pair.indexOf('=');
        return !names.has(decodeName(eq === -1 ? pair : pair.slice(0, eq)));
      })
      .join('&');
    const rewritten = cleanQuery ? `${cleanPath}?${cleanQuery}` : cleanPath;
    if (req.originalUrl === req.url) req.originalUrl = rewritten;
    req.url = rewritten;
    // Express 5 parses req.query from req.url when it is read; Express 4 already parsed it
    // (its query middleware runs first), so the stripped ids are dropped from that copy too.
    if (inQuery.length && Object.prototype.hasOwnProperty.call(req, 'query') && typeof req.query === 'object' && req.query !== null) {
      // fromEntries defines each key as data, so a `__proto__` parameter stays a parameter.
      const kept = Object.fromEntries(Object.entries(req.query).filter(([key]) => !names.has(decodeName(key))));
      (req as { query: unknown }).query = Object.setPrototypeOf(kept, Object.getPrototypeOf(req.query) as object | null) as unknown;
    }
    next();
  };
}
