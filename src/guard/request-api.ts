import type { Request, Response } from 'express';
import { crossSiteLoginAllowed, crossSiteVerdict } from '../cross-site/index.js';
import type { ResolvedCookie } from '../cookie/hardened.js';
import { SessionGuardError } from '../errors/index.js';
import { stateOf, type GuardState } from '../policy/state.js';
import { isTombstone, mayHaveLanded, type EndReason } from '../store/contracts.js';
import type { GuardContext } from './context.js';
import { unsendableCookieError } from './plain-http.js';
import { clientIp, isStored, markUnknownOutcome, REQUEST_STATE, type RequestState } from './request-state.js';
import { requireSession, rotateSession } from './rotation.js';

type Record_ = Record<string, unknown>;

/** Marks a response whose request logged out (the headers preset adds Clear-Site-Data). */
export const LOGGED_OUT = Symbol.for('fixation-guard.logged-out');

export interface LoginOptions {
  /** `newSession` only: session keys to carry into the authenticated session (e.g. `returnTo`). */
  keep?: string[];
  /**
   * Accept this login from a page of another site (the login-CSRF check is skipped, for this
   * call only). For genuine cross-site flows that carry their own proof, such as an SSO
   * callback whose assertion the app has verified. The default value is `false`.
   */
  allowCrossSite?: boolean;
  /**
   * Small facts about the device, shown by `listSessions` ("your devices"): e.g.
   * `{ device: 'Firefox on Linux' }`. At most 8 string values of at most 200 characters; never secrets.
   */
  meta?: Record<string, string>;
}

export interface ElevateOptions {
  /** A label for the new privilege (`'admin'`, `'step-up'`), kept in the session state. */
  privilege?: string;
  /** As for `login`: accept this elevation from a page of another site. The default value is `false`. */
  allowCrossSite?: boolean;
}

const MAX_PRINCIPAL_LENGTH = 512;
const MAX_META_ENTRIES = 8;
const MAX_META_LENGTH = 200;

function checkMeta(meta: unknown): Record<string, string> | undefined {
  if (meta === undefined) return undefined;
  const entries = typeof meta === 'object' && meta !== null && !Array.isArray(meta) ? Object.entries(meta) : undefined;
  if (!entries || entries.length > MAX_META_ENTRIES || entries.some(([k, v]) => typeof v !== 'string' || k.length > MAX_META_LENGTH || v.length > MAX_META_LENGTH)) {
    throw new SessionGuardError('INVALID_ARGUMENT', `req.login: \`meta\` must be an object of at most ${MAX_META_ENTRIES} strings of at most ${MAX_META_LENGTH} characters`);
  }
  return Object.fromEntries(entries) as Record<string, string>;
}

/** Tells the browser to drop the session cookie (same attributes, so the right one goes). */
export function clearSessionCookie(cookie: ResolvedCookie, res: Response): void {
  const { maxAge: _maxAge, ...attributes } = cookie.options;
  res.clearCookie(cookie.name, attributes as Parameters<Response['clearCookie']>[1]);
}

/** Rotations of one session a logout follows from the id it was sent with, at most. */
const MAX_SAME_SESSION_HOPS = 8;

/**
 * The live, authenticated session `id` leads to through rotations that kept the session's
 * principal (`sameSession` tombstones), or undefined: when the chain ends, is too long, or
 * passes a rotation that changed whom the session names (a login on it) — a logout sent with an
 * old id of a session never reaches past that.
 */
async function liveSuccessor(ctx: GuardContext, id: string): Promise<{ id: string; principal: string } | undefined> {
  let current = id;
  for (let hop = 0; hop < MAX_SAME_SESSION_HOPS; hop++) {
    const record = await ctx.store.readRaw(current);
    if (record === undefined) return undefined;
    if (!isTombstone(record)) {
      const principal = stateOf(record)?.principal;
      return principal === undefined ? undefined : { id: current, principal };
    }
    const mark = record.fixationGuardTombstone;
    if (mark.reason !== 'rotated' || mark.sameSession !== true || mark.successor === undefined) return undefined;
    current = mark.successor;
  }
  return undefined;
}

/**
 * The guard's per-request API, at `req.sessionGuard` (read it with `guarded(req)` or, on a
 * route behind `requireAuth()`, `authenticated(req)`). With
 * `import 'fixation-guard/request-methods'` the same calls are also `req.login` & co.
 *
 * An interface (the class behind it is internal): the ESM and CommonJS declarations of the
 * package then describe one and the same type, so a project that loads both (`.ts` and `.cts`
 * files) can merge `req.sessionGuard` twice without TS2717.
 */
export interface SessionGuardRequestApi {
  /** The authenticated principal, or undefined. */
  readonly principal: string | undefined;
  readonly authenticated: boolean;
  /** The guard's state of this session (times, privilege). */
  readonly state: Readonly<GuardState> | undefined;
  /** Why the session the client presented is not in use (idle timeout, evicted, rotated, …). */
  readonly endedReason: EndReason | 'unknown' | undefined;
  /** The handle under which `listSessions` shows this session ("this device"), when authenticated. */
  readonly sessionHandle: string | undefined;
  /** Whether `req.login` & co. are installed for this request (`requestMethods`). */
  readonly requestMethods: boolean;
  /** How guard errors are answered (`errorResponse`): `requireAuth()` follows it too. */
  readonly errorResponse: 'json' | 'next';
  /**
   * Authenticates `principal`: rotates the id per the strategy, binds, indexes and saves
   * before resolving.
   *
   * @example
   * await guarded(req).login(user.id, { keep: ['returnTo'] });
   */
  login(principal: string, options?: LoginOptions): Promise<void>;
  /** A privilege change: rotates the id, keeps the authentication. */
  elevate(options?: ElevateOptions): Promise<void>;
  /** Accepts a new `credentialVersion` for this session only (the other sessions end). */
  refreshCredentials(): Promise<void>;
  /** Ends this session server-side and clears the cookie. */
  logout(): Promise<void>;
  /** Ends every session of the current principal, this one included. Resolves to how many. */
  logoutEverywhere(): Promise<number>;
}

/** The API on a route behind `requireAuth()`: the principal is known. */
export interface AuthenticatedRequestApi extends SessionGuardRequestApi {
  readonly principal: string;
  readonly authenticated: true;
  readonly state: Readonly<GuardState>;
}

/** The implementation of `req.sessionGuard`; one per request. */
export class RequestApi implements SessionGuardRequestApi {
  readonly #ctx: GuardContext;
  readonly #req: Request;
  readonly #res: Response;
  readonly #state: RequestState;
  /** For the guard's own layers (the write gate); not API. */
  readonly [REQUEST_STATE]: RequestState;
  readonly #requestMethods: boolean;

  constructor(ctx: GuardContext, req: Request, res: Response, state: RequestState, requestMethods: boolean) {
    this.#ctx = ctx;
    this.#req = req;
    this.#res = res;
    this.#state = state;
    this[REQUEST_STATE] = state;
    this.#requestMethods = requestMethods;
  }

  /** The authenticated principal, or undefined. */
  get principal(): string | undefined {
    const sess = this.#req.session as unknown as Record_ | undefined;
    return sess ? stateOf(sess)?.principal : undefined;
  }

  get authenticated(): boolean {
    return this.principal !== undefined;
  }

  /** The guard's state of this session (times, privilege). */
  get state(): Readonly<GuardState> | undefined {
    return stateOf(this.#req.session as unknown as Record_ | undefined);
  }

  /**
   * The handle under which `listSessions` shows this session ("this device"), when the
   * session is authenticated. A keyed hash of the id: it cannot be used as a cookie.
   */
  get sessionHandle(): string | undefined {
    return this.authenticated ? this.#ctx.sessionHandle(this.#req.sessionID) : undefined;
  }

  /** Why the session the client presented is not in use (idle timeout, evicted, rotated, …). */
  get endedReason(): EndReason | 'unknown' | undefined {
    return this.#state.endedReason;
  }

  /** Whether `req.login` & co. are installed for this request (`requestMethods`). */
  get requestMethods(): boolean {
    return this.#requestMethods;
  }

  /** How guard errors are answered (`errorResponse`): `requireAuth()` follows it too. */
  get errorResponse(): 'json' | 'next' {
    return this.#ctx.errorResponse;
  }

  /**
   * Authenticates `principal`: reserves its place in the session index (enforcing
   * `maxSessionsPerUser`), rotates the id per the configured strategy, binds the new id,
   * saves, and confirms the index entry (evicting the oldest sessions under `evictOldest`)
   * — all before resolving, in one store step where the store offers it (one Redis script).
   * On failure no new session survives (after an outage, once the store is back).
   *
   * @example
   * app.post('/login', async (req, res) => {
   *   const user = await users.verify(req.body.username, req.body.password);
   *   if (!user) return res.status(401).json({ error: 'bad credentials' });
   *   await guarded(req).login(user.id, { keep: ['returnTo'] });
   *   res.json({ user: user.id });
   * });
   */
  async login(principal: string, options: LoginOptions = {}): Promise<void> {
    const ctx = this.#ctx;
    const req = this.#req;
    if (typeof principal !== 'string' || principal.length === 0 || principal.length > MAX_PRINCIPAL_LENGTH) {
      throw new SessionGuardError('INVALID_ARGUMENT', `req.login: \`principal\` must be a non-empty string of at most ${MAX_PRINCIPAL_LENGTH} characters; got ${typeof principal === 'string' ? `${principal.length} characters` : typeof principal}`);
    }
    if (options.keep !== undefined && (!Array.isArray(options.keep) || options.keep.some((k) => typeof k !== 'string'))) {
      throw new SessionGuardError('INVALID_ARGUMENT', 'req.login: `keep` must be an array of session keys');
    }
    // A login in this request: a logout after it ends what it made, not the id presented before it.
    this.#state.presentedSuccessor = undefined;
    const meta = checkMeta(options.meta);
    // Before anything is reserved or rotated: a refused login changes nothing.
    this.#refuseCrossSite('login', principal, options.allowCrossSite);
    if (this.#state.cookieUnsendable) throw unsendableCookieError(ctx, this.#state, clientIp(this.#state, req), 'this login');
    const old = requireSession(req);
    const store = ctx.store;
    const now = ctx.clock.now();
    const credentialVersion = ctx.credentialVersion ? String(await ctx.credentialVersion(principal)) : undefined;
    const oldId = req.sessionID;
    const newId = ctx.strategy === 'none' ? oldId : ctx.genidFor(principal);
    // A re-login on a session of the same principal replaces it: it does not count against the limit.
    const replacing = stateOf(old)?.principal === principal ? oldId : undefined;
    const entry = { sessionId: newId, createdAt: now, lastSeenAt: now, ...(meta ? { meta } : {}) };

    // One step where the store can (one Redis script: admit, evict, move, index); else reserve
    // the place first and confirm it after the move.
    const atOnce = newId !== oldId && store.logsInAtOnce;
    if (!atOnce) await store.reserveLogin(principal, entry, { replacing, ip: clientIp(this.#state, req) });
    let rotated = false;
    try {
      await rotateSession(
        ctx,
        req,
        this.#state,
        'login',
        ctx.strategy,
        options.keep ?? ctx.keep,
        (base) => {
          // A new authentication: no privilege survives it (elevatedAt, privilege and the old
          // credentialVersion are left out). Built field by field: an object rest or `delete` takes
          // the runtime's slow path on every login.
          const state: GuardState = { v: 1, createdAt: base.createdAt, lastSeenAt: base.lastSeenAt, rotatedAt: base.rotatedAt, principal, authAt: now };
          if (base.authPrincipal !== undefined) state.authPrincipal = base.authPrincipal;
          if (base.authNames !== undefined) state.authNames = base.authNames;
          if (credentialVersion !== undefined) state.credentialVersion = credentialVersion;
          return state;
        },
        newId,
        atOnce ? { entry, replacing, ip: clientIp(this.#state, req) } : undefined,
      );
      rotated = true;
      if (!atOnce) await store.confirmLogin(principal, entry, clientIp(this.#state, req));
    } catch (err) {
      // No half-logged-in session survives, even when the store failed mid-way (ended after
      // recovery when it cannot be now; a one-step login's unknown outcome is settled by the store).
      if (!atOnce && (newId !== oldId || rotated)) await store.abandonLogin(principal, newId, { written: rotated });
      if (rotated) {
        delete (req as { session?: unknown }).session;
        clearSessionCookie(this.#state.cookie, this.#res);
      }
      throw err;
    }
    // A logout earlier in this request (a switch of user) clears no cookie of this login.
    delete (this.#res as unknown as Record<symbol, boolean>)[LOGGED_OUT];
    if (ctx.auditor.listening) {
      ctx.auditor.emit('login', {
        sessionId: req.sessionID,
        previousSessionId: oldId,
        principal,
        ip: clientIp(this.#state, req),
        detail: { strategy: ctx.strategy, rotated: oldId !== req.sessionID },
      });
    }
  }

  /**
   * A privilege change (step-up, role switch): rotates the id per the strategy and keeps the
   * authentication. Rejects with `SESSION_CONFLICT` (409) when another request rotated or
   * ended the session first.
   *
   * @example
   * app.post('/admin/step-up', requireAuth(), async (req, res) => {
   *   await verifySecondFactor(req);
   *   await authenticated(req).elevate({ privilege: 'admin' });
   *   res.sendStatus(204);
   * });
   */
  async elevate(options: ElevateOptions = {}): Promise<void> {
    const ctx = this.#ctx;
    const principal = this.principal;
    if (principal === undefined) throw new SessionGuardError('UNAUTHENTICATED', 'req.elevate: the session is not authenticated.');
    // A forged elevation would raise a victim's privilege behind his back, or finish a step-up
    // the attacker started: the same check as a login.
    this.#refuseCrossSite('elevate', principal, options.allowCrossSite);
    if (this.#state.cookieUnsendable) throw unsendableCookieError(ctx, this.#state, clientIp(this.#state, this.#req), 'this privilege change');
    const now = ctx.clock.now();
    await rotateSession(ctx, this.#req, this.#state, 'elevate', ctx.strategy, ctx.keep, (base, previous) => ({
      ...base,
      principal,
      authAt: previous.authAt ?? now,
      ...(previous.credentialVersion !== undefined ? { credentialVersion: previous.credentialVersion } : {}),
      elevatedAt: now,
      ...(options.privilege !== undefined ? { privilege: String(options.privilege) } : {}),
    }));
    ctx.auditor.emit('elevated', { sessionId: this.#req.sessionID, principal, ip: clientIp(this.#state, this.#req), detail: { privilege: options.privilege ?? null } });
  }

  /**
   * Accepts a new credential version (after a password change) for this session only: rotates
   * the id and records the version, so every other session of the principal ends.
   */
  async refreshCredentials(): Promise<void> {
    const ctx = this.#ctx;
    const principal = this.principal;
    if (principal === undefined) throw new SessionGuardError('UNAUTHENTICATED', 'refreshCredentials: the session is not authenticated.');
    if (!ctx.credentialVersion) throw new SessionGuardError('SESSION_CONFIG', 'refreshCredentials: the guard has no `credentialVersion` option.');
    if (this.#state.cookieUnsendable) throw unsendableCookieError(ctx, this.#state, clientIp(this.#state, this.#req), 'this credential refresh');
    const version = String(await ctx.credentialVersion(principal));
    await rotateSession(ctx, this.#req, this.#state, 'credentials', ctx.strategy === 'none' ? 'none' : 'changeSessionId', ctx.keep, (base) => ({ ...base, credentialVersion: version }));
  }

  /**
   * Ends this session server-side (its id is tombstoned at once), clears the cookie and leaves
   * the request without a session. A session that was never stored writes nothing. An id that
   * a parallel request of the same session rotated a moment ago (another tab's elevation, whose
   * answer with the new cookie is still on its way) ends the session under its new id.
   */
  async logout(): Promise<void> {
    const ctx = this.#ctx;
    const req = this.#req;
    const sess = req.session as unknown as Record_ | undefined;
    const successor = this.#state.presentedSuccessor;
    if (sess && isStored(this.#state, req.sessionID)) {
      const principal = stateOf(sess)?.principal;
      await this.#ending(() => ctx.store.endSession(req.sessionID, 'logout', principal));
      ctx.auditor.emit('logout', { sessionId: req.sessionID, principal, ip: clientIp(this.#state, req) });
    }
    // Also when the request stored the fresh session it was given in place of the rotated one
    // (a middleware that writes to every session) before it logged out.
    if (successor !== undefined) {
      const live = await this.#ending(() => liveSuccessor(ctx, successor));
      if (live !== undefined) {
        await this.#ending(() => ctx.store.endSession(live.id, 'logout', live.principal));
        ctx.auditor.emit('logout', { sessionId: live.id, principal: live.principal, ip: clientIp(this.#state, req), detail: { via: 'rotated-id' } });
      }
    }
    this.#dropSession();
  }

  /** Ends every session of the current principal, this one included. Resolves to how many. */
  async logoutEverywhere(): Promise<number> {
    const ctx = this.#ctx;
    const req = this.#req;
    const principal = this.principal;
    if (principal === undefined) throw new SessionGuardError('UNAUTHENTICATED', 'logoutEverywhere: the session is not authenticated.');
    const ended = await this.#ending(() => ctx.store.endAll(principal, 'logout_everywhere'));
    let count = ended.length;
    if (!ended.includes(req.sessionID)) {
      await this.#ending(() => ctx.store.endSession(req.sessionID, 'logout_everywhere', principal));
      count++;
    }
    ctx.auditor.emit('logout_everywhere', { sessionId: req.sessionID, principal, ip: clientIp(this.#state, req), detail: { ended: count } });
    this.#dropSession();
    return count;
  }

  /** Login CSRF: refuses a login or elevation a browser sent from a page of another, untrusted site. */
  #refuseCrossSite(action: 'login' | 'elevate', principal: string, allowCrossSite: unknown): void {
    const policy = this.#ctx.crossSite;
    const req = this.#req;
    if (!policy || allowCrossSite === true || crossSiteLoginAllowed(req)) return;
    const verdict = crossSiteVerdict(req, policy);
    if (!verdict.refused) return;
    this.#ctx.auditor.emit('cross_site_login_rejected', {
      sessionId: isStored(this.#state, req.sessionID) ? req.sessionID : undefined,
      principal,
      ip: clientIp(this.#state, req),
      reason: verdict.signal,
      detail: { action, origin: verdict.origin ?? null, site: verdict.site ?? null },
    });
    throw new SessionGuardError(
      'SESSION_CROSS_SITE_LOGIN',
      `${action === 'login' ? 'Login' : 'Privilege change'} refused: the request came from a page of another site. Use this site's own page.`,
    );
  }

  /** A logout's store call: when it fails, see `markUnknownOutcome` (the cookie stays for a retry). */
  async #ending<T>(end: () => Promise<T>): Promise<T> {
    try {
      return await end();
    } catch (err) {
      if (mayHaveLanded(err)) markUnknownOutcome(this.#state);
      throw err;
    }
  }

  /** Like express-session's own destroy(): no session is left to save or to set a cookie for. */
  #dropSession(): void {
    delete (this.#req as { session?: unknown }).session;
    clearSessionCookie(this.#state.cookie, this.#res);
    (this.#res as unknown as Record<symbol, boolean>)[LOGGED_OUT] = true;
  }
}

