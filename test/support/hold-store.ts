/**
 * A third-party store without the guard's atomic extensions whose replies can be held, as a
 * database store's replies arrive later than its reads were answered (connect-pg-simple,
 * connect-mongo...): `get` reads the record when called and delivers it when the test says;
 * `set` waits for the test before it writes.
 */
import session, { type SessionData } from 'express-session';
import { deferred, type Deferred } from '../helpers.js';

type Cb = (err?: unknown, s?: SessionData | null) => void;

export interface Hold {
  /** Resolves once the call arrived (with its sid). */
  arrived: Deferred<string>;
  /** Lets the call go on. */
  release: Deferred;
}

export function hold(): Hold {
  return { arrived: deferred<string>(), release: deferred() };
}

export class HoldStore extends session.Store {
  readonly map = new Map<string, string>();
  /** Holds the next get for which it answers a Hold. */
  getHook: ((sid: string) => Hold | undefined) | undefined;
  /** Holds the next set for which it answers a Hold. */
  setHook: ((sid: string, sess: Record<string, unknown>) => Hold | undefined) | undefined;
  failSet: ((sid: string, sess: Record<string, unknown>) => unknown) | undefined;

  override get(sid: string, cb: Cb): void {
    const json = this.map.get(sid);
    const rec = json === undefined ? null : (JSON.parse(json) as SessionData);
    const h = this.getHook?.(sid);
    if (!h) return void setImmediate(() => cb(null, rec));
    this.getHook = undefined;
    h.arrived.resolve(sid);
    void h.release.promise.then(() => cb(null, rec));
  }

  override set(sid: string, sess: SessionData, cb?: (err?: unknown) => void): void {
    const h = this.setHook?.(sid, sess as unknown as Record<string, unknown>);
    const write = () => {
      const err = this.failSet?.(sid, sess as unknown as Record<string, unknown>);
      if (err) return cb?.(err);
      this.map.set(sid, JSON.stringify(sess));
      cb?.();
    };
    if (!h) return void setImmediate(write);
    this.setHook = undefined;
    h.arrived.resolve(sid);
    void h.release.promise.then(write);
  }

  override destroy(sid: string, cb?: (err?: unknown) => void): void {
    this.map.delete(sid);
    setImmediate(() => cb?.());
  }
}
