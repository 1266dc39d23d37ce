/**
 * Writes whose reply is lost: the command reaches Redis and runs, the answer never comes back
 * (a TCP proxy between the app and a real redis-server swallows it), so the store's deadline
 * passes and the request answers 503. The client never learns the new id, so nothing may live
 * under it: no live record, no index entry — ended at once when Redis answers again, or by the
 * guard's retries after recovery. And a logout answered 503 is either not done (its write never
 * arrived: the session still works) or done for good (its write landed: the id stays dead).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RedisClientType } from 'redis';
import { LOGIN, RENAME, TOMBSTONE } from '../../src/redis/scripts.js';
import { anonymousCookie, buildApp, https, loginWith, me, post, type request, type TestApp } from '../helpers.js';
import type { TcpProxy } from '../support/tcp-proxy.js';
import { eventually, liveRecordsOf, storesBehindProxy } from './support.js';

let prefix: string;
let proxy: TcpProxy;
let admin: RedisClientType;
let app: TestApp;
let closeStores: () => Promise<void>;

before(async () => {
  const behind = await storesBehindProxy('unknown-outcome');
  ({ prefix, proxy, admin } = behind);
  closeStores = () => behind.close();
  app = buildApp({ store: behind.stores.store, index: behind.stores.index, storeTimeout: 2_000, maxSessionsPerUser: 3 });
  // Every script the tests lose a reply of is in Redis's cache before (a NOSCRIPT answer would hide it).
  const warm = await loginCookie('warm-up');
  await https(post(app.app, '/elevate', warm)).expect(200);
  await https(post(app.app, '/logout', await loginCookie('warm-up-2'))).expect(204);
});

after(async () => {
  await closeStores();
});

async function loginCookie(user: string): Promise<string> {
  const res = await loginWith(app.app, await anonymousCookie(app.app), user).expect(200);
  const line = (res.headers['set-cookie'] as unknown as string[]).find((l) => l.startsWith('__Host-sid='));
  return (line as string).split(';')[0] as string;
}

/** The live (not tombstoned) authenticated records of `user` in Redis, and its index entries. */
async function traces(user: string): Promise<{ live: number; indexed: number }> {
  return { live: await liveRecordsOf(admin, prefix, user), indexed: await admin.zCard(`${prefix}idx:${user}`) };
}

/** Loses the reply of the next command that runs one of `scripts`, sends `send`, then heals the network. */
async function withLostReply(scripts: { sha1: string }[], send: () => Promise<request.Response>): Promise<request.Response> {
  proxy.loseRepliesTo(scripts.map((s) => s.sha1));
  try {
    return await send();
  } finally {
    proxy.heal();
  }
}

describe('writes whose reply is lost (the command ran in Redis)', () => {
  it('a login answered 503 leaves no live record and no index entry of its new session, and the user can log in again', async () => {
    const cookie = await anonymousCookie(app.app);
    const res = await withLostReply([RENAME, LOGIN], () => loginWith(app.app, cookie, 'lost-login'));
    assert.equal(res.status, 503, JSON.stringify(res.body));
    assert.equal(res.body.error.code, 'SESSION_STORE_UNAVAILABLE');
    await eventually(async () => {
      const t = await traces('lost-login');
      return t.live === 0 && t.indexed === 0;
    }, 3_000, 'the new record is ended and unlisted');
    assert.deepEqual(await traces('lost-login'), { live: 0, indexed: 0 });
    const unknown = app.audit.of('write_outcome_unknown').filter((e) => e.principal === 'lost-login');
    assert.equal(unknown.length, 1, 'audited once');
    assert.match(String(unknown[0]?.session), /^[\w-]{8,32}$/, 'a hash, never the raw id');

    // The login can be repeated (with the cookie the client still has) and is the only session.
    const again = await loginWith(app.app, cookie, 'lost-login').expect(200);
    const fresh = (again.headers['set-cookie'] as unknown as string[]).find((l) => l.startsWith('__Host-sid='))?.split(';')[0] as string;
    await me(app.app, fresh).expect(200);
    assert.deepEqual(await traces('lost-login'), { live: 1, indexed: 1 });
  });

  it('a login whose reply is lost while Redis then stays unreachable is ended by the retries once it is back', async () => {
    const cookie = await anonymousCookie(app.app);
    proxy.loseRepliesTo([RENAME.sha1, LOGIN.sha1], { thenDrop: true });
    try {
      const res = await loginWith(app.app, cookie, 'lost-then-down');
      assert.equal(res.status, 503);
      // The immediate end could not reach Redis: the new record is still there, waiting.
      assert.equal((await traces('lost-then-down')).live, 1, 'the login ran in Redis');
      assert.ok(app.guard.store.unsettled >= 1, 'queued for recovery');
    } finally {
      proxy.heal();
    }
    await eventually(async () => {
      const t = await traces('lost-then-down');
      return t.live === 0 && t.indexed === 0;
    }, 8_000, 'ended after recovery');
    await eventually(() => app.audit.of('write_outcome_settled').some((e) => e.principal === 'lost-then-down'), 2_000, 'audited as settled');
  });

  it('a login at the limit whose reply is lost still audits the session it evicted (once), and ends only that one', async () => {
    const user = 'lost-evicting';
    const [oldest, second, third] = [await loginCookie(user), await loginCookie(user), await loginCookie(user)];
    const oldestHash = app.audit.of('login').filter((e) => e.principal === user)[0]?.session;
    assert.ok(oldestHash, 'the first login was audited');
    const res = await withLostReply([LOGIN], async () => loginWith(app.app, await anonymousCookie(app.app), user));
    assert.equal(res.status, 503, JSON.stringify(res.body));
    // The script ran: it evicted the oldest session in Redis, and its new session is ended.
    await eventually(() => app.audit.of('session_evicted').some((e) => e.principal === user), 3_000, 'the eviction is audited');
    await me(app.app, oldest).expect(401);
    await me(app.app, second).expect(200);
    await me(app.app, third).expect(200);
    assert.deepEqual(await traces(user), { live: 2, indexed: 2 });
    const evicted = app.audit.of('session_evicted').filter((e) => e.principal === user);
    assert.equal(evicted.length, 1, 'audited once');
    assert.equal(evicted[0]?.session, oldestHash, 'the oldest session, named by its hash');
    assert.equal(evicted[0]?.reason, 'session_limit');
    assert.deepEqual(evicted[0]?.detail, { replyLost: true });
  });

  it('a login at the limit whose reply is lost while Redis then stays unreachable audits its eviction once Redis is back', async () => {
    const user = 'lost-evicting-then-down';
    for (let i = 0; i < 3; i++) await loginCookie(user);
    const cookie = await anonymousCookie(app.app);
    proxy.loseRepliesTo([LOGIN.sha1], { thenDrop: true });
    try {
      assert.equal((await loginWith(app.app, cookie, user)).status, 503);
      assert.equal(app.audit.of('session_evicted').filter((e) => e.principal === user).length, 0, 'nothing known yet');
    } finally {
      proxy.heal();
    }
    await eventually(() => app.audit.of('write_outcome_settled').some((e) => e.principal === user), 8_000, 'settled after recovery');
    const evicted = app.audit.of('session_evicted').filter((e) => e.principal === user);
    assert.equal(evicted.length, 1);
    assert.deepEqual(evicted[0]?.detail, { replyLost: true });
    assert.deepEqual(await traces(user), { live: 2, indexed: 2 });
  });

  it('a login at the limit whose reply is lost, and then the reply of reading its evictions, audits the eviction once', async () => {
    const user = 'lost-evicting-twice';
    for (let i = 0; i < 3; i++) await loginCookie(user);
    const cookie = await anonymousCookie(app.app);
    // The login's reply is lost, and so is everything after it on that connection (the
    // immediate settling too): the id waits for the retries.
    proxy.loseRepliesTo([LOGIN.sha1]);
    try {
      assert.equal((await loginWith(app.app, cookie, user)).status, 503);
    } finally {
      proxy.heal();
    }
    assert.ok(app.guard.store.unsettled >= 1, 'queued for the retries');
    // The retry ends the id, then reads the note of its evictions: that reply is lost too.
    proxy.loseRepliesTo([`${prefix}evicted:`]);
    await eventually(async () => (await admin.keys(`${prefix}evicted:*`)).length === 1 && app.guard.store.unsettled >= 1, 3_000, 'the note is there');
    await new Promise((resolve) => setTimeout(resolve, 1_500)); // the read's deadline (1 s) passes
    proxy.heal();
    await eventually(() => app.audit.of('write_outcome_settled').some((e) => e.principal === user), 10_000, 'settled after recovery');
    const evicted = app.audit.of('session_evicted').filter((e) => e.principal === user);
    assert.equal(evicted.length, 1, 'the eviction that ran in Redis is audited, once');
    assert.deepEqual(evicted[0]?.detail, { replyLost: true });
    await eventually(async () => (await admin.keys(`${prefix}evicted:*`)).length === 0, 2_000, 'the note is dropped once audited');
  });

  it('a login at the limit whose reply arrives audits its eviction once, from the reply, and leaves no note behind', async () => {
    const user = 'evicting';
    for (let i = 0; i < 4; i++) await loginCookie(user);
    const evicted = app.audit.of('session_evicted').filter((e) => e.principal === user);
    assert.equal(evicted.length, 1);
    assert.equal(evicted[0]?.detail, undefined);
    assert.deepEqual(await traces(user), { live: 3, indexed: 3 });
    await eventually(async () => (await admin.keys(`${prefix}evicted:*`)).length === 0, 2_000, 'the note of a login whose reply arrived is dropped');
  });

  it('an elevation answered 503 leaves no live session behind: the old id is dead (its move landed) and the new one ended', async () => {
    const cookie = await loginCookie('lost-elevate');
    const res = await withLostReply([RENAME], () => https(post(app.app, '/elevate', cookie)));
    assert.equal(res.status, 503);
    await eventually(async () => {
      const t = await traces('lost-elevate');
      return t.live === 0 && t.indexed === 0;
    }, 3_000, 'no live session, nothing listed');
    assert.deepEqual(await traces('lost-elevate'), { live: 0, indexed: 0 });
    await me(app.app, cookie).expect(401);
  });

  it('a logout answered 503 whose tombstone landed holds: the id is dead, and repeating the logout answers 204', async () => {
    const cookie = await loginCookie('lost-logout');
    const res = await withLostReply([TOMBSTONE], () => https(post(app.app, '/logout', cookie)));
    assert.equal(res.status, 503, 'not reported done');
    // The client reconnects after the healed network reset its connection.
    await eventually(async () => (await me(app.app, cookie)).status !== 503, 2_000, 'Redis answers again');
    await me(app.app, cookie).expect(401);
    await https(post(app.app, '/logout', cookie)).expect(204);
    assert.equal((await traces('lost-logout')).live, 0);
  });

  it('a logout whose write never reached Redis is not reported done, and the session still works', async () => {
    const cookie = await loginCookie('refused-logout');
    proxy.drop();
    const res = await https(post(app.app, '/logout', cookie));
    proxy.heal();
    assert.equal(res.status, 503);
    await eventually(async () => (await me(app.app, cookie)).status !== 503, 2_000, 'Redis answers again');
    await me(app.app, cookie).expect(200);
    await https(post(app.app, '/logout', cookie)).expect(204);
    await me(app.app, cookie).expect(401);
  });
});
