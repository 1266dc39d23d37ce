/**
 * Which lifecycle step a session is due for at `now`. Pure: the Express layer carries it out.
 */
import type { GuardState } from './state.js';

/** The idle timeout of every guard (the cookie guard and the MCP adapter): 30 minutes. */
export const DEFAULT_IDLE_TIMEOUT_MS = 30 * 60_000;
/** The absolute lifetime after authentication (or creation) of every guard: 4 hours. */
export const DEFAULT_ABSOLUTE_TIMEOUT_MS = 4 * 3_600_000;

/** What the idle and absolute timeouts read of a session, whichever guard holds it. */
export interface TimedSession {
  createdAt: number;
  lastSeenAt: number;
  /** When it authenticated; absent while it never did. */
  authAt?: number | undefined;
}

/**
 * When a session's idle and absolute deadlines fall (ms since the epoch): idle counts from the
 * last request, absolute from authentication (or creation) and activity never extends it.
 */
export function timeoutDeadlines(session: TimedSession, timeouts: { idleTimeoutMs: number; absoluteTimeoutMs: number }): { idle: number; absolute: number } {
  return { idle: session.lastSeenAt + timeouts.idleTimeoutMs, absolute: (session.authAt ?? session.createdAt) + timeouts.absoluteTimeoutMs };
}

export interface TimeoutPolicy {
  idleTimeoutMs: number;
  absoluteTimeoutMs: number;
  /** Periodic id renewal; undefined = off. */
  rotateEveryMs: number | undefined;
  /** lastSeenAt is rewritten at most this often. */
  lastSeenGranularityMs: number;
}

export type LifecycleDue =
  | { step: 'end'; reason: 'idle_timeout' | 'absolute_timeout' }
  | { step: 'rotate' }
  | { step: 'touch' }
  | undefined;

export function lifecycleDue(state: GuardState, now: number, policy: TimeoutPolicy): LifecycleDue {
  const { idle, absolute } = timeoutDeadlines(state, policy);
  // A session used exactly at its deadline is still alive here.
  if (now > idle) return { step: 'end', reason: 'idle_timeout' };
  if (now > absolute) return { step: 'end', reason: 'absolute_timeout' };
  if (policy.rotateEveryMs !== undefined && now - state.rotatedAt > policy.rotateEveryMs) return { step: 'rotate' };
  if (now - state.lastSeenAt >= policy.lastSeenGranularityMs) return { step: 'touch' };
  return undefined;
}
