/**
 * `maxSessionsPerUser` with `rejectLogin` where a login is stepwise on an in-process index
 * (`MemorySessionIndex`): a session that ended without a logout (its record expired in the
 * store: the browser never came back) stops counting against the limit, as the one-step login
 * of the default MemoryStore and the Redis admission script prune it. Before, the stepwise
 * reserve never looked at the store, and such a session refused every later login. Two setups:
 *  - a third-party store with `index: new MemorySessionIndex()`, logging in with `req.login`;
 *  - the guard's default MemoryStore, logging in through a regenerated session (passport).
 * And a regenerated login whose write failed leaves no reservation behind.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import session, { type SessionData } from 'express-session';
import { MemorySessionIndex } from '../../src/index.js';
import { anonymousCookie, buildApp, https, idOf, loginWith, request, setCookie, regeneratedLoginRoute } from '../helpers.js';

/** A minimal third-party store: records in a Map, dropped when their cookie expires (as most stores' TTL does). */
class MapStore extends session.Store {
  readonly map = new Map<string, string>();
  override get(sid: string, cb: (err: unknown, s?: SessionData | null) => void): void {
    const json = this.map.get(sid);
    if (json === undefined) return cb(null, null);
    const rec = JSON.parse(json) as SessionData;
    const expires = (rec.cookie as { expires?: string } | undefined)?.expires;
    if (expires && Date.parse(expires) <= Date.now()) {
      this.map.delete(sid);
      return cb(null, null);
    }
    cb(null, rec);
  }
  failSets = false;
  override set(sid: string, sess: SessionData, cb?: (err?: unknown) => void): void {
    // A refused command (provably nothing written), for the authenticated record's write only
    // (the regenerate's tombstone of the old id goes through).
    if (this.failSets && (sess as { passport?: unknown }).passport !== undefined) return cb?.(Object.assign(new Error('store down'), { code: 'ECONNREFUSED' }));
    this.map.set(sid, JSON.stringify(sess));
    cb?.();
  }
  override destroy(sid: string, cb?: (err?: unknown) => void): void {
    this.map.delete(sid);
    cb?.();
  }
}

describe('rejectLogin and sessions that expired without a logout (stepwise, in-process index)', () => {
  it('a third-party store with a MemorySessionIndex: an expired session does not refuse the next login', async () => {
    const store = new MapStore();
    const { app, clock } = buildApp({ store, index: new MemorySessionIndex(), maxSessionsPerUser: 1, onSessionLimit: 'rejectLogin' });
    const first = setCookie(await loginWith(app, await anonymousCookie(app), 'alice').expect(200)) as string;
    // The record expires in the store (its TTL): the browser never comes back.
    store.map.delete(idOf(first));
    // A day later, by the guard's clock.
    clock.advance(86_400_000);
    const again = await loginWith(app, await anonymousCookie(app), 'alice');
    assert.equal(again.status, 200, `alice is locked out by a session that no longer exists: ${again.status} ${again.body?.error?.code}`);
  });

  it("the default MemoryStore, logging in through a regenerated session (passport): an expired session does not refuse the next login", async () => {
    const { app, guard } = buildApp({ maxSessionsPerUser: 1, onSessionLimit: 'rejectLogin' }, regeneratedLoginRoute);
    const res = await https(request(app).post('/passport-login')).set('Cookie', await anonymousCookie(app)).send({ username: 'bob' }).expect(200);
    const first = setCookie(res) as string;
    // The record expires in the MemoryStore (its cookie's expiry passed): the browser never comes back.
    const sessions = (guard.store as unknown as { inner: { sessions: Record<string, string> } }).inner.sessions;
    const rec = JSON.parse(sessions[idOf(first)] as string);
    rec.cookie.expires = new Date(Date.now() - 1000).toISOString();
    sessions[idOf(first)] = JSON.stringify(rec);
    const again = await https(request(app).post('/passport-login')).set('Cookie', await anonymousCookie(app)).send({ username: 'bob' });
    assert.equal(again.status, 200, `bob is locked out by a session that no longer exists: ${again.status} ${again.body?.error?.code}`);
  });

  it('a third-party store with a MemorySessionIndex: a regenerated (passport) login whose write failed leaves no reservation that refuses every later login', async () => {
    const store = new MapStore();
    const { app } = buildApp({ store, index: new MemorySessionIndex(), maxSessionsPerUser: 1, onSessionLimit: 'rejectLogin' }, regeneratedLoginRoute);
    const anon = await anonymousCookie(app);
    store.failSets = true;
    const failed = await https(request(app).post('/passport-login')).set('Cookie', anon).send({ username: 'carol' });
    assert.equal(failed.status, 503, JSON.stringify(failed.body));
    store.failSets = false;
    // The store is back: carol logs in (either way).
    const viaLogin = await loginWith(app, await anonymousCookie(app), 'carol');
    assert.equal(viaLogin.status, 200, `carol is locked out by the reservation of a login that failed (nothing was written): ${viaLogin.status} ${viaLogin.body?.error?.code}`);
  });
});
