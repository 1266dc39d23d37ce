/**
 * A generic Proxy around a session store (or a session index) that hands every method call to
 * a fast-check scheduler before it reaches the real object, and can make the next write fail
 * once. Nothing is hard-coded about the wrapped object: every function property is wrapped
 * (callback-style `get`/`set`/`destroy`/`touch` as well as promise-returning extensions such as
 * `guardedSet`/`tombstone`/`rename` or whatever the store grows next); EventEmitter methods
 * and plain properties pass straight through, so `on('disconnect')` and feature detection
 * (`typeof store.rename === 'function'`, `operationTimeoutMs`) see the real store.
 */
import { EventEmitter } from 'node:events';
import type fc from 'fast-check';

/** Methods that only read; every other method counts as a write (for failure injection). */
const READ_METHODS = new Set(['get', 'all', 'length', 'list', 'touch', 'readRaw']);
/**
 * Synchronous helpers (express-session's Store base class, the store's id minting, an in-process
 * index's synchronous steps): scheduling them would break them (a predicate passed last would
 * be taken for a callback).
 */
const SYNCHRONOUS_METHODS = new Set(['createSession', 'generate', 'constructor', 'sessionIdFor', 'ownsSessionsOf', 'pruneNow', 'refusesLogin', 'enterLogin', 'removeNow', 'renameNow']);

export interface FailurePlan {
  /** Writes of the wrapped object to let through before one fails. */
  skip: number;
  /** The write is applied, then its reply is lost (a time-out): its outcome is unknown to the caller. */
  lost: boolean;
}

/** What a caller sees when a write's reply is lost: its deadline passed (the write may have landed). */
export function lostReply(): Error {
  return Object.assign(new Error('no reply within the deadline (injected by the model test; the write was applied)'), { code: 'ETIMEDOUT' });
}

/** The error a dropped connection gives. */
export function injectedFailure(): Error {
  return Object.assign(
    new Error('connect ECONNREFUSED 127.0.0.1:6379 (injected by the model test)'),
    { code: 'ECONNREFUSED' },
  );
}

function describeArg(arg: unknown): string {
  if (typeof arg === 'string') return arg.length > 10 ? `${arg.slice(0, 8)}…` : arg;
  if (typeof arg === 'number') return String(arg);
  if (typeof arg === 'function') return 'cb';
  if (arg && typeof arg === 'object') {
    const state = (arg as { fixationGuard?: { principal?: string } }).fixationGuard;
    if (state?.principal) return `{${state.principal}}`;
    if ('fixationGuardTombstone' in arg) return '{tombstone}';
    return '{…}';
  }
  return String(arg);
}

/**
 * A store driver serialises its arguments when it is called; a call held back by the
 * scheduler must not see later changes to the session object, so plain objects are copied
 * through JSON at call time (Cookie objects serialise to what the stores read back).
 */
function snapshot(arg: unknown): unknown {
  if (arg === null || typeof arg !== 'object' || arg instanceof Date || Buffer.isBuffer(arg))
    return arg;
  return JSON.parse(JSON.stringify(arg)) as unknown;
}

/**
 * Owns the interleaving of one run: `scheduler` is set only while a concurrent command runs
 * (sequential commands and the invariant checks call straight through), and `busy` counts
 * real calls released but not yet answered, so the driver knows when the system is quiet.
 */
export class Interleaver {
  scheduler: fc.Scheduler | undefined;
  /** Real calls in flight (released by the scheduler, or unscheduled, not yet answered). */
  busy = 0;
  /** Writes made through each wrapped object, by name. */
  readonly writes = new Map<string, number>();
  readonly #plans = new Map<string, FailurePlan>();
  #injected = 0;

  /**
   * Makes one future write of the object wrapped as `name` fail (after `skip` writes): refused
   * before it reaches the store, or, with `lost`, applied and its reply lost.
   */
  failNextWrite(name: string, skip = 0, lost = false): void {
    this.#plans.set(name, { skip, lost });
  }

  /** Drops a failure that was armed but never used; returns how many failures were injected since the last call. */
  disarm(): number {
    this.#plans.clear();
    const injected = this.#injected;
    this.#injected = 0;
    return injected;
  }

  writesOf(name: string): number {
    return this.writes.get(name) ?? 0;
  }

  #shouldFail(name: string, method: string): 'refused' | 'lost' | undefined {
    if (READ_METHODS.has(method)) return undefined;
    this.writes.set(name, this.writesOf(name) + 1);
    const plan = this.#plans.get(name);
    if (!plan) return undefined;
    if (plan.skip > 0) {
      plan.skip--;
      return undefined;
    }
    this.#plans.delete(name);
    this.#injected++;
    return plan.lost ? 'lost' : 'refused';
  }

  /** The wrapped `target`. Calls on the returned object are scheduled; the target itself is not. */
  wrap<T extends object>(target: T, name: string): T {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const interleaver = this;
    return new Proxy(target, {
      get(obj, property) {
        const value: unknown = Reflect.get(obj, property, obj);
        if (typeof value !== 'function' || typeof property === 'symbol') return value;
        const method = property;
        const fn = value as (...args: unknown[]) => unknown;
        if (SYNCHRONOUS_METHODS.has(method) || method in EventEmitter.prototype)
          return fn.bind(obj);
        return function scheduledCall(...args: unknown[]): unknown {
          return interleaver.#call(obj, name, method, fn, args);
        };
      },
    });
  }

  #call(
    target: object,
    name: string,
    method: string,
    fn: (...args: unknown[]) => unknown,
    args: unknown[],
  ): unknown {
    const last = args.length - 1;
    const callback =
      typeof args[last] === 'function' ? (args[last] as (...a: unknown[]) => void) : undefined;
    const scheduler = this.scheduler;
    const callArgs = scheduler
      ? args.map((arg, i) => (i === last && callback ? arg : snapshot(arg)))
      : args;
    const run = (): unknown => {
      const failure = this.#shouldFail(name, method);
      if (failure === 'lost') {
        // Applied for real; the caller only ever hears a time-out.
        this.busy++;
        if (callback) {
          callArgs[last] = () => {
            this.busy--;
            setImmediate(() => callback(lostReply()));
          };
          fn.apply(target, callArgs);
          return undefined;
        }
        const lost = (): Promise<never> => {
          this.busy--;
          return Promise.reject(lostReply());
        };
        return Promise.resolve(fn.apply(target, callArgs)).then(lost, lost);
      }
      if (failure === 'refused') {
        if (callback) {
          setImmediate(() => callback(injectedFailure()));
          return undefined;
        }
        return Promise.reject(injectedFailure());
      }
      this.busy++;
      let settled = false;
      const done = (): void => {
        if (settled) return;
        settled = true;
        this.busy--;
      };
      if (callback) {
        callArgs[last] = (...results: unknown[]) => {
          done();
          callback(...results);
        };
      }
      try {
        const result = fn.apply(target, callArgs);
        if (!callback) {
          if (result && typeof (result as Promise<unknown>).then === 'function')
            (result as Promise<unknown>).then(done, done);
          else done();
        }
        return result;
      } catch (err) {
        done();
        throw err;
      }
    };
    if (!scheduler) return run();
    const label = `${name}.${method}(${args
      .filter((a) => typeof a !== 'function')
      .map(describeArg)
      .join(', ')})`;
    const released = scheduler.schedule(Promise.resolve(), label);
    if (callback) {
      released.then(run).catch((err: unknown) => callback(err));
      return undefined;
    }
    return released.then(run);
  }
}

/** A request that has not answered after this long (real time) is stuck: fail instead of hanging the test. */
const STUCK_AFTER_MS = 20_000;

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Waits until the system stands still: no real store call in flight and the set of calls
 * waiting on the scheduler unchanged over two short timer ticks (HTTP parsing, Redis round
 * trips and the unscheduled index calls all finish well within them on loopback).
 */
async function quiet(
  interleaver: Interleaver,
  scheduler: fc.Scheduler,
  done: () => boolean,
): Promise<void> {
  let last = -1;
  let stable = 0;
  while (stable < 2 && !done()) {
    await delay(2);
    const count = scheduler.count();
    if (interleaver.busy === 0 && count === last) stable++;
    else stable = 0;
    last = count;
  }
}

/**
 * Runs concurrent requests with their store calls released one at a time, each time the
 * system is quiet, in the order the scheduler draws: every request first runs as far as it can
 * without the store, so at each step all blocked calls compete, and the drawn order (hence the
 * interleaving) is reproducible from the seed. Resolves once every request has answered and no
 * call is left waiting.
 */
export async function runInterleaved<T>(
  interleaver: Interleaver,
  scheduler: fc.Scheduler,
  start: () => Array<Promise<T>>,
): Promise<Array<PromiseSettledResult<T>>> {
  interleaver.scheduler = scheduler;
  let finished = false;
  const all = Promise.allSettled(start()).then((results) => {
    finished = true;
    return results;
  });
  const deadline = Date.now() + STUCK_AFTER_MS;
  try {
    for (;;) {
      if (Date.now() > deadline)
        throw new Error(
          `concurrent requests still unanswered after ${STUCK_AFTER_MS} ms; waiting store calls: ${scheduler.count()}\n${String(scheduler)}`,
        );
      await quiet(interleaver, scheduler, () => finished);
      if (finished) break;
      if (scheduler.count() > 0) await scheduler.waitNext(1);
      else await Promise.race([all, delay(5)]);
    }
  } finally {
    interleaver.scheduler = undefined;
  }
  // Work a request left behind after answering (a fire-and-forget destroy) must not hang.
  while (scheduler.count() > 0) await scheduler.waitNext(1);
  while (interleaver.busy > 0) await delay(1);
  return await all;
}
