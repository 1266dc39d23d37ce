import type { Request } from 'express';
import type { AuditEventType } from '../audit/index.js';
import { SessionConflictError } from '../errors/index.js';
import { stateOf, type GuardState } from '../policy/state.js';
import { lifecycleDue, type LifecycleDue } from '../policy/timeouts.js';
import type { EndReason } from '../store/contracts.js';
import type { GuardContext } from './context.js';
import { clientIp, isStored, markStored, type RequestState } from './request-state.js';
import { adoptSuccessor, endedRecord, replaceWithFresh, rotateSession } from './rotation.js';

const END_EVENTS: Partial<Record<EndReason, AuditEventType>> = {
  idle_timeout: 'session_expired',
  absolute_timeout: 'session_expired',
  credentials_changed: 'credentials_changed',
};

/**
 * Idle and absolute timeouts, credential binding and periodic rotation, read from the
 * injected clock on every request that carries a stored session. A session past its time is
 * ended and the request continues with a fresh anonymous one, its `endedReason` set.
 */
export function enforceLifecycle(
  ctx: GuardContext,
  req: Request,
  state: RequestState,
  sess: object = req.session as unknown as object,
  sid: string = req.sessionID,
): Promise<void> | undefined {
  const guard = stateOf(sess);
  if (!guard || !isStored(state, sid)) return undefined;
  const now = ctx.clock.now();
  const due = lifecycleDue(guard, now, ctx.timeouts);
  // The common case (nothing due) stays synchronous: no promise on the hot path.
  if (!due && !(guard.principal !== undefined && ctx.credentialVersion)) return undefined;
  return lifecycleSteps(ctx, req, state, guard, now, due);
}

async function lifecycleSteps(ctx: GuardContext, req: Request, state: RequestState, guard: GuardState, now: number, due: LifecycleDue): Promise<void> {
  let reason: EndReason | undefined = due?.step === 'end' ? due.reason : undefined;
  if (!reason && guard.principal !== undefined && ctx.credentialVersion) {
    const current = String(await ctx.credentialVersion(guard.principal));
    if (current !== guard.credentialVersion) reason = 'credentials_changed';
  }
  if (reason) {
    await ctx.store.endSession(req.sessionID, reason, guard.principal);
    ctx.auditor.emit(END_EVENTS[reason] ?? 'session_expired', {
      sessionId: req.sessionID,
      principal: guard.principal,
      ip: clientIp(state, req),
      reason,
      detail: { idleMs: now - guard.lastSeenAt, ageMs: now - (guard.authAt ?? guard.createdAt) },
    });
    replaceWithFresh(req, state, reason);
    return;
  }
  if (due?.step === 'rotate') {
    const oldId = req.sessionID;
    try {
      // Periodic renewal keeps everything: it is the same session under a new id.
      await rotateSession(ctx, req, state, 'periodic', 'changeSessionId', ctx.keep, (base) => ({ ...base, lastSeenAt: now }));
    } catch (err) {
      if (!(err instanceof SessionConflictError)) throw err;
      // Another request of the same page rotated it first: follow it within the grace.
      const tombstone = await endedRecord(ctx, oldId);
      if (tombstone && (await adoptSuccessor(ctx, req, state, tombstone, oldId))) return;
      // It was moved on past the grace's reach (the other request logged in or elevated right
      // after): that request's answer carries the session's new cookie. This one answers 409
      // and sets no cookie; a fresh anonymous cookie here, arriving last, would replace the
      // new one in the browser and leave that session live with nobody holding it.
      if (tombstone?.fixationGuardTombstone.reason === 'rotated') throw err;
      replaceWithFresh(req, state, tombstone?.fixationGuardTombstone.reason ?? 'unknown');
    }
    return;
  }
  if (due?.step === 'touch') {
    guard.lastSeenAt = now;
    // The activity is recorded in the store's record at the end of the request, unless the
    // request changes the session (its save then carries it): a session that changes nothing else
    // is not written whole, so a parallel request's change is never undone by this one's copy.
    state.activityAt = now;
    markStored(state, req.sessionID, req.session as unknown as object);
    const principal = guard.principal;
    if (principal !== undefined) await ctx.store.index('index', (index) => index.touch(principal, req.sessionID, now));
  }
}
