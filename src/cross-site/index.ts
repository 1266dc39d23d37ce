/**
 * Login CSRF: a page on another site auto-submits a login form carrying the *attacker's*
 * credentials, and the victim's browser ends up holding a session of the attacker's account
 * (then everything the victim types — searches, card numbers, messages — lands in an account
 * the attacker reads). SameSite cookies do not stop it: the login response's cookie is stored
 * after a top-level cross-site POST, and the victim had no session to withhold. What stops it
 * is the browser telling where the request came from: Fetch Metadata (`Sec-Fetch-Site`), or,
 * from browsers without it, `Origin` (sent on every cross-origin POST) or `Referer`.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Auditor } from '../audit/index.js';
import { SessionGuardError } from '../errors/index.js';

/** Which header decided: Fetch Metadata, Origin, Referer, or none present (a non-browser client). */
export type CrossSiteSignal = 'sec-fetch-site' | 'origin' | 'referer' | 'none';

export interface CrossSiteVerdict {
  /** `true`: the request comes from a page of another origin that is not trusted. */
  refused: boolean;
  signal: CrossSiteSignal;
  /** The origin the request names (its `Origin`, or its `Referer`'s origin), when it names one. */
  origin?: string;
  /** The `Sec-Fetch-Site` value as sent, when sent. */
  site?: string;
}

export interface CrossSitePolicy {
  /** Origins (`https://sso.example.com`) allowed to send logins besides the app's own. */
  trustedOrigins: ReadonlySet<string>;
  /** Which scheme the app is served with: `true` trusts `X-Forwarded-Proto` (the guard's `trustProxy`), `false` the socket, `undefined` Express's `trust proxy`. */
  trustProxy: boolean | undefined;
}

const MAX_ORIGIN_LENGTH = 2048;
const SITES: ReadonlySet<string> = new Set(['same-origin', 'same-site', 'cross-site', 'none']);

/** `https://Example.com:443/x` → `https://example.com`; `undefined` for anything that is not an http(s) origin. */
export function normaliseOrigin(value: string): string | undefined {
  if (value.length > MAX_ORIGIN_LENGTH) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  return url.origin;
}

/** Validates a `trustedOrigins` list at construction: each an http(s) origin, nothing else. */
export function trustedOriginsOf(value: unknown, where: string, option = 'trustedOrigins'): ReadonlySet<string> {
  if (value === undefined) return new Set();
  if (!Array.isArray(value)) throw new TypeError(`${where}: \`${option}\` must be an array of origins like 'https://sso.example.com'; got ${JSON.stringify(value)}`);
  const origins = new Set<string>();
  for (const entry of value) {
    const origin = typeof entry === 'string' ? normaliseOrigin(entry) : undefined;
    // A path, query or wildcard means the author expects matching this does not do: refuse it.
    const bare = origin !== undefined && /^[a-z]+:\/\/[^/?#*@]+\/?$/i.test(entry as string);
    if (!bare) {
      throw new Error(`${where}: \`${option}\` entries must be origins (scheme://host[:port], no path or wildcard); got ${JSON.stringify(entry)}`);
    }
    origins.add(origin as string);
  }
  return origins;
}

function firstValue(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined) return undefined;
  const comma = value.indexOf(',');
  return (comma === -1 ? value : value.slice(0, comma)).trim() || undefined;
}

/**
 * The app's own origin as the browser sees it, with Express's `trust proxy` semantics: the
 * scheme from `X-Forwarded-Proto` and the host from `X-Forwarded-Host` only when the proxy is
 * trusted (as `req.protocol` and Express 5's `req.host` do; Express 4's `req.host` drops the port).
 */
export function ownOriginOf(req: Request, trustProxy: boolean | undefined): string | undefined {
  const trust = req.app?.get('trust proxy fn') as ((address: string | undefined, hop: number) => boolean) | undefined;
  const proxyTrusted = typeof trust === 'function' && trust(req.socket?.remoteAddress, 0);
  let scheme: string;
  if (trustProxy === true) scheme = firstValue(req.headers['x-forwarded-proto']) ?? (isTls(req) ? 'https' : 'http');
  else if (trustProxy === false) scheme = isTls(req) ? 'https' : 'http';
  else scheme = req.protocol;
  const host = (proxyTrusted ? firstValue(req.headers['x-forwarded-host']) : undefined) ?? req.headers.host;
  if (!host) return undefined;
  return normaliseOrigin(`${scheme.toLowerCase()}://${host}`);
}

function isTls(req: Request): boolean {
  return (req.socket as { encrypted?: boolean } | undefined)?.encrypted === true;
}

/**
 * Decides whether a state-changing request comes from a page of another site.
 *
 * 1. `Sec-Fetch-Site` (every current browser): `same-origin` and `none` (the user typed or
 *    bookmarked it) pass; `same-site` and `cross-site` pass only from a trusted origin. A
 *    *same-site* request is refused too: a sibling subdomain (`evil.example.com` against
 *    `app.example.com`) is exactly where cookie-tossing attackers sit.
 * 2. Without it, `Origin` (sent on every cross-origin POST since 2020): the app's own origin or
 *    a trusted one passes; any other, `null` included (sandboxed frames, cross-origin
 *    redirects), is refused.
 * 3. Without either, `Referer`'s origin, the same way.
 * 4. None of the three: a non-browser client (curl, a mobile app, a test), which passes. It
 *    can only log *itself* in — a forged login needs a victim's browser, and browsers send
 *    `Origin` on a cross-origin POST.
 */
export function crossSiteVerdict(req: Request, policy: CrossSitePolicy): CrossSiteVerdict {
  const headers = req.headers;
  const sent = firstValue(headers['sec-fetch-site'])?.toLowerCase();
  // Only the four values the spec defines are repeated (in audit events); anything else is 'other'.
  const site = sent === undefined ? undefined : SITES.has(sent) ? sent : 'other';
  const rawOrigin = firstValue(headers.origin);
  const named = rawOrigin === undefined ? undefined : rawOrigin === 'null' ? 'null' : (normaliseOrigin(rawOrigin) ?? 'invalid');
  if (site === 'same-origin' || site === 'none') return { refused: false, signal: 'sec-fetch-site', site };
  if (site === 'same-site' || site === 'cross-site') {
    const trusted = named !== undefined && policy.trustedOrigins.has(named);
    return { refused: !trusted, signal: 'sec-fetch-site', site, ...(named !== undefined ? { origin: named } : {}) };
  }
  // No Fetch Metadata (or a value this code does not know): fall back to Origin, then Referer.
  // The app's own origin (a URL parse) only when there is one to compare it with.
  const allowed = (origin: string) => policy.trustedOrigins.has(origin) || origin === ownOriginOf(req, policy.trustProxy);
  if (named !== undefined) return { refused: !allowed(named), signal: 'origin', origin: named, ...(site ? { site } : {}) };
  const referer = typeof headers.referer === 'string' ? headers.referer : undefined;
  if (referer !== undefined) {
    const origin = normaliseOrigin(referer) ?? 'invalid';
    return { refused: !allowed(origin), signal: 'referer', origin, ...(site ? { site } : {}) };
  }
  return { refused: false, signal: 'none', ...(site ? { site } : {}) };
}

const ALLOWED = new WeakSet<object>();

/** Whether {@link allowCrossSiteLogin} marked this request. */
export function crossSiteLoginAllowed(req: Request): boolean {
  return ALLOWED.has(req);
}

/**
 * The per-route opt-out: `req.login()` and `req.elevate()` on this route accept a request from
 * another site. For genuine cross-site flows only — an SSO callback that the identity
 * provider POSTs back (SAML POST binding, OIDC `form_post`), which the app must verify by its
 * own means (signature, `state`, nonce). Prefer `trustedOrigins` when the sender's origin is known.
 *
 * @example
 * app.post('/sso/callback', allowCrossSiteLogin(), async (req, res) => {
 *   const subject = await verifySamlResponse(req.body);   // the flow's own CSRF defence
 *   await req.login(subject);
 *   res.redirect(303, '/account');
 * });
 */
export function allowCrossSiteLogin(): RequestHandler {
  return function allowCrossSiteLoginMiddleware(req: Request, _res: Response, next: NextFunction) {
    ALLOWED.add(req);
    next();
  };
}

export interface RejectCrossSiteLoginOptions {
  /** Origins allowed besides the app's own. The default value is `[]`. */
  trustedOrigins?: string[];
  /** `true` trusts `X-Forwarded-Proto` for the app's scheme. The default value is Express's `trust proxy` setting. */
  trustProxy?: boolean;
  /** Where `cross_site_login_rejected` goes (e.g. `guard.auditor`). The default value is none. */
  audit?: Auditor;
}

/**
 * The guard's login-CSRF check as a middleware of its own, for logins that do not go through
 * `req.login()` — passport's `req.logIn`, or an express-session app without the guard. Mount
 * it on the login route, before the authentication. Refusals go to `next(err)` as a
 * `SessionGuardError` (`403 SESSION_CROSS_SITE_LOGIN`).
 *
 * @example
 * app.post('/login', rejectCrossSiteLogin({ audit: guard.auditor }), passport.authenticate('local'), (req, res) => res.redirect(303, '/'));
 */
export function rejectCrossSiteLogin(options: RejectCrossSiteLoginOptions = {}): RequestHandler {
  const where = 'rejectCrossSiteLogin';
  if (typeof options !== 'object' || options === null) throw new TypeError(`${where}: options must be an object; got ${JSON.stringify(options)}`);
  if (options.trustProxy !== undefined && typeof options.trustProxy !== 'boolean') {
    throw new TypeError(`${where}: \`trustProxy\` must be a boolean; got ${JSON.stringify(options.trustProxy)}`);
  }
  const policy: CrossSitePolicy = { trustedOrigins: trustedOriginsOf(options.trustedOrigins, where), trustProxy: options.trustProxy };
  const audit = options.audit;
  return function rejectCrossSiteLoginMiddleware(req: Request, _res: Response, next: NextFunction): void {
    if (ALLOWED.has(req)) return next();
    const verdict = crossSiteVerdict(req, policy);
    if (!verdict.refused) return next();
    audit?.emit('cross_site_login_rejected', {
      ip: req.ip,
      reason: verdict.signal,
      detail: { action: 'route', origin: verdict.origin ?? null, site: verdict.site ?? null },
    });
    next(new SessionGuardError('SESSION_CROSS_SITE_LOGIN', "Login refused: the request came from a page of another site. Use this site's own page."));
  };
}
