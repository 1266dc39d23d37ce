/**
 * The way out of a request that has a session.
 *
 * - express-session saves a modified session inside res.end after the headers are already
 *   out, and a failed save only reaches next(err) once the response is gone: the client is
 *   told "done" for a write that was lost (fail open). The guard saves first — whatever
 *   session the request ends with, including one `req.login` or a regenerate put there —
 *   while the answer can still be changed, and answers the error instead when the save fails.
 *   A response whose headers already went out (a stream) is cut off when that save fails.
 * - The tripwire's last line, for responses whose headers go out before res.end (streams):
 *   an authenticated session that may not be persisted is destroyed before they leave.
 */
import type { Request, Response } from 'express';
import type { Cookie } from 'express-session';
import onHeaders from 'on-headers';
import { configureSessionCookie } from '../cookie/session-cookie.js';
import { FixationTripwireError, SessionGuardError, SessionStoreUnavailableError } from '../errors/index.js';
import { principalOf } from '../policy/principal.js';
import { raiseLastSeenAt, stateOf } from '../policy/state.js';
import type { GuardContext } from './context.js';
import { reportUnsendable, unsendableCookieMessage } from './plain-http.js';
import { clearSessionCookie } from './request-api.js';
import { clientIp, isTripped, markStored, movedSessionCookie, unchanged, type RequestState } from './request-state.js';
import { isFresh, requestTripReason, stampAnonymous, tripSession } from './write-gate.js';

/** Status and headers of a guard error answer (never cached; a 503 says when to retry). */
export function setErrorHead(res: Response, err: SessionGuardError): void {
  res.statusCode = err.status;
  res.setHeader('Cache-Control', 'no-store');
  if (err.status === 503) res.setHeader('Retry-After', '5');
}

export function respondError(res: Response, err: SessionGuardError): void {
  if (res.headersSent) return;
  setErrorHead(res, err);
  res.json(err.toJSON());
}

type End = (...args: unknown[]) => Response;

/**
 * The request's store call failed without a known outcome (`markUnknownOutcome`): nothing more
 * is saved into the session, and the answer keeps the cookie, or names the id this request had
 * already moved the session to. An error answer goes out as the app made it; a success after
 * the session changed would claim a write that is not saved, so it becomes the 503.
 * (Module functions, not closures of `guardResponse`: that runs on every request.)
 */
function endAfterUnknownOutcome(ctx: GuardContext, req: Request, res: Response, state: RequestState, end: End, sess: object, args: unknown[]): Response {
  const changed = !unchanged(state, sess);
  const moved = movedSessionCookie(ctx, req, state);
  delete (req as { session?: unknown }).session;
  if (res.headersSent) {
    // A stream's status is out: a change it cannot save cuts it off, as a failed save does.
    if (changed && res.statusCode < 400) {
      res.destroy();
      return res;
    }
    return end.apply(res, args);
  }
  if (res.statusCode < 400 && changed) return answerError(res, end, new SessionStoreUnavailableError(), moved);
  if (moved) res.append('Set-Cookie', moved);
  return end.apply(res, args);
}

/** Replaces the answer by `error`'s (with the moved session's cookie, if any). */
function answerError(res: Response, end: End, error: SessionGuardError, moved: string | undefined): Response {
  for (const header of ['Content-Length', 'Content-Type', 'Content-Encoding', 'ETag', 'Last-Modified', 'Set-Cookie']) res.removeHeader(header);
  if (moved) res.setHeader('Set-Cookie', moved);
  const body = JSON.stringify(error.toJSON());
  setErrorHead(res, error);
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  return end.call(res, body);
}

export function guardResponse(ctx: GuardContext, req: Request, res: Response, state: RequestState): void {
  // The session res.end found unchanged or just saved (through the write gate): the headers
  // hook need not serialise it again — once per request is the hot path's whole cost.
  let settled: object | undefined;
  /** express-session's end was passed by (see below): as it does, a second end does nothing. */
  let bypassed = false;

  onHeaders(res, function fixationTripwireOnHeaders() {
    const sess = req.session as unknown as Record<string, unknown> | undefined;
    // Registered after express-session's, so this runs just before it writes the cookie: a
    // session the app reloaded (`req.session.reload()`) comes from a record, which stores no
    // Priority and no `secure: false`; a streamed answer sends its headers before the save.
    if (sess) configureSessionCookie((sess as unknown as { cookie: Cookie }).cookie, state.cookie.options);
    if (state.cookieUnsendable && sess && req.sessionID !== state.loadedId && !ctx.plainHttpReports.unsendableReported && (sess === settled || !unchanged(state, sess))) {
      // An anonymous session was stored whose Secure cookie express-session will silently not send.
      reportUnsendable(ctx, clientIp(state, req), unsendableCookieMessage(`${req.method} ${req.path}`, state.cookie.name, ctx.plainHttp, ctx.production, 'the session it stored is lost after this response'));
    }
    if (!sess || sess === settled || unchanged(state, sess)) return;
    const sid = req.sessionID;
    const reason = requestTripReason(ctx, state, sid, sess);
    if (reason === undefined) return;
    const alreadyTripped = isTripped(state, sess);
    delete (req as { session?: unknown }).session;
    clearSessionCookie(state.cookie, res);
    if (alreadyTripped) return; // the write gate refused the save a moment ago and audited it
    tripSession(ctx, state, sid, sess, reason, clientIp(state, req)).catch(() => undefined);
    if (ctx.development) {
      console.error(
        `fixation-guard tripwire: ${req.method} ${req.path} marked the session authenticated (as ${principalOf(sess, ctx.authKeys)}) without req.login(). ` +
          'The id may have been planted by an attacker and was never rotated, so the session was destroyed. Use `await req.sessionGuard.login(userId)`.',
      );
    }
  });

  const end = res.end as End;

  res.end = function fixationGuardEnd(this: Response, ...args: unknown[]): Response {
    // express-session's end was passed by: as its own `ended` flag would, a later end does nothing.
    if (bypassed) return false as unknown as Response;
    const sess = req.session as unknown as object | undefined;
    if (!sess) return end.apply(this, args);
    if (isTripped(state, sess)) {
      // The tripwire already refused this session and the app answered that error: let it through.
      if (!res.headersSent) delete (req as { session?: unknown }).session;
      return end.apply(this, args);
    }
    if (state.unknownOutcome) return endAfterUnknownOutcome(ctx, req, res, state, end, sess, args);
    if (unchanged(state, sess)) {
      settled = sess;
      if (sess === state.dropped) {
        // The fresh session a failed regenerated login left, unwritten: nothing to save or send.
        delete (req as { session?: unknown }).session;
        return end.apply(this, args);
      }
      if (req.sessionID === state.loadedId) {
        // A loaded session: express-session's end touches it (the store's touch, which the write
        // gate may skip), after the activity due, if any, is recorded in the store's record.
        if (state.activityAt !== undefined) return endAfterActivity(ctx, req, res, state, end, args);
        return end.apply(this, args);
      }
      // Only a session the store holds as it is under this id: a fresh one the guard put in place
      // of an ended session (`replaceWithFresh`) was never saved, and express-session's end saves it.
      const baseline = state.baseline;
      if (!baseline?.stored || baseline.sid !== req.sessionID) return end.apply(this, args);
      // A session moved in this request, stored as it is: express-session's end would only hash
      // it again to save it (its id is not the cookie's) for the store to skip. It is passed by;
      // express-session's headers hook still sets the cookie.
      bypassed = true;
      return (state.endBeforeSession as End).apply(this, args);
    }
    // A new anonymous session gets the guard's state before express-session hashes it for the
    // save (added by the write gate instead, it would make express-session save again).
    const sid = req.sessionID;
    const record = sess as Record<string, unknown>;
    if (record.fixationGuard === undefined && principalOf(record, ctx.authKeys) === undefined) {
      stampAnonymous(ctx, state, sid, record, ctx.clock.now(), isFresh(state, sid), req);
    }
    if (state.activityAt !== undefined) {
      // The save carries the activity due; a session the route reloaded (`req.session.reload()`)
      // was made from the record, without it.
      const guard = sid === state.loadedId ? stateOf(record) : undefined;
      if (guard !== undefined) raiseLastSeenAt(guard, state.activityAt);
      state.activityAt = undefined;
    }
    // The expiry express-session would give the session when it answers (it resets the cookie's
    // maxAge at the end of every request): the record is written with it, not with the one it
    // was loaded with.
    req.session.touch();
    req.session.save((err?: unknown) => {
      if (!err) {
        settled = sess;
        end.apply(this, args);
        return;
      }
      answerFailedWrite(ctx, req, res, state, end, err);
    });
    return this;
  } as Response['end'];
}

/**
 * A loaded session that the request changed in nothing but its due activity: the activity is
 * recorded in the store's record (`recordActivity`), then the answer goes out with that
 * record's cookie (a parallel request may have changed its maxAge). A record that a parallel
 * request ended or moved meanwhile is left as it is, and the answer stands.
 */
function endAfterActivity(ctx: GuardContext, req: Request, res: Response, state: RequestState, end: End, args: unknown[]): Response {
  const lastSeenAt = state.activityAt as number;
  state.activityAt = undefined;
  const sid = req.sessionID;
  ctx.store.recordActivity(sid, lastSeenAt).then(
    (stored) => {
      const sess = req.session as unknown as (object & { cookie: Cookie }) | undefined;
      const maxAge = stored?.originalMaxAge;
      if (sess && (typeof maxAge === 'number' || maxAge === null) && maxAge !== sess.cookie.originalMaxAge) {
        sess.cookie.maxAge = maxAge ?? undefined;
        // What the store holds now: express-session's save at its end is skipped (the write gate).
        markStored(state, sid, sess);
      }
      end.apply(res, args);
    },
    (err: unknown) => answerFailedWrite(ctx, req, res, state, end, err),
  );
  return res;
}

/** The session's write at the end of the request failed: the answer says so, or is cut off when its status is already out. */
function answerFailedWrite(ctx: GuardContext, req: Request, res: Response, state: RequestState, end: End, err: unknown): void {
  if (res.headersSent) {
    // The status is already on the wire (res.write, writeHead, sendFile): it cannot become
    // an error any more, so the response is cut off instead of completed — the client sees
    // a failed request, never a finished 200 for a write that was lost.
    delete (req as { session?: unknown }).session;
    res.destroy();
    return;
  }
  const error = err instanceof SessionGuardError ? err : new SessionStoreUnavailableError(undefined, { cause: err });
  if (ctx.development && error instanceof FixationTripwireError) console.error(`${req.method} ${req.path}: ${error.message}`);
  // A session this request moved to a new id (a periodic renewal, an elevation, a login)
  // is stored under it: the client still learns that id, or the old one, now a tombstone,
  // would strand the session, live with nobody holding it.
  const moved = error instanceof FixationTripwireError ? undefined : movedSessionCookie(ctx, req, state);
  delete (req as { session?: unknown }).session;
  answerError(res, end, error, moved);
}
