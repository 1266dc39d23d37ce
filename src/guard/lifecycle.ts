import type { Request } from 'express';
import type { AuditEventType } from '../audit/index.js';
import type { EndReason } from '../store/contracts.js';
import type { GuardState } from '../types.js';
import type { GuardContext } from './context.js';
import type { SessionGuardRequestApi } from './request-api.js';

type Record_ = Record<string, unknown>;

const END_EVENTS: Partial<Record<EndReason, AuditEventType>> = {
  idle_timeout: 'session_expired',
  absolute_timeout: 'session_expired',
  credentials_changed: 'credentials_changed',
};

/**
 * Idle and absolute timeouts, credential binding and periodic rotation, read from the
 * injected clock on every request that carries a session. A session past its time is
 * tombstoned and the request continues with a fresh anonymous one, its `endedReason` set.
 */
export function enforceLifecycle(ctx: GuardContext, req: Request, api: SessionGuardRequestApi): Promise<void> | undefined {
  const sess = req.session as unknown as Record_;
  const state = sess.fixationGuard as GuardState | undefined;
  if (!state) return undefined;
  const now = ctx.clock.now();
  let reason: EndReason | undefined;
  if (now - state.lastSeenAt > ctx.idleTimeoutMs) reason = 'idle_timeout';
  else if (now - (state.authAt ?? state.createdAt) > ctx.absoluteTimeoutMs) reason = 'absolute_timeout';
  // The common case (nothing due) stays synchronous: no promise on the hot path.
  if (!reason && !(state.principal !== undefined && ctx.credentialVersion)) {
    const rotationDue = ctx.rotateEveryMs !== undefined && ctx.strategy !== 'none' && now - state.rotatedAt > ctx.rotateEveryMs;
    if (!rotationDue && now - state.lastSeenAt < ctx.lastSeenGranularityMs) return undefined;
  }
  return lifecycleSteps(ctx, req, api, state, now, reason);
}

async function lifecycleSteps(ctx: GuardContext, req: Request, api: SessionGuardRequestApi, state: GuardState, now: number, due: EndReason | undefined): Promise<void> {
  let reason = due;
  if (!reason && state.principal !== undefined && ctx.credentialVersion) {
    const current = String(await ctx.credentialVersion(state.principal));
    if (current !== state.credentialVersion) reason = 'credentials_changed';
  }
  if (reason) {
    await ctx.store.endSession(req.sessionID, reason, state.principal);
    ctx.auditor.emit(END_EVENTS[reason] ?? 'session_expired', {
      sessionId: req.sessionID,
      principal: state.principal,
      ip: req.ip,
      reason,
      detail: { idleMs: now - state.lastSeenAt, ageMs: now - (state.authAt ?? state.createdAt) },
    });
    req.sessionStore.generate(req);
    api.endedReason = reason;
    return;
  }
  if (ctx.rotateEveryMs !== undefined && ctx.strategy !== 'none' && now - state.rotatedAt > ctx.rotateEveryMs) {
    // Periodic renewal keeps everything: it is the same session under a new id.
    await api.rotate('periodic', 'changeSessionId', ctx.keep, (base) => ({ ...base, lastSeenAt: now }));
    return;
  }
  if (now - state.lastSeenAt >= ctx.lastSeenGranularityMs) {
    state.lastSeenAt = now;
    const principal = state.principal;
    if (principal !== undefined) {
      await ctx.store.index('index', (index) => index.touch(principal, req.sessionID, now));
    }
  }
}
