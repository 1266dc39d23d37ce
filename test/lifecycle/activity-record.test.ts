/**
 * The guard records a session's activity (`lastSeenAt`, at most once a minute) in the record the
 * store holds when the request ends, unless the request changed the session (its save carries
 * it then). Before, a request due for it saved the whole session as it had loaded it, which made
 * every read-only request a writer once a minute:
 * - two requests of one page, one changing the session (`delete req.session.impersonating`),
 *   one only reading it and ending last: the read wrote its stale copy back and undid the change
 *   (express-session alone only touches a read-only request);
 * - a read-only request held while another request of the page rotated the id periodically: its
 *   save met the old id's tombstone and the read answered 409.
 * On the default store, Redis, and a store without the guard's atomic extensions.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SessionGuardOptions } from '../../src/index.js';
import { stateOf } from '../../src/policy/state.js';
import { Gate, buildApp, https, idOf, login, me, post, request, setCookie } from '../helpers.js';
import { storeKinds } from '../support/login-paths.js';

declare module 'express-session' {
  interface SessionData {
    impersonating?: string;
  }
}

const MINUTE = 60_000;

const stores = storeKinds('activity-record');

function impersonationApp(gate: Gate, options: Partial<SessionGuardOptions>) {
  return buildApp(options, (a) => {
    a.post('/impersonate', (req, res) => {
      req.session.impersonating = 'bob';
      res.json({ ok: true });
    });
    a.post('/stop-impersonating', (req, res) => {
      delete req.session.impersonating;
      res.json({ ok: true });
    });
    // A read of the same page (the header's badge), slower than the click's POST.
    a.get('/badge', async (req, res) => {
      await gate.pass();
      res.json({ impersonating: req.session.impersonating ?? null });
    });
    a.get('/whoami', (req, res) => res.json({ impersonating: req.session.impersonating ?? null }));
  });
}

async function stopWhileBadgeLoads(minutesIdle: number, options: Partial<SessionGuardOptions>): Promise<unknown> {
  const gate = new Gate();
  const { app, clock } = impersonationApp(gate, options);
  const cookie = await login(app, 'admin');
  await post(app, '/impersonate', cookie).expect(200);
  clock.advance(minutesIdle * MINUTE);
  // The admin clicks "stop impersonating": the page posts it and reloads its badge in parallel.
  const badge = https(request(app).get('/badge')).set('Cookie', cookie).then((r) => r);
  await gate.arrived(1);
  await post(app, '/stop-impersonating', cookie).expect(200);
  gate.open();
  assert.equal((await badge).status, 200);
  await me(app, cookie).expect(200);
  return (await https(request(app).get('/whoami')).set('Cookie', cookie).expect(200)).body;
}

for (const [name, options] of stores) {
  describe(`a session's activity is recorded without undoing a parallel change (${name})`, () => {
    it('within a minute of the last activity (no activity due), the change stays', async () => {
      assert.deepEqual(await stopWhileBadgeLoads(0.5, (await options())), { impersonating: null });
    });

    it("after two idle minutes, the read's activity does not restore the stale session", async () => {
      assert.deepEqual(await stopWhileBadgeLoads(2, (await options())), { impersonating: null }, 'the stopped impersonation was written back by a parallel GET');
    });

    it('the activity of a read-only request reaches the record (the idle timeout counts from it)', async () => {
      const { app, clock, guard } = buildApp({ ...(await options()), idleTimeout: '30m' });
      const cookie = await login(app, 'alice');
      clock.advance(20 * MINUTE);
      await me(app, cookie).expect(200);
      assert.equal(stateOf(await guard.store.readRaw(idOf(cookie)))?.lastSeenAt, clock.now(), 'the record holds the activity');
      clock.advance(20 * MINUTE);
      await me(app, cookie).expect(200); // 40 minutes after the login, 20 after the last request
      clock.advance(31 * MINUTE);
      await me(app, cookie).expect(401);
    });

    it('a read-only request held while a parallel request of the page rotated the id answers 200', async () => {
      const gate = new Gate();
      const { app, clock } = buildApp({ ...(await options()), rotateEvery: '10m', rotationGrace: '30s' }, (a) => {
        a.get('/held-read', async (_req, res) => {
          await gate.pass();
          res.json({ ok: true });
        });
      });
      const cookie = await login(app, 'alice');
      clock.advance(9 * MINUTE + 30_000); // the read: not due for rotation, due for its activity
      const held = https(request(app).get('/held-read')).set('Cookie', cookie).then((r) => r);
      await gate.arrived(1);
      clock.advance(MINUTE); // the other request: due for rotation
      const rotated = await me(app, cookie).expect(200);
      assert.ok(setCookie(rotated), 'the other request rotated the id and set the new cookie');
      gate.open();
      const read = await held;
      assert.equal(read.status, 200, `a read-only GET of the same page answered ${read.status} ${JSON.stringify(read.body)}`);
      await me(app, setCookie(rotated) as string).expect(200);
    });
  });
}
