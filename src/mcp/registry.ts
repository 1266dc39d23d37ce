/**
 * The session registry's rules, without I/O: when a session expires, and how many
 * never-authenticated sessions one IP and all IPs may hold. The guard owns the records; these
 * pieces only read what they are given, so each is tested on its own with an injected clock.
 */
import type { Clock } from '../clock/index.js';

/** What the timeouts read of a session. */
export interface SessionTimes {
  createdAt: number;
  lastSeenAt: number;
  /** When it authenticated; `undefined` while it never did. */
  authorizedAt: number | undefined;
  principal: string | undefined;
}

export interface SessionTimeouts {
  idleTimeoutMs: number;
  absoluteTimeoutMs: number;
  /** The shorter idle timeout of sessions that never authenticated, when there is one. */
  preAuthIdleTimeoutMs?: number | undefined;
}

export type ExpiryReason = 'idle_timeout' | 'absolute_timeout';

/** When a session's idle and absolute deadlines fall (ms since the epoch). */
export function sessionDeadlines(session: SessionTimes, timeouts: SessionTimeouts): { idle: number; absolute: number } {
  // A session that never authenticated lives on the short pre-auth idle timeout.
  const idle =
    session.principal === undefined && timeouts.preAuthIdleTimeoutMs !== undefined
      ? Math.min(timeouts.idleTimeoutMs, timeouts.preAuthIdleTimeoutMs)
      : timeouts.idleTimeoutMs;
  return { idle: session.lastSeenAt + idle, absolute: (session.authorizedAt ?? session.createdAt) + timeouts.absoluteTimeoutMs };
}

/** Why a session is over at the clock's now, or `undefined` while it lives. */
export function sessionExpiry(session: SessionTimes, timeouts: SessionTimeouts, clock: Clock): ExpiryReason | undefined {
  const now = clock.now();
  const { idle, absolute } = sessionDeadlines(session, timeouts);
  if (now >= absolute) return 'absolute_timeout';
  if (now >= idle) return 'idle_timeout';
  return undefined;
}

export interface PreAuthPoolLimits {
  maxPerIp: number;
  maxSessions: number;
}

/**
 * Never-authenticated sessions by IP: what the pre-auth limits count. A session enters when it
 * is created (not when it initializes, so concurrent floods cannot all slip under the cap) and
 * leaves when it authenticates or ends.
 */
export class PreAuthPool<T> {
  readonly #byIp = new Map<string, Set<T>>();
  #size = 0;

  constructor(readonly limits: PreAuthPoolLimits) {}

  get size(): number {
    return this.#size;
  }

  add(session: T, ip: string | undefined): void {
    const key = ip ?? 'unknown';
    let held = this.#byIp.get(key);
    if (!held) this.#byIp.set(key, (held = new Set()));
    if (held.has(session)) return;
    held.add(session);
    this.#size += 1;
  }

  remove(session: T, ip: string | undefined): void {
    const key = ip ?? 'unknown';
    const held = this.#byIp.get(key);
    if (!held?.delete(session)) return;
    this.#size -= 1;
    if (held.size === 0) this.#byIp.delete(key);
  }

  /** Why one more session from `ip` is refused, or `undefined` when it fits. */
  refusal(ip: string | undefined): { reason: 'preauth_per_ip' | 'preauth_total'; limit: number } | undefined {
    if ((this.#byIp.get(ip ?? 'unknown')?.size ?? 0) >= this.limits.maxPerIp) return { reason: 'preauth_per_ip', limit: this.limits.maxPerIp };
    if (this.#size >= this.limits.maxSessions) return { reason: 'preauth_total', limit: this.limits.maxSessions };
    return undefined;
  }
}
