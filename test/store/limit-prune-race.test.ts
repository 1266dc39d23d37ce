/**
 * GuardedStore.reserveLogin prunes an in-process index of the entries whose session ended,
 * from the records it reads first. A login in flight (reserved, its record not written yet)
 * reads as "missing"; it must stay indexed when it writes and confirms its record before the
 * prune runs — the pruning leaves alone every entry that was a reservation when it started.
 * Otherwise the live, confirmed session drops out of the index: past `maxSessionsPerUser`, and
 * missed by logout everywhere.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemorySessionIndex } from '../../src/index.js';
import { stateOf } from '../../src/policy/state.js';
import { anonymousCookie, buildApp, loginWith, me, post, setCookie } from '../helpers.js';
import { HoldStore, hold } from '../support/hold-store.js';

describe('reserveLogin pruning vs a concurrent login in flight (third-party store, MemorySessionIndex)', () => {
  for (const policy of ['rejectLogin', 'evictOldest'] as const) {
    it(`a login confirmed between the pruner's read and its prune stays indexed (${policy}, limit 1)`, async () => {
      const store = new HoldStore();
      const { app, guard } = buildApp({ store, index: new MemorySessionIndex(), maxSessionsPerUser: 1, onSessionLimit: policy });
      const cookieA = await anonymousCookie(app);
      const cookieB = await anonymousCookie(app);

      // Login A: held as it writes its authenticated record (its entry is a reservation).
      const aWrite = hold();
      store.setHook = (_sid, sess) => (stateOf(sess)?.principal === 'alice' ? aWrite : undefined);
      const loginA = loginWith(app, cookieA, 'alice').then((r) => r);
      const newIdA = await aWrite.arrived.promise;

      // Login B: its pruner reads A's record (missing: A's write is not in yet); the reply is held.
      const bRead = hold();
      store.getHook = (sid) => (sid === newIdA ? bRead : undefined);
      const loginB = loginWith(app, cookieB, 'alice').then((r) => r);
      await bRead.arrived.promise;

      // A's write lands and A is confirmed; then B's read answers "missing".
      aWrite.release.resolve();
      const resA = await loginA;
      assert.equal(resA.status, 200, JSON.stringify(resA.body));
      const sessA = setCookie(resA) as string;
      bRead.release.resolve();
      const resB = await loginB;
      const sessB = setCookie(resB);

      const listed = await guard.listSessions('alice');
      const liveA = (await me(app, sessA)).status === 200;
      const liveB = sessB !== undefined && (await me(app, sessB)).status === 200;
      const problems: string[] = [];
      if (Number(liveA) + Number(liveB) > 1) problems.push(`limit 1 (${policy}) but both logins are live (B answered ${resB.status})`);
      if (listed.length !== Number(liveA) + Number(liveB)) problems.push(`${Number(liveA) + Number(liveB)} live sessions, ${listed.length} listed`);
      // Logout everywhere (from B) must end every session of alice.
      if (liveB) {
        await post(app, '/logout-all', sessB as string).expect(200);
        if ((await me(app, sessA)).status === 200) problems.push("A's session survived logout everywhere");
      }
      assert.deepEqual(problems, []);
    });
  }
});
