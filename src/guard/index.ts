import type { NextFunction, Request, RequestHandler, Response } from 'express';
import session from 'express-session';
import type { Auditor } from '../audit/index.js';
import type { ResolvedCookie } from '../cookie/hardened.js';
import { readSessionCookie, type SessionCookieReading } from '../cookie/read.js';
import { configureSessionCookie } from '../cookie/session-cookie.js';
import { rejectCookieTossing } from '../cookie-tossing/index.js';
import { FixationTripwireError, SessionGuardError, SessionStoreUnavailableError, type SessionGuardErrorCode } from '../errors/index.js';
import { loadedFromStore, type GuardedStore } from '../store/guarded-store.js';
import { isTombstone, type EndReason, type SessionIndexEntry } from '../store/contracts.js';
import { rejectUrlSessionIds } from '../url-ids/index.js';
import { settleAll } from '../util/concurrency.js';
import type { GuardContext } from './context.js';
import { enforceLifecycle } from './lifecycle.js';
import { resolveOptions, type SessionGuardOptions } from './options.js';
import { RequestApi, type AuthenticatedRequestApi, type SessionGuardRequestApi } from './request-api.js';
import { installRequestMethods, requestMethodsEnabled } from './request-methods.js';
import { isPlainLoopbackRequest, isSecureRequest, loopbackWarning } from './plain-http.js';
import { markGenerated, markStored, RequestState } from './request-state.js';
import { guardResponse, respondError } from './response.js';
import { adoptSuccessor, endedRecord, replaceWithFresh } from './rotation.js';
import { createWriteGate, requestTripReason, tripSession } from './write-gate.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /**
       * The guard's per-request API, present on every request a `sessionGuard()` handled.
       * `guarded(req)` / `authenticated(req)` read it without a non-null assertion.
       */
      sessionGuard?: SessionGuardRequestApi;
    }
  }
}

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
  /** Admin: ends every session of `principal` (including rotations in flight). Resolves to how many. */
  revokeSessions(principal: string): Promise<number>;
  /** Ends one session of `principal`, by the handle `listSessions` gave. */
  revokeSession(principal: string, handle: string): Promise<boolean>;
  /** Live sessions of `principal`, oldest first. */
  listSessions(principal: string): Promise<SessionSummary[]>;
}

const NO_SECRETS: readonly string[] = Object.freeze([]);

/** The cookie a request gets, and the pieces that read that name. */
interface CookieProfile {
  cookie: ResolvedCookie;
  /** The plain-HTTP twin of a request from this machine in development. */
  loopback: boolean;
  session: RequestHandler;
  tossing: ReturnType<typeof rejectCookieTossing> | undefined;
}
/** An index entry without a record is left alone this long: its login may still be in flight. */
const PENDING_LOGIN_GRACE_MS = 60_000;
/**
 * How long after a rotation that kept the session a logout sent with the old id ends the session
 * under its new id: the time a parallel request's answer (another tab's elevation) takes to
 * bring the browser the new cookie.
 */
const ROTATED_ID_LOGOUT_MS = 60_000;
let warned = false;
let noticed = false;

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

/** What `guarded()` / `authenticated()` accept: any request type (Express 4 or 5) a guard may have handled. */
export interface GuardableRequest {
  sessionGuard?: SessionGuardRequestApi | undefined;
}

/**
 * `req.sessionGuard`, typed as present: for handlers mounted after `sessionGuard()`. Throws
 * `SessionGuardError('SESSION_NOT_MOUNTED')` (500) when no guard handled the request, so a
 * route mounted before the guard fails loudly instead of reading `undefined`.
 *
 * @example
 * app.post('/login', async (req, res) => {
 *   const user = await users.verify(req.body.username, req.body.password);
 *   if (!user) return res.status(401).json({ error: 'bad credentials' });
 *   await guarded(req).login(user.id);
 *   res.json({ user: user.id });
 * });
 */
export function guarded(req: GuardableRequest): SessionGuardRequestApi {
  const api = req.sessionGuard;
  if (!api) throw new SessionGuardError('SESSION_NOT_MOUNTED', 'guarded(req): no sessionGuard() handled this request; mount it before this route.');
  return api;
}

function unauthenticated(api: SessionGuardRequestApi): SessionGuardError {
  const code = api.endedReason ? END_CODES[api.endedReason] : 'UNAUTHENTICATED';
  // The tripwire's code is for the app's logs; a client is simply not authenticated.
  return new SessionGuardError(code === 'SESSION_FIXATION_TRIPWIRE' ? 'UNAUTHENTICATED' : code, 'Authentication required.');
}

/**
 * `req.sessionGuard` of an authenticated session, with `principal` typed as a string: for
 * routes behind `requireAuth()`. Throws the 401 `requireAuth()` would have answered (with the
 * code that says why the session ended) when the session is not authenticated, and
 * `SESSION_NOT_MOUNTED` when no guard handled the request.
 *
 * @example
 * app.get('/me', requireAuth(), (req, res) => res.json({ user: authenticated(req).principal }));
 */
export function authenticated(req: GuardableRequest): AuthenticatedRequestApi {
  const api = guarded(req);
  if (!api.authenticated) throw unauthenticated(api);
  return api as AuthenticatedRequestApi;
}

/**
 * Answers 401 unless the session is authenticated, with a code that says why the client's
 * session ended (`SESSION_EXPIRED_IDLE`, `SESSION_EVICTED`, …). Under `errorResponse: 'next'`
 * the 401 goes to `next(err)` as a `SessionGuardError`.
 *
 * @example
 * app.get('/me', requireAuth(), (req, res) => res.json({ user: authenticated(req).principal }));
 */
export function requireAuth(): RequestHandler {
  return function requireAuthMiddleware(req, res, next) {
    const api = req.sessionGuard;
    if (!api) return next(new SessionGuardError('SESSION_NOT_MOUNTED', 'requireAuth: sessionGuard() is not mounted before this route.'));
    if (api.authenticated) return next();
    const error = unauthenticated(api);
    if (api.errorResponse === 'next') return next(error);
    respondError(res, error);
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
 * app.post('/login', async (req, res) => { … await guarded(req).login(user.id); res.json({ user: user.id }); });
 */
export function sessionGuard(options: SessionGuardOptions): SessionGuardMiddleware {
  const resolved = resolveOptions(options);
  const ctx: GuardContext = resolved.context;
  const { store, auditor } = ctx;
  store.useWriteGate(createWriteGate(ctx));
  for (const warning of resolved.warnings) {
    auditor.emit('insecure_configuration', { reason: warning });
    if (!warned) process.emitWarning(`fixation-guard: ${warning}`, { code: 'FIXATION_GUARD_INSECURE' });
  }
  if (resolved.warnings.length) warned = true;
  if (!noticed && resolved.notices.length) {
    noticed = true;
    for (const notice of resolved.notices) process.emitWarning(`fixation-guard: ${notice}`, { code: 'FIXATION_GUARD_NOTICE' });
  }

  const urlCheck =
    resolved.urlSessionIds === false
      ? undefined
      : rejectUrlSessionIds({
          ...resolved.urlSessionIds,
          // The plain-HTTP twin's name is refused in URLs too.
          names: [...(resolved.urlSessionIds.names ?? []), ...(ctx.loopbackCookie ? [ctx.loopbackCookie.name] : [])],
          cookieName: ctx.cookieName,
          audit: auditor,
        });
  /** One express-session (and duplicate-cookie check) per cookie name: express-session reads one name. */
  function profileFor(cookie: ResolvedCookie, loopback: boolean): CookieProfile {
    return {
      cookie,
      loopback,
      session: session(cookie === ctx.cookie ? resolved.sessionOptions : { ...resolved.sessionOptions, name: cookie.name }),
      tossing:
        resolved.cookieTossing === false
          ? undefined
          : rejectCookieTossing({ ...resolved.cookieTossing, cookieName: cookie.name, secure: cookie.options.secure === true, audit: auditor }),
    };
  }
  const configuredProfile = profileFor(ctx.cookie, false);
  // Made on the first plain-HTTP request from this machine: most guards never need it.
  let loopbackProfile: CookieProfile | undefined;
  function profileOf(req: Request, headers: Request['headers']): CookieProfile {
    if (ctx.loopbackCookie === undefined || !isPlainLoopbackRequest(req, headers)) return configuredProfile;
    loopbackProfile ??= profileFor(ctx.loopbackCookie, true);
    if (!ctx.plainHttpReports.loopbackWarned) {
      ctx.plainHttpReports.loopbackWarned = true;
      auditor.emit('insecure_configuration', { ip: req.ip, reason: 'plain-HTTP development cookie on loopback' });
      process.emitWarning(loopbackWarning(req.method, ctx.loopbackCookie.name, ctx.cookieName), { code: 'FIXATION_GUARD_PLAIN_HTTP' });
    }
    return loopbackProfile;
  }
  let proxyWarningGiven = false;

  function fail(req: Request, res: Response, next: NextFunction, err: unknown): void {
    if (err instanceof SessionGuardError && ctx.errorResponse === 'json') return respondError(res, err);
    next(err);
  }

  /**
   * After express-session: synchronous unless the lifecycle (or a rare presented-id case) has
   * work to do. Each property of `req` is read once: Express gives every request object a hidden
   * class of its own (it swaps the prototype per request), so every read of one is a slow lookup.
   */
  function afterSession(req: Request, res: Response, reading: SessionCookieReading, profile: CookieProfile, endBeforeSession: Response['end']): Promise<void> | undefined {
    const session = req.session;
    if (!session) throw new SessionStoreUnavailableError();
    const sid = req.sessionID;
    const cookie = profile.cookie;
    const state = new RequestState(ctx, cookie, cookie.options.secure === true && !isSecureRequest(req, ctx.trustProxy), endBeforeSession);
    configureSessionCookie(session.cookie, cookie.options);
    const requestMethods = resolved.requestMethods ?? requestMethodsEnabled();
    req.sessionGuard = new RequestApi(ctx, req, res, state, requestMethods);
    if (requestMethods) installRequestMethods(req);
    const sess = session as unknown as Record<string, unknown>;
    if (loadedFromStore(session)) {
      // express-session verified the signature and loaded this id from the store (known from
      // the store, not from a second reading of the Cookie header, which could differ).
      state.loadedId = sid;
      markStored(state, sid, sess);
      // A loaded record that may not be authenticated under this id (written before the guard
      // was adopted, by another writer, or bound to someone else) is never served.
      const reason = requestTripReason(ctx, state, sid, sess);
      if (reason !== undefined) return tripAtLoad(req, state, reason).then(() => continueAfterLoad(req, res, state));
      return continueAfterLoad(req, res, state, sess, sid);
    }
    markGenerated(state, sid, sess);
    if (reading.count === 1 && reading.status !== 'absent') {
      if (reading.status === 'signed' && reading.unverifiedId !== undefined) return presentedButNotLoaded(req, state, reading.unverifiedId).then(() => continueAfterLoad(req, res, state));
      // Two copies are cookie tossing, audited as such.
      auditor.emit('session_cookie_tampered', { ip: req.ip, reason: reading.status });
    }
    return continueAfterLoad(req, res, state, sess, sid);
  }

  /**
   * The client presented a signed-looking id that loaded no session (rare): a bad signature,
   * an id the server never issued, or one that ended — or one rotated a moment ago by a
   * parallel request of the same page, which resolves to its successor within the grace.
   */
  async function presentedButNotLoaded(req: Request, state: RequestState, candidate: string): Promise<void> {
    const verified = readSessionCookie(req.headers.cookie, state.cookie.name, ctx.secrets);
    if (verified.status !== 'valid' || verified.id !== candidate) {
      auditor.emit('session_cookie_tampered', { ip: req.ip, reason: 'tampered' });
      return;
    }
    const tombstone = await endedRecord(ctx, candidate);
    if (!tombstone) {
      state.endedReason = 'unknown';
      auditor.emit('unknown_session_id', { sessionId: candidate, ip: req.ip });
      return;
    }
    if (await adoptSuccessor(ctx, req, state, tombstone, candidate)) return;
    const mark = tombstone.fixationGuardTombstone;
    state.endedReason = mark.reason;
    // Only while a parallel request's answer with the new cookie may still be on its way: an id
    // rotated longer ago is no switch that ends the session for whoever kept a copy of it.
    if (mark.reason === 'rotated' && mark.sameSession === true && mark.successor !== undefined && ctx.clock.now() - mark.at <= ROTATED_ID_LOGOUT_MS) {
      state.presentedSuccessor = mark.successor;
    }
    auditor.emit('rotated_session_id_presented', { sessionId: candidate, ip: req.ip, reason: mark.reason });
  }

  /** `sess` and `sid`: the request's session and id when the caller just read them (the common case). */
  function continueAfterLoad(req: Request, res: Response, state: RequestState, sess?: object, sid?: string): Promise<void> | undefined {
    const pending = enforceLifecycle(ctx, req, state, sess, sid);
    if (pending) return pending.then(() => guardResponse(ctx, req, res, state));
    guardResponse(ctx, req, res, state);
    return undefined;
  }

  async function tripAtLoad(req: Request, state: RequestState, reason: string): Promise<void> {
    await tripSession(ctx, state, req.sessionID, req.session as unknown as object, reason, req.ip);
    replaceWithFresh(req, state, 'tripwire');
  }

  function runSession(req: Request, res: Response, next: NextFunction, reading: SessionCookieReading, profile: CookieProfile): void {
    // Refused on every such request (audited once): letting later ones through would make the
    // missing Secure cookie silent again.
    // `req.secure` (a getter that asks the trust-proxy setting) last: this runs on every request.
    if (ctx.cookieOptions.secure && resolved.sessionOptions.proxy === undefined && req.headers['x-forwarded-proto'] === 'https' && !req.secure) {
      if (!proxyWarningGiven) auditor.emit('config_error', { reason: 'secure cookie behind an untrusted proxy' });
      proxyWarningGiven = true;
      return fail(req, res, next, new SessionGuardError('SESSION_CONFIG',
        "sessionGuard: this request came through a TLS proxy (X-Forwarded-Proto: https) but Express does not trust it, so the Secure session cookie would silently never be set. Set app.set('trust proxy', 1) (or the proxy's address), or `trustProxy: true`."));
    }
    let passed = false;
    // res.end as it is before express-session wraps it: see `RequestState.endBeforeSession`.
    const endBeforeSession = res.end;
    profile.session(req, res, function afterExpressSession(err?: unknown) {
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
        pending = afterSession(req, res, reading, profile, endBeforeSession);
      } catch (error) {
        return fail(req, res, next, error);
      }
      if (!pending) return next();
      pending.then(
        () => next(),
        (error: unknown) => fail(req, res, next, error),
      );
    });
  }

  /** After the URL check: the duplicate-cookie check (only when the name appears twice), then the session. */
  function afterUrlCheck(req: Request, res: Response, next: NextFunction, reading: SessionCookieReading, profile: CookieProfile): void {
    const tossingCheck = profile.tossing;
    if (tossingCheck && reading.count > 1) {
      tossingCheck(req, res, function afterTossingCheck(err?: unknown) {
        if (err) return fail(req, res, next, err);
        runSession(req, res, next, reading, profile);
      });
      return;
    }
    runSession(req, res, next, reading, profile);
  }

  const middleware = function sessionGuardMiddleware(req: Request, res: Response, next: NextFunction): void {
    if (req.sessionGuard) return next();
    try {
      // No secrets: express-session verifies the signature; the guard only needs the shape and count.
      const headers = req.headers;
      const profile = profileOf(req, headers);
      const reading = readSessionCookie(headers.cookie, profile.cookie.name, NO_SECRETS);
      const url = req.url;
      if (urlCheck && (url.indexOf('?') !== -1 || url.indexOf(';') !== -1 || url.indexOf('%') !== -1)) {
        return urlCheck(req, res, function afterUrlSessionIdCheck(err?: unknown) {
          if (err) return fail(req, res, next, err);
          afterUrlCheck(req, res, next, reading, profile);
        });
      }
      afterUrlCheck(req, res, next, reading, profile);
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
      // else: reserved by a login still in flight (reserve comes before the record is written).
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
        const ended = await store.endAll(principal, 'revoked');
        for (const id of ended) auditor.emit('session_revoked', { sessionId: id, principal });
        return ended.length;
      },
    },
    revokeSession: {
      value: async function revokeSession(principal: string, handle: string): Promise<boolean> {
        for (const entry of await liveEntries(principal)) {
          if (ctx.sessionHandle(entry.sessionId) !== handle) continue;
          const ended = await store.endLineages(principal, [entry.sessionId], 'revoked');
          for (const id of ended) auditor.emit('session_revoked', { sessionId: id, principal });
          return true;
        }
        return false;
      },
    },
    listSessions: {
      value: async function listSessions(principal: string): Promise<SessionSummary[]> {
        return (await liveEntries(principal)).map((entry) => ({
          handle: ctx.sessionHandle(entry.sessionId),
          createdAt: entry.createdAt,
          lastSeenAt: entry.lastSeenAt,
          ...(entry.meta ? { meta: entry.meta } : {}),
        }));
      },
    },
  });
  return middleware;
}
