/**
 * The session registry of the sessionful (2025) era: the live sessions by id and by principal,
 * the never-authenticated pool, and expiry ordered by deadline. It knows nothing of HTTP, the
 * SDK or the fleet: the guard's lifecycle decides what ending a session means, the registry
 * only says which sessions are due. Every piece reads an injected clock.
 */
import type { Clock } from '../clock/index.js';
import { timeoutDeadlines } from '../policy/timeouts.js';

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

/**
 * When a session's idle and absolute deadlines fall (ms since the epoch): the core's timeout
 * model (`timeoutDeadlines`), with the short pre-auth idle timeout for a session that never
 * authenticated. The session is over from its deadline on.
 */
export function sessionDeadlines(session: SessionTimes, timeouts: SessionTimeouts): { idle: number; absolute: number } {
  const idleTimeoutMs =
    session.principal === undefined && timeouts.preAuthIdleTimeoutMs !== undefined
      ? Math.min(timeouts.idleTimeoutMs, timeouts.preAuthIdleTimeoutMs)
      : timeouts.idleTimeoutMs;
  return timeoutDeadlines(
    { createdAt: session.createdAt, lastSeenAt: session.lastSeenAt, authAt: session.authorizedAt },
    { idleTimeoutMs, absoluteTimeoutMs: timeouts.absoluteTimeoutMs },
  );
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

/** What the registry holds: a session with an id, its times, and the address it came from. */
export interface RegisteredSession extends SessionTimes {
  readonly id: string;
  readonly ip: string | undefined;
}

interface Due<R> {
  at: number;
  session: R;
}

/**
 * A min-heap of (deadline, session). Entries are never updated in place: a session's deadline
 * only ever moves later (activity, authentication), so an entry that comes up early is pushed
 * again with the session's real deadline, and an entry of a session that left is dropped.
 */
class DeadlineQueue<R> {
  readonly #heap: Due<R>[] = [];

  get length(): number {
    return this.#heap.length;
  }

  peek(): Due<R> | undefined {
    return this.#heap[0];
  }

  push(entry: Due<R>): void {
    const heap = this.#heap;
    heap.push(entry);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((heap[parent] as Due<R>).at <= entry.at) break;
      heap[i] = heap[parent] as Due<R>;
      i = parent;
    }
    heap[i] = entry;
  }

  pop(): Due<R> | undefined {
    const heap = this.#heap;
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined || heap.length === 0) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && (heap[right] as Due<R>).at < (heap[left] as Due<R>).at ? right : left;
      if ((heap[child] as Due<R>).at >= last.at) break;
      heap[i] = heap[child] as Due<R>;
      i = child;
    }
    heap[i] = last;
    return top;
  }

  clear(): void {
    this.#heap.length = 0;
  }
}

export interface SessionRegistryOptions {
  timeouts: SessionTimeouts;
  clock: Clock;
  /** The never-authenticated pool's limits; `undefined` leaves those sessions under the normal limits only. */
  preAuth?: PreAuthPoolLimits | undefined;
}

/**
 * The live sessions of one instance. Expiry is amortised: `takeExpired()` looks only at sessions
 * whose deadline (as last seen) has come, so sweeping before every new session costs what is
 * due, not one visit per live session.
 *
 * @example
 * const registry = new SessionRegistry({ timeouts, clock });
 * registry.add(record);
 * for (const [record, reason] of registry.takeExpired()) end(record, reason);
 */
export class SessionRegistry<R extends RegisteredSession> {
  readonly #byId = new Map<string, R>();
  readonly #byPrincipal = new Map<string, Set<R>>();
  readonly #queue = new DeadlineQueue<R>();
  readonly #timeouts: SessionTimeouts;
  readonly #clock: Clock;
  readonly #preAuth: PreAuthPool<R> | undefined;

  constructor(options: SessionRegistryOptions) {
    this.#timeouts = options.timeouts;
    this.#clock = options.clock;
    this.#preAuth = options.preAuth ? new PreAuthPool<R>(options.preAuth) : undefined;
  }

  get size(): number {
    return this.#byId.size;
  }

  get(id: string): R | undefined {
    return this.#byId.get(id);
  }

  /** Every live session (a copy: the caller may end them while it iterates). */
  all(): R[] {
    return [...this.#byId.values()];
  }

  /** The live sessions of a principal, without a scan of the others. */
  ofPrincipal(principal: string): R[] {
    return [...(this.#byPrincipal.get(principal) ?? [])];
  }

  /** Makes a session live: findable by id (and principal), and due for expiry at its deadline. */
  add(session: R): void {
    this.#byId.set(session.id, session);
    if (session.principal !== undefined) this.#indexPrincipal(session, session.principal);
    this.#queue.push({ at: this.#deadlineOf(session), session });
    this.#compact();
  }

  /** Records that a session authenticated: it leaves the pre-auth pool and joins its principal. */
  bound(session: R): void {
    this.#preAuth?.remove(session, session.ip);
    if (session.principal !== undefined && this.#byId.get(session.id) === session) this.#indexPrincipal(session, session.principal);
  }

  /** Removes a session (its id finds nothing from now on); `false` when it was not live. */
  delete(session: R): boolean {
    this.#preAuth?.remove(session, session.ip);
    if (this.#byId.get(session.id) !== session) return false;
    this.#byId.delete(session.id);
    if (session.principal !== undefined) {
      const held = this.#byPrincipal.get(session.principal);
      held?.delete(session);
      if (held?.size === 0) this.#byPrincipal.delete(session.principal);
    }
    return true;
  }

  /** Removes every session; returns them. */
  clear(): R[] {
    const sessions = this.all();
    this.#byId.clear();
    this.#byPrincipal.clear();
    this.#queue.clear();
    return sessions;
  }

  /** Counts a never-authenticated session against the pre-auth limits from its creation on. */
  trackPreAuth(session: R): void {
    this.#preAuth?.add(session, session.ip);
  }

  /** Why one more never-authenticated session from `ip` is refused, or `undefined` when it fits. */
  preAuthRefusal(ip: string | undefined): ReturnType<PreAuthPool<R>['refusal']> {
    return this.#preAuth?.refusal(ip);
  }

  deadlines(session: R): { idle: number; absolute: number } {
    return sessionDeadlines(session, this.#timeouts);
  }

  /** Why a session is over now, or `undefined` while it lives. */
  expiry(session: R): ExpiryReason | undefined {
    return sessionExpiry(session, this.#timeouts, this.#clock);
  }

  /**
   * The live sessions whose deadline has come, with why; the caller ends them (and `delete`s
   * them). Looks only at queue entries that are due: an entry whose session was active since is
   * re-queued at its new deadline, an entry whose session left is dropped.
   */
  takeExpired(): [R, ExpiryReason][] {
    const now = this.#clock.now();
    const expired: [R, ExpiryReason][] = [];
    for (let due = this.#queue.peek(); due !== undefined && due.at <= now; due = this.#queue.peek()) {
      this.#queue.pop();
      const session = due.session;
      if (this.#byId.get(session.id) !== session) continue;
      const reason = this.expiry(session);
      if (reason !== undefined) expired.push([session, reason]);
      else this.#queue.push({ at: this.#deadlineOf(session), session });
    }
    return expired;
  }

  #deadlineOf(session: R): number {
    const { idle, absolute } = this.deadlines(session);
    return Math.min(idle, absolute);
  }

  #indexPrincipal(session: R, principal: string): void {
    let held = this.#byPrincipal.get(principal);
    if (!held) this.#byPrincipal.set(principal, (held = new Set()));
    held.add(session);
  }

  /**
   * Entries of sessions that left wait in the queue until their deadline; when they outnumber
   * the live sessions the queue is rebuilt from the live ones (amortised: one rebuild per as many
   * removals as there are sessions), so churn cannot grow it without bound.
   */
  #compact(): void {
    if (this.#queue.length <= 2 * this.#byId.size + 64) return;
    this.#queue.clear();
    for (const session of this.#byId.values()) this.#queue.push({ at: this.#deadlineOf(session), session });
  }
}
