import type { NextFunction, Request, RequestHandler, Response } from 'express';
import session from 'express-session';
import onHeaders from 'on-headers';
import type { Auditor } from '../audit/index.js';
import { readSessionCookie, type SessionCookieReading } from '../cookie/read.js';
import { rejectCookieTossing } from '../cookie-tossing/index.js';
import { FixationTripwireError, SessionGuardError, SessionStoreUnavailableError, type SessionGuardErrorCode } from '../errors/index.js';
import type { GuardedStore } from '../store/guarded-store.js';
import { isTombstone, type EndReason, type SessionIndexEntry } from '../store/contracts.js';
import { rejectUrlSessionIds } from '../url-ids/index.js';
import { shortHash, deriveKey } from '../util/hash.js';
import { settleAll } from './concurrency.js';
import type { GuardContext } from './context.js';
import { enforceLifecycle } from './lifecycle.js';
import { resolveOptions, type SessionGuardOptions } from './options.js';
import { clearSessionCookie, SessionGuardRequestApi, type ElevateOptions, type LoginOptions } from './request-api.js';
import '../types.js';


/** One of a principal's sessions, as shown on a "your devices" page: never the raw id. */
export interface SessionSummary {
  /** A stable handle for `revokeSession`; a keyed hash, useless as a cookie. */
  handle: string;
  createdAt: number;
  lastSeenAt: number;
  meta?: Record<string, string>;
}

export interface SessionGuardMiddleware extends RequestHandler {
  /** The cookie name in use (e.g. `__Host-sid`). */
  readonly cookieName: string;
  readonly store: GuardedStore;
  readonly auditor: Auditor;
  /** Admin: ends every session of `principal`. Resolves to how many. */
  revokeSessions(principal: string): Promise<number>;
  /** Ends one session of `principal`, by the handle `listSessions` gave. */
  revokeSession(principal: string, handle: string): Promise<boolean>;
  /** Live sessions of `principal`, oldest first. */
  listSessions(principal: string): Promise<SessionSummary[]>;
}

const NO_SECRETS: readonly string[] = Object.freeze([]);
/** An index entry without a record is left alone this long: its login may still be in flight. */
const PENDING_LOGIN_GRACE_MS = 60_000;
let warned = false;

/** The guard that handled this request, if it installs request methods. */
function apiFor(req: Request, method: string): SessionGuardRequestApi {
  const api = req.sessionGuard;
  if (!api?.requestMethods) {
    throw new TypeError(`req.${method}() is not enabled here: the sessionGuard() handling this request has \`requestMethods: false\` (or none is mounted). Use req.sessionGuard.${method}().`);
  }
  return api;
}
function login(this: Request, principal: string, options?: LoginOptions): Promise<void> {
  return apiFor(this, 'login').login(principal, options);
}
function logout(this: Request): Promise<void> {
  return apiFor(this, 'logout').logout();
}
function elevate(this: Request, options?: ElevateOptions): Promise<void> {
  return apiFor(this, 'elevate').elevate(options);
}
function logoutEverywhere(this: Request): Promise<number> {
  return apiFor(this, 'logoutEverywhere').logoutEverywhere();
}

/** The session as express-session hashes it (without the cookie), to tell whether it changed. */
function sessionJson(sess: object): string {
  return JSON.stringify(sess, function omitCookie(this: unknown, key: string, value: unknown) {
    return this === sess && key === 'cookie' ? undefined : value;
  });
}

const patchedPrototypes = new WeakSet<object>();

/**
 * `req.login` & co. live on the app's request prototype (Express's `app.request`), installed
 * once: per-request own properties would reshape every request object on the hot path. They
 * read `this.sessionGuard`, which is per request. passport owns `req.login` / `req.logout`:
 * its initialize() sets them as own properties, which shadow these, whichever is mounted
 * first; a prototype that already has them (old passport patching IncomingMessage) keeps them.
 */
function installRequestMethods(req: Request): void {
  const proto = Object.getPrototypeOf(req) as Record<string, unknown> | null;
  if (!proto || patchedPrototypes.has(proto)) return;
  patchedPrototypes.add(proto);
  const methods: Record<string, unknown> = { login, logout, elevate, logoutEverywhere };
  for (const [name, fn] of Object.entries(methods)) {
    if (name in proto) continue;
    Object.defineProperty(proto, name, { value: fn, configurable: true, writable: true, enumerable: false });
  }
}

/** Status and headers of a guard error answer (never cached; a 503 says when to retry). */
function setErrorHead(res: Response, err: SessionGuardError): void {
  res.statusCode = err.status;
  res.setHeader('Cache-Control', 'no-store');
  if (err.status === 503) res.setHeader('Retry-After', '5');
}

function respondError(res: Response, err: SessionGuardError): void {
  if (res.headersSent) return;
  setErrorHead(res, err);
  res.json(err.toJSON());
}

/**
 * Guards the way out of a request that has a session.
 *
 * - express-session saves a modified session inside res.end after the headers are already
 *   out, and a failed save only reaches next(err) once the response is gone: the client is
 *   told "done" for a write that was lost (fail open). The guard saves first, while the answer
 *   can still be changed, and answers the error instead when the save fails.
 * - The tripwire's last line: before the headers go out, an authenticated session that may
 *   not be persisted (see `GuardedStore#tripReason`) is destroyed. A session that reached
 *   res.end unmodified persists nothing and is not checked again (no hashing on the hot path).
 */
function guardResponse(ctx: GuardContext, req: Request, res: Response): void {
  const store = ctx.store;
  const loaded = req.session as unknown as object;
  const before = sessionJson(loaded);
  let unchanged = false;

  onHeaders(res, function fixationTripwireOnHeaders() {
    const sess = req.session as unknown as Record<string, unknown> | undefined;
    if (!sess || (unchanged && sess === loaded)) return;
    const reason = store.tripReason(sess, req.sessionID);
    if (reason === undefined) return;
    const principal = store.principalOf(sess);
    const alreadyTripped = store.isTripped(sess);
    delete (req as { session?: unknown }).session;
    clearSessionCookie(ctx, res);
    if (alreadyTripped) return; // the store refused the save a moment ago and audited it
    store.destroyTripped(req.sessionID, sess, principal, reason, req.ip).catch(() => undefined);
    if (ctx.development) {
      console.error(
        `fixation-guard tripwire: ${req.method} ${req.path} marked the session authenticated (as ${principal}) without req.login(). ` +
          'The id may have been planted by an attacker and was never rotated, so the session was destroyed. Use `await req.login(userId)`.',
      );
    }
  });

  const end = res.end as (...args: unknown[]) => Response;
  res.end = function fixationGuardEnd(this: Response, ...args: unknown[]): Response {
    const sess = req.session as unknown as object | undefined;
    if (!sess || sess !== loaded || res.headersSent) return end.apply(this, args);
    if (store.isTripped(sess)) {
      // The tripwire already refused this session and the app answered that error: let it through.
      delete (req as { session?: unknown }).session;
      return end.apply(this, args);
    }
    if (sessionJson(sess) === before) {
      unchanged = true;
      return end.apply(this, args);
    }
    req.session.save((err?: unknown) => {
      if (!err) {
        end.apply(this, args);
        return;
      }
      const error = err instanceof SessionGuardError ? err : new SessionStoreUnavailableError(undefined, { cause: err });
      if (ctx.development && error instanceof FixationTripwireError) console.error(`${req.method} ${req.path}: ${error.message}`);
      delete (req as { session?: unknown }).session;
      for (const header of ['Content-Length', 'Content-Type', 'Content-Encoding', 'ETag', 'Last-Modified', 'Set-Cookie']) res.removeHeader(header);
      const body = JSON.stringify(error.toJSON());
      setErrorHead(res, error);
      res.setHeader('Content-Type', 'application/json; charset=utf-8');
      res.setHeader('Content-Length', Buffer.byteLength(body));
      end.call(this, body);
    });
    return this;
  } as Response['end'];
}

const END_CODES: Record<EndReason | 'unknown', SessionGuardErrorCode> = {
  rotated: 'SESSION_ROTATED',
  logout: 'SESSION_LOGGED_OUT',
  logout_everywhere: 'SESSION_LOGGED_OUT',
  evicted: 'SESSION_EVICTED',
  revoked: 'SESSION_REVOKED',
  idle_timeout: 'SESSION_EXPIRED_IDLE',
  absolute_timeout: 'SESSION_EXPIRED_ABSOLUTE',
  credentials_changed: 'SESSION_CREDENTIALS_CHANGED',
  tripwire: 'SESSION_FIXATION_TRIPWIRE',
  destroyed: 'UNAUTHENTICATED',
  unknown: 'UNAUTHENTICATED',
};

/**
 * Answers 401 unless the session is authenticated, with a code that says why the client's
 * session ended (`SESSION_EXPIRED_IDLE`, `SESSION_EVICTED`, …).
 *
 * @example
 * app.get('/me', requireAuth(), (req, res) => res.json({ user: req.sessionGuard!.principal }));
 */
export function requireAuth(): RequestHandler {
  return function requireAuthMiddleware(req, res, next) {
    const api = req.sessionGuard;
    if (!api) return next(new SessionGuardError('SESSION_NOT_AVAILABLE', 500, 'requireAuth: sessionGuard() is not mounted before this route.'));
    if (api.authenticated) return next();
    const code = api.endedReason ? END_CODES[api.endedReason] : 'UNAUTHENTICATED';
    res.status(401).setHeader('Cache-Control', 'no-store');
    res.json({ error: { code, message: 'Authentication required.' } });
  };
}

/**
 * The whole guard, in order: URL ids refused → duplicate cookies refused → express-session on
 * a GuardedStore with a hardened cookie → fail closed → timeouts → `req.login` & co. →
 * tripwire. Every piece is also exported on its own.
 *
 * @example
 * app.use(sessionGuard({
 *   secret: process.env.SESSION_SECRET!,
 *   store, index,                 // e.g. createRedisSessionStores({ url })
 *   strategy: 'changeSessionId',
 *   idleTimeout: '30m', absoluteTimeout: '4h', maxSessionsPerUser: 5,
 *   audit: jsonlSink('/var/log/app/session-audit.jsonl'),
 * }));
 * app.post('/login', async (req, res) => { … await req.login(user.id); res.json({ user: user.id }); });
 */
export function sessionGuard(options: SessionGuardOptions): SessionGuardMiddleware {
  const resolved = resolveOptions(options);
  const ctx = resolved.context;
  const { store, auditor } = ctx;
  for (const warning of resolved.warnings) {
    auditor.emit('insecure_configuration', { reason: warning });
    if (!warned) process.emitWarning(`fixation-guard: ${warning}`, { code: 'FIXATION_GUARD_INSECURE' });
  }
  if (resolved.warnings.length) warned = true;

  const urlCheck = resolved.urlSessionIds === false ? undefined : rejectUrlSessionIds({ ...resolved.urlSessionIds, cookieName: ctx.cookieName, audit: auditor });
  const tossingCheck =
    resolved.cookieTossing === false
      ? undefined
      : rejectCookieTossing({ ...resolved.cookieTossing, cookieName: ctx.cookieName, secure: ctx.cookieOptions.secure === true, audit: auditor });
  const expressSession = session(resolved.sessionOptions);
  const handleKey = deriveKey(ctx.secrets[0] as string, 'session-handle');
  let proxyWarningGiven = false;

  function fail(req: Request, res: Response, next: NextFunction, err: unknown): void {
    if (err instanceof SessionGuardError && resolved.errorResponse === 'json') return respondError(res, err);
    next(err);
  }

  /** After express-session: synchronous unless the lifecycle has work to do. */
  function afterSession(req: Request, res: Response, reading: SessionCookieReading, presentedId: string | undefined): Promise<void> | undefined {
    if (!req.session) throw new SessionStoreUnavailableError();
    const api = new SessionGuardRequestApi(ctx, req, res);
    req.sessionGuard = api;
    if (resolved.requestMethods) {
      api.requestMethods = true;
      installRequestMethods(req);
    }
    if (presentedId !== undefined) {
      if (presentedId !== req.sessionID) api.endedReason = store.takeEndReason(presentedId);
      else {
        // A loaded record that may not be authenticated under this id (written before the guard
        // was adopted, by another writer, or bound to someone else) is never served.
        const reason = store.tripReason(req.session as unknown as Record<string, unknown>, req.sessionID);
        if (reason !== undefined) return tripAtLoad(req, api, reason).then(() => continueAfterLoad(req, res, api));
      }
    } else if (reading.status !== 'absent' && reading.count === 1) {
      // A cookie express-session did not accept: its signature (or its form) is not ours.
      // (Two copies are cookie tossing, audited as such.)
      auditor.emit('session_cookie_tampered', { ip: req.ip, reason: reading.status === 'signed' ? 'tampered' : reading.status });
    }
    return continueAfterLoad(req, res, api);
  }

  function continueAfterLoad(req: Request, res: Response, api: SessionGuardRequestApi): Promise<void> | undefined {
    const pending = enforceLifecycle(ctx, req, api);
    if (pending) return pending.then(() => finishRequestSetup(req, res));
    finishRequestSetup(req, res);
    return undefined;
  }

  async function tripAtLoad(req: Request, api: SessionGuardRequestApi, reason: string): Promise<void> {
    const sess = req.session as unknown as Record<string, unknown>;
    await store.destroyTripped(req.sessionID, sess, store.principalOf(sess), reason, req.ip);
    req.sessionStore.generate(req);
    api.endedReason = 'tripwire';
  }

  function finishRequestSetup(req: Request, res: Response): void {
    if (req.session) guardResponse(ctx, req, res);
  }

  function runSession(req: Request, res: Response, next: NextFunction, reading: SessionCookieReading): void {
    // Refused on every such request (audited once): letting later ones through would make the
    // missing Secure cookie silent again.
    if (ctx.cookieOptions.secure && !req.secure && req.headers['x-forwarded-proto'] === 'https' && resolved.sessionOptions.proxy === undefined) {
      if (!proxyWarningGiven) auditor.emit('config_error', { reason: 'secure cookie behind an untrusted proxy' });
      proxyWarningGiven = true;
      return fail(req, res, next, new SessionGuardError('SESSION_CONFIG', 500,
        "sessionGuard: this request came through a TLS proxy (X-Forwarded-Proto: https) but Express does not trust it, so the Secure session cookie would silently never be set. Set app.set('trust proxy', 1) (or the proxy's address), or `trustProxy: true`."));
    }
    let passed = false;
    // express-session calls store.get synchronously, and only for a cookie whose signature it
    // verified: the id it asked for, read before anything else can run, is the presented id.
    let presentedId: string | undefined;
    let synchronous = true;
    store.lastRequestedId = undefined;
    expressSession(req, res, function afterExpressSession(err?: unknown) {
      if (synchronous) presentedId = store.lastRequestedId;
      if (passed) {
        // A late save error (the response is already on its way): audited by the store. The
        // tripwire's explanation would be lost with it, and in development it is the point.
        if (ctx.development && err instanceof FixationTripwireError) console.error(err.message);
        return;
      }
      passed = true;
      if (err) return fail(req, res, next, err);
      let pending: Promise<void> | undefined;
      try {
        pending = afterSession(req, res, reading, presentedId);
      } catch (error) {
        return fail(req, res, next, error);
      }
      if (!pending) return next();
      pending.then(
        () => next(),
        (error: unknown) => fail(req, res, next, error),
      );
    });
    if (synchronous) presentedId ??= store.lastRequestedId;
    synchronous = false;
  }

  /** After the URL check: the duplicate-cookie check (only when the name appears twice), then the session. */
  function afterUrlCheck(req: Request, res: Response, next: NextFunction, reading: SessionCookieReading): void {
    if (tossingCheck && reading.count > 1) {
      return tossingCheck(req, res, function afterTossingCheck(err?: unknown) {
        if (err) return fail(req, res, next, err);
        runSession(req, res, next, reading);
      });
    }
    runSession(req, res, next, reading);
  }

  const middleware = function sessionGuardMiddleware(req: Request, res: Response, next: NextFunction): void {
    if (req.sessionGuard) return next();
    try {
      // No secrets: express-session verifies the signature; the guard only needs the shape and count.
      const reading = readSessionCookie(req.headers.cookie, ctx.cookieName, NO_SECRETS);
      const url = req.url;
      if (urlCheck && (url.indexOf('?') !== -1 || url.indexOf(';') !== -1 || url.indexOf('%') !== -1)) {
        return urlCheck(req, res, function afterUrlSessionIdCheck(err?: unknown) {
          if (err) return fail(req, res, next, err);
          afterUrlCheck(req, res, next, reading);
        });
      }
      afterUrlCheck(req, res, next, reading);
    } catch (error) {
      fail(req, res, next, error);
    }
  } as SessionGuardMiddleware;

  async function liveEntries(principal: string): Promise<SessionIndexEntry[]> {
    const entries = await store.index('index', (index) => index.list(principal));
    // Concurrent reads (pipelined on Redis): one at a time, a 1,000-session list took ~0.2 s.
    const records = await settleAll(entries, (entry) => store.readRaw(entry.sessionId));
    const live: SessionIndexEntry[] = [];
    const dead: string[] = [];
    for (const [i, entry] of entries.entries()) {
      const record = records[i];
      if (record && !isTombstone(record)) live.push(entry);
      else if (isTombstone(record) || ctx.clock.now() - entry.lastSeenAt > PENDING_LOGIN_GRACE_MS) dead.push(entry.sessionId);
      // else: admitted by a login still in flight (admit comes before the record is written).
    }
    await settleAll(dead, (id) => store.index('index', (index) => index.remove(principal, id)));
    return live;
  }

  Object.defineProperties(middleware, {
    cookieName: { value: ctx.cookieName, enumerable: true },
    store: { value: store, enumerable: true },
    auditor: { value: auditor, enumerable: true },
    revokeSessions: {
      value: async function revokeSessions(principal: string): Promise<number> {
        const ids = await store.index('index', (index) => index.removeAll(principal));
        // Concurrent (pipelined on Redis): one at a time, 1,000 sessions took ~0.5 s of round
        // trips. Every id is attempted even if one fails: the index no longer lists them.
        await settleAll(ids, async (id) => {
          await store.endSession(id, 'revoked', principal, { indexed: false });
          auditor.emit('session_revoked', { sessionId: id, principal });
        });
        return ids.length;
      },
    },
    revokeSession: {
      value: async function revokeSession(principal: string, handle: string): Promise<boolean> {
        for (const entry of await liveEntries(principal)) {
          if (shortHash(handleKey, entry.sessionId) !== handle) continue;
          await store.endSession(entry.sessionId, 'revoked', principal);
          auditor.emit('session_revoked', { sessionId: entry.sessionId, principal });
          return true;
        }
        return false;
      },
    },
    listSessions: {
      value: async function listSessions(principal: string): Promise<SessionSummary[]> {
        return (await liveEntries(principal)).map((entry) => ({
          handle: shortHash(handleKey, entry.sessionId),
          createdAt: entry.createdAt,
          lastSeenAt: entry.lastSeenAt,
          ...(entry.meta ? { meta: entry.meta } : {}),
        }));
      },
    },
  });
  return middleware;
}

export { resolveOptions, type SessionGuardOptions } from './options.js';
