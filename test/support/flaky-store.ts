/**
 * A real express-session MemoryStore whose operations can be switched to fail or to hang,
 * and which emits 'disconnect' / 'connect' like connect-redis does when its client drops.
 */
import session, { type SessionData } from 'express-session';
import { isTombstone, makeTombstone, type EndReason, type GuardedSetResult, type GuardStoreExtensions, type TombstoneRecord, SessionConflictError } from '../../src/index.js';

/** `lost`: the operation is applied, then its answer is lost (the caller gets a time-out). */
export type FlakyMode = 'ok' | 'fail' | 'hang' | 'lost';
export type FlakyOperation = 'get' | 'set' | 'destroy' | 'touch';

type Callback = (err?: unknown, value?: unknown) => void;

interface Plan {
  op: FlakyOperation;
  /** Calls of `op` still to let through before this plan applies. */
  skip: number;
  mode: Exclude<FlakyMode, 'ok'>;
  /** Then every operation fails (`mode = 'fail'`) until `reconnect()`. */
  thenDown: boolean;
}

/** The error a dropped connection gives (what a Redis client reports). */
export function connectionError(): Error {
  return Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' });
}

export class FlakyStore extends session.MemoryStore {
  /** Applies to every operation not covered by a one-shot plan. */
  mode: FlakyMode = 'ok';
  readonly calls: Record<FlakyOperation, number> = { get: 0, set: 0, destroy: 0, touch: 0 };
  /** Operations left hanging; `releaseHung()` lets them complete. */
  readonly hung: Array<() => void> = [];
  readonly #plans: Plan[] = [];

  /** Makes the next call of `op` (after letting `after` calls through) fail or hang, once. */
  failNext(op: FlakyOperation, options: { after?: number; mode?: Exclude<FlakyMode, 'ok'>; thenDown?: boolean } = {}): void {
    this.#plans.push({ op, skip: options.after ?? 0, mode: options.mode ?? 'fail', thenDown: options.thenDown ?? false });
  }

  /** The connection drops: every operation fails, and listeners hear 'disconnect'. */
  disconnect(): void {
    this.mode = 'fail';
    this.emit('disconnect');
  }

  /** The connection is back: operations succeed, and listeners hear 'connect'. */
  reconnect(): void {
    this.mode = 'ok';
    this.emit('connect');
  }

  releaseHung(): void {
    for (const run of this.hung.splice(0)) run();
  }

  /** Every record the store holds, parsed, by id (tombstones included). */
  records(): Record<string, Record<string, unknown>> {
    const raw = (this as unknown as { sessions: Record<string, string> }).sessions;
    return Object.fromEntries(Object.entries(raw).map(([id, json]) => [id, JSON.parse(json) as Record<string, unknown>]));
  }

  #modeFor(op: FlakyOperation): FlakyMode {
    const index = this.#plans.findIndex((plan) => plan.op === op);
    const plan = this.#plans[index];
    if (plan) {
      if (plan.skip > 0) {
        plan.skip--;
        return this.mode;
      }
      this.#plans.splice(index, 1);
      if (plan.thenDown) this.mode = 'fail';
      return plan.mode;
    }
    return this.mode;
  }

  #run(op: FlakyOperation, callback: Callback | undefined, proceed: (callback?: Callback) => void): void {
    this.calls[op]++;
    const mode = this.#modeFor(op);
    if (mode === 'fail') {
      setImmediate(() => callback?.(connectionError()));
      return;
    }
    if (mode === 'lost') {
      // Applied; then the reply is lost, and the caller's deadline passes.
      proceed(() => setImmediate(() => callback?.(Object.assign(new Error('no reply within the deadline'), { code: 'ETIMEDOUT' }))));
      return;
    }
    if (mode === 'hang') {
      this.hung.push(() => proceed(callback));
      return;
    }
    proceed(callback);
  }

  override get(sid: string, callback: (err: unknown, session?: SessionData | null) => void): void {
    this.#run('get', callback as Callback, (cb) => super.get(sid, cb as typeof callback));
  }

  override set(sid: string, sess: SessionData, callback?: (err?: unknown) => void): void {
    this.#run('set', callback, (cb) => super.set(sid, sess, cb));
  }

  override destroy(sid: string, callback?: (err?: unknown) => void): void {
    this.#run('destroy', callback, (cb) => super.destroy(sid, cb));
  }

  override touch(sid: string, sess: SessionData, callback?: () => void): void {
    this.#run('touch', callback as Callback | undefined, (cb) => super.touch(sid, sess, cb as typeof callback));
  }
}

/**
 * A store that offers the guard's optional atomic extensions (`guardedSet`, `tombstone`,
 * `rename`) with the contract's semantics — as the Redis store does in Lua — over a MemoryStore.
 */
export class AtomicStore extends FlakyStore implements GuardStoreExtensions {
  readonly used = { guardedSet: 0, tombstone: 0, rename: 0 };

  get #sessions(): Record<string, string> {
    return (this as unknown as { sessions: Record<string, string> }).sessions;
  }

  #read(sid: string): unknown {
    const json = this.#sessions[sid];
    return json === undefined ? undefined : JSON.parse(json);
  }

  async guardedSet(sid: string, sess: SessionData): Promise<GuardedSetResult> {
    this.used.guardedSet++;
    if (isTombstone(this.#read(sid))) return 'tombstoned';
    this.#sessions[sid] = JSON.stringify(sess);
    return 'written';
  }

  async tombstone(sid: string, reason: EndReason, now: number, ttlMs: number, options: { ifExists?: boolean } = {}): Promise<TombstoneRecord | undefined> {
    this.used.tombstone++;
    const previous = this.#read(sid);
    if (previous === undefined && options.ifExists) return undefined;
    this.#sessions[sid] = JSON.stringify(makeTombstone(reason, now, ttlMs));
    return isTombstone(previous) ? previous : undefined;
  }

  async rename(oldId: string, newId: string, sess: SessionData, now: number, tombstoneTtlMs: number, options: { graceUntil?: number | undefined } = {}): Promise<void> {
    this.used.rename++;
    const old = this.#read(oldId);
    if (old === undefined) throw new SessionConflictError('missing');
    if (isTombstone(old)) throw new SessionConflictError('rotated');
    if (this.#read(newId) !== undefined) throw new SessionConflictError('new_exists');
    this.#sessions[newId] = JSON.stringify(sess);
    this.#sessions[oldId] = JSON.stringify(makeTombstone('rotated', now, tombstoneTtlMs, { successor: newId, graceUntil: options.graceUntil }));
  }
}
