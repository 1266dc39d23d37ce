/**
 * Which lifecycle step a session is due for at `now`. Pure: the Express layer carries it out.
 */
import type { GuardState } from './state.js';

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
  if (now - state.lastSeenAt > policy.idleTimeoutMs) return { step: 'end', reason: 'idle_timeout' };
  if (now - (state.authAt ?? state.createdAt) > policy.absoluteTimeoutMs) return { step: 'end', reason: 'absolute_timeout' };
  if (policy.rotateEveryMs !== undefined && now - state.rotatedAt > policy.rotateEveryMs) return { step: 'rotate' };
  if (now - state.lastSeenAt >= policy.lastSeenGranularityMs) return { step: 'touch' };
  return undefined;
}
