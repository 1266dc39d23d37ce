import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import session, { type SessionData } from 'express-session';
import fc from 'fast-check';
import { isTombstone, MemorySessionIndex, SessionConflictError } from '../../src/index.js';
import { makeTombstone, type SessionLimit } from '../../src/store/contracts.js';
import { AtomicMemoryStore } from '../../src/store/memory.js';
import { randomSessionId } from '../../src/util/random.js';
import { anonymousCookie, buildApp, idOf, loginWith, setCookie } from '../helpers.js';

const TTL = 60_000;
const record = (user: string) => ({ cookie: { originalMaxAge: TTL, expires: new Date(Date.now() + TTL).toISOString(), path: '/' }, user }) as unknown as SessionData;
const read = async (store: session.MemoryStore, sid: string) => (await promisify(store.get.bind(store))(sid)) as Record<string, unknown> | null | undefined;

describe('the MemoryStore a guard makes when given none (AtomicMemoryStore)', () => {
  it('refuses a late save of a rotated id, which the plain MemoryStore lets resurrect', async () => {
    // The attack without the extension: a request that loaded the old id saves it after the rotation.
    const plain = new session.MemoryStore();
    await promisify(plain.set.bind(plain))('old', makeTombstone('rotated', Date.now(), TTL, { successor: 'new' }) as unknown as SessionData);
    await promisify(plain.set.bind(plain))('old', record('alice'));
    assert.equal((await read(plain, 'old'))?.user, 'alice', 'a plain set overwrites the tombstone: the old id lives again');

    const store = new AtomicMemoryStore();
    await store.guardedSet('old', record('alice'));
    await store.rename('old', 'new', record('alice'), Date.now(), TTL);
    assert.equal(await store.guardedSet('old', record('alice')), 'tombstoned');
    const old = await read(store, 'old');
    assert.ok(isTombstone(old), 'the old id still holds its tombstone');
    assert.equal(old.fixationGuardTombstone.successor, 'new');
    assert.equal((await read(store, 'new'))?.user, 'alice');
  });

  it('never gives an ended id a successor, and never moves onto an id that exists (a revoked reservation stays dead)', async () => {
    const store = new AtomicMemoryStore();
    await assert.rejects(store.rename('missing', 'a', record('alice'), Date.now(), TTL), (err: unknown) => err instanceof SessionConflictError && err.reason === 'missing');
    await store.guardedSet('ended', record('alice'));
    await store.tombstone('ended', 'logout', Date.now(), TTL);
    await assert.rejects(store.rename('ended', 'b', record('alice'), Date.now(), TTL), (err: unknown) => err instanceof SessionConflictError && err.reason === 'logout');
    assert.equal(await read(store, 'b'), undefined, 'nothing written under the new id');

    await store.guardedSet('live', record('alice'));
    await store.tombstone('reserved', 'revoked', Date.now(), TTL);
    await assert.rejects(store.rename('live', 'reserved', record('alice'), Date.now(), TTL), (err: unknown) => err instanceof SessionConflictError && err.reason === 'revoked');
    assert.equal((await read(store, 'live'))?.user, 'alice', 'the source is untouched');
  });

  it("with its own index, moves the principal's entry in the same step as the record (no index call after it)", async () => {
    const index = new MemorySessionIndex();
    const store = new AtomicMemoryStore({ index });
    const authed = (principal: string) => ({ ...record(principal), fixationGuard: { principal } }) as unknown as SessionData;
    await store.guardedSet('a', authed('alice'));
    await index.admit('alice', { sessionId: 'a', createdAt: 1, lastSeenAt: 1 });
    await store.rename('a', 'b', authed('alice'), Date.now(), TTL);
    assert.deepEqual((await index.list('alice')).map((entry) => entry.sessionId), ['b']);
    assert.equal(index.ownsSessionsOf(store), true);
  });

  it('writes no tombstone for an id without a record when asked not to, and reports the tombstone it replaced', async () => {
    const store = new AtomicMemoryStore();
    assert.equal(await store.tombstone('never', 'logout', Date.now(), TTL, { ifExists: true }), undefined);
    assert.equal(store.sessions.never, undefined, 'an anonymous logout writes nothing');
    await store.rename((await store.guardedSet('a', record('alice')), 'a'), 'b', record('alice'), Date.now(), TTL);
    const replaced = await store.tombstone('a', 'revoked', Date.now(), TTL);
    assert.equal(replaced?.fixationGuardTombstone.successor, 'b', 'a revocation can follow the successor');
  });

  it('sees a record exactly when the MemoryStore\'s own get does, whatever its cookie and data look like (the expiry is read without parsing the session)', async () => {
    // Strings that could fool a reader of the JSON: a quote, a brace, the key itself.
    const tricky = fc.constantFrom('/', '/a}b', '"expires":"2000-01-01T00:00:00.000Z"', 'x"y', '\\', 'ok');
    const when = fc.constantFrom(-60_000, -1, 60_000, 3_600_000).map((d) => new Date(Date.now() + d).toISOString());
    const cookie = fc.record(
      { originalMaxAge: fc.option(fc.nat(), { nil: null }), expires: fc.option(when, { nil: null }), path: tricky, domain: tricky, sameSite: fc.constantFrom('lax', 'strict') },
      { requiredKeys: ['originalMaxAge'] },
    );
    const data = fc.dictionary(fc.constantFrom('user', 'expires', 'cookie2', 'token'), fc.oneof(tricky, when, fc.record({ expires: when })));
    await fc.assert(
      fc.asyncProperty(cookie, data, fc.boolean(), async (c, d, cookieFirst) => {
        const rec = (cookieFirst ? { cookie: c, ...d } : { ...d, cookie: c }) as unknown as SessionData;
        const plain = new session.MemoryStore();
        (plain as unknown as { sessions: Record<string, string> }).sessions.s = JSON.stringify(rec);
        const visible = (await read(plain, 's')) != null;
        const store = new AtomicMemoryStore();
        store.sessions.s = JSON.stringify(rec);
        const moved = await store.rename('s', 'n', record('alice'), Date.now(), TTL).then(
          () => true,
          (err: unknown) => {
            assert.ok(err instanceof SessionConflictError && err.reason === 'missing', String(err));
            return false;
          },
        );
        assert.equal(moved, visible);
        // A record the MemoryStore no longer serves is not written over as if live either.
        if (!visible) assert.equal(store.sessions.s, undefined, 'the expired record is dropped, as the MemoryStore drops it');
      }),
      { numRuns: 300 },
    );
  });

  it('is what a guard without `store` uses: a login rotates, and the pre-login id is dead', async () => {
    const { app, guard } = buildApp({});
    assert.ok(guard.store.inner instanceof AtomicMemoryStore);
    const before = await anonymousCookie(app);
    const login = await loginWith(app, before);
    assert.equal(login.status, 200);
    assert.notEqual(idOf(setCookie(login) as string), idOf(before));
    assert.ok(isTombstone(await guard.store.readRaw(idOf(before))), 'the pre-login id is a tombstone');
  });
});

describe('a login on the MemoryStore that keeps its own index (the guard\'s default): one step', () => {
  const now = Date.now();
  const entry = (sessionId: string, at = now) => ({ sessionId, createdAt: at, lastSeenAt: at });
  async function linked() {
    const index = new MemorySessionIndex();
    const store = new AtomicMemoryStore({ index });
    const loginAtOnce = store.loginAtOnce;
    assert.ok(loginAtOnce, 'a store with its own index logs in at once');
    assert.ok(index.ownsSessionsOf(store) && !new MemorySessionIndex().ownsSessionsOf(store));
    const login = (oldId: string, newId: string, limit?: SessionLimit, replacing?: string) =>
      loginAtOnce({ oldId, newId, sess: record('alice'), oldStored: true, principal: 'alice', entry: entry(newId), limit, replacing }, now, TTL);
    const listed = async () => (await index.list('alice')).map((e) => e.sessionId);
    return { index, store, login, listed };
  }

  it('is what a guard without `store` and `index` uses; a store given without its index keeps the two steps', () => {
    const { guard } = buildApp({});
    assert.ok(guard.store.logsInAtOnce);
    assert.equal(new AtomicMemoryStore().loginAtOnce, undefined);
    assert.equal(buildApp({ index: new MemorySessionIndex() }).guard.store.logsInAtOnce, false);
  });

  it('moves, tombstones and lists in one step; a conflict changes nothing, in the store or the index', async () => {
    const { store, login, listed } = await linked();
    await store.guardedSet('anon', record('alice'));
    assert.deepEqual(await login('anon', 'n1'), { admitted: true, evicted: [] });
    assert.equal((await read(store, 'n1'))?.user, 'alice');
    assert.equal((store.sessions.anon && JSON.parse(store.sessions.anon))?.fixationGuardTombstone?.successor, 'n1');
    assert.deepEqual(await listed(), ['n1']);
    // The pre-login id was ended by another request first: no successor, no entry.
    await assert.rejects(login('anon', 'n2'), (err: unknown) => err instanceof SessionConflictError && err.reason === 'rotated');
    await store.tombstone('revoked', 'revoked', now, TTL);
    await store.guardedSet('anon2', record('alice'));
    await assert.rejects(login('anon2', 'revoked'), (err: unknown) => err instanceof SessionConflictError && err.reason === 'revoked');
    assert.equal(store.sessions.n2, undefined);
    assert.equal((await read(store, 'anon2'))?.user, 'alice', 'the source is untouched');
    assert.deepEqual(await listed(), ['n1']);
  });

  it('refuses at the limit under rejectLogin, changing nothing; a re-login replacing its own session is not counted and keeps its place', async () => {
    const { store, login, listed, index } = await linked();
    const limit: SessionLimit = { max: 1, onLimit: 'rejectLogin' };
    await store.guardedSet('anon', record('alice'));
    assert.equal((await login('anon', 'n1', limit)).admitted, true);
    const created = (await index.list('alice'))[0]?.createdAt;
    await store.guardedSet('anon2', record('alice'));
    assert.deepEqual(await login('anon2', 'n2', limit), { admitted: false, evicted: [] });
    assert.equal((await read(store, 'anon2'))?.user, 'alice', 'the refused login\'s session is untouched');
    assert.equal(store.sessions.n2, undefined);
    assert.deepEqual(await listed(), ['n1']);
    assert.equal((await login('n1', 'n3', limit, 'n1')).admitted, true, 're-login on the same session');
    assert.deepEqual(await listed(), ['n3']);
    assert.equal((await index.list('alice'))[0]?.createdAt, created, 'the entry moved, keeping its creation');
  });

  it('counts no session that ended without a logout (expired, ended elsewhere), but counts a login in flight', async () => {
    const { store, login, listed, index } = await linked();
    const limit: SessionLimit = { max: 1, onLimit: 'rejectLogin' };
    await store.guardedSet('anon', record('alice'));
    await login('anon', 'n1', limit);
    // n1's cookie expired: the MemoryStore no longer serves it, but the index still lists it.
    store.sessions.n1 = JSON.stringify({ ...JSON.parse(store.sessions.n1 as string), cookie: { originalMaxAge: TTL, expires: new Date(Date.now() - 1).toISOString() } });
    await store.guardedSet('anon2', record('alice'));
    assert.equal((await login('anon2', 'n2', limit)).admitted, true, 'the expired session does not lock the user out');
    assert.deepEqual(await listed(), ['n2']);
    await store.tombstone('n2', 'revoked', now, TTL);
    await store.guardedSet('anon3', record('alice'));
    assert.equal((await login('anon3', 'n3', limit)).admitted, true, 'nor does one ended without its entry');
    // A reservation whose record is not written yet (a login in flight) still counts.
    await index.admit('alice', entry('r1'), undefined, { phase: 'reserve' });
    await store.tombstone('n3', 'revoked', now, TTL);
    await store.guardedSet('anon4', record('alice'));
    assert.equal((await login('anon4', 'n4', limit)).admitted, false);
    assert.deepEqual(await listed(), ['r1']);
    // A rotated session whose entry has not moved yet still counts (its successor is live).
    await index.remove('alice', 'r1');
    await store.guardedSet('anon5', record('alice'));
    await login('anon5', 'n5', limit);
    await store.rename('n5', 'n6', record('alice'), now, TTL);
    await store.guardedSet('anon6', record('alice'));
    assert.equal((await login('anon6', 'n7', limit)).admitted, false);
    assert.deepEqual(await listed(), ['n5']);
  });

  /** a1 rotated to a2 (`a2` holding `owner`'s session) with the index entry not moved yet, as a store step apart from its index would leave it. */
  function rotatedUnmoved(store: AtomicMemoryStore, owner: string): void {
    store.sessions.a1 = JSON.stringify(makeTombstone('rotated', now, TTL, { successor: 'a2' }));
    store.sessions.a2 = JSON.stringify({ ...record(owner), fixationGuard: { principal: owner } });
  }

  it("under evictOldest never follows a successor that is another user's session (his login on the same browser)", async () => {
    const { store, login, listed } = await linked();
    const limit: SessionLimit = { max: 1, onLimit: 'evictOldest' };
    await store.guardedSet('anon', record('alice'));
    await login('anon', 'a1', limit);
    rotatedUnmoved(store, 'bob');
    await store.guardedSet('anon2', record('alice'));
    assert.deepEqual(await login('anon2', 'b1', limit), { admitted: true, evicted: ['a1'] });
    assert.equal((await read(store, 'a2'))?.user, 'bob', "bob's session lives on");
    assert.deepEqual(await listed(), ['b1']);
  });

  it('under evictOldest ends the oldest session and the successor a rotation in flight gave it', async () => {
    const { store, login, listed, index } = await linked();
    const limit: SessionLimit = { max: 1, onLimit: 'evictOldest' };
    await store.guardedSet('anon', record('alice'));
    await login('anon', 'a1', limit);
    rotatedUnmoved(store, 'alice');
    assert.deepEqual(await listed(), ['a1']);
    await store.guardedSet('anon2', record('alice'));
    // Both ids are named, so that each is audited as evicted.
    assert.deepEqual(await login('anon2', 'b1', limit), { admitted: true, evicted: ['a1', 'a2'] });
    for (const id of ['a1', 'a2']) {
      const held = store.sessions[id];
      assert.equal(held && JSON.parse(held).fixationGuardTombstone?.reason, 'evicted', `${id} is ended`);
    }
    await index.rename('alice', 'a1', 'a2', now);
    assert.deepEqual(await listed(), ['b1'], 'the late move finds no entry to bring back');
  });
});

describe('session ids', () => {
  it('are 256 random bits in base64url, distinct across many refills of the pool', () => {
    const ids = new Set<string>();
    for (let i = 0; i < 1000; i++) ids.add(randomSessionId());
    assert.equal(ids.size, 1000);
    for (const id of ids) assert.match(id, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(Buffer.from([...ids][0] as string, 'base64url').length, 32);
  });
});
