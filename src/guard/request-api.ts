import type { Request, Response } from 'express';
import { SessionGuardError } from '../errors/index.js';
import { newGuardState } from '../store/guarded-store.js';
import type { EndReason } from '../store/contracts.js';
import { carryOver, type RotationStrategy } from '../strategies/index.js';
import type { GuardState } from '../types.js';
import { settleAll } from './concurrency.js';
import type { GuardContext } from './context.js';

type Record_ = Record<string, unknown>;

/** Marks a response whose request logged out (the headers preset adds Clear-Site-Data). */
export const LOGGED_OUT = Symbol.for('fixation-guard.logged-out');

export interface LoginOptions {
  /** `newSession` only: session keys to carry into the authenticated session (e.g. `returnTo`). */
  keep?: string[];
}

export interface ElevateOptions {
  /** A label for the new privilege (`'admin'`, `'step-up'`), kept in the session state. */
  privilege?: string;
}

export type RotationCause = 'login' | 'elevate' | 'periodic' | 'credentials';

const MAX_PRINCIPAL_LENGTH = 512;

/** Tells the browser to drop the session cookie (same attributes, so the right one goes). */
export function clearSessionCookie(ctx: GuardContext, res: Response): void {
  const { maxAge: _maxAge, ...attributes } = ctx.cookieOptions;
  res.clearCookie(ctx.cookieName, attributes as Parameters<Response['clearCookie']>[1]);
}

function requireSession(req: Request): Record_ {
  if (!req.session) {
    throw new SessionGuardError('SESSION_NOT_AVAILABLE', 500, 'There is no session on this request: is sessionGuard() mounted before this route?');
  }
  return req.session as unknown as Record_;
}

/**
 * The guard's per-request API, at `req.sessionGuard` (and, unless `requestMethods: false`,
 * as `req.login` / `req.logout` / `req.elevate` / `req.logoutEverywhere`).
 */
export class SessionGuardRequestApi {
  readonly #ctx: GuardContext;
  readonly #req: Request;
  readonly #res: Response;
  /** Why the session the client presented is not in use (idle timeout, evicted, rotated, …). */
  endedReason: EndReason | 'unknown' | undefined;
  /** Whether `req.login` & co. are enabled for this request (`requestMethods`). */
  requestMethods = false;

  constructor(ctx: GuardContext, req: Request, res: Response) {
    this.#ctx = ctx;
    this.#req = req;
    this.#res = res;
  }

  /** The authenticated principal, or undefined. */
  get principal(): string | undefined {
    const sess = this.#req.session as unknown as Record_ | undefined;
    return sess ? (sess.fixationGuard as GuardState | undefined)?.principal : undefined;
  }

  get authenticated(): boolean {
    return this.principal !== undefined;
  }

  /** The guard's state of this session (times, privilege). */
  get state(): Readonly<GuardState> | undefined {
    return (this.#req.session as unknown as Record_ | undefined)?.fixationGuard as GuardState | undefined;
  }

  /**
   * Rotates this session's id per `strategy`, lets `mutate` write the new guard state, saves
   * the new record and kills the old id — or, on any failure, leaves the old session in place.
   */
  async rotate(
    cause: RotationCause,
    strategy: RotationStrategy,
    keep: readonly string[],
    mutate: (base: GuardState, previous: GuardState, newId: string) => GuardState,
    newId: string = this.#ctx.genid(),
  ): Promise<{ oldId: string; newId: string }> {
    const ctx = this.#ctx;
    const req = this.#req;
    const store = ctx.store;
    const old = requireSession(req);
    const oldId = req.sessionID;
    const now = ctx.clock.now();
    const previous = (old.fixationGuard as GuardState | undefined) ?? newGuardState(now);
    const oldPrincipal = store.principalOf(old);

    if (strategy === 'none') {
      const state = mutate({ ...previous }, previous, oldId);
      state.boundTo = state.principal ? store.bindingHash(oldId) : undefined;
      old.fixationGuard = state;
      store.markBound(old);
      await new Promise<void>((resolve, reject) => req.session.save((err: unknown) => (err ? reject(err) : resolve())));
      return { oldId, newId: oldId };
    }

    const data = carryOver(strategy, old, { keep, drop: ctx.drop });
    const base: GuardState = strategy === 'changeSessionId' ? { ...previous } : newGuardState(now);
    const state = mutate(base, previous, newId);
    state.rotatedAt = now;
    state.lastSeenAt = now;
    if (state.principal) state.boundTo = store.bindingHash(newId);
    else delete state.boundTo;
    data.fixationGuard = state;

    req.sessionID = newId;
    const next = req.sessionStore.createSession(req, data as never);
    next.touch();
    store.markBound(next);
    try {
      const samePrincipal = oldPrincipal !== undefined && oldPrincipal === state.principal;
      await store.moveSession(oldId, newId, { ...next } as Record_, samePrincipal ? state.principal : undefined, store.isFresh(old));
      if (oldPrincipal !== undefined && !samePrincipal) {
        await store.index('index', (index) => index.remove(oldPrincipal, oldId));
      }
    } catch (err) {
      req.session = old as unknown as Request['session'];
      req.sessionID = oldId;
      throw err;
    }
    ctx.auditor.emit('session_rotated', {
      sessionId: newId,
      previousSessionId: oldId,
      principal: state.principal,
      ip: req.ip,
      reason: cause,
      detail: { strategy },
    });
    return { oldId, newId };
  }

  /**
   * Authenticates `principal`: admits it to the session index (enforcing
   * `maxSessionsPerUser`), rotates the id per the configured strategy, binds the new id and
   * saves — all before resolving. On failure nothing changes.
   *
   * @example
   * app.post('/login', async (req, res) => {
   *   const user = await users.verify(req.body.username, req.body.password);
   *   if (!user) return res.status(401).json({ error: 'bad credentials' });
   *   await req.login(user.id, { keep: ['returnTo'] });
   *   res.json({ user: user.id });
   * });
   */
  async login(principal: string, options: LoginOptions = {}): Promise<void> {
    const ctx = this.#ctx;
    const req = this.#req;
    if (typeof principal !== 'string' || principal.length === 0 || principal.length > MAX_PRINCIPAL_LENGTH) {
      throw new SessionGuardError('INVALID_ARGUMENT', 500, `req.login: \`principal\` must be a non-empty string of at most ${MAX_PRINCIPAL_LENGTH} characters; got ${typeof principal === 'string' ? `${principal.length} characters` : typeof principal}`);
    }
    if (options.keep !== undefined && (!Array.isArray(options.keep) || options.keep.some((k) => typeof k !== 'string'))) {
      throw new SessionGuardError('INVALID_ARGUMENT', 500, 'req.login: `keep` must be an array of session keys');
    }
    requireSession(req);
    const store = ctx.store;
    const now = ctx.clock.now();
    const credentialVersion = ctx.credentialVersion ? String(await ctx.credentialVersion(principal)) : undefined;
    const newId = ctx.strategy === 'none' ? req.sessionID : ctx.genid();

    // Admission first: with `rejectLogin` a refused login changes nothing.
    await store.admitLogin(principal, { sessionId: newId, createdAt: now, lastSeenAt: now }, { sessionId: req.sessionID, ip: req.ip });
    try {
      const { oldId } = await this.rotate(
        'login',
        ctx.strategy,
        options.keep ?? ctx.keep,
        (base) => {
          const state: GuardState = { ...base, principal, authAt: now };
          delete state.elevatedAt;
          delete state.privilege;
          if (credentialVersion !== undefined) state.credentialVersion = credentialVersion;
          else delete state.credentialVersion;
          return state;
        },
        newId,
      );
      ctx.auditor.emit('login', {
        sessionId: req.sessionID,
        previousSessionId: oldId,
        principal,
        ip: req.ip,
        detail: { strategy: ctx.strategy, rotated: oldId !== req.sessionID },
      });
    } catch (err) {
      if (newId !== req.sessionID || ctx.strategy === 'none') {
        await store.index('index', (index) => index.remove(principal, newId)).catch(() => undefined);
      }
      throw err;
    }
  }

  /**
   * A privilege change (step-up, role switch): rotates the id per the strategy and keeps the
   * authentication.
   *
   * @example
   * app.post('/admin/step-up', requireAuth(), async (req, res) => {
   *   await verifySecondFactor(req);
   *   await req.elevate({ privilege: 'admin' });
   *   res.sendStatus(204);
   * });
   */
  async elevate(options: ElevateOptions = {}): Promise<void> {
    const ctx = this.#ctx;
    const principal = this.principal;
    if (principal === undefined) throw new SessionGuardError('UNAUTHENTICATED', 401, 'req.elevate: the session is not authenticated.');
    const now = ctx.clock.now();
    await this.rotate('elevate', ctx.strategy, ctx.keep, (base, previous) => ({
      ...base,
      principal,
      authAt: previous.authAt ?? now,
      ...(previous.credentialVersion !== undefined ? { credentialVersion: previous.credentialVersion } : {}),
      elevatedAt: now,
      ...(options.privilege !== undefined ? { privilege: String(options.privilege) } : {}),
    }));
    ctx.auditor.emit('elevated', { sessionId: this.#req.sessionID, principal, ip: this.#req.ip, detail: { privilege: options.privilege ?? null } });
  }

  /**
   * Accepts a new credential version (after a password change) for this session only: rotates
   * the id and records the version, so every other session of the principal ends.
   */
  async refreshCredentials(): Promise<void> {
    const ctx = this.#ctx;
    const principal = this.principal;
    if (principal === undefined) throw new SessionGuardError('UNAUTHENTICATED', 401, 'refreshCredentials: the session is not authenticated.');
    if (!ctx.credentialVersion) throw new SessionGuardError('SESSION_CONFIG', 500, 'refreshCredentials: the guard has no `credentialVersion` option.');
    const version = String(await ctx.credentialVersion(principal));
    await this.rotate('credentials', ctx.strategy === 'none' ? 'none' : 'changeSessionId', ctx.keep, (base) => ({ ...base, credentialVersion: version }));
  }

  /**
   * Ends this session server-side (its id is tombstoned at once), clears the cookie and leaves
   * the request without a session.
   */
  async logout(): Promise<void> {
    await this.#end('logout');
  }

  async #end(reason: EndReason): Promise<void> {
    const ctx = this.#ctx;
    const req = this.#req;
    const sess = req.session as unknown as Record_ | undefined;
    const principal = this.principal;
    if (sess) {
      await ctx.store.endSession(req.sessionID, reason, ctx.store.principalOf(sess));
      ctx.auditor.emit(reason === 'logout' ? 'logout' : 'logout_everywhere', { sessionId: req.sessionID, principal, ip: req.ip });
      // Like express-session's own destroy(): no session is left to save or to set a cookie for.
      delete (req as { session?: unknown }).session;
    }
    clearSessionCookie(ctx, this.#res);
    (this.#res as unknown as Record<symbol, boolean>)[LOGGED_OUT] = true;
  }

  /** Ends every session of the current principal, this one included. Resolves to how many. */
  async logoutEverywhere(): Promise<number> {
    const ctx = this.#ctx;
    const principal = this.principal;
    if (principal === undefined) throw new SessionGuardError('UNAUTHENTICATED', 401, 'logoutEverywhere: the session is not authenticated.');
    const ids = await ctx.store.index('index', (index) => index.removeAll(principal));
    const current = this.#req.sessionID;
    const others = ids.filter((id) => id !== current);
    // Concurrent (pipelined on Redis), every id attempted even if one fails: see settleAll.
    await settleAll(others, (id) => ctx.store.endSession(id, 'logout_everywhere', principal, { indexed: false }));
    await this.#end('logout_everywhere');
    return others.length + 1;
  }
}
