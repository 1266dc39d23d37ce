/**
 * Edges of the stored guard state and of the records around it: times the compact form must
 * bring back exactly (a clock that starts at 0, negative and backwards times), a clock with
 * fractions (stored verbosely, timeouts still enforced), a record copied to another id, and the
 * default MemoryStore's expiry reading (without parsing the record) against the MemoryStore's own.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import session from 'express-session';
import { ManualClock } from '../../src/index.js';
import { Binding } from '../../src/policy/binding.js';
import { guardState, stateOf, type GuardState } from '../../src/policy/state.js';
import { AtomicMemoryStore } from '../../src/store/memory.js';
import { OTHER_SECRET, SECRET, buildApp, https, idOf, login, loginWith, me, request, setCookie } from '../helpers.js';

const TIMES = ['createdAt', 'lastSeenAt', 'rotatedAt', 'authAt', 'elevatedAt'] as const;

function roundTrip(fields: GuardState): GuardState | undefined {
  return stateOf(JSON.parse(JSON.stringify({ fixationGuard: guardState(fields) })) as Record<string, unknown>);
}

/** A clock whose times have a fraction (as `performance.now()`-based clocks do). */
class FractionalClock {
  t = 1_893_456_000_000.25;
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

function sessionsOf(guard: ReturnType<typeof buildApp>['guard']): Record<string, string> {
  return (guard.store.inner as unknown as { sessions: Record<string, string> }).sessions;
}

describe('the stored guard state at its edges', () => {
  it('a state created at clock time 0 decodes to the times it encoded', () => {
    const fields: GuardState = { v: 1, createdAt: 0, lastSeenAt: 5_000, rotatedAt: 1_000, authAt: 2_000, elevatedAt: 3_000, principal: 'alice', boundTo: 'abcdefghijklmnop' };
    const back = roundTrip(fields);
    for (const k of TIMES) assert.equal(back?.[k], fields[k], k);
  });

  it('negative and backwards times come back exactly', () => {
    for (const fields of [
      { v: 1, createdAt: -5_000, lastSeenAt: -10_000, rotatedAt: -4_999, authAt: 3, elevatedAt: -1 },
      { v: 1, createdAt: 1_893_456_000_000, lastSeenAt: 1_893_455_000_000, rotatedAt: 1_893_456_000_000, authAt: 1_893_455_999_999 },
    ] as GuardState[]) {
      const back = roundTrip(fields);
      for (const k of TIMES) assert.equal(back?.[k], fields[k], `${k} of ${JSON.stringify(fields)}`);
    }
  });

  it('an unreadable createdAt makes every later time long past', () => {
    const back = stateOf({ fixationGuard: { t: '!.5.6.7' } });
    assert.deepEqual([back?.createdAt, back?.lastSeenAt, back?.rotatedAt, back?.authAt], [0, 0, 0, 0]);
  });

  it('a verbose state with a time that is not a finite number reads it as long past', () => {
    const back = stateOf({ fixationGuard: { v: 1, createdAt: 'x', lastSeenAt: null, rotatedAt: 5, authAt: Number.NaN, elevatedAt: '7', principal: 'alice' } });
    assert.deepEqual([back?.createdAt, back?.lastSeenAt, back?.rotatedAt, back?.authAt, back?.elevatedAt, back?.principal], [0, 0, 5, 0, 0, 'alice']);
    const unauthenticated = stateOf({ fixationGuard: { v: 1, createdAt: 1, lastSeenAt: 2, rotatedAt: 3 } });
    assert.deepEqual([unauthenticated?.authAt, unauthenticated?.elevatedAt], [undefined, undefined]);
  });

  it('a user active on a clock that started at 0 is not logged out by the idle timeout', async () => {
    const clock = new ManualClock(0);
    const { app } = buildApp({ clock, idleTimeout: '30m' });
    const first = await https(request(app).get('/')).expect(200); // a session created at t=0
    clock.advance('1m');
    const cookie = setCookie(await loginWith(app, setCookie(first), 'alice').expect(200)) as string;
    clock.advance('20m');
    assert.equal((await me(app, cookie)).status, 200, 't=21m, 20 minutes after the login');
    clock.advance('20m');
    const res = await me(app, cookie);
    assert.equal(res.status, 200, `t=41m, 20 minutes after the last request: ${res.status} ${JSON.stringify(res.body)}`);
    clock.advance('31m');
    assert.equal((await me(app, cookie)).status, 401, 't=72m, 31 minutes idle');
  });

  it('a clock with fractions: the state is stored verbosely and the idle timeout still ends the session', async () => {
    const clock = new FractionalClock();
    const { app, guard } = buildApp({ clock: clock as never, idleTimeout: '30m' });
    const cookie = await login(app, 'alice');
    assert.match(sessionsOf(guard)[idOf(cookie)] as string, /"createdAt"/);
    clock.advance(29 * 60_000);
    assert.equal((await me(app, cookie)).status, 200);
    clock.advance(31 * 60_000);
    assert.equal((await me(app, cookie)).status, 401);
  });

  it("a record copied to another id does not authenticate there, under either of two secrets", async () => {
    const { app, guard } = buildApp({ secret: [SECRET, OTHER_SECRET] });
    const alice = await login(app, 'alice');
    const bob = await login(app, 'bob');
    const sessions = sessionsOf(guard);
    sessions[idOf(bob)] = sessions[idOf(alice)] as string;
    assert.equal((await me(app, bob)).status, 401);
    assert.equal((await me(app, alice)).status, 200);
    // A binding made under a retired secret holds for its own id only.
    const state = { v: 1, createdAt: 0, lastSeenAt: 0, rotatedAt: 0, boundTo: new Binding([SECRET]).hash('x') } as GuardState;
    assert.ok(new Binding([OTHER_SECRET, SECRET]).isBound(state, 'x'));
    assert.ok(!new Binding([OTHER_SECRET, SECRET]).isBound(state, 'y'));
  });

  it("the default store reads a record's expiry as the MemoryStore's get does, on records shaped to mislead it", async () => {
    const past = new Date(Date.now() - 1000).toISOString();
    const future = new Date(Date.now() + 100_000).toISOString();
    const records = [
      `{"cookie":{"originalMaxAge":1,"expires":"${past}"},"x":1}`,
      `{"cookie":{"originalMaxAge":1,"expires":"${future}"},"x":{"expires":"${past}"}}`,
      `{"x":{"expires":"${future}"},"cookie":{"expires":"${past}"}}`,
      `{"cookie":{"domain":"a}b","expires":"${past}"}}`,
      `{"cookie":{"domain":"a\\"expires\\":\\"${future}","expires":"${past}"}}`,
      `{"cookie":{"expires":null},"y":"\\"expires\\":\\"${past}\\""}`,
      `{"cookie":{"originalMaxAge":null},"note":{"cookie":{"expires":"${past}"}}}`,
      `{"cookie":{"path":"/\\u007d","expires":"${past}"}}`,
    ];
    for (const json of records) {
      const plain = new session.MemoryStore() as unknown as { sessions: Record<string, string>; get: session.MemoryStore['get'] };
      plain.sessions.a = json;
      const live = await new Promise((resolve) => plain.get('a', (_err, sess) => resolve(sess !== undefined && sess !== null)));
      // `ifExists`: the guard's store writes a tombstone only over a record it finds live.
      const store = new AtomicMemoryStore();
      store.sessions.a = json;
      await store.tombstone('a', 'logout', 0, 1000, { ifExists: true });
      assert.equal(store.sessions.a !== undefined && store.sessions.a !== json, live, json);
    }
  });
});
