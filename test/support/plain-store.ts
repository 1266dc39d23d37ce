/**
 * A plain third-party-style express-session Store, like connect-pg-simple or connect-mongo:
 * only `get`, `set` and `destroy` (no `touch`, no `rename`, no atomic guard extensions), over
 * an in-memory map of JSON strings, each record living until its `cookie.expires`. Every call
 * answers asynchronously, as a database round trip would.
 *
 * For assertions it lists its raw records, and any future call can be made to fail once.
 */
import session, { type SessionData } from 'express-session';
import { isTombstone } from '../../src/index.js';
import { connectionError } from './flaky-store.js';

export type PlainOperation = 'get' | 'set' | 'destroy';

type Callback = (err?: unknown) => void;

interface StoredRecord {
  json: string;
  /** Epoch milliseconds (the real clock, as a database TTL would use); undefined = no expiry. */
  expiresAt: number | undefined;
}

interface FailurePlan {
  op: PlainOperation;
  /** Matching calls still to let through before this plan fails one. */
  skip: number;
  /** Only calls this accepts count (e.g. only the `set` of a record that has some key). */
  when: ((sid: string, record: Record<string, unknown> | undefined) => boolean) | undefined;
}

export interface FailOptions {
  /** Matching calls to let through first: `after: 2` fails the third. The default value is 0. */
  after?: number;
  /** Only calls for which this returns true are counted and failed. The default value is every call. */
  when?: (sid: string, record: Record<string, unknown> | undefined) => boolean;
}

export class PlainStore extends session.Store {
  readonly #records = new Map<string, StoredRecord>();
  readonly #plans: FailurePlan[] = [];
  /** How many times each operation was called (failed calls included). */
  readonly calls: Record<PlainOperation, number> = { get: 0, set: 0, destroy: 0 };

  /** Makes one future call of `op` fail with a connection error (nothing is changed by it). */
  failNext(op: PlainOperation, options: FailOptions = {}): void {
    this.#plans.push({ op, skip: options.after ?? 0, when: options.when });
  }

  /** Makes the `n`-th future `set` (1 = the next one) fail once. */
  failNthSet(n: number): void {
    if (!Number.isInteger(n) || n < 1)
      throw new RangeError(`PlainStore#failNthSet: n must be a positive integer; got ${n}`);
    this.failNext('set', { after: n - 1 });
  }

  /** Failure plans armed but not yet used. */
  get pendingFailures(): number {
    return this.#plans.length;
  }

  /** Every unexpired record, parsed, by id (tombstones included). */
  records(): Record<string, Record<string, unknown>> {
    const out: Record<string, Record<string, unknown>> = {};
    for (const id of [...this.#records.keys()]) {
      const record = this.#read(id);
      if (record !== undefined) out[id] = record;
    }
    return out;
  }

  /** How many unexpired records the store holds (tombstones included). */
  get size(): number {
    return Object.keys(this.records()).length;
  }

  /** Ids of the unexpired records that are sessions, not tombstones. */
  liveIds(): string[] {
    return Object.entries(this.records())
      .filter(([, record]) => !isTombstone(record))
      .map(([id]) => id);
  }

  /** The parsed record under `sid`, if any and unexpired. */
  record(sid: string): Record<string, unknown> | undefined {
    return this.#read(sid);
  }

  #read(sid: string): Record<string, unknown> | undefined {
    const stored = this.#records.get(sid);
    if (!stored) return undefined;
    if (stored.expiresAt !== undefined && stored.expiresAt <= Date.now()) {
      this.#records.delete(sid);
      return undefined;
    }
    return JSON.parse(stored.json) as Record<string, unknown>;
  }

  /** Whether this call is the one a plan fails (consuming the plan). */
  #fails(op: PlainOperation, sid: string, record: Record<string, unknown> | undefined): boolean {
    for (const [i, plan] of this.#plans.entries()) {
      if (plan.op !== op || (plan.when && !plan.when(sid, record))) continue;
      if (plan.skip > 0) {
        plan.skip--;
        return false;
      }
      this.#plans.splice(i, 1);
      return true;
    }
    return false;
  }

  override get(sid: string, callback: (err: unknown, session?: SessionData | null) => void): void {
    this.calls.get++;
    const failed = this.#fails('get', sid, undefined);
    setImmediate(() => {
      if (failed) return callback(connectionError());
      callback(null, (this.#read(sid) as SessionData | undefined) ?? null);
    });
  }

  override set(sid: string, sess: SessionData, callback?: Callback): void {
    this.calls.set++;
    // Serialised now, as a driver would: later changes to the object are not stored.
    const json = JSON.stringify(sess);
    const failed = this.#fails('set', sid, JSON.parse(json) as Record<string, unknown>);
    const expires = sess.cookie?.expires;
    const expiresAt = expires ? new Date(expires).getTime() : undefined;
    setImmediate(() => {
      if (failed) return callback?.(connectionError());
      if (expiresAt !== undefined && expiresAt <= Date.now()) this.#records.delete(sid);
      else this.#records.set(sid, { json, expiresAt });
      callback?.();
    });
  }

  override destroy(sid: string, callback?: Callback): void {
    this.calls.destroy++;
    const failed = this.#fails('destroy', sid, undefined);
    setImmediate(() => {
      if (failed) return callback?.(connectionError());
      this.#records.delete(sid);
      callback?.();
    });
  }
}
