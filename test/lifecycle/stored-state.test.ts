import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import type session from 'express-session';
import { Binding } from '../../src/policy/binding.js';
import { guardState, stateOf, type GuardState } from '../../src/policy/state.js';
import { buildApp, https, idOf, login, me, request, SECRET, signedCookie } from '../helpers.js';

type Raw = Record<string, unknown>;

/** The raw JSON strings MemoryStore holds, by id. */
function rawRecords(store: unknown): Record<string, string> {
  return (store as { sessions: Record<string, string> }).sessions;
}

function memoryStoreOf(guard: ReturnType<typeof buildApp>['guard']): session.MemoryStore {
  return guard.store.inner as unknown as session.MemoryStore;
}

/** A session record as the guard stored it before the compact encoding (`{"v":1,…}` under `fixationGuard`). */
function verboseRecord(id: string, principal: string, now: number): Raw {
  return {
    cookie: {
      originalMaxAge: 3_600_000,
      expires: new Date(Date.now() + 3_600_000).toISOString(),
      httpOnly: true,
      secure: true,
      path: '/',
      sameSite: 'lax',
    },
    visits: 3,
    fixationGuard: {
      v: 1,
      createdAt: now - 60_000,
      lastSeenAt: now - 30_000,
      rotatedAt: now - 60_000,
      principal,
      authAt: now - 60_000,
      boundTo: new Binding([SECRET]).hash(id),
    },
  };
}

function put(store: session.MemoryStore, id: string, record: Raw): Promise<void> {
  return new Promise((resolve, reject) =>
    store.set(id, record as never, (err) => (err ? reject(err as Error) : resolve())),
  );
}

describe('the stored guard state', () => {
  it('is stored compactly: a login leaves a state of well under 100 bytes, with the principal readable by stores', async () => {
    const { app, guard } = buildApp();
    const cookie = await login(app, 'alice');
    const json = rawRecords(memoryStoreOf(guard))[idOf(cookie)] as string;
    const stored = (JSON.parse(json) as { fixationGuard: Raw }).fixationGuard;
    assert.equal(stored.principal, 'alice');
    assert.equal(typeof stored.t, 'string');
    assert.ok(JSON.stringify(stored).length < 100, `compact state: ${JSON.stringify(stored)}`);
    const state = stateOf(JSON.parse(json) as Raw);
    assert.equal(state?.principal, 'alice');
    assert.equal(state?.boundTo, new Binding([SECRET]).hash(idOf(cookie)));
    assert.equal(typeof state?.authAt, 'number');
  });

  it('decodes to the same state it encodes, and encodes a decoded state to the same JSON (no spurious save)', () => {
    const fields: GuardState = {
      v: 1,
      createdAt: 1_893_456_000_000,
      lastSeenAt: 1_893_456_123_456,
      rotatedAt: 1_893_456_100_000,
      principal: 'alice@example.com',
      boundTo: 'abcdefghijklmnop',
      authAt: 1_893_456_050_000,
      authPrincipal: 'alice',
      authNames: { user: 'alice', 'passport.user': 'alice' },
      elevatedAt: 1_893_456_110_000,
      privilege: 'admin',
      credentialVersion: '7',
    };
    const json = JSON.stringify({ fixationGuard: guardState(fields) });
    const decoded = stateOf(JSON.parse(json) as Raw);
    assert.deepEqual({ ...decoded }, fields);
    assert.equal(JSON.stringify({ fixationGuard: decoded }), json);
    // Encoded afresh (not from what the record held), the same JSON too.
    assert.equal(JSON.stringify({ fixationGuard: guardState({ ...decoded } as GuardState) }), json);
    // A change is encoded, not the remembered form.
    (decoded as GuardState).lastSeenAt += 1000;
    assert.notEqual(JSON.stringify({ fixationGuard: decoded }), json);
    assert.equal(
      stateOf(JSON.parse(JSON.stringify({ fixationGuard: decoded })) as Raw)?.lastSeenAt,
      fields.lastSeenAt + 1000,
    );
    // Before a login (no principal, no authAt) too.
    const anonymous = JSON.stringify({
      fixationGuard: guardState({ v: 1, createdAt: 5, lastSeenAt: 9, rotatedAt: 5 }),
    });
    assert.equal(
      JSON.stringify({ fixationGuard: stateOf(JSON.parse(anonymous) as Raw) }),
      anonymous,
    );
  });

  it('keeps the verbose form for a time that is not an integer, and reads it back', () => {
    const fields: GuardState = { v: 1, createdAt: 1.5, lastSeenAt: 2, rotatedAt: 1.5 };
    const stored = JSON.parse(JSON.stringify({ fixationGuard: guardState(fields) })) as {
      fixationGuard: Raw;
    };
    assert.equal(stored.fixationGuard.createdAt, 1.5);
    assert.deepEqual({ ...stateOf(stored) }, fields);
  });

  it('serves a record stored in the old verbose encoding, keeps its times, and rewrites it compactly', async () => {
    const { app, guard, clock } = buildApp();
    const store = memoryStoreOf(guard);
    const id = randomBytes(32).toString('base64url');
    await put(store, id, verboseRecord(id, 'carol', clock.now()));
    const res = await me(app, signedCookie(id)).expect(200);
    assert.equal(res.body.user, 'carol');
    const stored = JSON.parse(rawRecords(store)[id] as string) as {
      visits: number;
      fixationGuard: Raw;
    };
    assert.equal(typeof stored.fixationGuard.t, 'string', 'rewritten in the compact form');
    assert.equal(stored.visits, 3, 'the app data is kept');
    const state = stateOf(stored);
    assert.equal(state?.principal, 'carol');
    assert.equal(state?.createdAt, clock.now() - 60_000);
    assert.equal(state?.authAt, clock.now() - 60_000);
  });

  it('enforces the timeouts of a record in the old encoding: idle for longer than idleTimeout, it ends', async () => {
    const { app, guard, clock } = buildApp({ idleTimeout: '10m' });
    const id = randomBytes(32).toString('base64url');
    await put(memoryStoreOf(guard), id, verboseRecord(id, 'carol', clock.now()));
    clock.advance('11m');
    const res = await me(app, signedCookie(id)).expect(401);
    assert.equal(res.body.error.code, 'SESSION_EXPIRED_IDLE');
  });

  it('trips on a record in the old encoding bound to another id (a planted copy)', async () => {
    const { app, guard, clock, audit } = buildApp();
    const id = randomBytes(32).toString('base64url');
    await put(
      memoryStoreOf(guard),
      id,
      verboseRecord(randomBytes(32).toString('base64url'), 'carol', clock.now()),
    );
    await me(app, signedCookie(id)).expect(401);
    assert.equal(audit.of('fixation_tripwire').length, 1);
  });

  it('treats unreadable compact times as long past: the session ends instead of living for ever', async () => {
    const { app, guard, clock } = buildApp();
    const id = randomBytes(32).toString('base64url');
    const record = verboseRecord(id, 'carol', clock.now());
    record.fixationGuard = {
      t: 'not!a.time',
      principal: 'carol',
      b: new Binding([SECRET]).hash(id),
    };
    await put(memoryStoreOf(guard), id, record);
    await me(app, signedCookie(id)).expect(401);
  });

  it('does not rewrite a compact record that a request only reads', async () => {
    const { app, guard } = buildApp();
    const cookie = await login(app, 'alice');
    const store = memoryStoreOf(guard);
    let sets = 0;
    const set = store.set.bind(store);
    store.set = (...args: Parameters<typeof set>) => {
      sets++;
      return set(...args);
    };
    for (let i = 0; i < 3; i++)
      await https(request(app).get('/me')).set('Cookie', cookie).expect(200);
    assert.equal(sets, 0);
  });
});
