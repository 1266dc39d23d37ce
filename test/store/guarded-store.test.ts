import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import http from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import session from 'express-session';
import onHeaders from 'on-headers';
import { guarded, isTombstone, ManualClock, memorySink, sessionGuard, SessionStoreUnavailableError, type GuardState } from '../../src/index.js';
import { AtomicStore, FlakyStore } from '../support/flaky-store.js';
import { anonymousCookie, buildApp, deferred, https, idOf, login, loginWith, me, request, SECRET, setCookie } from '../helpers.js';

function flakyApp(options: Parameters<typeof buildApp>[0] = {}, extra?: Parameters<typeof buildApp>[1]) {
  const store = new FlakyStore();
  return { ...buildApp({ store, ...options }, extra), store };
}

/** Records in the inner store that carry an authentication. */
function authenticatedRecords(store: FlakyStore): string[] {
  return Object.entries(store.records())
    .filter(([, record]) => (record.fixationGuard as GuardState | undefined)?.principal !== undefined)
    .map(([id]) => id);
}

function assertUnavailable(res: request.Response): void {
  assert.equal(res.status, 503, `expected 503, got ${res.status} ${JSON.stringify(res.body)}`);
  assert.equal(res.body.error.code, 'SESSION_STORE_UNAVAILABLE');
  assert.equal(res.headers['retry-after'], '5');
  assert.equal(res.headers['cache-control'], 'no-store');
  assert.match(res.headers['content-type'] ?? '', /application\/json/);
}

describe('GuardedStore', () => {
  describe('fail closed', () => {
    it('plain express-session fails open: after the store emits disconnect, requests are served with no session at all (the attack works)', async () => {
      const store = new FlakyStore();
      const app = express();
      app.use(session({ secret: SECRET, store, resave: false, saveUninitialized: false, name: 'sid' }));
      app.get('/', (req, res) => {
        req.session.visits = 1;
        res.json({});
      });
      app.get('/whoami', (req, res) => res.json({ session: req.session ? 'present' : 'missing' }));
      const cookie = setCookie(await request(app).get('/').expect(200), 'sid') as string;
      store.disconnect();
      const res = await request(app).get('/whoami').set('Cookie', cookie).expect(200);
      assert.deepEqual(res.body, { session: 'missing' }, 'the request proceeded without its session');
    });

    it('with the guard, a disconnected store answers 503 SESSION_STORE_UNAVAILABLE with Retry-After, never an anonymous or unauthenticated answer', async () => {
      const { app, store, audit } = flakyApp({}, (a) => a.get('/whoami', (req, res) => res.json({ session: req.session ? 'present' : 'missing' })));
      const cookie = setCookie(await loginWith(app, undefined).expect(200)) as string;
      store.disconnect();
      assertUnavailable(await https(request(app).get('/whoami')).set('Cookie', cookie));
      assertUnavailable(await https(request(app).get('/me')).set('Cookie', cookie));
      assertUnavailable(await https(request(app).get('/session-data')).set('Cookie', cookie));
      assert.equal(audit.of('store_unavailable').length, 1, 'the outage is audited once, not once per request');
      assert.equal(audit.of('store_unavailable')[0]?.reason, 'disconnect');
      assert.equal(audit.of('store_unavailable')[0]?.severity, 'error');
    });

    it('a disconnect event alone is never forwarded to express-session: while operations still succeed, requests keep their session', async () => {
      const { app, store, audit } = flakyApp();
      const cookie = setCookie(await loginWith(app, undefined).expect(200)) as string;
      store.emit('disconnect');
      const res = await https(request(app).get('/me')).set('Cookie', cookie).expect(200);
      assert.equal(res.body.user, 'alice');
      assert.deepEqual(audit.events.filter((e) => e.type.startsWith('store_')).map((e) => e.type), ['store_unavailable', 'store_recovered']);
    });

    it('a store error on get (no disconnect event) answers 503 and audits the error code', async () => {
      const { app, store, audit } = flakyApp();
      const cookie = await anonymousCookie(app);
      store.failNext('get');
      assertUnavailable(await https(request(app).get('/session-data')).set('Cookie', cookie));
      assert.deepEqual(audit.of('store_unavailable').map((e) => [e.reason, e.detail?.error]), [['get', 'ECONNREFUSED']]);
    });

    it('a login while the store is down fails with 503 and hands out no cookie', async () => {
      const { app, store, guard } = flakyApp();
      store.disconnect();
      const res = await loginWith(app, undefined).expect(503);
      assert.equal(res.body.error.code, 'SESSION_STORE_UNAVAILABLE');
      assert.equal(setCookie(res), undefined);
      store.reconnect();
      assert.deepEqual(await guard.store.options.index.list('alice'), [], 'the index holds no half-made login');
      assert.deepEqual(authenticatedRecords(store), []);
    });

    it('a hanging store times out after `storeTimeout` and answers 503', async () => {
      const { app, store, audit } = flakyApp({ storeTimeout: 30 });
      const cookie = await anonymousCookie(app);
      store.mode = 'hang';
      const started = Date.now();
      assertUnavailable(await https(request(app).get('/session-data')).set('Cookie', cookie));
      assert.ok(Date.now() - started < 2_000, 'answered promptly, not after the default 5 s');
      assert.equal(store.hung.length, 1);
      assert.deepEqual(audit.of('store_unavailable').map((e) => [e.reason, e.detail?.error]), [['get', 'ETIMEDOUT']]);
    });

    it('service resumes by itself: the next successful call audits store_recovered and the session is intact', async () => {
      const { app, store, audit } = flakyApp();
      const cookie = await anonymousCookie(app);
      await https(request(app).post('/cart')).set('Cookie', cookie).send({ item: 'book' }).expect(200);
      store.disconnect();
      await https(request(app).get('/session-data')).set('Cookie', cookie).expect(503);
      await https(request(app).get('/session-data')).set('Cookie', cookie).expect(503);
      store.mode = 'ok'; // no 'connect' event: the guard notices by itself
      const res = await https(request(app).get('/session-data')).set('Cookie', cookie).expect(200);
      assert.deepEqual(res.body.cart, ['book']);
      assert.deepEqual(audit.events.filter((e) => e.type.startsWith('store_')).map((e) => e.type), ['store_unavailable', 'store_recovered']);
    });

    it("a 'connect' event marks the store available again", async () => {
      const { app, store, audit, guard } = flakyApp();
      const cookie = await anonymousCookie(app);
      store.disconnect();
      assert.equal(guard.store.available, false);
      store.reconnect();
      assert.equal(guard.store.available, true);
      assert.equal(audit.of('store_recovered').length, 1);
      await https(request(app).get('/session-data')).set('Cookie', cookie).expect(200);
    });

    it("with errorResponse: 'next', the 503 goes to the app's error handler as a SessionStoreUnavailableError", async () => {
      const store = new FlakyStore();
      let seen: unknown;
      const app = express();
      app.use(sessionGuard({ secret: SECRET, store, errorResponse: 'next', trustProxy: true }));
      app.get('/', (req, res) => {
        req.session.visits = 1;
        res.json({});
      });
      app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
        seen = err;
        res.status(599).end();
      });
      const cookie = await anonymousCookie(app);
      store.disconnect();
      await https(request(app).get('/')).set('Cookie', cookie).expect(599);
      assert.ok(seen instanceof SessionStoreUnavailableError);
      assert.equal((seen as SessionStoreUnavailableError).status, 503);
      assert.equal((seen as SessionStoreUnavailableError).name, 'SessionStoreUnavailableError');
    });

    it('a save that fails after the response has started is audited, not swallowed', async () => {
      const { app, store, audit } = flakyApp();
      const cookie = await anonymousCookie(app);
      store.failNext('set');
      await https(request(app).post('/cart')).set('Cookie', cookie).send({ item: 'book' });
      assert.equal(audit.of('store_unavailable').length, 1);
      assert.equal(audit.of('store_unavailable')[0]?.reason, 'set');
    });
  });

  describe('login is all or nothing', () => {
    it('a store failure while writing the new record leaves the pre-login session intact, usable and unauthenticated', async () => {
      const { app, store, guard } = flakyApp();
      const before = await anonymousCookie(app);
      await https(request(app).post('/cart')).set('Cookie', before).send({ item: 'book' }).expect(200);
      const idsBefore = Object.keys(store.records()).sort();
      store.failNext('set');
      const failed = await loginWith(app, before).expect(503);
      assert.equal(failed.body.error.code, 'SESSION_STORE_UNAVAILABLE');
      assert.equal(setCookie(failed), undefined, 'no new cookie is handed out');
      // The old id still works, with its data, and is not authenticated.
      const data = await https(request(app).get('/session-data')).set('Cookie', before).expect(200);
      assert.deepEqual(data.body.cart, ['book']);
      const me = await https(request(app).get('/me')).set('Cookie', before).expect(401);
      assert.equal(me.body.error.code, 'UNAUTHENTICATED');
      // Nowhere an authenticated record, and no stray record or tombstone.
      assert.deepEqual(authenticatedRecords(store), []);
      assert.deepEqual(Object.keys(store.records()).sort(), idsBefore);
      assert.ok(!isTombstone(await guard.store.readRaw(idOf(before))));
      assert.deepEqual(await guard.store.options.index.list('alice'), []);
      // And the user simply retries.
      const retried = setCookie(await loginWith(app, before).expect(200)) as string;
      assert.notEqual(idOf(retried), idOf(before));
      await https(request(app).get('/me')).set('Cookie', retried).expect(200);
      await https(request(app).get('/me')).set('Cookie', before).expect(401);
    });

    it('a store failure while tombstoning the old id undoes the new record: never two live ids, never an authenticated orphan', async () => {
      const { app, store, guard } = flakyApp();
      const before = await anonymousCookie(app);
      await https(request(app).post('/cart')).set('Cookie', before).send({ item: 'book' }).expect(200);
      // set #1 writes the new record, set #2 (the tombstone of the old id) fails.
      store.failNext('set', { after: 1 });
      await loginWith(app, before).expect(503);
      const records = store.records();
      const others = Object.entries(records).filter(([id]) => id !== idOf(before));
      assert.equal(others.length, 1, 'exactly one other record: the undone new id');
      const [, undone] = others[0] as [string, Record<string, unknown>];
      assert.ok(isTombstone(undone), 'the new record was replaced by a tombstone');
      assert.equal(undone.fixationGuardTombstone.reason, 'destroyed');
      assert.deepEqual(authenticatedRecords(store), []);
      assert.deepEqual(await guard.store.options.index.list('alice'), []);
      const data = await https(request(app).get('/session-data')).set('Cookie', before).expect(200);
      assert.deepEqual(data.body.cart, ['book']);
      await https(request(app).get('/me')).set('Cookie', before).expect(401);
    });

    it('a store that writes the new record and loses the reply: 503, and the new id is ended at once — never a live, listed orphan', async () => {
      const { app, store, guard } = flakyApp();
      const before = await anonymousCookie(app);
      await https(request(app).post('/cart')).set('Cookie', before).send({ item: 'book' }).expect(200);
      // The new record lands; its answer never comes.
      store.failNext('set', { mode: 'lost' });
      assert.equal((await loginWith(app, before).expect(503)).body.error.code, 'SESSION_STORE_UNAVAILABLE');
      assert.deepEqual(authenticatedRecords(store), [], 'no live authenticated record survives the 503');
      assert.deepEqual(await guard.store.options.index.list('alice'), []);
      assert.equal(guard.store.unsettled, 0, 'ended at once');
      // The pre-login session was never moved: it still works, unauthenticated.
      const data = await https(request(app).get('/session-data')).set('Cookie', before).expect(200);
      assert.deepEqual(data.body.cart, ['book']);
      await https(request(app).get('/me')).set('Cookie', before).expect(401);
    });

    it('a write with a lost reply whose end cannot be written yet is ended when the store is back', async () => {
      const { app, store, guard, audit } = flakyApp();
      const before = await anonymousCookie(app);
      // The new record lands and its answer is lost; then the store is down.
      store.failNext('set', { mode: 'lost', thenDown: true });
      assert.equal((await loginWith(app, before).expect(503)).body.error.code, 'SESSION_STORE_UNAVAILABLE');
      assert.equal(authenticatedRecords(store).length, 1, 'the landed record is still there');
      assert.equal(guard.store.unsettled, 1, 'waiting for the store');
      // The index (in this process) answered meanwhile: that is no news of the store. Before, it
      // reported the store back (store_recovered), retried at once, failed, and backed off.
      assert.deepEqual(audit.events.filter((e) => e.type.startsWith('store_')).map((e) => e.type), ['store_unavailable']);
      store.reconnect();
      // The retry is a timer (set by the reconnection): yield timer turns, not setImmediate turns
      // (a hundred of those can all run before a 1 ms timer is due, and the check then ran first).
      for (let i = 0; i < 100 && guard.store.unsettled > 0; i++) await new Promise((resolve) => setTimeout(resolve, 0));
      assert.equal(guard.store.unsettled, 0);
      assert.deepEqual(authenticatedRecords(store), []);
      assert.deepEqual(await guard.store.options.index.list('alice'), []);
      assert.deepEqual(audit.events.filter((e) => e.type.startsWith('write_outcome')).map((e) => e.type), ['write_outcome_unknown', 'write_outcome_settled']);
      for (const event of audit.events) assert.ok(!JSON.stringify(event).includes(idOf(before)), 'no raw id in any audit event');
    });

    it('a logout whose tombstone landed but whose reply was lost answers 503, and the id stays dead', async () => {
      const { app, store } = flakyApp();
      const cookie = setCookie(await loginWith(app, undefined).expect(200)) as string;
      store.failNext('set', { mode: 'lost' });
      assert.equal((await https(request(app).post('/logout')).set('Cookie', cookie).expect(503)).body.error.code, 'SESSION_STORE_UNAVAILABLE');
      await https(request(app).get('/me')).set('Cookie', cookie).expect(401);
      await https(request(app).post('/logout')).set('Cookie', cookie).expect(204);
    });

    it('a store failure during logout answers 503 and leaves the session alive rather than half-ended', async () => {
      const { app, store } = flakyApp();
      const cookie = setCookie(await loginWith(app, undefined).expect(200)) as string;
      store.failNext('set');
      await https(request(app).post('/logout')).set('Cookie', cookie).expect(503);
      await https(request(app).get('/me')).set('Cookie', cookie).expect(200);
      await https(request(app).post('/logout')).set('Cookie', cookie).expect(204);
      await https(request(app).get('/me')).set('Cookie', cookie).expect(401);
    });
  });

  describe("a store's atomic extensions", () => {
    it('login on a stored session moves it with one atomic rename; the old id becomes a tombstone', async () => {
      const store = new AtomicStore();
      const { app, guard } = buildApp({ store });
      const before = await anonymousCookie(app);
      const after = setCookie(await loginWith(app, before).expect(200)) as string;
      assert.equal(store.used.rename, 1);
      assert.ok(isTombstone(await guard.store.readRaw(idOf(before))));
      await https(request(app).get('/me')).set('Cookie', after).expect(200);
      await https(request(app).get('/me')).set('Cookie', before).expect(401);
    });

    it('a login on a request with no stored session yet (no cookie) works, although rename refuses a missing old record', async () => {
      const store = new AtomicStore();
      const { app } = buildApp({ store });
      const res = await loginWith(app, undefined).expect(200);
      const cookie = setCookie(res) as string;
      assert.ok(cookie);
      assert.equal((await https(request(app).get('/me')).set('Cookie', cookie).expect(200)).body.user, 'alice');
    });

    it('saves and ends go through guardedSet and tombstone, so a late save cannot revive a rotated id', async () => {
      const store = new AtomicStore();
      const { app, guard, audit } = buildApp({ store });
      const before = await anonymousCookie(app);
      assert.ok(store.used.guardedSet >= 1);
      const after = setCookie(await loginWith(app, before).expect(200)) as string;
      const refused = await new Promise<unknown>((resolve) =>
        guard.store.set(idOf(before), { cookie: { originalMaxAge: 1000 }, visits: 7 } as never, (err) => resolve(err)),
      );
      assert.equal((refused as { code?: string } | undefined)?.code, 'SESSION_CONFLICT', 'the late save is refused with a conflict');
      assert.ok(isTombstone(await guard.store.readRaw(idOf(before))));
      assert.equal(audit.of('resurrection_blocked').length, 1);
      await https(request(app).post('/logout')).set('Cookie', after).expect(204);
      assert.ok(store.used.tombstone >= 1);
    });
  });

  describe('tombstones', () => {
    it('a set under a tombstoned id is refused and audited as resurrection_blocked', async () => {
      const { app, guard, audit } = flakyApp();
      const before = await anonymousCookie(app);
      await loginWith(app, before).expect(200);
      const old = idOf(before);
      const refused = await new Promise<unknown>((resolve) =>
        guard.store.set(old, { cookie: { originalMaxAge: 1000 }, visits: 99 } as never, (err) => resolve(err)),
      );
      assert.equal((refused as { code?: string } | undefined)?.code, 'SESSION_CONFLICT', 'the late save is refused with a conflict');
      assert.ok(isTombstone(await guard.store.readRaw(old)));
      assert.equal(audit.of('resurrection_blocked').length, 1);
    });

    it('a destroyed id (express-session destroy()) is tombstoned too, and reported as such when presented', async () => {
      const { app, guard, audit } = flakyApp({}, (a) =>
        a.post('/destroy', (req, res, next) => req.session.destroy((err) => (err ? next(err) : res.status(204).end()))),
      );
      const cookie = await anonymousCookie(app);
      await https(request(app).post('/destroy')).set('Cookie', cookie).expect(204);
      const record = await guard.store.readRaw(idOf(cookie));
      assert.ok(isTombstone(record));
      assert.equal(record.fixationGuardTombstone.reason, 'destroyed');
      await https(request(app).get('/session-data')).set('Cookie', cookie).expect(200);
      assert.deepEqual(audit.of('rotated_session_id_presented').map((e) => e.reason), ['destroyed']);
    });

    it('live for `tombstoneTtl`, written as the record TTL the store enforces, then disappear', async () => {
      const { app, guard, store } = flakyApp({ tombstoneTtl: '1h' });
      const before = await anonymousCookie(app);
      await loginWith(app, before).expect(200);
      const old = idOf(before);
      const tombstone = store.records()[old] as { cookie: { originalMaxAge: number; expires: string } };
      assert.equal(tombstone.cookie.originalMaxAge, 3_600_000);
      const lifetime = Date.parse(tombstone.cookie.expires) - Date.now();
      assert.ok(lifetime > 3_590_000 && lifetime <= 3_600_000, `expires in ${lifetime} ms`);
      mock.timers.enable({ apis: ['Date'], now: Date.now() });
      try {
        mock.timers.tick(3_600_000 - 60_000);
        assert.ok(isTombstone(await guard.store.readRaw(old)), 'still refused a minute before the TTL');
        mock.timers.tick(120_000);
        assert.equal(await guard.store.readRaw(old), undefined, 'gone after the TTL');
      } finally {
        mock.timers.reset();
      }
    });

    it('default to the absolute timeout', async () => {
      const { app, store } = flakyApp({ absoluteTimeout: '2h' });
      const before = await anonymousCookie(app);
      await loginWith(app, before).expect(200);
      const tombstone = store.records()[idOf(before)] as { cookie: { originalMaxAge: number } };
      assert.equal(tombstone.cookie.originalMaxAge, 7_200_000);
    });
  });
});

describe('saves per request', () => {
  it('a first visit is saved once: express-session does not save again what the guard saved (the guard state goes in before its hash)', async () => {
    const { app, guard, audit } = buildApp({});
    const set = mock.method(guard.store, 'set');
    const first = await https(request(app).get('/')).expect(200);
    assert.ok(setCookie(first), 'the new session is sent');
    assert.equal(set.mock.callCount(), 1, 'one save reaches the store');
    const stored = await guard.store.readRaw(idOf(setCookie(first) as string));
    assert.ok(stored && typeof stored.fixationGuard === 'object', 'the record carries the guard state');
    assert.equal(audit.of('session_created').length, 1, 'audited once');
    // The next visit changes the session: one save again, and no new session is audited.
    await https(request(app).get('/')).set('Cookie', setCookie(first) as string).expect(200);
    assert.equal(set.mock.callCount(), 2);
    assert.equal(audit.of('session_created').length, 1);
  });

  it('authenticated reads save nothing while the session is unchanged (within the activity save\'s minute)', async () => {
    const { app, guard } = buildApp({});
    const cookie = await login(app);
    const set = mock.method(guard.store, 'set');
    for (let i = 0; i < 20; i++) await me(app, cookie).expect(200);
    assert.equal(set.mock.callCount(), 0, 'no save for an unchanged session');
  });

  it('a login saves nothing more as it answers: express-session\'s end is passed by for the session the login stored, and its cookie still goes out', async () => {
    const { app, guard } = buildApp({});
    const before = await anonymousCookie(app);
    const set = mock.method(guard.store, 'set');
    const res = await loginWith(app, before);
    assert.equal(res.status, 200);
    assert.equal(set.mock.callCount(), 0, 'no save reaches the store after the login stored the session');
    const after = setCookie(res);
    assert.ok(after && idOf(after) !== idOf(before), 'the new id is sent');
    const stored = await guard.store.readRaw(idOf(after));
    assert.ok(stored && typeof stored.fixationGuard === 'object', 'stored under the new id');
  });

  it('a login answers in one write: the body is not split around a save', async () => {
    const { app } = buildApp({});
    const before = await anonymousCookie(app);
    // express-session takes res.write per request: counted on the prototype it comes from.
    const write = mock.method(http.ServerResponse.prototype, 'write');
    try {
      const res = await loginWith(app, before);
      assert.equal(res.status, 200);
      assert.equal(write.mock.callCount(), 0, 'the whole body goes out with res.end');
    } finally {
      write.mock.restore();
    }
  });
});

/** The credential version the next test's app reports (its `credentialVersion` reads it). */
let version = 1;

describe('the end of a response after a login or a replaced session', () => {
  // A session the guard replaced (an idle timeout, changed credentials) is new and unsaved, with an
  // id that is not the cookie's, as a login's is: only the login's is stored as it is.
  for (const [name, ended] of [
    ['an idle timeout on a route that reads the session', { route: '/session-data', options: {}, end: (t: { clock: ManualClock }) => t.clock.advance('31m') }],
    ['an idle timeout on a route behind requireAuth', { route: '/me', options: {}, end: (t: { clock: ManualClock }) => t.clock.advance('31m') }],
    ['changed credentials', { route: '/session-data', options: { credentialVersion: () => version }, end: () => void (version = 2) }],
  ] as const) {
    it(`the fresh session that replaces one ended by ${name} is saved: the cookie it sends names a stored session`, async () => {
      version = 1;
      const built = buildApp(ended.options);
      const { app, audit, guard } = built;
      const cookie = await login(app);
      ended.end(built);
      const fresh = setCookie(await https(request(app).get(ended.route)).set('Cookie', cookie));
      assert.ok(fresh && idOf(fresh) !== idOf(cookie), 'the ended cookie is replaced');
      assert.ok(await guard.store.readRaw(idOf(fresh)), 'the id the client was just given is in the store');
      await https(request(app).get('/session-data')).set('Cookie', fresh).expect(200);
      assert.equal(audit.of('unknown_session_id').length, 0, 'the id the guard issued is not reported unknown');
      await me(app, fresh).expect(401);
    });
  }

  for (const [name, between] of [
    ['the session changed', (req: Request) => void (req.session.theme = 'late')],
    ['the app dropped the session', (req: Request) => void ((req as { session: unknown }).session = null)],
  ] as const) {
    it(`a second res.end after a login's answer does nothing when ${name} in between, as express-session's own end does`, async () => {
      const uncaught: unknown[] = [];
      const onUncaught = (err: unknown) => void uncaught.push(err);
      process.on('uncaughtException', onUncaught);
      try {
        const { app } = buildApp({}, (a) => {
          a.post('/login-twice', async (req, res) => {
            await guarded(req).login('erin');
            res.end('first');
            between(req);
            res.end('second');
          });
        });
        const res = await https(request(app).post('/login-twice')).set('Cookie', await anonymousCookie(app));
        assert.equal(res.text, 'first');
        // A write after the end would surface as an 'error' on the response with no listener.
        await new Promise((resolve) => setImmediate(resolve));
        await new Promise((resolve) => setImmediate(resolve));
        assert.deepEqual(uncaught.map(String), [], 'no uncaught error from the second end');
      } finally {
        process.off('uncaughtException', onUncaught);
      }
    });
  }
});

describe('changes made while a save is in flight, and cookie-only changes', () => {
  /** `req.session.save()` as a promise, with a change made after the call, before it calls back. */
  async function saveChangingMeanwhile(req: Request): Promise<void> {
    req.session.theme = 'one';
    const saved = new Promise<void>((resolve, reject) => req.session.save((err?: unknown) => (err ? reject(err) : resolve())));
    // The app goes on while the store writes (the default store serialises as the call goes out).
    req.session.returnTo = '/later';
    await saved;
  }

  it('after a login, a key set while the app\'s save was in flight reaches the store (as with express-session alone)', async () => {
    const { app, guard } = buildApp({}, (a) => {
      a.post('/login-then', async (req, res, next) => {
        try {
          await guarded(req).login('alice');
          await saveChangingMeanwhile(req);
          res.json({ ok: true });
        } catch (err) {
          next(err);
        }
      });
    });
    const res = await https(request(app).post('/login-then')).set('Cookie', await anonymousCookie(app)).expect(200);
    const stored = await guard.store.readRaw(idOf(setCookie(res) as string));
    assert.equal(stored?.theme, 'one');
    assert.equal(stored?.returnTo, '/later', 'the change made during the write is saved as the response ends');
  });

  it('on a loaded session, the same', async () => {
    const { app, guard } = buildApp({}, (a) => {
      a.post('/note', async (req, res) => {
        await saveChangingMeanwhile(req);
        res.json({ ok: true });
      });
    });
    const cookie = await login(app);
    await https(request(app).post('/note')).set('Cookie', cookie).expect(200);
    const stored = await guard.store.readRaw(idOf(cookie));
    assert.equal(stored?.theme, 'one');
    assert.equal(stored?.returnTo, '/later');
  });

  it('"remember me": a cookie maxAge set after login() reaches the stored record, not only the Set-Cookie', async () => {
    const hour = 3_600_000;
    const { app, guard } = buildApp({ idleTimeout: '30m', absoluteTimeout: '8h', cookie: { maxAge: '1h' } }, (a) => {
      a.post('/login-remember', async (req, res, next) => {
        try {
          await guarded(req).login('alice');
          req.session.cookie.maxAge = 8 * hour;
          res.json({ ok: true });
        } catch (err) {
          next(err);
        }
      });
    });
    const res = await https(request(app).post('/login-remember')).set('Cookie', await anonymousCookie(app)).expect(200);
    const stored = await guard.store.readRaw(idOf(setCookie(res) as string));
    assert.equal((stored?.cookie as { originalMaxAge?: number } | undefined)?.originalMaxAge, 8 * hour, 'the record lives as long as the cookie says');
  });
});

describe('saves an app makes while the response ends', () => {
  it('a save the app makes of a changed session inside res.end (after express-session decided not to save) reaches the store', async () => {
    const audit = memorySink();
    const app = express();
    const landed = deferred();
    let saveError: unknown;
    // Mounted before the guard, so express-session's end calls it: an app that records the
    // response in the session as it goes out, and saves that itself.
    app.use((req: Request, res: Response, next: NextFunction) => {
      const end = res.end as (...args: unknown[]) => Response;
      res.end = function recordingEnd(this: Response, ...args: unknown[]): Response {
        if (req.session && req.path === '/note') {
          req.session.theme = 'noted-at-end';
          req.session.save((err?: unknown) => {
            saveError = err;
            landed.resolve();
          });
        }
        return end.apply(this, args);
      } as Response['end'];
      next();
    });
    const guard = sessionGuard({ secret: SECRET, audit, clock: new ManualClock(), trustProxy: true });
    app.use(guard);
    app.get('/', (req, res) => {
      req.session.visits = 1;
      res.json({});
    });
    app.get('/note', (_req, res) => res.json({}));
    const cookie = setCookie(await https(request(app).get('/')).expect(200)) as string;
    // The session is unchanged when the response ends: the guard lets express-session's own end
    // run, which touches it and calls the app's end above.
    await https(request(app).get('/note')).set('Cookie', cookie).expect(200);
    await landed.promise;
    assert.equal(saveError, undefined);
    const stored = await guard.store.readRaw(idOf(cookie));
    assert.equal(stored?.theme, 'noted-at-end', 'the app was told its save succeeded: the store must hold it');
  });
});

describe('saves an app makes while the response ends, after a login', () => {
  it('a save the app makes of the logged-in session as its headers go out (after express-session saved it) reaches the store', async () => {
    const { app, guard } = buildApp({}, (a) => {
      a.post('/login-noted', async (req, res, next) => {
        try {
          await guarded(req).login('alice');
          // An app that records something in the session as the headers go out, and saves it.
          onHeaders(res, () => {
            req.session.theme = 'noted-at-headers';
            req.session.save((err?: unknown) => {
              saveError = err;
              landed.resolve();
            });
          });
          res.json({ user: 'alice' });
        } catch (err) {
          next(err);
        }
      });
    });
    const landed = deferred();
    let saveError: unknown;
    const cookie = await anonymousCookie(app);
    const res = await https(request(app).post('/login-noted')).set('Cookie', cookie).expect(200);
    await landed.promise;
    assert.equal(saveError, undefined);
    const loggedIn = setCookie(res) as string;
    const stored = await guard.store.readRaw(idOf(loggedIn));
    assert.equal(stored?.theme, 'noted-at-headers', 'the app was told its save succeeded: the store must hold it');
  });

  it('an app\'s own save of a session the guard already stored still calls back after a tick, as a store does', async () => {
    const order: string[] = [];
    const { app } = buildApp({}, (a) => {
      a.post('/login-then-save', async (req, res, next) => {
        try {
          await guarded(req).login('alice');
          // passport's documented pattern: save, then redirect in the callback.
          req.session.save((err) => {
            order.push('callback');
            if (err) next(err);
            else res.json({ ok: true });
          });
          order.push('returned');
        } catch (err) {
          next(err);
        }
      });
    });
    const before = await anonymousCookie(app);
    await https(request(app).post('/login-then-save')).set('Cookie', before).expect(200);
    assert.deepEqual(order, ['returned', 'callback']);
  });
});
