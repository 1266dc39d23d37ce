import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import session, { type SessionData } from 'express-session';
import { MemorySessionIndex } from '../../src/index.js';
import { FlakyStore } from '../support/flaky-store.js';
import { buildApp, https, loginWith, request, setCookie } from '../helpers.js';

/** A plain Store (no atomic extensions) with real latency, like a SQL or document store. */
class SlowStore extends session.Store {
  readonly #inner = new session.MemoryStore();
  constructor(private readonly latencyMs: number) {
    super();
  }
  get(sid: string, cb: (err: unknown, s?: SessionData | null) => void): void {
    setTimeout(() => this.#inner.get(sid, cb), this.latencyMs);
  }
  set(sid: string, s: SessionData, cb?: (err?: unknown) => void): void {
    setTimeout(() => this.#inner.set(sid, s, cb), this.latencyMs);
  }
  destroy(sid: string, cb?: (err?: unknown) => void): void {
    setTimeout(() => this.#inner.destroy(sid, cb), this.latencyMs);
  }
}

describe('GuardedStore under races and failures', () => {
  it('a save in flight while the user logs out cannot revive the logged-out id on a store without atomic extensions', async () => {
    const { app, audit } = buildApp({ store: new SlowStore(15) as never, index: new MemorySessionIndex() });
    const cookie = setCookie(await loginWith(app, undefined).expect(200)) as string;
    const write = https(request(app).post('/cart')).set('Cookie', cookie).send({ item: 'book' }).then((r) => r);
    const logout = https(request(app).post('/logout')).set('Cookie', cookie).then((r) => r);
    const [w, l] = await Promise.all([write, logout]);
    assert.ok(w.status < 500 && l.status === 204, `cart ${w.status}, logout ${l.status}`);
    const replay = await https(request(app).get('/me')).set('Cookie', cookie);
    assert.equal(replay.status, 401, 'the logged-out id stays dead');
    assert.ok(audit.of('insecure_configuration').some((e) => /atomic/.test(e.reason ?? '')), 'the non-atomic store is reported at startup');
  });

  it('a save that fails at the end of the request answers 503 instead of telling the client it worked', async () => {
    const store = new FlakyStore();
    const { app } = buildApp({ store: store as never, index: new MemorySessionIndex() });
    const cookie = setCookie(await https(request(app).get('/')).expect(200)) as string;
    store.failNext('set');
    const res = await https(request(app).post('/cart')).set('Cookie', cookie).send({ item: 'book' });
    assert.equal(res.status, 503);
    assert.equal(res.body.error.code, 'SESSION_STORE_UNAVAILABLE');
    assert.equal(res.headers['retry-after'], '5');
    assert.equal(setCookie(res), undefined, 'no cookie for a session that was not stored');
    const after = await https(request(app).get('/session-data')).set('Cookie', cookie).expect(200);
    assert.equal(after.body.cart, null);
  });

  it("a first visit whose session cannot be stored is refused, not answered with a cookie for nothing", async () => {
    const store = new FlakyStore();
    const { app } = buildApp({ store: store as never, index: new MemorySessionIndex() });
    store.failNext('get');
    const res = await https(request(app).get('/'));
    assert.equal(res.status, 503);
    assert.equal(setCookie(res), undefined);
  });

  it('storeTimeout holds even when the store has a longer deadline of its own', async () => {
    const store = Object.assign(new FlakyStore(), { operationTimeoutMs: 60_000 });
    const { app } = buildApp({ store: store as never, index: new MemorySessionIndex(), storeTimeout: '50ms' });
    const cookie = setCookie(await https(request(app).get('/')).expect(200)) as string;
    store.mode = 'hang';
    const started = Date.now();
    await https(request(app).get('/me')).set('Cookie', cookie).expect(503);
    assert.ok(Date.now() - started < 5_000, 'answered at the guard deadline, not the store one');
    store.mode = 'ok';
    store.releaseHung();
  });

  it("the store's own error text (hosts, keys) never reaches the response body", async () => {
    const store = new FlakyStore();
    const { app } = buildApp({ store: store as never, index: new MemorySessionIndex() });
    const cookie = setCookie(await https(request(app).get('/')).expect(200)) as string;
    store.mode = 'fail';
    const res = await https(request(app).get('/me')).set('Cookie', cookie).expect(503);
    assert.doesNotMatch(JSON.stringify(res.body), /ECONNREFUSED|127\.0\.0\.1|6379/);
    assert.equal(res.body.error.message, 'The session store is unavailable; try again shortly.');
  });
});
