/**
 * What express-session may persist, decided per request: the tripwire (an authenticated
 * record only under the id it was bound to), binding a login made through a regenerated
 * session (passport ≥0.6), and skipping a save of what the store already holds.
 */
import type { Request } from 'express';
import session from 'express-session';
import { configureSessionCookie } from '../cookie/session-cookie.js';
import { FixationTripwireError } from '../errors/index.js';
import { authKeyNames, authKeyPrincipal, principalOf } from '../policy/principal.js';
import { guardState, newGuardState, stateOf, withoutAuthentication, type GuardState } from '../policy/state.js';
import { tripReason } from '../policy/tripwire.js';
import { timeoutDeadlines } from '../policy/timeouts.js';
import { mayHaveLanded } from '../store/contracts.js';
import type { WriteGate } from '../store/guarded-store.js';
import type { GuardContext } from './context.js';
import { clearSessionCookie, LOGGED_OUT } from './request-api.js';
import { unsendableCookieError } from './plain-http.js';
import { clientIp, isBoundNow, isStored, isTripped, markBoundNow, markGenerated, markStored, markTripped, requestStateOf, snapshotOf, unchanged, type RequestState, type SessionSnapshot } from './request-state.js';

type Record_ = Record<string, unknown>;

/** The request express-session attached to a Session object (non-enumerable `req`). */
function requestOf(sess: Record_): Request | undefined {
  return (sess as { req?: Request }).req;
}

/** Whether `sid` was made in this request (express-session's generate, regenerate): nobody else knows it. */
export function isFresh(state: RequestState, sid: string): boolean {
  return !isStored(state, sid) && !isBoundNow(state, sid);
}

/**
 * Gives a record with no authentication the guard's state before its first write, audited as
 * `session_created` when its id is new. The response hook does it before its own save, since
 * express-session hashes a session as it saves it: a state the write gate added inside the
 * store call would make express-session save the session a second time when it answers.
 */
export function stampAnonymous(ctx: GuardContext, state: RequestState, sid: string, sess: Record_, now: number, fresh: boolean, req: Request | undefined): void {
  if (sess.fixationGuard) return;
  sess.fixationGuard = newGuardState(now);
  // Every first visit passes here: the client's address is read only for a sink.
  if (fresh && ctx.auditor.listening) ctx.auditor.emit('session_created', { sessionId: sid, ip: clientIp(state, req) });
}

/** The tripwire's verdict on persisting (or serving) `sess` under `sid` in this request. */
export function requestTripReason(ctx: GuardContext, state: RequestState, sid: string, sess: Record_): string | undefined {
  return tripReason(sess, sid, { binding: ctx.binding, authKeys: ctx.authKeys, fresh: isFresh(state, sid), boundNow: isBoundNow(state, sid) });
}

/**
 * The tripwire fires: `sess` is never persisted again, the event is audited and the id is
 * ended. Shared by the write gate, the load-time check and the response hook.
 */
export async function tripSession(ctx: GuardContext, state: RequestState | undefined, sid: string, sess: object, reason: string, ip?: string): Promise<void> {
  if (state) markTripped(state, sess);
  const principal = principalOf(sess as Record_, ctx.authKeys);
  ctx.auditor.emit('fixation_tripwire', { sessionId: sid, principal, ip, reason });
  await ctx.store.endSession(sid, 'tripwire', stateOf(sess)?.principal);
}

export function tripwireMessage(ctx: GuardContext, principal: string | undefined): string {
  return ctx.development
    ? `fixation-guard tripwire: the session was marked authenticated (as ${principal}) without req.login(), so its id — which may have been planted by an attacker — was never rotated. The session has been destroyed. Authenticate with \`await req.sessionGuard.login(userId)\` instead of writing the session directly (watched keys: ${ctx.authKeys.join(', ')}).`
    : 'The session was destroyed by the session-fixation tripwire.';
}

export function createWriteGate(ctx: GuardContext): WriteGate {
  /** The tripwire fires at a save: audited, the id ended, the save refused. */
  async function refuse(state: RequestState, sid: string, sess: Record_, reason: string, principal: string, req: Request | undefined): Promise<never> {
    await tripSession(ctx, state, sid, sess, reason, clientIp(state, req)).catch(() => undefined);
    throw new FixationTripwireError(tripwireMessage(ctx, principal));
  }

  /** An authenticated record about to be written under the id it is bound to. */
  function writeBound(state: RequestState, sid: string, sess: Record_, bound: GuardState): 'write' {
    if (isBoundNow(state, sid)) {
      // The request that authenticated fixes whom each of the app's own keys may name.
      const names = authKeyNames(sess, ctx.authKeys);
      const first = Object.values(names)[0];
      if (first !== undefined) bound.authPrincipal = first;
      else delete bound.authPrincipal;
      bound.authNames = names;
    }
    // Bound under a retired secret: re-bind under the current one.
    bound.boundTo = ctx.binding.hash(sid);
    return 'write';
  }

  return {
    // Synchronous unless the tripwire fires or a regenerated login is bound: every save of every
    // request passes here, and a decision that waits for nothing costs no promise.
    beforeSet(sid, sess) {
      const req = requestOf(sess);
      const state = requestStateOf(req);
      if (!state || state.ctx !== ctx) return 'write';
      // A session express-session generated (a regenerate) stores compactly too.
      if (sess.cookie instanceof session.Cookie) configureSessionCookie(sess.cookie, state.cookie.options);
      if (isTripped(state, sess)) throw new FixationTripwireError(tripwireMessage(ctx, principalOf(sess, ctx.authKeys)));
      const baseline = state.baseline;
      // A save of what the guard already stored (an app's own save after a login, express-session's
      // save of a successor adopted within the rotation grace): nothing to write.
      if (baseline?.stored && baseline.sid === sid && unchanged(state, sess)) return 'skip';
      const now = ctx.clock.now();
      const fresh = isFresh(state, sid);
      const guard = stateOf(sess);
      let principal = principalOf(sess, ctx.authKeys);
      const appPrincipal = authKeyPrincipal(sess, ctx.authKeys);
      if (principal !== undefined && fresh && !ctx.binding.isBound(guard, sid) && appPrincipal === undefined) {
        // A fresh session whose only claim to a login is a guard state copied from the old one
        // (passport's logout/login with keepSessionInfo merges it in): nobody logged in here.
        sess.fixationGuard = withoutAuthentication(guard as GuardState);
        principal = undefined;
      }
      if (principal === undefined) {
        // A record with no authentication: it gets the guard's state on its first write.
        stampAnonymous(ctx, state, sid, sess, now, fresh, req);
        return 'write';
      }
      const reason = requestTripReason(ctx, state, sid, sess);
      if (reason !== undefined) return refuse(state, sid, sess, reason, principal, req);
      if (fresh && !ctx.binding.isBound(guard, sid)) {
        // passport's login (regenerate, then save) over plain HTTP: the new cookie could never be sent.
        if (state.cookieUnsendable) throw unsendableCookieError(ctx, state, clientIp(state, req), 'this login');
        return bindRegenerated(ctx, state, sid, sess, appPrincipal ?? principal, now, clientIp(state, req)).then((bound) => writeBound(state, sid, sess, bound));
      }
      return writeBound(state, sid, sess, guard as GuardState);
    },

    beforeRegenerate(request) {
      const req = request as Request;
      const state = requestStateOf(req);
      const sess = req.session as unknown as Record_ | undefined;
      const principal = sess ? stateOf(sess)?.principal : undefined;
      // An authenticated session whose app keys no longer name anyone is being logged out
      // (passport's logout deletes `passport.user`, saves, then regenerates); a regenerate that
      // still names someone is a login's rotation.
      if (!state || state.ctx !== ctx || !sess || principal === undefined || authKeyPrincipal(sess, ctx.authKeys) !== undefined) {
        return { reason: 'rotated' };
      }
      const sid = req.sessionID;
      return {
        reason: 'logout',
        ended() {
          ctx.auditor.emit('logout', { sessionId: sid, principal, ip: clientIp(state, req), detail: { via: 'regenerated-session' } });
          if (!req.res) return;
          (req.res as unknown as Record<symbol, boolean>)[LOGGED_OUT] = true;
          // The browser drops the dead cookie (a regenerated session that is saved sets its own after this).
          clearSessionCookie(state.cookie, req.res);
        },
      };
    },

    beforeTouch(sid, sess) {
      const state = requestStateOf(requestOf(sess));
      if (!state || state.ctx !== ctx || sid !== state.loadedId || state.baseline?.sid !== sid) return true;
      const guard = stateOf(sess);
      const expiresAt = state.storedExpiresAt;
      // A record moved by a login or rotation lives as its cookie says too (the move writes it so).
      if (!guard || expiresAt === undefined || !Number.isFinite(expiresAt)) return true;
      // The touch matters only when the store would drop the record before the guard ends the
      // session. Each side in its own clock: the store's expiry in real time, the session's
      // deadlines in the guard's (the same clock outside tests).
      const { idle, absolute } = timeoutDeadlines(guard, ctx.timeouts);
      return expiresAt - Date.now() < Math.min(idle, absolute) - ctx.clock.now();
    },

    beforeWrite(sess) {
      const state = requestStateOf(requestOf(sess));
      if (!state || state.ctx !== ctx) return undefined;
      state.writesInFlight++;
      return snapshotOf(sess);
    },

    afterSet(sid, sess, written) {
      const req = requestOf(sess);
      const state = requestStateOf(req);
      if (!state || state.ctx !== ctx) return undefined;
      state.writesInFlight--;
      const pending = state.pendingConfirm;
      if (!pending || pending.sid !== sid) {
        markStored(state, sid, sess, written as SessionSnapshot | undefined);
        return undefined;
      }
      state.pendingConfirm = undefined;
      // The id counts as stored (its cookie is sent) only once the login is confirmed.
      return confirmRegenerated(ctx, state, req, pending).then(() => markStored(state, sid, sess, written as SessionSnapshot | undefined));
    },

    writeFailed(sid, sess, error) {
      const req = requestOf(sess);
      const state = requestStateOf(req);
      if (!state || state.ctx !== ctx) return undefined;
      state.writesInFlight--;
      const pending = state.pendingConfirm;
      if (!pending || pending.sid !== sid) return undefined;
      state.pendingConfirm = undefined;
      return abandonRegenerated(ctx, state, req, pending, mayHaveLanded(error));
    },
  };
}

type PendingConfirm = NonNullable<RequestState['pendingConfirm']>;

/** Confirms a regenerated login whose record is written (audited `login` then); on failure, nothing of it survives. */
async function confirmRegenerated(ctx: GuardContext, state: RequestState, req: Request | undefined, pending: PendingConfirm): Promise<void> {
  const ip = clientIp(state, req);
  try {
    await ctx.store.confirmLogin(pending.principal, { sessionId: pending.sid, createdAt: pending.createdAt, lastSeenAt: ctx.clock.now() }, ip);
  } catch (err) {
    await abandonRegenerated(ctx, state, req, pending, true);
    throw err;
  }
  ctx.auditor.emit('login', { sessionId: pending.sid, principal: pending.principal, ip, detail: { via: 'regenerated-session' } });
}

/**
 * A regenerated login that failed after its reservation (its write, or its confirmation): as
 * when `req.sessionGuard.login()` fails, the reservation is dropped, a record that may have been
 * written is ended (`abandonLogin`), and the request goes on with a fresh anonymous session
 * (`dropSession`), so that no cookie of the login is sent. Never rejects.
 */
async function abandonRegenerated(ctx: GuardContext, state: RequestState, req: Request | undefined, pending: PendingConfirm, written: boolean): Promise<void> {
  await ctx.store.abandonLogin(pending.principal, pending.sid, { written });
  dropSession(state, req);
}

/**
 * The request goes on with a fresh anonymous session instead (saved only if the app writes to
 * it, as an error handler's flash message does), and sends no cookie of the failed login.
 */
function dropSession(state: RequestState, req: Request | undefined): void {
  if (!req) return;
  req.sessionStore.generate(req);
  configureSessionCookie(req.session.cookie, state.cookie.options);
  markGenerated(state, req.sessionID, req.session as unknown as object);
  state.dropped = req.session as unknown as object;
  if (req.res) clearSessionCookie(state.cookie, req.res);
}

/**
 * A session generated in this request (`req.session.regenerate()`, as passport ≥0.6 does at
 * login) that became authenticated: its id was never seen by anyone, so it is bound here and
 * admitted to the index before its first write (confirmed after it).
 */
async function bindRegenerated(ctx: GuardContext, state: RequestState, sid: string, sess: Record_, principal: string, now: number, ip: string | undefined): Promise<GuardState> {
  const previous = stateOf(sess);
  const guard = guardState({ ...(previous ?? newGuardState(now)), principal, boundTo: ctx.binding.hash(sid), authAt: now, lastSeenAt: now, rotatedAt: now });
  // A new authentication, as in req.login: no privilege survives it, and the credential
  // version is the principal's current one (without it, the next request would end the session).
  delete guard.elevatedAt;
  delete guard.privilege;
  if (ctx.credentialVersion) guard.credentialVersion = String(await ctx.credentialVersion(principal));
  else delete guard.credentialVersion;
  try {
    await ctx.store.reserveLogin(principal, { sessionId: sid, createdAt: guard.createdAt, lastSeenAt: now }, { ip });
  } catch (err) {
    // Refused (a limit) or failed: the request keeps no session of this login, which its end
    // would otherwise try to save (and reserve) again.
    dropSession(state, requestOf(sess));
    throw err;
  }
  state.pendingConfirm = { sid, principal, createdAt: guard.createdAt };
  markBoundNow(state, sid);
  sess.fixationGuard = guard;
  // A logout earlier in this request (passport's switch of user) clears no cookie of this login.
  const res = requestOf(sess)?.res;
  if (res) delete (res as unknown as Record<symbol, boolean>)[LOGGED_OUT];
  return guard;
}
