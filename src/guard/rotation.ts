/**
 * Moving the request's session to a new id (login, elevation, periodic renewal, credential
 * refresh), and the two ways a request can find its session already moved: resolved to its
 * successor within the periodic-rotation grace, or ended.
 */
import type { Request } from 'express';
import { configureSessionCookie } from '../cookie/session-cookie.js';
import { SessionGuardError, SessionStoreUnavailableError } from '../errors/index.js';
import { guardState, newGuardState, stateOf, type GuardState } from '../policy/state.js';
import { isTombstone, mayHaveLanded, type EndReason, type TombstoneRecord } from '../store/contracts.js';
import type { RotateOptions } from '../store/guarded-store.js';
import { carried, type RotationStrategy } from '../strategies/index.js';
import type { GuardContext } from './context.js';
import { clientIp, isStored, markBoundNow, markGenerated, markStored, markUnknownOutcome, snapshotOf, type RequestState } from './request-state.js';

type Record_ = Record<string, unknown>;

export type RotationCause = 'login' | 'elevate' | 'periodic' | 'credentials';

export function requireSession(req: Request): Record_ {
  if (!req.session) {
    throw new SessionGuardError('SESSION_NOT_MOUNTED', 'There is no session on this request: is sessionGuard() mounted before this route?');
  }
  return req.session as unknown as Record_;
}

/**
 * Rotates the request's session per `strategy`; `mutate` writes the new guard state. The new
 * record is persisted and the old id ended before this resolves; on any failure the request
 * keeps its old session and nothing changed in the store.
 */
export async function rotateSession(
  ctx: GuardContext,
  req: Request,
  state: RequestState,
  cause: RotationCause,
  strategy: RotationStrategy,
  keep: readonly string[],
  mutate: (base: GuardState, previous: GuardState, newId: string) => GuardState,
  newId?: string,
  admission?: RotateOptions['admission'],
): Promise<{ oldId: string; newId: string }> {
  const old = requireSession(req);
  // An authenticated session keeps its placement (the Redis `spread` layout: its principal's slot).
  newId ??= ctx.genidFor(stateOf(old)?.principal);
  const oldId = req.sessionID;
  const now = ctx.clock.now();
  const previous = stateOf(old) ?? newGuardState(now);

  if (strategy === 'none') {
    const next = mutate({ ...previous }, previous, oldId);
    if (next.principal !== undefined) next.boundTo = ctx.binding.hash(oldId);
    else delete next.boundTo;
    old.fixationGuard = guardState(next);
    markBoundNow(state, oldId);
    await new Promise<void>((resolve, reject) => req.session.save((err: unknown) => (err ? reject(err) : resolve())));
    return { oldId, newId: oldId };
  }

  // A shallow copy: the rotation writes only the copy's own keys (the state, the cookie), so the
  // old session stays untouched for a failed rotation to put back; a deep copy per login is garbage.
  const data = carried(strategy, old, { keep, drop: ctx.drop });
  data.cookie = cookieSettings(data.cookie);
  const base: GuardState = strategy === 'changeSessionId' ? { ...previous } : newGuardState(now);
  const next = mutate(base, previous, newId);
  next.rotatedAt = now;
  next.lastSeenAt = now;
  if (next.principal !== undefined) next.boundTo = ctx.binding.hash(newId);
  else delete next.boundTo;
  data.fixationGuard = guardState(next);

  const oldPrincipal = previous.principal;
  req.sessionID = newId;
  const created = req.sessionStore.createSession(req, data as never);
  configureSessionCookie(created.cookie, state.cookie.options);
  created.touch();
  // As it goes out: the request may go on changing it while the store writes.
  const written = snapshotOf(created);
  try {
    await ctx.store.rotate(oldId, newId, { ...created } as Record_, {
      principal: next.principal,
      oldPrincipal,
      oldStored: isStored(state, oldId),
      graceUntil: cause === 'periodic' && ctx.rotationGraceMs > 0 ? now + ctx.rotationGraceMs : undefined,
      admission,
    });
  } catch (err) {
    req.session = old as unknown as Request['session'];
    req.sessionID = oldId;
    // The store failed after a write that may have landed (the old id's tombstone).
    if (err instanceof SessionStoreUnavailableError && mayHaveLanded(err)) markUnknownOutcome(state);
    throw err;
  }
  markBoundNow(state, newId);
  markStored(state, newId, created, written);
  // A failure earlier in this request no longer concerns the session: it moved on from there.
  state.unknownOutcome = false;
  if (oldPrincipal !== undefined && oldPrincipal !== next.principal) {
    // A login switching principals on one session: the old principal's entry goes (its id is
    // already a tombstone, so a failure here leaves only an entry that listing prunes).
    await ctx.store.index('index', (index) => index.remove(oldPrincipal, oldId)).catch(() => undefined);
  }
  // Its fields only when a sink listens: every login passes here.
  if (ctx.auditor.listening) {
    ctx.auditor.emit('session_rotated', {
      sessionId: newId,
      previousSessionId: oldId,
      principal: next.principal,
      ip: clientIp(state, req),
      reason: cause,
      detail: { strategy },
    });
  }
  return { oldId, newId };
}

/**
 * The cookie's attributes as a new plain object, for `createSession` to build the new cookie
 * from: express-session's `Cookie#data` (every attribute; its stored form leaves some out),
 * without the unset ones, as the JSON of the cookie would be (an explicit `undefined` would
 * override the new cookie's defaults, such as `path: '/'`).
 */
function cookieSettings(cookie: unknown): Record_ {
  const data = (cookie as { data?: unknown } | undefined)?.data;
  const source = (typeof data === 'object' && data !== null ? data : (cookie ?? {})) as Record_;
  const out: Record_ = {};
  for (const key of Object.keys(source)) if (source[key] !== undefined) out[key] = source[key];
  return out;
}

/**
 * The parallel requests of one page all carry the id that was just rotated periodically:
 * within the grace, the old id resolves to its one successor — the same session, bound to the
 * successor's id — and the request continues on it (its response carries the new cookie).
 * Never for a login or elevation rotation (no grace is recorded for them).
 */
export async function adoptSuccessor(ctx: GuardContext, req: Request, state: RequestState, tombstone: TombstoneRecord, presentedId: string): Promise<boolean> {
  const mark = tombstone.fixationGuardTombstone;
  if (mark.reason !== 'rotated' || mark.successor === undefined || mark.graceUntil === undefined) return false;
  if (ctx.clock.now() > mark.graceUntil) return false;
  const successor = mark.successor;
  const record = await ctx.store.readRaw(successor);
  if (!record || isTombstone(record)) return false;
  const guard = stateOf(record);
  // The same session only: an authenticated successor must be bound to its own id.
  if (guard?.principal !== undefined && !ctx.binding.isBound(guard, successor)) return false;
  req.sessionID = successor;
  const adopted = req.sessionStore.createSession(req, record as never);
  configureSessionCookie(adopted.cookie, state.cookie.options);
  state.loadedId = successor;
  markStored(state, successor, adopted);
  state.endedReason = undefined;
  ctx.auditor.emit('rotation_grace_used', { sessionId: successor, previousSessionId: presentedId, principal: guard?.principal, ip: clientIp(state, req) });
  return true;
}

/** The request's session is gone (ended or never existed): it continues with a fresh anonymous one. */
export function replaceWithFresh(req: Request, state: RequestState, reason: EndReason | 'unknown'): void {
  req.sessionStore.generate(req);
  configureSessionCookie(req.session.cookie, state.cookie.options);
  markGenerated(state, req.sessionID, req.session as unknown as object);
  state.endedReason = reason;
}

/** What a presented id that loaded no session holds now: its tombstone, or nothing. */
export async function endedRecord(ctx: GuardContext, sid: string): Promise<TombstoneRecord | undefined> {
  const record = await ctx.store.readRaw(sid);
  return isTombstone(record) ? record : undefined;
}
